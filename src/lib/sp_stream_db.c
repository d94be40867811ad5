/*
 * Streaming sessions in MariaDB, the record of every session: every SQL
 * statement on stream_sessions, devices and stream_resync. Starts are
 * decided (or, after Redis admitted them, confirmed) under the user's row lock.
 */
#include "sp_stream_impl.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- reading sessions */

/* The columns of a session row, and their positions in a result. */
#define SESSION_COLS                                                                               \
	"id, user_id, content_id, device_id, device_name, device_type, quality, "                  \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', started_at) DIV 1000, "                          \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', last_heartbeat_at) DIV 1000, position_seconds, " \
	"COALESCE(max_quality, 3)"
enum session_col {
	SC_ID,
	SC_USER,
	SC_CONTENT,
	SC_DEVICE,
	SC_DEVICE_NAME,
	SC_DEVICE_TYPE,
	SC_QUALITY,
	SC_STARTED_MS,
	SC_LAST_MS,
	SC_POSITION,
	SC_CAP
};

static void session_from_row(const sp_res *res, size_t i, sp_session *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", sp_res_str(res, i, SC_ID));
	s->user_id = sp_res_ll(res, i, SC_USER, 0);
	s->content_id = sp_res_ll(res, i, SC_CONTENT, 0);
	snprintf(s->device_id, sizeof s->device_id, "%s", sp_res_str(res, i, SC_DEVICE));
	sp_utf8_copy(s->device_name, sizeof s->device_name, sp_res_str(res, i, SC_DEVICE_NAME));
	sp_utf8_copy(s->device_type, sizeof s->device_type, sp_res_str(res, i, SC_DEVICE_TYPE));
	s->quality = (int)sp_res_ll(res, i, SC_QUALITY, 0);
	s->started_ms = sp_res_ll(res, i, SC_STARTED_MS, 0);
	s->last_ms = sp_res_ll(res, i, SC_LAST_MS, 0);
	s->position = (long)sp_res_ll(res, i, SC_POSITION, 0);
	s->max_quality = (int)sp_res_ll(res, i, SC_CAP, 3);
}

int sp_stream_db_live(long long uid, int lock, sp_session **out, size_t *n)
{
	sp_res res;
	int rc =
	    lock ? sp_db_query(&res,
	                       "SELECT " SESSION_COLS " FROM stream_sessions WHERE user_id = ? "
	                       "AND ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - "
	                       "INTERVAL ? SECOND ORDER BY started_at FOR UPDATE",
	                       "ll", uid, (long long)sp_cfg.stream_stale_seconds)
	         : sp_db_query(&res,
	                       "SELECT " SESSION_COLS " FROM stream_sessions WHERE user_id = ? "
	                       "AND ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - "
	                       "INTERVAL ? SECOND ORDER BY started_at",
	                       "ll", uid, (long long)sp_cfg.stream_stale_seconds);

	if (rc != 0)
		return -1;
	*out = sp_xcalloc(res.nrows ? res.nrows : 1, sizeof **out);
	for (size_t i = 0; i < res.nrows; i++)
		session_from_row(&res, i, &(*out)[i]);
	*n = res.nrows;
	sp_res_free(&res);
	return 0;
}

/* The columns of the state query below. */
enum state_col { ST_USER, ST_LIVE, ST_CONTENT };

enum sp_stream_state sp_stream_db_state(long long uid, const char *sid, long long *content_id)
{
	enum sp_stream_state st;
	sp_res res;

	if (content_id)
		*content_id = 0;
	if (sp_db_query(
	        &res,
	        "SELECT user_id, ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - "
	        "INTERVAL ? SECOND, content_id FROM stream_sessions WHERE id = ?",
	        "ls", (long long)sp_cfg.stream_stale_seconds, sid) != 0)
		return SP_STREAM_STATE_ERROR;
	if (res.nrows == 0)
		st = SP_STREAM_STATE_ABSENT;
	else if (sp_res_ll(&res, 0, ST_USER, 0) != uid)
		st = SP_STREAM_STATE_NOTYOURS;
	else
		st = sp_res_ll(&res, 0, ST_LIVE, 0) ? SP_STREAM_STATE_LIVE : SP_STREAM_STATE_OVER;
	if (content_id && (st == SP_STREAM_STATE_LIVE || st == SP_STREAM_STATE_OVER))
		*content_id = sp_res_ll(&res, 0, ST_CONTENT, 0);
	sp_res_free(&res);
	return st;
}

int sp_stream_db_is_live(const char *sid, int *cap)
{
	sp_res res;
	int live;

	if (sp_db_query(&res,
	                "SELECT COALESCE(max_quality, 3) FROM stream_sessions WHERE id = ? AND "
	                "ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? "
	                "SECOND",
	                "sl", sid, (long long)sp_cfg.stream_stale_seconds) != 0)
		return -1;
	live = res.nrows == 1;
	if (live)
		*cap = (int)sp_res_ll(&res, 0, 0, 3);
	sp_res_free(&res);
	return live;
}

/* ---------------------------------------------------------------- start */

/*
 * Inside the caller's transaction, the user's row lock held: 1 when the
 * device may be used (known, or a free slot), 0 when the device limit is
 * reached, -1 on a database error.
 */
static int device_check(const sp_level *l, long long uid, const char *device_id)
{
	enum { DC_DEVICES, DC_KNOWN };
	sp_res res;
	long long devices;
	int known;

	if (sp_db_query(&res,
	                "SELECT COUNT(*), COALESCE(SUM(device_id = ?), 0) FROM devices WHERE "
	                "user_id = ?",
	                "sl", device_id, uid) != 0)
		return -1;
	devices = sp_res_ll(&res, 0, DC_DEVICES, 0);
	known = sp_res_ll(&res, 0, DC_KNOWN, 0) > 0;
	sp_res_free(&res);
	return known || devices < l->max_devices ? 1 : 0;
}

/* Registers the device (or marks it used, and renames it when a name is given). 0 ok. */
static int device_register(long long uid, const char *device_id, const char *name, const char *type)
{
	return sp_db_exec("INSERT INTO devices (user_id, device_id, device_name, device_type) "
	                  "VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE device_name = "
	                  "IF(? = 1, VALUES(device_name), device_name), device_type = IF(? = 1, "
	                  "VALUES(device_type), device_type), last_used = UTC_TIMESTAMP(3)",
	                  "lsssii", uid, device_id, name ? name : device_id,
	                  type ? type : "unknown", name != NULL, type != NULL) < 0
	           ? -1
	           : 0;
}

int sp_stream_device_claim(const sp_level *l, long long uid, const char *device_id,
                           const char *name, const char *type)
{
	int ok = device_check(l, uid, device_id);

	if (ok <= 0)
		return ok;
	return device_register(uid, device_id, name, type) == 0 ? 1 : -1;
}

/*
 * Opens a start's transaction, takes the user's row lock (which serialises
 * every start of that user across processes) and applies both limits to
 * the live sessions. SP_START_OK leaves the transaction open for the
 * caller to record the start; any other answer has rolled it back. *count:
 * live sessions s would not replace (another device's); replaced (when not
 * NULL): the id of the one it would. On SP_START_LIMIT *live / *n_live
 * hold the live sessions.
 */
static enum sp_start_rc locked_check(const sp_level *l, const sp_session *s, char *replaced,
                                     size_t *count, sp_session **live, size_t *n_live)
{
	enum sp_start_rc rc = SP_START_ERROR;
	sp_session *cur = NULL;
	size_t n = 0;
	sp_res res;
	int device_ok;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM users WHERE id = ? FOR UPDATE", "l", s->user_id) != 0)
		goto out;
	sp_res_free(&res);
	if (sp_stream_db_live(s->user_id, 1, &cur, &n) != 0)
		goto out;
	*count = n;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cur[i].device_id, s->device_id) != 0)
			continue;
		(*count)--;
		if (replaced)
			snprintf(replaced, 33, "%s", cur[i].id);
	}
	device_ok = device_check(l, s->user_id, s->device_id);
	if (device_ok < 0)
		goto out;
	if (device_ok == 0) {
		rc = SP_START_DEVICE_LIMIT;
	} else if ((long long)*count >= l->max_streams) {
		*live = cur;
		*n_live = n;
		cur = NULL;
		rc = SP_START_LIMIT;
	} else {
		rc = SP_START_OK;
	}
out:
	free(cur);
	if (rc != SP_START_OK)
		sp_db_rollback();
	return rc;
}

/*
 * The record of an admitted start, in the start's transaction, whichever
 * path admitted it; the device is registered there too, so racing new
 * devices count exactly.
 */
static int insert_session(const sp_session *s)
{
	if (sp_db_exec(
	        "INSERT INTO stream_sessions (id, user_id, content_id, device_id, "
	        "device_name, device_type, quality, max_quality, started_at, last_heartbeat_at) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
	        "sllsssii", s->id, s->user_id, s->content_id, s->device_id, s->device_name,
	        s->device_type, s->quality, s->max_quality) != 1)
		return -1;
	return device_register(s->user_id, s->device_id, s->device_name, s->device_type);
}

enum sp_start_rc sp_stream_db_start(const sp_level *l, sp_session *s, char replaced[33],
                                    int *current, sp_session **live, size_t *n_live)
{
	enum sp_start_rc rc;
	size_t count = 0;

	rc = locked_check(l, s, replaced, &count, live, n_live);
	if (rc != SP_START_OK)
		return rc;
	if (replaced[0] &&
	    sp_db_exec("UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = "
	               "'replaced' WHERE id = ?",
	               "s", replaced) < 0)
		goto fail;
	if (insert_session(s) != 0)
		goto fail;
	/* Redis does not know this session: the user is rebuilt once it is back */
	sp_stream_db_mark_resync(s->user_id);
	if (sp_db_commit() != 0)
		goto fail;
	*current = (int)count + 1;
	return SP_START_OK;
fail:
	sp_db_rollback();
	return SP_START_ERROR;
}

/*
 * Redis alone cannot be the last word: for about a second after Redis
 * returns from an outage, a process that saw it down still admits in
 * MariaDB (sp_stream_db_start) while others use Redis again, and Redis
 * does not know those sessions yet. Every admission, by either path,
 * therefore ends in this same locked check, which makes the limit exact in
 * that window too. When MariaDB says no, the user's Redis state is rebuilt
 * from it (undoing this admission and bringing in the sessions Redis
 * missed) and the start is refused. Only admitted starts come here; the
 * limit path (a 429 from Redis) stays free of MariaDB.
 */
enum sp_start_rc sp_stream_db_confirm(const sp_level *l, sp_session *s, int *current,
                                      sp_session **live, size_t *n_live)
{
	enum sp_start_rc rc;
	size_t count = 0;

	rc = locked_check(l, s, NULL, &count, live, n_live);
	if (rc == SP_START_LIMIT || rc == SP_START_DEVICE_LIMIT) {
		sp_metrics_inc("sp_stream_limit_db_overrule_total");
		sp_stream_repair(s->user_id);
		return rc;
	}
	if (rc != SP_START_OK)
		goto down;
	/* the same device's earlier session is replaced (Redis dropped it already) */
	if (sp_db_exec("UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = "
	               "'replaced' WHERE user_id = ? AND device_id = ? AND ended_at IS NULL",
	               "ls", s->user_id, s->device_id) < 0 ||
	    insert_session(s) != 0 || sp_db_commit() != 0)
		goto down;
	*current = (int)count + 1;
	return SP_START_OK;
down:
	/*
	 * Not recorded (MariaDB down, or e.g. a lock wait that timed out): the
	 * admission is undone in Redis by rebuilding the user from MariaDB.
	 * With MariaDB down that cannot be done; the session then stays
	 * admitted in Redis and, without heartbeats, goes stale (the caller
	 * retrying replaces it).
	 */
	sp_db_rollback();
	sp_stream_repair(s->user_id);
	return SP_START_ERROR;
}

/* ---------------------------------------------------------------- heartbeat, stop */

void sp_stream_db_end(const char *sid, const char *reason, long position)
{
	sp_db_exec(
	    "UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = ?, "
	    "position_seconds = IF(? >= 0, ?, position_seconds) WHERE id = ? AND ended_at IS "
	    "NULL",
	    "slls", reason, (long long)position, (long long)position, sid);
}

void sp_stream_db_note_position(const char *sid, long position)
{
	sp_db_exec("UPDATE stream_sessions SET position_seconds = ? WHERE id = ? AND "
	           "end_reason IN ('stopped', 'stale')",
	           "ls", (long long)position, sid);
}

/* cap -1 keeps the recorded cap (the caller's level was unknown). */
void sp_stream_db_touch(const char *sid, long position, int cap)
{
	sp_db_exec(
	    "UPDATE stream_sessions SET last_heartbeat_at = UTC_TIMESTAMP(3), "
	    "position_seconds = ?, max_quality = IF(? >= 0, ?, max_quality) WHERE id = ? AND "
	    "ended_at IS NULL",
	    "liis", (long long)position, cap, cap, sid);
}

enum sp_session_rc sp_stream_db_heartbeat(long long uid, const char *sid, long position, int cap)
{
	long long n;

	n = sp_db_exec(
	    "UPDATE stream_sessions SET last_heartbeat_at = UTC_TIMESTAMP(3), "
	    "position_seconds = ?, max_quality = IF(? >= 0, ?, max_quality) WHERE id = ? "
	    "AND user_id = ? AND ended_at IS NULL AND last_heartbeat_at > "
	    "UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
	    "liisll", (long long)position, cap, cap, sid, uid,
	    (long long)sp_cfg.stream_stale_seconds);
	if (n < 0)
		return SP_SESSION_ERROR;
	if (n == 1)
		return SP_SESSION_OK;
	switch (sp_stream_db_state(uid, sid, NULL)) {
	case SP_STREAM_STATE_ERROR:
		return SP_SESSION_ERROR;
	case SP_STREAM_STATE_OVER:
		sp_stream_db_end(sid, "stale", -1);
		return SP_SESSION_ENDED;
	default:
		return SP_SESSION_NOT_FOUND;
	}
}

/* ---------------------------------------------------------------- devices, resync, sweep */

int sp_stream_db_devices(long long uid, sp_stream_device **out, size_t *n)
{
	sp_res res;

	if (sp_db_query(&res, "SELECT device_id FROM devices WHERE user_id = ?", "l", uid) != 0)
		return -1;
	*out = sp_xcalloc(res.nrows ? res.nrows : 1, sizeof **out);
	for (size_t i = 0; i < res.nrows; i++)
		snprintf((*out)[i].id, sizeof(*out)[i].id, "%s", sp_res_str(&res, i, 0));
	*n = res.nrows;
	sp_res_free(&res);
	return 0;
}

void sp_stream_db_mark_resync(long long uid)
{
	sp_db_exec("INSERT IGNORE INTO stream_resync (user_id) VALUES (?)", "l", uid);
}

void sp_stream_db_resync_done(long long uid)
{
	sp_db_exec("DELETE FROM stream_resync WHERE user_id = ?", "l", uid);
}

/* The user ids of a one-column result. */
static void ids_from(sp_res *res, long long **uids, size_t *n)
{
	*uids = sp_xcalloc(res->nrows ? res->nrows : 1, sizeof **uids);
	for (size_t i = 0; i < res->nrows; i++)
		(*uids)[i] = sp_res_ll(res, i, 0, 0);
	*n = res->nrows;
	sp_res_free(res);
}

int sp_stream_db_resync_users(long long **uids, size_t *n)
{
	sp_res res;

	if (sp_db_query(&res, "SELECT user_id FROM stream_resync", "") != 0)
		return -1;
	ids_from(&res, uids, n);
	return 0;
}

int sp_stream_db_live_users(long long **uids, size_t *n)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT DISTINCT user_id FROM stream_sessions WHERE ended_at IS NULL AND "
	                "last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
	                "l", (long long)sp_cfg.stream_stale_seconds) != 0)
		return -1;
	ids_from(&res, uids, n);
	return 0;
}

int sp_stream_live_summary(long long *sessions, long long *users, sp_streamer *top, size_t max,
                           size_t *ntop)
{
	sp_res res;
	long long stale = (long long)sp_cfg.stream_stale_seconds;

	*ntop = 0;
	if (sp_db_query(&res,
	                "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM stream_sessions WHERE "
	                "ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? "
	                "SECOND",
	                "l", stale) != 0)
		return -1;
	*sessions = sp_res_ll(&res, 0, 0, 0);
	*users = sp_res_ll(&res, 0, 1, 0);
	sp_res_free(&res);
	if (sp_db_query(&res,
	                "SELECT s.user_id, COUNT(*) AS n, u.name, u.email FROM stream_sessions s "
	                "JOIN users u ON u.id = s.user_id WHERE s.ended_at IS NULL AND "
	                "s.last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND GROUP BY "
	                "s.user_id, u.name, u.email ORDER BY n DESC, s.user_id LIMIT ?",
	                "ll", stale, (long long)max) != 0)
		return -1;
	for (size_t i = 0; i < res.nrows && i < max; i++) {
		top[i].user_id = sp_res_ll(&res, i, 0, 0);
		top[i].sessions = sp_res_ll(&res, i, 1, 0);
		snprintf(top[i].name, sizeof top[i].name, "%s",
		         sp_res_str(&res, i, 2) ? sp_res_str(&res, i, 2) : "");
		snprintf(top[i].email, sizeof top[i].email, "%s",
		         sp_res_str(&res, i, 3) ? sp_res_str(&res, i, 3) : "");
		(*ntop)++;
	}
	sp_res_free(&res);
	return 0;
}

/* MariaDB's heartbeat lags Redis by at most a quarter window: past a whole one is stale. */
long sp_stream_db_close_stale(int64_t now_ms)
{
	char now[32];

	sp_db_time(now_ms, now);
	return (long)sp_db_exec("UPDATE stream_sessions SET ended_at = ?, end_reason = 'stale' "
	                        "WHERE ended_at IS NULL AND last_heartbeat_at < ? - INTERVAL ? "
	                        "SECOND",
	                        "ssl", now, now, (long long)sp_cfg.stream_stale_seconds);
}
