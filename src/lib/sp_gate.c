/*
 * The per-request gate: rate limits, token revocation, token version and one
 * prefetched cache value, answered by a single Redis round trip.
 */
#include "sp_gate.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_stream.h"
#include "sp_tier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One script, so that counting and the token checks cost one round trip.
 * Each counter is a fixed window: the key carries the window number and
 * expires with it, INCR is atomic, so concurrent processes never lose a
 * count. KEYS: n counters; for a token holder the jti deny mark, the chain
 * deny mark, the token version and the cached level; then the route's
 * prefetch key, if any. A prefetch key may hold "{L}", replaced here by the
 * level digit of the cached level (a per-level page), or skipped if unknown.
 * When the key belongs to the program's local cache group, its version and
 * version-counter keys follow it, and the answer is three values: "=" when
 * the caller's copy (of the version it named, flagged in the have string at
 * 1 + level digit, or 1 for a key without "{L}") is current, else the value
 * ("" none); the group's version (made if missing); the value's PTTL.
 * ARGV: n, count (1) or peek (0), token part (1/0), prefetch (1/0), then
 * limit and window per counter, the token's version, local (1/0), the
 * copies' version, the have string, and "1" with 7 arguments when the
 * route's step (a heartbeat) is to run once the request is found allowed;
 * its 2 keys are the last KEYS. Nothing of the step runs for a limited,
 * revoked or outdated token, or a version not cached.
 */
static sp_kv_script gate_script = {
    "gate",
    SP_STREAM_HB_LUA SP_CACHE_VER_LUA
    "local n = tonumber(ARGV[1])\n"
    "local out = {}\n"
    "for i = 1, n do\n"
    "  local c\n"
    "  if ARGV[2] == '1' then\n"
    "    c = redis.call('INCR', KEYS[i])\n"
    "    if c == 1 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4 + 2 * i])) end\n"
    "  else\n"
    "    c = tonumber(redis.call('GET', KEYS[i]) or '0')\n"
    "  end\n"
    "  out[i] = c\n"
    "end\n"
    "local k = n\n"
    "local lvl = ''\n"
    "if ARGV[3] == '1' then\n"
    "  out[k + 1] = redis.call('EXISTS', KEYS[k + 1])\n"
    "  out[k + 2] = redis.call('EXISTS', KEYS[k + 2])\n"
    "  out[k + 3] = redis.call('GET', KEYS[k + 3]) or ''\n"
    "  lvl = redis.call('GET', KEYS[k + 4]) or ''\n"
    "  out[k + 4] = lvl\n"
    "  k = k + 4\n"
    "end\n"
    "local base = 4 + 2 * n\n"
    "if ARGV[4] == '1' then\n"
    "  local key = KEYS[k + 1]\n"
    "  local hi = 1\n"
    "  if string.find(key, '{L}', 1, true) then\n"
    "    local lv = string.match(lvl, '^L1|(%d)|')\n"
    "    if lv then key = string.gsub(key, '{L}', lv); hi = tonumber(lv) + 1 else key = nil end\n"
    "  end\n"
    "  if ARGV[base + 2] == '1' then\n"
    "    local ver = redis.call('GET', KEYS[k + 2]) or newver(KEYS[k + 2], KEYS[k + 3])\n"
    "    local v, ttl = '', 0\n"
    "    if key then\n"
    "      key = string.gsub(key, '{V}', ver)\n"
    "      if ver == ARGV[base + 3] and string.sub(ARGV[base + 4], hi, hi) == '1' then\n"
    "        v = '='\n"
    "      else\n"
    "        v = redis.call('GET', key) or ''\n"
    "        if v ~= '' then ttl = redis.call('PTTL', key) end\n"
    "      end\n"
    "    end\n"
    "    out[k + 1] = v\n"
    "    out[k + 2] = ver\n"
    "    out[k + 3] = ttl\n"
    "  elseif key then\n"
    "    out[k + 1] = redis.call('GET', key) or ''\n"
    "  else\n"
    "    out[k + 1] = ''\n"
    "  end\n"
    "end\n"
    "if ARGV[base + 5] == '1' then\n"
    "  local ok = ARGV[3] == '1' and out[n + 1] == 0 and out[n + 2] == 0 and\n"
    "             out[n + 3] == ARGV[base + 1]\n"
    "  for i = 1, n do if out[i] > tonumber(ARGV[3 + 2 * i]) then ok = false end end\n"
    "  if ok then\n"
    "    local a = base + 5\n"
    "    local r = hb(KEYS[#KEYS - 1], KEYS[#KEYS], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],\n"
    "                 ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7])\n"
    "    out[#out + 1] = r[1]\n"
    "    out[#out + 1] = r[2] or '0'\n"
    "  end\n"
    "end\n"
    "return out\n",
    ""};

struct rule {
	const char *name;
	const sp_rate_rule *rule;
	char subject[80];
	long long reset;
	long long count;
	char key[192];
};

static int collect_rules(sp_req *r, const sp_route *route, const sp_claims *claims,
                         struct rule *rules)
{
	int n = 0;
	char who[80];

	if (claims)
		snprintf(who, sizeof who, "u:%lld", claims->uid);
	else
		snprintf(who, sizeof who, "ip:%s", r->client_key);
	rules[n].name = claims ? "user" : "anon";
	rules[n].rule = claims ? &sp_cfg.rl_authenticated : &sp_cfg.rl_anonymous;
	snprintf(rules[n].subject, sizeof rules[n].subject, "%s", who);
	n++;
	if (route && (route->flags & SP_RL_AUTH)) {
		rules[n].name = "auth";
		rules[n].rule = &sp_cfg.rl_auth;
		snprintf(rules[n].subject, sizeof rules[n].subject, "ip:%s", r->client_key);
		n++;
	}
	if (route && (route->flags & SP_RL_STREAM)) {
		rules[n].name = "stream";
		rules[n].rule = &sp_cfg.rl_stream;
		snprintf(rules[n].subject, sizeof rules[n].subject, "%s", who);
		n++;
	}
	if (route && (route->flags & SP_RL_SEARCH) && sp_query(r, "search")) {
		rules[n].name = "search";
		rules[n].rule = &sp_cfg.rl_search;
		snprintf(rules[n].subject, sizeof rules[n].subject, "%s", who);
		n++;
	}
	return n;
}

/* Replaces the first "{X}" of src in place by val; -1 if it does not fit. */
static int fill(char *s, size_t n, const char *ph, const char *val)
{
	char tmp[256];
	char *p = strstr(s, ph);

	if (p == NULL)
		return 0;
	if (snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(p - s), s, val, p + 3) >= (int)sizeof tmp ||
	    strlen(tmp) >= n)
		return -1;
	memcpy(s, tmp, strlen(tmp) + 1);
	return 0;
}

/* key with "{L}" replaced by the level digit d and "{V}" by ver; -1 if too long */
static int resolve(const char *key, char d, const char *ver, char *out, size_t n)
{
	char lv[2] = {d, '\0'};

	if (snprintf(out, n, "%s", key) >= (int)n)
		return -1;
	return fill(out, n, "{L}", lv) != 0 || fill(out, n, "{V}", ver) != 0 ? -1 : 0;
}

/* Which of the prefetch key's per-level pages this process holds a copy of. */
static void local_have(const char *key, char *have, size_t n)
{
	const char *ver = sp_cache_local_version();
	char k[200];
	size_t len;
	int levels = strstr(key, "{L}") ? SP_LEVEL_ULTIMATE + 1 : 1;

	have[0] = '\0';
	for (int d = 0; d < levels && (size_t)d + 1 < n; d++) {
		have[d] = ver[0] && resolve(key, (char)('0' + d), ver, k, sizeof k) == 0 &&
		                  sp_cache_local_get(k, &len)
		              ? '1'
		              : '0';
		have[d + 1] = '\0';
	}
}

/*
 * The versioned part of the gate's answer: the group's version (for the
 * program's local group, copies of any other are dropped), then "=" (use
 * this process's copy) or the value, kept as a copy of the local group until
 * the Redis value itself expires.
 */
static void versioned_answer(sp_req *r, const char *key, const char *group, int local,
                             const redisReply *val, const redisReply *ver, const redisReply *ttl)
{
	char k[200], d = '0', v[64];
	const char *copy;
	size_t len;

	if (ver->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
	    ver->len >= sizeof v)
		return;
	memcpy(v, ver->str, ver->len);
	v[ver->len] = '\0';
	sp_cache_seen(group, v, ver->len);
	if (val->len == 0)
		return;
	if (strstr(key, "{L}")) {
		if (r->level_cached == NULL || strncmp(r->level_cached, "L1|", 3) != 0)
			return;
		d = r->level_cached[3];
	}
	if (resolve(key, d, v, k, sizeof k) != 0)
		return;
	if (val->len == 1 && val->str[0] == '=') {
		copy = local ? sp_cache_local_get(k, &len) : NULL;
		if (copy) {
			r->prefetched = sp_xstrndup(copy, len);
			r->prefetched_local = 1;
		}
		return;
	}
	r->prefetched = sp_xstrndup(val->str, val->len);
	if (local && ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0)
		sp_cache_local_store(k, val->str, val->len, ttl->integer);
}

/* Token version, activity and revocation marks straight from MariaDB. */
static int check_token_db(sp_req *r, const sp_claims *c, int check_marks, long *tv_out)
{
	sp_res res;
	int ok;

	if (sp_db_query(&res,
	                "SELECT u.token_version, u.is_active, "
	                "EXISTS(SELECT 1 FROM revoked_access_tokens t WHERE t.jti = ?), "
	                "EXISTS(SELECT 1 FROM refresh_chains c WHERE c.id = ? AND c.revoked_at IS "
	                "NOT NULL) FROM users u WHERE u.id = ?",
	                "ssl", c->jti, c->sid, c->uid) != 0) {
		sp_fail_unavailable(r);
		return -1;
	}
	ok = res.nrows == 1 && sp_res_ll(&res, 0, 1, 0) == 1;
	if (ok)
		*tv_out = (long)sp_res_ll(&res, 0, 0, -1);
	if (ok && check_marks && (sp_res_ll(&res, 0, 2, 0) || sp_res_ll(&res, 0, 3, 0)))
		ok = 0;
	sp_res_free(&res);
	if (!ok) {
		sp_fail(r, 401, "UNAUTHORIZED", "Token is invalid or has been revoked");
		return -1;
	}
	return 0;
}

static void set_headers(sp_req *r, struct rule *rules, int n, int blocked)
{
	int pick = blocked >= 0 ? blocked : 0;

	for (int i = 0; blocked < 0 && i < n; i++) {
		long rem_i = rules[i].rule->limit - (long)rules[i].count;
		long rem_p = rules[pick].rule->limit - (long)rules[pick].count;
		if (rem_i < rem_p)
			pick = i;
	}
	r->rl_set = 1;
	r->rl_limit = rules[pick].rule->limit;
	r->rl_remaining = rules[pick].rule->limit - (long)rules[pick].count;
	r->rl_reset = rules[pick].reset;
}

int sp_gate(sp_req *r, const sp_route *route, const sp_claims *claims, int peek)
{
	struct rule rules[4];
	const char *argv[48];
	char step_keys[2][96], step_args[7][96], etv[24];
	int has_step = 0;
	char nbuf[8], lim[4][24], win[4][24];
	char k_jti[128], k_sid[128], k_tv[64], k_lvl[64], k_pre[192], pre[160];
	char k_ver[128], k_seq[128], have[8] = "", vgroup[32] = "";
	const char *lgroup = sp_cache_local_group();
	int versioned = 0, local = 0;
	int n = collect_rules(r, route, claims, rules);
	int argc = 0, nkeys, blocked = -1, has_pre = 0;
	long long now = sp_now_ms() / 1000;
	redisReply *rep;
	long tv = -1;
	int have_tv = 0;

	memset(argv, 0, sizeof argv);
	for (int i = 0; i < n; i++) {
		long w = rules[i].rule->window;
		long long wnd = now / w;
		rules[i].reset = (wnd + 1) * w;
		rules[i].count = 0;
		sp_kv_key(rules[i].key, sizeof rules[i].key, "rl:%s:%s:%lld", rules[i].name,
		          rules[i].subject, wnd);
		argv[argc++] = rules[i].key;
	}
	nkeys = n;
	if (claims) {
		sp_kv_key(k_jti, sizeof k_jti, "deny:jti:%s", claims->jti);
		sp_kv_key(k_sid, sizeof k_sid, "deny:sid:%s", claims->sid);
		sp_kv_key(k_tv, sizeof k_tv, "tv:%lld", claims->uid);
		sp_kv_key(k_lvl, sizeof k_lvl, "lvl:%lld", claims->uid);
		argv[argc++] = k_jti;
		argv[argc++] = k_sid;
		argv[argc++] = k_tv;
		argv[argc++] = k_lvl;
		nkeys += 4;
	}
	if (route && route->prefetch && r->in_status == 0 &&
	    route->prefetch(r, claims ? claims->uid : 0, pre, sizeof pre) == 0) {
		sp_kv_key(k_pre, sizeof k_pre, "%s", pre);
		argv[argc++] = k_pre;
		nkeys++;
		has_pre = 1;
		/* "<group>:{V}:...": keyed by the group's version, read in the same script */
		if (strstr(pre, "{V}") && strcspn(pre, ":") < sizeof vgroup) {
			snprintf(vgroup, sizeof vgroup, "%.*s", (int)strcspn(pre, ":"), pre);
			versioned = 1;
			local = lgroup && strcmp(vgroup, lgroup) == 0;
			sp_cache_group_keys(vgroup, k_ver, sizeof k_ver, k_seq, sizeof k_seq);
			argv[argc++] = k_ver;
			argv[argc++] = k_seq;
			nkeys += 2;
			if (local)
				local_have(k_pre, have, sizeof have);
		}
	}
	if (claims && route && route->step && r->in_status == 0 &&
	    route->step(r, claims->uid, step_keys, step_args) == 0) {
		argv[argc++] = step_keys[0];
		argv[argc++] = step_keys[1];
		nkeys += 2;
		has_step = 1;
	}
	snprintf(nbuf, sizeof nbuf, "%d", n);
	argv[argc++] = nbuf;
	argv[argc++] = peek ? "0" : "1";
	argv[argc++] = claims ? "1" : "0";
	argv[argc++] = has_pre ? "1" : "0";
	for (int i = 0; i < n; i++) {
		snprintf(lim[i], sizeof lim[i], "%ld", rules[i].rule->limit);
		snprintf(win[i], sizeof win[i], "%ld", rules[i].rule->window + 1);
		argv[argc++] = lim[i];
		argv[argc++] = win[i];
	}
	snprintf(etv, sizeof etv, "%ld", claims ? claims->tv : -1L);
	argv[argc++] = etv;
	argv[argc++] = versioned ? "1" : "0";
	argv[argc++] = local ? sp_cache_local_version() : "";
	argv[argc++] = have;
	argv[argc++] = has_step ? "1" : "0";
	for (int i = 0; has_step && i < 7; i++)
		argv[argc++] = step_args[i];

	rep = sp_kv_eval(&gate_script, nkeys, argc, argv, NULL);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < (size_t)n) {
		/* Redis unreachable: limits fail open (logged and counted) */
		if (rep)
			freeReplyObject(rep);
		sp_metrics_inc("sp_ratelimit_fail_open_total");
		set_headers(r, rules, n, -1);
		if (claims) {
			if (check_token_db(r, claims, 1, &tv) != 0)
				return -1;
			goto check_tv;
		}
		return 0;
	}
	for (int i = 0; i < n; i++) {
		rules[i].count =
		    rep->element[i]->type == REDIS_REPLY_INTEGER ? rep->element[i]->integer : 0;
		if (!peek && blocked < 0 && rules[i].count > rules[i].rule->limit)
			blocked = i;
	}
	set_headers(r, rules, n, blocked);
	if (blocked >= 0) {
		char ra[24];
		long long wait = rules[blocked].reset - now;
		snprintf(ra, sizeof ra, "%lld", wait > 0 ? wait : 1);
		sp_add_header(r, "Retry-After", ra);
		freeReplyObject(rep);
		sp_fail(r, 429, "RATE_LIMITED", "Too many requests; please retry later");
		return -1;
	}
	if (claims && rep->elements >= (size_t)n + 4) {
		size_t k = (size_t)n;
		redisReply *e_jti = rep->element[k], *e_sid = rep->element[k + 1];
		redisReply *e_tv = rep->element[k + 2], *e_lvl = rep->element[k + 3];
		if (e_jti->integer || e_sid->integer) {
			freeReplyObject(rep);
			sp_fail(r, 401, "UNAUTHORIZED", "Token has been revoked");
			return -1;
		}
		if (e_tv->type == REDIS_REPLY_STRING && e_tv->len > 0) {
			tv = strtol(e_tv->str, NULL, 10);
			have_tv = 1;
		}
		if (e_lvl->type == REDIS_REPLY_STRING && e_lvl->len > 0)
			r->level_cached = sp_xstrndup(e_lvl->str, e_lvl->len);
	}
	if (has_pre && versioned) {
		size_t k = (size_t)n + (claims ? 4 : 0);
		if (k + 3 <= rep->elements)
			versioned_answer(r, k_pre, vgroup, local, rep->element[k],
			                 rep->element[k + 1], rep->element[k + 2]);
	} else if (has_pre) {
		size_t k = (size_t)n + (claims ? 4 : 0);
		redisReply *e_pre = k < rep->elements ? rep->element[k] : NULL;
		if (e_pre && e_pre->type == REDIS_REPLY_STRING && e_pre->len > 0)
			r->prefetched = sp_xstrndup(e_pre->str, e_pre->len);
	}
	if (has_step) {
		size_t k = (size_t)n + (claims ? 4 : 0) + (has_pre ? (versioned ? 3 : 1) : 0);
		if (rep->elements == k + 2 && rep->element[k]->type == REDIS_REPLY_STRING) {
			r->step_done = 1;
			snprintf(r->step_status, sizeof r->step_status, "%s", rep->element[k]->str);
			r->step_due = rep->element[k + 1]->type == REDIS_REPLY_STRING &&
			              strcmp(rep->element[k + 1]->str, "1") == 0;
		}
	}
	freeReplyObject(rep);
	if (claims && !have_tv) {
		/* cache miss: the marks were checked in Redis, the version comes from MariaDB */
		if (check_token_db(r, claims, 0, &tv) != 0)
			return -1;
		sp_auth_cache_tv(claims->uid, tv, 1);
	}
check_tv:
	if (claims && tv != claims->tv) {
		sp_fail(r, 401, "UNAUTHORIZED", "Token has been revoked");
		return -1;
	}
	return 0;
}

int sp_prefetch_me(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	if (uid <= 0)
		return -1;
	snprintf(key, n, "me:%lld", uid);
	return 0;
}

int sp_prefetch_sub(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	if (uid <= 0)
		return -1;
	snprintf(key, n, "sub:%lld", uid);
	return 0;
}
