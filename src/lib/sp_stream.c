/*
 * Streaming sessions: an exact per-user limit on concurrent streams and
 * devices. Redis holds the live set and every step is one Lua script; with
 * Redis unreachable the same rules run in MariaDB under the user's row lock.
 *
 * Redis keys: ss:u:<user> sorted set of session ids scored by last
 * heartbeat (ms); ss:s:<id> hash (u user, c content, d device, dn name, dt
 * type, q quality, st start, lh last heartbeat, pos, dbh last MariaDB
 * heartbeat); ss:dev:<user> set of registered device ids plus a sentinel
 * (so an empty set still exists once loaded); ss:boot marks a Redis that
 * holds the live sessions (absent after a restart: reload from MariaDB).
 */
#include "sp_stream.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV_SENTINEL "\x01"

static long long stale_ms(void)
{
	return sp_cfg.stream_stale_seconds * 1000LL;
}

/* Keys expire well after a session could still count. */
static long long ttl_s(void)
{
	return sp_cfg.stream_stale_seconds * 2 + 60;
}

/* MariaDB's heartbeat is refreshed at least this often, so it never looks stale. */
static long long db_every_ms(void)
{
	return stale_ms() / 4;
}

/* ---------------------------------------------------------------- scripts */

/*
 * Admission, atomically: drop stale sessions, let the same device replace
 * its own, check the device slot, count, add. Any number of concurrent
 * starts for one user therefore never leaves more than the limit live.
 */
static sp_kv_script start_script = {
    "stream_start",
    "local now = tonumber(ARGV[8])\n"
    "if redis.call('EXISTS', KEYS[2]) == 0 then return {'NODEV'} end\n"
    "local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - "
    "tonumber(ARGV[9])))\n"
    "for _, id in ipairs(old) do\n"
    "  redis.call('DEL', ARGV[12] .. id)\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "end\n"
    "local replaced = ''\n"
    "local ids = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "for _, id in ipairs(ids) do\n"
    "  if redis.call('HGET', ARGV[12] .. id, 'd') == ARGV[3] then replaced = id end\n"
    "end\n"
    "if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 and\n"
    "   redis.call('SCARD', KEYS[2]) - 1 >= tonumber(ARGV[11]) then\n"
    "  return {'DEVICE_LIMIT'}\n"
    "end\n"
    "local count = #ids\n"
    "if replaced ~= '' then count = count - 1 end\n"
    "if count >= tonumber(ARGV[10]) then\n"
    "  local out = {'LIMIT'}\n"
    "  for _, id in ipairs(ids) do\n"
    "    local h = redis.call('HMGET', ARGV[12] .. id, 'dn', 'st', 'c', 'd', 'q', 'lh', 'dt', "
    "'pos')\n"
    "    out[#out + 1] = id\n"
    "    for i = 1, 8 do out[#out + 1] = h[i] or '' end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "if replaced ~= '' then\n"
    "  redis.call('DEL', ARGV[12] .. replaced)\n"
    "  redis.call('ZREM', KEYS[1], replaced)\n"
    "end\n"
    "redis.call('HSET', KEYS[3], 'u', ARGV[2], 'c', ARGV[6], 'd', ARGV[3], 'dn', ARGV[4], "
    "'dt', ARGV[5], 'q', ARGV[7], 'st', ARGV[8], 'lh', ARGV[8], 'pos', '0', 'dbh', ARGV[8])\n"
    "redis.call('EXPIRE', KEYS[3], tonumber(ARGV[13]))\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[13]))\n"
    "redis.call('SADD', KEYS[2], ARGV[3])\n"
    "return {'OK', replaced, tostring(count + 1)}\n",
    ""};

/* Only a live session of this user is extended; a stale one is ended here. */
static sp_kv_script heartbeat_script = {
    "stream_heartbeat",
    SP_STREAM_HB_LUA
    "return hb(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])\n",
    ""};

static sp_kv_script stop_script = {"stream_stop",
                                   "local h = redis.call('HMGET', KEYS[2], 'u', 'c')\n"
                                   "if not h[1] then return {'UNKNOWN'} end\n"
                                   "if h[1] ~= ARGV[2] then return {'NOTYOURS'} end\n"
                                   "redis.call('DEL', KEYS[2])\n"
                                   "redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                   "return {'OK', h[2]}\n",
                                   ""};

static sp_kv_script list_script = {
    "stream_list",
    "local now = tonumber(ARGV[1])\n"
    "local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - "
    "tonumber(ARGV[2])))\n"
    "for _, id in ipairs(old) do\n"
    "  redis.call('DEL', ARGV[3] .. id)\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "end\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local h = redis.call('HMGET', ARGV[3] .. id, 'dn', 'st', 'c', 'd', 'q', 'lh', 'dt', "
    "'pos')\n"
    "  out[#out + 1] = id\n"
    "  for i = 1, 8 do out[#out + 1] = h[i] or '' end\n"
    "end\n"
    "return out\n",
    ""};

static sp_kv_script live_script = {
    "stream_live",
    "local lh = redis.call('HGET', KEYS[1], 'lh')\n"
    "if not lh then return 0 end\n"
    "if tonumber(lh) < tonumber(ARGV[1]) - tonumber(ARGV[2]) then return 0 end\n"
    "return 1\n",
    ""};

/* ---------------------------------------------------------------- helpers */

static void keys_for(long long uid, const char *sid, char *zkey, char *hkey, char *dkey,
                     char *prefix)
{
	if (zkey)
		sp_kv_key(zkey, 96, "ss:u:%lld", uid);
	if (hkey)
		sp_kv_key(hkey, 96, "ss:s:%s", sid);
	if (dkey)
		sp_kv_key(dkey, 96, "ss:dev:%lld", uid);
	if (prefix)
		sp_kv_key(prefix, 96, "ss:s:");
}

static const char *el(const redisReply *rep, size_t i)
{
	return i < rep->elements && rep->element[i]->type == REDIS_REPLY_STRING
	           ? rep->element[i]->str
	           : "";
}

/* Sessions from a reply of 9 fields each (id, dn, st, c, d, q, lh, dt, pos), from index first. */
static sp_session *sessions_from(const redisReply *rep, size_t first, size_t *n)
{
	size_t count = (rep->elements - first) / 9;
	sp_session *out = sp_xcalloc(count ? count : 1, sizeof *out);

	for (size_t i = 0; i < count; i++) {
		size_t b = first + i * 9;
		sp_session *s = &out[i];
		snprintf(s->id, sizeof s->id, "%s", el(rep, b));
		sp_utf8_copy(s->device_name, sizeof s->device_name, el(rep, b + 1));
		s->started_ms = strtoll(el(rep, b + 2), NULL, 10);
		s->content_id = strtoll(el(rep, b + 3), NULL, 10);
		snprintf(s->device_id, sizeof s->device_id, "%s", el(rep, b + 4));
		s->quality = atoi(el(rep, b + 5));
		s->last_ms = strtoll(el(rep, b + 6), NULL, 10);
		sp_utf8_copy(s->device_type, sizeof s->device_type, el(rep, b + 7));
		s->position = strtol(el(rep, b + 8), NULL, 10);
	}
	*n = count;
	return out;
}

static int cmp_started(const void *a, const void *b)
{
	const sp_session *x = a, *y = b;

	return x->started_ms < y->started_ms ? -1 : x->started_ms > y->started_ms;
}

#define SESSION_COLS                                                                               \
	"id, user_id, content_id, device_id, device_name, device_type, quality, "                  \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', started_at) DIV 1000, "                          \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', last_heartbeat_at) DIV 1000, position_seconds"

static void session_from_row(const sp_res *res, size_t i, sp_session *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", sp_res_str(res, i, 0));
	s->user_id = sp_res_ll(res, i, 1, 0);
	s->content_id = sp_res_ll(res, i, 2, 0);
	snprintf(s->device_id, sizeof s->device_id, "%s", sp_res_str(res, i, 3));
	sp_utf8_copy(s->device_name, sizeof s->device_name, sp_res_str(res, i, 4));
	sp_utf8_copy(s->device_type, sizeof s->device_type, sp_res_str(res, i, 5));
	s->quality = (int)sp_res_ll(res, i, 6, 0);
	s->started_ms = sp_res_ll(res, i, 7, 0);
	s->last_ms = sp_res_ll(res, i, 8, 0);
	s->position = (long)sp_res_ll(res, i, 9, 0);
}

/* Live sessions of a user in MariaDB (FOR UPDATE inside a transaction when lock). */
static int db_live(long long uid, int lock, sp_session **out, size_t *n)
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

static void mark_resync(long long uid)
{
	sp_db_exec("INSERT IGNORE INTO stream_resync (user_id) VALUES (?)", "l", uid);
}

/* Loads the user's registered devices into Redis (with the sentinel). */
static int load_devices(long long uid)
{
	char dkey[96];
	sp_res res;
	redisReply *rep;

	if (sp_db_query(&res, "SELECT device_id FROM devices WHERE user_id = ?", "l", uid) != 0)
		return -1;
	keys_for(uid, NULL, NULL, NULL, dkey, NULL);
	rep = sp_kv_cmd("SADD %s %s", dkey, DEV_SENTINEL);
	if (rep)
		freeReplyObject(rep);
	for (size_t i = 0; rep && i < res.nrows; i++) {
		rep = sp_kv_cmd("SADD %s %s", dkey, sp_res_str(&res, i, 0));
		if (rep)
			freeReplyObject(rep);
	}
	sp_res_free(&res);
	if (rep == NULL)
		return -1;
	rep = sp_kv_cmd("EXPIRE %s %d", dkey, 3600);
	if (rep)
		freeReplyObject(rep);
	return 0;
}

void sp_stream_forget_devices(long long uid)
{
	char dkey[96];
	redisReply *rep;

	keys_for(uid, NULL, NULL, NULL, dkey, NULL);
	rep = sp_kv_cmd("DEL %s", dkey);
	if (rep)
		freeReplyObject(rep);
}

/* Rebuilds one user's Redis state from MariaDB. */
static int rebuild_user(long long uid)
{
	char zkey[96], prefix[96];
	sp_session *live = NULL;
	size_t n = 0;
	redisReply *rep;

	keys_for(uid, NULL, zkey, NULL, NULL, prefix);
	if (db_live(uid, 0, &live, &n) != 0)
		return -1;
	rep = sp_kv_cmd("ZRANGE %s 0 -1", zkey);
	if (rep == NULL) {
		free(live);
		return -1;
	}
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *d = sp_kv_cmd("DEL %s%s", prefix, rep->element[i]->str);
		if (d)
			freeReplyObject(d);
	}
	freeReplyObject(rep);
	rep = sp_kv_cmd("DEL %s", zkey);
	if (rep)
		freeReplyObject(rep);
	sp_stream_forget_devices(uid);
	for (size_t i = 0; i < n; i++) {
		sp_session *s = &live[i];
		rep = sp_kv_cmd("HSET %s%s u %lld c %lld d %s dn %s dt %s q %d st %lld lh %lld pos "
		                "%ld dbh %lld",
		                prefix, s->id, uid, s->content_id, s->device_id, s->device_name,
		                s->device_type, s->quality, (long long)s->started_ms,
		                (long long)s->last_ms, s->position, (long long)s->last_ms);
		if (rep)
			freeReplyObject(rep);
		rep = sp_kv_cmd("EXPIRE %s%s %lld", prefix, s->id, ttl_s());
		if (rep)
			freeReplyObject(rep);
		rep = sp_kv_cmd("ZADD %s %lld %s", zkey, (long long)s->last_ms, s->id);
		if (rep)
			freeReplyObject(rep);
		rep = sp_kv_cmd("EXPIRE %s %lld", zkey, ttl_s());
		if (rep)
			freeReplyObject(rep);
	}
	free(live);
	return sp_kv_up() ? 0 : -1;
}

void sp_stream_resync(void)
{
	char boot[64];
	sp_res res;
	redisReply *rep;

	sp_kv_key(boot, sizeof boot, "ss:boot");
	rep = sp_kv_cmd("SET %s 1 NX", boot);
	if (rep == NULL)
		return;
	if (rep->type == REDIS_REPLY_STATUS) {
		/* a Redis without our marker lost (or never had) the live sessions */
		freeReplyObject(rep);
		if (sp_db_query(
		        &res,
		        "SELECT DISTINCT user_id FROM stream_sessions WHERE ended_at IS NULL AND "
		        "last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
		        "l", (long long)sp_cfg.stream_stale_seconds) == 0) {
			for (size_t i = 0; i < res.nrows; i++)
				rebuild_user(sp_res_ll(&res, i, 0, 0));
			sp_res_free(&res);
			sp_info("stream sessions reloaded into Redis");
		}
	} else {
		freeReplyObject(rep);
	}
	if (sp_db_query(&res, "SELECT user_id FROM stream_resync", "") != 0)
		return;
	for (size_t i = 0; i < res.nrows; i++) {
		long long uid = sp_res_ll(&res, i, 0, 0);
		if (rebuild_user(uid) == 0)
			sp_db_exec("DELETE FROM stream_resync WHERE user_id = ?", "l", uid);
	}
	sp_res_free(&res);
}

/* ---------------------------------------------------------------- start */

/*
 * Inside a start's transaction (the user's row lock held): 1 when s's
 * device may stream (known, or a free slot), 0 when the device limit is
 * reached, -1 on a database error.
 */
static int device_check(const sp_level *l, const sp_session *s)
{
	sp_res res;
	long long devices;
	int known;

	if (sp_db_query(&res,
	                "SELECT COUNT(*), COALESCE(SUM(device_id = ?), 0) FROM devices WHERE "
	                "user_id = ?",
	                "sl", s->device_id, s->user_id) != 0)
		return -1;
	devices = sp_res_ll(&res, 0, 0, 0);
	known = sp_res_ll(&res, 0, 1, 0) > 0;
	sp_res_free(&res);
	return known || devices < l->max_devices ? 1 : 0;
}

/* The device, registered in the start's transaction so racing new devices count exactly. */
static int register_device(const sp_session *s)
{
	return sp_db_exec(
	           "INSERT INTO devices (user_id, device_id, device_name, device_type) VALUES (?, "
	           "?, ?, ?) ON DUPLICATE KEY UPDATE device_name = VALUES(device_name), "
	           "device_type = VALUES(device_type), last_used = UTC_TIMESTAMP(3)",
	           "lsss", s->user_id, s->device_id, s->device_name, s->device_type) < 0
	           ? -1
	           : 0;
}

/* Puts the user's Redis state back to MariaDB's; noted for a later rebuild if that fails. */
static void repair(long long uid)
{
	if (rebuild_user(uid) != 0)
		mark_resync(uid);
}

/*
 * Opens a start's transaction: takes the user's row lock (which serialises
 * every start of that user across processes), reads the live sessions
 * and counts those that s would not replace (another device's). -1 on a
 * database error (the caller rolls back).
 */
static int locked_live(const sp_session *s, sp_session **cur, size_t *n, size_t *count)
{
	sp_res res;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM users WHERE id = ? FOR UPDATE", "l", s->user_id) != 0)
		return -1;
	sp_res_free(&res);
	if (db_live(s->user_id, 1, cur, n) != 0)
		return -1;
	*count = *n;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*cur)[i].device_id, s->device_id) == 0)
			(*count)--;
	return 0;
}

/*
 * MariaDB only: the same rules under the user's row lock, which serialises
 * every start for that user across all processes.
 */
static enum sp_start_rc start_db(const sp_level *l, sp_session *s, char replaced[33], int *current,
                                 sp_session **live, size_t *n_live)
{
	sp_session *cur = NULL;
	size_t n = 0, count;
	int known = 0;

	if (locked_live(s, &cur, &n, &count) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cur[i].device_id, s->device_id) == 0)
			snprintf(replaced, 33, "%s", cur[i].id);
	known = device_check(l, s);
	if (known < 0)
		goto fail;
	if (known == 0) {
		sp_db_rollback();
		free(cur);
		return SP_START_DEVICE_LIMIT;
	}
	if ((long long)count >= l->max_streams) {
		sp_db_rollback();
		*live = cur;
		*n_live = n;
		return SP_START_LIMIT;
	}
	free(cur);
	cur = NULL;
	if (replaced[0] &&
	    sp_db_exec("UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = "
	               "'replaced' WHERE id = ?",
	               "s", replaced) < 0)
		goto fail;
	if (sp_db_exec(
	        "INSERT INTO stream_sessions (id, user_id, content_id, device_id, "
	        "device_name, device_type, quality, started_at, last_heartbeat_at) VALUES (?, "
	        "?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
	        "sllsssi", s->id, s->user_id, s->content_id, s->device_id, s->device_name,
	        s->device_type, s->quality) != 1 ||
	    register_device(s) != 0)
		goto fail;
	mark_resync(s->user_id);
	if (sp_db_commit() != 0)
		goto fail;
	*current = (int)count + 1;
	return SP_START_OK;
fail:
	free(cur);
	sp_db_rollback();
	return SP_START_ERROR;
}

/*
 * After Redis admitted a start: the record, written under the user's row
 * lock, where the count is checked once more against MariaDB. Redis alone
 * cannot be the last word: for about a second after Redis returns from an
 * outage, a process that saw it down still admits in MariaDB (start_db)
 * while others use Redis again, and Redis does not know those sessions yet.
 * Every admission, by either path, therefore ends in this same locked
 * check, which makes the limit exact in that window too. When MariaDB says
 * no, the user's Redis state is rebuilt from it (undoing this admission and
 * bringing in the sessions Redis missed) and the start is refused. Only
 * admitted starts come here; the limit path (a 429 from Redis) stays free
 * of MariaDB.
 */
static enum sp_start_rc confirm_db(const sp_level *l, sp_session *s, int *current,
                                   sp_session **live, size_t *n_live)
{
	sp_session *cur = NULL;
	size_t n = 0, count;
	int rc;

	if (locked_live(s, &cur, &n, &count) != 0)
		goto down;
	rc = device_check(l, s);
	if (rc < 0)
		goto down;
	if (rc == 0 || (long long)count >= l->max_streams) {
		sp_db_rollback();
		sp_metrics_inc("sp_stream_limit_db_overrule_total");
		repair(s->user_id);
		if (rc == 0) {
			free(cur);
			return SP_START_DEVICE_LIMIT;
		}
		*live = cur;
		*n_live = n;
		return SP_START_LIMIT;
	}
	free(cur);
	cur = NULL;
	/* the same device's earlier session is replaced (Redis dropped it already) */
	if (sp_db_exec("UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = "
	               "'replaced' WHERE user_id = ? AND device_id = ? AND ended_at IS NULL",
	               "ls", s->user_id, s->device_id) < 0 ||
	    sp_db_exec(
	        "INSERT INTO stream_sessions (id, user_id, content_id, device_id, "
	        "device_name, device_type, quality, started_at, last_heartbeat_at) VALUES (?, "
	        "?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
	        "sllsssi", s->id, s->user_id, s->content_id, s->device_id, s->device_name,
	        s->device_type, s->quality) != 1 ||
	    register_device(s) != 0 || sp_db_commit() != 0)
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
	free(cur);
	sp_db_rollback();
	repair(s->user_id);
	return SP_START_ERROR;
}

enum sp_start_rc sp_stream_start(const sp_level *l, sp_session *s, int dirty, char replaced[33],
                                 int *current, sp_session **live, size_t *n_live)
{
	char zkey[96], hkey[96], dkey[96], prefix[96];
	char a_uid[24], a_cid[24], a_q[8], a_now[24], a_stale[24], a_max[8], a_dev[8], a_ttl[24];
	redisReply *rep = NULL;
	int64_t now = sp_now_ms();

	replaced[0] = '\0';
	*live = NULL;
	*n_live = 0;
	s->started_ms = s->last_ms = now;
	if (dirty && sp_kv_up() && rebuild_user(s->user_id) == 0)
		sp_db_exec("DELETE FROM stream_resync WHERE user_id = ?", "l", s->user_id);
	keys_for(s->user_id, s->id, zkey, hkey, dkey, prefix);
	snprintf(a_uid, sizeof a_uid, "%lld", s->user_id);
	snprintf(a_cid, sizeof a_cid, "%lld", s->content_id);
	snprintf(a_q, sizeof a_q, "%d", s->quality);
	snprintf(a_now, sizeof a_now, "%lld", (long long)now);
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	snprintf(a_max, sizeof a_max, "%d", l->max_streams);
	snprintf(a_dev, sizeof a_dev, "%d", l->max_devices);
	snprintf(a_ttl, sizeof a_ttl, "%lld", ttl_s());
	/* KEYS: live set, device set, new session; then ARGV 1..13 as the script reads them */
	const char *args[] = {zkey,           dkey,           hkey,   s->id, a_uid, s->device_id,
	                      s->device_name, s->device_type, a_cid,  a_q,   a_now, a_stale,
	                      a_max,          a_dev,          prefix, a_ttl};

	for (int attempt = 0; attempt < 2; attempt++) {
		rep = sp_kv_eval(&start_script, 3, 16, args, NULL);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
			break;
		if (strcmp(el(rep, 0), "NODEV") != 0)
			break;
		/* the device set is not cached yet: load it from MariaDB and try again */
		freeReplyObject(rep);
		rep = NULL;
		if (load_devices(s->user_id) != 0)
			break;
	}
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    strcmp(el(rep, 0), "NODEV") == 0) {
		if (rep)
			freeReplyObject(rep);
		/* Redis unreachable: MariaDB decides, exactly, under the row lock */
		sp_metrics_inc("sp_stream_db_fallback_total");
		return start_db(l, s, replaced, current, live, n_live);
	}
	if (strcmp(el(rep, 0), "DEVICE_LIMIT") == 0) {
		freeReplyObject(rep);
		return SP_START_DEVICE_LIMIT;
	}
	if (strcmp(el(rep, 0), "LIMIT") == 0) {
		*live = sessions_from(rep, 1, n_live);
		qsort(*live, *n_live, sizeof **live, cmp_started);
		freeReplyObject(rep);
		return SP_START_LIMIT;
	}
	snprintf(replaced, 33, "%s", el(rep, 1));
	*current = atoi(el(rep, 2));
	freeReplyObject(rep);
	return confirm_db(l, s, current, live, n_live);
}

/* ---------------------------------------------------------------- heartbeat, stop */

/* MariaDB's view of a session id: 0 absent, 1 live and the user's, 2 ended or stale, 3 another
 * user's. */
static int db_session_state(long long uid, const char *sid)
{
	sp_res res;
	int st;

	if (sp_db_query(
	        &res,
	        "SELECT user_id, ended_at IS NULL AND last_heartbeat_at > UTC_TIMESTAMP(3) - "
	        "INTERVAL ? SECOND FROM stream_sessions WHERE id = ?",
	        "ls", (long long)sp_cfg.stream_stale_seconds, sid) != 0)
		return -1;
	if (res.nrows == 0)
		st = 0;
	else if (sp_res_ll(&res, 0, 0, 0) != uid)
		st = 3;
	else
		st = sp_res_ll(&res, 0, 1, 0) ? 1 : 2;
	sp_res_free(&res);
	return st;
}

static void db_end(const char *sid, const char *reason, long position)
{
	sp_db_exec(
	    "UPDATE stream_sessions SET ended_at = UTC_TIMESTAMP(3), end_reason = ?, "
	    "position_seconds = IF(? >= 0, ?, position_seconds) WHERE id = ? AND ended_at IS "
	    "NULL",
	    "slls", reason, (long long)position, (long long)position, sid);
}

/* MariaDB only: extends a live session of this user. */
static enum sp_session_rc heartbeat_db(long long uid, const char *sid, long position)
{
	long long n;
	int st;

	n = sp_db_exec("UPDATE stream_sessions SET last_heartbeat_at = UTC_TIMESTAMP(3), "
	               "position_seconds = ? WHERE id = ? AND user_id = ? AND ended_at IS NULL AND "
	               "last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
	               "lsll", (long long)position, sid, uid,
	               (long long)sp_cfg.stream_stale_seconds);
	if (n < 0)
		return SP_SESSION_ERROR;
	if (n == 1)
		return SP_SESSION_OK;
	st = db_session_state(uid, sid);
	if (st < 0)
		return SP_SESSION_ERROR;
	if (st == 2) {
		db_end(sid, "stale", -1);
		return SP_SESSION_ENDED;
	}
	return SP_SESSION_NOT_FOUND;
}

void sp_stream_hb_step(long long uid, const char *sid, long position, char keys[2][96],
                       char args[7][96])
{
	keys_for(uid, sid, keys[0], keys[1], NULL, NULL);
	snprintf(args[0], 96, "%s", sid);
	snprintf(args[1], 96, "%lld", uid);
	snprintf(args[2], 96, "%lld", (long long)sp_now_ms());
	snprintf(args[3], 96, "%lld", stale_ms());
	snprintf(args[4], 96, "%ld", position);
	snprintf(args[5], 96, "%lld", db_every_ms());
	snprintf(args[6], 96, "%lld", ttl_s());
}

enum sp_session_rc sp_stream_hb_finish(long long uid, const char *sid, long position,
                                       const char *status, int due)
{
	enum sp_session_rc rc;

	if (strcmp(status, "OK") == 0) {
		/* MariaDB is told only every quarter of the stale window: enough to stay live there
		 */
		if (due)
			sp_db_exec(
			    "UPDATE stream_sessions SET last_heartbeat_at = UTC_TIMESTAMP(3), "
			    "position_seconds = ? WHERE id = ? AND ended_at IS NULL",
			    "ls", (long long)position, sid);
		return SP_SESSION_OK;
	}
	if (strcmp(status, "NOTYOURS") == 0)
		return SP_SESSION_NOT_FOUND;
	if (strcmp(status, "ENDED") == 0) {
		db_end(sid, "stale", position);
		return SP_SESSION_ENDED;
	}
	/* unknown to Redis: ended long ago, never existed, or started while Redis was away */
	switch (db_session_state(uid, sid)) {
	case 1:
		rc = heartbeat_db(uid, sid, position);
		if (rc == SP_SESSION_OK && rebuild_user(uid) != 0)
			mark_resync(uid);
		return rc;
	case 2:
		return SP_SESSION_ENDED;
	case -1:
		return SP_SESSION_ERROR;
	default:
		return SP_SESSION_NOT_FOUND;
	}
}

enum sp_session_rc sp_stream_heartbeat(long long uid, const char *sid, long position)
{
	char keys[2][96], args[7][96];
	const char *argv[9];
	redisReply *rep;
	enum sp_session_rc rc;
	char status[16];
	int due;

	sp_stream_hb_step(uid, sid, position, keys, args);
	argv[0] = keys[0];
	argv[1] = keys[1];
	for (int i = 0; i < 7; i++)
		argv[2 + i] = args[i];
	rep = sp_kv_eval(&heartbeat_script, 2, 9, argv, NULL);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1) {
		if (rep)
			freeReplyObject(rep);
		rc = heartbeat_db(uid, sid, position);
		if (rc == SP_SESSION_OK)
			mark_resync(uid);
		return rc;
	}
	snprintf(status, sizeof status, "%s", el(rep, 0));
	due = strcmp(el(rep, 1), "1") == 0;
	freeReplyObject(rep);
	return sp_stream_hb_finish(uid, sid, position, status, due);
}

enum sp_session_rc sp_stream_stop(long long uid, const char *sid, long position, const char *reason,
                                  long long *content_id)
{
	char zkey[96], hkey[96], a_uid[24];
	redisReply *rep;
	int st;

	*content_id = 0;
	keys_for(uid, sid, zkey, hkey, NULL, NULL);
	snprintf(a_uid, sizeof a_uid, "%lld", uid);
	const char *args[] = {zkey, hkey, sid, a_uid};
	rep = sp_kv_eval(&stop_script, 2, 4, args, NULL);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
	    strcmp(el(rep, 0), "NOTYOURS") == 0) {
		freeReplyObject(rep);
		return SP_SESSION_NOT_FOUND;
	}
	int left_redis = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
	                 strcmp(el(rep, 0), "OK") == 0;
	if (rep == NULL)
		mark_resync(uid); /* Redis may still hold it once it is back */
	else
		freeReplyObject(rep);
	st = db_session_state(uid, sid);
	if (st < 0)
		/* the slot is free already if Redis let it go; the record catches up via the sweep
		 */
		return left_redis ? SP_SESSION_OK : SP_SESSION_ERROR;
	if (st == 0 || st == 3)
		return SP_SESSION_NOT_FOUND;
	{
		sp_res res;
		if (sp_db_query(&res, "SELECT content_id FROM stream_sessions WHERE id = ?", "s",
		                sid) == 0) {
			*content_id = sp_res_ll(&res, 0, 0, 0);
			sp_res_free(&res);
		}
	}
	if (st == 2) {
		/* already over: record the position anyway, never a second end */
		sp_db_exec("UPDATE stream_sessions SET position_seconds = ? WHERE id = ? AND "
		           "end_reason IN ('stopped', 'stale')",
		           "ls", (long long)position, sid);
		return SP_SESSION_ENDED;
	}
	db_end(sid, reason, position);
	return SP_SESSION_OK;
}

/* ---------------------------------------------------------------- list, live */

int sp_stream_list(long long uid, sp_session **out, size_t *n)
{
	char zkey[96], prefix[96], a_now[24], a_stale[24];
	redisReply *rep;

	keys_for(uid, NULL, zkey, NULL, NULL, prefix);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *args[] = {zkey, a_now, a_stale, prefix};
	rep = sp_kv_eval(&list_script, 1, 4, args, NULL);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return db_live(uid, 0, out, n);
	*out = sessions_from(rep, 0, n);
	for (size_t i = 0; i < *n; i++)
		(*out)[i].user_id = uid;
	freeReplyObject(rep);
	qsort(*out, *n, sizeof **out, cmp_started);
	return 0;
}

/* Live in MariaDB, the record of every session: 1 live, 0 not, -1 no answer. */
static int live_in_db(const char *sid)
{
	sp_res res;
	int live;

	if (sp_db_query(&res,
	                "SELECT 1 FROM stream_sessions WHERE id = ? AND ended_at IS NULL AND "
	                "last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
	                "sl", sid, (long long)sp_cfg.stream_stale_seconds) != 0)
		return -1;
	live = res.nrows == 1;
	sp_res_free(&res);
	return live;
}

/*
 * Redis answers first; when it says "not live" MariaDB is asked too (Redis
 * may lag a session admitted while it was away), and when Redis cannot be
 * reached MariaDB decides alone, so an ended session never plays again just
 * because Redis is down.
 */
int sp_stream_is_live(const char *sid)
{
	char hkey[96], a_now[24], a_stale[24];
	redisReply *rep;
	int live = -1, db;

	keys_for(0, sid, NULL, hkey, NULL, NULL);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *args[] = {hkey, a_now, a_stale};
	rep = sp_kv_eval(&live_script, 1, 3, args, NULL);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		live = rep->integer == 1;
	if (rep)
		freeReplyObject(rep);
	if (live == 1)
		return 1;
	db = live_in_db(sid);
	if (db >= 0)
		return db;
	return live == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- worker */

int sp_stream_trim(long long uid, int max, const char *reason)
{
	sp_session *live = NULL;
	size_t n = 0;
	int ended = 0;

	if (sp_stream_list(uid, &live, &n) != 0)
		return -1;
	/* the oldest go first; the newest keep playing */
	for (size_t i = 0; n > (size_t)max && i < n - (size_t)max; i++) {
		long long cid;
		if (sp_stream_stop(uid, live[i].id, live[i].position, reason, &cid) ==
		    SP_SESSION_OK)
			ended++;
	}
	free(live);
	return ended;
}

long sp_stream_sweep(int64_t now_ms)
{
	char pattern[64], prefix[96];
	const char *cursor = "0";
	char next[32] = "0", now[32];
	long closed;

	sp_kv_key(pattern, sizeof pattern, "ss:u:*");
	sp_kv_key(prefix, sizeof prefix, "ss:s:");
	do {
		redisReply *rep = sp_kv_cmd("SCAN %s MATCH %s COUNT 500", cursor, pattern);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			if (rep)
				freeReplyObject(rep);
			break;
		}
		snprintf(next, sizeof next, "%s", rep->element[0]->str);
		for (size_t i = 0; i < rep->element[1]->elements; i++) {
			const char *zkey = rep->element[1]->element[i]->str;
			redisReply *old = sp_kv_cmd("ZRANGEBYSCORE %s -inf (%lld", zkey,
			                            (long long)(now_ms - stale_ms()));
			for (size_t k = 0; old && k < old->elements; k++) {
				redisReply *d = sp_kv_cmd("DEL %s%s", prefix, old->element[k]->str);
				if (d)
					freeReplyObject(d);
				d = sp_kv_cmd("ZREM %s %s", zkey, old->element[k]->str);
				if (d)
					freeReplyObject(d);
			}
			if (old)
				freeReplyObject(old);
		}
		freeReplyObject(rep);
		cursor = next;
	} while (strcmp(next, "0") != 0);
	/* MariaDB's heartbeat lags Redis by at most a quarter window: past a whole one is stale */
	sp_db_time(now_ms, now);
	closed = (long)sp_db_exec("UPDATE stream_sessions SET ended_at = ?, end_reason = 'stale' "
	                          "WHERE ended_at IS NULL AND last_heartbeat_at < ? - INTERVAL ? "
	                          "SECOND",
	                          "ssl", now, now, (long long)sp_cfg.stream_stale_seconds);
	return closed;
}
