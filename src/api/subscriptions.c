/*
 * The plans and subscriptions area: the public plan list, admin plan
 * writes, subscribing through the payment provider, status, history, cancel.
 */
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_gate.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_payment.h"
#include "sp_sub.h"
#include "sp_tier.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int plans_list(sp_req *r);
static int plans_get(sp_req *r);
static int plans_create(sp_req *r);
static int plans_update(sp_req *r);
static int plans_delete(sp_req *r);
static int subs_subscribe(sp_req *r);
static int subs_status(sp_req *r);
static int subs_history(sp_req *r);
static int subs_cancel(sp_req *r);
static int plans_list_key(sp_req *r, long long uid, char *key, size_t n);

static const sp_route routes[] = {
    {"GET", "/subscriptions/plans", plans_list, SP_AUTH_NONE, SP_NO_BODY, plans_list_key, NULL},
    {"GET", "/subscriptions/plans/:planId", plans_get, SP_AUTH_OPTIONAL, SP_NO_BODY, NULL, NULL},
    {"POST", "/subscriptions/plans", plans_create, SP_AUTH_ADMIN, 0, NULL, NULL},
    {"PUT", "/subscriptions/plans/:planId", plans_update, SP_AUTH_ADMIN, 0, NULL, NULL},
    {"DELETE", "/subscriptions/plans/:planId", plans_delete, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL},
    {"POST", "/subscriptions/subscribe", subs_subscribe, SP_AUTH_REQUIRED, 0, NULL, NULL},
    {"GET", "/subscriptions/status", subs_status, SP_AUTH_REQUIRED, SP_NO_BODY, sp_prefetch_sub,
     NULL},
    {"GET", "/subscriptions/history", subs_history, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL},
    {"PUT", "/subscriptions/cancel", subs_cancel, SP_AUTH_REQUIRED, 0, NULL, NULL},
};

#define PLANS_GROUP "plans"
#define PLANS_TTL   300

static int unavailable(sp_req *r)
{
	sp_db_rollback();
	sp_fail_unavailable(r);
	return -1;
}

/* ---------------------------------------------------------------- plans */

#define PLAN_COLS                                                                                  \
	"p.id, p.name, p.description, p.price, p.currency, p.validity_days, p.access_level, "      \
	"p.max_devices, p.max_streams, p.resolution, p.features, p.download_allowed, "             \
	"p.ads_enabled, p.is_popular, p.display_order, p.is_active, p.created_at, p.updated_at"

static json_object *plan_json(const sp_res *res, size_t row)
{
	json_object *p = json_object_new_object();
	json_object *features =
	    json_tokener_parse(sp_res_str(res, row, 10) ? sp_res_str(res, row, 10) : "[]");

	if (features == NULL || !json_object_is_type(features, json_type_array)) {
		if (features)
			json_object_put(features);
		features = json_object_new_array();
	}
	json_object_object_add(p, "id", sp_json_str_or_null(sp_res_str(res, row, 0)));
	json_object_object_add(p, "name", sp_json_str_or_null(sp_res_str(res, row, 1)));
	json_object_object_add(p, "description", sp_json_str_or_null(sp_res_str(res, row, 2)));
	json_object_object_add(p, "price", sp_json_money(sp_res_str(res, row, 3)));
	json_object_object_add(p, "currency", sp_json_str_or_null(sp_res_str(res, row, 4)));
	json_object_object_add(p, "validityDays",
	                       json_object_new_int((int)sp_res_ll(res, row, 5, 0)));
	json_object_object_add(
	    p, "accessLevel", json_object_new_string(sp_tier_name((int)sp_res_ll(res, row, 6, 0))));
	json_object_object_add(p, "maxDevicesAllowed",
	                       json_object_new_int((int)sp_res_ll(res, row, 7, 1)));
	json_object_object_add(p, "maxConcurrentStreams",
	                       json_object_new_int((int)sp_res_ll(res, row, 8, 1)));
	json_object_object_add(
	    p, "resolution",
	    json_object_new_string(sp_resolution_name((int)sp_res_ll(res, row, 9, 0))));
	json_object_object_add(p, "features", features);
	json_object_object_add(p, "downloadAllowed",
	                       json_object_new_boolean(sp_res_ll(res, row, 11, 0) == 1));
	json_object_object_add(p, "adsEnabled",
	                       json_object_new_boolean(sp_res_ll(res, row, 12, 0) == 1));
	json_object_object_add(p, "isPopular",
	                       json_object_new_boolean(sp_res_ll(res, row, 13, 0) == 1));
	json_object_object_add(p, "displayOrder",
	                       json_object_new_int((int)sp_res_ll(res, row, 14, 0)));
	json_object_object_add(p, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, row, 15, 0) == 1));
	json_object_object_add(p, "createdAt", sp_json_dbtime(sp_res_str(res, row, 16)));
	json_object_object_add(p, "updatedAt", sp_json_dbtime(sp_res_str(res, row, 17)));
	return p;
}

/* The list query's three knobs, validated; sort 1 price, 2 name, 3 displayOrder. */
struct list_q {
	int level; /* -1: all */
	int sort;
	int desc;
};

static int parse_list_q(sp_req *r, struct list_q *q, int report)
{
	const char *al = sp_query(r, "accessLevel");
	const char *sort = sp_query(r, "sortBy");
	const char *order = sp_query(r, "order");
	int ok = 1;

	q->level = -1;
	q->sort = 3;
	q->desc = 0;
	if (al && (q->level = sp_tier_parse(al)) < 0) {
		ok = 0;
		if (report)
			sp_field_error_add(r, "accessLevel",
			                   "must be one of Free, Basic, Premium, Ultimate");
	}
	if (sort) {
		if (strcmp(sort, "price") == 0)
			q->sort = 1;
		else if (strcmp(sort, "name") == 0)
			q->sort = 2;
		else if (strcmp(sort, "displayOrder") == 0)
			q->sort = 3;
		else {
			ok = 0;
			if (report)
				sp_field_error_add(r, "sortBy",
				                   "must be one of price, name, displayOrder");
		}
	}
	if (order) {
		if (strcasecmp(order, "desc") == 0)
			q->desc = 1;
		else if (strcasecmp(order, "asc") != 0) {
			ok = 0;
			if (report)
				sp_field_error_add(r, "order", "must be asc or desc");
		}
	}
	return ok ? 0 : -1;
}

/* Listing pages are cached by their normalised query; an admin write drops them all. */
static int plans_list_key(sp_req *r, long long uid, char *key, size_t n)
{
	struct list_q q;

	(void)uid;
	if (parse_list_q(r, &q, 0) != 0)
		return -1;
	snprintf(key, n, "plans:list:%d:%d:%d", q.level, q.sort, q.desc);
	return 0;
}

static int plans_list(sp_req *r)
{
	struct list_q q;
	sp_res res;
	json_object *arr, *data, *extra;
	char key[64];

	if (parse_list_q(r, &q, 1) != 0)
		return sp_fail_validation(r);
	if (r->prefetched) {
		sp_metrics_cache_lookup("plans", 1);
		sp_reply_raw(r, 200, r->prefetched);
		return 0;
	}
	sp_metrics_cache_lookup("plans", 0);
	/* ORDER BY from fixed choices only: each CASE is active for one sort code */
	if (sp_db_query(
	        &res,
	        "SELECT " PLAN_COLS " FROM plans p WHERE p.is_active = 1 AND (? < 0 OR "
	        "p.access_level = ?) ORDER BY "
	        "CASE WHEN ? = 1 THEN p.price END ASC, CASE WHEN ? = -1 THEN p.price END DESC, "
	        "CASE WHEN ? = 2 THEN p.name END ASC, CASE WHEN ? = -2 THEN p.name END DESC, "
	        "CASE WHEN ? = 3 THEN p.display_order END ASC, "
	        "CASE WHEN ? = -3 THEN p.display_order END DESC, p.display_order, p.id",
	        "iiiiiiii", q.level, q.level, q.sort * (q.desc ? -1 : 1),
	        q.sort * (q.desc ? -1 : 1), q.sort * (q.desc ? -1 : 1), q.sort * (q.desc ? -1 : 1),
	        q.sort * (q.desc ? -1 : 1), q.sort * (q.desc ? -1 : 1)) != 0)
		return unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, plan_json(&res, i));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "plans", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	sp_ok_ex(r, 200, NULL, data, extra);
	/* the reply body is the cached value */
	snprintf(key, sizeof key, "plans:list:%d:%d:%d", q.level, q.sort, q.desc);
	sp_cache_put(PLANS_GROUP, key, r->body_out.data, PLANS_TTL);
	return 0;
}

/* A path id: digits only, else 400 (never a database round trip for junk). */
static int path_id(sp_req *r, const char *name, long long *out)
{
	if (sp_parse_ll(sp_param(r, name), 1, (long long)1 << 62, out) != 0) {
		sp_field_error_add(r, name, "must be a positive integer id");
		return sp_fail_validation(r);
	}
	return 0;
}

static int plans_get(sp_req *r)
{
	long long id;
	sp_res res;
	json_object *data;
	int admin = r->authenticated && strcmp(r->role, "admin") == 0;

	if (path_id(r, "planId", &id) != 0)
		return -1;
	if (sp_db_query(
	        &res,
	        "SELECT " PLAN_COLS ", (SELECT COUNT(*) FROM subscriptions s WHERE s.plan_id = "
	        "p.id AND s.status = 'active' AND s.end_date > UTC_TIMESTAMP(3)) FROM plans p "
	        "WHERE p.id = ?",
	        "l", id) != 0)
		return unavailable(r);
	if (res.nrows == 0 || (!admin && sp_res_ll(&res, 0, 15, 0) != 1)) {
		sp_res_free(&res);
		sp_fail(r, 404, "NOT_FOUND", "Plan not found");
		return -1;
	}
	data = json_object_new_object();
	json_object_object_add(data, "plan", plan_json(&res, 0));
	json_object_object_add(data, "subscribersCount",
	                       json_object_new_int64(sp_res_ll(&res, 0, 18, 0)));
	sp_res_free(&res);
	sp_ok(r, 200, NULL, data);
	return 0;
}

/* Every plan field an admin may send; has_* say which were given. */
struct plan_in {
	char name[201], description[4001], currency[4], price[24];
	char *features; /* JSON text, malloc'd */
	long long validity, devices, streams, order;
	int level, resolution, download, ads, popular, active;
	int has_name, has_description, has_currency, has_price, has_features, has_validity,
	    has_devices, has_streams, has_order, has_level, has_resolution, has_download, has_ads,
	    has_popular, has_active;
};

static int v_enum(sp_req *r, const char *field, int required, int (*parse)(const char *),
                  const char *msg, int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->json, field, &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, field, "is required");
		return required ? SP_V_INVALID : SP_V_ABSENT;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    (*out = parse(json_object_get_string(v))) < 0) {
		sp_field_error_add(r, field, msg);
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

static int v_price(sp_req *r, int required, char *out, size_t n)
{
	json_object *v;
	double d;

	if (!json_object_object_get_ex(r->json, "price", &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, "price", "is required");
		return required ? SP_V_INVALID : SP_V_ABSENT;
	}
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
		sp_field_error_add(r, "price", "must be a number");
		return SP_V_INVALID;
	}
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0 || d > 100000 || fabs(d * 100 - round(d * 100)) > 1e-6) {
		sp_field_error_add(r, "price",
		                   "must be from 0 to 100000 with at most two decimals");
		return SP_V_INVALID;
	}
	snprintf(out, n, "%.2f", d);
	return SP_V_OK;
}

static int v_features(sp_req *r, char **out)
{
	json_object *v, *clean;
	size_t n;

	if (!json_object_object_get_ex(r->json, "features", &v) || v == NULL)
		return SP_V_ABSENT;
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) > 30) {
		sp_field_error_add(r, "features", "must be an array of at most 30 strings");
		return SP_V_INVALID;
	}
	clean = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *s = e && json_object_is_type(e, json_type_string)
		                    ? json_object_get_string(e)
		                    : NULL;
		long len = s ? sp_utf8_count(s, (size_t)json_object_get_string_len(e)) : -1;
		if (s == NULL || len < 1 || len > 100 ||
		    strlen(s) != (size_t)json_object_get_string_len(e)) {
			sp_field_error_add(r, "features",
			                   "must be an array of 1-100 character strings");
			json_object_put(clean);
			return SP_V_INVALID;
		}
		json_object_array_add(clean, json_object_new_string(s));
	}
	*out = sp_xstrdup(sp_json_text(clean));
	json_object_put(clean);
	return SP_V_OK;
}

static int read_plan(sp_req *r, struct plan_in *p, int creating)
{
	const char *cur;

	memset(p, 0, sizeof *p);
	p->has_name =
	    sp_v_text(r, r->json, "name", creating, 2, 50, p->name, sizeof p->name) == SP_V_OK;
	p->has_description = sp_v_text(r, r->json, "description", 0, 0, 1000, p->description,
	                               sizeof p->description) == SP_V_OK;
	p->has_price = v_price(r, creating, p->price, sizeof p->price) == SP_V_OK;
	if (sp_v_text(r, r->json, "currency", 0, 3, 3, p->currency, sizeof p->currency) ==
	    SP_V_OK) {
		for (cur = p->currency; *cur; cur++)
			if (*cur < 'A' || *cur > 'Z')
				break;
		if (*cur)
			sp_field_error_add(r, "currency",
			                   "must be a 3-letter ISO 4217 code like USD");
		else
			p->has_currency = 1;
	}
	p->has_validity =
	    sp_v_int(r, r->json, "validityDays", creating, 1, 3650, &p->validity) == SP_V_OK;
	p->has_level =
	    v_enum(r, "accessLevel", creating, sp_tier_parse,
	           "must be one of Free, Basic, Premium, Ultimate", &p->level) == SP_V_OK;
	p->has_devices =
	    sp_v_int(r, r->json, "maxDevicesAllowed", creating, 1, 100, &p->devices) == SP_V_OK;
	p->has_streams =
	    sp_v_int(r, r->json, "maxConcurrentStreams", creating, 1, 100, &p->streams) == SP_V_OK;
	p->has_resolution =
	    v_enum(r, "resolution", creating, sp_resolution_parse,
	           "must be one of 480p, 720p, 1080p, 4K", &p->resolution) == SP_V_OK;
	p->has_features = v_features(r, &p->features) == SP_V_OK;
	p->has_download = sp_v_bool(r, r->json, "downloadAllowed", 0, &p->download) == SP_V_OK;
	p->has_ads = sp_v_bool(r, r->json, "adsEnabled", 0, &p->ads) == SP_V_OK;
	p->has_popular = sp_v_bool(r, r->json, "isPopular", 0, &p->popular) == SP_V_OK;
	p->has_order =
	    sp_v_int(r, r->json, "displayOrder", 0, -100000, 100000, &p->order) == SP_V_OK;
	p->has_active = sp_v_bool(r, r->json, "isActive", 0, &p->active) == SP_V_OK;
	if (r->n_errors) {
		free(p->features);
		p->features = NULL;
		return sp_fail_validation(r);
	}
	return 0;
}

static int reply_plan(sp_req *r, int status, long long id, const char *msg)
{
	sp_res res;
	json_object *data;

	if (sp_db_query(&res, "SELECT " PLAN_COLS " FROM plans p WHERE p.id = ?", "l", id) != 0)
		return unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_fail(r, 404, "NOT_FOUND", "Plan not found");
		return -1;
	}
	data = json_object_new_object();
	json_object_object_add(data, "plan", plan_json(&res, 0));
	sp_res_free(&res);
	sp_ok(r, status, msg, data);
	return 0;
}

static int name_taken(sp_req *r)
{
	sp_field_error_add(r, "name", "is already used by another plan");
	sp_fail(r, 409, "CONFLICT", "A plan with this name already exists");
	return -1;
}

static int plans_create(sp_req *r)
{
	struct plan_in p;
	long long id;

	if (read_plan(r, &p, 1) != 0)
		return -1;
	if (sp_db_exec(
	        "INSERT INTO plans (name, description, price, currency, validity_days, "
	        "access_level, max_devices, max_streams, resolution, features, "
	        "download_allowed, ads_enabled, is_popular, display_order, is_active) VALUES "
	        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        "ssssliiiisiiili", p.name, p.has_description ? p.description : NULL, p.price,
	        p.has_currency ? p.currency : "USD", p.validity, p.level, (int)p.devices,
	        (int)p.streams, p.resolution, p.features ? p.features : "[]", p.download, p.ads,
	        p.popular, p.order, p.has_active ? p.active : 1) != 1) {
		free(p.features);
		if (sp_db_errno() == SP_ER_DUP_ENTRY)
			return name_taken(r);
		return unavailable(r);
	}
	free(p.features);
	id = (long long)sp_db_insert_id();
	sp_cache_drop_group(PLANS_GROUP);
	return reply_plan(r, 201, id, "Plan created");
}

/* Subscribers of a plan see its new limits on their next request. */
static void republish_subscribers(long long plan_id)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT user_id FROM subscriptions WHERE plan_id = ? AND status = 'active'",
	                "l", plan_id) != 0)
		return;
	for (size_t i = 0; i < res.nrows; i++) {
		long long uid = sp_res_ll(&res, i, 0, 0);
		sp_level_publish(uid);
		sp_user_caches_drop(uid);
	}
	sp_res_free(&res);
}

static int plans_update(sp_req *r)
{
	struct plan_in p;
	long long id, n;

	if (path_id(r, "planId", &id) != 0 || read_plan(r, &p, 0) != 0)
		return -1;
	/* one statement: each column keeps its value unless the field was given */
	n = sp_db_exec(
	    "UPDATE plans SET name = IF(?, ?, name), description = IF(?, ?, description), "
	    "price = IF(?, ?, price), currency = IF(?, ?, currency), validity_days = IF(?, ?, "
	    "validity_days), access_level = IF(?, ?, access_level), max_devices = IF(?, ?, "
	    "max_devices), max_streams = IF(?, ?, max_streams), resolution = IF(?, ?, "
	    "resolution), features = IF(?, ?, features), download_allowed = IF(?, ?, "
	    "download_allowed), ads_enabled = IF(?, ?, ads_enabled), is_popular = IF(?, ?, "
	    "is_popular), display_order = IF(?, ?, display_order), is_active = IF(?, ?, "
	    "is_active) WHERE id = ?",
	    "isisisisiliiiliiiiisiiiiiiiliil", p.has_name, p.name, p.has_description, p.description,
	    p.has_price, p.price, p.has_currency, p.currency, p.has_validity, p.validity,
	    p.has_level, p.level, p.has_devices, p.devices, p.has_streams, (int)p.streams,
	    p.has_resolution, p.resolution, p.has_features, p.features ? p.features : "[]",
	    p.has_download, p.download, p.has_ads, p.ads, p.has_popular, p.popular, p.has_order,
	    p.order, p.has_active, p.active, id);
	free(p.features);
	if (n < 0) {
		if (sp_db_errno() == SP_ER_DUP_ENTRY)
			return name_taken(r);
		return unavailable(r);
	}
	sp_cache_drop_group(PLANS_GROUP);
	republish_subscribers(id);
	return reply_plan(r, 200, id, "Plan updated");
}

static int plans_delete(sp_req *r)
{
	long long id;
	sp_res res;

	if (path_id(r, "planId", &id) != 0)
		return -1;
	if (sp_db_query(&res, "SELECT id FROM plans WHERE id = ?", "l", id) != 0)
		return unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_fail(r, 404, "NOT_FOUND", "Plan not found");
		return -1;
	}
	sp_res_free(&res);
	/* deactivated, not deleted: subscribers keep it until their end date */
	if (sp_db_exec("UPDATE plans SET is_active = 0 WHERE id = ?", "l", id) < 0)
		return unavailable(r);
	sp_cache_drop_group(PLANS_GROUP);
	return reply_plan(r, 200, id,
	                  "Plan deactivated; current subscribers keep it until it ends");
}

/* ---------------------------------------------------------------- subscribe */

static json_object *load_sub(long long sub_id, int *err)
{
	sp_res res;
	json_object *s = NULL;

	*err = 0;
	if (sp_db_query(&res,
	                "SELECT " SP_SUB_COLS
	                " FROM subscriptions s JOIN plans p ON p.id = s.plan_id "
	                "WHERE s.id = ?",
	                "l", sub_id) != 0) {
		*err = 1;
		return NULL;
	}
	if (res.nrows == 1)
		s = sp_sub_json(&res, 0, 0);
	sp_res_free(&res);
	return s;
}

/* After a committed change: the next request sees the new level and documents. */
static void publish(long long uid)
{
	sp_level_publish(uid);
	sp_user_caches_drop(uid);
}

static int read_plan_id(sp_req *r, long long *out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->json, "planId", &v) || v == NULL) {
		sp_field_error_add(r, "planId", "is required");
		return -1;
	}
	if ((json_object_is_type(v, json_type_int) && (*out = json_object_get_int64(v)) > 0) ||
	    (json_object_is_type(v, json_type_string) &&
	     sp_parse_ll(json_object_get_string(v), 1, (long long)1 << 62, out) == 0))
		return 0;
	sp_field_error_add(r, "planId", "must be a plan id");
	return -1;
}

static int subs_subscribe(sp_req *r)
{
	const sp_payment_provider *pay = sp_payment_provider_get();
	char method[64], amount[24], currency[4], plan_name[201];
	long long plan_id, validity, sub_id;
	int auto_renew = 1, level;
	sp_res res;
	sp_charge charge;
	sp_charge_result paid;
	json_object *ev, *data, *sub;
	int err;

	read_plan_id(r, &plan_id);
	if (sp_v_text(r, r->json, "paymentMethod", 1, 1, 32, method, sizeof method) == SP_V_OK &&
	    !pay->supports(method))
		sp_field_error_add(r, "paymentMethod",
		                   "must be one of card, paypal, bank_transfer");
	sp_v_bool(r, r->json, "autoRenew", 0, &auto_renew);
	if (r->n_errors)
		return sp_fail_validation(r);

	if (sp_db_query(&res,
	                "SELECT price, currency, validity_days, is_active, name, access_level FROM "
	                "plans WHERE id = ?",
	                "l", plan_id) != 0)
		return unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_fail(r, 404, "NOT_FOUND", "Plan not found");
		return -1;
	}
	if (sp_res_ll(&res, 0, 3, 0) != 1) {
		sp_res_free(&res);
		sp_field_error_add(r, "planId", "plan is no longer offered");
		return sp_fail_validation(r);
	}
	snprintf(amount, sizeof amount, "%s", sp_res_str(&res, 0, 0));
	snprintf(currency, sizeof currency, "%s", sp_res_str(&res, 0, 1));
	validity = sp_res_ll(&res, 0, 2, 30);
	sp_utf8_copy(plan_name, sizeof plan_name, sp_res_str(&res, 0, 4));
	level = (int)sp_res_ll(&res, 0, 5, 0);
	sp_res_free(&res);

	charge.user_id = r->user_id;
	charge.plan_id = plan_id;
	charge.amount = amount;
	charge.currency = currency;
	charge.method = method;
	if (pay->charge(&charge, &paid) != 0) {
		sp_fail_unavailable(r);
		return -1;
	}
	if (!paid.approved) {
		sp_fail(r, 400, "PAYMENT_DECLINED", "The payment was declined");
		return -1;
	}

	/*
	 * Replace and insert under the user's row lock, so two concurrent
	 * subscribes serialise and the one-active-per-user index never trips.
	 */
	ev = json_object_new_object();
	json_object_object_add(ev, "planId", json_object_new_int64(plan_id));
	json_object_object_add(ev, "planName", json_object_new_string(plan_name));
	json_object_object_add(ev, "accessLevel", json_object_new_string(sp_tier_name(level)));
	json_object_object_add(ev, "amount", sp_json_money(amount));
	json_object_object_add(ev, "currency", json_object_new_string(currency));
	json_object_object_add(ev, "transactionId", json_object_new_string(paid.transaction_id));
	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM users WHERE id = ? FOR UPDATE", "l", r->user_id) != 0)
		goto fail;
	sp_res_free(&res);
	if (sp_db_exec("UPDATE subscriptions SET status = IF(end_date <= UTC_TIMESTAMP(3), "
	               "'expired', 'replaced'), ended_at = UTC_TIMESTAMP(3), auto_renew = 0 WHERE "
	               "user_id = ? AND status = 'active'",
	               "l", r->user_id) < 0 ||
	    sp_db_exec(
	        "INSERT INTO subscriptions (user_id, plan_id, status, start_date, end_date, "
	        "auto_renew, transaction_id, amount, currency, payment_method, payment_date) "
	        "VALUES (?, ?, 'active', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? DAY, "
	        "?, ?, ?, ?, ?, UTC_TIMESTAMP(3))",
	        "lllissss", r->user_id, plan_id, validity, auto_renew, paid.transaction_id, amount,
	        currency, method) != 1)
		goto fail;
	sub_id = (long long)sp_db_insert_id();
	json_object_object_add(ev, "subscriptionId", json_object_new_int64(sub_id));
	if (sp_outbox_add("subscription.created", r->user_id, ev) != 0)
		goto fail_owned;
	ev = NULL;
	if (sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l",
	               r->user_id) < 0 ||
	    sp_db_commit() != 0)
		goto fail_owned;
	publish(r->user_id);
	sub = load_sub(sub_id, &err);
	if (sub == NULL)
		return unavailable(r);
	data = json_object_new_object();
	json_object_object_add(data, "subscription", sub);
	sp_ok(r, 201, "Subscription activated", data);
	return 0;

fail:
	json_object_put(ev);
fail_owned:
	sp_db_rollback();
	pay->refund(paid.transaction_id);
	sp_fail_unavailable(r);
	return -1;
}

/* ---------------------------------------------------------------- status */

/*
 * The status document is cached per user as "<endMs>|<json>": a hit past
 * the subscription's end is ignored, so an expiry shows at once.
 */
static int subs_status(sp_req *r)
{
	json_object *sub = NULL, *data, *devs;
	const char *bar;
	char key[64];
	long long end_ms = 0;

	if (r->prefetched && (bar = strchr(r->prefetched, '|')) != NULL) {
		end_ms = strtoll(r->prefetched, NULL, 10);
		if (end_ms == 0 || end_ms > sp_now_ms()) {
			sp_metrics_cache_lookup("status", 1);
			sp_ok_raw(r, 200, bar + 1);
			return 0;
		}
	}
	sp_metrics_cache_lookup("status", 0);
	if (sp_sub_current(r->user_id, &sub) != 0)
		return unavailable(r);
	if (sp_user_devices(r->user_id, &devs) != 0) {
		json_object_put(sub);
		return unavailable(r);
	}
	data = json_object_new_object();
	if (sub) {
		json_object *e;
		json_object_object_add(sub, "devices", devs);
		if (json_object_object_get_ex(sub, "endDate", &e) && e) {
			/* "…Z" back to ms */
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			if (strptime(json_object_get_string(e), "%Y-%m-%dT%H:%M:%S", &tm))
				end_ms = (long long)timegm(&tm) * 1000;
		}
		json_object_object_add(data, "subscription", sub);
	} else {
		json_object_put(devs);
		json_object_object_add(data, "subscription", NULL);
		json_object_object_add(data, "message",
		                       json_object_new_string("No active subscription; you are on "
		                                              "the Free tier"));
		end_ms = 0;
	}
	{
		sp_buf b;
		sp_buf_init(&b);
		sp_buf_addf(&b, "%lld|%s", end_ms, sp_json_text(data));
		sp_key_sub(key, sizeof key, r->user_id);
		sp_kv_set(key, b.data, b.len, sp_cfg.cache_ttl, SP_KV_NX);
		sp_buf_free(&b);
	}
	sp_ok(r, 200, NULL, data);
	return 0;
}

static int subs_history(sp_req *r)
{
	long long page, limit, total;
	sp_res res;
	json_object *arr, *data, *extra, *pg;

	sp_v_query_int(r, "page", 1, 1, 1000000, &page);
	sp_v_query_int(r, "limit", 20, 1, 50, &limit);
	if (r->n_errors)
		return sp_fail_validation(r);
	if (sp_db_query(&res, "SELECT COUNT(*) FROM subscriptions WHERE user_id = ?", "l",
	                r->user_id) != 0)
		return unavailable(r);
	total = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (sp_db_query(
	        &res,
	        "SELECT " SP_SUB_COLS " FROM subscriptions s JOIN plans p ON p.id = s.plan_id "
	        "WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?",
	        "lll", r->user_id, limit, (page - 1) * limit) != 0)
		return unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, sp_sub_json(&res, i, 0));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "subscriptions", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	pg = json_object_new_object();
	json_object_object_add(pg, "page", json_object_new_int64(page));
	json_object_object_add(pg, "limit", json_object_new_int64(limit));
	json_object_object_add(pg, "total", json_object_new_int64(total));
	json_object_object_add(pg, "pages", json_object_new_int64((total + limit - 1) / limit));
	json_object_object_add(extra, "pagination", pg);
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

/* ---------------------------------------------------------------- cancel */

static int subs_cancel(sp_req *r)
{
	char reason[2001];
	int has_reason;
	sp_res res;
	long long sub_id;
	json_object *ev, *data, *sub;
	int err;

	has_reason = sp_v_text(r, r->json, "reason", 0, 0, 500, reason, sizeof reason) == SP_V_OK;
	if (r->n_errors)
		return sp_fail_validation(r);
	if (sp_db_begin() != 0 ||
	    sp_db_query(
	        &res,
	        "SELECT id, cancelled_at IS NOT NULL FROM subscriptions WHERE user_id = ? AND "
	        "status = 'active' AND end_date > UTC_TIMESTAMP(3) FOR UPDATE",
	        "l", r->user_id) != 0)
		return unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_db_rollback();
		sp_fail(r, 404, "NOT_FOUND", "No active subscription to cancel");
		return -1;
	}
	sub_id = sp_res_ll(&res, 0, 0, 0);
	if (sp_res_ll(&res, 0, 1, 0)) {
		sp_res_free(&res);
		sp_db_rollback();
		sp_fail(r, 409, "CONFLICT", "The subscription is already cancelled");
		return -1;
	}
	sp_res_free(&res);
	ev = json_object_new_object();
	json_object_object_add(ev, "subscriptionId", json_object_new_int64(sub_id));
	json_object_object_add(ev, "reason", has_reason ? json_object_new_string(reason) : NULL);
	/* access continues until end_date; only the renewal stops */
	if (sp_db_exec("UPDATE subscriptions SET auto_renew = 0, cancelled_at = UTC_TIMESTAMP(3), "
	               "cancel_reason = ? WHERE id = ?",
	               "sl", has_reason ? reason : NULL, sub_id) != 1) {
		json_object_put(ev);
		return unavailable(r);
	}
	if (sp_outbox_add("subscription.cancelled", r->user_id, ev) != 0 ||
	    sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l",
	               r->user_id) < 0 ||
	    sp_db_commit() != 0)
		return unavailable(r);
	publish(r->user_id);
	sub = load_sub(sub_id, &err);
	if (sub == NULL)
		return unavailable(r);
	data = json_object_new_object();
	json_object_object_add(data, "subscription", sub);
	sp_ok(r, 200, "Subscription cancelled; access continues until the end date", data);
	return 0;
}

static int init(void)
{
	sp_cache_register_group(PLANS_GROUP);
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"subscriptions", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
