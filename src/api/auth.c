/*
 * The /auth area: registration, sign-in with lockout, the signed-in user,
 * password change and reset, refresh-token rotation and sign-out.
 */
#include "sp_app.h"
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_gate.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* POST /auth/register */
struct register_in {
	char name[401], email[255], phone[24], bio[2001];
	int has_phone, has_bio;
	const char *password; /* points into the body */
};

/* POST /auth/login */
struct login_in {
	char email[255];
	const char *password;
};

/* PUT /auth/change-password */
struct change_password_in {
	const char *current, *next;
};

/* POST /auth/forgot-password */
struct forgot_in {
	char email[255];
};

/* POST /auth/reset-password */
struct reset_in {
	const char *token, *next;
};

/* POST /auth/refresh */
struct refresh_in {
	const char *token;
};

static int auth_register(sp_req *r);
static int auth_login(sp_req *r);
static int auth_me(sp_req *r);
static int auth_change_password(sp_req *r);
static int auth_refresh(sp_req *r);
static int auth_logout(sp_req *r);
static int auth_forgot_password(sp_req *r);
static int auth_reset_password(sp_req *r);
static int parse_register(sp_req *r, void *in);
static int parse_login(sp_req *r, void *in);
static int parse_change_password(sp_req *r, void *in);
static int parse_forgot(sp_req *r, void *in);
static int parse_reset(sp_req *r, void *in);
static int parse_refresh(sp_req *r, void *in);

static const sp_route routes[] = {
    {"POST", "/auth/register", auth_register, SP_AUTH_NONE, SP_RL_AUTH, NULL, NULL,
     SP_INPUT(parse_register, struct register_in)},
    {"POST", "/auth/login", auth_login, SP_AUTH_NONE, SP_RL_AUTH, NULL, NULL,
     SP_INPUT(parse_login, struct login_in)},
    {"GET", "/auth/me", auth_me, SP_AUTH_REQUIRED, SP_NO_BODY, sp_prefetch_me, NULL, SP_NO_INPUT},
    {"PUT", "/auth/change-password", auth_change_password, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_change_password, struct change_password_in)},
    {"POST", "/auth/refresh", auth_refresh, SP_AUTH_NONE, SP_RL_AUTH, NULL, NULL,
     SP_INPUT(parse_refresh, struct refresh_in)},
    {"POST", "/auth/logout", auth_logout, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"POST", "/auth/forgot-password", auth_forgot_password, SP_AUTH_NONE, 0, NULL, NULL,
     SP_INPUT(parse_forgot, struct forgot_in)},
    {"POST", "/auth/reset-password", auth_reset_password, SP_AUTH_NONE, 0, NULL, NULL,
     SP_INPUT(parse_reset, struct reset_in)},
};

/* ---------------------------------------------------------------- sessions */

struct tokens {
	char *access;
	char refresh[65];
	char sid[33];
};

static void tokens_free(struct tokens *t)
{
	free(t->access);
	t->access = NULL;
}

/*
 * Adds a fresh refresh token to chain sid (a new chain when sid is empty)
 * and signs an access token bound to it. Runs inside the caller's
 * transaction; only the hash of the refresh token is stored.
 */
static int issue_tokens(long long uid, const char *role, long tv, const char *sid, struct tokens *t)
{
	char hash[65], kid[SP_KID_MAX];
	sp_claims c;
	long long now = sp_now_ms() / 1000;

	memset(t, 0, sizeof *t);
	if (sid && *sid) {
		snprintf(t->sid, sizeof t->sid, "%s", sid);
	} else {
		sp_random_hex(t->sid, 16);
		if (sp_db_exec("INSERT INTO refresh_chains (id, user_id, expires_at) VALUES (?, ?, "
		               "UTC_TIMESTAMP(3) + INTERVAL ? SECOND)",
		               "sll", t->sid, uid, (long long)sp_cfg.jwt_refresh_ttl) != 1)
			return -1;
	}
	sp_random_hex(t->refresh, 32);
	sp_sha256_hex(t->refresh, 64, hash);
	if (sp_db_exec(
	        "INSERT INTO refresh_tokens (token_hash, chain_id, user_id) VALUES (?, ?, ?)",
	        "ssl", hash, t->sid, uid) != 1)
		return -1;
	memset(&c, 0, sizeof c);
	c.uid = uid;
	snprintf(c.role, sizeof c.role, "%s", role);
	sp_random_hex(c.jti, 16);
	snprintf(c.sid, sizeof c.sid, "%s", t->sid);
	c.tv = tv;
	c.iat = now;
	c.exp = now + sp_cfg.jwt_access_ttl;
	return sp_jwt_issue_current(&c, &t->access, kid);
}

static void add_tokens(json_object *data, struct tokens *t)
{
	json_object_object_add(data, "token", json_object_new_string(t->access));
	json_object_object_add(data, "refreshToken", json_object_new_string(t->refresh));
	json_object_object_add(data, "expiresIn", json_object_new_int64(sp_cfg.jwt_access_ttl));
}

/* ---------------------------------------------------------------- register */

static int parse_register(sp_req *r, void *in)
{
	struct register_in *q = in;

	sp_v_text(r, r->json, "name", 1, 2, 100, q->name, sizeof q->name);
	sp_v_email(r, r->json, "email", 1, q->email, sizeof q->email);
	sp_v_password(r, r->json, "password", 1, &q->password);
	q->has_phone = sp_v_phone(r, r->json, "phone", q->phone, sizeof q->phone) == SP_V_OK;
	q->has_bio = sp_v_text(r, r->json, "bio", 0, 0, 500, q->bio, sizeof q->bio) == SP_V_OK;
	return 0;
}

static int email_taken(sp_req *r)
{
	sp_field_error_add(r, "email", "is already registered");
	return sp_fail(r, 409, "CONFLICT", "An account with this e-mail already exists");
}

/* Inserts the user with its event and first tokens, in one transaction: the id, or 0 / -1. */
static long long create_user(const struct register_in *q, const char *hash, struct tokens *t)
{
	long long uid;
	json_object *ev;

	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_exec("INSERT INTO users (name, email, password_hash, phone, bio) VALUES (?, ?, "
	               "?, ?, ?)",
	               "sssss", q->name, q->email, hash, q->has_phone ? q->phone : NULL,
	               q->has_bio ? q->bio : NULL) != 1)
		return sp_db_errno() == SP_ER_DUP_ENTRY ? 0 : -1;
	uid = (long long)sp_db_insert_id();
	ev = json_object_new_object();
	json_object_object_add(ev, "email", json_object_new_string(q->email));
	json_object_object_add(ev, "name", json_object_new_string(q->name));
	if (sp_outbox_add("user.registered", uid, ev) != 0 ||
	    issue_tokens(uid, "user", 0, NULL, t) != 0 || sp_db_commit() != 0)
		return -1;
	return uid;
}

static int auth_register(sp_req *r)
{
	const struct register_in *q = r->in;
	char hash[128];
	struct tokens t;
	json_object *user = NULL, *data;
	long long uid;
	sp_res res;

	/* a cheap look first, so a taken address costs no bcrypt */
	if (sp_db_query(&res, "SELECT id FROM users WHERE email = ?", "s", q->email) != 0)
		return sp_unavailable(r);
	uid = (long long)res.nrows;
	sp_res_free(&res);
	if (uid)
		return email_taken(r);
	if (sp_password_hash(q->password, sp_cfg.bcrypt_cost, hash, sizeof hash) != 0) {
		sp_error("bcrypt failed");
		return sp_unavailable(r);
	}
	memset(&t, 0, sizeof t);
	uid = create_user(q, hash, &t);
	if (uid <= 0 || sp_user_fetch(uid, &user) != 0) {
		tokens_free(&t);
		sp_db_rollback();
		return uid == 0 ? email_taken(r) : sp_unavailable(r);
	}
	data = json_object_new_object();
	json_object_object_add(data, "user", user);
	add_tokens(data, &t);
	tokens_free(&t);
	sp_ok(r, 201, "Registration successful", data);
	return 0;
}

/* ---------------------------------------------------------------- login */

/* 403 ACCOUNT_LOCKED saying how long (seconds, or the whole lockout when not yet known). */
static int locked(sp_req *r, long long uid, long long secs)
{
	char msg[128];
	sp_res res;

	if (secs <= 0 &&
	    sp_db_query(
	        &res,
	        "SELECT IF(locked_until > UTC_TIMESTAMP(3), CEIL(TIMESTAMPDIFF(MICROSECOND, "
	        "UTC_TIMESTAMP(3), locked_until) / 1000000), 0) FROM users WHERE id = ?",
	        "l", uid) == 0) {
		secs = sp_res_ll(&res, 0, 0, 0);
		sp_res_free(&res);
	}
	/* the attempts are all taken by sign-ins still running: a lock is coming */
	if (secs <= 0)
		secs = sp_cfg.lockout_seconds;
	snprintf(msg, sizeof msg,
	         "Account is locked after repeated failed sign-ins; try again in %lld s", secs);
	return sp_fail(r, 403, "ACCOUNT_LOCKED", msg);
}

static int parse_login(sp_req *r, void *in)
{
	struct login_in *q = in;

	sp_v_email(r, r->json, "email", 1, q->email, sizeof q->email);
	sp_v_password(r, r->json, "password", 0, &q->password);
	return 0;
}

/* The columns of the sign-in query: its own three, then SP_USER_COLS. */
enum { LOGIN_HASH, LOGIN_TV, LOGIN_LOCKED_FOR, LOGIN_USER };

static int auth_login(sp_req *r)
{
	const struct login_in *q = r->in;
	const char *email = q->email, *password = q->password;
	sp_res res;
	struct tokens t;
	json_object *user, *data;
	long long uid, locked_for;
	long tv;
	char role[16];
	int ok, rc;

	if (sp_db_query(&res,
	                "SELECT u.password_hash, u.token_version, "
	                "IF(u.locked_until > UTC_TIMESTAMP(3), CEIL(TIMESTAMPDIFF(MICROSECOND, "
	                "UTC_TIMESTAMP(3), u.locked_until) / 1000000), 0), " SP_USER_COLS
	                " FROM users u WHERE u.email = ?",
	                "s", email) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_password_burn(password);
		return sp_fail(r, 401, "UNAUTHORIZED", "Invalid email or password");
	}
	uid = sp_res_ll(&res, 0, LOGIN_USER + SP_UC_ID, 0);
	locked_for = sp_res_ll(&res, 0, LOGIN_LOCKED_FOR, 0);
	rc = locked_for > 0 ? 0 : sp_user_reserve_attempt(uid);
	if (rc <= 0) {
		sp_res_free(&res);
		return rc < 0 ? sp_unavailable(r) : locked(r, uid, locked_for);
	}
	ok = sp_password_verify(password, sp_res_str(&res, 0, LOGIN_HASH));
	if (!ok) {
		sp_res_free(&res);
		if (sp_user_record_failure(uid, email) != 0)
			return sp_unavailable(r);
		return sp_fail(r, 401, "UNAUTHORIZED", "Invalid email or password");
	}
	if (sp_res_ll(&res, 0, LOGIN_USER + SP_UC_ACTIVE, 0) != 1) {
		sp_res_free(&res);
		/* the right password: the reserved attempt was no failure */
		if (sp_db_exec("UPDATE users SET failed_logins = 0 WHERE id = ?", "l", uid) < 0)
			return sp_unavailable(r);
		return sp_fail(r, 403, "FORBIDDEN", "This account has been deactivated");
	}
	tv = (long)sp_res_ll(&res, 0, LOGIN_TV, 0);
	snprintf(role, sizeof role, "%s", sp_res_str(&res, 0, LOGIN_USER + SP_UC_ROLE));
	user = sp_user_json(&res, 0, LOGIN_USER);
	sp_res_free(&res);
	if (sp_user_attach_subscription(user, uid) != 0) {
		json_object_put(user);
		return sp_unavailable(r);
	}

	if (sp_db_begin() != 0 ||
	    sp_db_exec("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = "
	               "UTC_TIMESTAMP(3) WHERE id = ?",
	               "l", uid) < 0 ||
	    issue_tokens(uid, role, tv, NULL, &t) != 0 || sp_db_commit() != 0) {
		json_object_put(user);
		tokens_free(&t);
		return sp_unavailable(r);
	}
	sp_user_caches_drop(uid); /* lastLoginAt changed */
	data = json_object_new_object();
	json_object_object_add(data, "user", user);
	add_tokens(data, &t);
	tokens_free(&t);
	sp_ok(r, 200, "Login successful", data);
	return 0;
}

/* ---------------------------------------------------------------- me */

/* The signed-in user; answered from the cache the gate prefetched when it can. */
static int auth_me(sp_req *r)
{
	json_object *user = NULL, *data;
	char key[SP_KEY_MAX];
	int rc;

	if (r->prefetched) {
		sp_ok_raw(r, 200, r->prefetched);
		return 0;
	}
	rc = sp_user_fetch(r->user_id, &user);
	if (rc < 0)
		return sp_unavailable(r);
	if (rc > 0)
		return sp_fail(r, 401, "UNAUTHORIZED", "Account no longer exists");
	json_object *cur = NULL;
	json_object_object_get_ex(user, "subscription", &cur);
	json_object_object_add(user, "currentSubscription", cur ? json_object_get(cur) : NULL);
	data = json_object_new_object();
	json_object_object_add(data, "user", user);
	/* fill the cache only if no writer got there first (SET NX) */
	sp_key_me(key, sizeof key, r->user_id);
	sp_kv_set(key, sp_json_text(data), strlen(sp_json_text(data)), sp_cfg.cache_ttl, SP_KV_NX);
	sp_ok(r, 200, NULL, data);
	return 0;
}

/* ---------------------------------------------------------------- passwords */

static int parse_change_password(sp_req *r, void *in)
{
	struct change_password_in *q = in;

	sp_v_password(r, r->json, "currentPassword", 0, &q->current);
	sp_v_password(r, r->json, "newPassword", 1, &q->next);
	if (r->n_errors == 0 && strcmp(q->current, q->next) == 0)
		sp_field_error_add(r, "newPassword", "must differ from the current password");
	return 0;
}

static int auth_change_password(sp_req *r)
{
	const struct change_password_in *q = r->in;
	const char *current = q->current, *next = q->next;
	char hash[128];
	sp_res res;
	struct tokens t;
	json_object *data;
	long tv;
	int ok;

	if (sp_db_query(&res, "SELECT password_hash FROM users WHERE id = ?", "l", r->user_id) != 0)
		return sp_unavailable(r);
	ok = res.nrows == 1 && sp_password_verify(current, sp_res_str(&res, 0, 0));
	sp_res_free(&res);
	if (!ok) {
		sp_field_error_add(r, "currentPassword", "is incorrect");
		return sp_fail_validation(r);
	}
	if (sp_user_hash_password(next, hash, sizeof hash) != 0)
		return sp_unavailable(r);
	if (sp_db_begin() != 0 || sp_user_set_password(r->user_id, hash, SP_PASSWORD_NOTIFY) != 0 ||
	    sp_db_query(&res, "SELECT token_version FROM users WHERE id = ?", "l", r->user_id) != 0)
		return sp_unavailable(r);
	tv = (long)sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (issue_tokens(r->user_id, r->role, tv, NULL, &t) != 0 || sp_db_commit() != 0) {
		tokens_free(&t);
		return sp_unavailable(r);
	}
	sp_user_password_published(r->user_id);
	data = json_object_new_object();
	add_tokens(data, &t);
	tokens_free(&t);
	sp_ok(r, 200, "Password changed; other sessions have been signed out", data);
	return 0;
}

/*
 * Writes a reset for the active account with this address, unless it already
 * had auth.reset_limit of them in the window (the user's row lock makes the
 * count exact under concurrent requests). The link's token is stored only as
 * its hash, and sealed for the mailer in the event. 0 done or skipped, -1
 * unavailable.
 */
static int write_reset(const char *email)
{
	char token[65], hash[65], expires[32];
	json_object *ev;
	sp_res res;
	long long uid, recent;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res,
	                "SELECT u.id, u.name, (SELECT COUNT(*) FROM password_resets p WHERE "
	                "p.user_id = u.id AND p.created_at > UTC_TIMESTAMP(3) - INTERVAL ? "
	                "SECOND) FROM users u WHERE u.email = ? AND u.is_active = 1 FOR UPDATE",
	                "ls", (long long)sp_cfg.reset_limit.window, email) != 0)
		return -1;
	recent = res.nrows == 1 ? sp_res_ll(&res, 0, 2, 0) : 0;
	if (res.nrows != 1 || recent >= sp_cfg.reset_limit.limit) {
		sp_res_free(&res);
		sp_db_rollback();
		return 0;
	}
	uid = sp_res_ll(&res, 0, 0, 0);
	sp_random_hex(token, 32);
	sp_sha256_hex(token, 64, hash);
	sp_iso8601(sp_now_ms() + sp_cfg.reset_ttl * 1000, expires);
	ev = json_object_new_object();
	json_object_object_add(ev, "email", json_object_new_string(email));
	json_object_object_add(ev, "name", sp_json_str_or_null(sp_res_str(&res, 0, 1)));
	json_object_object_add(ev, "expiresAt", json_object_new_string(expires));
	sp_res_free(&res);
	if (sp_outbox_seal_token(ev, "password.reset_requested", uid, token) != 0 ||
	    sp_db_exec("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES "
	               "(?, ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND)",
	               "sll", hash, uid, (long long)sp_cfg.reset_ttl) != 1) {
		json_object_put(ev);
		sp_db_rollback();
		return -1;
	}
	/* sp_outbox_add takes ev */
	if (sp_outbox_add("password.reset_requested", uid, ev) != 0) {
		sp_db_rollback();
		return -1;
	}
	return sp_db_commit();
}

/* The same answer whether or not the address exists, and whether or not a mail was due. */
static int parse_forgot(sp_req *r, void *in)
{
	struct forgot_in *q = in;

	sp_v_email(r, r->json, "email", 1, q->email, sizeof q->email);
	return 0;
}

static int auth_forgot_password(sp_req *r)
{
	const struct forgot_in *q = r->in;

	if (write_reset(q->email) != 0)
		return sp_unavailable(r);
	sp_ok(r, 200, "If that address is registered, a reset link has been sent", NULL);
	return 0;
}

/* The user a valid (unused, unexpired) reset token belongs to; 0 none; -1 unavailable. */
static long long reset_owner(const char *hash, int for_update)
{
	sp_res res;
	long long uid;

	if (sp_db_query(&res,
	                for_update ? "SELECT user_id FROM password_resets WHERE token_hash = ? AND "
	                             "used_at IS NULL AND expires_at > UTC_TIMESTAMP(3) FOR UPDATE"
	                           : "SELECT user_id FROM password_resets WHERE token_hash = ? AND "
	                             "used_at IS NULL AND expires_at > UTC_TIMESTAMP(3)",
	                "s", hash) != 0)
		return -1;
	uid = res.nrows == 1 ? sp_res_ll(&res, 0, 0, 0) : 0;
	sp_res_free(&res);
	return uid;
}

/*
 * The token is checked before the new password is hashed, so a bad token
 * costs no bcrypt; it is checked again under its row lock once the hash is
 * ready, as a concurrent reset may have used it meanwhile.
 */
static int parse_reset(sp_req *r, void *in)
{
	struct reset_in *q = in;

	if (sp_v_password(r, r->json, "token", 0, &q->token) == SP_V_OK && strlen(q->token) > 256)
		sp_field_error_add(r, "token", "is too long");
	sp_v_password(r, r->json, "newPassword", 1, &q->next);
	return 0;
}

static int invalid_reset(sp_req *r)
{
	return sp_fail(r, 400, "INVALID_TOKEN", "The reset link is invalid, used or expired");
}

static int auth_reset_password(sp_req *r)
{
	const struct reset_in *q = r->in;
	char hash[65], pwhash[128];
	long long uid;

	sp_sha256_hex(q->token, strlen(q->token), hash);
	uid = reset_owner(hash, 0);
	if (uid < 0)
		return sp_unavailable(r);
	if (uid == 0)
		return invalid_reset(r);
	if (sp_user_hash_password(q->next, pwhash, sizeof pwhash) != 0)
		return sp_unavailable(r);
	if (sp_db_begin() != 0 || (uid = reset_owner(hash, 1)) < 0)
		return sp_unavailable(r);
	if (uid == 0)
		return invalid_reset(r); /* rolled back on return */
	/* every open reset of the user ends here, and the mailer's copies of their tokens go */
	if (sp_db_exec("UPDATE password_resets SET used_at = UTC_TIMESTAMP(3) WHERE user_id = ? "
	               "AND used_at IS NULL",
	               "l", uid) < 1 ||
	    sp_outbox_drop_tokens("password.reset_requested", uid, NULL) < 0 ||
	    sp_user_set_password(uid, pwhash, SP_PASSWORD_NOTIFY) != 0 || sp_db_commit() != 0)
		return sp_unavailable(r);
	sp_user_password_published(uid);
	sp_ok(r, 200, "Password has been reset; please sign in", NULL);
	return 0;
}

/* ---------------------------------------------------------------- refresh */

/*
 * Rotation: each refresh token works once. Presenting one that was already
 * used means it leaked, so its whole chain is revoked (and the access tokens
 * issued from it stop working through the chain's deny mark).
 */
static int parse_refresh(sp_req *r, void *in)
{
	struct refresh_in *q = in;

	return sp_v_password(r, r->json, "refreshToken", 0, &q->token) == SP_V_OK ? 0 : -1;
}

static int auth_refresh(sp_req *r)
{
	const char *tok = ((const struct refresh_in *)r->in)->token;
	char hash[65], sid[33], role[16];
	sp_res res;
	struct tokens t;
	json_object *data;
	long long uid;
	long tv;
	int used, dead;

	if (strlen(tok) != 64)
		return sp_fail(r, 401, "UNAUTHORIZED", "Refresh token is invalid or expired");
	sp_sha256_hex(tok, 64, hash);
	if (sp_db_begin() != 0 ||
	    sp_db_query(&res,
	                "SELECT t.chain_id, t.user_id, t.used_at IS NOT NULL, "
	                "c.revoked_at IS NOT NULL OR c.expires_at <= UTC_TIMESTAMP(3) OR "
	                "u.is_active = 0, u.token_version, u.role "
	                "FROM refresh_tokens t JOIN refresh_chains c ON c.id = t.chain_id "
	                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? FOR UPDATE",
	                "s", hash) != 0)
		return sp_unavailable(r);
	if (res.nrows != 1) {
		sp_res_free(&res);
		sp_db_rollback();
		return sp_fail(r, 401, "UNAUTHORIZED", "Refresh token is invalid or expired");
	}
	snprintf(sid, sizeof sid, "%s", sp_res_str(&res, 0, 0));
	uid = sp_res_ll(&res, 0, 1, 0);
	used = sp_res_ll(&res, 0, 2, 0) != 0;
	dead = sp_res_ll(&res, 0, 3, 0) != 0;
	tv = (long)sp_res_ll(&res, 0, 4, 0);
	snprintf(role, sizeof role, "%s", sp_res_str(&res, 0, 5));
	sp_res_free(&res);
	if (used || dead) {
		if (used && !dead) {
			if (sp_db_exec("UPDATE refresh_chains SET revoked_at = UTC_TIMESTAMP(3), "
			               "revoke_reason = 'reuse' WHERE id = ?",
			               "s", sid) < 0 ||
			    sp_db_commit() != 0)
				return sp_unavailable(r);
			sp_auth_mark_chain_revoked(sid);
			sp_warn("refresh token reuse: chain revoked for user %lld", uid);
		} else {
			sp_db_rollback();
		}
		return sp_fail(r, 401, "UNAUTHORIZED", "Refresh token is invalid or expired");
	}
	if (sp_db_exec("UPDATE refresh_tokens SET used_at = UTC_TIMESTAMP(3) WHERE token_hash = ?",
	               "s", hash) != 1 ||
	    issue_tokens(uid, role, tv, sid, &t) != 0 || sp_db_commit() != 0) {
		tokens_free(&t);
		return sp_unavailable(r);
	}
	data = json_object_new_object();
	add_tokens(data, &t);
	tokens_free(&t);
	sp_ok(r, 200, NULL, data);
	return 0;
}

/* ---------------------------------------------------------------- logout */

static int auth_logout(sp_req *r)
{
	long long ttl = r->token_exp - sp_now_ms() / 1000 + 1;
	char exp[32];

	sp_db_time(r->token_exp * 1000, exp);
	if (sp_db_begin() != 0 ||
	    sp_db_exec("INSERT IGNORE INTO revoked_access_tokens (jti, user_id, expires_at) VALUES "
	               "(?, ?, ?)",
	               "sls", r->jti, r->user_id, exp) < 0 ||
	    sp_db_exec("UPDATE refresh_chains SET revoked_at = UTC_TIMESTAMP(3), revoke_reason = "
	               "'logout' WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
	               "sl", r->sid, r->user_id) < 0 ||
	    sp_db_commit() != 0)
		return sp_unavailable(r);
	sp_auth_mark_jti_revoked(r->jti, ttl);
	sp_auth_mark_chain_revoked(r->sid);
	sp_ok(r, 200, "Logged out", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"auth", routes, sizeof routes / sizeof routes[0], NULL};

	return sp_app_main(&app, argc, argv);
}
