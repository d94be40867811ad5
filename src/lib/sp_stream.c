/*
 * Streaming sessions: the public entry points, each choosing its path.
 * Redis answers first (sp_stream_kv.c); when it cannot be reached the same
 * rules run in MariaDB under the user's row lock (sp_stream_db.c), and the
 * user is noted so Redis catches up once back (sp_stream_maint.c).
 */
#include "sp_stream_impl.h"
#include "sp_kv.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <string.h>

/*
 * Redis admits or refuses; an admission is then recorded (and checked once
 * more) in MariaDB. A device set Redis has not cached is loaded once and
 * the script asked again; with no answer MariaDB decides alone.
 */
enum sp_start_rc sp_stream_start(const sp_level *l, sp_session *s, int dirty, char replaced[33],
                                 int *current, sp_session **live, size_t *n_live)
{
	enum sp_stream_kv_start kv;

	replaced[0] = '\0';
	*live = NULL;
	*n_live = 0;
	s->started_ms = s->last_ms = sp_now_ms();
	if (dirty && sp_kv_up())
		sp_stream_resync_user(s->user_id);
	kv = sp_stream_kv_start(l, s, replaced, current, live, n_live);
	if (kv == SP_STREAM_KV_NODEV && sp_stream_load_devices(s->user_id) == 0)
		kv = sp_stream_kv_start(l, s, replaced, current, live, n_live);
	switch (kv) {
	case SP_STREAM_KV_ADMITTED:
		return sp_stream_db_confirm(l, s, current, live, n_live);
	case SP_STREAM_KV_LIMIT:
		return SP_START_LIMIT;
	case SP_STREAM_KV_DEVICE_LIMIT:
		return SP_START_DEVICE_LIMIT;
	case SP_STREAM_KV_NODEV:
	case SP_STREAM_KV_START_DOWN:
		break;
	}
	/* Redis unreachable: MariaDB decides, exactly, under the row lock */
	sp_metrics_inc("sp_stream_db_fallback_total");
	return sp_stream_db_start(l, s, replaced, current, live, n_live);
}

/* Finishes a heartbeat from what Redis answered about the session. */
static enum sp_session_rc hb_finish(long long uid, const char *sid, long position,
                                    enum sp_stream_kv_answer answer, long long due, int cap)
{
	enum sp_session_rc rc;

	switch (answer) {
	case SP_STREAM_KV_OK:
		/*
		 * MariaDB is told only every quarter of the stale window (enough to stay
		 * live there) and when the cap moved (so the fallback caps alike)
		 */
		if (due)
			sp_stream_db_touch(sid, position, cap);
		return SP_SESSION_OK;
	case SP_STREAM_KV_NOTYOURS:
		return SP_SESSION_NOT_FOUND;
	case SP_STREAM_KV_ENDED:
		sp_stream_db_end(sid, "stale", position);
		return SP_SESSION_ENDED;
	case SP_STREAM_KV_UNKNOWN:
	case SP_STREAM_KV_DOWN:
		break;
	}
	/* unknown to Redis: ended long ago, never existed, or started while Redis was away */
	switch (sp_stream_db_state(uid, sid, NULL)) {
	case SP_STREAM_STATE_LIVE:
		rc = sp_stream_db_heartbeat(uid, sid, position, cap);
		if (rc == SP_SESSION_OK)
			sp_stream_repair(uid);
		return rc;
	case SP_STREAM_STATE_OVER:
		return SP_SESSION_ENDED;
	case SP_STREAM_STATE_ERROR:
		return SP_SESSION_ERROR;
	case SP_STREAM_STATE_ABSENT:
	case SP_STREAM_STATE_NOTYOURS:
		break;
	}
	return SP_SESSION_NOT_FOUND;
}

/*
 * The gate's step could not set the cap when the cached level was missing
 * or past its subscription's end; the handler, which loaded the level from
 * MariaDB, sets it here (one more round trip, on a level-cache miss only),
 * and MariaDB's copy with it when it moved.
 */
enum sp_session_rc sp_stream_hb_finish(long long uid, const char *sid, long position,
                                       const char *status, long long due, int cap, int capped)
{
	enum sp_stream_kv_answer answer = SP_STREAM_KV_UNKNOWN;

	if (strcmp(status, "OK") == 0)
		answer = SP_STREAM_KV_OK;
	else if (strcmp(status, "NOTYOURS") == 0)
		answer = SP_STREAM_KV_NOTYOURS;
	else if (strcmp(status, "ENDED") == 0)
		answer = SP_STREAM_KV_ENDED;
	if (answer == SP_STREAM_KV_OK && !capped && cap >= 0 &&
	    sp_stream_kv_set_cap(uid, sid, cap) == 1 && due == 0)
		sp_stream_db_touch(sid, position, cap);
	return hb_finish(uid, sid, position, answer, due, cap);
}

enum sp_session_rc sp_stream_heartbeat(long long uid, const char *sid, long position, int cap,
                                       long long *due)
{
	enum sp_stream_kv_answer answer;
	enum sp_session_rc rc;

	*due = 0;
	answer = sp_stream_kv_heartbeat(uid, sid, position, cap, due);
	if (answer != SP_STREAM_KV_DOWN)
		return hb_finish(uid, sid, position, answer, *due, cap);
	*due = 0;
	rc = sp_stream_db_heartbeat(uid, sid, position, cap);
	if (rc == SP_SESSION_OK)
		sp_stream_db_mark_resync(uid);
	return rc;
}

/* Redis lets the slot go first; MariaDB's record says how the session ended. */
enum sp_session_rc sp_stream_stop(long long uid, const char *sid, long position, const char *reason,
                                  long long *content_id)
{
	enum sp_stream_kv_answer answer = sp_stream_kv_stop(uid, sid);

	*content_id = 0;
	if (answer == SP_STREAM_KV_NOTYOURS)
		return SP_SESSION_NOT_FOUND;
	if (answer == SP_STREAM_KV_DOWN)
		sp_stream_db_mark_resync(uid); /* Redis may still hold it once it is back */
	switch (sp_stream_db_state(uid, sid, content_id)) {
	case SP_STREAM_STATE_ERROR:
		/* the slot is free already if Redis let it go; the record catches up via the sweep
		 */
		return answer == SP_STREAM_KV_OK ? SP_SESSION_OK : SP_SESSION_ERROR;
	case SP_STREAM_STATE_ABSENT:
	case SP_STREAM_STATE_NOTYOURS:
		return SP_SESSION_NOT_FOUND;
	case SP_STREAM_STATE_OVER:
		/* already over: record the position anyway, never a second end */
		sp_stream_db_note_position(sid, position);
		return SP_SESSION_ENDED;
	case SP_STREAM_STATE_LIVE:
		break;
	}
	sp_stream_db_end(sid, reason, position);
	return SP_SESSION_OK;
}

int sp_stream_list(long long uid, sp_session **out, size_t *n)
{
	if (sp_stream_kv_list(uid, out, n) == 0)
		return 0;
	return sp_stream_db_live(uid, 0, out, n);
}

/*
 * Redis answers first; when it says "not live" MariaDB is asked too (Redis
 * may lag a session admitted while it was away), and when Redis cannot be
 * reached MariaDB decides alone, so an ended session never plays again just
 * because Redis is down.
 */
int sp_stream_is_live(const char *sid, int *cap)
{
	int live = sp_stream_kv_is_live(sid, cap), db;

	if (live == 1)
		return 1;
	db = sp_stream_db_is_live(sid, cap);
	if (db >= 0)
		return db;
	return live == 0 ? 0 : -1;
}
