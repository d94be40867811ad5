/*
 * Plans, the catalogue of what can be bought: the public list (cached per
 * query, dropped by any admin write), one plan, and the admin writes. Part
 * of the subscriptions program, whose route table in subscriptions.c lists
 * these handlers with the inputs declared here.
 */
#include "plans.h"
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_tier.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLANS_TTL 300

/* The columns of PLAN_COLS by name (PC_NCOLS: the first one after them). */
enum plan_col {
	PC_ID,
	PC_NAME,
	PC_DESCRIPTION,
	PC_PRICE,
	PC_CURRENCY,
	PC_VALIDITY,
	PC_ACCESS_LEVEL,
	PC_MAX_DEVICES,
	PC_MAX_STREAMS,
	PC_RESOLUTION,
	PC_FEATURES,
	PC_DOWNLOAD,
	PC_ADS,
	PC_POPULAR,
	PC_ORDER,
	PC_ACTIVE,
	PC_CREATED_AT,
	PC_UPDATED_AT,
	PC_MAX_DOWNLOADS,
	PC_NCOLS,
};

#define PLAN_COLS                                                                                  \
	"p.id, p.name, p.description, p.price, p.currency, p.validity_days, p.access_level, "      \
	"p.max_devices, p.max_streams, p.resolution, p.features, p.download_allowed, "             \
	"p.ads_enabled, p.is_popular, p.display_order, p.is_active, p.created_at, p.updated_at, "  \
	"p.max_downloads"

static json_object *plan_json(const sp_res *res, size_t row)
{
	json_object *p = json_object_new_object();
	json_object *features = json_tokener_parse(
	    sp_res_str(res, row, PC_FEATURES) ? sp_res_str(res, row, PC_FEATURES) : "[]");

	if (features == NULL || !json_object_is_type(features, json_type_array)) {
		if (features)
			json_object_put(features);
		features = json_object_new_array();
	}
	json_object_object_add(p, "id", sp_json_str_or_null(sp_res_str(res, row, PC_ID)));
	json_object_object_add(p, "name", sp_json_str_or_null(sp_res_str(res, row, PC_NAME)));
	json_object_object_add(p, "description",
	                       sp_json_str_or_null(sp_res_str(res, row, PC_DESCRIPTION)));
	json_object_object_add(p, "price", sp_json_money(sp_res_str(res, row, PC_PRICE)));
	json_object_object_add(p, "currency",
	                       sp_json_str_or_null(sp_res_str(res, row, PC_CURRENCY)));
	json_object_object_add(p, "validityDays",
	                       json_object_new_int((int)sp_res_ll(res, row, PC_VALIDITY, 0)));
	json_object_object_add(
	    p, "accessLevel",
	    json_object_new_string(sp_tier_name((int)sp_res_ll(res, row, PC_ACCESS_LEVEL, 0))));
	json_object_object_add(p, "maxDevicesAllowed",
	                       json_object_new_int((int)sp_res_ll(res, row, PC_MAX_DEVICES, 1)));
	json_object_object_add(p, "maxConcurrentStreams",
	                       json_object_new_int((int)sp_res_ll(res, row, PC_MAX_STREAMS, 1)));
	json_object_object_add(
	    p, "resolution",
	    json_object_new_string(sp_resolution_name((int)sp_res_ll(res, row, PC_RESOLUTION, 0))));
	json_object_object_add(p, "features", features);
	json_object_object_add(p, "downloadAllowed",
	                       json_object_new_boolean(sp_res_ll(res, row, PC_DOWNLOAD, 0) == 1));
	/* downloadAllowed false allows none, whatever the number */
	json_object_object_add(
	    p, "maxDownloads",
	    json_object_new_int(sp_res_ll(res, row, PC_DOWNLOAD, 0) == 1
	                            ? (int)sp_res_ll(res, row, PC_MAX_DOWNLOADS, 0)
	                            : 0));
	json_object_object_add(p, "adsEnabled",
	                       json_object_new_boolean(sp_res_ll(res, row, PC_ADS, 0) == 1));
	json_object_object_add(p, "isPopular",
	                       json_object_new_boolean(sp_res_ll(res, row, PC_POPULAR, 0) == 1));
	json_object_object_add(p, "displayOrder",
	                       json_object_new_int((int)sp_res_ll(res, row, PC_ORDER, 0)));
	json_object_object_add(p, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, row, PC_ACTIVE, 0) == 1));
	json_object_object_add(p, "createdAt", sp_json_dbtime(sp_res_str(res, row, PC_CREATED_AT)));
	json_object_object_add(p, "updatedAt", sp_json_dbtime(sp_res_str(res, row, PC_UPDATED_AT)));
	return p;
}

static const char *const sorts[] = {"price", "name", "displayOrder"};

/* 1 price, 2 name, 3 displayOrder */
static int sort_parse(const char *s)
{
	int i = sp_enum_index(sorts, 3, s);

	return i < 0 ? -1 : i + 1;
}

int plans_parse_list(sp_req *r, void *in)
{
	struct plans_list_in *q = in;

	q->level = -1;
	q->sort = 3;
	sp_v_query_enum(r, "accessLevel", sp_tier_parse,
	                "must be one of Free, Basic, Premium, Ultimate", &q->level);
	sp_v_query_enum(r, "sortBy", sort_parse, "must be one of price, name, displayOrder",
	                &q->sort);
	sp_v_query_enum(r, "order", sp_parse_order, "must be asc or desc", &q->desc);
	return 0;
}

/* Listing pages are cached by their normalised query; an admin write drops them all. */
int plans_list_key(sp_req *r, long long uid, char *key, size_t n)
{
	const struct plans_list_in *q = r->in;

	(void)uid;
	sp_key_plans_list(key, n, q->level, q->sort, q->desc);
	return 0;
}

int plans_list(sp_req *r)
{
	const struct plans_list_in *q = r->in;
	int order;
	sp_res res;
	json_object *arr, *data, *extra;
	char key[64];

	if (r->prefetched) {
		sp_metrics_cache_lookup("plans", 1);
		sp_reply_raw(r, 200, r->prefetched);
		return 0;
	}
	sp_metrics_cache_lookup("plans", 0);
	order = q->desc ? -q->sort : q->sort;
	/* ORDER BY from fixed choices only: each CASE is active for one sort code */
	if (sp_db_query(
	        &res,
	        "SELECT " PLAN_COLS " FROM plans p WHERE p.is_active = 1 AND (? < 0 OR "
	        "p.access_level = ?) ORDER BY "
	        "CASE WHEN ? = 1 THEN p.price END ASC, CASE WHEN ? = -1 THEN p.price END DESC, "
	        "CASE WHEN ? = 2 THEN p.name END ASC, CASE WHEN ? = -2 THEN p.name END DESC, "
	        "CASE WHEN ? = 3 THEN p.display_order END ASC, "
	        "CASE WHEN ? = -3 THEN p.display_order END DESC, p.display_order, p.id",
	        "iiiiiiii", q->level, q->level, order, order, order, order, order, order) != 0)
		return sp_unavailable(r);
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
	sp_key_plans_list(key, sizeof key, q->level, q->sort, q->desc);
	sp_cache_put(SP_GROUP_PLANS, key, r->body_out.data, PLANS_TTL);
	return 0;
}

int plans_parse_id(sp_req *r, void *in)
{
	struct plan_id_in *q = in;

	sp_v_path_id(r, "planId", "Plan not found", &q->id);
	return 0;
}

int plans_get(sp_req *r)
{
	const struct plan_id_in *q = r->in;
	sp_res res;
	json_object *data;
	int admin = r->authenticated && strcmp(r->role, "admin") == 0;

	if (sp_db_query(
	        &res,
	        "SELECT " PLAN_COLS ", (SELECT COUNT(*) FROM subscriptions s WHERE s.plan_id = "
	        "p.id AND s.status = 'active' AND s.end_date > UTC_TIMESTAMP(3)) FROM plans p "
	        "WHERE p.id = ?",
	        "l", q->id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0 || (!admin && sp_res_ll(&res, 0, PC_ACTIVE, 0) != 1)) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Plan not found");
	}
	data = json_object_new_object();
	json_object_object_add(data, "plan", plan_json(&res, 0));
	json_object_object_add(data, "subscribersCount",
	                       json_object_new_int64(sp_res_ll(&res, 0, PC_NCOLS, 0)));
	sp_res_free(&res);
	sp_ok(r, 200, NULL, data);
	return 0;
}

/* The features list, stored as its JSON text. */
static int v_features(sp_req *r, char **out)
{
	json_object *clean = NULL;
	int rc = sp_v_strings(r, r->json, "features", 0, 0, 30, 100, &clean);

	if (rc == SP_V_OK) {
		*out = sp_xstrdup(sp_json_text(clean));
		json_object_put(clean);
	}
	return rc;
}

static void plan_in_release(void *in)
{
	free(((struct plan_in *)in)->features);
}

static void plan_update_in_release(void *in)
{
	plan_in_release(&((struct plan_update_in *)in)->body);
}

/* A 3-letter ISO 4217 code in capitals. */
static int v_currency(sp_req *r, char *out, size_t n)
{
	int rc = sp_v_text(r, r->json, "currency", 0, 3, 3, out, n);

	if (rc == SP_V_OK && strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
		sp_field_error_add(r, "currency", "must be a 3-letter ISO 4217 code like USD");
		return SP_V_INVALID;
	}
	return rc;
}

/* The fields of a plan's body; creating: the required ones must be there. */
static void parse_plan(sp_req *r, struct plan_in *p, int creating)
{
	json_object *o = r->json;

	p->has_name = SP_V_GIVEN(sp_v_text(r, o, "name", creating, 2, 50, p->name, sizeof p->name));
	p->has_description = SP_V_GIVEN(
	    sp_v_text(r, o, "description", 0, 0, 1000, p->description, sizeof p->description));
	p->has_price = SP_V_GIVEN(sp_v_price(r, o, "price", creating, p->price, sizeof p->price));
	p->has_currency = SP_V_GIVEN(v_currency(r, p->currency, sizeof p->currency));
	p->has_validity =
	    SP_V_GIVEN(sp_v_int(r, o, "validityDays", creating, 1, 3650, &p->validity));
	p->has_level =
	    SP_V_GIVEN(sp_v_enum(r, o, "accessLevel", creating, sp_tier_parse,
	                         "must be one of Free, Basic, Premium, Ultimate", &p->level));
	p->has_devices =
	    SP_V_GIVEN(sp_v_int(r, o, "maxDevicesAllowed", creating, 1, 100, &p->devices));
	p->has_streams =
	    SP_V_GIVEN(sp_v_int(r, o, "maxConcurrentStreams", creating, 1, 100, &p->streams));
	p->has_resolution =
	    SP_V_GIVEN(sp_v_enum(r, o, "resolution", creating, sp_resolution_parse,
	                         "must be one of 480p, 720p, 1080p, 4K", &p->resolution));
	p->has_features = SP_V_GIVEN(v_features(r, &p->features));
	p->has_download = SP_V_GIVEN(sp_v_bool(r, o, "downloadAllowed", 0, &p->download));
	p->has_downloads = SP_V_GIVEN(sp_v_int(r, o, "maxDownloads", 0, 0, 1000, &p->downloads));
	p->has_ads = SP_V_GIVEN(sp_v_bool(r, o, "adsEnabled", 0, &p->ads));
	p->has_popular = SP_V_GIVEN(sp_v_bool(r, o, "isPopular", 0, &p->popular));
	p->has_order = SP_V_GIVEN(sp_v_int(r, o, "displayOrder", 0, -100000, 100000, &p->order));
	p->has_active = SP_V_GIVEN(sp_v_bool(r, o, "isActive", 0, &p->active));
}

int plans_parse_create(sp_req *r, void *in)
{
	r->in_release = plan_in_release;
	parse_plan(r, in, 1);
	return 0;
}

int plans_parse_update(sp_req *r, void *in)
{
	struct plan_update_in *u = in;

	r->in_release = plan_update_in_release;
	sp_v_path_id(r, "planId", "Plan not found", &u->id);
	parse_plan(r, &u->body, 0);
	return 0;
}

static int reply_plan(sp_req *r, int status, long long id, const char *msg)
{
	sp_res res;
	json_object *data;

	if (sp_db_query(&res, "SELECT " PLAN_COLS " FROM plans p WHERE p.id = ?", "l", id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Plan not found");
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
	return sp_fail(r, 409, "CONFLICT", "A plan with this name already exists");
}

int plans_create(sp_req *r)
{
	const struct plan_in *p = r->in;
	long long id;

	if (sp_db_exec("INSERT INTO plans (name, description, price, currency, validity_days, "
	               "access_level, max_devices, max_streams, resolution, features, "
	               "download_allowed, ads_enabled, is_popular, display_order, is_active, "
	               "max_downloads) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	               "ssssliiiisiiilil", p->name, p->has_description ? p->description : NULL,
	               p->price, p->has_currency ? p->currency : "USD", p->validity, p->level,
	               (int)p->devices, (int)p->streams, p->resolution,
	               p->features ? p->features : "[]", p->download, p->ads, p->popular, p->order,
	               p->has_active ? p->active : 1, p->has_downloads ? p->downloads : 0LL) != 1) {
		if (sp_db_errno() == SP_ER_DUP_ENTRY)
			return name_taken(r);
		return sp_unavailable(r);
	}
	id = (long long)sp_db_insert_id();
	sp_cache_drop_group(SP_GROUP_PLANS);
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

int plans_update(sp_req *r)
{
	const struct plan_update_in *u = r->in;
	const struct plan_in *p = &u->body;
	long long id = u->id, n;

	/* one statement: each column keeps its value unless the field was given */
	n = sp_db_exec(
	    "UPDATE plans SET name = IF(?, ?, name), description = IF(?, ?, description), "
	    "price = IF(?, ?, price), currency = IF(?, ?, currency), validity_days = IF(?, ?, "
	    "validity_days), access_level = IF(?, ?, access_level), max_devices = IF(?, ?, "
	    "max_devices), max_streams = IF(?, ?, max_streams), resolution = IF(?, ?, "
	    "resolution), features = IF(?, ?, features), download_allowed = IF(?, ?, "
	    "download_allowed), ads_enabled = IF(?, ?, ads_enabled), is_popular = IF(?, ?, "
	    "is_popular), display_order = IF(?, ?, display_order), is_active = IF(?, ?, "
	    "is_active), max_downloads = IF(?, ?, max_downloads) WHERE id = ?",
	    "isisisisiliiiliiiiisiiiiiiiliiill", p->has_name, p->name, p->has_description,
	    p->description, p->has_price, p->price, p->has_currency, p->currency, p->has_validity,
	    p->validity, p->has_level, p->level, p->has_devices, p->devices, p->has_streams,
	    (int)p->streams, p->has_resolution, p->resolution, p->has_features,
	    p->features ? p->features : "[]", p->has_download, p->download, p->has_ads, p->ads,
	    p->has_popular, p->popular, p->has_order, p->order, p->has_active, p->active,
	    p->has_downloads, p->downloads, id);
	if (n < 0) {
		if (sp_db_errno() == SP_ER_DUP_ENTRY)
			return name_taken(r);
		return sp_unavailable(r);
	}
	sp_cache_drop_group(SP_GROUP_PLANS);
	republish_subscribers(id);
	return reply_plan(r, 200, id, "Plan updated");
}

int plans_delete(sp_req *r)
{
	long long id = ((const struct plan_id_in *)r->in)->id;
	sp_res res;
	size_t found;

	if (sp_db_query(&res, "SELECT id FROM plans WHERE id = ?", "l", id) != 0)
		return sp_unavailable(r);
	found = res.nrows;
	sp_res_free(&res);
	if (found == 0)
		return sp_fail(r, 404, "NOT_FOUND", "Plan not found");
	/* deactivated, not deleted: subscribers keep it until their end date */
	if (sp_db_exec("UPDATE plans SET is_active = 0 WHERE id = ?", "l", id) < 0)
		return sp_unavailable(r);
	sp_cache_drop_group(SP_GROUP_PLANS);
	return reply_plan(r, 200, id,
	                  "Plan deactivated; current subscribers keep it until it ends");
}

void plans_init(void)
{
	sp_cache_register_group(SP_GROUP_PLANS);
}
