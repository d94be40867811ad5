/*
 * Streaming sessions in Redis: Lua scripts that admit, extend, stop, list,
 * rebuild and sweep sessions, each one atomic step run through sp_kv's
 * typed calls. Each function says "no answer" plainly so the caller can
 * fall back to MariaDB.
 *
 * Keys (named in sp_keys.h): the user's sorted set of session ids scored by
 * last heartbeat (ms); a hash per session (u user, c content, d device, dn
 * name, dt type, q quality, mq the rendition cap of the plan in force, st
 * start, lh last heartbeat, pos, dbh last MariaDB heartbeat); the user's set of registered device
 * ids plus a sentinel (so an empty set still exists once loaded); and a boot marker that a Redis
 * holding the live sessions carries (absent after a restart).
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
    "'dt', ARGV[5], 'q', ARGV[7], 'st', ARGV[8], 'lh', ARGV[8], 'pos', '0', 'dbh', ARGV[8], "
    "'mq', ARGV[14])\n"
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
    "return hb(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], "
    "ARGV[8])\n",
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

/* 0 not live, else LIVE_BASE + the session's cap (3 when it has none). */
#define LIVE_BASE 10
static sp_kv_script live_script = {
    "stream_live",
    "local h = redis.call('HMGET', KEYS[1], 'lh', 'mq')\n"
    "if not h[1] then return 0 end\n"
    "if tonumber(h[1]) < tonumber(ARGV[1]) - tonumber(ARGV[2]) then return 0 end\n"
    "return 10 + (tonumber(h[2]) or 3)\n",
    ""};

/* The cap of the user's session set (a heartbeat whose level came from MariaDB): 1 moved. */
static sp_kv_script cap_script = {"stream_cap",
                                  "local h = redis.call('HMGET', KEYS[1], 'u', 'mq')\n"
                                  "if h[1] ~= ARGV[1] or h[2] == ARGV[2] then return 0 end\n"
                                  "redis.call('HSET', KEYS[1], 'mq', ARGV[2])\n"
                                  "return 1\n",
                                  ""};

/*
 * A user's Redis state replaced by MariaDB's in one step, so no start sees
 * it half built. KEYS: live set, device set (dropped: reloaded on the next
 * start); ARGV: session prefix, ttl, user, then the fields of each session
 * in the order of enum replace_field.
 */
static sp_kv_script replace_script = {
    "stream_replace",
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  redis.call('DEL', ARGV[1] .. id)\n"
    "end\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "local ttl = tonumber(ARGV[2])\n"
    "for i = 4, #ARGV, 10 do\n"
    "  local kh = ARGV[1] .. ARGV[i]\n"
    "  redis.call('HSET', kh, 'u', ARGV[3], 'c', ARGV[i + 1], 'd', ARGV[i + 2], 'dn', "
    "ARGV[i + 3], 'dt', ARGV[i + 4], 'q', ARGV[i + 5], 'st', ARGV[i + 6], 'lh', ARGV[i + 7], "
    "'pos', ARGV[i + 8], 'dbh', ARGV[i + 7], 'mq', ARGV[i + 9])\n"
    "  redis.call('EXPIRE', kh, ttl)\n"
    "  redis.call('ZADD', KEYS[1], tonumber(ARGV[i + 7]), ARGV[i])\n"
    "  redis.call('EXPIRE', KEYS[1], ttl)\n"
    "end\n"
    "return 1\n",
    ""};

/* The device set filled. KEYS: device set; ARGV: ttl, then the ids (the sentinel first). */
static sp_kv_script devices_script = {"stream_devices",
                                      "for i = 2, #ARGV do\n"
                                      "  redis.call('SADD', KEYS[1], ARGV[i])\n"
                                      "end\n"
                                      "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))\n"
                                      "return 1\n",
                                      ""};

/*
 * One step of the sweep: a SCAN batch of live sets, each rid of its stale
 * sessions; answers {next cursor}. ARGV: cursor, pattern, batch size,
 * cut-off (ms), session prefix. A batch per call keeps each script short.
 */
static sp_kv_script sweep_script = {
    "stream_sweep",
    "local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])\n"
    "for _, kz in ipairs(r[2]) do\n"
    "  for _, id in ipairs(redis.call('ZRANGEBYSCORE', kz, '-inf', '(' .. ARGV[4])) do\n"
    "    redis.call('DEL', ARGV[5] .. id)\n"
    "    redis.call('ZREM', kz, id)\n"
    "  end\n"
    "end\n"
    "return {r[1]}\n",
    ""};

/* ---------------------------------------------------------------- keys, answers */

/*
 * Key names (sp_kv adds the deployment's prefix to a script's keys); the
 * scripts build session keys themselves, from the prefixed session_prefix.
 */
struct user_keys {
	char live[SP_KEY_MAX];    /* sorted set of session ids */
	char devices[SP_KEY_MAX]; /* set of device ids */
};

static void user_keys(struct user_keys *k, long long uid)
{
	sp_key_stream_user(k->live, sizeof k->live, uid);
	sp_key_stream_devices(k->devices, sizeof k->devices, uid);
}

static void session_prefix(char out[SP_KEY_MAX])
{
	snprintf(out, SP_KEY_MAX, "%s%s", sp_kv_prefix(), SP_KEY_STREAM_SESSION_PREFIX);
}

/* Element i of an answer as a string, "" when it is not one. */
static const char *str_at(const sp_kv_result *res, size_t i)
{
	const char *v = sp_kv_str_at(res, i, NULL);

	return v ? v : "";
}

/* A script's answer when it is a non-empty array, else NULL (anything else is freed). */
static sp_kv_result *array_or_null(sp_kv_result *res)
{
	if (sp_kv_failed(res) || sp_kv_count(res) < 1) {
		sp_kv_free(res);
		res = NULL;
	}
	return res;
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
static sp_session *sessions_from(const sp_kv_result *res, size_t first, size_t *n)
{
	size_t total = sp_kv_count(res);
	size_t count = total > first ? (total - first) / LF_COUNT : 0;
	sp_session *out = sp_xcalloc(count ? count : 1, sizeof *out);

	for (size_t i = 0; i < count; i++) {
		size_t b = first + i * LF_COUNT;
		sp_session *s = &out[i];
		snprintf(s->id, sizeof s->id, "%s", str_at(res, b + LF_ID));
		sp_utf8_copy(s->device_name, sizeof s->device_name, str_at(res, b + LF_NAME));
		s->started_ms = strtoll(str_at(res, b + LF_STARTED), NULL, 10);
		s->content_id = strtoll(str_at(res, b + LF_CONTENT), NULL, 10);
		snprintf(s->device_id, sizeof s->device_id, "%s", str_at(res, b + LF_DEVICE));
		s->quality = atoi(str_at(res, b + LF_QUALITY));
		s->last_ms = strtoll(str_at(res, b + LF_LAST), NULL, 10);
		sp_utf8_copy(s->device_type, sizeof s->device_type, str_at(res, b + LF_TYPE));
		s->position = strtol(str_at(res, b + LF_POSITION), NULL, 10);
	}
	qsort(out, count, sizeof *out, cmp_started);
	*n = count;
	return out;
}

/* A script run for its effect only: 0 when Redis ran it. */
static int run_only(sp_kv_result *res)
{
	int rc = sp_kv_failed(res) ? -1 : 0;

	sp_kv_free(res);
	return rc;
}

/* ---------------------------------------------------------------- sessions */

enum sp_stream_kv_start sp_stream_kv_start(const sp_level *l, const sp_session *s,
                                           char replaced[33], int *current, sp_session **live,
                                           size_t *n_live)
{
	struct user_keys uk;
	char hkey[SP_KEY_MAX], prefix[SP_KEY_MAX];
	char a_uid[24], a_cid[24], a_q[8], a_now[24], a_stale[24], a_max[8], a_dev[8], a_ttl[24],
	    a_cap[16];
	enum sp_stream_kv_start rc;
	sp_kv_result *res;

	user_keys(&uk, s->user_id);
	sp_key_stream_session(hkey, sizeof hkey, s->id);
	session_prefix(prefix);
	snprintf(a_uid, sizeof a_uid, "%lld", s->user_id);
	snprintf(a_cid, sizeof a_cid, "%lld", s->content_id);
	snprintf(a_q, sizeof a_q, "%d", s->quality);
	snprintf(a_now, sizeof a_now, "%lld", (long long)s->started_ms);
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	snprintf(a_max, sizeof a_max, "%d", l->max_streams);
	snprintf(a_dev, sizeof a_dev, "%d", l->max_devices);
	snprintf(a_ttl, sizeof a_ttl, "%lld", ttl_s());
	snprintf(a_cap, sizeof a_cap, "%d", s->max_quality);
	/* KEYS: live set, device set, new session; then ARGV 1..14 as the script reads them */
	const char *keys[] = {uk.live, uk.devices, hkey};
	const char *args[] = {s->id, a_uid,  s->device_id, s->device_name, s->device_type,
	                      a_cid, a_q,    a_now,        a_stale,        a_max,
	                      a_dev, prefix, a_ttl,        a_cap};

	res = array_or_null(sp_kv_run(&start_script, 3, keys, 14, args));
	if (res == NULL)
		return SP_STREAM_KV_START_DOWN;
	if (strcmp(str_at(res, 0), "NODEV") == 0) {
		rc = SP_STREAM_KV_NODEV;
	} else if (strcmp(str_at(res, 0), "DEVICE_LIMIT") == 0) {
		rc = SP_STREAM_KV_DEVICE_LIMIT;
	} else if (strcmp(str_at(res, 0), "LIMIT") == 0) {
		*live = sessions_from(res, 1, n_live);
		rc = SP_STREAM_KV_LIMIT;
	} else {
		snprintf(replaced, 33, "%s", str_at(res, 1));
		*current = atoi(str_at(res, 2));
		rc = SP_STREAM_KV_ADMITTED;
	}
	sp_kv_free(res);
	return rc;
}

void sp_stream_hb_step(long long uid, const char *sid, long position, sp_step *s)
{
	s->kind = SP_STEP_HEARTBEAT;
	s->nkeys = 2;
	s->nargs = 7;
	sp_key_stream_user(s->keys[0], sizeof s->keys[0], uid);
	sp_key_stream_session(s->keys[1], sizeof s->keys[1], sid);
	snprintf(s->args[0], sizeof s->args[0], "%s", sid);
	snprintf(s->args[1], sizeof s->args[1], "%lld", uid);
	snprintf(s->args[2], sizeof s->args[2], "%lld", (long long)sp_now_ms());
	snprintf(s->args[3], sizeof s->args[3], "%lld", stale_ms());
	snprintf(s->args[4], sizeof s->args[4], "%ld", position);
	snprintf(s->args[5], sizeof s->args[5], "%lld", db_every_ms());
	snprintf(s->args[6], sizeof s->args[6], "%lld", ttl_s());
}

enum sp_stream_kv_answer sp_stream_kv_heartbeat(long long uid, const char *sid, long position,
                                                int cap, long long *due)
{
	sp_step s;
	const char *kv[2] = {s.keys[0], s.keys[1]};
	const char *av[8];
	char a_cap[16] = "";
	enum sp_stream_kv_answer answer;
	sp_kv_result *res;

	sp_stream_hb_step(uid, sid, position, &s);
	for (int i = 0; i < 7; i++)
		av[i] = s.args[i];
	if (cap >= 0)
		snprintf(a_cap, sizeof a_cap, "%d", cap);
	av[7] = a_cap;
	res = array_or_null(sp_kv_run(&heartbeat_script, 2, kv, 8, av));
	if (res == NULL)
		return SP_STREAM_KV_DOWN;
	answer = answer_of(str_at(res, 0));
	*due = strtoll(str_at(res, 1), NULL, 10);
	sp_kv_free(res);
	return answer;
}

enum sp_stream_kv_answer sp_stream_kv_stop(long long uid, const char *sid)
{
	struct user_keys uk;
	char hkey[SP_KEY_MAX], a_uid[24];
	enum sp_stream_kv_answer answer;
	sp_kv_result *res;

	user_keys(&uk, uid);
	sp_key_stream_session(hkey, sizeof hkey, sid);
	snprintf(a_uid, sizeof a_uid, "%lld", uid);
	const char *keys[] = {uk.live, hkey};
	const char *args[] = {sid, a_uid};
	res = sp_kv_run(&stop_script, 2, keys, 2, args);
	if (res == NULL)
		return SP_STREAM_KV_DOWN;
	/* an error answer means Redis answered: the session is not known to be held there */
	answer = sp_kv_failed(res) ? SP_STREAM_KV_UNKNOWN : answer_of(str_at(res, 0));
	sp_kv_free(res);
	return answer;
}

int sp_stream_kv_list(long long uid, sp_session **out, size_t *n)
{
	struct user_keys uk;
	char prefix[SP_KEY_MAX], a_now[24], a_stale[24];
	sp_kv_result *res;

	user_keys(&uk, uid);
	session_prefix(prefix);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *keys[] = {uk.live};
	const char *args[] = {a_now, a_stale, prefix};
	res = sp_kv_run(&list_script, 1, keys, 3, args);
	/* an empty array is an answer (no sessions), unlike in array_or_null */
	if (sp_kv_failed(res)) {
		sp_kv_free(res);
		return -1;
	}
	*out = sessions_from(res, 0, n);
	for (size_t i = 0; i < *n; i++)
		(*out)[i].user_id = uid;
	sp_kv_free(res);
	return 0;
}

int sp_stream_kv_set_cap(long long uid, const char *sid, int cap)
{
	char hkey[SP_KEY_MAX], a_uid[24], a_cap[16];
	sp_kv_result *res;
	long long moved;

	sp_key_stream_session(hkey, sizeof hkey, sid);
	snprintf(a_uid, sizeof a_uid, "%lld", uid);
	snprintf(a_cap, sizeof a_cap, "%d", cap);
	const char *keys[] = {hkey};
	const char *args[] = {a_uid, a_cap};
	res = sp_kv_run(&cap_script, 1, keys, 2, args);
	moved = sp_kv_int(res, -1);
	sp_kv_free(res);
	return moved < 0 ? -1 : moved == 1;
}

int sp_stream_kv_is_live(const char *sid, int *cap)
{
	char hkey[SP_KEY_MAX], a_now[24], a_stale[24];
	sp_kv_result *res;
	long long live;

	sp_key_stream_session(hkey, sizeof hkey, sid);
	snprintf(a_now, sizeof a_now, "%lld", (long long)sp_now_ms());
	snprintf(a_stale, sizeof a_stale, "%lld", stale_ms());
	const char *keys[] = {hkey};
	const char *args[] = {a_now, a_stale};
	res = sp_kv_run(&live_script, 1, keys, 2, args);
	live = sp_kv_int(res, -1);
	sp_kv_free(res);
	if (live < 0)
		return -1;
	if (live < LIVE_BASE - 1)
		return 0;
	*cap = (int)(live - LIVE_BASE);
	return 1;
}

/* ---------------------------------------------------------------- rebuilding from MariaDB */

void sp_stream_forget_devices(long long uid)
{
	char dkey[SP_KEY_MAX];

	sp_key_stream_devices(dkey, sizeof dkey, uid);
	sp_kv_del(dkey, NULL);
}

/* The fields replace_script reads per session, in its order. */
enum replace_field {
	RF_ID,
	RF_CONTENT,
	RF_DEVICE,
	RF_NAME,
	RF_TYPE,
	RF_QUALITY,
	RF_STARTED,
	RF_LAST,
	RF_POSITION,
	RF_CAP,
	RF_COUNT
};
#define RF_HEAD 3 /* session prefix, ttl, user */

int sp_stream_kv_replace_user(long long uid, const sp_session *live, size_t n)
{
	struct user_keys uk;
	char prefix[SP_KEY_MAX], a_ttl[24], a_uid[24];
	char(*num)[RF_COUNT][24] = sp_xcalloc(n ? n : 1, sizeof *num);
	const char **args = sp_xcalloc(RF_HEAD + n * RF_COUNT, sizeof *args);
	int rc;

	user_keys(&uk, uid);
	session_prefix(prefix);
	snprintf(a_ttl, sizeof a_ttl, "%lld", ttl_s());
	snprintf(a_uid, sizeof a_uid, "%lld", uid);
	args[0] = prefix;
	args[1] = a_ttl;
	args[2] = a_uid;
	for (size_t i = 0; i < n; i++) {
		const sp_session *s = &live[i];
		char(*v)[24] = num[i];
		const char **a = args + RF_HEAD + i * RF_COUNT;
		snprintf(v[RF_CONTENT], 24, "%lld", s->content_id);
		snprintf(v[RF_QUALITY], 24, "%d", s->quality);
		snprintf(v[RF_STARTED], 24, "%lld", (long long)s->started_ms);
		snprintf(v[RF_LAST], 24, "%lld", (long long)s->last_ms);
		snprintf(v[RF_POSITION], 24, "%ld", s->position);
		snprintf(v[RF_CAP], 24, "%d", s->max_quality);
		a[RF_ID] = s->id;
		a[RF_CONTENT] = v[RF_CONTENT];
		a[RF_DEVICE] = s->device_id;
		a[RF_NAME] = s->device_name;
		a[RF_TYPE] = s->device_type;
		a[RF_QUALITY] = v[RF_QUALITY];
		a[RF_STARTED] = v[RF_STARTED];
		a[RF_LAST] = v[RF_LAST];
		a[RF_POSITION] = v[RF_POSITION];
		a[RF_CAP] = v[RF_CAP];
	}
	const char *keys[] = {uk.live, uk.devices};
	rc = run_only(sp_kv_run(&replace_script, 2, keys, (int)(RF_HEAD + n * RF_COUNT), args));
	free(args);
	free(num);
	return rc;
}

int sp_stream_kv_put_devices(long long uid, const sp_stream_device *dev, size_t n)
{
	char dkey[SP_KEY_MAX], a_ttl[24];
	const char **args = sp_xcalloc(n + 2, sizeof *args);
	int rc;

	sp_key_stream_devices(dkey, sizeof dkey, uid);
	snprintf(a_ttl, sizeof a_ttl, "%d", DEVICES_TTL_S);
	args[0] = a_ttl;
	args[1] = DEV_SENTINEL;
	for (size_t i = 0; i < n; i++)
		args[2 + i] = dev[i].id;
	const char *keys[] = {dkey};
	rc = run_only(sp_kv_run(&devices_script, 1, keys, (int)n + 2, args));
	free(args);
	return rc;
}

int sp_stream_kv_mark_boot(void)
{
	return sp_kv_set(SP_KEY_STREAM_BOOT, "1", 1, 0, SP_KV_NX);
}

/* ---------------------------------------------------------------- sweep */

void sp_stream_kv_sweep(int64_t now_ms)
{
	char pattern[SP_KEY_MAX], prefix[SP_KEY_MAX], cutoff[24];
	char cursor[32] = "0";
	sp_kv_result *res;

	snprintf(pattern, sizeof pattern, "%s%s", sp_kv_prefix(), SP_KEY_STREAM_USER_PATTERN);
	session_prefix(prefix);
	snprintf(cutoff, sizeof cutoff, "%lld", (long long)(now_ms - stale_ms()));
	do {
		const char *args[] = {cursor, pattern, "500", cutoff, prefix};
		res = array_or_null(sp_kv_run(&sweep_script, 0, NULL, 5, args));
		if (res == NULL)
			return;
		snprintf(cursor, sizeof cursor, "%s", str_at(res, 0));
		sp_kv_free(res);
	} while (strcmp(cursor, "0") != 0 && cursor[0] != '\0');
}
