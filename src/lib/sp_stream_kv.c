/*
 * Streaming sessions in Redis: the Lua scripts that admit, extend, stop and
 * list sessions atomically, and every other Redis command the sessions need.
 * Each function says "no answer" plainly so the caller can fall back to MariaDB.
 *
 * Keys (named in sp_keys.h): the user's sorted set of session ids scored by
 * last heartbeat (ms); a hash per session (u user, c content, d device, dn
 * name, dt type, q quality, st start, lh last heartbeat, pos, dbh last
 * MariaDB heartbeat); the user's set of registered device ids plus a
 * sentinel (so an empty set still exists once loaded); and a boot marker
 * that a Redis holding the live sessions carries (absent after a restart).
 */
#include "sp_stream_impl.h"
#include "sp_config.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV_SENTINEL "\x01"

/* Device sets are a cache of MariaDB's table: reloaded after an hour. */
#define DEVICES_TTL_S 3600

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

/* ---------------------------------------------------------------- keys, replies */

/* Full key names (with the deployment's prefix) of the names in sp_keys.h. */
static void user_key(char *out, size_t n, long long uid)
{
	char name[SP_KEY_MAX];

	sp_key_stream_user(name, sizeof name, uid);
	sp_kv_key(out, n, "%s", name);
}

static void session_key(char *out, size_t n, const char *sid)
{
	char name[SP_KEY_MAX];

	sp_key_stream_session(name, sizeof name, sid);
	sp_kv_key(out, n, "%s", name);
}

static void devices_key(char out[SP_KEY_MAX], long long uid)
{
	char name[SP_KEY_MAX];

	sp_key_stream_devices(name, sizeof name, uid);
	sp_kv_key(out, SP_KEY_MAX, "%s", name);
}

/* What scripts prepend to a session id to name its hash. */
static void session_prefix(char out[SP_KEY_MAX])
{
	sp_kv_key(out, SP_KEY_MAX, "%s", SP_KEY_STREAM_SESSION_PREFIX);
}

static const char *el(const redisReply *rep, size_t i)
{
	return i < rep->elements && rep->element[i]->type == REDIS_REPLY_STRING
	           ? rep->element[i]->str
	           : "";
}

/* A script's array answer, or NULL when Redis gave none (an error reply is freed). */
static redisReply *array_or_null(redisReply *rep)
{
	if (rep && (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)) {
		freeReplyObject(rep);
		rep = NULL;
	}
	return rep;
}

static enum sp_stream_kv_answer answer_of(const char *status)
{
	if (strcmp(status, "OK") == 0)
		return SP_STREAM_KV_OK;
	if (strcmp(status, "ENDED") == 0)
		return SP_STREAM_KV_ENDED;
	if (strcmp(status, "NOTYOURS") == 0)
		return SP_STREAM_KV_NOTYOURS;
	return SP_STREAM_KV_UNKNOWN;
}

/* The fields the list and limit answers give per session, in the scripts' HMGET order. */
enum list_field {
	LF_ID,
	LF_NAME,
	LF_STARTED,
	LF_CONTENT,
	LF_DEVICE,
	LF_QUALITY,
	LF_LAST,
	LF_TYPE,
	LF_POSITION,
	LF_COUNT
};

static int cmp_started(const void *a, const void *b)
{
	const sp_session *x = a, *y = b;

	return x->started_ms < y->started_ms ? -1 : x->started_ms > y->started_ms;
}

/* Sessions from a list answer starting at index first, oldest first. */
static sp_session *sessions_from(const redisReply *rep, size_t first, size_t *n)
{
	size_t count = (rep->elements - first) / LF_COUNT;
	sp_session *out = sp_xcalloc(count ? count : 1, sizeof *out);

	for (size_t i = 0; i < count; i++) {
		size_t b = first + i * LF_COUNT;
		sp_session *s = &out[i];
		snprintf(s->id, sizeof s->id, "%s", el(rep, b + LF_ID));
		sp_utf8_copy(s->device_name, sizeof s->device_name, el(rep, b + LF_NAME));
		s->started_ms = strtoll(el(rep, b + LF_STARTED), NULL, 10);
		s->content_id = strtoll(el(rep, b + LF_CONTENT), NULL, 10);
		snprintf(s->device_id, sizeof s->device_id, "%s", el(rep, b + LF_DEVICE));
		s->quality = atoi(el(rep, b + LF_QUALITY));
		s->last_ms = strtoll(el(rep, b + LF_LAST), NULL, 10);
		sp_utf8_copy(s->device_type, sizeof s->device_type, el(rep, b + LF_TYPE));
		s->position = strtol(el(rep, b + LF_POSITION), NULL, 10);
	}
	qsort(out, count, sizeof *out, cmp_started);
	*n = count;
	return out;
}

/* A command whose answer is not needed; 0 when Redis replied. */
static int kv_do(redisReply *rep)
{
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

/* ---------------------------------------------------------------- sessions */

enum sp_stream_kv_start sp_stream_kv_start(const sp_level *l, const sp_session *s,
                                           char replaced[33], int *current, sp_session **live,
                                           size_t *n_live)
{
	char zkey[SP_KEY_MAX], hkey[SP_KEY_MAX], dkey[SP_KEY_MAX], prefix[SP_KEY_MAX];
	char a_uid[24], a_cid[24], a_q[8], a_now[24], a_stale[24], a_max[8], a_dev[8], a_ttl[24];
	enum sp_stream_kv_start rc;
	redisReply *rep;

	user_key(zkey, sizeof zkey, s->user_id);
	session_key(hkey, sizeof hkey, s->id);
	devices_key(dkey, s->user_id);
	session_prefix(prefix);
	snprintf(a_uid, sizeof a_uid, "%lld", s->user_id);
	snprintf(a_cid, sizeof a_cid, "%lld", s->content_id);
	snprintf(a_q, sizeof a_q, "%d", s->quality);
	snprintf(a_now, sizeof a_now, "%lld", (long long)s->started_ms);
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	snprintf(a_max, sizeof a_max, "%d", l->max_streams);
	snprintf(a_dev, sizeof a_dev, "%d", l->max_devices);
	snprintf(a_ttl, sizeof a_ttl, "%lld", ttl_s());
	/* KEYS: live set, device set, new session; then ARGV 1..13 as the script reads them */
	const char *args[] = {zkey,           dkey,           hkey,   s->id, a_uid, s->device_id,
	                      s->device_name, s->device_type, a_cid,  a_q,   a_now, a_stale,
	                      a_max,          a_dev,          prefix, a_ttl};

	rep = array_or_null(sp_kv_eval(&start_script, 3, 16, args, NULL));
	if (rep == NULL)
		return SP_STREAM_KV_START_DOWN;
	if (strcmp(el(rep, 0), "NODEV") == 0) {
		rc = SP_STREAM_KV_NODEV;
	} else if (strcmp(el(rep, 0), "DEVICE_LIMIT") == 0) {
		rc = SP_STREAM_KV_DEVICE_LIMIT;
	} else if (strcmp(el(rep, 0), "LIMIT") == 0) {
		*live = sessions_from(rep, 1, n_live);
		rc = SP_STREAM_KV_LIMIT;
	} else {
		snprintf(replaced, 33, "%s", el(rep, 1));
		*current = atoi(el(rep, 2));
		rc = SP_STREAM_KV_ADMITTED;
	}
	freeReplyObject(rep);
	return rc;
}

void sp_stream_hb_step(long long uid, const char *sid, long position, char keys[2][96],
                       char args[7][96])
{
	user_key(keys[0], sizeof keys[0], uid);
	session_key(keys[1], sizeof keys[1], sid);
	snprintf(args[0], 96, "%s", sid);
	snprintf(args[1], 96, "%lld", uid);
	snprintf(args[2], 96, "%lld", (long long)sp_now_ms());
	snprintf(args[3], 96, "%lld", stale_ms());
	snprintf(args[4], 96, "%ld", position);
	snprintf(args[5], 96, "%lld", db_every_ms());
	snprintf(args[6], 96, "%lld", ttl_s());
}

enum sp_stream_kv_answer sp_stream_kv_heartbeat(long long uid, const char *sid, long position,
                                                int *due)
{
	char keys[2][96], args[7][96];
	const char *argv[9];
	enum sp_stream_kv_answer answer;
	redisReply *rep;

	sp_stream_hb_step(uid, sid, position, keys, args);
	argv[0] = keys[0];
	argv[1] = keys[1];
	for (int i = 0; i < 7; i++)
		argv[2 + i] = args[i];
	rep = array_or_null(sp_kv_eval(&heartbeat_script, 2, 9, argv, NULL));
	if (rep == NULL)
		return SP_STREAM_KV_DOWN;
	answer = answer_of(el(rep, 0));
	*due = strcmp(el(rep, 1), "1") == 0;
	freeReplyObject(rep);
	return answer;
}

enum sp_stream_kv_answer sp_stream_kv_stop(long long uid, const char *sid)
{
	char zkey[SP_KEY_MAX], hkey[SP_KEY_MAX], a_uid[24];
	enum sp_stream_kv_answer answer = SP_STREAM_KV_UNKNOWN;
	redisReply *rep;

	user_key(zkey, sizeof zkey, uid);
	session_key(hkey, sizeof hkey, sid);
	snprintf(a_uid, sizeof a_uid, "%lld", uid);
	const char *args[] = {zkey, hkey, sid, a_uid};
	rep = sp_kv_eval(&stop_script, 2, 4, args, NULL);
	if (rep == NULL)
		return SP_STREAM_KV_DOWN;
	/* an error reply means Redis answered: the session is not known to be held there */
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1)
		answer = answer_of(el(rep, 0));
	freeReplyObject(rep);
	return answer;
}

int sp_stream_kv_list(long long uid, sp_session **out, size_t *n)
{
	char zkey[SP_KEY_MAX], prefix[SP_KEY_MAX], a_now[24], a_stale[24];
	redisReply *rep;

	user_key(zkey, sizeof zkey, uid);
	session_prefix(prefix);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *args[] = {zkey, a_now, a_stale, prefix};
	rep = sp_kv_eval(&list_script, 1, 4, args, NULL);
	/* an empty array is an answer (no sessions), unlike in array_or_null */
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		if (rep)
			freeReplyObject(rep);
		return -1;
	}
	*out = sessions_from(rep, 0, n);
	for (size_t i = 0; i < *n; i++)
		(*out)[i].user_id = uid;
	freeReplyObject(rep);
	return 0;
}

int sp_stream_kv_is_live(const char *sid)
{
	char hkey[SP_KEY_MAX], a_now[24], a_stale[24];
	redisReply *rep;
	int live = -1;

	session_key(hkey, sizeof hkey, sid);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *args[] = {hkey, a_now, a_stale};
	rep = sp_kv_eval(&live_script, 1, 3, args, NULL);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		live = rep->integer == 1;
	if (rep)
		freeReplyObject(rep);
	return live;
}

/* ---------------------------------------------------------------- rebuilding from MariaDB */

void sp_stream_forget_devices(long long uid)
{
	char dkey[SP_KEY_MAX];

	devices_key(dkey, uid);
	kv_do(sp_kv_cmd("DEL %s", dkey));
}

/* Drops every session the user's live set names, and the set. */
static int drop_user_sessions(long long uid)
{
	char zkey[SP_KEY_MAX], hkey[SP_KEY_MAX];
	redisReply *rep;

	user_key(zkey, sizeof zkey, uid);
	rep = sp_kv_cmd("ZRANGE %s 0 -1", zkey);
	if (rep == NULL)
		return -1;
	for (size_t i = 0; i < rep->elements; i++) {
		session_key(hkey, sizeof hkey, rep->element[i]->str);
		kv_do(sp_kv_cmd("DEL %s", hkey));
	}
	freeReplyObject(rep);
	kv_do(sp_kv_cmd("DEL %s", zkey));
	return 0;
}

/*
 * Not one script: the rebuild only ever runs for a user whose sessions
 * MariaDB holds exactly (under the row lock, or with the user noted for a
 * later rebuild), so a start racing it is checked again there.
 */
int sp_stream_kv_replace_user(long long uid, const sp_session *live, size_t n)
{
	char zkey[SP_KEY_MAX], hkey[SP_KEY_MAX];

	if (drop_user_sessions(uid) != 0)
		return -1;
	sp_stream_forget_devices(uid);
	user_key(zkey, sizeof zkey, uid);
	for (size_t i = 0; i < n; i++) {
		const sp_session *s = &live[i];
		session_key(hkey, sizeof hkey, s->id);
		kv_do(sp_kv_cmd("HSET %s u %lld c %lld d %s dn %s dt %s q %d st %lld lh %lld pos "
		                "%ld dbh %lld",
		                hkey, uid, s->content_id, s->device_id, s->device_name,
		                s->device_type, s->quality, (long long)s->started_ms,
		                (long long)s->last_ms, s->position, (long long)s->last_ms));
		kv_do(sp_kv_cmd("EXPIRE %s %lld", hkey, ttl_s()));
		kv_do(sp_kv_cmd("ZADD %s %lld %s", zkey, (long long)s->last_ms, s->id));
		kv_do(sp_kv_cmd("EXPIRE %s %lld", zkey, ttl_s()));
	}
	return sp_kv_up() ? 0 : -1;
}

int sp_stream_kv_put_devices(long long uid, const sp_stream_device *dev, size_t n)
{
	char dkey[SP_KEY_MAX];

	devices_key(dkey, uid);
	if (kv_do(sp_kv_cmd("SADD %s %s", dkey, DEV_SENTINEL)) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kv_do(sp_kv_cmd("SADD %s %s", dkey, dev[i].id)) != 0)
			return -1;
	kv_do(sp_kv_cmd("EXPIRE %s %d", dkey, DEVICES_TTL_S));
	return 0;
}

int sp_stream_kv_mark_boot(void)
{
	char boot[SP_KEY_MAX];
	redisReply *rep;
	int set;

	sp_kv_key(boot, sizeof boot, "%s", SP_KEY_STREAM_BOOT);
	rep = sp_kv_cmd("SET %s 1 NX", boot);
	if (rep == NULL)
		return -1;
	/* NX answers OK when it set the key, nil when the key was there */
	set = rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	return set;
}

/* ---------------------------------------------------------------- sweep */

/* Drops the stale sessions of one user's live set (named by its full key). */
static void sweep_user(const char *zkey, int64_t now_ms)
{
	char hkey[SP_KEY_MAX];
	redisReply *old;

	old = sp_kv_cmd("ZRANGEBYSCORE %s -inf (%lld", zkey, (long long)(now_ms - stale_ms()));
	if (old == NULL)
		return;
	for (size_t k = 0; k < old->elements; k++) {
		session_key(hkey, sizeof hkey, old->element[k]->str);
		kv_do(sp_kv_cmd("DEL %s", hkey));
		kv_do(sp_kv_cmd("ZREM %s %s", zkey, old->element[k]->str));
	}
	freeReplyObject(old);
}

void sp_stream_kv_sweep(int64_t now_ms)
{
	char pattern[SP_KEY_MAX];
	char cursor[32] = "0";
	redisReply *rep;

	sp_kv_key(pattern, sizeof pattern, "%s", SP_KEY_STREAM_USER_PATTERN);
	do {
		rep = sp_kv_cmd("SCAN %s MATCH %s COUNT 500", cursor, pattern);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			kv_do(rep);
			return;
		}
		snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
		for (size_t i = 0; i < rep->element[1]->elements; i++)
			sweep_user(rep->element[1]->element[i]->str, now_ms);
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
}
