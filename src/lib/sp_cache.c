/*
 * Cache-aside helpers over Redis: values with a TTL, grouped so that one
 * write can drop every cached page of a group (e.g. all plan listings),
 * whose callers count hits and misses with sp_metrics_cache_lookup; and
 * the process-local copies of one group, validated by the group's version.
 */
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The value and its membership of the group's key set are written together,
 * so a group drop can never miss a key that was just filled; the set lives
 * as long as its longest-lived member. With an expected version (ARGV[3])
 * nothing is written once the group has moved on.
 */
static sp_kv_script put_script = {
    "cache_put",
    "if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))\n"
    "redis.call('SADD', KEYS[2], KEYS[1])\n"
    "if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) + 60 then\n"
    "  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]) + 60)\n"
    "end\n"
    "return 1\n",
    ""};

static sp_kv_script drop_script = {"cache_drop",
                                   SP_CACHE_VER_LUA
                                   "local keys = redis.call('SMEMBERS', KEYS[1])\n"
                                   "for i = 1, #keys do redis.call('DEL', keys[i]) end\n"
                                   "redis.call('DEL', KEYS[1])\n"
                                   "newver(KEYS[2], KEYS[3])\n"
                                   "return #keys\n",
                                   ""};

static sp_kv_script gen_read_script = {"cache_gen_read",
                                       "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
                                       "  redis.call('SET', KEYS[1], '1', 'EX', " SP_CACHE_GEN_TTL
                                       ")\n"
                                       "end\n"
                                       "return {redis.call('GET', KEYS[1])}\n",
                                       ""};

/* KEYS: the value, the owner's generation, the group's version; ARGV: value, ttl, gen, ver. */
static sp_kv_script gen_put_script = {"cache_gen_put",
                                      "if redis.call('GET', KEYS[2]) ~= ARGV[3] or "
                                      "redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end\n"
                                      "redis.call('SET', KEYS[1], ARGV[1], 'EX', "
                                      "tonumber(ARGV[2]))\n"
                                      "return 1\n",
                                      ""};

/* KEYS: the owner's generation, the group's version; ARGV: the entries (sp_cache_gen_name). */
static sp_kv_script gen_drop_script = {"cache_gen_drop",
                                       SP_CACHE_GEN_DROP_LUA "gen_drop(KEYS[1], KEYS[2], ARGV)\n"
                                                             "return 1\n",
                                       ""};

static const char *local_group;
static char local_ver[64]; /* the version every local copy belongs to */
static char req_group[32]; /* the group whose version this request's gate read */
static char req_ver[64];   /* that version, "" none */
static size_t local_bytes; /* bytes held by the copies */

void sp_cache_put(const char *group, const char *key, const char *value, long ttl)
{
	char full[SP_KEY_MAX], members[SP_KEY_MAX], ver[SP_KEY_MAX], t[24];
	char expect[sizeof req_ver] = "";
	const char *keys[3], *args[3], *vp = strstr(key, "{V}");
	int mine = req_ver[0] && strcmp(group, req_group) == 0;
	int local = mine && local_group && strcmp(group, local_group) == 0;
	sp_kv_result *res;

	if (vp) {
		/* a versioned key needs the version read in this request */
		if (!mine)
			return;
		if (snprintf(full, sizeof full, "%.*s%s%s", (int)(vp - key), key, req_ver,
		             vp + 3) >= (int)sizeof full)
			return;
		key = full;
	}
	/* copied now: a reconnect inside the call below may clear req_ver */
	if (mine)
		snprintf(expect, sizeof expect, "%s", req_ver);
	sp_key_group_members(members, sizeof members, group);
	sp_key_group_version(ver, sizeof ver, group);
	snprintf(t, sizeof t, "%ld", ttl);
	keys[0] = key;
	keys[1] = members;
	keys[2] = ver;
	args[0] = value;
	args[1] = t;
	args[2] = expect;
	res = sp_kv_run(&put_script, 3, keys, 3, args);
	if (sp_kv_int(res, 0) == 1 && local)
		sp_cache_local_store(key, value, strlen(value), (long long)ttl * 1000);
	sp_kv_free(res);
}

int sp_cache_gen_read(const char *genkey, char *out, size_t n)
{
	sp_kv_result *res = sp_kv_run(&gen_read_script, 1, &genkey, 0, NULL);
	const char *g = res && !sp_kv_failed(res) ? sp_kv_str_at(res, 0, NULL) : NULL;
	int rc = g ? 0 : -1;

	snprintf(out, n, "%s", g ? g : "");
	sp_kv_free(res);
	return rc;
}

void sp_cache_gen_put(const char *group, const char *genkey, const char *gen, const char *key,
                      const char *value, long ttl)
{
	char full[SP_KEY_MAX], ver[SP_KEY_MAX], expect[sizeof req_ver], t[24];
	const char *keys[3] = {full, genkey, ver}, *args[4] = {value, t, gen, expect};
	const char *vp = strstr(key, "{V}");

	/* only under the version the gate read in this request, and only if still current */
	if (gen == NULL || gen[0] == '\0' || vp == NULL || req_ver[0] == '\0' ||
	    strcmp(group, req_group) != 0)
		return;
	snprintf(expect, sizeof expect, "%s", req_ver);
	if (snprintf(full, sizeof full, "%.*s%s%s", (int)(vp - key), key, expect, vp + 3) >=
	    (int)sizeof full)
		return;
	sp_key_group_version(ver, sizeof ver, group);
	snprintf(t, sizeof t, "%ld", ttl);
	sp_kv_free(sp_kv_run(&gen_put_script, 3, keys, 4, args));
}

void sp_cache_gen_name(const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s%s", sp_kv_prefix(), key);
}

int sp_cache_gen_drop(const char *genkey, const char *group, const char *const *keys, size_t n)
{
	char ver[SP_KEY_MAX], names[4][SP_KEY_MAX];
	const char *k[2] = {genkey, ver}, *args[4];
	sp_kv_result *res;
	int rc;

	if (n > 4)
		return -1;
	sp_key_group_version(ver, sizeof ver, group);
	for (size_t i = 0; i < n; i++) {
		sp_cache_gen_name(keys[i], names[i], sizeof names[i]);
		args[i] = names[i];
	}
	res = sp_kv_run(&gen_drop_script, 2, k, (int)n, args);
	rc = res && !sp_kv_failed(res) ? 0 : -1;
	sp_kv_free(res);
	return rc;
}

int sp_cache_drop_group(const char *group)
{
	char members[SP_KEY_MAX], ver[SP_KEY_MAX], seq[SP_KEY_MAX];
	const char *keys[3] = {members, ver, seq};
	sp_kv_result *res;

	sp_key_group_members(members, sizeof members, group);
	sp_key_group_version(ver, sizeof ver, group);
	sp_key_group_counter(seq, sizeof seq, group);
	res = sp_kv_run(&drop_script, 3, keys, 0, NULL);
	if (local_group && strcmp(group, local_group) == 0) {
		/* this process's copies go at once; the others' on their next version check */
		sp_cache_local_clear();
	}
	if (strcmp(group, req_group) == 0)
		req_ver[0] = '\0';
	if (res == NULL)
		return -1;
	sp_kv_free(res);
	return 0;
}

static const char *groups[8];
static int n_groups;

/*
 * The first registration also registers the resync: a program that caches
 * nothing has nothing to drop after a reconnect.
 */
void sp_cache_register_group(const char *group)
{
	if (n_groups < 8)
		groups[n_groups++] = group;
	sp_kv_on_connect(sp_cache_resync);
}

void sp_cache_resync(void)
{
	for (int i = 0; i < n_groups; i++)
		sp_cache_drop_group(groups[i]);
}

/* ---------------------------------------------------------------- local copies */

/*
 * A small set-associative table: a key hashes to one set of WAYS entries,
 * the least recently used of which makes room. Bytes are bounded by
 * cache.local_bytes; a store that would pass it drops every copy first.
 */
#define SETS 128
#define WAYS 4

struct copy {
	char *key;
	char *val;
	size_t len;
	long long expires_ms;
	unsigned long long used;
};

static struct copy table[SETS][WAYS];
static unsigned long long tick;

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SETS;
}

static void copy_free(struct copy *c)
{
	local_bytes -= c->len;
	free(c->key);
	free(c->val);
	memset(c, 0, sizeof *c);
}

void sp_cache_local(const char *group)
{
	local_group = sp_cfg.cache_local_bytes > 0 ? group : NULL;
}

const char *sp_cache_local_group(void)
{
	return local_group;
}

const char *sp_cache_local_version(void)
{
	return local_ver;
}

void sp_cache_local_clear(void)
{
	for (int i = 0; i < SETS; i++)
		for (int j = 0; j < WAYS; j++)
			if (table[i][j].key)
				copy_free(&table[i][j]);
	local_ver[0] = '\0';
}

const char *sp_cache_local_get(const char *key, size_t *len)
{
	struct copy *set = table[hash(key)];
	long long now = sp_now_ms();

	for (int j = 0; j < WAYS; j++) {
		if (set[j].key == NULL || strcmp(set[j].key, key) != 0)
			continue;
		if (set[j].expires_ms <= now) {
			copy_free(&set[j]);
			return NULL;
		}
		set[j].used = ++tick;
		*len = set[j].len;
		return set[j].val;
	}
	return NULL;
}

void sp_cache_seen(const char *group, const char *ver, size_t len)
{
	if (len == 0 || len >= sizeof req_ver || strlen(group) >= sizeof req_group) {
		req_ver[0] = req_group[0] = '\0';
		return;
	}
	memcpy(req_ver, ver, len);
	req_ver[len] = '\0';
	snprintf(req_group, sizeof req_group, "%s", group);
	if (local_group && strcmp(group, local_group) == 0 && strcmp(req_ver, local_ver) != 0) {
		sp_cache_local_clear();
		memcpy(local_ver, req_ver, len + 1);
	}
}

void sp_cache_local_store(const char *key, const char *val, size_t len, long long ttl_ms)
{
	struct copy *set, *c = NULL;

	if (local_group == NULL || req_ver[0] == '\0' || strcmp(req_group, local_group) != 0 ||
	    strcmp(req_ver, local_ver) != 0 || ttl_ms <= 0 ||
	    len > (size_t)sp_cfg.cache_local_bytes / 8)
		return;
	if (local_bytes + len > (size_t)sp_cfg.cache_local_bytes) {
		char keep[sizeof local_ver];
		memcpy(keep, local_ver, sizeof keep);
		sp_cache_local_clear();
		memcpy(local_ver, keep, sizeof keep);
	}
	set = table[hash(key)];
	for (int j = 0; j < WAYS && c == NULL; j++)
		if (set[j].key && strcmp(set[j].key, key) == 0)
			c = &set[j];
	for (int j = 0; j < WAYS && c == NULL; j++)
		if (set[j].key == NULL)
			c = &set[j];
	if (c == NULL) {
		c = &set[0];
		for (int j = 1; j < WAYS; j++)
			if (set[j].used < c->used)
				c = &set[j];
	}
	if (c->key)
		copy_free(c);
	c->key = sp_xstrdup(key);
	c->val = sp_xstrndup(val, len);
	c->len = len;
	c->expires_ms = sp_now_ms() + ttl_ms;
	c->used = ++tick;
	local_bytes += len;
}

void sp_cache_req_begin(void)
{
	req_ver[0] = req_group[0] = '\0';
}
