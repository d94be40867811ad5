/*
 * Parental controls: the setting, the PIN (bcrypt) and its lockout, all in
 * MariaDB (a Redis outage can neither reset a count nor lose a change).
 */
#include "sp_parental.h"
#include "sp_auth.h"
#include "sp_db.h"
#include "sp_tier.h"

#include <stdio.h>
#include <string.h>

int sp_pin_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 4 || n > 6)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The columns of sp_parental_get's SELECT, in order. */
enum { PC_ENABLED, PC_MAX_AGE, PC_HASH, PC_LOCKED_FOR };

int sp_parental_get(long long uid, sp_parental *out)
{
	sp_res res;

	memset(out, 0, sizeof *out);
	out->max_age = SP_AGE_MAX;
	if (sp_db_query(
	        &res,
	        "SELECT enabled, max_age, pin_hash, IF(pin_locked_until > UTC_TIMESTAMP(3), "
	        "CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), pin_locked_until) / "
	        "1000000), 0) FROM parental_controls WHERE user_id = ?",
	        "l", uid) != 0)
		return -1;
	if (res.nrows == 1) {
		out->enabled = sp_res_ll(&res, 0, PC_ENABLED, 0) == 1;
		out->max_age = (int)sp_res_ll(&res, 0, PC_MAX_AGE, SP_AGE_MAX);
		snprintf(out->pin_hash, sizeof out->pin_hash, "%s",
		         sp_res_str(&res, 0, PC_HASH) ? sp_res_str(&res, 0, PC_HASH) : "");
		out->pin_set = out->pin_hash[0] != '\0';
		out->locked_s = sp_res_ll(&res, 0, PC_LOCKED_FOR, 0);
	}
	sp_res_free(&res);
	return 0;
}

json_object *sp_parental_json(const sp_parental *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(p->enabled));
	json_object_object_add(o, "maxAge", json_object_new_int(p->max_age));
	json_object_object_add(o, "pinSet", json_object_new_boolean(p->pin_set));
	return o;
}

/*
 * users.updated_at moves with every change, in the change's transaction: a
 * process reconnecting to Redis republishes the levels of users changed
 * lately (sp_gate_resync), so a change made while Redis was away still
 * reaches the cached level.
 */
static int touch_user(long long uid)
{
	return sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l", uid) <
	               0
	           ? -1
	           : 0;
}

int sp_parental_create(long long uid, int enabled, int max_age, const char *pin_hash)
{
	long long n;

	if (sp_db_begin() != 0)
		return -1;
	n = sp_db_exec("INSERT IGNORE INTO parental_controls (user_id, enabled, max_age, pin_hash) "
	               "VALUES (?, ?, ?, ?)",
	               "liis", uid, enabled, max_age, pin_hash);
	if (n < 0 || (n == 1 && touch_user(uid) != 0)) {
		sp_db_rollback();
		return -1;
	}
	if (sp_db_commit() != 0)
		return -1;
	return n == 1;
}

/* Takes one of the window's attempts unless locked or all are taken: 1, 0, -1 down. */
static int reserve_pin_attempt(long long uid)
{
	long long n = sp_db_exec(
	    "UPDATE parental_controls SET pin_failures = IF(pin_window_start IS NULL OR "
	    "pin_window_start <= UTC_TIMESTAMP(3) - INTERVAL ? SECOND, 1, pin_failures + 1), "
	    "pin_window_start = IF(pin_failures = 1, UTC_TIMESTAMP(3), pin_window_start) WHERE "
	    "user_id = ? AND (pin_locked_until IS NULL OR pin_locked_until <= UTC_TIMESTAMP(3)) "
	    "AND "
	    "(pin_window_start IS NULL OR pin_window_start <= UTC_TIMESTAMP(3) - INTERVAL ? SECOND "
	    "OR pin_failures < ?)",
	    "llll", (long long)SP_PIN_WINDOW_S, uid, (long long)SP_PIN_WINDOW_S,
	    (long long)SP_PIN_MAX_FAILURES);

	return n < 0 ? -1 : n == 1;
}

enum sp_pin_check sp_parental_check_pin(long long uid, const char *pin_hash, const char *pin)
{
	int rc = reserve_pin_attempt(uid);

	if (rc <= 0)
		return rc < 0 ? SP_PIN_ERROR : SP_PIN_LOCKED;
	if (sp_password_verify(pin, pin_hash)) {
		/* the reserved attempt was no failure */
		if (sp_db_exec("UPDATE parental_controls SET pin_failures = 0, pin_window_start = "
		               "NULL WHERE user_id = ?",
		               "l", uid) < 0)
			return SP_PIN_ERROR;
		return SP_PIN_OK;
	}
	/* the failure that found the count full locks (exactly one of concurrent ones) */
	if (sp_db_exec("UPDATE parental_controls SET pin_locked_until = UTC_TIMESTAMP(3) + "
	               "INTERVAL ? SECOND, pin_failures = 0, pin_window_start = NULL WHERE user_id "
	               "= ? AND pin_failures >= ?",
	               "lll", (long long)SP_PIN_LOCK_S, uid, (long long)SP_PIN_MAX_FAILURES) < 0)
		return SP_PIN_ERROR;
	return SP_PIN_WRONG;
}

long long sp_parental_locked_for(long long uid)
{
	sp_parental p;

	/* the attempts are all taken by checks still running: a lock is coming */
	if (sp_parental_get(uid, &p) != 0 || p.locked_s <= 0)
		return SP_PIN_LOCK_S;
	return p.locked_s;
}

int sp_parental_update(long long uid, int enabled, int max_age)
{
	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_exec("UPDATE parental_controls SET enabled = IF(? < 0, enabled, ?), max_age = "
	               "IF(? < 0, max_age, ?) WHERE user_id = ?",
	               "iiiil", enabled, enabled, max_age, max_age, uid) < 0 ||
	    touch_user(uid) != 0) {
		sp_db_rollback();
		return -1;
	}
	return sp_db_commit();
}

int sp_parental_reset_pin(long long uid, const char *pin_hash)
{
	long long n;

	if (sp_db_begin() != 0)
		return -1;
	/* affected rows: 1 inserted, 2 updated */
	n = sp_db_exec("INSERT INTO parental_controls (user_id, enabled, max_age, pin_hash) VALUES "
	               "(?, 0, 18, ?) ON DUPLICATE KEY UPDATE pin_hash = VALUES(pin_hash), "
	               "pin_failures = 0, pin_window_start = NULL, pin_locked_until = NULL",
	               "ls", uid, pin_hash);
	if (n < 0 || touch_user(uid) != 0) {
		sp_db_rollback();
		return -1;
	}
	if (sp_db_commit() != 0)
		return -1;
	return n == 1;
}

void sp_parental_published(long long uid)
{
	sp_level_publish(uid);
}
