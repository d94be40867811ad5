/*
 * Accounts as an admin sees them, with their lockout state and plan in
 * force; changes go through sp_user_change_apply, the one path that
 * switches an account off, changes its role or clears its lockout.
 */
#include "admin_users.h"
#include "sp_app.h"
#include "sp_tier.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <stdio.h>
#include <string.h>

/* The plan in force: the active subscription (one per user) not past its end. */
#define ADMIN_USER_COLS                                                                            \
	"u.id, u.name, u.email, u.role, u.is_active, u.locked_until IS NOT NULL AND "              \
	"u.locked_until > UTC_TIMESTAMP(3), u.failed_logins, u.created_at, u.last_login_at, "      \
	"p.id, p.name, p.access_level, s.end_date FROM users u LEFT JOIN subscriptions s ON "      \
	"s.active_user_id = u.id AND s.end_date > UTC_TIMESTAMP(3) LEFT JOIN plans p ON p.id = "   \
	"s.plan_id "

/* Search: the start of the name or of the e-mail address, each an index range. */
#define SEARCH_WHERE "WHERE (u.name LIKE ? OR u.email LIKE CONVERT(? USING ascii)) "

enum admin_user_col {
	AU_ID,
	AU_NAME,
	AU_EMAIL,
	AU_ROLE,
	AU_ACTIVE,
	AU_LOCKED,
	AU_FAILED,
	AU_CREATED,
	AU_LAST_LOGIN,
	AU_PLAN_ID,
	AU_PLAN_NAME,
	AU_PLAN_LEVEL,
	AU_PLAN_END,
};

static json_object *current_plan(const sp_res *res, size_t i)
{
	json_object *p;

	if (sp_res_str(res, i, AU_PLAN_ID) == NULL)
		return NULL;
	p = json_object_new_object();
	json_object_object_add(p, "planId", sp_json_str_or_null(sp_res_str(res, i, AU_PLAN_ID)));
	json_object_object_add(p, "name", sp_json_str_or_null(sp_res_str(res, i, AU_PLAN_NAME)));
	json_object_object_add(
	    p, "accessLevel",
	    json_object_new_string(sp_tier_name((int)sp_res_ll(res, i, AU_PLAN_LEVEL, 0))));
	json_object_object_add(p, "endDate", sp_json_dbtime(sp_res_str(res, i, AU_PLAN_END)));
	return p;
}

static json_object *admin_user_json(const sp_res *res, size_t i)
{
	json_object *u = json_object_new_object();

	json_object_object_add(u, "id", sp_json_str_or_null(sp_res_str(res, i, AU_ID)));
	json_object_object_add(u, "name", sp_json_str_or_null(sp_res_str(res, i, AU_NAME)));
	json_object_object_add(u, "email", sp_json_str_or_null(sp_res_str(res, i, AU_EMAIL)));
	json_object_object_add(u, "role", sp_json_str_or_null(sp_res_str(res, i, AU_ROLE)));
	json_object_object_add(u, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, i, AU_ACTIVE, 0) == 1));
	json_object_object_add(u, "isLocked",
	                       json_object_new_boolean(sp_res_ll(res, i, AU_LOCKED, 0) == 1));
	json_object_object_add(u, "failedLogins",
	                       json_object_new_int64(sp_res_ll(res, i, AU_FAILED, 0)));
	json_object_object_add(u, "createdAt", sp_json_dbtime(sp_res_str(res, i, AU_CREATED)));
	json_object_object_add(u, "lastLoginAt", sp_json_dbtime(sp_res_str(res, i, AU_LAST_LOGIN)));
	json_object_object_add(u, "currentPlan", current_plan(res, i));
	return u;
}

/* ---------------------------------------------------------------- input */

int users_parse_list(sp_req *r, void *in)
{
	struct users_list_in *q = in;
	const char *s = NULL;

	sp_v_query_int(r, "page", 1, 1, 1000000, &q->page);
	sp_v_query_int(r, "limit", 20, 1, 100, &q->limit);
	if (sp_v_query_text(r, "search", 1, 100, "must be 1 to 100 characters", &s) == SP_V_OK)
		snprintf(q->search, sizeof q->search, "%s", s);
	return 0;
}

static int role_parse(const char *s)
{
	static const char *const roles[] = {"user", "admin"};

	return sp_enum_index(roles, 2, s);
}

int users_parse_update(sp_req *r, void *in)
{
	struct users_update_in *q = in;
	int role = -1, active = -1, unlock = 0, given = 0;

	if (sp_v_path_id(r, "id", "User not found", &q->id) != SP_V_OK)
		return 0;
	given += sp_v_enum(r, r->json, "role", 0, role_parse, "must be one of user, admin",
	                   &role) != SP_V_ABSENT;
	given += sp_v_bool(r, r->json, "isActive", 0, &active) != SP_V_ABSENT;
	given += sp_v_bool(r, r->json, "unlock", 0, &unlock) != SP_V_ABSENT;
	if (given == 0)
		sp_field_error_add(r, "role", "give at least one of role, isActive, unlock");
	snprintf(q->role, sizeof q->role, "%s", role == 0 ? "user" : role == 1 ? "admin" : "");
	q->active = active;
	q->unlock = unlock == 1;
	return 0;
}

/* ---------------------------------------------------------------- handlers */

/* Escapes LIKE's wildcards and escape character, then matches any continuation. */
static void prefix_pattern(const char *s, char *out, size_t n)
{
	size_t k = 0;

	for (; *s && k + 3 < n; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			out[k++] = '\\';
		out[k++] = *s;
	}
	out[k++] = '%';
	out[k] = '\0';
}

static int list_query(sp_res *res, const struct users_list_in *q, const char *like, int count)
{
	long long off = (q->page - 1) * q->limit;

	if (q->search[0] == '\0')
		return count ? sp_db_query(res, "SELECT COUNT(*) FROM users u", "")
		             : sp_db_query(res,
		                           "SELECT " ADMIN_USER_COLS "ORDER BY u.id DESC LIMIT ? "
		                           "OFFSET ?",
		                           "ll", q->limit, off);
	return count ? sp_db_query(res, "SELECT COUNT(*) FROM users u " SEARCH_WHERE, "ss", like,
	                           like)
	             : sp_db_query(res,
	                           "SELECT " ADMIN_USER_COLS SEARCH_WHERE "ORDER BY u.id DESC "
	                           "LIMIT ? OFFSET ?",
	                           "ssll", like, like, q->limit, off);
}

int admin_users_list(sp_req *r)
{
	const struct users_list_in *q = r->in;
	char like[2 * sizeof q->search + 2];
	long long total;
	sp_res res;
	json_object *arr, *data;

	prefix_pattern(q->search, like, sizeof like);
	if (list_query(&res, q, like, 1) != 0)
		return sp_unavailable(r);
	total = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (list_query(&res, q, like, 0) != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, admin_user_json(&res, i));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "users", arr);
	sp_ok_page(r, data, json_object_array_length(arr), q->page, q->limit, total);
	return 0;
}

/*
 * An admin cannot take their own admin role or account away (409): the
 * service would be left without the admin making the change, mid-request.
 */
int admin_users_update(sp_req *r)
{
	const struct users_update_in *q = r->in;
	sp_user_change c = {q->role[0] ? q->role : NULL, q->active, q->unlock};
	sp_res res;
	json_object *data;
	int rc;

	if (q->id == r->user_id && (strcmp(q->role, "user") == 0 || q->active == 0))
		return sp_fail(r, 409, "CONFLICT",
		               "You cannot demote or deactivate your own account");
	rc = sp_user_change_apply(q->id, &c);
	if (rc < 0)
		return sp_unavailable(r);
	if (rc == 1)
		return sp_fail(r, 404, "NOT_FOUND", "User not found");
	if (sp_db_query(&res, "SELECT " ADMIN_USER_COLS "WHERE u.id = ?", "l", q->id) != 0)
		return sp_unavailable(r);
	if (res.nrows != 1) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "User not found");
	}
	data = json_object_new_object();
	json_object_object_add(data, "user", admin_user_json(&res, 0));
	sp_res_free(&res);
	sp_ok(r, 200, "User updated", data);
	return 0;
}
