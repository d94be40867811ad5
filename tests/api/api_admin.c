/*
 * API tests of the admin suite: /admin/metrics, /admin/analytics/content
 * and /admin/users (admin only; numbers against a known state; paging,
 * search and validation; account changes that take effect at once).
 */
#include "api_client.h"
#include "sp_db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN        "/api/v1/admin"
#define PLAN_PREMIUM 3

static api_user admin;

static int suite_init(void)
{
	return 0;
}

/* The stack's admin signed in and MariaDB reachable (checks record failures, so inside a test). */
static int ready(void)
{
	if (api_db_ready() != 0)
		return -1;
	return admin.token == NULL && api_admin_login(&admin) != 0 ? -1 : 0;
}

static int suite_cleanup(void)
{
	api_user_free(&admin);
	return 0;
}

/* GET path as the admin, expecting 200; the response (free it). */
static void admin_get(api_resp *r, const char *path)
{
	api_get(r, path, admin.token);
	EXPECT_OK(*r, 200);
}

/* The element of the array at path whose member key is the string want, or NULL. */
static json_object *find_in(json_object *o, const char *path, const char *key, const char *want)
{
	json_object *arr = api_jget(o, path);

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (api_streq(api_jstr(e, key), want))
			return e;
	}
	return NULL;
}

static double jnum(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v && (json_object_is_type(v, json_type_double) ||
	             json_object_is_type(v, json_type_int))
	           ? json_object_get_double(v)
	           : -1;
}

/* ---------------------------------------------------------------- access */

static void test_admin_routes_need_a_token_and_the_admin_role(void)
{
	static const struct {
		const char *method, *path, *body;
	} routes[] = {
	    {"GET", ADMIN "/metrics", NULL},
	    {"GET", ADMIN "/analytics/content?from=2024-01-01&to=2024-01-02", NULL},
	    {"GET", ADMIN "/users", NULL},
	    {"PUT", ADMIN "/users/1", "{\"unlock\":true}"},
	};
	api_user u;
	api_resp r;

	if (api_user_register(&u, "adm-access") != 0)
		return;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		api_send(&r, routes[i].method, routes[i].path, NULL, routes[i].body);
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
		api_free(&r);
		api_send(&r, routes[i].method, routes[i].path, u.token, routes[i].body);
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		api_free(&r);
	}
	api_user_free(&u);
}

/* ---------------------------------------------------------------- metrics */

static void test_metrics_count_live_streams_and_top_streamers(void)
{
	api_user u;
	api_resp r;
	long long cid = api_title(2, 0);
	char *s1 = NULL, *s2 = NULL;
	json_object *me;
	double streams, users;

	if (ready() != 0)
		return;
	if (api_viewer(&u, "adm-streamer", PLAN_PREMIUM) != 0)
		return;
	s1 = api_stream_start_ok(&u, cid, "adm-dev-1", NULL, NULL, NULL);
	s2 = api_stream_start_ok(&u, cid, "adm-dev-2", NULL, NULL, NULL);
	admin_get(&r, ADMIN "/metrics");
	streams = jnum(r.json, "data.activeStreams");
	users = jnum(r.json, "data.activeUsers");
	EXPECT(streams >= 2 && users >= 1, "activeStreams %g >= 2, activeUsers %g >= 1", streams,
	       users);
	EXPECT(fabs(jnum(r.json, "data.avgConcurrentStreams") -
	            round(streams / users * 100) / 100) < 0.001,
	       "avgConcurrentStreams is activeStreams / activeUsers to 2 decimals: %s", r.body);
	me = find_in(r.json, "data.topStreamers", "userId", u.id);
	EXPECT(me != NULL && api_jint(me, "activeStreams") == 2 &&
	           api_streq(api_jstr(me, "email"), u.email) &&
	           api_streq(api_jstr(me, "name"), u.name),
	       "topStreamers lists the user with 2 streams, name and email: %.600s", r.body);
	EXPECT(api_jlen(r.json, "data.topStreamers") <= 10, "topStreamers has at most 10 entries");
	api_free(&r);

	/* one ended: the user has 1 */
	if (s1) {
		char path[128];
		snprintf(path, sizeof path, "/api/v1/stream/sessions/%s", s1);
		api_send(&r, "DELETE", path, u.token, NULL);
		EXPECT_STATUS(r, 200);
		api_free(&r);
	}
	admin_get(&r, ADMIN "/metrics");
	me = find_in(r.json, "data.topStreamers", "userId", u.id);
	EXPECT(me != NULL && api_jint(me, "activeStreams") == 1,
	       "after one stop the user has 1 live stream: %.600s", r.body);
	api_free(&r);
	free(s1);
	free(s2);
	api_user_free(&u);
}

/* The activeSubscriptions of plan id in a metrics answer; -1 when it is not listed. */
static long long plan_count(const api_resp *r, const char *id)
{
	json_object *p = find_in(r->json, "data.subscriptionsByPlan", "planId", id);

	return p ? api_jint(p, "activeSubscriptions") : -1;
}

static void test_metrics_count_a_new_subscription_and_its_revenue(void)
{
	api_user u;
	api_resp r;
	long long before, after;
	double mrr0, mrr1, plan_mrr;
	sp_res res;

	if (ready() != 0)
		return;
	if (api_user_register(&u, "adm-subs") != 0)
		return;
	if (sp_db_query(&res, "SELECT ROUND(price * 30 / validity_days, 2) FROM plans WHERE id = ?",
	                "l", (long long)PLAN_PREMIUM) != 0 ||
	    res.nrows != 1) {
		EXPECT(0, "reading the Premium plan failed");
		return;
	}
	plan_mrr = strtod(sp_res_str(&res, 0, 0), NULL);
	sp_res_free(&res);
	admin_get(&r, ADMIN "/metrics");
	before = plan_count(&r, "3");
	mrr0 = jnum(r.json, "data.monthlyRecurringRevenue.amount");
	EXPECT(api_streq(api_jstr(r.json, "data.monthlyRecurringRevenue.currency"), "USD"),
	       "revenue in USD: %.400s", r.body);
	EXPECT(api_streq(api_jstr(r.json, "data.subscriptionsByPlan.0.accessLevel"), "Free"),
	       "plans carry accessLevel by name, as every plan document does (the first: Free)");
	api_free(&r);
	if (api_subscribe(&u, PLAN_PREMIUM) != 0)
		return;
	admin_get(&r, ADMIN "/metrics");
	after = plan_count(&r, "3");
	mrr1 = jnum(r.json, "data.monthlyRecurringRevenue.amount");
	EXPECT(before >= 0 && after == before + 1,
	       "Premium activeSubscriptions %lld -> %lld after one subscribe", before, after);
	EXPECT(fabs(mrr1 - mrr0 - plan_mrr) < 0.011,
	       "monthlyRecurringRevenue grows by the plan's 30-day price %.2f: %.2f -> %.2f",
	       plan_mrr, mrr0, mrr1);
	api_free(&r);
	api_user_free(&u);
}

static void test_metrics_cache_hit_ratio_is_a_fraction_after_lookups(void)
{
	api_resp r;
	double x;

	if (ready() != 0)
		return;
	for (int i = 0; i < 3; i++) {
		api_get(&r, "/api/v1/content?limit=5", admin.token);
		api_free(&r);
		api_get(&r, "/api/v1/content?limit=5", NULL);
		api_free(&r);
	}
	admin_get(&r, ADMIN "/metrics");
	x = jnum(r.json, "data.cacheHitRatio");
	EXPECT(x >= 0 && x <= 1,
	       "cacheHitRatio is a number from 0 to 1 after catalogue lookups: %s", r.body);
	api_free(&r);
}

/* ---------------------------------------------------------------- analytics */

/* Sentinel titles and users of this run (no foreign keys on the event and aggregate tables). */
static long long an_base(void)
{
	return 4300000000LL + (long long)(getpid() % 100000) * 10;
}

static void an_cleanup(void)
{
	long long b = an_base();

	sp_db_exec("DELETE FROM watch_events WHERE user_id BETWEEN ? AND ? AND created_at >= "
	           "'2024-05-01' AND created_at < '2024-06-01'",
	           "ll", b, b + 9);
	sp_db_exec("DELETE FROM watch_daily_content WHERE content_id BETWEEN ? AND ?", "ll", b,
	           b + 9);
	sp_db_exec("DELETE FROM watch_daily_users WHERE user_id BETWEEN ? AND ?", "ll", b, b + 9);
}

static int an_insert(void)
{
	static const struct {
		int user, content;
		const char *event;
		int pos;
		const char *at;
	} ev[] = {
	    {1, 1, "start", 0, "2024-05-20 10:00:00"},
	    {1, 1, "progress", 100, "2024-05-20 10:02:00"}, /* +100 */
	    {1, 1, "complete", 200, "2024-05-20 10:05:00"}, /* +100 */
	    {2, 1, "start", 0, "2024-05-20 11:00:00"},
	    {1, 2, "start", 0, "2024-05-20 12:00:00"},
	};
	long long b = an_base();

	for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
		if (sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, "
		               "position_seconds, created_at) VALUES (?, ?, ?, ?, ?)",
		               "llsis", b + ev[i].user, b + ev[i].content, ev[i].event, ev[i].pos,
		               ev[i].at) != 1)
			return -1;
	return 0;
}

static void test_analytics_returns_the_aggregate_rows_paged(void)
{
	api_resp r;
	char id1[24], id2[24];
	json_object *row;
	int rc;

	if (ready() != 0)
		return;
	an_cleanup();
	snprintf(id1, sizeof id1, "%lld", an_base() + 1);
	snprintf(id2, sizeof id2, "%lld", an_base() + 2);
	EXPECT(an_insert() == 0, "inserting the events failed");
	sp_db_exec("DELETE FROM watch_aggregate_days WHERE day = '2024-05-20'", "");
	rc = api_run_tool("worker", "aggregate --now 2024-05-21T01:00:00Z");
	EXPECT(rc == 0, "worker aggregate --now 2024-05-21T01:00:00Z exits 0, got %d", rc);

	admin_get(&r, ADMIN "/analytics/content?from=2024-05-20&to=2024-05-20&limit=100");
	row = find_in(r.json, "data.rows", "contentId", id1);
	EXPECT(row && api_streq(api_jstr(row, "date"), "2024-05-20") &&
	           api_jint(row, "views") == 2 && api_jint(row, "uniqueViewers") == 2 &&
	           api_jint(row, "watchSeconds") == 200 && api_jint(row, "completions") == 1 &&
	           fabs(jnum(row, "completionRate") - 0.5) < 1e-9 && api_jnull(row, "title"),
	       "title 1 on 2024-05-20: 2 views, 2 viewers, 200 s, 1 completion, rate 0.5: %.800s",
	       r.body);
	row = find_in(r.json, "data.rows", "contentId", id2);
	EXPECT(row && api_jint(row, "views") == 1 && api_jint(row, "watchSeconds") == 0,
	       "title 2 on 2024-05-20: 1 view: %.800s", r.body);
	EXPECT(api_jint(r.json, "pagination.total") >= 2 &&
	           api_jint(r.json, "pagination.page") == 1,
	       "pagination counts the day's rows: %.300s", r.body);
	api_free(&r);

	/* one row a page */
	admin_get(&r, ADMIN "/analytics/content?from=2024-05-20&to=2024-05-20&limit=1&page=2");
	EXPECT(api_jlen(r.json, "data.rows") == 1 && api_jint(r.json, "count") == 1 &&
	           api_jint(r.json, "pagination.limit") == 1 &&
	           api_jint(r.json, "pagination.pages") == api_jint(r.json, "pagination.total"),
	       "limit=1 page=2: one row, pages == total: %.400s", r.body);
	api_free(&r);

	/* a range without that day has none of its rows */
	admin_get(&r, ADMIN "/analytics/content?from=2024-05-21&to=2024-05-22");
	EXPECT(find_in(r.json, "data.rows", "contentId", id1) == NULL,
	       "2024-05-21..22 does not list 2024-05-20's rows");
	api_free(&r);
	an_cleanup();
}

static void test_analytics_validates_the_range(void)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"from=2024-02-30&to=2024-03-01", "from"},
	    {"from=2024-01-01&to=yesterday", "to"},
	    {"from=2024-03-02&to=2024-03-01", "from"},
	    {"from=2023-01-01&to=2024-01-02", "to"},
	    {"from=2024-01-01&to=2024-01-02&limit=101", "limit"},
	    {"from=2024-01-01&to=2024-01-02&page=0", "page"},
	    {"from=2024-01-01T00:00:00Z&to=2024-01-02", "from"},
	};
	api_resp r;
	char path[256];

	if (ready() != 0)
		return;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(path, sizeof path, ADMIN "/analytics/content?%s", bad[i].query);
		api_get(&r, path, admin.token);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, bad[i].field), "%s: errors name %s: %s",
		       bad[i].query, bad[i].field, r.body);
		api_free(&r);
	}
	/* 366 days inclusive is the widest range; no dates: the last 30 days */
	admin_get(&r, ADMIN "/analytics/content?from=2024-01-01&to=2024-12-31");
	api_free(&r);
	admin_get(&r, ADMIN "/analytics/content");
	EXPECT(api_jstr(r.json, "data.from") && api_jstr(r.json, "data.to"),
	       "the default range is answered: %.300s", r.body);
	api_free(&r);
}

/* ---------------------------------------------------------------- users */

/* PUT /admin/users/:id with body as the admin; the status. */
static long put_user(api_resp *r, const char *id, const char *body)
{
	char path[96];

	snprintf(path, sizeof path, ADMIN "/users/%s", id);
	return api_send(r, "PUT", path, admin.token, body);
}

static long me_status(const char *token)
{
	api_resp r;
	long st = api_get(&r, "/api/v1/auth/me", token);

	api_free(&r);
	return st;
}

static void test_users_list_pages_and_searches_by_prefix(void)
{
	api_user u[3];
	api_resp r;
	char prefix[128], path[256], *dash;

	if (ready() != 0)
		return;
	for (int i = 0; i < 3; i++)
		if (api_user_register(&u[i], "adm-find") != 0)
			return;
	/* "adm-find-<run>-": this run's three users and no one else */
	snprintf(prefix, sizeof prefix, "%s", u[0].email);
	dash = strrchr(prefix, '-');
	dash[1] = '\0';
	snprintf(path, sizeof path, ADMIN "/users?search=%s&limit=2", prefix);
	admin_get(&r, path);
	EXPECT(api_jint(r.json, "pagination.total") == 3 &&
	           api_jint(r.json, "pagination.pages") == 2 &&
	           api_jlen(r.json, "data.users") == 2 && api_jint(r.json, "count") == 2,
	       "search %s limit 2: 3 in total, 2 pages, 2 here: %.600s", prefix, r.body);
	/* newest first, with every field */
	EXPECT(api_streq(api_jstr(r.json, "data.users.0.id"), u[2].id) &&
	           api_streq(api_jstr(r.json, "data.users.0.email"), u[2].email) &&
	           api_streq(api_jstr(r.json, "data.users.0.role"), "user") &&
	           api_jbool(r.json, "data.users.0.isActive") == 1 &&
	           api_jbool(r.json, "data.users.0.isLocked") == 0 &&
	           api_jint(r.json, "data.users.0.failedLogins") == 0 &&
	           api_is_iso_ms(api_jstr(r.json, "data.users.0.createdAt")) &&
	           api_jnull(r.json, "data.users.0.currentPlan"),
	       "the newest user first with its fields: %.600s", r.body);
	api_free(&r);
	snprintf(path, sizeof path, ADMIN "/users?search=%s&limit=2&page=2", prefix);
	admin_get(&r, path);
	EXPECT(api_jlen(r.json, "data.users") == 1 &&
	           api_streq(api_jstr(r.json, "data.users.0.id"), u[0].id),
	       "page 2 holds the oldest: %.400s", r.body);
	api_free(&r);
	/* _ and % are matched literally, not as wildcards */
	dash = strchr(prefix, '-');
	*dash = '_';
	snprintf(path, sizeof path, ADMIN "/users?search=%s", prefix);
	admin_get(&r, path);
	EXPECT(api_jint(r.json, "pagination.total") == 0, "search %s matches nothing: %.300s",
	       prefix, r.body);
	api_free(&r);
	admin_get(&r, ADMIN "/users?search=adm%25find");
	EXPECT(api_jint(r.json, "pagination.total") == 0, "search adm%%find matches nothing");
	api_free(&r);
	/* the name matches too */
	admin_get(&r, ADMIN "/users?search=Test%20adm-find&limit=1");
	EXPECT(api_jint(r.json, "pagination.total") >= 3, "the name prefix matches: %.300s",
	       r.body);
	api_free(&r);
	for (int i = 0; i < 3; i++)
		api_user_free(&u[i]);
}

static void test_users_list_rejects_bad_paging(void)
{
	static const char *const bad[][2] = {
	    {"page=0", "page"},     {"page=x", "page"},    {"limit=0", "limit"},
	    {"limit=101", "limit"}, {"limit=-1", "limit"}, {"search=", "search"},
	};
	api_resp r;
	char path[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(path, sizeof path, ADMIN "/users?%s", bad[i][0]);
		api_get(&r, path, admin.token);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, bad[i][1]), "%s names %s: %s", bad[i][0], bad[i][1],
		       r.body);
		api_free(&r);
	}
}

static void test_users_unlock_lets_a_locked_out_user_sign_in(void)
{
	api_user u;
	api_resp r;

	if (ready() != 0)
		return;
	if (api_user_register(&u, "adm-lock") != 0)
		return;
	for (int i = 0; i < 5; i++) {
		api_login(&r, u.email, "Wrong1234");
		api_free(&r);
	}
	api_login(&r, u.email, u.password);
	EXPECT_ERROR(r, 403, "ACCOUNT_LOCKED");
	api_free(&r);
	put_user(&r, u.id, "{\"unlock\":true}");
	EXPECT_OK(r, 200);
	EXPECT(api_jbool(r.json, "data.user.isLocked") == 0 &&
	           api_jint(r.json, "data.user.failedLogins") == 0,
	       "the answer shows the user unlocked: %.400s", r.body);
	api_free(&r);
	/* well inside auth.lockout_seconds (3 s in the test stack) */
	api_login(&r, u.email, u.password);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_user_free(&u);
}

static void test_users_deactivation_refuses_the_next_request(void)
{
	api_user u;
	api_resp r;

	if (ready() != 0)
		return;
	if (api_user_register(&u, "adm-deact") != 0)
		return;
	EXPECT(me_status(u.token) == 200, "the token works before");
	put_user(&r, u.id, "{\"isActive\":false}");
	EXPECT_OK(r, 200);
	EXPECT(api_jbool(r.json, "data.user.isActive") == 0, "isActive false: %.300s", r.body);
	api_free(&r);
	EXPECT(me_status(u.token) == 401, "the existing token is refused on the next request");
	api_login(&r, u.email, u.password);
	EXPECT(r.status == 403, "a deactivated account cannot sign in: %ld", r.status);
	api_free(&r);
	put_user(&r, u.id, "{\"isActive\":true}");
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT(api_user_login(&u) == 0, "reactivated, the user signs in");
	api_user_free(&u);
}

static void test_users_role_change_takes_effect(void)
{
	api_user u;
	api_resp r;

	if (ready() != 0)
		return;
	if (api_user_register(&u, "adm-role") != 0)
		return;
	put_user(&r, u.id, "{\"role\":\"admin\"}");
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.user.role"), "admin");
	api_free(&r);
	EXPECT(me_status(u.token) == 401, "the token of the old role stops working");
	if (api_user_login(&u) != 0)
		return;
	api_get(&r, ADMIN "/metrics", u.token);
	EXPECT_OK(r, 200);
	api_free(&r);
	put_user(&r, u.id, "{\"role\":\"user\"}");
	EXPECT_OK(r, 200);
	api_free(&r);
	api_get(&r, ADMIN "/metrics", u.token);
	EXPECT_STATUS(r, 401);
	api_free(&r);
	if (api_user_login(&u) == 0) {
		api_get(&r, ADMIN "/metrics", u.token);
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		api_free(&r);
	}
	api_user_free(&u);
}

static void test_users_admin_cannot_demote_or_deactivate_themself(void)
{
	api_resp r;

	if (ready() != 0)
		return;
	put_user(&r, admin.id, "{\"role\":\"user\"}");
	EXPECT_ERROR(r, 409, "CONFLICT");
	api_free(&r);
	put_user(&r, admin.id, "{\"isActive\":false}");
	EXPECT_ERROR(r, 409, "CONFLICT");
	api_free(&r);
	EXPECT(api_db_ll_s("SELECT role = 'admin' AND is_active = 1 FROM users WHERE id = ?",
	                   admin.id) == 1,
	       "the admin is still an active admin");
	EXPECT(me_status(admin.token) == 200, "and the admin's token still works");
}

static void test_users_update_bad_input_writes_nothing(void)
{
	api_user u;
	api_resp r;

	if (ready() != 0)
		return;
	if (api_user_register(&u, "adm-bad") != 0)
		return;
	put_user(&r, u.id, "{\"isActive\":false,\"role\":\"root\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "role"), "errors name role: %s", r.body);
	api_free(&r);
	put_user(&r, u.id, "{\"isActive\":\"no\",\"unlock\":1}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "isActive") && api_has_error_field(&r, "unlock"),
	       "errors name isActive and unlock: %s", r.body);
	api_free(&r);
	put_user(&r, u.id, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	put_user(&r, u.id, "{\"role\":");
	EXPECT_ERROR(r, 400, "MALFORMED_JSON");
	api_free(&r);
	EXPECT(api_db_ll_s("SELECT role = 'user' AND is_active = 1 FROM users WHERE id = ?",
	                   u.id) == 1,
	       "nothing was written");
	EXPECT(me_status(u.token) == 200, "the user's token still works");
	put_user(&r, "999999999999", "{\"unlock\":true}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	put_user(&r, "abc", "{\"unlock\":true}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- suite */

int api_suite_admin(void)
{
	CU_pSuite s = CU_add_suite("admin", suite_init, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_admin_routes_need_a_token_and_the_admin_role);
	ADD(test_metrics_count_live_streams_and_top_streamers);
	ADD(test_metrics_count_a_new_subscription_and_its_revenue);
	ADD(test_metrics_cache_hit_ratio_is_a_fraction_after_lookups);
	ADD(test_analytics_returns_the_aggregate_rows_paged);
	ADD(test_analytics_validates_the_range);
	ADD(test_users_list_pages_and_searches_by_prefix);
	ADD(test_users_list_rejects_bad_paging);
	ADD(test_users_unlock_lets_a_locked_out_user_sign_in);
	ADD(test_users_deactivation_refuses_the_next_request);
	ADD(test_users_role_change_takes_effect);
	ADD(test_users_admin_cannot_demote_or_deactivate_themself);
	ADD(test_users_update_bad_input_writes_nothing);
#undef ADD
	return 0;
}
