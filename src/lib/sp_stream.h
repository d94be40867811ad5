/*
 * Streaming sessions: an exact per-user limit on concurrent streams and
 * devices. Redis holds the live set and every step is one Lua script; with
 * Redis unreachable the same rules run in MariaDB under the user's row lock.
 */
#ifndef SP_STREAM_H
#define SP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sp_router.h"
#include "sp_tier.h"

typedef struct sp_session {
	char id[33];
	long long user_id;
	long long content_id;
	char device_id[129];
	char device_name[101];
	char device_type[33];
	int quality;     /* 0 480p .. 3 4K */
	int max_quality; /* the rendition cap of the plan in force (moved by heartbeats) */
	int64_t started_ms;
	int64_t last_ms;
	long position; /* seconds */
} sp_session;

enum sp_start_rc {
	SP_START_OK,
	SP_START_LIMIT,        /* maxConcurrentStreams reached: *live lists the sessions */
	SP_START_DEVICE_LIMIT, /* a new device beyond maxDevicesAllowed */
	SP_START_ERROR,        /* a backing service failed: 503 */
};

/*
 * Admits s (id, user, content, device and quality filled in) against the
 * limits of l, atomically: stale sessions never count, the same device
 * replaces its own session (its id in replaced, else ""); *current is then
 * the number of live sessions including this one. On SP_START_LIMIT
 * *live / *n_live hold the live sessions (free with free()). dirty: the
 * user's Redis state must be rebuilt from MariaDB first.
 */
enum sp_start_rc sp_stream_start(const sp_level *l, sp_session *s, int dirty, char replaced[33],
                                 int *current, sp_session **live, size_t *n_live);

enum sp_session_rc {
	SP_SESSION_OK,
	SP_SESSION_ENDED,     /* stopped, terminated or stale: 410 */
	SP_SESSION_NOT_FOUND, /* unknown, or another user's: 404 */
	SP_SESSION_ERROR,
};

/*
 * A heartbeat. cap: the highest rendition the caller's plan allows now
 * (0..3), which the session may fetch from here on (sp_stream_is_live
 * reports it to the media authorizer); -1 when the level is unknown (the
 * session keeps its cap). *due: the session's title when MariaDB was told
 * this time (at most every quarter of stream.stale_seconds, and whenever
 * the cap changed), so the caller records the position as watch progress;
 * else 0 (or -1: told, title unknown).
 */
enum sp_session_rc sp_stream_heartbeat(long long uid, const char *sid, long position, int cap,
                                       long long *due);
/*
 * The heartbeat step as Lua, shared by the heartbeat script and the gate
 * (which runs it in its own round trip once the request is allowed, with
 * the cap taken from the cached level, SP_TIER_CAP_LUA):
 * hb(live set key, session key, id, user, now ms, stale ms, position,
 * MariaDB interval ms, ttl s, cap) -> {'OK', due} | {'ENDED'} | {'NOTYOURS'} |
 * {'UNKNOWN'}, due being '0', or the session's title when MariaDB is due to
 * be told (its interval passed, or the cap changed). cap '' keeps the
 * session's cap ('mq').
 */
#define SP_STREAM_HB_LUA                                                                           \
	"local function hb(kz, kh, sid, uid, now_s, stale, pos, every, ttl, cap)\n"                \
	"  local h = redis.call('HMGET', kh, 'u', 'lh', 'dbh', 'c', 'mq')\n"                       \
	"  if not h[1] then return {'UNKNOWN'} end\n"                                              \
	"  if h[1] ~= uid then return {'NOTYOURS'} end\n"                                          \
	"  local now = tonumber(now_s)\n"                                                          \
	"  if tonumber(h[2]) < now - tonumber(stale) then\n"                                       \
	"    redis.call('DEL', kh)\n"                                                              \
	"    redis.call('ZREM', kz, sid)\n"                                                        \
	"    return {'ENDED'}\n"                                                                   \
	"  end\n"                                                                                  \
	"  redis.call('HSET', kh, 'lh', now_s, 'pos', pos)\n"                                      \
	"  local moved = cap ~= nil and cap ~= '' and cap ~= h[5]\n"                               \
	"  if moved then redis.call('HSET', kh, 'mq', cap) end\n"                                  \
	"  redis.call('EXPIRE', kh, tonumber(ttl))\n"                                              \
	"  redis.call('ZADD', kz, now, sid)\n"                                                     \
	"  redis.call('EXPIRE', kz, tonumber(ttl))\n"                                              \
	"  if moved or now - tonumber(h[3] or '0') >= tonumber(every) then\n"                      \
	"    redis.call('HSET', kh, 'dbh', now_s)\n"                                               \
	"    return {'OK', h[4] or '-1'}\n"                                                        \
	"  end\n"                                                                                  \
	"  return {'OK', '0'}\n"                                                                   \
	"end\n"
/* The heartbeat's keys (names, as sp_kv_run takes them) and arguments for the gate. */
void sp_stream_hb_step(long long uid, const char *sid, long position, sp_step *s);
/*
 * Finishes a heartbeat from the step's answer (status, due) as
 * sp_stream_heartbeat would. cap: the caller's cap as the handler knows it
 * (-1 unknown); capped: the step already applied it (it read the same
 * cached level), else it is applied here.
 */
enum sp_session_rc sp_stream_hb_finish(long long uid, const char *sid, long position,
                                       const char *status, long long due, int cap, int capped);
/* Ends the caller's session (reason "stopped", "terminated"); ENDED if it already was. */
enum sp_session_rc sp_stream_stop(long long uid, const char *sid, long position, const char *reason,
                                  long long *content_id);
/* The caller's live sessions, oldest first. 0 ok. */
int sp_stream_list(long long uid, sp_session **out, size_t *n);
/*
 * For the media authorizer: 1 live, 0 not live (Redis, else MariaDB), -1
 * neither answered. When live, *cap is the highest rendition the session
 * may fetch now (set at start, moved by heartbeats; 3 when never set).
 */
int sp_stream_is_live(const char *sid, int *cap);
/*
 * The device rule of streaming, for anything else a device is used for (a
 * download licence): inside the caller's transaction, with the user's row
 * lock held (users FOR UPDATE), a known device is marked used, a new one
 * registered while the plan has a free device slot. name, type: NULL keeps
 * a known device's (a new one is named by its id). 1 registered, 0 the
 * device limit is reached, -1 a database error. After the commit call
 * sp_stream_forget_devices, so Redis's device set learns the new device.
 */
int sp_stream_device_claim(const sp_level *l, long long uid, const char *device_id,
                           const char *name, const char *type);
/* A device was removed: it no longer holds a slot in the cached device set. */
void sp_stream_forget_devices(long long uid);
/* After Redis (re)connects: reload live sessions if Redis lost them, rebuild dirty users. */
void sp_stream_resync(void);
/* A user with live sessions, as the admin's overview lists them. */
typedef struct sp_streamer {
	long long user_id;
	long long sessions;
	char name[101];
	char email[255];
} sp_streamer;

/*
 * Everyone's live sessions now, from MariaDB, the record that /metrics'
 * sp_stream_sessions_live counts too: a session whose row is not ended and
 * whose heartbeat is within stream.stale_seconds (Redis refreshes that
 * heartbeat at least every quarter window, so MariaDB answers the same with
 * Redis up or down). *sessions, *users: live sessions and distinct users;
 * top[0..*ntop): up to max users with the most, most first (ties by id).
 * 0 ok, -1 unavailable.
 */
int sp_stream_live_summary(long long *sessions, long long *users, sp_streamer *top, size_t max,
                           size_t *ntop);
/* Ends the oldest sessions beyond max for a user (worker "enforce"); returns how many. */
int sp_stream_trim(long long uid, int max, const char *reason);
/* Sweeps stale sessions from Redis and closes their MariaDB rows; returns rows closed. */
long sp_stream_sweep(int64_t now_ms);

#endif
