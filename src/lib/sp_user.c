/*
 * The user document every area shows (profile, preferences, level), built
 * from one row of SP_USER_COLS.
 */
#include "sp_user.h"
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_json.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_outbox.h"
#include "sp_sub.h"

#include <stdio.h>
#include <string.h>

json_object *sp_user_preferences(const char *stored)
{
	json_object *p = stored ? json_tokener_parse(stored) : NULL;
	json_object *n, *v;

	if (p == NULL || !json_object_is_type(p, json_type_object)) {
		if (p)
			json_object_put(p);
		p = json_object_new_object();
	}
	if (!json_object_object_get_ex(p, "genres", &v))
		json_object_object_add(p, "genres", json_object_new_array());
	if (!json_object_object_get_ex(p, "language", &v))
		json_object_object_add(p, "language", json_object_new_string("en"));
	if (!json_object_object_get_ex(p, "notifications", &n) || n == NULL) {
		n = json_object_new_object();
		json_object_object_add(p, "notifications", n);
	}
	if (!json_object_object_get_ex(n, "email", &v))
		json_object_object_add(n, "email", json_object_new_boolean(1));
	if (!json_object_object_get_ex(n, "expiry", &v))
		json_object_object_add(n, "expiry", json_object_new_boolean(1));
	if (!json_object_object_get_ex(n, "newContent", &v))
		json_object_object_add(n, "newContent", json_object_new_boolean(1));
	return p;
}

json_object *sp_user_json(const sp_res *res, size_t row, size_t c)
{
	json_object *u = json_object_new_object();
	const char *pic = sp_res_str(res, row, c + 7);

	json_object_object_add(u, "id", sp_json_str_or_null(sp_res_str(res, row, c + 0)));
	json_object_object_add(u, "name", sp_json_str_or_null(sp_res_str(res, row, c + 1)));
	json_object_object_add(u, "email", sp_json_str_or_null(sp_res_str(res, row, c + 2)));
	json_object_object_add(u, "phone", sp_json_str_or_null(sp_res_str(res, row, c + 3)));
	json_object_object_add(u, "bio", sp_json_str_or_null(sp_res_str(res, row, c + 4)));
	json_object_object_add(u, "role", sp_json_str_or_null(sp_res_str(res, row, c + 5)));
	json_object_object_add(u, "preferences", sp_user_preferences(sp_res_str(res, row, c + 6)));
	json_object_object_add(u, "profilePicture", sp_json_str_or_null(pic));
	json_object_object_add(u, "createdAt", sp_json_dbtime(sp_res_str(res, row, c + 8)));
	json_object_object_add(u, "lastLoginAt", sp_json_dbtime(sp_res_str(res, row, c + 9)));
	json_object_object_add(u, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, row, c + 10, 0) == 1));
	/* without an active paid subscription a user is at Free */
	json_object_object_add(u, "accessLevel", json_object_new_string("Free"));
	json_object_object_add(u, "subscription", NULL);
	return u;
}

int sp_user_fetch(long long uid, json_object **out)
{
	sp_res res;

	if (sp_db_query(&res, "SELECT " SP_USER_COLS " FROM users u WHERE u.id = ?", "l", uid) != 0)
		return -1;
	if (res.nrows == 0) {
		sp_res_free(&res);
		return 1;
	}
	*out = sp_user_json(&res, 0, 0);
	sp_res_free(&res);
	if (sp_user_attach_subscription(*out, uid) != 0) {
		json_object_put(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int sp_user_attach_subscription(json_object *user, long long uid)
{
	json_object *sub = NULL, *plan, *lvl;

	if (sp_sub_current(uid, &sub) != 0)
		return -1;
	if (sub && json_object_object_get_ex(sub, "plan", &plan) &&
	    json_object_object_get_ex(plan, "accessLevel", &lvl))
		json_object_object_add(user, "accessLevel", json_object_get(lvl));
	json_object_object_add(user, "subscription", sub);
	return 0;
}

void sp_user_caches_drop(long long uid)
{
	char me[SP_KEY_MAX], sub[SP_KEY_MAX];

	sp_key_me(me, sizeof me, uid);
	sp_key_sub(sub, sizeof sub, uid);
	sp_kv_del(me, sub, NULL);
}

int sp_user_devices(long long uid, json_object **out)
{
	sp_res res;

	*out = NULL;
	if (sp_db_query(&res,
	                "SELECT device_id, device_name, device_type, last_used, created_at FROM "
	                "devices WHERE user_id = ? ORDER BY last_used DESC",
	                "l", uid) != 0)
		return -1;
	*out = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "deviceId", sp_json_str_or_null(sp_res_str(&res, i, 0)));
		json_object_object_add(d, "deviceName",
		                       sp_json_str_or_null(sp_res_str(&res, i, 1)));
		json_object_object_add(d, "deviceType",
		                       sp_json_str_or_null(sp_res_str(&res, i, 2)));
		json_object_object_add(d, "lastUsed", sp_json_dbtime(sp_res_str(&res, i, 3)));
		json_object_object_add(d, "registeredAt", sp_json_dbtime(sp_res_str(&res, i, 4)));
		json_object_array_add(*out, d);
	}
	sp_res_free(&res);
	return 0;
}

int sp_user_set_active(long long uid, int active)
{
	sp_user_change c = {NULL, active ? 1 : 0, 0};

	return sp_user_change_apply(uid, &c);
}

/*
 * The gate trusts a token version cached in Redis and reads is_active only
 * on a miss, so what must stop a token bumps the version. SET assigns left
 * to right: the version is computed from the row as it was.
 */
#define USER_CHANGE_SQL                                                                            \
	"UPDATE users SET token_version = token_version + IF((? = 0 AND is_active = 1) OR (? <> "  \
	"'' AND role <> ?), 1, 0), is_active = IF(? < 0, is_active, ?), role = IF(? = '', role, "  \
	"?), failed_logins = IF(? = 1, 0, failed_logins), locked_until = IF(? = 1, NULL, "         \
	"locked_until) WHERE id = ?"

int sp_user_change_apply(long long uid, const sp_user_change *c)
{
	sp_res res;
	long tv;
	const char *role = c->role ? c->role : "";
	int active = c->active, unlock = c->unlock ? 1 : 0;

	if (sp_db_begin() != 0 ||
	    sp_db_exec(USER_CHANGE_SQL, "issiissiil", active, role, role, active, active, role,
	               role, unlock, unlock, uid) < 0 ||
	    (active == 0 && sp_db_exec("UPDATE refresh_chains SET revoked_at = UTC_TIMESTAMP(3), "
	                               "revoke_reason = 'deactivated' WHERE user_id = ? AND "
	                               "revoked_at IS NULL",
	                               "l", uid) < 0) ||
	    sp_db_query(&res, "SELECT token_version FROM users WHERE id = ?", "l", uid) != 0) {
		sp_db_rollback();
		return -1;
	}
	if (res.nrows != 1) {
		sp_res_free(&res);
		sp_db_rollback();
		return 1;
	}
	tv = (long)sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (sp_db_commit() != 0)
		return -1;
	/* Redis down: the gate checks MariaDB, and sp_auth_resync replays this version */
	sp_auth_cache_tv(uid, tv, 0);
	sp_user_caches_drop(uid);
	return 0;
}

int sp_user_hash_password(const char *password, char *out, size_t outlen)
{
	return sp_password_hash(password, sp_cfg.bcrypt_cost, out, outlen) == 0 ? 0 : -1;
}

int sp_user_set_password(long long uid, const char *hash, enum sp_password_notice notice)
{
	if (sp_db_exec("UPDATE users SET password_hash = ?, token_version = token_version + 1, "
	               "failed_logins = 0, locked_until = NULL, password_changed_at = "
	               "UTC_TIMESTAMP(3) WHERE id = ?",
	               "sl", hash, uid) != 1)
		return -1;
	if (sp_db_exec("UPDATE refresh_chains SET revoked_at = UTC_TIMESTAMP(3), revoke_reason = "
	               "'password' WHERE user_id = ? AND revoked_at IS NULL",
	               "l", uid) < 0)
		return -1;
	if (notice == SP_PASSWORD_SILENT)
		return 0;
	return sp_outbox_add("password.changed", uid, NULL);
}

void sp_user_password_published(long long uid)
{
	sp_res res;

	if (sp_db_query(&res, "SELECT token_version FROM users WHERE id = ?", "l", uid) == 0) {
		if (res.nrows)
			sp_auth_cache_tv(uid, (long)sp_res_ll(&res, 0, 0, 0), 0);
		sp_res_free(&res);
	}
	sp_user_caches_drop(uid);
}

/*
 * Lockout that parallel guesses cannot outrun: before its bcrypt, a sign-in
 * reserves one of the auth.max_failed_logins attempts with a conditional
 * UPDATE (atomic under MariaDB's row lock), so no more passwords than that
 * are ever evaluated per lockout. A failure keeps its reservation as the
 * failure; a right password resets the count. The count lives in MariaDB so
 * a Redis outage cannot reset it. 1 reserved, 0 refused, -1 unavailable.
 */
int sp_user_reserve_attempt(long long uid)
{
	long long n =
	    sp_db_exec("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ? AND "
	               "failed_logins < ? AND (locked_until IS NULL OR locked_until <= "
	               "UTC_TIMESTAMP(3))",
	               "ll", uid, (long long)sp_cfg.max_failed_logins);

	return n < 0 ? -1 : n == 1;
}

/*
 * After a wrong password (its attempt already counted): the failure that
 * filled the count locks the account for auth.lockout_seconds and starts
 * the count again; the conditional UPDATE lets exactly one of concurrent
 * failures do it, so one account.locked event is written.
 */
int sp_user_record_failure(long long uid, const char *email)
{
	json_object *ev;
	long long n;

	if (sp_db_begin() != 0)
		return -1;
	n = sp_db_exec("UPDATE users SET failed_logins = 0, locked_until = UTC_TIMESTAMP(3) + "
	               "INTERVAL ? SECOND WHERE id = ? AND failed_logins >= ?",
	               "lll", (long long)sp_cfg.lockout_seconds, uid,
	               (long long)sp_cfg.max_failed_logins);
	if (n < 0) {
		sp_db_rollback();
		return -1;
	}
	if (n == 1) {
		ev = json_object_new_object();
		json_object_object_add(ev, "email", json_object_new_string(email));
		json_object_object_add(ev, "lockoutSeconds",
		                       json_object_new_int64(sp_cfg.lockout_seconds));
		if (sp_outbox_add("account.locked", uid, ev) != 0) {
			sp_db_rollback();
			return -1;
		}
	}
	return sp_db_commit();
}
