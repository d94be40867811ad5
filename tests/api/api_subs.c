/*
 * /subscriptions: the public plan list and plan details, admin plan writes,
 * subscribing and replacing, status, history, cancel; the level a change
 * gives on the very next request; the outbox events written with each change
 * and nothing for a rolled-back one; and the level while Redis is down.
 */
#include "api_client.h"

#include "sp_db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define API   "/api/v1"
#define PLANS API "/subscriptions/plans"
#define SUBS  API "/subscriptions"

/* ---------------------------------------------------------------- helpers */

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when path holds a JSON number (int or double); its value in *out. */
static int jnum(json_object *o, const char *path, double *out)
{
	json_object *v = api_jget(o, path);

	if (v == NULL ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return 0;
	*out = json_object_get_double(v);
	return 1;
}

/* The admin's token, signed in again when it may be near its expiry. */
static api_user admin;
static int admin_ok = -1;
static double admin_at;

static const char *admin_token(void)
{
	if (admin_ok != 0 || api_now_s() - admin_at > 600) {
		api_user_free(&admin);
		admin_ok = api_admin_login(&admin);
		admin_at = api_now_s();
	}
	return admin_ok == 0 ? admin.token : NULL;
}

static long long db_count_ls(const char *sql, const char *uid, const char *s)
{
	sp_res res;
	long long n = -1;

	if (api_db_ready() != 0)
		return -1;
	if (sp_db_query(&res, sql, "ls", atoll(uid ? uid : "0"), s) != 0)
		return -1;
	if (res.nrows > 0)
		n = sp_res_ll(&res, 0, 0, -1);
	sp_res_free(&res);
	return n;
}

static long long subs_count(const char *uid)
{
	return api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE user_id = ?", atoll(uid));
}

static long long subs_with_status(const char *uid, const char *status)
{
	return db_count_ls("SELECT COUNT(*) FROM subscriptions WHERE user_id = ? AND status = ?",
	                   uid, status);
}

static long long plans_rows(void)
{
	return api_db_ll("SELECT COUNT(*) FROM plans");
}

/* POST /subscriptions/subscribe with planId as JSON text (e.g. "\"2\"" or "3"). */
static long subscribe_raw(api_resp *r, const char *token, const char *plan_json, const char *method)
{
	char body[256];

	snprintf(body, sizeof body, "{\"planId\":%s,\"paymentMethod\":\"%s\"}", plan_json, method);
	return api_send(r, "POST", SUBS "/subscribe", token, body);
}

/* Subscribes to plan id (string) with a card; 0 when it answered 201. sub_id may be NULL. */
static int subscribe_ok(const api_user *u, const char *plan_id, char *sub_id, size_t n)
{
	api_resp r;
	char pj[64];
	int rc;

	snprintf(pj, sizeof pj, "\"%s\"", plan_id);
	subscribe_raw(&r, u->token, pj, "card");
	EXPECT_OK(r, 201);
	if (sub_id)
		snprintf(sub_id, n, "%s",
		         api_jstr(r.json, "data.subscription.id")
		             ? api_jstr(r.json, "data.subscription.id")
		             : "");
	rc = r.status == 201 ? 0 : -1;
	api_free(&r);
	return rc;
}

/* GET /auth/me must show level as user.accessLevel and the current plan's level. */
static void expect_me_level(const char *token, const char *level, const char *plan_name,
                            const char *what)
{
	api_resp r;
	const char *got, *cur;

	api_get(&r, API "/auth/me", token);
	EXPECT_OK(r, 200);
	got = api_jstr(r.json, "data.user.accessLevel");
	cur = api_jstr(r.json, "data.user.currentSubscription.plan.accessLevel");
	EXPECT(api_streq(got, level), "%s: /auth/me user.accessLevel expected %s, got %s", what,
	       level, got ? got : "(absent)");
	if (plan_name) {
		EXPECT(api_streq(cur, level),
		       "%s: /auth/me currentSubscription.plan.accessLevel expected %s, got %s",
		       what, level, cur ? cur : "(absent or null)");
		EXPECT(api_streq(api_jstr(r.json, "data.user.currentSubscription.plan.name"),
		                 plan_name),
		       "%s: /auth/me currentSubscription.plan.name expected %s: %.300s", what,
		       plan_name, r.body);
	} else {
		EXPECT(api_jnull(r.json, "data.user.currentSubscription"),
		       "%s: /auth/me currentSubscription should be null: %.300s", what, r.body);
	}
	api_free(&r);
}

/* A plan body with every required field. */
static void plan_body(char *out, size_t n, const char *name, const char *level, const char *price,
                      int validity, int display_order)
{
	snprintf(out, n,
	         "{\"name\":\"%s\",\"description\":\"A plan made by the API tests\","
	         "\"price\":%s,\"currency\":\"USD\",\"validityDays\":%d,\"accessLevel\":\"%s\","
	         "\"maxDevicesAllowed\":3,\"maxConcurrentStreams\":2,\"resolution\":\"1080p\","
	         "\"features\":[\"Test feature\",\"Another one\"],\"downloadAllowed\":true,"
	         "\"adsEnabled\":false,\"isPopular\":false,\"displayOrder\":%d}",
	         name, price, validity, level, display_order);
}

/* A valid plan body named name, with field's value replaced by value (JSON text). */
static void plan_body_with(char *out, size_t n, const char *name, const char *field,
                           const char *value)
{
	static const char *const fields[][2] = {
	    {"description", "\"A plan made by the API tests\""},
	    {"price", "1.00"},
	    {"currency", "\"USD\""},
	    {"validityDays", "30"},
	    {"accessLevel", "\"Basic\""},
	    {"maxDevicesAllowed", "3"},
	    {"maxConcurrentStreams", "2"},
	    {"resolution", "\"1080p\""},
	    {"features", "[\"Test feature\",\"Another one\"]"},
	    {"downloadAllowed", "false"},
	    {"adsEnabled", "false"},
	    {"isPopular", "false"},
	    {"displayOrder", "10"},
	};
	size_t used = (size_t)snprintf(out, n, "{\"name\":\"%s\"", name);

	for (size_t i = 0; i < sizeof fields / sizeof fields[0] && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, ",\"%s\":%s", fields[i][0],
		                         strcmp(fields[i][0], field) == 0 ? value : fields[i][1]);
	if (used < n)
		snprintf(out + used, n - used, "}");
}

/* Creates a plan as the admin; its id into id (empty on failure). 0 ok. */
static int create_plan(const char *name, const char *level, const char *price, int validity,
                       char *id, size_t n)
{
	const char *tok = admin_token();
	char body[1024];
	api_resp r;
	int rc;

	id[0] = '\0';
	if (tok == NULL)
		return -1;
	plan_body(body, sizeof body, name, level, price, validity, 500);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_OK(r, 201);
	snprintf(id, n, "%s",
	         api_jstr(r.json, "data.plan.id") ? api_jstr(r.json, "data.plan.id") : "");
	rc = r.status == 201 && *id ? 0 : -1;
	api_free(&r);
	return rc;
}

/* Deactivates a plan the tests made (so the public list stays the seeded one). */
static void retire_plan(const char *id)
{
	const char *tok = admin_token();
	char path[128];
	api_resp r;

	if (tok == NULL || id == NULL || *id == '\0')
		return;
	snprintf(path, sizeof path, PLANS "/%s", id);
	api_send(&r, "DELETE", path, tok, NULL);
	api_free(&r);
}

/* The plans[] of GET path; NULL-safe index of the plan with id, -1 if absent. */
static int plan_index(json_object *plans, const char *id)
{
	for (size_t i = 0; plans && i < json_object_array_length(plans); i++)
		if (api_streq(api_jstr(json_object_array_get_idx(plans, i), "id"), id))
			return (int)i;
	return -1;
}

/* Whether GET path lists plan id (checks 200 and the envelope). */
static int list_has(const char *path, const char *id)
{
	api_resp r;
	int has;

	api_get(&r, path, NULL);
	EXPECT_OK(r, 200);
	has = plan_index(api_jget(r.json, "data.plans"), id) >= 0;
	api_free(&r);
	return has;
}

/* ---------------------------------------------------------------- Redis */

/* ================================================================ plans */

static const struct seeded {
	const char *id, *name, *level;
	double price;
	int validity, streams, devices;
	const char *resolution;
	int order;
} seeded[] = {
    {"1", "Free", "Free", 0.00, 365, 1, 1, "480p", 1},
    {"2", "Basic", "Basic", 9.99, 30, 1, 1, "720p", 2},
    {"3", "Premium", "Premium", 14.99, 30, 2, 4, "1080p", 3},
    {"4", "Ultimate", "Ultimate", 19.99, 30, 4, 6, "4K", 4},
};

static void expect_plan_shape(json_object *p, const char *body)
{
	static const char *bools[] = {"downloadAllowed", "adsEnabled", "isPopular", "isActive"};
	static const char *ints[] = {"validityDays", "maxDevicesAllowed", "maxConcurrentStreams",
	                             "displayOrder"};
	static const char *strs[] = {"id", "name", "currency", "accessLevel", "resolution"};
	json_object *f = api_jget(p, "features");
	double d;

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		EXPECT(api_jtype(p, strs[i], json_type_string),
		       "plan.%s should be a string: %.300s", strs[i], body);
	EXPECT(api_jtype(p, "description", json_type_string) || api_jnull(p, "description"),
	       "plan.description should be a string or null: %.300s", body);
	EXPECT(jnum(p, "price", &d), "plan.price should be a JSON number: %.300s", body);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		EXPECT(api_jtype(p, ints[i], json_type_int), "plan.%s should be an integer: %.300s",
		       ints[i], body);
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
		EXPECT(api_jtype(p, bools[i], json_type_boolean),
		       "plan.%s should be a boolean: %.300s", bools[i], body);
	EXPECT(f && json_object_is_type(f, json_type_array), "plan.features should be an array");
	for (size_t i = 0;
	     f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++)
		EXPECT(json_object_is_type(json_object_array_get_idx(f, i), json_type_string),
		       "plan.features[%zu] should be a string", i);
	EXPECT(api_is_iso_ms(api_jstr(p, "createdAt")) && api_is_iso_ms(api_jstr(p, "updatedAt")),
	       "plan.createdAt/updatedAt should be ISO times: %.300s", body);
}

static void test_plans_list_is_public_and_shows_the_seeded_plans_as_in_the_contract(void)
{
	api_resp r;
	json_object *plans;
	size_t n;

	api_get(&r, PLANS, NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	plans = api_jget(r.json, "data.plans");
	n = api_jlen(r.json, "data.plans");
	EXPECT(plans && json_object_is_type(plans, json_type_array) && n >= 4,
	       "data.plans should list at least the four seeded plans: %.300s", r.body);
	EXPECT(api_jint(r.json, "count") == (long long)n,
	       "count %lld should equal plans listed %zu", api_jint(r.json, "count"), n);
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(plans, i);
		expect_plan_shape(p, json_object_to_json_string(p));
		EXPECT(api_jbool(p, "isActive") == 1,
		       "only active plans are listed; plan %s is not",
		       api_jstr(p, "id") ? api_jstr(p, "id") : "?");
	}
	for (size_t k = 0; k < sizeof seeded / sizeof seeded[0]; k++) {
		const struct seeded *s = &seeded[k];
		int i = plan_index(plans, s->id);
		json_object *p;
		double price = -1;

		EXPECT(i >= 0, "seeded plan id %s (%s) is not listed", s->id, s->name);
		if (i < 0)
			continue;
		p = json_object_array_get_idx(plans, (size_t)i);
		EXPECT_STR(api_jstr(p, "name"), s->name);
		EXPECT_STR(api_jstr(p, "accessLevel"), s->level);
		EXPECT_STR(api_jstr(p, "currency"), "USD");
		EXPECT_STR(api_jstr(p, "resolution"), s->resolution);
		EXPECT(jnum(p, "price", &price) && fabs(price - s->price) < 1e-9,
		       "plan %s price expected %.2f, got %.4f", s->name, s->price, price);
		EXPECT(api_jint(p, "validityDays") == s->validity,
		       "plan %s validityDays expected %d, got %lld", s->name, s->validity,
		       api_jint(p, "validityDays"));
		EXPECT(api_jint(p, "maxConcurrentStreams") == s->streams,
		       "plan %s maxConcurrentStreams expected %d, got %lld", s->name, s->streams,
		       api_jint(p, "maxConcurrentStreams"));
		EXPECT(api_jint(p, "maxDevicesAllowed") == s->devices,
		       "plan %s maxDevicesAllowed expected %d, got %lld", s->name, s->devices,
		       api_jint(p, "maxDevicesAllowed"));
		EXPECT(api_jint(p, "displayOrder") == s->order,
		       "plan %s displayOrder expected %d, got %lld", s->name, s->order,
		       api_jint(p, "displayOrder"));
		EXPECT(api_jlen(p, "features") > 0, "plan %s should list its features", s->name);
	}
	/* the price is printed as money: 9.99, not 9.9900000000000002 */
	EXPECT(strstr(r.body, "\"price\":9.99,") != NULL || strstr(r.body, "\"price\": 9.99,"),
	       "Basic's price should be printed as 9.99: %.400s", r.body);
	api_free(&r);
}

static void test_plans_list_default_order_is_display_order_ascending(void)
{
	api_resp r;
	json_object *plans;
	long long prev = -1000000;

	api_get(&r, PLANS, NULL);
	EXPECT_OK(r, 200);
	plans = api_jget(r.json, "data.plans");
	for (size_t i = 0; i < api_jlen(r.json, "data.plans"); i++) {
		long long o = api_jint(json_object_array_get_idx(plans, i), "displayOrder");
		EXPECT(o >= prev, "default order: displayOrder %lld after %lld", o, prev);
		prev = o;
	}
	/* the seeded four come in their display order */
	EXPECT(plan_index(plans, "1") < plan_index(plans, "2") &&
	           plan_index(plans, "2") < plan_index(plans, "3") &&
	           plan_index(plans, "3") < plan_index(plans, "4"),
	       "Free, Basic, Premium, Ultimate should come in that order: %.300s", r.body);
	api_free(&r);
}

static void test_plans_list_filters_by_access_level(void)
{
	static const char *levels[] = {"Free", "Basic", "Premium", "Ultimate"};

	for (size_t k = 0; k < 4; k++) {
		api_resp r;
		char path[128];
		json_object *plans;
		size_t n;

		snprintf(path, sizeof path, PLANS "?accessLevel=%s", levels[k]);
		api_get(&r, path, NULL);
		EXPECT_OK(r, 200);
		plans = api_jget(r.json, "data.plans");
		n = api_jlen(r.json, "data.plans");
		EXPECT(n >= 1, "%s: the seeded %s plan should be listed", path, levels[k]);
		EXPECT(api_jint(r.json, "count") == (long long)n, "%s: count %lld vs %zu listed",
		       path, api_jint(r.json, "count"), n);
		for (size_t i = 0; i < n; i++)
			EXPECT(
			    api_streq(api_jstr(json_object_array_get_idx(plans, i), "accessLevel"),
			              levels[k]),
			    "%s: plan %zu has accessLevel %s", path, i,
			    api_jstr(json_object_array_get_idx(plans, i), "accessLevel"));
		EXPECT(plan_index(plans, seeded[k].id) >= 0, "%s should include seeded plan %s",
		       path, seeded[k].id);
		api_free(&r);
	}
}

static void test_plans_list_sorts_by_price_name_and_display_order(void)
{
	static const struct {
		const char *query, *key;
		int desc;
	} cases[] = {
	    {"sortBy=price&order=asc", "price", 0},
	    {"sortBy=price&order=desc", "price", 1},
	    {"sortBy=price", "price", 0},
	    {"sortBy=name&order=asc", "name", 0},
	    {"sortBy=name&order=desc", "name", 1},
	    {"sortBy=displayOrder&order=desc", "displayOrder", 1},
	    {"order=desc", "displayOrder", 1},
	    {"sortBy=displayOrder&order=asc", "displayOrder", 0},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		api_resp r;
		char path[160];
		json_object *plans;
		size_t n;

		snprintf(path, sizeof path, PLANS "?%s", cases[k].query);
		api_get(&r, path, NULL);
		EXPECT_OK(r, 200);
		plans = api_jget(r.json, "data.plans");
		n = api_jlen(r.json, "data.plans");
		EXPECT(n >= 4, "%s: expected at least the four seeded plans, got %zu", path, n);
		for (size_t i = 1; i < n; i++) {
			json_object *a = json_object_array_get_idx(plans, i - 1);
			json_object *b = json_object_array_get_idx(plans, i);
			int cmp;

			if (strcmp(cases[k].key, "name") == 0) {
				const char *x = api_jstr(a, "name"), *y = api_jstr(b, "name");
				cmp = x && y ? strcasecmp(x, y) : 0;
			} else if (strcmp(cases[k].key, "price") == 0) {
				double x = 0, y = 0;
				jnum(a, "price", &x);
				jnum(b, "price", &y);
				cmp = x < y ? -1 : x > y ? 1 : 0;
			} else {
				long long x = api_jint(a, "displayOrder"),
				          y = api_jint(b, "displayOrder");
				cmp = x < y ? -1 : x > y ? 1 : 0;
			}
			EXPECT(cases[k].desc ? cmp >= 0 : cmp <= 0,
			       "%s: plans %zu (%s) and %zu (%s) are out of order", path, i - 1,
			       api_jstr(a, "name"), i, api_jstr(b, "name"));
		}
		api_free(&r);
	}
}

static void test_plans_list_rejects_bad_access_level_sort_and_order(void)
{
	static const struct {
		const char *query, *fields;
	} cases[] = {
	    {"accessLevel=Gold", "accessLevel"},
	    {"sortBy=popularity", "sortBy"},
	    {"order=sideways", "order"},
	    {"accessLevel=Gold&sortBy=popularity&order=sideways", "accessLevel,sortBy,order"},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		api_resp r;
		char path[160], got[160];

		snprintf(path, sizeof path, PLANS "?%s", cases[k].query);
		api_get(&r, path, NULL);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT_COMMON_HEADERS(r);
		api_error_fields(&r, got, sizeof got);
		EXPECT(api_streq(got, cases[k].fields), "%s: errors should be [%s], got [%s]", path,
		       cases[k].fields, got);
		api_free(&r);
	}
}

static void test_plans_list_shows_admin_writes_on_the_next_request(void)
{
	static const char *views[] = {PLANS, PLANS "?accessLevel=Basic", PLANS "?sortBy=price",
	                              PLANS "?sortBy=name&order=desc"};
	const char *tok = admin_token();
	char name[64], renamed[80], id[32], body[1024], path[128];
	api_resp r;

	if (tok == NULL)
		return;
	api_unique_token(name, sizeof name, "list");
	snprintf(renamed, sizeof renamed, "%s-renamed", name);
	/* every view is in the cache before the write */
	for (size_t v = 0; v < 4; v++) {
		EXPECT(!list_has(views[v], "no-such-id"), "warm-up of %s", views[v]);
		EXPECT(!list_has(views[v], "no-such-id"), "warm-up of %s", views[v]);
	}
	plan_body(body, sizeof body, name, "Basic", "3.25", 30, 900);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_OK(r, 201);
	snprintf(id, sizeof id, "%s",
	         api_jstr(r.json, "data.plan.id") ? api_jstr(r.json, "data.plan.id") : "");
	api_free(&r);
	if (*id == '\0')
		return;
	for (size_t v = 0; v < 4; v++)
		EXPECT(list_has(views[v], id),
		       "created plan %s missing from %s on the next request", id, views[v]);

	/* an update shows at once */
	snprintf(path, sizeof path, PLANS "/%s", id);
	snprintf(body, sizeof body, "{\"name\":\"%s\",\"price\":4.75}", renamed);
	api_send(&r, "PUT", path, tok, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	for (size_t v = 0; v < 4; v++) {
		json_object *p;
		double price = -1;
		int i;

		api_get(&r, views[v], NULL);
		EXPECT_OK(r, 200);
		i = plan_index(api_jget(r.json, "data.plans"), id);
		p = i >= 0 ? json_object_array_get_idx(api_jget(r.json, "data.plans"), (size_t)i)
		           : NULL;
		EXPECT(p && api_streq(api_jstr(p, "name"), renamed) && jnum(p, "price", &price) &&
		           fabs(price - 4.75) < 1e-9,
		       "%s on the next request should show the updated plan (name %s, price 4.75): "
		       "%.400s",
		       views[v], renamed, p ? json_object_to_json_string(p) : "(plan missing)");
		api_free(&r);
	}

	/* a delete shows at once */
	api_send(&r, "DELETE", path, tok, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	for (size_t v = 0; v < 4; v++)
		EXPECT(!list_has(views[v], id), "deleted plan %s still in %s on the next request",
		       id, views[v]);
}

static void test_plan_details_return_plan_and_subscribers_count(void)
{
	char name[64], id[32], path[128];
	api_user u1, u2;
	api_resp r;
	double price = -1;

	memset(&u1, 0, sizeof u1);
	memset(&u2, 0, sizeof u2);

	/* a seeded plan */
	api_get(&r, PLANS "/3", NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	expect_plan_shape(api_jget(r.json, "data.plan"), r.body);
	EXPECT_STR(api_jstr(r.json, "data.plan.id"), "3");
	EXPECT_STR(api_jstr(r.json, "data.plan.name"), "Premium");
	EXPECT(jnum(r.json, "data.plan.price", &price) && fabs(price - 14.99) < 1e-9,
	       "Premium price 14.99, got %.4f", price);
	EXPECT(api_jtype(r.json, "data.subscribersCount", json_type_int) &&
	           api_jint(r.json, "data.subscribersCount") >= 0,
	       "data.subscribersCount should be an integer: %.300s", r.body);
	api_free(&r);

	/* a fresh plan counts exactly its subscribers */
	api_unique_token(name, sizeof name, "count");
	if (create_plan(name, "Premium", "2.50", 30, id, sizeof id) != 0)
		return;
	snprintf(path, sizeof path, PLANS "/%s", id);
	api_get(&r, path, NULL);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.subscribersCount") == 0,
	       "new plan: subscribersCount expected 0, got %lld",
	       api_jint(r.json, "data.subscribersCount"));
	api_free(&r);
	if (api_user_register(&u1, "count-a") == 0 && api_user_register(&u2, "count-b") == 0) {
		subscribe_ok(&u1, id, NULL, 0);
		subscribe_ok(&u2, id, NULL, 0);
		api_get(&r, path, u1.token);
		EXPECT_OK(r, 200);
		EXPECT(api_jint(r.json, "data.subscribersCount") == 2,
		       "after two subscribe: subscribersCount expected 2, got %lld",
		       api_jint(r.json, "data.subscribersCount"));
		api_free(&r);
		/* one moves to another plan: no longer counted */
		subscribe_ok(&u2, "2", NULL, 0);
		api_get(&r, path, NULL);
		EXPECT(api_jint(r.json, "data.subscribersCount") == 1,
		       "after one replaced it: subscribersCount expected 1, got %lld",
		       api_jint(r.json, "data.subscribersCount"));
		api_free(&r);
	}
	api_user_free(&u1);
	api_user_free(&u2);
	retire_plan(id);
}

/* Ids are opaque: one the service never issued names nothing, whatever its shape. */
static void test_plan_details_never_issued_and_unknown_ids_are_404(void)
{
	static const char *bad[] = {"abc", "3x", "-1", "0", "1.5", "99999999999999999999999"};
	api_resp r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, PLANS "/%s", bad[i]);
		api_get(&r, path, NULL);
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
	api_get(&r, PLANS "/987654321", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
}

static void test_deactivated_plan_is_404_except_for_an_admin(void)
{
	char name[64], id[32], path[128];
	const char *tok;
	api_user u;
	api_resp r;

	api_unique_token(name, sizeof name, "gone");
	if (create_plan(name, "Basic", "1.00", 30, id, sizeof id) != 0)
		return;
	tok = admin_token();
	retire_plan(id);
	snprintf(path, sizeof path, PLANS "/%s", id);
	api_get(&r, path, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	if (api_user_register(&u, "gone") == 0) {
		api_get(&r, path, u.token);
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
	api_user_free(&u);
	api_get(&r, path, tok);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.plan.id"), id);
	EXPECT(api_jbool(r.json, "data.plan.isActive") == 0,
	       "admin sees the deactivated plan with isActive false: %.300s", r.body);
	api_free(&r);
}

static void test_plan_create_returns_201_with_every_field(void)
{
	const char *tok = admin_token();
	char name[64], body[1200];
	api_resp r;
	json_object *p;
	double price = -1;
	char *db;

	if (tok == NULL)
		return;
	api_unique_token(name, sizeof name, "create");
	snprintf(body, sizeof body,
	         "{\"name\":\"%s\",\"description\":\"Made here\",\"price\":7.5,"
	         "\"currency\":\"EUR\",\"validityDays\":90,\"accessLevel\":\"Ultimate\","
	         "\"maxDevicesAllowed\":5,\"maxConcurrentStreams\":3,\"resolution\":\"4K\","
	         "\"features\":[\"One\",\"Two\",\"Three\"],\"downloadAllowed\":true,"
	         "\"adsEnabled\":true,\"isPopular\":true,\"displayOrder\":777}",
	         name);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_OK(r, 201);
	EXPECT_COMMON_HEADERS(r);
	p = api_jget(r.json, "data.plan");
	expect_plan_shape(p, r.body);
	EXPECT_STR(api_jstr(p, "name"), name);
	EXPECT_STR(api_jstr(p, "description"), "Made here");
	EXPECT(jnum(p, "price", &price) && fabs(price - 7.5) < 1e-9, "price 7.5, got %.4f", price);
	EXPECT_STR(api_jstr(p, "currency"), "EUR");
	EXPECT(api_jint(p, "validityDays") == 90, "validityDays 90");
	EXPECT_STR(api_jstr(p, "accessLevel"), "Ultimate");
	EXPECT(api_jint(p, "maxDevicesAllowed") == 5, "maxDevicesAllowed 5");
	EXPECT(api_jint(p, "maxConcurrentStreams") == 3, "maxConcurrentStreams 3");
	EXPECT_STR(api_jstr(p, "resolution"), "4K");
	EXPECT(api_jlen(p, "features") == 3 && api_streq(api_jstr(p, "features.2"), "Three"),
	       "features as sent: %.300s", r.body);
	EXPECT(api_jbool(p, "downloadAllowed") == 1, "downloadAllowed true");
	EXPECT(api_jbool(p, "adsEnabled") == 1, "adsEnabled true");
	EXPECT(api_jbool(p, "isPopular") == 1, "isPopular true");
	EXPECT(api_jbool(p, "isActive") == 1, "a new plan is active");
	EXPECT(api_jint(p, "displayOrder") == 777, "displayOrder 777");
	db = api_db_str_s("SELECT CONCAT(price, '|', validity_days, '|', access_level, '|', "
	                  "is_active) FROM plans WHERE name = ?",
	                  name);
	EXPECT(api_streq(db, "7.50|90|3|1"), "plans row: expected 7.50|90|3|1, got %s",
	       db ? db : "(no row)");
	free(db);
	retire_plan(api_jstr(p, "id"));
	api_free(&r);
}

static void test_plan_writes_require_an_admin(void)
{
	char name[64], body[1024];
	long long before = plans_rows();
	api_user u;
	api_resp r;
	char *db;
	static const struct {
		const char *method, *path;
		int body;
	} calls[] = {
	    {"POST", PLANS, 1},
	    {"PUT", PLANS "/2", 1},
	    {"DELETE", PLANS "/2", 0},
	};

	if (api_user_register(&u, "not-admin") != 0)
		return;
	api_unique_token(name, sizeof name, "nope");
	plan_body(body, sizeof body, name, "Basic", "0.10", 30, 1);
	for (size_t i = 0; i < 3; i++) {
		const char *b = calls[i].body ? body : NULL;
		api_send(&r, calls[i].method, calls[i].path, u.token, b);
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
		api_send(&r, calls[i].method, calls[i].path, NULL, b);
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	EXPECT(plans_rows() == before, "plans rows %lld -> %lld", before, plans_rows());
	db = api_db_str_l("SELECT CONCAT(name, '|', price, '|', is_active) FROM plans WHERE id = ?",
	                  2);
	EXPECT(api_streq(db, "Basic|9.99|1"), "plan 2 untouched: expected Basic|9.99|1, got %s",
	       db ? db : "(none)");
	free(db);
	api_user_free(&u);
}

static void test_plan_create_validation_lists_every_bad_field(void)
{
	const char *tok = admin_token();
	char name[64], body[1200], got[256];
	long long before = plans_rows();
	api_resp r;
	static const struct {
		const char *field, *bad;
	} cases[] = {
	    {"price", "-1"},
	    {"price", "9.999"},
	    {"price", "\"9.99\""},
	    {"validityDays", "0"},
	    {"validityDays", "-5"},
	    {"accessLevel", "\"Gold\""},
	    {"resolution", "\"8K\""},
	    {"features", "\"HD\""},
	    {"features", "[1,2]"},
	    {"features", "[\"ok\",{\"x\":1}]"},
	    {"maxDevicesAllowed", "0"},
	    {"maxConcurrentStreams", "\"two\""},
	};

	if (tok == NULL)
		return;
	/* nothing given: every required field is listed */
	api_send(&r, "POST", PLANS, tok, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, got, sizeof got);
	{
		static const char *req[] = {"name",
		                            "price",
		                            "validityDays",
		                            "accessLevel",
		                            "maxDevicesAllowed",
		                            "maxConcurrentStreams",
		                            "resolution"};
		for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
			EXPECT(api_has_error_field(&r, req[i]),
			       "POST plans {}: errors should name %s; got [%s]", req[i], got);
	}
	api_free(&r);

	/* one bad field at a time, in an otherwise valid body */
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		api_unique_token(name, sizeof name, "invalid");
		plan_body_with(body, sizeof body, name, cases[k].field, cases[k].bad);
		api_send(&r, "POST", PLANS, tok, body);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, got, sizeof got);
		EXPECT(api_streq(got, cases[k].field), "%s = %s: errors should be [%s], got [%s]",
		       cases[k].field, cases[k].bad, cases[k].field, got);
		api_free(&r);
		EXPECT(api_db_ll_s("SELECT COUNT(*) FROM plans WHERE name = ?", name) == 0,
		       "%s = %s: a plan was written on a 400", cases[k].field, cases[k].bad);
	}

	/* several at once: all listed */
	api_unique_token(name, sizeof name, "invalid");
	snprintf(body, sizeof body,
	         "{\"name\":\"%s\",\"price\":-3,\"validityDays\":0,\"accessLevel\":\"Gold\","
	         "\"maxDevicesAllowed\":1,\"maxConcurrentStreams\":1,\"resolution\":\"8K\","
	         "\"features\":\"HD\"}",
	         name);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, got, sizeof got);
	EXPECT(
	    api_has_error_field(&r, "price") && api_has_error_field(&r, "validityDays") &&
	        api_has_error_field(&r, "accessLevel") && api_has_error_field(&r, "resolution") &&
	        api_has_error_field(&r, "features") && !api_has_error_field(&r, "name"),
	    "errors should be price,validityDays,accessLevel,resolution,features; got [%s]", got);
	api_free(&r);
	EXPECT(plans_rows() == before, "plans rows %lld -> %lld after 400s", before, plans_rows());
}

static void test_plan_update_is_partial(void)
{
	char name[64], id[32], path[128];
	const char *tok;
	api_resp r;
	json_object *p;
	double price = -1;
	char *row, *after;

	api_unique_token(name, sizeof name, "update");
	if (create_plan(name, "Basic", "5.00", 30, id, sizeof id) != 0)
		return;
	tok = admin_token();
	snprintf(path, sizeof path, PLANS "/%s", id);
	api_send(&r, "PUT", path, tok, "{\"price\":12.5,\"isPopular\":true}");
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	p = api_jget(r.json, "data.plan");
	EXPECT_STR(api_jstr(p, "id"), id);
	EXPECT(jnum(p, "price", &price) && fabs(price - 12.5) < 1e-9, "price 12.5, got %.4f",
	       price);
	EXPECT(api_jbool(p, "isPopular") == 1, "isPopular true");
	/* everything not sent keeps its value */
	EXPECT_STR(api_jstr(p, "name"), name);
	EXPECT_STR(api_jstr(p, "accessLevel"), "Basic");
	EXPECT_STR(api_jstr(p, "resolution"), "1080p");
	EXPECT_STR(api_jstr(p, "description"), "A plan made by the API tests");
	EXPECT(api_jint(p, "validityDays") == 30 && api_jint(p, "maxDevicesAllowed") == 3 &&
	           api_jint(p, "maxConcurrentStreams") == 2 && api_jint(p, "displayOrder") == 500 &&
	           api_jlen(p, "features") == 2,
	       "unsent fields keep their values: %.400s", r.body);
	api_free(&r);

	/* a bad update changes nothing */
	row = api_db_str_l("SELECT CONCAT_WS('|', name, price, validity_days, access_level, "
	                   "resolution, is_popular, updated_at) FROM plans WHERE id = ?",
	                   atoll(id));
	api_send(&r, "PUT", path, tok,
	         "{\"price\":-1,\"validityDays\":0,\"accessLevel\":\"Gold\",\"name\":\"X\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "price") && api_has_error_field(&r, "validityDays") &&
	           api_has_error_field(&r, "accessLevel") && api_has_error_field(&r, "name"),
	       "PUT with four bad fields should list them all: %.300s", r.body);
	api_free(&r);
	after = api_db_str_l("SELECT CONCAT_WS('|', name, price, validity_days, access_level, "
	                     "resolution, is_popular, updated_at) FROM plans WHERE id = ?",
	                     atoll(id));
	EXPECT(api_streq(row, after), "plan row changed on a 400: %s -> %s", row, after);
	free(row);
	free(after);

	/* never issued and unknown ids: both name no plan */
	api_send(&r, "PUT", PLANS "/abc", tok, "{\"price\":1}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "PUT", PLANS "/987654321", tok, "{\"price\":1}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	retire_plan(id);
}

static void test_plan_duplicate_name_is_409_on_create_and_rename(void)
{
	char name[64], id[32], path[128], body[1024];
	const char *tok;
	long long before;
	api_resp r;
	char *db;

	api_unique_token(name, sizeof name, "dup");
	if (create_plan(name, "Basic", "5.00", 30, id, sizeof id) != 0)
		return;
	tok = admin_token();
	before = plans_rows();
	plan_body(body, sizeof body, "Premium", "Premium", "1.00", 30, 1);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_STR(api_jstr(r.json, "errors.0.field"), "name");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	plan_body(body, sizeof body, name, "Premium", "1.00", 30, 1);
	api_send(&r, "POST", PLANS, tok, body);
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_STR(api_jstr(r.json, "errors.0.field"), "name");
	api_free(&r);
	EXPECT(plans_rows() == before, "plans rows %lld -> %lld on 409", before, plans_rows());

	snprintf(path, sizeof path, PLANS "/%s", id);
	api_send(&r, "PUT", path, tok, "{\"name\":\"Basic\",\"price\":2.00}");
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_STR(api_jstr(r.json, "errors.0.field"), "name");
	api_free(&r);
	db = api_db_str_l("SELECT CONCAT(name, '|', price) FROM plans WHERE id = ?", atoll(id));
	{
		char want[96];
		snprintf(want, sizeof want, "%s|5.00", name);
		EXPECT(api_streq(db, want), "renamed plan unchanged: expected %s, got %s", want,
		       db ? db : "(none)");
	}
	free(db);
	/* renaming to its own name is no conflict */
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
	api_send(&r, "PUT", path, tok, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	retire_plan(id);
}

static void test_plan_delete_deactivates_and_subscribers_keep_it(void)
{
	char name[64], id[32], path[128], pj[48];
	const char *tok;
	api_user u, late;
	api_resp r;
	long long created;

	api_unique_token(name, sizeof name, "retire");
	if (create_plan(name, "Premium", "3.00", 30, id, sizeof id) != 0)
		return;
	tok = admin_token();
	if (api_user_register(&u, "retire-sub") != 0 || subscribe_ok(&u, id, NULL, 0) != 0) {
		api_user_free(&u);
		retire_plan(id);
		return;
	}
	expect_me_level(u.token, "Premium", name, "subscriber before the delete");

	snprintf(path, sizeof path, PLANS "/%s", id);
	api_send(&r, "DELETE", path, tok, NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_jbool(r.json, "data.plan.isActive") == 0,
	       "DELETE answers the plan with isActive false: %.300s", r.body);
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT is_active FROM plans WHERE id = ?", atoll(id)) == 0,
	       "plans.is_active should be 0 after DELETE (the row stays)");
	EXPECT(!list_has(PLANS, id), "deleted plan %s is still listed", id);

	/* the subscriber keeps it */
	EXPECT(subs_with_status(u.id, "active") == 1, "the subscription stays active");
	api_get(&r, SUBS "/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.subscription.plan.id"), id);
	EXPECT_STR(api_jstr(r.json, "data.subscription.status"), "active");
	api_free(&r);
	expect_me_level(u.token, "Premium", name, "subscriber after the delete");
	api_get(&r, path, tok);
	EXPECT(api_jint(r.json, "data.subscribersCount") == 1,
	       "the deactivated plan still counts its subscriber: %.300s", r.body);
	api_free(&r);

	/* nobody new can take it */
	if (api_user_register(&late, "retire-late") == 0) {
		created = api_outbox_count(late.id, "subscription.created");
		snprintf(pj, sizeof pj, "\"%s\"", id);
		subscribe_raw(&r, late.token, pj, "card");
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "planId"), "errors should name planId: %.300s",
		       r.body);
		api_free(&r);
		EXPECT(subs_count(late.id) == 0, "no subscription written for a deactivated plan");
		EXPECT(api_outbox_count(late.id, "subscription.created") == created,
		       "no outbox event for a refused subscribe");
	}
	api_user_free(&late);

	/* unknown and never issued ids */
	api_send(&r, "DELETE", PLANS "/987654321", tok, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "DELETE", PLANS "/abc", tok, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_user_free(&u);
}

static void test_plan_change_reaches_its_subscribers_on_the_next_request(void)
{
	char name[64], id[32], path[128];
	const char *tok;
	api_user u;
	api_resp r;

	api_unique_token(name, sizeof name, "change");
	if (create_plan(name, "Basic", "2.00", 30, id, sizeof id) != 0)
		return;
	tok = admin_token();
	if (api_user_register(&u, "change-sub") != 0 || subscribe_ok(&u, id, NULL, 0) != 0) {
		api_user_free(&u);
		retire_plan(id);
		return;
	}
	/* the old plan is in the caches */
	expect_me_level(u.token, "Basic", name, "before the plan change");
	expect_me_level(u.token, "Basic", name, "before the plan change, again");
	api_get(&r, SUBS "/status", u.token);
	api_free(&r);
	snprintf(path, sizeof path, PLANS "/%s", id);
	api_send(&r, "PUT", path, tok, "{\"accessLevel\":\"Premium\",\"maxConcurrentStreams\":3}");
	EXPECT_OK(r, 200);
	api_free(&r);
	expect_me_level(u.token, "Premium", name, "right after the plan change");
	api_get(&r, API "/auth/me", u.token);
	EXPECT(api_jint(r.json, "data.user.currentSubscription.plan.maxConcurrentStreams") == 3,
	       "/auth/me right after the plan change should show maxConcurrentStreams 3: %.400s",
	       r.body);
	api_free(&r);
	api_get(&r, SUBS "/status", u.token);
	EXPECT(api_streq(api_jstr(r.json, "data.subscription.plan.accessLevel"), "Premium") &&
	           api_jint(r.json, "data.subscription.plan.maxConcurrentStreams") == 3,
	       "status right after the plan change should show Premium, 3 streams: %.400s", r.body);
	api_free(&r);
	api_user_free(&u);
	retire_plan(id);
}

/* ================================================================ subscriptions */

static void expect_subscription(json_object *s, const char *plan_id, const char *plan_name,
                                const char *level, double price, int validity, const char *method,
                                int auto_renew, const char *body)
{
	long long start = api_iso_ms(api_jstr(s, "startDate"));
	long long end = api_iso_ms(api_jstr(s, "endDate"));
	long long paid = api_iso_ms(api_jstr(s, "paymentDetails.paymentDate"));
	long long now = wall_ms();
	double p = -1, amount = -1;
	const char *txn = api_jstr(s, "paymentDetails.transactionId");

	EXPECT(s && json_object_is_type(s, json_type_object), "subscription object: %.300s", body);
	EXPECT(api_jstr(s, "id") && *api_jstr(s, "id"), "subscription.id should be a string id");
	EXPECT_STR(api_jstr(s, "plan.id"), plan_id);
	EXPECT_STR(api_jstr(s, "plan.name"), plan_name);
	EXPECT_STR(api_jstr(s, "plan.accessLevel"), level);
	EXPECT(jnum(s, "plan.price", &p) && fabs(p - price) < 1e-9,
	       "subscription.plan.price expected %.2f, got %.4f", price, p);
	EXPECT_STR(api_jstr(s, "status"), "active");
	EXPECT(start > 0 && end > 0, "startDate/endDate should be ISO ms times: %.300s", body);
	EXPECT(start > 0 && llabs(start - now) < 120000,
	       "startDate should be now (server %s, test clock %lld ms)",
	       api_jstr(s, "startDate") ? api_jstr(s, "startDate") : "?", now);
	EXPECT(end - start == (long long)validity * 86400000LL,
	       "endDate should be startDate + %d days: %s .. %s", validity,
	       api_jstr(s, "startDate") ? api_jstr(s, "startDate") : "?",
	       api_jstr(s, "endDate") ? api_jstr(s, "endDate") : "?");
	EXPECT(api_jint(s, "daysRemaining") == validity, "daysRemaining expected %d, got %lld",
	       validity, api_jint(s, "daysRemaining"));
	EXPECT(api_jbool(s, "autoRenew") == auto_renew, "autoRenew expected %s: %.300s",
	       auto_renew ? "true" : "false", body);
	EXPECT(txn && *txn, "paymentDetails.transactionId should be a string: %.300s", body);
	EXPECT(jnum(s, "paymentDetails.amount", &amount) && fabs(amount - price) < 1e-9,
	       "paymentDetails.amount expected %.2f, got %.4f", price, amount);
	EXPECT_STR(api_jstr(s, "paymentDetails.currency"), "USD");
	EXPECT_STR(api_jstr(s, "paymentDetails.paymentMethod"), method);
	EXPECT(paid > 0 && llabs(paid - now) < 120000,
	       "paymentDetails.paymentDate should be now: %s",
	       api_jstr(s, "paymentDetails.paymentDate") ? api_jstr(s, "paymentDetails.paymentDate")
	                                                 : "(absent)");
}

static void test_subscribe_returns_201_with_active_subscription_and_payment(void)
{
	api_user u;
	api_resp r;
	json_object *s;
	char *row;
	char want[200];

	if (api_user_register(&u, "sub-shape") != 0)
		return;
	api_send(&r, "POST", SUBS "/subscribe", u.token,
	         "{\"planId\":\"2\",\"paymentMethod\":\"card\"}");
	EXPECT_OK(r, 201);
	EXPECT_COMMON_HEADERS(r);
	s = api_jget(r.json, "data.subscription");
	expect_subscription(s, "2", "Basic", "Basic", 9.99, 30, "card", 1, r.body);
	/* what was stored */
	row = api_db_str_l("SELECT CONCAT_WS('|', plan_id, status, auto_renew, amount, currency, "
	                   "payment_method, transaction_id) FROM subscriptions WHERE user_id = ?",
	                   atoll(u.id));
	snprintf(want, sizeof want, "2|active|1|9.99|USD|card|%s",
	         api_jstr(s, "paymentDetails.transactionId")
	             ? api_jstr(s, "paymentDetails.transactionId")
	             : "?");
	EXPECT(api_streq(row, want), "subscriptions row: expected %s, got %s", want,
	       row ? row : "(none)");
	free(row);
	EXPECT(subs_count(u.id) == 1, "one subscriptions row");
	api_free(&r);
	api_user_free(&u);
}

static void test_subscribe_accepts_numeric_plan_id_and_every_payment_method(void)
{
	static const struct {
		const char *plan, *id, *name, *method;
		double price;
		int auto_renew;
		const char *renew_json;
	} cases[] = {
	    {"3", "3", "Premium", "paypal", 14.99, 0, ",\"autoRenew\":false"},
	    {"\"4\"", "4", "Ultimate", "bank_transfer", 19.99, 1, ",\"autoRenew\":true"},
	    {"2", "2", "Basic", "card", 9.99, 1, ""},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		api_user u;
		api_resp r;
		char body[256];

		if (api_user_register(&u, "sub-methods") != 0)
			return;
		snprintf(body, sizeof body, "{\"planId\":%s,\"paymentMethod\":\"%s\"%s}",
		         cases[k].plan, cases[k].method, cases[k].renew_json);
		api_send(&r, "POST", SUBS "/subscribe", u.token, body);
		EXPECT_OK(r, 201);
		expect_subscription(api_jget(r.json, "data.subscription"), cases[k].id,
		                    cases[k].name, cases[k].name, cases[k].price, 30,
		                    cases[k].method, cases[k].auto_renew, r.body);
		api_free(&r);
		api_user_free(&u);
	}
}

static void test_subscribe_transaction_ids_are_unique(void)
{
	char txn[6][80];
	int n = 0;
	api_user u;

	if (api_user_register(&u, "sub-txn") != 0)
		return;
	for (int i = 0; i < 6; i++) {
		api_resp r;
		subscribe_raw(&r, u.token, i % 2 ? "\"3\"" : "\"2\"", "card");
		EXPECT_OK(r, 201);
		snprintf(txn[n++], sizeof txn[0], "%s",
		         api_jstr(r.json, "data.subscription.paymentDetails.transactionId")
		             ? api_jstr(r.json, "data.subscription.paymentDetails.transactionId")
		             : "");
		api_free(&r);
	}
	for (int i = 0; i < n; i++) {
		EXPECT(txn[i][0] != '\0', "subscribe %d: no transactionId", i);
		for (int j = 0; j < i; j++)
			EXPECT(strcmp(txn[i], txn[j]) != 0, "transactionId %s repeated (%d and %d)",
			       txn[i], j, i);
	}
	EXPECT(api_db_ll_l("SELECT COUNT(DISTINCT transaction_id) FROM subscriptions WHERE "
	                   "user_id = ?",
	                   atoll(u.id)) == 6,
	       "six distinct stored transaction ids");
	api_user_free(&u);
}

static void test_subscribe_rejects_unknown_plan_bad_method_and_missing_fields(void)
{
	static const struct {
		const char *body;
		long status;
		const char *code, *fields;
	} cases[] = {
	    {"{\"planId\":\"987654321\",\"paymentMethod\":\"card\"}", 404, "NOT_FOUND", ""},
	    {"{\"planId\":987654321,\"paymentMethod\":\"card\"}", 404, "NOT_FOUND", ""},
	    {"{\"planId\":\"2\",\"paymentMethod\":\"bitcoin\"}", 400, "VALIDATION_ERROR",
	     "paymentMethod"},
	    {"{\"planId\":\"2\",\"paymentMethod\":\"\"}", 400, "VALIDATION_ERROR", "paymentMethod"},
	    {"{\"planId\":\"2\"}", 400, "VALIDATION_ERROR", "paymentMethod"},
	    {"{\"paymentMethod\":\"card\"}", 400, "VALIDATION_ERROR", "planId"},
	    {"{}", 400, "VALIDATION_ERROR", "planId,paymentMethod"},
	    {"{\"planId\":\"abc\",\"paymentMethod\":\"card\"}", 400, "VALIDATION_ERROR", "planId"},
	    {"{\"planId\":\"2\",\"paymentMethod\":\"card\",\"autoRenew\":\"yes\"}", 400,
	     "VALIDATION_ERROR", "autoRenew"},
	};
	api_user u;
	api_resp r;

	if (api_user_register(&u, "sub-bad") != 0)
		return;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char got[128];
		api_send(&r, "POST", SUBS "/subscribe", u.token, cases[k].body);
		EXPECT_ERROR(r, cases[k].status, cases[k].code);
		EXPECT_COMMON_HEADERS(r);
		api_error_fields(&r, got, sizeof got);
		EXPECT(api_streq(got, cases[k].fields), "%s: errors should be [%s], got [%s]",
		       cases[k].body, cases[k].fields, got);
		api_free(&r);
	}
	api_send(&r, "POST", SUBS "/subscribe", NULL,
	         "{\"planId\":\"2\",\"paymentMethod\":\"card\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(subs_count(u.id) == 0, "no subscriptions row after refused subscribes, got %lld",
	       subs_count(u.id));
	EXPECT(api_outbox_count(u.id, "subscription.created") == 0,
	       "no subscription.created event after refused subscribes, got %lld",
	       api_outbox_count(u.id, "subscription.created"));
	expect_me_level(u.token, "Free", NULL, "after refused subscribes");
	api_user_free(&u);
}

static void test_subscribe_while_active_replaces_the_old_one_at_once(void)
{
	char first[32], second[32];
	api_user u;
	api_resp r;
	json_object *subs;

	if (api_user_register(&u, "sub-replace") != 0)
		return;
	if (subscribe_ok(&u, "2", first, sizeof first) != 0 ||
	    subscribe_ok(&u, "3", second, sizeof second) != 0) {
		api_user_free(&u);
		return;
	}
	EXPECT(strcmp(first, second) != 0, "a new subscription id");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE id = ? AND status = "
	                   "'replaced' AND ended_at IS NOT NULL",
	                   atoll(first)) == 1,
	       "the old subscription %s should be status replaced with ended_at set", first);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE id = ? AND status = 'active'",
	                   atoll(second)) == 1,
	       "the new subscription %s should be active", second);
	EXPECT(subs_with_status(u.id, "active") == 1, "exactly one active subscription");

	api_get(&r, SUBS "/history", u.token);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	subs = api_jget(r.json, "data.subscriptions");
	EXPECT(api_jlen(r.json, "data.subscriptions") == 2 && api_jint(r.json, "count") == 2,
	       "history should show both: %.400s", r.body);
	EXPECT_STR(api_jstr(subs, "0.id"), second);
	EXPECT_STR(api_jstr(subs, "0.status"), "active");
	EXPECT_STR(api_jstr(subs, "0.plan.name"), "Premium");
	EXPECT_STR(api_jstr(subs, "1.id"), first);
	EXPECT_STR(api_jstr(subs, "1.status"), "replaced");
	EXPECT_STR(api_jstr(subs, "1.plan.name"), "Basic");
	EXPECT(api_is_iso_ms(api_jstr(subs, "1.endedAt")),
	       "the replaced subscription's endedAt should be an ISO time: %.400s", r.body);
	api_free(&r);
	expect_me_level(u.token, "Premium", "Premium", "after the replacing subscribe");
	api_user_free(&u);
}

static void test_history_is_newest_first_and_paged(void)
{
	static const char *plans[] = {"2", "3", "4"};
	static const char *names[] = {"Basic", "Premium", "Ultimate"};
	char ids[3][32];
	api_user u, none;
	api_resp r;

	if (api_user_register(&u, "history") != 0)
		return;
	for (int i = 0; i < 3; i++)
		if (subscribe_ok(&u, plans[i], ids[i], sizeof ids[i]) != 0) {
			api_user_free(&u);
			return;
		}

	api_get(&r, SUBS "/history", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 3, "count 3: %.300s", r.body);
	EXPECT(api_jint(r.json, "pagination.page") == 1 &&
	           api_jint(r.json, "pagination.limit") == 20 &&
	           api_jint(r.json, "pagination.total") == 3 &&
	           api_jint(r.json, "pagination.pages") == 1,
	       "default pagination {1,20,3,1}: %.300s",
	       api_jget(r.json, "pagination")
	           ? json_object_to_json_string(api_jget(r.json, "pagination"))
	           : "(absent)");
	for (int i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof p, "data.subscriptions.%d.id", i);
		EXPECT(api_streq(api_jstr(r.json, p), ids[2 - i]),
		       "history[%d] should be %s (%s), got %s", i, ids[2 - i], names[2 - i],
		       api_jstr(r.json, p) ? api_jstr(r.json, p) : "(none)");
		snprintf(p, sizeof p, "data.subscriptions.%d.status", i);
		EXPECT_STR(api_jstr(r.json, p), i == 0 ? "active" : "replaced");
	}
	api_free(&r);

	api_get(&r, SUBS "/history?page=1&limit=2", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 2 && api_jint(r.json, "pagination.limit") == 2 &&
	           api_jint(r.json, "pagination.total") == 3 &&
	           api_jint(r.json, "pagination.pages") == 2,
	       "page 1 of 2: %.400s", r.body);
	EXPECT_STR(api_jstr(r.json, "data.subscriptions.0.id"), ids[2]);
	EXPECT_STR(api_jstr(r.json, "data.subscriptions.1.id"), ids[1]);
	api_free(&r);
	api_get(&r, SUBS "/history?page=2&limit=2", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 1 && api_jint(r.json, "pagination.page") == 2,
	       "page 2 of 2: %.400s", r.body);
	EXPECT_STR(api_jstr(r.json, "data.subscriptions.0.id"), ids[0]);
	api_free(&r);
	api_get(&r, SUBS "/history?page=3&limit=2", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 0 && api_jlen(r.json, "data.subscriptions") == 0,
	       "past the last page: empty: %.300s", r.body);
	api_free(&r);
	api_get(&r, SUBS "/history?limit=50", u.token);
	EXPECT_OK(r, 200);
	api_free(&r);

	{
		static const char *bad[] = {"limit=51", "limit=0", "limit=abc",
		                            "page=0",   "page=-1", "page=x"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			char path[128];
			snprintf(path, sizeof path, SUBS "/history?%s", bad[i]);
			api_get(&r, path, u.token);
			EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
			EXPECT(api_has_error_field(&r, bad[i][0] == 'l' ? "limit" : "page"),
			       "%s: errors should name the parameter: %.300s", path, r.body);
			api_free(&r);
		}
	}

	/* someone with none */
	if (api_user_register(&none, "history-none") == 0) {
		api_get(&r, SUBS "/history", none.token);
		EXPECT_OK(r, 200);
		EXPECT(api_jint(r.json, "count") == 0 &&
		           api_jint(r.json, "pagination.total") == 0 &&
		           api_jlen(r.json, "data.subscriptions") == 0,
		       "no history: %.300s", r.body);
		api_free(&r);
	}
	api_user_free(&none);
	api_get(&r, SUBS "/history", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

/* The number of content items of level in GET /content?limit=100 (as token). */
static int content_items_of(const char *token, const char *level)
{
	api_resp r;
	json_object *arr;
	int n = 0;

	api_get(&r, API "/content?limit=100", token);
	EXPECT_OK(r, 200);
	arr = api_jget(r.json, "data.content");
	for (size_t i = 0;
	     arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr);
	     i++)
		if (api_streq(api_jstr(json_object_array_get_idx(arr, i), "accessLevel"), level))
			n++;
	api_free(&r);
	return n;
}

static void test_upgrade_applies_on_the_very_next_request(void)
{
	api_user u;
	api_resp r;
	char body[512];
	long long premium_titles =
	    api_db_ll("SELECT COUNT(*) FROM content WHERE is_active = 1 AND access_level = 2");

	if (api_user_register(&u, "upgrade") != 0)
		return;
	if (subscribe_ok(&u, "2", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	/* the Basic level is in every cache before the upgrade */
	expect_me_level(u.token, "Basic", "Basic", "Basic user");
	expect_me_level(u.token, "Basic", "Basic", "Basic user, again");
	EXPECT(content_items_of(u.token, "Premium") == 0,
	       "a Basic user's /content should hold no Premium title");
	EXPECT(content_items_of(u.token, "Premium") == 0,
	       "a Basic user's /content should hold no Premium title (again)");
	api_get(&r, SUBS "/status", u.token);
	EXPECT_STR(api_jstr(r.json, "data.subscription.plan.accessLevel"), "Basic");
	api_free(&r);

	if (subscribe_ok(&u, "3", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	expect_me_level(u.token, "Premium", "Premium", "right after the upgrade");
	expect_me_level(u.token, "Premium", "Premium", "right after the upgrade, again");
	api_get(&r, SUBS "/status", u.token);
	EXPECT_STR(api_jstr(r.json, "data.subscription.plan.accessLevel"), "Premium");
	api_free(&r);
	EXPECT(premium_titles > 0, "the demo catalogue should hold Premium titles");
	EXPECT(content_items_of(u.token, "Premium") == (int)premium_titles,
	       "after the upgrade /content?limit=100 should hold all %lld Premium titles, got %d",
	       premium_titles, content_items_of(u.token, "Premium"));

	/* and a new sign-in says so */
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email, u.password);
	api_send(&r, "POST", API "/auth/login", NULL, body);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.user.accessLevel"), "Premium");
	EXPECT_STR(api_jstr(r.json, "data.user.subscription.plan.name"), "Premium");
	EXPECT_STR(api_jstr(r.json, "data.user.subscription.status"), "active");
	api_free(&r);

	/* a downgrade applies as fast */
	if (subscribe_ok(&u, "2", NULL, 0) == 0) {
		expect_me_level(u.token, "Basic", "Basic", "right after the downgrade");
		EXPECT(content_items_of(u.token, "Premium") == 0,
		       "after the downgrade /content should hold no Premium title");
	}
	api_user_free(&u);
}

static void test_status_without_subscription_is_null_with_message(void)
{
	api_user u;
	api_resp r;
	const char *m;

	if (api_user_register(&u, "status-none") != 0)
		return;
	api_get(&r, SUBS "/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_jnull(r.json, "data.subscription"), "data.subscription should be null: %.300s",
	       r.body);
	m = api_jstr(r.json, "data.message");
	EXPECT(m && *m, "data.message should explain: %.300s", r.body);
	api_free(&r);
	api_get(&r, SUBS "/status", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

static void test_status_shows_subscription_days_remaining_and_devices(void)
{
	char dev[64];
	api_user u;
	api_resp r;
	json_object *s, *d;
	int found = 0;

	if (api_user_register(&u, "status") != 0)
		return;
	api_unique_token(dev, sizeof dev, "status-dev");
	EXPECT(api_db_ready() == 0 &&
	           sp_db_exec("INSERT INTO devices (user_id, device_id, device_name, device_type) "
	                      "VALUES (?, ?, 'Living room TV', 'tv')",
	                      "ls", atoll(u.id), dev) == 1,
	       "cannot insert a device row");
	if (subscribe_ok(&u, "3", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	api_get(&r, SUBS "/status", u.token);
	EXPECT_OK(r, 200);
	s = api_jget(r.json, "data.subscription");
	expect_subscription(s, "3", "Premium", "Premium", 14.99, 30, "card", 1, r.body);
	d = api_jget(s, "devices");
	EXPECT(d && json_object_is_type(d, json_type_array), "subscription.devices[]: %.400s",
	       r.body);
	for (size_t i = 0;
	     d && json_object_is_type(d, json_type_array) && i < json_object_array_length(d); i++) {
		json_object *e = json_object_array_get_idx(d, i);
		if (api_streq(api_jstr(e, "deviceId"), dev)) {
			found = 1;
			EXPECT_STR(api_jstr(e, "deviceName"), "Living room TV");
			EXPECT_STR(api_jstr(e, "deviceType"), "tv");
			EXPECT(api_is_iso_ms(api_jstr(e, "lastUsed")), "device lastUsed ISO time");
		}
	}
	EXPECT(found, "status devices[] should list %s: %.400s", dev, r.body);
	api_free(&r);
	api_user_free(&u);
}

static void test_status_reflects_subscribe_and_cancel_on_the_next_request(void)
{
	api_user u;
	api_resp r;

	if (api_user_register(&u, "status-cache") != 0)
		return;
	for (int i = 0; i < 2; i++) {
		api_get(&r, SUBS "/status", u.token);
		EXPECT(api_jnull(r.json, "data.subscription"), "no subscription yet: %.300s",
		       r.body);
		api_free(&r);
	}
	if (subscribe_ok(&u, "2", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	for (int i = 0; i < 2; i++) {
		api_get(&r, SUBS "/status", u.token);
		EXPECT_OK(r, 200);
		EXPECT(api_streq(api_jstr(r.json, "data.subscription.plan.name"), "Basic"),
		       "status right after subscribe (call %d) should show Basic: %.300s", i + 1,
		       r.body);
		api_free(&r);
	}
	subscribe_ok(&u, "4", NULL, 0);
	api_get(&r, SUBS "/status", u.token);
	EXPECT(api_streq(api_jstr(r.json, "data.subscription.plan.name"), "Ultimate"),
	       "status right after the replacing subscribe should show Ultimate: %.300s", r.body);
	api_free(&r);
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{}");
	EXPECT_OK(r, 200);
	api_free(&r);
	api_get(&r, SUBS "/status", u.token);
	EXPECT(api_jbool(r.json, "data.subscription.autoRenew") == 0 &&
	           api_jtype(r.json, "data.subscription.cancellationDetails", json_type_object),
	       "status right after cancel should show autoRenew false and cancellationDetails: "
	       "%.400s",
	       r.body);
	EXPECT_STR(api_jstr(r.json, "data.subscription.status"), "active");
	api_free(&r);
	api_user_free(&u);
}

static void test_cancel_stops_renewal_but_keeps_status_and_level(void)
{
	api_user u;
	api_resp r;
	json_object *s;
	long long cancelled_at;

	if (api_user_register(&u, "cancel") != 0)
		return;
	if (subscribe_ok(&u, "3", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	expect_me_level(u.token, "Premium", "Premium", "before cancel");
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":\"Too expensive for me\"}");
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	s = api_jget(r.json, "data.subscription");
	EXPECT(s != NULL, "data.subscription: %.300s", r.body);
	EXPECT(api_jbool(s, "autoRenew") == 0, "autoRenew false after cancel: %.300s", r.body);
	EXPECT_STR(api_jstr(s, "status"), "active");
	EXPECT_STR(api_jstr(s, "plan.name"), "Premium");
	cancelled_at = api_iso_ms(api_jstr(s, "cancellationDetails.cancelledAt"));
	EXPECT(cancelled_at > 0 && llabs(cancelled_at - wall_ms()) < 120000,
	       "cancellationDetails.cancelledAt should be now: %.400s", r.body);
	EXPECT_STR(api_jstr(s, "cancellationDetails.reason"), "Too expensive for me");
	EXPECT(api_jint(s, "daysRemaining") == 30, "daysRemaining stays 30, got %lld",
	       api_jint(s, "daysRemaining"));
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE user_id = ? AND status = "
	                   "'active' AND auto_renew = 0 AND cancelled_at IS NOT NULL",
	                   atoll(u.id)) == 1,
	       "the row stays active with auto_renew 0 and cancelled_at set");
	/* the level is kept */
	expect_me_level(u.token, "Premium", "Premium", "after cancel");
	expect_me_level(u.token, "Premium", "Premium", "after cancel, again");
	api_get(&r, API "/auth/me", u.token);
	EXPECT(api_jbool(r.json, "data.user.currentSubscription.autoRenew") == 0,
	       "/auth/me currentSubscription.autoRenew false after cancel: %.300s", r.body);
	api_free(&r);
	EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 1,
	       "one subscription.cancelled event, got %lld",
	       api_outbox_count(u.id, "subscription.cancelled"));

	/* twice: conflict, nothing more written */
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":\"again\"}");
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 1,
	       "still one subscription.cancelled event after the 409, got %lld",
	       api_outbox_count(u.id, "subscription.cancelled"));
	{
		char *reason = api_db_str_l("SELECT cancel_reason FROM subscriptions WHERE user_id "
		                            "= ? AND status = 'active'",
		                            atoll(u.id));
		EXPECT(api_streq(reason, "Too expensive for me"),
		       "the first reason is kept, got %s", reason ? reason : "(null)");
		free(reason);
	}
	api_user_free(&u);
}

static void test_cancel_without_reason_records_null_reason(void)
{
	api_user u;
	api_resp r;

	if (api_user_register(&u, "cancel-noreason") != 0)
		return;
	if (subscribe_ok(&u, "2", NULL, 0) == 0) {
		api_send(&r, "PUT", SUBS "/cancel", u.token, "{}");
		EXPECT_OK(r, 200);
		EXPECT(
		    api_jtype(r.json, "data.subscription.cancellationDetails", json_type_object) &&
		        api_jnull(r.json, "data.subscription.cancellationDetails.reason"),
		    "cancellationDetails.reason should be null without a reason: %.300s", r.body);
		api_free(&r);
		EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 1,
		       "one subscription.cancelled event");
	}
	api_user_free(&u);
}

static void test_cancel_without_active_subscription_is_404(void)
{
	api_user u;
	api_resp r;

	if (api_user_register(&u, "cancel-none") != 0)
		return;
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":\"nothing to cancel\"}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 0,
	       "no event for a 404 cancel, got %lld",
	       api_outbox_count(u.id, "subscription.cancelled"));
	api_send(&r, "PUT", SUBS "/cancel", NULL, "{}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

static void test_cancel_reason_over_500_characters_is_400(void)
{
	char reason[520], body[700];
	api_user u;
	api_resp r;
	char got[64];

	if (api_user_register(&u, "cancel-long") != 0)
		return;
	if (subscribe_ok(&u, "2", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	memset(reason, 'r', 501);
	reason[501] = '\0';
	snprintf(body, sizeof body, "{\"reason\":\"%s\"}", reason);
	api_send(&r, "PUT", SUBS "/cancel", u.token, body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, got, sizeof got);
	EXPECT(api_streq(got, "reason"), "errors should be [reason], got [%s]", got);
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE user_id = ? AND cancelled_at "
	                   "IS NULL AND auto_renew = 1",
	                   atoll(u.id)) == 1,
	       "the subscription is not cancelled by a 400");
	EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 0, "no event for a 400 cancel");
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":42}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	/* exactly 500 is fine */
	reason[500] = '\0';
	snprintf(body, sizeof body, "{\"reason\":\"%s\"}", reason);
	api_send(&r, "PUT", SUBS "/cancel", u.token, body);
	EXPECT_OK(r, 200);
	EXPECT(api_streq(api_jstr(r.json, "data.subscription.cancellationDetails.reason"), reason),
	       "the 500-character reason is kept");
	api_free(&r);
	api_user_free(&u);
}

static void test_outbox_has_one_event_per_subscribe_and_cancel(void)
{
	char first[32], second[32];
	api_user u;
	api_resp r;
	char *txn, *payload_txn, *plan;

	if (api_user_register(&u, "outbox") != 0)
		return;
	if (subscribe_ok(&u, "2", first, sizeof first) != 0)
		goto out;
	EXPECT(api_outbox_count(u.id, "subscription.created") == 1,
	       "one subscription.created after the first subscribe, got %lld",
	       api_outbox_count(u.id, "subscription.created"));
	txn = api_db_str_l("SELECT transaction_id FROM subscriptions WHERE id = ?", atoll(first));
	payload_txn = api_db_str_l(
	    "SELECT JSON_UNQUOTE(JSON_EXTRACT(payload, '$.transactionId')) FROM outbox WHERE "
	    "user_id = ? AND event_type = 'subscription.created' ORDER BY id DESC LIMIT 1",
	    atoll(u.id));
	EXPECT(txn && api_streq(txn, payload_txn),
	       "the event's payload names the transaction %s, got %s", txn ? txn : "?",
	       payload_txn ? payload_txn : "(none)");
	free(txn);
	free(payload_txn);

	/* failures write nothing */
	subscribe_raw(&r, u.token, "\"987654321\"", "card");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	subscribe_raw(&r, u.token, "\"3\"", "cash");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	EXPECT(api_outbox_count(u.id, "subscription.created") == 1,
	       "refused subscribes write no event, got %lld",
	       api_outbox_count(u.id, "subscription.created"));

	/* a replacing subscribe is one more */
	if (subscribe_ok(&u, "3", second, sizeof second) != 0)
		goto out;
	EXPECT(api_outbox_count(u.id, "subscription.created") == 2,
	       "one more subscription.created for the replacing subscribe, got %lld",
	       api_outbox_count(u.id, "subscription.created"));
	plan = api_db_str_l("SELECT JSON_EXTRACT(payload, '$.planId') FROM outbox WHERE user_id = "
	                    "? AND event_type = 'subscription.created' ORDER BY id DESC LIMIT 1",
	                    atoll(u.id));
	EXPECT(plan && (strcmp(plan, "3") == 0 || strcmp(plan, "\"3\"") == 0),
	       "the newest event is for plan 3, got %s", plan ? plan : "(none)");
	free(plan);

	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":\"moving\"}");
	EXPECT_OK(r, 200);
	api_free(&r);
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{}");
	EXPECT_ERROR(r, 409, "CONFLICT");
	api_free(&r);
	api_send(&r, "PUT", SUBS "/cancel", u.token, "{\"reason\":7}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	EXPECT(api_outbox_count(u.id, "subscription.cancelled") == 1,
	       "exactly one subscription.cancelled, got %lld",
	       api_outbox_count(u.id, "subscription.cancelled"));
	EXPECT(api_outbox_count(u.id, "subscription.created") == 2,
	       "still two subscription.created, got %lld",
	       api_outbox_count(u.id, "subscription.created"));
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND event_type LIKE "
	                   "'subscription.%' AND JSON_VALID(payload)",
	                   atoll(u.id)) == 3,
	       "three subscription events with JSON payloads");
out:
	api_user_free(&u);
}

static void test_subscribe_rolls_back_when_the_outbox_write_fails(void)
{
	char first[32], err[512];
	api_user u;
	api_resp r;
	long long created, subs;
	int trigger = 0;

	if (api_user_register(&u, "atomic") != 0)
		return;
	if (subscribe_ok(&u, "2", first, sizeof first) != 0) {
		api_user_free(&u);
		return;
	}
	expect_me_level(u.token, "Basic", "Basic", "before the failing subscribe");
	created = api_outbox_count(u.id, "subscription.created");
	subs = subs_count(u.id);
	(void)api_db_script("DROP TRIGGER IF EXISTS t_fail", err, sizeof err);
	trigger = api_db_script("CREATE TRIGGER t_fail BEFORE INSERT ON outbox FOR EACH ROW "
	                        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test'",
	                        err, sizeof err) == 0;
	EXPECT(trigger, "cannot create the failing outbox trigger: %s", err);
	if (trigger) {
		subscribe_raw(&r, u.token, "\"3\"", "card");
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		EXPECT_COMMON_HEADERS(r);
		EXPECT(strstr(r.body, "45000") == NULL && strstr(r.body, "t_fail") == NULL,
		       "no database error text in the 503: %.300s", r.body);
		api_free(&r);
	}
	/* always remove it */
	EXPECT(api_db_script("DROP TRIGGER IF EXISTS t_fail", err, sizeof err) == 0,
	       "cannot drop the trigger: %s", err);
	if (!trigger) {
		api_user_free(&u);
		return;
	}
	EXPECT(subs_count(u.id) == subs,
	       "subscriptions rows %lld -> %lld: nothing new on a "
	       "rolled-back subscribe",
	       subs, subs_count(u.id));
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE id = ? AND status = 'active' "
	                   "AND ended_at IS NULL",
	                   atoll(first)) == 1,
	       "the old subscription %s should still be active", first);
	EXPECT(api_outbox_count(u.id, "subscription.created") == created,
	       "no event for the rolled-back subscribe: %lld -> %lld", created,
	       api_outbox_count(u.id, "subscription.created"));
	expect_me_level(u.token, "Basic", "Basic", "after the rolled-back subscribe");
	api_get(&r, SUBS "/status", u.token);
	EXPECT_STR(api_jstr(r.json, "data.subscription.id"), first);
	api_free(&r);
	/* and with the outbox back, the same subscribe works */
	if (subscribe_ok(&u, "3", NULL, 0) == 0)
		expect_me_level(u.token, "Premium", "Premium", "after the trigger is gone");
	api_user_free(&u);
}

static void test_level_resolves_from_mariadb_while_redis_is_down(void)
{
	api_user u;
	api_resp r;
	char body[512];

	if (api_user_register(&u, "redis-level") != 0)
		return;
	if (subscribe_ok(&u, "3", NULL, 0) != 0) {
		api_user_free(&u);
		return;
	}
	expect_me_level(u.token, "Premium", "Premium", "Redis up");
	api_get(&r, SUBS "/status", u.token);
	api_free(&r);
	if (api_redis_stop() == 0) {
		EXPECT_STR(api_ready_redis(), "down");
		expect_me_level(u.token, "Premium", "Premium", "Redis down");
		expect_me_level(u.token, "Premium", "Premium", "Redis down, again");
		api_get(&r, SUBS "/status", u.token);
		EXPECT_OK(r, 200);
		EXPECT_STR(api_jstr(r.json, "data.subscription.plan.name"), "Premium");
		api_free(&r);
		api_send(&r, "POST", SUBS "/subscribe", u.token,
		         "{\"planId\":\"4\",\"paymentMethod\":\"card\"}");
		EXPECT_OK(r, 201);
		EXPECT_COMMON_HEADERS(r);
		EXPECT_STR(api_jstr(r.json, "data.subscription.plan.name"), "Ultimate");
		api_free(&r);
		api_get(&r, SUBS "/status", u.token);
		EXPECT_OK(r, 200);
		EXPECT(api_streq(api_jstr(r.json, "data.subscription.plan.name"), "Ultimate"),
		       "status with Redis down should show the new Ultimate plan: %.300s", r.body);
		api_free(&r);
		expect_me_level(u.token, "Ultimate", "Ultimate", "Redis down, after subscribe");
		snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email,
		         u.password);
		api_send(&r, "POST", API "/auth/login", NULL, body);
		EXPECT_OK(r, 200);
		EXPECT_STR(api_jstr(r.json, "data.user.accessLevel"), "Ultimate");
		api_free(&r);
	} else {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
	}
	api_redis_start_and_wait();
	/* after the outage the level is the one set during it */
	expect_me_level(u.token, "Ultimate", "Ultimate", "Redis back");
	expect_me_level(u.token, "Ultimate", "Ultimate", "Redis back, again");
	api_get(&r, SUBS "/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.subscription.plan.name"), "Ultimate");
	api_free(&r);
	api_user_free(&u);
}

static void test_subscription_writes_require_json(void)
{
	api_user u;
	api_resp r;
	static const char *const text[] = {"Content-Type: text/plain", NULL};
	api_req q;

	if (api_user_register(&u, "sub-json") != 0)
		return;
	memset(&q, 0, sizeof q);
	q.method = "POST";
	q.path = SUBS "/subscribe";
	q.token = u.token;
	q.headers = text;
	q.body = "{\"planId\":\"2\",\"paymentMethod\":\"card\"}";
	api_do(&r, &q);
	EXPECT_ERROR(r, 415, NULL);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "POST", SUBS "/subscribe", u.token, "{\"planId\":\"2\",");
	EXPECT_ERROR(r, 400, "MALFORMED_JSON");
	api_free(&r);
	api_send(&r, "POST", SUBS "/subscribe", u.token, "[\"2\",\"card\"]");
	EXPECT_ERROR(r, 400, NULL);
	api_free(&r);
	EXPECT(subs_count(u.id) == 0, "nothing written");
	q.method = "PUT";
	q.path = SUBS "/cancel";
	q.body = "{}";
	api_do(&r, &q);
	EXPECT_ERROR(r, 415, NULL);
	api_free(&r);
	api_user_free(&u);
}

static void test_every_plans_and_subscriptions_response_carries_the_common_headers(void)
{
	const char *tok = admin_token();
	api_user u;
	struct {
		const char *method, *path, *body;
		int who; /* 0 none, 1 user, 2 admin */
		long status;
	} calls[] = {
	    {"GET", PLANS, NULL, 0, 200},
	    {"GET", PLANS "?order=sideways", NULL, 0, 400},
	    {"GET", PLANS "/1", NULL, 0, 200},
	    {"GET", PLANS "/abc", NULL, 0, 404},
	    {"GET", PLANS "/987654321", NULL, 0, 404},
	    {"POST", PLANS, "{}", 0, 401},
	    {"POST", PLANS, "{}", 1, 403},
	    {"POST", PLANS, "{}", 2, 400},
	    {"PUT", PLANS "/987654321", "{\"price\":1}", 2, 404},
	    {"POST", SUBS "/subscribe", "{}", 1, 400},
	    {"POST", SUBS "/subscribe", "{\"planId\":\"987654321\",\"paymentMethod\":\"card\"}", 1,
	     404},
	    {"GET", SUBS "/status", NULL, 1, 200},
	    {"GET", SUBS "/status", NULL, 0, 401},
	    {"GET", SUBS "/history", NULL, 1, 200},
	    {"GET", SUBS "/history?limit=51", NULL, 1, 400},
	    {"PUT", SUBS "/cancel", "{}", 1, 404},
	    {"DELETE", SUBS "/status", NULL, 1, 405},
	};

	if (api_user_register(&u, "sub-headers") != 0)
		return;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		api_resp r;
		const char *t = calls[i].who == 1 ? u.token : calls[i].who == 2 ? tok : NULL;
		api_send(&r, calls[i].method, calls[i].path, t, calls[i].body);
		EXPECT_STATUS(r, calls[i].status);
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	api_user_free(&u);
}

/* ---------------------------------------------------------------- registry */

static int suite_cleanup(void)
{
	api_user_free(&admin);
	admin_ok = -1;
	return 0;
}

int api_suite_plans(void)
{
	CU_pSuite s = CU_add_suite("plans", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_plans_list_is_public_and_shows_the_seeded_plans_as_in_the_contract);
	ADD(test_plans_list_default_order_is_display_order_ascending);
	ADD(test_plans_list_filters_by_access_level);
	ADD(test_plans_list_sorts_by_price_name_and_display_order);
	ADD(test_plans_list_rejects_bad_access_level_sort_and_order);
	ADD(test_plans_list_shows_admin_writes_on_the_next_request);
	ADD(test_plan_details_return_plan_and_subscribers_count);
	ADD(test_plan_details_never_issued_and_unknown_ids_are_404);
	ADD(test_deactivated_plan_is_404_except_for_an_admin);
	ADD(test_plan_create_returns_201_with_every_field);
	ADD(test_plan_writes_require_an_admin);
	ADD(test_plan_create_validation_lists_every_bad_field);
	ADD(test_plan_update_is_partial);
	ADD(test_plan_duplicate_name_is_409_on_create_and_rename);
	ADD(test_plan_delete_deactivates_and_subscribers_keep_it);
	ADD(test_plan_change_reaches_its_subscribers_on_the_next_request);
#undef ADD
	return 0;
}

int api_suite_subscriptions(void)
{
	CU_pSuite s = CU_add_suite("subscriptions", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_subscribe_returns_201_with_active_subscription_and_payment);
	ADD(test_subscribe_accepts_numeric_plan_id_and_every_payment_method);
	ADD(test_subscribe_transaction_ids_are_unique);
	ADD(test_subscribe_rejects_unknown_plan_bad_method_and_missing_fields);
	ADD(test_subscribe_while_active_replaces_the_old_one_at_once);
	ADD(test_history_is_newest_first_and_paged);
	ADD(test_upgrade_applies_on_the_very_next_request);
	ADD(test_status_without_subscription_is_null_with_message);
	ADD(test_status_shows_subscription_days_remaining_and_devices);
	ADD(test_status_reflects_subscribe_and_cancel_on_the_next_request);
	ADD(test_cancel_stops_renewal_but_keeps_status_and_level);
	ADD(test_cancel_without_reason_records_null_reason);
	ADD(test_cancel_without_active_subscription_is_404);
	ADD(test_cancel_reason_over_500_characters_is_400);
	ADD(test_outbox_has_one_event_per_subscribe_and_cancel);
	ADD(test_subscribe_rolls_back_when_the_outbox_write_fails);
	ADD(test_level_resolves_from_mariadb_while_redis_is_down);
	ADD(test_subscription_writes_require_json);
	ADD(test_every_plans_and_subscriptions_response_carries_the_common_headers);
#undef ADD
	return 0;
}
