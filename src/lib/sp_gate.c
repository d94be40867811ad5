/*
 * The per-request gate: rate limits, token revocation, token version and one
 * prefetched cache value, answered by a single Redis round trip.
 * A request goes: collect (rules, prefetch, step) -> layout (KEYS, ARGV) ->
 * one script call -> read (limits, token, prefetch, step) -> MariaDB for
 * whatever Redis could not answer.
 */
#include "sp_gate_impl.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_history.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_stream.h"
#include "sp_tier.h"
#include "sp_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One script, so that counting and the token checks cost one round trip.
 * Each counter is a fixed window: the key carries the window number and
 * expires with it, INCR is atomic, so concurrent processes never lose a
 * count. The layout is named in sp_gate_impl.h: the head of ARGV says where
 * each part of KEYS starts, and each key's answer has the same index.
 *
 * A prefetch key may hold "{L}", replaced here by the catalogue scope of
 * the cached level (level_scope: the level digit, with "a<cap>" after it
 * when parental controls hide titles, so a page is per level and age cap),
 * or skipped if unknown. A versioned key ("{V}") is read under its group's
 * version (made if missing); when the caller holds a copy of that version
 * for that very scope ("have" lists the scopes held as "|2|2a13|"), the
 * answer is "=" instead of the value. The step (a heartbeat, a watch
 * position) runs only for a request found allowed: not limited, not
 * revoked, its token version cached and current; it is given the
 * prefetched value ("" none, "=" a copy this process holds) and the cached
 * level with its keys and arguments (the heartbeat takes its session's
 * rendition cap from that level).
 */
static sp_kv_script gate_script = {
    "gate",
    SP_TIER_CAP_LUA SP_TIER_SCOPE_LUA SP_STREAM_HB_LUA SP_CACHE_VER_LUA SP_CACHE_GEN_DROP_LUA
        SP_HISTORY_WP_LUA SP_GATE_LUA_HEAD
    "local out, over = {}, false\n"
    "for i = 1, counters do\n"
    "  local limit, window = ARGV[limits + 2 * i - 2], ARGV[limits + 2 * i - 1]\n"
    "  local c\n"
    "  if counting == 1 then\n"
    "    c = redis.call('INCR', KEYS[i])\n"
    "    if c == 1 then redis.call('EXPIRE', KEYS[i], tonumber(window)) end\n"
    "  else\n"
    "    c = tonumber(redis.call('GET', KEYS[i]) or '0')\n"
    "  end\n"
    "  if c > tonumber(limit) then over = true end\n"
    "  out[i] = c\n"
    "end\n"
    "local level = ''\n"
    "if token > 0 then\n"
    "  out[token] = redis.call('EXISTS', KEYS[token])\n"
    "  out[token + 1] = redis.call('EXISTS', KEYS[token + 1])\n"
    "  out[token + 2] = redis.call('GET', KEYS[token + 2]) or ''\n"
    "  level = redis.call('GET', KEYS[token + 3]) or ''\n"
    "  out[token + 3] = level\n"
    "end\n"
    "if prefetch > 0 then\n"
    "  local key, scope = KEYS[prefetch], ''\n"
    "  if string.find(key, '{L}', 1, true) then\n"
    "    scope = level_scope(level)\n"
    "    if scope then key = string.gsub(key, '{L}', scope) else key = nil end\n"
    "  end\n"
    "  if version > 0 then\n"
    "    local ver = redis.call('GET', KEYS[version]) or newver(KEYS[version], KEYS[version + 1])\n"
    "    local v, ttl = '', 0\n"
    "    if key then\n"
    "      key = string.gsub(key, '{V}', ver)\n"
    "      if ver == copies_version and string.find(have, '|' .. scope .. '|', 1, true) then\n"
    "        v = '='\n"
    "      else\n"
    "        v = redis.call('GET', key) or ''\n"
    "        if v ~= '' then ttl = redis.call('PTTL', key) end\n"
    "      end\n"
    "    end\n"
    "    out[prefetch], out[version], out[version + 1] = v, ver, ttl\n"
    "  else\n"
    "    out[prefetch] = key and redis.call('GET', key) or ''\n"
    "  end\n"
    "end\n"
    "if step > 0 and not over and token > 0 and out[token] == 0 and out[token + 1] == 0 and\n"
    "   out[token + 2] == token_version then\n"
    "  local steps = {function(_, lvl, kz, kh, sid, uid, now, stale, pos, every, ttl)\n"
    "    return hb(kz, kh, sid, uid, now, stale, pos, every, ttl, level_cap(lvl, now))\n"
    "  end, wp}\n"
    "  local a = {}\n"
    "  for i = step, #KEYS do a[#a + 1] = KEYS[i] end\n"
    "  for i = step_args, #ARGV do a[#a + 1] = ARGV[i] end\n"
    "  local r = steps[step_kind](prefetch > 0 and out[prefetch] or '', level, unpack(a))\n"
    "  out[step], out[step + 1] = r[1], r[2] or '0'\n"
    "end\n"
    "return out\n",
    ""};

/* ---------------------------------------------------------------- collect */

static void add_rule(sp_gate_call *c, const char *name, const sp_rate_rule *rule,
                     const char *subject)
{
	sp_gate_rule *x = &c->rules[c->n_rules++];

	x->name = name;
	x->rule = rule;
	snprintf(x->subject, sizeof x->subject, "%s", subject);
	x->window = c->now / rule->window;
	x->reset = (x->window + 1) * rule->window;
	x->count = 0;
}

/* Every caller counts against one general rule; a route's flags add more. */
static void collect_rules(sp_gate_call *c, sp_req *r, const sp_route *route)
{
	unsigned flags = route ? route->flags : 0;
	char who[80], ip[80];

	sp_key_subject_client(ip, sizeof ip, r->client_key);
	if (c->claims)
		sp_key_subject_user(who, sizeof who, c->claims->uid);
	else
		snprintf(who, sizeof who, "%s", ip);
	if (c->claims)
		add_rule(c, "user", &sp_cfg.rl_authenticated, who);
	else
		add_rule(c, "anon", &sp_cfg.rl_anonymous, who);
	if (flags & SP_RL_AUTH)
		add_rule(c, "auth", &sp_cfg.rl_auth, ip);
	if (flags & SP_RL_STREAM)
		add_rule(c, "stream", &sp_cfg.rl_stream, who);
	if ((flags & SP_RL_SEARCH) && sp_query(r, "search"))
		add_rule(c, "search", &sp_cfg.rl_search, who);
}

void sp_gate_collect(sp_gate_call *c, sp_req *r, const sp_route *route, const sp_claims *claims,
                     int peek, long long now_s)
{
	long long uid = claims ? claims->uid : 0;
	size_t glen;

	memset(c, 0, sizeof *c);
	c->claims = claims;
	c->peek = peek;
	c->now = now_s;
	collect_rules(c, r, route);
	/* a request whose body or input is bad fetches nothing and runs no step */
	if (r->in_status != 0)
		route = NULL;
	if (route && route->prefetch &&
	    route->prefetch(r, uid, c->prefetch, sizeof c->prefetch) != 0)
		c->prefetch[0] = '\0';
	/* "<group>:{V}:...": keyed by the group's version, read in the same script */
	glen = strcspn(c->prefetch, ":");
	if (strstr(c->prefetch, "{V}") && glen < sizeof c->group) {
		snprintf(c->group, sizeof c->group, "%.*s", (int)glen, c->prefetch);
		c->local = sp_cache_local_group() && strcmp(c->group, sp_cache_local_group()) == 0;
	}
	c->has_step = claims && route && route->step &&
	              route->step(r, claims->uid, &c->step) == 0 && c->step.nkeys >= 2 &&
	              c->step.nkeys <= SP_STEP_MAX_KEYS && c->step.nargs <= SP_STEP_MAX_ARGS;
}

/* ---------------------------------------------------------------- layout */

/* Fills "{L}" with the scope and "{V}" with ver; -1 if it does not fit. */
static int resolve(const char *key, const char *scope, const char *ver, char *out, size_t n)
{
	const char *l = strstr(key, "{L}"), *v;
	char tmp[SP_KEY_MAX];

	if (l == NULL && snprintf(tmp, sizeof tmp, "%s", key) >= (int)sizeof tmp)
		return -1;
	if (l && snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(l - key), key, scope, l + 3) >=
	             (int)sizeof tmp)
		return -1;
	v = strstr(tmp, "{V}");
	if (v == NULL)
		return snprintf(out, n, "%s", tmp) >= (int)n ? -1 : 0;
	return snprintf(out, n, "%.*s%s%s", (int)(v - tmp), tmp, ver, v + 3) >= (int)n ? -1 : 0;
}

/*
 * The age-capped scopes this process has answered pages for: a hint, so
 * that a process serving no account with parental controls checks the four
 * plain levels only, as before. A scope missing here only costs one value
 * sent again by Redis (it is then noted and its copy kept).
 */
static unsigned capped_seen[SP_LEVEL_ULTIMATE + 1];

static void note_scope(const char *scope)
{
	const char *a = strchr(scope, 'a');
	int i = a ? sp_age_index(atoi(a + 1)) : -1;

	if (i >= 0 && scope[0] >= '0' && scope[0] <= '0' + SP_LEVEL_ULTIMATE)
		capped_seen[scope[0] - '0'] |= 1u << i;
}

/* Adds "<scope>|" to have when this process holds a copy of key under that scope. */
static void have_add(const char *key, const char *scope, const char *ver, char *have, size_t n)
{
	char k[SP_KEY_MAX];
	size_t len, at = strlen(have);

	if (resolve(key, scope, ver, k, sizeof k) == 0 && sp_cache_local_get(k, &len))
		snprintf(have + at, n - at, "%s|", scope);
}

/*
 * Which of the prefetch key's pages this process holds a copy of, as
 * "|<scope>|<scope>|" ("||" for a key without "{L}" when held): the script
 * answers "=" only for the scope it finds in the caller's cached level.
 */
static void local_have(const char *key, char *have, size_t n)
{
	const char *ver = sp_cache_local_version();
	char scope[SP_SCOPE_MAX];

	snprintf(have, n, "|");
	if (ver[0] == '\0')
		return;
	if (strstr(key, "{L}") == NULL) {
		have_add(key, "", ver, have, n);
		return;
	}
	for (int d = 0; d <= SP_LEVEL_ULTIMATE; d++) {
		snprintf(scope, sizeof scope, "%d", d);
		have_add(key, scope, ver, have, n);
		for (int i = 0; i < SP_AGE_CAPS; i++) {
			if (!(capped_seen[d] & (1u << i)))
				continue;
			snprintf(scope, sizeof scope, "%da%d", d, sp_age_caps[i]);
			have_add(key, scope, ver, have, n);
		}
	}
}

/* The next key slot's text, registered in KEYS. */
static char *next_key(sp_gate_call *c)
{
	c->keys[c->nkeys] = c->key_text[c->nkeys];
	return c->key_text[c->nkeys++];
}

static void layout_keys(sp_gate_call *c)
{
	c->at_token = c->at_prefetch = c->at_version = c->at_step = -1;
	for (int i = 0; i < c->n_rules; i++)
		sp_key_rate(next_key(c), SP_KEY_MAX, c->rules[i].name, c->rules[i].subject,
		            c->rules[i].window);
	if (c->claims) {
		c->at_token = c->nkeys;
		sp_key_deny_jti(next_key(c), SP_KEY_MAX, c->claims->jti);
		sp_key_deny_chain(next_key(c), SP_KEY_MAX, c->claims->sid);
		sp_key_token_version(next_key(c), SP_KEY_MAX, c->claims->uid);
		sp_key_level(next_key(c), SP_KEY_MAX, c->claims->uid);
	}
	if (c->prefetch[0]) {
		c->at_prefetch = c->nkeys;
		snprintf(next_key(c), SP_KEY_MAX, "%s", c->prefetch);
	}
	if (c->prefetch[0] && c->group[0]) {
		c->at_version = c->nkeys;
		sp_key_group_version(next_key(c), SP_KEY_MAX, c->group);
		sp_key_group_counter(next_key(c), SP_KEY_MAX, c->group);
	}
	if (c->has_step) {
		c->at_step = c->nkeys;
		for (int i = 0; i < c->step.nkeys; i++)
			snprintf(next_key(c), SP_KEY_MAX, "%s", c->step.keys[i]);
	}
}

/* A number as the argument in slot (or, with slot -1, the next one). */
static void num_arg(sp_gate_call *c, int slot, long long v)
{
	char *t = c->num_text[c->n_num++];

	snprintf(t, sizeof c->num_text[0], "%lld", v);
	c->args[slot >= 0 ? slot : c->nargs++] = t;
}

static void layout_args(sp_gate_call *c)
{
	int limits = SP_GATE_HEAD_SIZE + 1; /* as Lua counts */

	c->nargs = SP_GATE_HEAD_SIZE;
	num_arg(c, SP_GATE_ARG_COUNTERS, c->n_rules);
	num_arg(c, SP_GATE_ARG_COUNTING, !c->peek);
	num_arg(c, SP_GATE_ARG_TOKEN, c->at_token + 1);
	num_arg(c, SP_GATE_ARG_PREFETCH, c->at_prefetch + 1);
	num_arg(c, SP_GATE_ARG_VERSION, c->at_version + 1);
	num_arg(c, SP_GATE_ARG_STEP, c->at_step + 1);
	num_arg(c, SP_GATE_ARG_LIMITS, limits);
	num_arg(c, SP_GATE_ARG_STEP_ARGS, c->has_step ? limits + 2 * c->n_rules : 0);
	num_arg(c, SP_GATE_ARG_STEP_KIND, c->has_step ? c->step.kind : 0);
	num_arg(c, SP_GATE_ARG_TOKEN_VERSION, c->claims ? c->claims->tv : -1);
	if (c->local)
		local_have(c->prefetch, c->have, sizeof c->have);
	c->args[SP_GATE_ARG_COPIES_VERSION] = c->local ? sp_cache_local_version() : "";
	c->args[SP_GATE_ARG_HAVE] = c->have;
	for (int i = 0; i < c->n_rules; i++) {
		num_arg(c, -1, c->rules[i].rule->limit);
		/* a second longer than the window, so a key never expires inside its own */
		num_arg(c, -1, c->rules[i].rule->window + 1);
	}
	for (int i = 0; c->has_step && i < c->step.nargs; i++)
		c->args[c->nargs++] = c->step.args[i];
}

void sp_gate_layout(sp_gate_call *c)
{
	c->nkeys = c->nargs = c->n_num = 0;
	layout_keys(c);
	layout_args(c);
}

/* ---------------------------------------------------------------- read */

/* The rate headers: the blocking rule's, else the rule with the least left. */
static void set_headers(sp_req *r, const sp_gate_call *c, int blocked)
{
	const sp_gate_rule *pick = &c->rules[blocked >= 0 ? blocked : 0];

	for (int i = 0; blocked < 0 && i < c->n_rules; i++)
		if (c->rules[i].rule->limit - c->rules[i].count < pick->rule->limit - pick->count)
			pick = &c->rules[i];
	r->rl_set = 1;
	r->rl_limit = pick->rule->limit;
	r->rl_remaining = pick->rule->limit - (long)pick->count;
	r->rl_reset = pick->reset;
}

static int read_limits(sp_req *r, sp_gate_call *c, const sp_kv_result *ans)
{
	int blocked = -1;
	char ra[24];

	for (int i = 0; i < c->n_rules; i++) {
		c->rules[i].count = sp_kv_int_at(ans, (size_t)i, 0);
		if (!c->peek && blocked < 0 && c->rules[i].count > c->rules[i].rule->limit)
			blocked = i;
	}
	set_headers(r, c, blocked);
	if (blocked < 0)
		return 0;
	snprintf(ra, sizeof ra, "%lld",
	         c->rules[blocked].reset > c->now ? c->rules[blocked].reset - c->now : 1);
	sp_add_header(r, "Retry-After", ra);
	sp_fail(r, 429, "RATE_LIMITED", "Too many requests; please retry later");
	return -1;
}

/*
 * The deny marks, the cached version (compared here) and the cached level.
 * Marks that are not plain 0/1 answers leave the whole check to MariaDB.
 */
static int read_token(sp_req *r, sp_gate_call *c, const sp_kv_result *ans)
{
	size_t at = (size_t)c->at_token, len;
	long long jti = sp_kv_int_at(ans, at + SP_GATE_DENY_JTI, -1);
	long long chain = sp_kv_int_at(ans, at + SP_GATE_DENY_CHAIN, -1);
	const char *tv = sp_kv_str_at(ans, at + SP_GATE_TV, &len);
	const char *level = sp_kv_str_at(ans, at + SP_GATE_LEVEL, &len);

	if (jti < 0 || chain < 0) {
		c->token_unread = 1;
		return 0;
	}
	if (jti || chain || (tv && *tv && strtol(tv, NULL, 10) != c->claims->tv)) {
		sp_fail(r, 401, "UNAUTHORIZED", "Token has been revoked");
		return -1;
	}
	c->have_tv = tv && *tv;
	if (level && len > 0)
		r->level_cached = sp_xstrndup(level, len);
	return 0;
}

/*
 * The versioned prefetch answer: the group's version (for the program's
 * local group, copies of any other are dropped), then "=" (use this
 * process's copy) or the value, kept as a copy of the local group until the
 * Redis value itself expires.
 */
static void read_versioned(sp_req *r, const sp_gate_call *c, const sp_kv_result *ans)
{
	size_t vlen, len;
	const char *val = sp_kv_str_at(ans, (size_t)c->at_prefetch, &vlen);
	const char *ver = sp_kv_str_at(ans, (size_t)c->at_version + SP_GATE_VERSION, &len);
	long long ttl = sp_kv_int_at(ans, (size_t)c->at_version + SP_GATE_COUNTER, 0);
	char k[SP_KEY_MAX], scope[SP_SCOPE_MAX] = "";
	const char *copy;

	if (val == NULL || ver == NULL || len >= 64)
		return;
	sp_cache_seen(c->group, ver, len);
	if (vlen == 0)
		return;
	if (strstr(c->prefetch, "{L}")) {
		/* the scope the script filled in, from the same cached level */
		if (sp_level_scope_of(r->level_cached, scope, sizeof scope) != 0)
			return;
		note_scope(scope);
	}
	if (resolve(c->prefetch, scope, ver, k, sizeof k) != 0)
		return;
	if (vlen == 1 && val[0] == '=') {
		copy = c->local ? sp_cache_local_get(k, &len) : NULL;
		if (copy) {
			r->prefetched = sp_xstrndup(copy, len);
			r->prefetched_local = 1;
		}
		return;
	}
	r->prefetched = sp_xstrndup(val, vlen);
	if (c->local && ttl > 0)
		sp_cache_local_store(k, val, vlen, ttl);
}

static void read_prefetch(sp_req *r, const sp_gate_call *c, const sp_kv_result *ans)
{
	size_t len;
	const char *v;

	if (c->at_version >= 0) {
		read_versioned(r, c, ans);
		return;
	}
	v = sp_kv_str_at(ans, (size_t)c->at_prefetch, &len);
	if (v && len > 0)
		r->prefetched = sp_xstrndup(v, len);
}

/* The step's answer is there only when it ran (the request was found allowed). */
static void read_step(sp_req *r, const sp_gate_call *c, const sp_kv_result *ans)
{
	size_t at = (size_t)c->at_step;
	const char *status = sp_kv_str_at(ans, at + SP_GATE_STEP_STATUS, NULL);
	const char *value = sp_kv_str_at(ans, at + SP_GATE_STEP_VALUE, NULL);

	if (sp_kv_count(ans) != at + SP_GATE_STEP_SLOTS || status == NULL)
		return;
	r->step_done = 1;
	snprintf(r->step_status, sizeof r->step_status, "%s", status);
	snprintf(r->step_text, sizeof r->step_text, "%s", value ? value : "");
	r->step_value = strtoll(r->step_text, NULL, 10);
}

enum sp_gate_outcome sp_gate_read(sp_req *r, sp_gate_call *c, const sp_kv_result *ans)
{
	if (sp_kv_count(ans) < (size_t)c->n_rules) {
		/* Redis unreachable: limits fail open (logged and counted), the token goes to
		 * MariaDB */
		sp_metrics_inc("sp_ratelimit_fail_open_total");
		set_headers(r, c, -1);
		c->token_unread = 1;
		return SP_GATE_OPEN;
	}
	if (read_limits(r, c, ans) != 0)
		return SP_GATE_STOPPED;
	if (c->claims) {
		if (sp_kv_count(ans) < (size_t)c->at_token + SP_GATE_TOKEN_SLOTS)
			c->token_unread = 1;
		else if (read_token(r, c, ans) != 0)
			return SP_GATE_STOPPED;
	}
	if (c->at_prefetch >= 0)
		read_prefetch(r, c, ans);
	if (c->at_step >= 0)
		read_step(r, c, ans);
	return SP_GATE_GO;
}

/* ---------------------------------------------------------------- MariaDB */

/* The columns of check_token_db's SELECT, in order. */
enum token_col { COL_TOKEN_VERSION, COL_ACTIVE, COL_JTI_REVOKED, COL_CHAIN_REVOKED };

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
	ok = res.nrows == 1 && sp_res_ll(&res, 0, COL_ACTIVE, 0) == 1;
	if (ok)
		*tv_out = (long)sp_res_ll(&res, 0, COL_TOKEN_VERSION, -1);
	if (ok && check_marks &&
	    (sp_res_ll(&res, 0, COL_JTI_REVOKED, 0) || sp_res_ll(&res, 0, COL_CHAIN_REVOKED, 0)))
		ok = 0;
	sp_res_free(&res);
	if (!ok) {
		sp_fail(r, 401, "UNAUTHORIZED", "Token is invalid or has been revoked");
		return -1;
	}
	return 0;
}

/*
 * What Redis did not answer of the token: its version on a cache miss (then
 * cached), or everything, marks included, when there was no usable answer.
 */
static int check_token_rest(sp_req *r, const sp_gate_call *c)
{
	long tv = -1;

	if (check_token_db(r, c->claims, c->token_unread, &tv) != 0)
		return -1;
	if (!c->token_unread)
		sp_auth_cache_tv(c->claims->uid, tv, 1);
	if (tv != c->claims->tv) {
		sp_fail(r, 401, "UNAUTHORIZED", "Token has been revoked");
		return -1;
	}
	return 0;
}

int sp_gate(sp_req *r, const sp_route *route, const sp_claims *claims, int peek)
{
	sp_gate_call c;
	sp_kv_result *ans;
	enum sp_gate_outcome outcome;

	sp_gate_collect(&c, r, route, claims, peek, sp_now_ms() / 1000);
	sp_gate_layout(&c);
	ans = sp_kv_run(&gate_script, c.nkeys, c.keys, c.nargs, c.args);
	outcome = sp_gate_read(r, &c, ans);
	sp_kv_free(ans);
	if (outcome == SP_GATE_STOPPED)
		return -1;
	if (claims && (c.token_unread || !c.have_tv))
		return check_token_rest(r, &c);
	return 0;
}

/* ---------------------------------------------------------------- prefetch, resync */

int sp_prefetch_me(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	if (uid <= 0)
		return -1;
	sp_key_me(key, n, uid);
	return 0;
}

int sp_prefetch_sub(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	if (uid <= 0)
		return -1;
	sp_key_sub(key, n, uid);
	return 0;
}

/*
 * Writes made while Redis was away may be missing from what the gate reads.
 * Here, beside that reader, rather than in sp_auth: the revocation marks
 * come back through sp_auth_resync, and for users changed within a cache
 * lifetime the token version, their cached documents and their level are
 * rewritten, so sp_auth never reaches up to sp_user and sp_tier.
 */
void sp_gate_resync(void)
{
	sp_res res;

	sp_auth_resync();
	if (sp_db_query(&res,
	                "SELECT id, token_version FROM users WHERE updated_at > UTC_TIMESTAMP(3) - "
	                "INTERVAL ? SECOND",
	                "l", (long long)sp_cfg.cache_ttl + 5) != 0)
		return;
	for (size_t i = 0; i < res.nrows; i++) {
		long long uid = sp_res_ll(&res, i, 0, 0);
		sp_auth_cache_tv(uid, (long)sp_res_ll(&res, i, 1, 0), 0);
		sp_user_caches_drop(uid);
		sp_level_publish(uid);
	}
	sp_res_free(&res);
}
