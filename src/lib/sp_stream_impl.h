/*
 * What the streaming-session files share and nothing outside them uses:
 * sp_stream_kv.c speaks to Redis, sp_stream_db.c to MariaDB,
 * sp_stream_maint.c keeps the two in step, sp_stream.c chooses between them.
 */
#ifndef SP_STREAM_IMPL_H
#define SP_STREAM_IMPL_H

#include "sp_stream.h"

/* ---------------------------------------------------------------- Redis (sp_stream_kv.c) */

/* What a Redis script answered about a session; DOWN: no usable answer came back. */
enum sp_stream_kv_answer {
	SP_STREAM_KV_OK,
	SP_STREAM_KV_ENDED,    /* it was stale and has been dropped */
	SP_STREAM_KV_NOTYOURS, /* another user's */
	SP_STREAM_KV_UNKNOWN,  /* Redis does not hold it */
	SP_STREAM_KV_DOWN,
};

/* What Redis decided about a start. */
enum sp_stream_kv_start {
	SP_STREAM_KV_ADMITTED,
	SP_STREAM_KV_LIMIT,
	SP_STREAM_KV_DEVICE_LIMIT,
	SP_STREAM_KV_NODEV, /* the user's device set is not cached: load it and ask again */
	SP_STREAM_KV_START_DOWN,
};

/*
 * The admission script (see sp_stream_start for the contract). ADMITTED
 * fills replaced and *current; LIMIT fills *live / *n_live, oldest first.
 */
enum sp_stream_kv_start sp_stream_kv_start(const sp_level *l, const sp_session *s,
                                           char replaced[33], int *current, sp_session **live,
                                           size_t *n_live);
/* The heartbeat script; *due: MariaDB's heartbeat should be refreshed too (see SP_STREAM_HB_LUA).
 */
enum sp_stream_kv_answer sp_stream_kv_heartbeat(long long uid, const char *sid, long position,
                                                int cap, long long *due);
/* Sets the cap of the user's session (when Redis holds it): 1 changed, 0 not, -1 no answer. */
int sp_stream_kv_set_cap(long long uid, const char *sid, int cap);
/*
 * The stop script: OK when Redis let the session go. DOWN only when Redis
 * gave no reply at all (it may then still hold the session once back).
 */
enum sp_stream_kv_answer sp_stream_kv_stop(long long uid, const char *sid);
/* The user's live sessions in Redis, oldest first (stale ones dropped on the way). 0 ok. */
int sp_stream_kv_list(long long uid, sp_session **out, size_t *n);
/* 1 live (*cap its rendition cap), 0 not, -1 no answer. */
int sp_stream_kv_is_live(const char *sid, int *cap);
/* Replaces the user's sessions in Redis by live (and drops the device set). 0 ok. */
int sp_stream_kv_replace_user(long long uid, const sp_session *live, size_t n);
/* A device id as it travels from MariaDB's device table to Redis's device set. */
typedef struct sp_stream_device {
	char id[129];
} sp_stream_device;
/* Caches the user's registered devices (an empty set still counts as loaded). 0 ok. */
int sp_stream_kv_put_devices(long long uid, const sp_stream_device *dev, size_t n);
/* Sets the marker of a Redis that holds the live sessions: 1 newly set, 0 was set, -1 down. */
int sp_stream_kv_mark_boot(void);
/* Drops every stale session from every user's live set. */
void sp_stream_kv_sweep(int64_t now_ms);

/* ---------------------------------------------------------------- MariaDB (sp_stream_db.c) */

/* MariaDB's view of one session id. */
enum sp_stream_state {
	SP_STREAM_STATE_ERROR, /* no answer */
	SP_STREAM_STATE_ABSENT,
	SP_STREAM_STATE_LIVE, /* live and the caller's */
	SP_STREAM_STATE_OVER, /* the caller's, but ended or stale */
	SP_STREAM_STATE_NOTYOURS,
};

/* The state of sid for uid; *content_id (when not NULL) its title when the user's, else 0. */
enum sp_stream_state sp_stream_db_state(long long uid, const char *sid, long long *content_id);
/*
 * Starts in MariaDB alone, with Redis unreachable: the same rules under the
 * user's row lock. Arguments as sp_stream_start's.
 */
enum sp_start_rc sp_stream_db_start(const sp_level *l, sp_session *s, char replaced[33],
                                    int *current, sp_session **live, size_t *n_live);
/* Records a start Redis admitted, checking the limits once more under the row lock. */
enum sp_start_rc sp_stream_db_confirm(const sp_level *l, sp_session *s, int *current,
                                      sp_session **live, size_t *n_live);
/* Heartbeat in MariaDB alone: extends a live session of this user (and sets cap, unless -1). */
enum sp_session_rc sp_stream_db_heartbeat(long long uid, const char *sid, long position, int cap);
/* The periodic refresh of MariaDB's heartbeat (and cap, unless -1) for a session Redis keeps live.
 */
void sp_stream_db_touch(const char *sid, long position, int cap);
/* Ends an open session; position < 0 keeps the recorded one. */
void sp_stream_db_end(const char *sid, const char *reason, long position);
/* Records the position of a session that is already over (never a second end). */
void sp_stream_db_note_position(const char *sid, long position);
/* The user's live sessions, oldest first (with lock: FOR UPDATE, inside a transaction). */
int sp_stream_db_live(long long uid, int lock, sp_session **out, size_t *n);
/* 1 live (*cap its rendition cap), 0 not, -1 no answer. */
int sp_stream_db_is_live(const char *sid, int *cap);
/* The user's registered devices. 0 ok. */
int sp_stream_db_devices(long long uid, sp_stream_device **out, size_t *n);
/* Users whose Redis state must be rebuilt: noted, cleared, listed (free the list). */
void sp_stream_db_mark_resync(long long uid);
void sp_stream_db_resync_done(long long uid);
int sp_stream_db_resync_users(long long **uids, size_t *n);
/* Users with a live session (to reload a Redis that lost them). 0 ok. */
int sp_stream_db_live_users(long long **uids, size_t *n);
/* Closes sessions whose MariaDB heartbeat is past the stale window; rows closed or -1. */
long sp_stream_db_close_stale(int64_t now_ms);

/* ---------------------------------------------------------------- both (sp_stream_maint.c) */

/* Rebuilds one user's Redis state from MariaDB. 0 ok. */
int sp_stream_rebuild_user(long long uid);
/* Rebuilds, or notes the user for a later rebuild when that fails. */
void sp_stream_repair(long long uid);
/* Rebuilds a user noted for it and clears the note. */
void sp_stream_resync_user(long long uid);
/* Loads the user's registered devices from MariaDB into Redis. 0 ok. */
int sp_stream_load_devices(long long uid);

#endif
