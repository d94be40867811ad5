/*
 * The gate without a server: the script call it lays out for each kind of
 * request, and what it makes of an answer (hand-built, sp_kv_array_new),
 * including answers that are short or of the wrong types.
 */
#include "unit.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_gate_impl.h"

#include <stdio.h>
#include <string.h>

#define NOW 1000000LL /* seconds: window 60 -> number 16666, reset 1000020 */

static sp_settings saved;
static sp_req req;
static sp_gate_call call;
static const sp_claims token = {.uid = 7, .role = "user", .jti = "j1", .sid = "s1", .tv = 3};

static int setup(void)
{
	saved = sp_cfg;
	sp_cfg.redis_prefix = NULL; /* "sp:" */
	sp_cfg.rl_anonymous = (sp_rate_rule){10, 60};
	sp_cfg.rl_authenticated = (sp_rate_rule){100, 60};
	sp_cfg.rl_auth = (sp_rate_rule){5, 300};
	sp_cfg.rl_stream = (sp_rate_rule){30, 60};
	sp_cfg.cache_local_bytes = 8192;
	return 0;
}

static int teardown(void)
{
	sp_cache_local_clear();
	sp_cache_local(NULL);
	sp_cfg = saved;
	return 0;
}

static const char *no_param(void *io, const char *name)
{
	(void)io;
	(void)name;
	return NULL;
}

static void begin(void)
{
	sp_req_init(&req, NULL, no_param, NULL, NULL);
	snprintf(req.client_key, sizeof req.client_key, "%s", "10.0.0.9");
}

static void end(void)
{
	sp_req_free(&req);
}

/* Lays out the call of a request with these claims and route. */
static void lay_out(const sp_claims *claims, const sp_route *route, int peek)
{
	sp_gate_collect(&call, &req, route, claims, peek, NOW);
	sp_gate_layout(&call);
}

static int prefetch_item(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	(void)uid;
	snprintf(key, n, "%s", "catalog:{V}:item:5:{L}");
	return 0;
}

static int step_heartbeat(sp_req *r, long long uid, sp_step *s)
{
	(void)r;
	s->kind = SP_STEP_HEARTBEAT;
	s->nkeys = 2;
	s->nargs = 7;
	snprintf(s->keys[0], 96, "ss:u:%lld", uid);
	snprintf(s->keys[1], 96, "%s", "ss:s:abc");
	for (int i = 0; i < 7; i++)
		snprintf(s->args[i], 96, "a%d", i);
	return 0;
}

static const sp_route plain = {.method = "GET", .pattern = "/x"};
static const sp_route login = {.method = "POST", .pattern = "/auth/login", .flags = SP_RL_AUTH};
static const sp_route me = {.method = "GET", .pattern = "/auth/me", .prefetch = sp_prefetch_me};
static const sp_route item = {.method = "GET", .pattern = "/content/5", .prefetch = prefetch_item};
static const sp_route heartbeat = {
    .method = "POST", .pattern = "/stream/hb", .flags = SP_RL_STREAM, .step = step_heartbeat};

/* ---------------------------------------------------------------- layout */

static void test_anonymous_call_counts_one_rule_by_address(void)
{
	begin();
	lay_out(NULL, &plain, 0);
	CU_ASSERT_EQUAL(call.nkeys, 1);
	CU_ASSERT_STRING_EQUAL(call.keys[0], "rl:anon:ip:10.0.0.9:16666");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_COUNTERS], "1");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_COUNTING], "1");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_TOKEN], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_PREFETCH], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_VERSION], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP_ARGS], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP_KIND], "0");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_TOKEN_VERSION], "-1");
	/* the limit and window (one second longer) follow the head, where LIMITS says */
	CU_ASSERT_EQUAL(call.nargs, SP_GATE_HEAD_SIZE + 2);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_LIMITS], "13");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_HEAD_SIZE], "10");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_HEAD_SIZE + 1], "61");
	end();
}

static void test_preflight_only_reads_the_counters(void)
{
	begin();
	lay_out(NULL, &plain, 1);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_COUNTING], "0");
	end();
}

static void test_token_call_adds_its_four_keys_after_the_counters(void)
{
	begin();
	lay_out(&token, &login, 0);
	CU_ASSERT_EQUAL(call.n_rules, 2);
	CU_ASSERT_EQUAL(call.nkeys, 2 + SP_GATE_TOKEN_SLOTS);
	CU_ASSERT_STRING_EQUAL(call.keys[0], "rl:user:u:7:16666");
	CU_ASSERT_STRING_EQUAL(call.keys[1], "rl:auth:ip:10.0.0.9:3333");
	CU_ASSERT_EQUAL(call.at_token, 2);
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_DENY_JTI], "deny:jti:j1");
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_DENY_CHAIN], "deny:sid:s1");
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_TV], "tv:7");
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_LEVEL], "lvl:7");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_TOKEN], "3"); /* as Lua counts */
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_TOKEN_VERSION], "3");
	CU_ASSERT_EQUAL(call.nargs, SP_GATE_HEAD_SIZE + 4);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_HEAD_SIZE + 2], "5");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_HEAD_SIZE + 3], "301");
	end();
}

static void test_prefetch_call_adds_the_route_key(void)
{
	begin();
	lay_out(&token, &me, 0);
	CU_ASSERT_EQUAL(call.at_prefetch, 1 + SP_GATE_TOKEN_SLOTS);
	CU_ASSERT_EQUAL(call.at_version, -1);
	CU_ASSERT_EQUAL(call.nkeys, 2 + SP_GATE_TOKEN_SLOTS);
	CU_ASSERT_STRING_EQUAL(call.keys[call.at_prefetch], "me:7");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_PREFETCH], "6");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_VERSION], "0");
	end();
	/* no user, no "me" document */
	begin();
	lay_out(NULL, &me, 0);
	CU_ASSERT_EQUAL(call.at_prefetch, -1);
	CU_ASSERT_EQUAL(call.nkeys, 1);
	end();
}

static void test_versioned_prefetch_adds_the_group_version_keys(void)
{
	begin();
	lay_out(NULL, &item, 0);
	CU_ASSERT_STRING_EQUAL(call.group, "catalog");
	CU_ASSERT_EQUAL(call.local, 0);
	CU_ASSERT_EQUAL(call.at_prefetch, 1);
	CU_ASSERT_EQUAL(call.at_version, 2);
	CU_ASSERT_EQUAL(call.nkeys, 2 + SP_GATE_VERSION_SLOTS);
	CU_ASSERT_STRING_EQUAL(call.keys[1], "catalog:{V}:item:5:{L}");
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_VERSION], "catalog:ver");
	CU_ASSERT_STRING_EQUAL(call.keys[2 + SP_GATE_COUNTER], "catalog:seq");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_VERSION], "3");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_COPIES_VERSION], "");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_HAVE], "");
	end();
}

static void test_local_prefetch_names_the_copies_held_per_level(void)
{
	sp_cache_local("catalog");
	sp_cache_local_clear();
	sp_cache_req_begin();
	sp_cache_seen("catalog", "v1", 2);
	sp_cache_local_store("catalog:v1:item:5:2", "{}", 2, 60000);
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(call.local, 1);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_COPIES_VERSION], "v1");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_HAVE], "|2|");
	end();
	sp_cache_local(NULL);
}

static void test_step_call_adds_its_keys_and_arguments_last(void)
{
	begin();
	lay_out(&token, &heartbeat, 0);
	CU_ASSERT_EQUAL(call.at_step, 2 + SP_GATE_TOKEN_SLOTS);
	CU_ASSERT_EQUAL(call.nkeys, call.at_step + SP_GATE_STEP_SLOTS);
	/* names, as sp_kv_run adds the prefix */
	CU_ASSERT_STRING_EQUAL(call.keys[call.at_step], "ss:u:7");
	CU_ASSERT_STRING_EQUAL(call.keys[call.at_step + 1], "ss:s:abc");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP], "7");
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP_ARGS], "17"); /* after 2 limit pairs */
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP_KIND], "1");
	CU_ASSERT_EQUAL(call.nargs, SP_GATE_HEAD_SIZE + 4 + 7);
	CU_ASSERT_STRING_EQUAL(call.args[16], "a0");
	CU_ASSERT_STRING_EQUAL(call.args[call.nargs - 1], "a6");
	end();
	/* a step needs a token */
	begin();
	lay_out(NULL, &heartbeat, 0);
	CU_ASSERT_EQUAL(call.at_step, -1);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP_ARGS], "0");
	end();
}

/* A request whose body or declared input is bad is counted, but fetches and runs nothing. */
static void test_bad_input_is_counted_without_prefetch_or_step(void)
{
	begin();
	req.in_status = 400;
	lay_out(&token, &heartbeat, 0);
	CU_ASSERT_EQUAL(call.n_rules, 2);
	CU_ASSERT_EQUAL(call.at_step, -1);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_STEP], "0");
	end();
	begin();
	req.in_status = 404;
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(call.at_prefetch, -1);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_PREFETCH], "0");
	end();
}

/* ---------------------------------------------------------------- answers */

/* An answer for the laid-out call: counts, then the token's slots if any. */
static sp_kv_result *answer(size_t n, long long count)
{
	sp_kv_result *a = sp_kv_array_new(n);

	for (int i = 0; i < call.n_rules; i++)
		sp_kv_array_set_int(a, (size_t)i, count);
	if (call.at_token >= 0 && (size_t)call.at_token + SP_GATE_TOKEN_SLOTS <= n) {
		size_t t = (size_t)call.at_token;
		sp_kv_array_set_int(a, t + SP_GATE_DENY_JTI, 0);
		sp_kv_array_set_int(a, t + SP_GATE_DENY_CHAIN, 0);
		sp_kv_array_set_str(a, t + SP_GATE_TV, "3");
		sp_kv_array_set_str(a, t + SP_GATE_LEVEL, "L2|2|9|2|2|2|4|0|-1|Premium");
	}
	return a;
}

static enum sp_gate_outcome read_answer(sp_kv_result *a)
{
	enum sp_gate_outcome o = sp_gate_read(&req, &call, a);

	sp_kv_free(a);
	return o;
}

static void test_over_the_limit_is_429_with_retry_after_and_rate_headers(void)
{
	begin();
	lay_out(NULL, &plain, 0);
	CU_ASSERT_EQUAL(read_answer(answer(1, 11)), SP_GATE_STOPPED);
	CU_ASSERT_EQUAL(req.status, 429);
	CU_ASSERT_PTR_NOT_NULL(strstr(req.headers.data, "Retry-After: 20\r\n"));
	CU_ASSERT_EQUAL(req.rl_set, 1);
	CU_ASSERT_EQUAL(req.rl_limit, 10);
	CU_ASSERT_EQUAL(req.rl_remaining, -1);
	CU_ASSERT_EQUAL(req.rl_reset, NOW + 20);
	end();
}

static void test_under_the_limits_goes_on_showing_the_tightest_rule(void)
{
	sp_kv_result *a;

	begin();
	lay_out(&token, &login, 0);
	a = answer(2 + SP_GATE_TOKEN_SLOTS, 0);
	sp_kv_array_set_int(a, 0, 50); /* user: 50 of 100 left */
	sp_kv_array_set_int(a, 1, 3);  /* auth: 2 of 5 left */
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_EQUAL(req.status, 200);
	CU_ASSERT_EQUAL(req.rl_limit, 5);
	CU_ASSERT_EQUAL(req.rl_remaining, 2);
	CU_ASSERT_PTR_NULL(req.headers.data ? strstr(req.headers.data, "Retry-After") : NULL);
	end();
}

static void test_preflight_over_the_limit_is_not_refused(void)
{
	begin();
	lay_out(NULL, &plain, 1);
	CU_ASSERT_EQUAL(read_answer(answer(1, 11)), SP_GATE_GO);
	CU_ASSERT_EQUAL(req.status, 200);
	end();
}

/* A signed-in request to a plain route, and an answer whose token slots are good. */
static sp_kv_result *token_request(void)
{
	begin();
	lay_out(&token, &plain, 0);
	return answer(1 + SP_GATE_TOKEN_SLOTS, 1);
}

static void test_revoked_token_is_401(void)
{
	sp_kv_result *a = token_request();

	sp_kv_array_set_int(a, 1 + SP_GATE_DENY_CHAIN, 1);
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_STOPPED);
	CU_ASSERT_EQUAL(req.status, 401);
	end();
}

static void test_other_token_version_is_401(void)
{
	sp_kv_result *a = token_request();

	sp_kv_array_set_str(a, 1 + SP_GATE_TV, "4");
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_STOPPED);
	CU_ASSERT_EQUAL(req.status, 401);
	end();
}

static void test_cached_token_version_and_level_are_taken(void)
{
	CU_ASSERT_EQUAL(read_answer(token_request()), SP_GATE_GO);
	CU_ASSERT_EQUAL(call.have_tv, 1);
	CU_ASSERT_EQUAL(call.token_unread, 0);
	CU_ASSERT_STRING_EQUAL(req.level_cached, "L2|2|9|2|2|2|4|0|-1|Premium");
	end();
}

static void test_uncached_token_version_is_left_to_mariadb(void)
{
	sp_kv_result *a = token_request();

	sp_kv_array_set_str(a, 1 + SP_GATE_TV, "");
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_EQUAL(call.have_tv, 0);
	CU_ASSERT_EQUAL(call.token_unread, 0);
	end();
}

static void test_prefetched_value_reaches_the_request(void)
{
	sp_kv_result *a;

	begin();
	lay_out(&token, &me, 0);
	a = answer((size_t)call.nkeys, 1);
	sp_kv_array_set_str(a, (size_t)call.at_prefetch, "{\"user\":{}}");
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_STRING_EQUAL(req.prefetched, "{\"user\":{}}");
	CU_ASSERT_EQUAL(req.prefetched_local, 0);
	end();
}

/* A versioned answer for the item route: value (or "="), version, PTTL. */
static sp_kv_result *versioned(const char *value, const char *ver, long long ttl)
{
	sp_kv_result *a = answer((size_t)call.nkeys, 1);

	sp_kv_array_set_str(a, (size_t)call.at_prefetch, value);
	sp_kv_array_set_str(a, (size_t)call.at_version + SP_GATE_VERSION, ver);
	sp_kv_array_set_int(a, (size_t)call.at_version + SP_GATE_COUNTER, ttl);
	return a;
}

static void test_versioned_value_is_kept_as_a_local_copy(void)
{
	size_t len = 0;

	sp_cache_local("catalog");
	sp_cache_local_clear();
	sp_cache_req_begin();
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(versioned("{\"id\":5}", "v2", 30000)), SP_GATE_GO);
	CU_ASSERT_STRING_EQUAL(req.prefetched, "{\"id\":5}");
	/* the level digit of the cached level (2) and the version fill the name */
	CU_ASSERT_PTR_NOT_NULL(sp_cache_local_get("catalog:v2:item:5:2", &len));
	CU_ASSERT_EQUAL(len, 8);
	CU_ASSERT_STRING_EQUAL(sp_cache_local_version(), "v2");
	end();
	sp_cache_local(NULL);
}

static void test_equals_answer_serves_the_local_copy(void)
{
	sp_cache_local("catalog");
	sp_cache_local_clear();
	sp_cache_req_begin();
	sp_cache_seen("catalog", "v3", 2);
	sp_cache_local_store("catalog:v3:item:5:2", "{\"id\":\"copy\"}", 13, 60000);
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(versioned("=", "v3", 0)), SP_GATE_GO);
	CU_ASSERT_STRING_EQUAL(req.prefetched, "{\"id\":\"copy\"}");
	CU_ASSERT_EQUAL(req.prefetched_local, 1);
	end();
	/* "=" under a newer version: the old copies are gone, nothing is served */
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(versioned("=", "v4", 0)), SP_GATE_GO);
	CU_ASSERT_PTR_NULL(req.prefetched);
	end();
	sp_cache_local(NULL);
}

/* An answer for the item route whose cached level carries the parental age cap 13. */
static sp_kv_result *capped(const char *value, const char *ver, long long ttl)
{
	sp_kv_result *a = versioned(value, ver, ttl);

	sp_kv_array_set_str(a, (size_t)call.at_token + SP_GATE_LEVEL,
	                    "L2|2|9|2|2|2|4|0|13|Premium");
	return a;
}

static void test_age_capped_level_has_pages_of_its_own(void)
{
	size_t len = 0;

	sp_cache_local("catalog");
	sp_cache_local_clear();
	sp_cache_req_begin();
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(capped("{\"id\":13}", "v5", 30000)), SP_GATE_GO);
	/* kept under the level and the cap, never under the plain level's name */
	CU_ASSERT_PTR_NOT_NULL(sp_cache_local_get("catalog:v5:item:5:2a13", &len));
	CU_ASSERT_PTR_NULL(sp_cache_local_get("catalog:v5:item:5:2", &len));
	end();
	/* the plain level's copy and the capped one are both named, each by its scope */
	sp_cache_local_store("catalog:v5:item:5:2", "{\"id\":18}", 9, 60000);
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_STRING_EQUAL(call.args[SP_GATE_ARG_HAVE], "|2|2a13|");
	end();
	sp_cache_local(NULL);
}

static void test_equals_answer_never_serves_another_scope(void)
{
	sp_cache_local("catalog");
	sp_cache_local_clear();
	sp_cache_req_begin();
	sp_cache_seen("catalog", "v6", 2);
	sp_cache_local_store("catalog:v6:item:5:2", "{\"all\":1}", 9, 60000);
	sp_cache_local_store("catalog:v6:item:5:2a13", "{\"young\":1}", 11, 60000);
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(capped("=", "v6", 0)), SP_GATE_GO);
	CU_ASSERT_STRING_EQUAL(req.prefetched ? req.prefetched : "", "{\"young\":1}");
	end();
	begin();
	lay_out(&token, &item, 0);
	CU_ASSERT_EQUAL(read_answer(versioned("=", "v6", 0)), SP_GATE_GO);
	CU_ASSERT_STRING_EQUAL(req.prefetched ? req.prefetched : "", "{\"all\":1}");
	end();
	sp_cache_local(NULL);
}

static void test_step_answer_is_handed_to_the_route(void)
{
	sp_kv_result *a;

	begin();
	lay_out(&token, &heartbeat, 0);
	a = answer((size_t)call.nkeys, 1);
	sp_kv_array_set_str(a, (size_t)call.at_step + SP_GATE_STEP_STATUS, "OK");
	sp_kv_array_set_str(a, (size_t)call.at_step + SP_GATE_STEP_VALUE, "1");
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_EQUAL(req.step_done, 1);
	CU_ASSERT_STRING_EQUAL(req.step_status, "OK");
	CU_ASSERT_EQUAL(req.step_value, 1);
	end();
	/* the script did not run the step: the route runs it on its own */
	begin();
	lay_out(&token, &heartbeat, 0);
	CU_ASSERT_EQUAL(read_answer(answer((size_t)call.at_step, 1)), SP_GATE_GO);
	CU_ASSERT_EQUAL(req.step_done, 0);
	end();
}

static void test_no_answer_fails_open_and_leaves_the_token_to_mariadb(void)
{
	begin();
	lay_out(&token, &me, 0);
	CU_ASSERT_EQUAL(sp_gate_read(&req, &call, NULL), SP_GATE_OPEN);
	CU_ASSERT_EQUAL(call.token_unread, 1);
	CU_ASSERT_EQUAL(req.rl_set, 1);
	CU_ASSERT_EQUAL(req.rl_remaining, 100);
	CU_ASSERT_PTR_NULL(req.prefetched);
	end();
	begin();
	lay_out(NULL, &plain, 0);
	CU_ASSERT_EQUAL(read_answer(sp_kv_array_new(0)), SP_GATE_OPEN);
	CU_ASSERT_EQUAL(req.status, 200);
	end();
}

static void test_short_or_garbled_answer_is_read_safely(void)
{
	sp_kv_result *a;

	/* counts only: the token slots missing leave the whole token to MariaDB */
	begin();
	lay_out(&token, &heartbeat, 0);
	CU_ASSERT_EQUAL(read_answer(answer(2, 1)), SP_GATE_GO);
	CU_ASSERT_EQUAL(call.token_unread, 1);
	CU_ASSERT_EQUAL(req.step_done, 0);
	end();
	/* wrong types everywhere: counts read as 0, marks not 0/1, no value, no step */
	begin();
	lay_out(&token, &me, 0);
	a = sp_kv_array_new((size_t)call.nkeys);
	sp_kv_array_set_str(a, 0, "lots");
	sp_kv_array_set_str(a, 1 + SP_GATE_DENY_JTI, "0");
	sp_kv_array_set_int(a, (size_t)call.at_prefetch, 42);
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_EQUAL(req.rl_remaining, 100);
	CU_ASSERT_EQUAL(call.token_unread, 1);
	CU_ASSERT_PTR_NULL(req.prefetched);
	CU_ASSERT_PTR_NULL(req.level_cached);
	end();
	/* a versioned answer without its version slots is ignored */
	begin();
	lay_out(NULL, &item, 0);
	a = sp_kv_array_new(2);
	sp_kv_array_set_int(a, 0, 1);
	sp_kv_array_set_str(a, 1, "{\"id\":5}");
	CU_ASSERT_EQUAL(read_answer(a), SP_GATE_GO);
	CU_ASSERT_PTR_NULL(req.prefetched);
	end();
}

void suite_gate(void)
{
	CU_pSuite s = CU_add_suite("gate", setup, teardown);

	ADD_TEST(s, test_anonymous_call_counts_one_rule_by_address);
	ADD_TEST(s, test_preflight_only_reads_the_counters);
	ADD_TEST(s, test_token_call_adds_its_four_keys_after_the_counters);
	ADD_TEST(s, test_prefetch_call_adds_the_route_key);
	ADD_TEST(s, test_versioned_prefetch_adds_the_group_version_keys);
	ADD_TEST(s, test_local_prefetch_names_the_copies_held_per_level);
	ADD_TEST(s, test_step_call_adds_its_keys_and_arguments_last);
	ADD_TEST(s, test_bad_input_is_counted_without_prefetch_or_step);
	ADD_TEST(s, test_over_the_limit_is_429_with_retry_after_and_rate_headers);
	ADD_TEST(s, test_under_the_limits_goes_on_showing_the_tightest_rule);
	ADD_TEST(s, test_preflight_over_the_limit_is_not_refused);
	ADD_TEST(s, test_revoked_token_is_401);
	ADD_TEST(s, test_other_token_version_is_401);
	ADD_TEST(s, test_cached_token_version_and_level_are_taken);
	ADD_TEST(s, test_uncached_token_version_is_left_to_mariadb);
	ADD_TEST(s, test_prefetched_value_reaches_the_request);
	ADD_TEST(s, test_versioned_value_is_kept_as_a_local_copy);
	ADD_TEST(s, test_equals_answer_serves_the_local_copy);
	ADD_TEST(s, test_age_capped_level_has_pages_of_its_own);
	ADD_TEST(s, test_equals_answer_never_serves_another_scope);
	ADD_TEST(s, test_step_answer_is_handed_to_the_route);
	ADD_TEST(s, test_no_answer_fails_open_and_leaves_the_token_to_mariadb);
	ADD_TEST(s, test_short_or_garbled_answer_is_read_safely);
}
