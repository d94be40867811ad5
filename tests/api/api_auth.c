/*
 * /auth: registration, sign-in and lockout, the signed-in user, tokens,
 * password change and reset, refresh rotation, sign-out, and what every
 * /auth endpoint does with bad input (nothing written, contract errors).
 */
#include "api_client.h"

#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_outbox.h"
#include "sp_util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jwt.h>

#define AUTH "/api/v1/auth"

/* ---------------------------------------------------------------- helpers */

/* Counts rows of the tables an /auth request can write. */
struct counts {
	long long users, outbox, resets, tokens, chains, revoked;
};

static void snapshot(struct counts *c)
{
	c->users = api_db_ll("SELECT COUNT(*) FROM users");
	c->outbox = api_db_ll("SELECT COUNT(*) FROM outbox");
	c->resets = api_db_ll("SELECT COUNT(*) FROM password_resets");
	c->tokens = api_db_ll("SELECT COUNT(*) FROM refresh_tokens");
	c->chains = api_db_ll("SELECT COUNT(*) FROM refresh_chains");
	c->revoked = api_db_ll("SELECT COUNT(*) FROM revoked_access_tokens");
}

#define EXPECT_NOTHING_WRITTEN(before)                                                             \
	do {                                                                                       \
		struct counts after_;                                                              \
		snapshot(&after_);                                                                 \
		EXPECT((before).users >= 0, "database not readable (SP_CONFIG)");                  \
		EXPECT(after_.users == (before).users, "users rows %lld -> %lld", (before).users,  \
		       after_.users);                                                              \
		EXPECT(after_.outbox == (before).outbox, "outbox rows %lld -> %lld",               \
		       (before).outbox, after_.outbox);                                            \
		EXPECT(after_.resets == (before).resets, "password_resets rows %lld -> %lld",      \
		       (before).resets, after_.resets);                                            \
		EXPECT(after_.tokens == (before).tokens, "refresh_tokens rows %lld -> %lld",       \
		       (before).tokens, after_.tokens);                                            \
		EXPECT(after_.chains == (before).chains, "refresh_chains rows %lld -> %lld",       \
		       (before).chains, after_.chains);                                            \
		EXPECT(after_.revoked == (before).revoked,                                         \
		       "revoked_access_tokens rows %lld -> %lld", (before).revoked,                \
		       after_.revoked);                                                            \
	} while (0)

/* The newest password.reset_requested payload of a user (malloc'd JSON text, NULL if none). */
static char *reset_payload_of(const char *uid)
{
	return api_db_str_l("SELECT payload FROM outbox WHERE user_id = ? AND event_type = "
	                    "'password.reset_requested' ORDER BY id DESC LIMIT 1",
	                    atoll(uid));
}

/*
 * The reset token the mailer would send: opened from the newest request's
 * sealed copy with the function the mailer uses. NULL when there is none.
 */
static char *reset_token_of(const char *uid)
{
	char *payload = reset_payload_of(uid);
	char tok[128];
	char *out = NULL;

	if (payload && sp_outbox_open_token(payload, "password.reset_requested", atoll(uid), tok,
	                                    sizeof tok) == 0)
		out = strdup(tok);
	free(payload);
	return out;
}

/*
 * Rows of any text or JSON column of any table of the stack's database that
 * contain needle (hex, so no LIKE wildcards); -1 when the schema is unreadable.
 */
static long long rows_holding(const char *needle)
{
	sp_res cols, res;
	long long n = 0;
	char like[200], sql[400];

	if (api_db_ready() != 0 ||
	    sp_db_query(&cols,
	                "SELECT table_name, column_name FROM information_schema.columns WHERE "
	                "table_schema = DATABASE() AND data_type IN ('char', 'varchar', "
	                "'tinytext', 'text', 'mediumtext', 'longtext', 'json', 'longblob', "
	                "'blob', 'varbinary')",
	                "") != 0)
		return -1;
	snprintf(like, sizeof like, "%%%s%%", needle);
	for (size_t i = 0; i < cols.nrows; i++) {
		/* names come from the schema itself, not from input */
		snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM `%s` WHERE `%s` LIKE ?",
		         sp_res_str(&cols, i, 0), sp_res_str(&cols, i, 1));
		if (sp_db_query(&res, sql, "s", like) != 0) {
			n = -1;
			break;
		}
		n += sp_res_ll(&res, 0, 0, 0);
		sp_res_free(&res);
	}
	sp_res_free(&cols);
	return n;
}

static long me_status(const char *token)
{
	api_resp r;
	long st;

	api_get(&r, AUTH "/me", token);
	st = r.status;
	if (st != 200 && st != 401)
		EXPECT_STATUS(r, 401);
	api_free(&r);
	return st;
}

static long login_status(const char *email, const char *password, char **token_out)
{
	api_resp r;
	long st = api_login(&r, email, password);

	if (token_out)
		api_take_str(token_out, &r, "data.token");
	api_free(&r);
	return st;
}

static long refresh_status(const char *refresh, char **token_out, char **refresh_out)
{
	api_resp r;
	char body[512];
	long st;

	snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", refresh ? refresh : "");
	api_send(&r, "POST", AUTH "/refresh", NULL, body);
	st = r.status;
	if (st == 200) {
		EXPECT_OK(r, 200);
	} else {
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	}
	if (token_out)
		api_take_str(token_out, &r, "data.token");
	if (refresh_out)
		api_take_str(refresh_out, &r, "data.refreshToken");
	api_free(&r);
	return st;
}

static void upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

/* base64url without padding */
static char *b64url_encode(const unsigned char *in, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(n * 4 / 3 + 4);
	size_t j = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[j++] = tbl[(v >> 18) & 63];
		out[j++] = tbl[(v >> 12) & 63];
		if (i + 1 < n)
			out[j++] = tbl[(v >> 6) & 63];
		if (i + 2 < n)
			out[j++] = tbl[v & 63];
	}
	out[j] = '\0';
	return out;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

static char *b64url_decode(const char *in, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);
		if (v < 0)
			break;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[j++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[j] = '\0';
	return out;
}

/* The JSON payload of a JWT (malloc'd), NULL when it has no two dots. */
static char *jwt_payload(const char *tok)
{
	const char *d1 = tok ? strchr(tok, '.') : NULL;
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	if (d2 == NULL)
		return NULL;
	return b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1));
}

/* Signs payload (JSON) with libjwt: alg and key as given. */
static char *jwt_make(const char *payload, jwt_alg_t alg, const char *key)
{
	jwt_t *j = NULL;
	char *t = NULL;

	if (jwt_new(&j) != 0)
		return NULL;
	if (jwt_add_grants_json(j, payload) == 0 &&
	    jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0) == 0)
		t = jwt_encode_str(j);
	jwt_free(j);
	return t;
}

/* A lazily registered user for tests that only read. */
static api_user fixture;
static int fixture_ok = -1;

static api_user *fixture_user(void)
{
	if (fixture_ok < 0)
		fixture_ok = api_user_register(&fixture, "fixture");
	return fixture_ok == 0 ? &fixture : NULL;
}

/* ---------------------------------------------------------------- register */

static void test_register_returns_201_with_user_and_tokens(void)
{
	char email[128], mixed[128], lower[128], body[512];
	api_resp r, me;
	json_object *u;
	const char *tok, *id;

	api_unique_email(email, sizeof email, "reg-shape");
	snprintf(lower, sizeof lower, "%s", email);
	snprintf(mixed, sizeof mixed, "%s", email);
	upper(mixed); /* stored lower-cased */
	snprintf(body, sizeof body,
	         "{\"name\":\"Ada Lovelace\",\"email\":\"%s\",\"password\":\"Passw0rdX\"}", mixed);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_OK(r, 201);
	EXPECT_COMMON_HEADERS(r);
	u = api_jget(r.json, "data.user");
	EXPECT(u && json_object_is_type(u, json_type_object), "data.user missing: %s", r.body);
	id = api_jstr(u, "id");
	EXPECT(id && *id, "user.id should be a non-empty string: %s", r.body);
	EXPECT_STR(api_jstr(u, "name"), "Ada Lovelace");
	EXPECT_STR(api_jstr(u, "email"), lower);
	EXPECT(api_jnull(u, "phone"), "user.phone should be null: %s", r.body);
	EXPECT(api_jnull(u, "bio"), "user.bio should be null: %s", r.body);
	EXPECT_STR(api_jstr(u, "role"), "user");
	EXPECT(api_jtype(u, "preferences", json_type_object), "user.preferences object: %s",
	       r.body);
	EXPECT(api_jnull(u, "profilePicture") || api_jstr(u, "profilePicture"),
	       "user.profilePicture should be present: %s", r.body);
	EXPECT(api_is_iso_ms(api_jstr(u, "createdAt")), "user.createdAt ISO-8601 ms Z: %s",
	       api_jstr(u, "createdAt") ? api_jstr(u, "createdAt") : "(absent)");
	EXPECT(api_jnull(u, "lastLoginAt") || api_is_iso_ms(api_jstr(u, "lastLoginAt")),
	       "user.lastLoginAt should be present (null or ISO time): %s", r.body);
	EXPECT(api_jtype(u, "isActive", json_type_boolean) &&
	           json_object_get_boolean(api_jget(u, "isActive")),
	       "user.isActive should be true: %s", r.body);
	EXPECT_STR(api_jstr(u, "accessLevel"), "Free");
	EXPECT(api_jnull(u, "subscription"), "user.subscription should be null: %s", r.body);
	EXPECT(api_jget(u, "password") == NULL && api_jget(u, "passwordHash") == NULL &&
	           api_jget(u, "password_hash") == NULL && strstr(r.body, "$2b$") == NULL &&
	           strstr(r.body, "Passw0rdX") == NULL,
	       "the response must not carry the password or its hash: %s", r.body);
	tok = api_jstr(r.json, "data.token");
	EXPECT(tok && strchr(tok, '.') && strchr(strchr(tok, '.') + 1, '.'),
	       "data.token should be a JWT: %s", tok ? tok : "(absent)");
	EXPECT(api_jstr(r.json, "data.refreshToken") && *api_jstr(r.json, "data.refreshToken"),
	       "data.refreshToken should be a string: %s", r.body);
	EXPECT(api_jint(r.json, "data.expiresIn") == 900,
	       "data.expiresIn should be 900 (jwt.access_ttl)");

	/* the token is a working session of that user */
	api_get(&me, AUTH "/me", tok);
	EXPECT_OK(me, 200);
	EXPECT_STR(api_jstr(me.json, "data.user.id"), id);
	EXPECT_STR(api_jstr(me.json, "data.user.email"), lower);
	api_free(&me);
	api_free(&r);
}

static void test_register_stores_bcrypt_cost_12_hash(void)
{
	api_user u;
	char *hash;

	if (api_user_register(&u, "reg-bcrypt") != 0)
		return;
	hash = api_db_str_s("SELECT password_hash FROM users WHERE email = ?", u.email);
	EXPECT(hash && strncmp(hash, "$2b$12$", 7) == 0 && strlen(hash) == 60,
	       "password_hash should be bcrypt $2b$12$ (60 chars), got %s", hash ? hash : "(none)");
	EXPECT(hash == NULL || strstr(hash, u.password) == NULL, "password stored in clear");
	free(hash);
	api_user_free(&u);
}

static void test_register_writes_one_user_registered_event(void)
{
	api_user u;
	long long n, all;

	if (api_user_register(&u, "reg-outbox") != 0)
		return;
	n = api_outbox_count(u.id, "user.registered");
	all = api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ?", atoll(u.id));
	EXPECT(n == 1, "outbox user.registered rows for the new user: expected 1, got %lld", n);
	EXPECT(all == 1, "outbox rows for the new user: expected 1, got %lld", all);
	api_user_free(&u);
}

static void test_register_duplicate_email_in_any_case_is_409(void)
{
	api_user u;
	api_resp r;
	char body[512], shout[128];
	struct counts before;

	if (api_user_register(&u, "reg-dup") != 0)
		return;
	snapshot(&before);
	snprintf(shout, sizeof shout, "%s", u.email);
	upper(shout);
	snprintf(body, sizeof body,
	         "{\"name\":\"Someone Else\",\"email\":\"%s\",\"password\":\"Other1234\"}", shout);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_STR(api_jstr(r.json, "errors.0.field"), "email");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);

	snprintf(body, sizeof body,
	         "{\"name\":\"Someone Else\",\"email\":\"%s\",\"password\":\"Other1234\"}",
	         u.email);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_ERROR(r, 409, "CONFLICT");
	EXPECT_STR(api_jstr(r.json, "errors.0.field"), "email");
	api_free(&r);
	EXPECT_NOTHING_WRITTEN(before);
	/* the first account is untouched */
	EXPECT(login_status(u.email, u.password, NULL) == 200, "original password still signs in");
	api_user_free(&u);
}

static void test_register_validation_reports_every_failing_field(void)
{
	char bio[600], body[1024], fields[256];
	api_resp r;
	struct counts before;
	json_object *errs;

	memset(bio, 'b', 501);
	bio[501] = '\0';
	snprintf(body, sizeof body,
	         "{\"name\":\"A\",\"email\":\"not-an-email\",\"password\":\"short\","
	         "\"phone\":\"12ab-not-a-phone\",\"bio\":\"%s\"}",
	         bio);
	snapshot(&before);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	EXPECT(api_has_error_field(&r, "name") && api_has_error_field(&r, "email") &&
	           api_has_error_field(&r, "password") && api_has_error_field(&r, "phone") &&
	           api_has_error_field(&r, "bio"),
	       "errors[] should name name,email,password,phone,bio; got [%s]", fields);
	errs = api_jget(r.json, "errors");
	EXPECT(errs && json_object_array_length(errs) == 5,
	       "one errors[] entry per failing field (5), got [%s]", fields);
	for (size_t i = 0; errs && i < json_object_array_length(errs); i++) {
		const char *m = api_jstr(json_object_array_get_idx(errs, i), "message");
		EXPECT(m && *m, "errors[%zu].message should be a non-empty string", i);
	}
	api_free(&r);
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_register_enforces_password_rules(void)
{
	static const char *bad[] = {
	    "Sh0rtpw", /* 7 chars */
	    "alllowercase1",
	    "ALLUPPERCASE1",
	    "NoDigitsHere",
	    /* 73 bytes */
	    "Aa1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    /* 72 characters but 74 bytes */
	    "Aa1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9\xc3"
	    "\xa9",
	};
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char email[128], body[512], fields[128];
		api_resp r;

		api_unique_email(email, sizeof email, "reg-pw");
		snprintf(body, sizeof body,
		         "{\"name\":\"Pat Weak\",\"email\":\"%s\",\"password\":\"%s\"}", email,
		         bad[i]);
		api_send(&r, "POST", AUTH "/register", NULL, body);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		EXPECT(api_streq(fields, "password"),
		       "password \"%s\" (%zu bytes): errors should be [password], got [%s]", bad[i],
		       strlen(bad[i]), fields);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_register_accepts_values_at_the_limits(void)
{
	char name[512] = "", bio[600], email[128], body[2048];
	/* 72 bytes exactly */
	const char *pw = "Aa1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	api_resp r;

	CU_ASSERT_EQUAL(strlen(pw), 72);
	for (int i = 0; i < 100; i++)
		strcat(name, "\xc3\xa9"); /* 100 characters, 200 bytes */
	memset(bio, 'b', 500);
	bio[500] = '\0';
	api_unique_email(email, sizeof email, "reg-limits");
	snprintf(body, sizeof body,
	         "{\"name\":\"%s\",\"email\":\"%s\",\"password\":\"%s\",\"phone\":\"+14155552671\","
	         "\"bio\":\"%s\"}",
	         name, email, pw, bio);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_OK(r, 201);
	EXPECT_STR(api_jstr(r.json, "data.user.name"), name);
	EXPECT_STR(api_jstr(r.json, "data.user.bio"), bio);
	EXPECT_STR(api_jstr(r.json, "data.user.phone"), "+14155552671");
	api_free(&r);
	EXPECT(login_status(email, pw, NULL) == 200, "the 72-byte password signs in");

	/* one character more than allowed */
	strcat(name, "x");
	api_unique_email(email, sizeof email, "reg-limits");
	snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\",\"password\":\"Passw0rd1\"}",
	         name, email);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "name"), "101-character name: errors should name name");
	api_free(&r);
}

static void test_register_ignores_unknown_fields_and_cannot_set_role(void)
{
	char email[128], body[512];
	api_resp r;
	char *role;

	api_unique_email(email, sizeof email, "reg-extra");
	snprintf(body, sizeof body,
	         "{\"name\":\"Mallory\",\"email\":\"%s\",\"password\":\"Passw0rd1\","
	         "\"role\":\"admin\",\"isActive\":false,\"accessLevel\":\"Ultimate\","
	         "\"id\":\"1\",\"favouriteColour\":\"green\"}",
	         email);
	api_send(&r, "POST", AUTH "/register", NULL, body);
	EXPECT_OK(r, 201);
	EXPECT_STR(api_jstr(r.json, "data.user.role"), "user");
	EXPECT_STR(api_jstr(r.json, "data.user.accessLevel"), "Free");
	EXPECT(!api_streq(api_jstr(r.json, "data.user.id"), "1"), "client chose the id");
	api_free(&r);
	role = api_db_str_s("SELECT role FROM users WHERE email = ?", email);
	EXPECT_STR(role, "user");
	free(role);
}

/* ---------------------------------------------------------------- login */

static void test_login_returns_200_with_user_and_tokens(void)
{
	api_user u;
	api_resp r, me;
	char body[512];

	if (api_user_register(&u, "login-ok") != 0)
		return;
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email, u.password);
	api_send(&r, "POST", AUTH "/login", NULL, body);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT_STR(api_jstr(r.json, "data.user.id"), u.id);
	EXPECT_STR(api_jstr(r.json, "data.user.email"), u.email);
	EXPECT_STR(api_jstr(r.json, "data.user.role"), "user");
	EXPECT(api_jnull(r.json, "data.user.lastLoginAt") ||
	           api_is_iso_ms(api_jstr(r.json, "data.user.lastLoginAt")),
	       "user.lastLoginAt should be present (null or ISO time): %s", r.body);
	EXPECT(api_jnull(r.json, "data.user.subscription"), "user.subscription null: %s", r.body);
	EXPECT(api_jstr(r.json, "data.token") && api_jstr(r.json, "data.refreshToken"),
	       "data.token and data.refreshToken: %s", r.body);
	EXPECT(api_jint(r.json, "data.expiresIn") == 900, "data.expiresIn should be 900");
	EXPECT(strstr(r.body, "$2b$") == NULL && strstr(r.body, u.password) == NULL,
	       "no password or hash in the response");
	EXPECT(!api_streq(api_jstr(r.json, "data.token"), u.token),
	       "a sign-in issues a new access token");
	api_get(&me, AUTH "/me", api_jstr(r.json, "data.token"));
	EXPECT_OK(me, 200);
	EXPECT_STR(api_jstr(me.json, "data.user.id"), u.id);
	/* the sign-in is recorded */
	EXPECT(api_is_iso_ms(api_jstr(me.json, "data.user.lastLoginAt")),
	       "after a sign-in /auth/me should show lastLoginAt as an ISO time: %s", me.body);
	api_free(&me);
	api_free(&r);
	/* the registration session still works alongside */
	EXPECT(me_status(u.token) == 200, "the earlier session keeps working");
	api_user_free(&u);
}

static void test_login_email_is_case_insensitive(void)
{
	api_user u;
	char shout[128];

	if (api_user_register(&u, "login-case") != 0)
		return;
	snprintf(shout, sizeof shout, "%s", u.email);
	upper(shout);
	EXPECT(login_status(shout, u.password, NULL) == 200, "sign-in with %s", shout);
	api_user_free(&u);
}

static void test_login_seeded_admin_has_admin_role(void)
{
	const char *email = getenv("SP_ADMIN_EMAIL");
	const char *pw = getenv("SP_ADMIN_PASSWORD");
	char body[512];
	api_resp r;

	EXPECT(email && pw, "SP_ADMIN_EMAIL and SP_ADMIN_PASSWORD must be set");
	if (!email || !pw)
		return;
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
	api_send(&r, "POST", AUTH "/login", NULL, body);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.user.role"), "admin");
	api_free(&r);
}

static void test_login_unknown_email_and_wrong_password_get_same_401(void)
{
	api_user u;
	api_resp a, b;
	char body[512], unknown[128];

	if (api_user_register(&u, "login-same") != 0)
		return;
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"Wrong1234\"}", u.email);
	api_send(&a, "POST", AUTH "/login", NULL, body);
	EXPECT_ERROR(a, 401, "UNAUTHORIZED");
	EXPECT_COMMON_HEADERS(a);
	api_unique_email(unknown, sizeof unknown, "nobody");
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"Wrong1234\"}", unknown);
	api_send(&b, "POST", AUTH "/login", NULL, body);
	EXPECT_ERROR(b, 401, "UNAUTHORIZED");
	EXPECT(api_streq(api_jstr(a.json, "message"), api_jstr(b.json, "message")),
	       "same message for wrong password (\"%s\") and unknown email (\"%s\")",
	       api_jstr(a.json, "message") ? api_jstr(a.json, "message") : "",
	       api_jstr(b.json, "message") ? api_jstr(b.json, "message") : "");
	EXPECT(api_streq(a.body, b.body), "identical bodies: %s vs %s", a.body, b.body);
	api_free(&a);
	api_free(&b);
	api_user_free(&u);
}

static void test_login_locks_after_five_failures(void)
{
	api_user u;
	api_resp r;
	char body[512];
	double t_lock = 0;
	long long locks;

	if (api_user_register(&u, "login-lock") != 0)
		return;
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"Wrong1234\"}", u.email);
	for (int i = 1; i <= 5; i++) {
		api_send(&r, "POST", AUTH "/login", NULL, body);
		EXPECT(r.status == 401, "wrong password attempt %d: expected 401, got %ld %s", i,
		       r.status, r.body);
		t_lock = api_now_s();
		api_free(&r);
	}
	/* locked: even the right password */
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email, u.password);
	api_send(&r, "POST", AUTH "/login", NULL, body);
	EXPECT_ERROR(r, 403, "ACCOUNT_LOCKED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"Wrong1234\"}", u.email);
	api_send(&r, "POST", AUTH "/login", NULL, body);
	EXPECT_ERROR(r, 403, "ACCOUNT_LOCKED");
	api_free(&r);
	locks = api_outbox_count(u.id, "account.locked");
	EXPECT(locks == 1, "outbox account.locked rows: expected 1, got %lld", locks);

	/* auth.lockout_seconds = 3 in the test stack */
	api_sleep_s(t_lock + 3.6 - api_now_s());
	EXPECT(login_status(u.email, u.password, NULL) == 200,
	       "after the lockout the right password signs in");
	/* the count starts again from zero */
	for (int i = 1; i <= 4; i++) {
		long st = login_status(u.email, "Wrong1234", NULL);
		EXPECT(st == 401, "after unlock, wrong attempt %d: expected 401, got %ld", i, st);
	}
	EXPECT(login_status(u.email, u.password, NULL) == 200,
	       "four failures after an unlock do not lock");
	api_user_free(&u);
}

static void test_login_success_resets_failure_count(void)
{
	api_user u;

	if (api_user_register(&u, "login-reset") != 0)
		return;
	for (int i = 1; i <= 4; i++)
		EXPECT(login_status(u.email, "Wrong1234", NULL) == 401, "wrong attempt %d", i);
	EXPECT(login_status(u.email, u.password, NULL) == 200, "right password after 4 failures");
	for (int i = 1; i <= 4; i++) {
		long st = login_status(u.email, "Wrong1234", NULL);
		EXPECT(st == 401, "wrong attempt %d after a success: expected 401, got %ld", i, st);
	}
	EXPECT(login_status(u.email, u.password, NULL) == 200,
	       "8 failures split by a success never lock");
	api_user_free(&u);
}

static void test_login_reports_missing_fields(void)
{
	api_resp r;
	char fields[128];

	api_send(&r, "POST", AUTH "/login", NULL, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	EXPECT(api_has_error_field(&r, "email") && api_has_error_field(&r, "password"),
	       "errors should name email and password, got [%s]", fields);
	api_free(&r);
	api_send(&r, "POST", AUTH "/login", NULL, "{\"email\":\"someone@example.com\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "password"), "errors should name password");
	api_free(&r);
}

/* ---------------------------------------------------------------- me and tokens */

static void test_me_returns_user_with_null_current_subscription(void)
{
	api_user *u = fixture_user();
	api_resp r;

	EXPECT(u != NULL, "fixture user");
	if (!u)
		return;
	api_get(&r, AUTH "/me", u->token);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT_STR(api_jstr(r.json, "data.user.id"), u->id);
	EXPECT_STR(api_jstr(r.json, "data.user.email"), u->email);
	EXPECT_STR(api_jstr(r.json, "data.user.name"), u->name);
	EXPECT_STR(api_jstr(r.json, "data.user.accessLevel"), "Free");
	EXPECT(api_jnull(r.json, "data.user.currentSubscription"),
	       "data.user.currentSubscription should be present and null: %s", r.body);
	EXPECT(strstr(r.body, "$2b$") == NULL, "no password hash in /auth/me");
	api_free(&r);
}

static void test_me_requires_bearer_authorization(void)
{
	api_user *u = fixture_user();
	char h[4][2400];
	char basic_in[400];
	char *basic;
	api_resp r;

	EXPECT(u != NULL, "fixture user");
	if (!u)
		return;
	/* control: the right scheme works */
	EXPECT(me_status(u->token) == 200, "Bearer token accepted");

	api_get(&r, AUTH "/me", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);

	snprintf(basic_in, sizeof basic_in, "%s:%s", u->email, u->password);
	basic = b64url_encode((const unsigned char *)basic_in, strlen(basic_in));
	snprintf(h[0], sizeof h[0], "X-Auth-Token: %s", u->token);
	snprintf(h[1], sizeof h[1], "Authorization: Token %s", u->token);
	snprintf(h[2], sizeof h[2], "Authorization: Basic %s", basic);
	snprintf(h[3], sizeof h[3], "Authorization: %s", u->token);
	for (int i = 0; i < 4; i++) {
		const char *hs[] = {h[i], NULL};
		api_req q = {.method = "GET", .path = AUTH "/me", .headers = hs};
		api_do(&r, &q);
		EXPECT(r.status == 401, "header \"%.40s...\": expected 401, got %ld", h[i],
		       r.status);
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
		api_free(&r);
	}
	free(basic);
	{
		static const char *odd[] = {"Authorization: Bearer", "Authorization: Bearer ",
		                            "Authorization: Bearer not.a.jwt",
		                            "Authorization: Bearer a.b.c.d.e", NULL};
		for (int i = 0; odd[i]; i++) {
			const char *hs[] = {odd[i], NULL};
			api_req q = {.method = "GET", .path = AUTH "/me", .headers = hs};
			api_do(&r, &q);
			EXPECT(r.status == 401, "header \"%s\": expected 401, got %ld", odd[i],
			       r.status);
			EXPECT_ERROR(r, 401, "UNAUTHORIZED");
			api_free(&r);
		}
	}
}

static void expect_rejected(const char *what, const char *tok)
{
	api_resp r;

	EXPECT(tok != NULL, "could not build the %s token", what);
	if (tok == NULL)
		return;
	api_get(&r, AUTH "/me", tok);
	EXPECT(r.status == 401, "%s token: expected 401, got %ld %s", what, r.status, r.body);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
}

static void test_me_rejects_forged_and_expired_tokens(void)
{
	api_user *u = fixture_user();
	char *payload, *t, *tampered_payload, *enc;
	json_object *claims, *role;
	sp_claims c;
	const char *d1, *d2;
	char buf[4096];
	long long now = (long long)time(NULL);

	EXPECT(u != NULL, "fixture user");
	EXPECT(api_db_ready() == 0 && sp_cfg.jwt_secret, "SP_CONFIG with jwt.secret is readable");
	if (!u || api_db_ready() != 0 || !sp_cfg.jwt_secret)
		return;
	payload = jwt_payload(u->token);
	claims = payload ? json_tokener_parse(payload) : NULL;
	EXPECT(claims != NULL, "the access token's payload is JSON: %s", payload ? payload : "");
	if (!claims) {
		free(payload);
		return;
	}

	/* control: claims copied from a real token and signed with the right key work */
	memset(&c, 0, sizeof c);
	c.uid = atoll(api_jstr(claims, "sub") ? api_jstr(claims, "sub") : "0");
	snprintf(c.role, sizeof c.role, "%s",
	         api_jstr(claims, "role") ? api_jstr(claims, "role") : "");
	sp_random_hex(c.jti, 16);
	snprintf(c.sid, sizeof c.sid, "%s", api_jstr(claims, "sid") ? api_jstr(claims, "sid") : "");
	c.tv = (long)api_jint(claims, "tv");
	c.iat = now - 5;
	c.exp = now + 600;
	t = NULL;
	EXPECT(sp_jwt_issue(&c, sp_cfg.jwt_secret, &t) == 0, "sp_jwt_issue");
	EXPECT(t && me_status(t) == 200,
	       "control: a token signed with the stack's key is accepted (else the checks below "
	       "prove nothing)");
	free(t);

	/* expired: right key, exp in the past */
	c.iat = now - 1000;
	c.exp = now - 10;
	t = NULL;
	sp_jwt_issue(&c, sp_cfg.jwt_secret, &t);
	expect_rejected("expired", t);
	free(t);

	/* alg none, HS512 with the right key, HS256 with another key */
	t = jwt_make(payload, JWT_ALG_NONE, NULL);
	expect_rejected("alg none", t);
	free(t);
	enc = b64url_encode((const unsigned char *)payload, strlen(payload));
	snprintf(buf, sizeof buf, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.%s.", enc);
	expect_rejected("hand-made alg none", buf);
	free(enc);
	t = jwt_make(payload, JWT_ALG_HS512, sp_cfg.jwt_secret);
	expect_rejected("HS512 (right key)", t);
	free(t);
	t = jwt_make(payload, JWT_ALG_HS256, "not-the-secret-of-this-stack-0123456789");
	expect_rejected("HS256 with another key", t);
	free(t);

	/* tampered payload, original signature */
	role = json_object_new_string("admin");
	json_object_object_add(claims, "role", role);
	tampered_payload = strdup(json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
	enc = b64url_encode((const unsigned char *)tampered_payload, strlen(tampered_payload));
	d1 = strchr(u->token, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d1 && d2) {
		snprintf(buf, sizeof buf, "%.*s.%s%s", (int)(d1 - u->token), u->token, enc, d2);
		expect_rejected("tampered payload", buf);
		/* signature stripped */
		snprintf(buf, sizeof buf, "%.*s.", (int)(d2 - u->token), u->token);
		expect_rejected("unsigned", buf);
	}
	free(enc);
	free(tampered_payload);
	json_object_put(claims);
	free(payload);
	/* and the real one still works */
	EXPECT(me_status(u->token) == 200, "the genuine token still works");
}

/* ---------------------------------------------------------------- change password */

static long change_password(const char *token, const char *current, const char *next, api_resp *out)
{
	char body[512];

	snprintf(body, sizeof body, "{\"currentPassword\":\"%s\",\"newPassword\":\"%s\"}", current,
	         next);
	return api_send(out, "PUT", AUTH "/change-password", token, body);
}

static void test_change_password_rejects_wrong_current_password(void)
{
	api_user u;
	api_resp r;
	char fields[128];

	if (api_user_register(&u, "chpw-wrong") != 0)
		return;
	change_password(u.token, "Wrong1234", "Brandnew123", &r);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	EXPECT(api_has_error_field(&r, "currentPassword"),
	       "errors should name currentPassword, got [%s]", fields);
	api_free(&r);
	EXPECT(me_status(u.token) == 200, "the session survives a failed change");
	EXPECT(login_status(u.email, u.password, NULL) == 200, "old password still valid");
	EXPECT(login_status(u.email, "Brandnew123", NULL) == 401, "new password not set");
	EXPECT(api_outbox_count(u.id, "password.changed") == 0, "no password.changed event");
	api_user_free(&u);
}

static void test_change_password_rejects_same_and_weak_passwords(void)
{
	api_user u;
	api_resp r;
	char fields[128];

	if (api_user_register(&u, "chpw-same") != 0)
		return;
	change_password(u.token, u.password, u.password, &r);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	change_password(u.token, u.password, "weak", &r);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	EXPECT(api_has_error_field(&r, "newPassword"), "errors should name newPassword, got [%s]",
	       fields);
	api_free(&r);
	api_send(&r, "PUT", AUTH "/change-password", u.token, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	EXPECT(api_has_error_field(&r, "currentPassword") && api_has_error_field(&r, "newPassword"),
	       "empty body: errors should name currentPassword and newPassword, got [%s]", fields);
	api_free(&r);
	EXPECT(me_status(u.token) == 200, "the session survives rejected changes");
	EXPECT(api_outbox_count(u.id, "password.changed") == 0, "no password.changed event");
	api_user_free(&u);
}

static void test_change_password_requires_token(void)
{
	api_resp r;

	change_password(NULL, "Passw0rd1", "Passw0rd2", &r);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
}

static void test_change_password_revokes_every_earlier_token(void)
{
	api_user u;
	api_resp r;
	char *a_token = NULL, *a_refresh = NULL, *new_token = NULL, *new_refresh = NULL;
	char *old_hash, *new_hash;
	const char *next = "Changed4567";

	if (api_user_register(&u, "chpw-ok") != 0)
		return;
	/* session A from registration, session B from a sign-in */
	a_token = strdup(u.token);
	a_refresh = strdup(u.refresh);
	if (api_user_login(&u) != 0)
		goto out;
	old_hash = api_db_str_s("SELECT password_hash FROM users WHERE email = ?", u.email);

	change_password(u.token, u.password, next, &r);
	EXPECT_OK(r, 200);
	api_take_str(&new_token, &r, "data.token");
	api_take_str(&new_refresh, &r, "data.refreshToken");
	EXPECT(new_token && new_refresh, "data {token, refreshToken}: %s", r.body);
	api_free(&r);

	EXPECT(me_status(a_token) == 401, "registration access token after the change");
	EXPECT(me_status(u.token) == 401, "the access token that made the change, afterwards");
	EXPECT(refresh_status(a_refresh, NULL, NULL) == 401, "registration refresh token");
	EXPECT(refresh_status(u.refresh, NULL, NULL) == 401, "sign-in refresh token");
	EXPECT(new_token && me_status(new_token) == 200, "the new session works");
	EXPECT(new_refresh && refresh_status(new_refresh, NULL, NULL) == 200,
	       "the new refresh token works");
	EXPECT(login_status(u.email, u.password, NULL) == 401, "old password no longer signs in");
	EXPECT(login_status(u.email, next, NULL) == 200, "new password signs in");
	EXPECT(api_outbox_count(u.id, "password.changed") == 1, "one password.changed event");
	new_hash = api_db_str_s("SELECT password_hash FROM users WHERE email = ?", u.email);
	EXPECT(new_hash && old_hash && strcmp(new_hash, old_hash) != 0 &&
	           strncmp(new_hash, "$2b$12$", 7) == 0,
	       "a new $2b$12$ hash is stored: %s", new_hash ? new_hash : "(none)");
	free(old_hash);
	free(new_hash);
out:
	free(a_token);
	free(a_refresh);
	free(new_token);
	free(new_refresh);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- refresh */

static void test_refresh_rotates_tokens(void)
{
	api_user u;
	char *t1 = NULL, *r1 = NULL, *t2 = NULL, *r2 = NULL;
	api_resp r;
	char body[256];

	if (api_user_register(&u, "refresh-ok") != 0)
		return;
	snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", u.refresh);
	api_send(&r, "POST", AUTH "/refresh", NULL, body);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_take_str(&t1, &r, "data.token");
	api_take_str(&r1, &r, "data.refreshToken");
	api_free(&r);
	EXPECT(t1 && r1, "data {token, refreshToken}");
	EXPECT(r1 && !api_streq(r1, u.refresh), "a new refresh token");
	EXPECT(t1 && !api_streq(t1, u.token), "a new access token");
	EXPECT(t1 && me_status(t1) == 200, "the new access token works");
	EXPECT(r1 && refresh_status(r1, &t2, &r2) == 200, "the new refresh token works once");
	EXPECT(t2 && me_status(t2) == 200, "and so on down the chain");
	free(t1);
	free(r1);
	free(t2);
	free(r2);
	api_user_free(&u);
}

static void test_refresh_reuse_revokes_whole_chain(void)
{
	api_user u, other;
	char *t1 = NULL, *r1 = NULL, *a0 = NULL, *r0 = NULL;

	if (api_user_register(&u, "refresh-reuse") != 0)
		return;
	a0 = strdup(u.token);
	r0 = strdup(u.refresh);
	/* a separate sign-in of the same user: another chain */
	other = u;
	other.token = other.refresh = NULL;
	if (api_user_login(&other) != 0)
		goto out;

	EXPECT(refresh_status(r0, &t1, &r1) == 200, "first use of the refresh token");
	EXPECT(refresh_status(r0, NULL, NULL) == 401, "the used refresh token presented again");
	EXPECT(r1 && refresh_status(r1, NULL, NULL) == 401,
	       "the rotated refresh token of the revoked chain");
	EXPECT(t1 && me_status(t1) == 401, "the access token issued from the revoked chain");
	EXPECT(me_status(a0) == 401, "the chain's first access token");
	EXPECT(me_status(other.token) == 200, "the user's other session is unaffected");
	EXPECT(refresh_status(other.refresh, NULL, NULL) == 200,
	       "the other session's refresh token still works");
out:
	free(t1);
	free(r1);
	free(a0);
	free(r0);
	api_user_free(&other);
	api_user_free(&u);
}

static void test_refresh_rejects_missing_and_garbage_tokens(void)
{
	api_user *u = fixture_user();
	api_resp r;
	char hex[65], body[4200];
	struct counts before;

	snapshot(&before);
	api_send(&r, "POST", AUTH "/refresh", NULL, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "refreshToken"), "errors should name refreshToken");
	api_free(&r);
	api_send(&r, "POST", AUTH "/refresh", NULL, "{\"refreshToken\":12345}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	EXPECT(refresh_status("garbage", NULL, NULL) == 401, "garbage refresh token");
	sp_random_hex(hex, 32);
	EXPECT(refresh_status(hex, NULL, NULL) == 401, "unknown 64-hex refresh token");
	if (u) {
		snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", u->token);
		api_send(&r, "POST", AUTH "/refresh", NULL, body);
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

/* ---------------------------------------------------------------- logout */

static void test_logout_revokes_access_and_refresh_at_once(void)
{
	api_user u, other;
	api_resp r;

	if (api_user_register(&u, "logout") != 0)
		return;
	other = u;
	other.token = other.refresh = NULL;
	if (api_user_login(&other) != 0) {
		api_user_free(&u);
		return;
	}
	api_send(&r, "POST", AUTH "/logout", u.token, NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(me_status(u.token) == 401, "the signed-out access token, immediately");
	EXPECT(refresh_status(u.refresh, NULL, NULL) == 401, "the signed-out session's refresh");
	EXPECT(me_status(other.token) == 200, "another session of the user keeps working");
	EXPECT(refresh_status(other.refresh, NULL, NULL) == 200,
	       "and its refresh token keeps working");
	api_send(&r, "POST", AUTH "/logout", u.token, NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&other);
	api_user_free(&u);
}

static void test_logout_requires_token(void)
{
	api_resp r;

	api_send(&r, "POST", AUTH "/logout", NULL, NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_send(&r, "POST", AUTH "/logout", "not.a.token", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
}

/* ---------------------------------------------------------------- forgot / reset */

static void test_forgot_password_same_response_for_known_and_unknown_email(void)
{
	api_user u;
	api_resp a, b;
	char body[512], unknown[128], hash[65];
	long long resets_before, resets_after, outbox_before, outbox_after, n;
	char *token;

	if (api_user_register(&u, "forgot") != 0)
		return;
	resets_before = api_db_ll("SELECT COUNT(*) FROM password_resets");
	outbox_before = api_db_ll("SELECT COUNT(*) FROM outbox");
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", u.email);
	api_send(&a, "POST", AUTH "/forgot-password", NULL, body);
	EXPECT_OK(a, 200);
	EXPECT_COMMON_HEADERS(a);
	api_unique_email(unknown, sizeof unknown, "nobody");
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", unknown);
	api_send(&b, "POST", AUTH "/forgot-password", NULL, body);
	EXPECT_OK(b, 200);
	EXPECT(api_streq(a.body, b.body), "same body for known and unknown address: %s vs %s",
	       a.body, b.body);

	resets_after = api_db_ll("SELECT COUNT(*) FROM password_resets");
	outbox_after = api_db_ll("SELECT COUNT(*) FROM outbox");
	EXPECT(resets_after == resets_before + 1, "password_resets rows %lld -> %lld (expected +1)",
	       resets_before, resets_after);
	EXPECT(outbox_after == outbox_before + 1, "outbox rows %lld -> %lld (expected +1)",
	       outbox_before, outbox_after);
	n = api_outbox_count(u.id, "password.reset_requested");
	EXPECT(n == 1, "password.reset_requested events for the user: expected 1, got %lld", n);
	token = reset_token_of(u.id);
	EXPECT(token && strlen(token) >= 16, "the event's sealed token opens for the mailer");
	if (token) {
		sp_sha256_hex(token, strlen(token), hash);
		n = api_db_ll_s("SELECT COUNT(*) FROM password_resets WHERE token_hash = ?", hash);
		EXPECT(n == 1, "password_resets.token_hash is SHA-256 hex of the token (%lld rows)",
		       n);
		n = api_db_ll_s("SELECT COUNT(*) FROM password_resets WHERE token_hash = ?", token);
		EXPECT(n == 0, "the clear token is not stored");
		EXPECT(strstr(a.body, token) == NULL, "the token is not in the response");
	}
	free(token);
	api_free(&a);
	api_free(&b);
	api_user_free(&u);
}

static void test_forgot_password_validates_email(void)
{
	api_resp r;
	struct counts before;

	snapshot(&before);
	api_send(&r, "POST", AUTH "/forgot-password", NULL, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "email"), "errors should name email");
	api_free(&r);
	api_send(&r, "POST", AUTH "/forgot-password", NULL, "{\"email\":\"not-an-email\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	EXPECT_NOTHING_WRITTEN(before);
}

static long reset_password(const char *token, const char *next, api_resp *out)
{
	char body[600];

	snprintf(body, sizeof body, "{\"token\":\"%s\",\"newPassword\":\"%s\"}", token, next);
	return api_send(out, "POST", AUTH "/reset-password", NULL, body);
}

static char *request_reset(api_user *u)
{
	api_resp r;
	char body[256];

	snprintf(body, sizeof body, "{\"email\":\"%s\"}", u->email);
	api_send(&r, "POST", AUTH "/forgot-password", NULL, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	return reset_token_of(u->id);
}

static void test_reset_password_works_once_and_revokes_sessions(void)
{
	api_user u, other;
	api_resp r;
	char *token;
	const char *next = "Resetted789";

	if (api_user_register(&u, "reset-ok") != 0)
		return;
	other = u;
	other.token = other.refresh = NULL;
	if (api_user_login(&other) != 0) {
		api_user_free(&u);
		return;
	}
	token = request_reset(&u);
	EXPECT(token != NULL, "reset token from the outbox");
	if (token) {
		reset_password(token, next, &r);
		EXPECT_OK(r, 200);
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
		reset_password(token, "Another789", &r);
		EXPECT_ERROR(r, 400, "INVALID_TOKEN");
		api_free(&r);
		EXPECT(me_status(u.token) == 401, "registration session after a reset");
		EXPECT(me_status(other.token) == 401, "sign-in session after a reset");
		EXPECT(refresh_status(u.refresh, NULL, NULL) == 401, "refresh token after a reset");
		EXPECT(refresh_status(other.refresh, NULL, NULL) == 401,
		       "other refresh token after a reset");
		EXPECT(login_status(u.email, u.password, NULL) == 401,
		       "old password after a reset");
		EXPECT(login_status(u.email, next, NULL) == 200, "new password after a reset");
		EXPECT(login_status(u.email, "Another789", NULL) == 401,
		       "the reused token changed nothing");
	}
	free(token);
	api_user_free(&other);
	api_user_free(&u);
}

static void test_reset_password_rejects_bad_tokens(void)
{
	api_resp r;
	char hex[65];
	struct counts before;

	snapshot(&before);
	reset_password("garbage", "Newpass123", &r);
	EXPECT_ERROR(r, 400, "INVALID_TOKEN");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	sp_random_hex(hex, 32);
	reset_password(hex, "Newpass123", &r);
	EXPECT_ERROR(r, 400, "INVALID_TOKEN");
	api_free(&r);
	api_send(&r, "POST", AUTH "/reset-password", NULL, "{\"newPassword\":\"Newpass123\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "token"), "errors should name token");
	api_free(&r);
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_reset_password_rejected_weak_password_keeps_token(void)
{
	api_user u;
	api_resp r;
	char *token;

	if (api_user_register(&u, "reset-weak") != 0)
		return;
	token = request_reset(&u);
	EXPECT(token != NULL, "reset token from the outbox");
	if (token) {
		reset_password(token, "weak", &r);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "newPassword"), "errors should name newPassword");
		api_free(&r);
		EXPECT(me_status(u.token) == 200, "a rejected reset revokes nothing");
		reset_password(token, "Strong1234", &r);
		EXPECT_OK(r, 200);
		api_free(&r);
		EXPECT(login_status(u.email, "Strong1234", NULL) == 200, "new password signs in");
	}
	free(token);
	api_user_free(&u);
}

static void test_reset_password_unlocks_locked_account(void)
{
	api_user u;
	api_resp r;
	char *token, *locked;
	double t_lock = 0;

	if (api_user_register(&u, "reset-lock") != 0)
		return;
	for (int i = 0; i < 5; i++) {
		login_status(u.email, "Wrong1234", NULL);
		t_lock = api_now_s();
	}
	EXPECT(login_status(u.email, u.password, NULL) == 403, "locked after five failures");
	token = request_reset(&u);
	EXPECT(token != NULL, "reset token from the outbox");
	if (token) {
		reset_password(token, "Unlocked123", &r);
		EXPECT_OK(r, 200);
		api_free(&r);
		locked =
		    api_db_str_s("SELECT IF(locked_until > UTC_TIMESTAMP(3), 'locked', 'open') "
		                 "FROM users WHERE email = ?",
		                 u.email);
		EXPECT_STR(locked, "open");
		free(locked);
		EXPECT(api_now_s() - t_lock < 3.0,
		       "(timing) the reset ran within the 3 s lockout, so the sign-in below "
		       "proves the unlock");
		EXPECT(login_status(u.email, "Unlocked123", NULL) == 200,
		       "the reset cleared the lockout: the new password signs in at once");
	}
	free(token);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- reset secrets at rest */

static void test_forgot_password_stores_no_clear_reset_token(void)
{
	api_user u;
	char *token, *clear, hash[65];
	long long n;

	if (api_user_register(&u, "reset-rest") != 0)
		return;
	free(request_reset(&u));
	clear = api_db_str_l("SELECT JSON_UNQUOTE(JSON_EXTRACT(payload, '$.token')) FROM outbox "
	                     "WHERE user_id = ? AND event_type = 'password.reset_requested'",
	                     atoll(u.id));
	EXPECT(clear == NULL, "the reset event's payload holds no clear token (found %s)",
	       clear ? clear : "");
	free(clear);
	token = reset_token_of(u.id);
	EXPECT(token != NULL && strlen(token) == 64,
	       "the reset event holds the token sealed, and the mailer's function opens it");
	if (token) {
		n = rows_holding(token);
		EXPECT(n == 0, "no row of any table holds the clear reset token (%lld do)", n);
		/* control: the scan does find what is stored, the token's hash */
		sp_sha256_hex(token, strlen(token), hash);
		n = rows_holding(hash);
		EXPECT(n == 1, "the scan finds the token's hash in password_resets (%lld rows)", n);
	}
	free(token);
	api_user_free(&u);
}

static void test_reset_worker_drops_sealed_token_after_reset_ttl(void)
{
	api_user u;
	char *token, *payload, args[96], when[32];
	int rc;

	EXPECT(api_db_ready() == 0, "SP_CONFIG is readable");
	if (api_db_ready() != 0 || api_user_register(&u, "reset-ttl") != 0)
		return;
	token = request_reset(&u);
	EXPECT(token != NULL, "reset token from the outbox");
	free(token);
	/* a minute before the link expires the worker keeps the token */
	sp_iso8601(sp_now_ms() + (sp_cfg.reset_ttl - 60) * 1000, when);
	snprintf(args, sizeof args, "resets --now %s", when);
	rc = api_run_tool("worker", args);
	EXPECT(rc == 0, "scripts/dev worker %s exits 0, got %d", args, rc);
	token = reset_token_of(u.id);
	EXPECT(token != NULL, "before auth.reset_ttl has passed the mailer can still open it");
	free(token);
	/* once the link has expired it is gone */
	sp_iso8601(sp_now_ms() + (sp_cfg.reset_ttl + 5) * 1000, when);
	snprintf(args, sizeof args, "resets --now %s", when);
	rc = api_run_tool("worker", args);
	EXPECT(rc == 0, "scripts/dev worker %s exits 0, got %d", args, rc);
	token = reset_token_of(u.id);
	payload = reset_payload_of(u.id);
	EXPECT(token == NULL, "after auth.reset_ttl the sealed token is dropped");
	EXPECT(payload && strstr(payload, "sealedToken") == NULL &&
	           strstr(payload, "token") == NULL,
	       "the expired reset event keeps no token in any form: %s", payload ? payload : "");
	free(token);
	free(payload);
	api_user_free(&u);
}

static void test_reset_password_drops_the_used_token(void)
{
	api_user u;
	api_resp r;
	char *token, *payload;

	if (api_user_register(&u, "reset-used") != 0)
		return;
	token = request_reset(&u);
	EXPECT(token != NULL, "reset token from the outbox");
	if (token) {
		reset_password(token, "Usedonce123", &r);
		EXPECT_OK(r, 200);
		api_free(&r);
		free(token);
		token = reset_token_of(u.id);
		payload = reset_payload_of(u.id);
		EXPECT(token == NULL, "a used reset token can no longer be opened from the outbox");
		EXPECT(payload && strstr(payload, "sealedToken") == NULL,
		       "the used reset event keeps no sealed token: %s", payload ? payload : "");
		free(payload);
	}
	free(token);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- reset limits and cost */

static void test_forgot_password_mails_at_most_reset_limit_per_address(void)
{
	api_user u;
	api_resp r, unknown_r;
	char body[256], unknown[128];
	long long mails, resets;
	int tries;

	EXPECT(api_db_ready() == 0, "SP_CONFIG is readable");
	if (api_db_ready() != 0 || api_user_register(&u, "forgot-many") != 0)
		return;
	api_unique_email(unknown, sizeof unknown, "nobody");
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", unknown);
	api_send(&unknown_r, "POST", AUTH "/forgot-password", NULL, body);
	EXPECT_OK(unknown_r, 200);
	tries = (int)sp_cfg.reset_limit.limit + 5;
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", u.email);
	for (int i = 1; i <= tries; i++) {
		/* each from another address (the client's fresh X-Forwarded-For) */
		api_send(&r, "POST", AUTH "/forgot-password", NULL, body);
		EXPECT(r.status == 200 && api_streq(r.body, unknown_r.body),
		       "forgot-password %d of %d: the same 200 as for an unknown address, got "
		       "%ld %s",
		       i, tries, r.status, r.body);
		api_free(&r);
	}
	mails = api_outbox_count(u.id, "password.reset_requested");
	resets = api_db_ll_l("SELECT COUNT(*) FROM password_resets WHERE user_id = ?", atoll(u.id));
	EXPECT(mails == sp_cfg.reset_limit.limit,
	       "%d requests for one address within the window: expected %ld reset mails "
	       "(auth.reset_limit), got %lld",
	       tries, sp_cfg.reset_limit.limit, mails);
	EXPECT(resets == sp_cfg.reset_limit.limit, "password_resets rows: expected %ld, got %lld",
	       sp_cfg.reset_limit.limit, resets);
	api_free(&unknown_r);
	api_user_free(&u);
}

/* sp_bcrypt_hashes_total from /metrics (loopback, no forwarded address); -1 if unreadable. */
static double bcrypt_hashes(void)
{
	api_req q = {.method = "GET", .path = "/metrics", .no_xff = 1};
	api_resp r;
	const char *p;
	double v = -1;

	api_do(&r, &q);
	if (r.status == 200) {
		p = strstr(r.body, "\nsp_bcrypt_hashes_total ");
		v = p ? strtod(p + strlen("\nsp_bcrypt_hashes_total "), NULL) : 0;
	}
	api_free(&r);
	return v;
}

static void test_reset_password_with_bad_token_computes_no_bcrypt(void)
{
	api_resp r;
	api_user marker;
	char hex[65];
	double before, after = -1, deadline;

	before = bcrypt_hashes();
	EXPECT(before >= 0, "GET /metrics from loopback answers");
	if (before < 0)
		return;
	sp_random_hex(hex, 32);
	reset_password(hex, "Newpass123", &r);
	EXPECT_ERROR(r, 400, "INVALID_TOKEN");
	api_free(&r);
	/*
	 * A registration hashes exactly once. Counts reach /metrics just after a
	 * response, so once the registration's shows, the reset's would have too.
	 */
	if (api_user_register(&marker, "bcrypt-marker") != 0)
		return;
	deadline = api_now_s() + 5;
	while (api_now_s() < deadline && (after = bcrypt_hashes()) < before + 1)
		api_sleep_s(0.1);
	api_sleep_s(0.3);
	after = bcrypt_hashes();
	EXPECT(after == before + 1,
	       "sp_bcrypt_hashes_total %.0f -> %.0f: a rejected reset token must cost no bcrypt "
	       "(the registration after it costs one)",
	       before, after);
	api_user_free(&marker);
}

/* ---------------------------------------------------------------- parallel guesses */

enum { GUESSERS = 24 };

struct guesser {
	pthread_barrier_t *go;
	char body[400];
	char xff[64];
	long status;
	char code[48];
};

/* One sign-in on its own connection, released with the others. */
static void *guess(void *arg)
{
	struct guesser *g = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	api_buf b = {NULL, 0};
	char url[300];
	json_object *o;

	if (c == NULL) {
		pthread_barrier_wait(g->go);
		return NULL;
	}
	snprintf(url, sizeof url, "%s" AUTH "/login", api_base());
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, g->xff);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, g->body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	pthread_barrier_wait(g->go);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	o = b.data ? json_tokener_parse(b.data) : NULL;
	if (o) {
		snprintf(g->code, sizeof g->code, "%s",
		         api_jstr(o, "code") ? api_jstr(o, "code") : "");
		json_object_put(o);
	}
	free(b.data);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static void test_login_parallel_wrong_passwords_evaluate_at_most_the_limit(void)
{
	static struct guesser g[GUESSERS];
	pthread_t t[GUESSERS];
	pthread_barrier_t go;
	api_user u;
	api_resp r;
	char body[400], ip[32];
	int started = 0, wrong = 0, locked = 0, other = 0;
	double t_end;
	long long events;

	EXPECT(api_db_ready() == 0, "SP_CONFIG is readable");
	if (api_db_ready() != 0 || api_user_register(&u, "login-race") != 0)
		return;
	pthread_barrier_init(&go, NULL, GUESSERS);
	for (int i = 0; i < GUESSERS; i++) {
		memset(&g[i], 0, sizeof g[i]);
		g[i].go = &go;
		snprintf(g[i].body, sizeof g[i].body,
		         "{\"email\":\"%s\",\"password\":\"Wrong%04d\"}", u.email, i);
		/* each from its own address, so the per-IP auth limit is not what stops them */
		api_fresh_ip(ip, sizeof ip);
		snprintf(g[i].xff, sizeof g[i].xff, "X-Forwarded-For: %s", ip);
	}
	for (int i = 0; i < GUESSERS; i++) {
		if (pthread_create(&t[i], NULL, guess, &g[i]) != 0)
			break;
		started++;
	}
	if (started < GUESSERS) {
		EXPECT(0, "only %d of %d threads could be created", started, GUESSERS);
		for (int i = started; i < GUESSERS; i++)
			pthread_barrier_wait(&go);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	t_end = api_now_s();
	for (int i = 0; i < started; i++) {
		if (g[i].status == 401 && strcmp(g[i].code, "UNAUTHORIZED") == 0)
			wrong++;
		else if (g[i].status == 403 && strcmp(g[i].code, "ACCOUNT_LOCKED") == 0)
			locked++;
		else
			other++;
	}
	EXPECT(wrong <= sp_cfg.max_failed_logins,
	       "%d parallel wrong passwords: at most %d may be evaluated (401), got %d 401s and "
	       "%d 403 ACCOUNT_LOCKED",
	       GUESSERS, sp_cfg.max_failed_logins, wrong, locked);
	EXPECT(wrong >= 1 && other == 0, "every answer is 401 or 403 ACCOUNT_LOCKED (%d others)",
	       other);
	events = api_outbox_count(u.id, "account.locked");
	EXPECT(events == 1, "one account.locked event, got %lld", events);
	/* locked: the right password is refused too (auth.lockout_seconds = 3 here) */
	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email, u.password);
	api_send(&r, "POST", AUTH "/login", NULL, body);
	EXPECT(api_now_s() - t_end < 2.5, "(timing) the check ran within the lockout");
	EXPECT_ERROR(r, 403, "ACCOUNT_LOCKED");
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- issuer and audience */

static void test_me_rejects_token_with_wrong_or_missing_issuer_or_audience(void)
{
	api_user *u = fixture_user();
	static const char *cases[][3] = {
	    /* what, claim, value (NULL: removed) */
	    {"no iss", "iss", NULL},
	    {"another iss", "iss", "someone-else"},
	    {"no aud", "aud", NULL},
	    {"another aud", "aud", "another-api"},
	};
	char *payload, *t, jti[33];
	json_object *claims;

	EXPECT(u != NULL && api_db_ready() == 0, "fixture user and SP_CONFIG");
	if (!u || api_db_ready() != 0)
		return;
	payload = jwt_payload(u->token);
	claims = payload ? json_tokener_parse(payload) : NULL;
	free(payload);
	EXPECT(claims != NULL, "the access token's payload is JSON");
	if (!claims)
		return;
	/* control: the real claims re-signed with the stack's key (fresh jti) work */
	sp_random_hex(jti, 16);
	json_object_object_add(claims, "jti", json_object_new_string(jti));
	t = jwt_make(json_object_to_json_string(claims), JWT_ALG_HS256, sp_cfg.jwt_secret);
	EXPECT(t && me_status(t) == 200, "control: the re-signed genuine claims are accepted");
	free(t);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *c = NULL;
		json_object_deep_copy(claims, &c, NULL);
		sp_random_hex(jti, 16);
		json_object_object_add(c, "jti", json_object_new_string(jti));
		if (cases[i][2])
			json_object_object_add(c, cases[i][1], json_object_new_string(cases[i][2]));
		else
			json_object_object_del(c, cases[i][1]);
		t = jwt_make(json_object_to_json_string(c), JWT_ALG_HS256, sp_cfg.jwt_secret);
		expect_rejected(cases[i][0], t);
		free(t);
		json_object_put(c);
	}
	json_object_put(claims);
}

/* ---------------------------------------------------------------- deactivation */

static void test_deactivated_user_is_refused_on_the_next_request(void)
{
	api_user u;
	char args[200];
	int rc;

	if (api_user_register(&u, "deactivate") != 0)
		return;
	/* cached: the token version and the profile are in Redis after these */
	EXPECT(me_status(u.token) == 200, "the new account signs in");
	EXPECT(me_status(u.token) == 200, "and again, from the caches");
	snprintf(args, sizeof args, "deactivate-user %s", u.email);
	rc = api_run_tool("sp-admin", args);
	EXPECT(rc == 0, "sp-admin %s exits 0, got %d", args, rc);
	EXPECT(me_status(u.token) == 401, "the next request of a deactivated account is 401");
	EXPECT(refresh_status(u.refresh, NULL, NULL) == 401, "its refresh token stops working too");
	EXPECT(login_status(u.email, u.password, NULL) == 403,
	       "a deactivated account cannot sign in (403)");
	snprintf(args, sizeof args, "activate-user %s", u.email);
	rc = api_run_tool("sp-admin", args);
	EXPECT(rc == 0, "sp-admin %s exits 0, got %d", args, rc);
	EXPECT(me_status(u.token) == 401, "reactivation does not revive the old token");
	EXPECT(api_user_login(&u) == 0 && me_status(u.token) == 200,
	       "after reactivation the account signs in again");
	api_user_free(&u);
}

/* ---------------------------------------------------------------- bad input */

struct endpoint {
	const char *method, *path;
	int needs_token;
	const char *required[3];   /* fields an empty body must list */
	const char *wrong_types;   /* every field with the wrong JSON type */
	const char *huge_field;    /* the field made huge in a just-under-cap body */
	const char *huge_template; /* %s: the huge value */
};

static const struct endpoint endpoints[] = {
    {"POST",
     AUTH "/register",
     0,
     {"name", "email", "password"},
     "{\"name\":123,\"email\":true,\"password\":[\"Passw0rd1\"]}",
     "name",
     "{\"name\":\"%s\",\"email\":\"huge@example.com\",\"password\":\"Passw0rd1\"}"},
    {"POST",
     AUTH "/login",
     0,
     {"email", "password"},
     "{\"email\":123,\"password\":{}}",
     "email",
     "{\"email\":\"%s\",\"password\":\"Passw0rd1\"}"},
    {"PUT",
     AUTH "/change-password",
     1,
     {"currentPassword", "newPassword"},
     "{\"currentPassword\":1,\"newPassword\":false}",
     "newPassword",
     "{\"currentPassword\":\"Passw0rd1\",\"newPassword\":\"A1%s\"}"},
    {"POST", AUTH "/refresh", 0, {"refreshToken"}, "{\"refreshToken\":1}", NULL, NULL},
    {"POST",
     AUTH "/forgot-password",
     0,
     {"email"},
     "{\"email\":42}",
     "email",
     "{\"email\":\"%s\"}"},
    {"POST",
     AUTH "/reset-password",
     0,
     {"token", "newPassword"},
     "{\"token\":7,\"newPassword\":null}",
     "newPassword",
     "{\"token\":\"abc\",\"newPassword\":\"A1%s\"}"},
};
#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])

static const char *token_for(const struct endpoint *e)
{
	api_user *u = e->needs_token ? fixture_user() : NULL;

	return u ? u->token : NULL;
}

static void send_raw(api_resp *r, const struct endpoint *e, const char *body, size_t len,
                     const char *content_type)
{
	char ct[200];
	const char *hs[] = {ct, NULL};
	api_req q = {.method = e->method,
	             .path = e->path,
	             .token = token_for(e),
	             .body = body,
	             .body_len = len,
	             .headers = hs};

	snprintf(ct, sizeof ct, "Content-Type:%s%s", content_type ? " " : "",
	         content_type ? content_type : "");
	api_do(r, &q);
}

static void test_oversized_body_is_413_on_every_auth_endpoint(void)
{
	size_t n = 1048576 + 64;
	char *big = malloc(n + 1);
	struct counts before;

	memset(big, 'x', n);
	memcpy(big, "{\"name\":\"", 9);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = '\0';
	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		api_resp r;
		send_raw(&r, &endpoints[i], big, n, "application/json");
		EXPECT_ERROR(r, 413, "PAYLOAD_TOO_LARGE");
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
	free(big);
}

static void test_body_just_under_cap_with_huge_field_is_400(void)
{
	size_t huge = 1048576 - 200;
	char *val = malloc(huge + 1), *body = malloc(huge + 400);
	struct counts before;

	memset(val, 'a', huge);
	val[huge] = '\0';
	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		const struct endpoint *e = &endpoints[i];
		api_resp r;
		size_t len;

		if (e->huge_template == NULL)
			continue;
		len = (size_t)snprintf(body, huge + 400, e->huge_template, val);
		EXPECT(len < 1048576, "test body fits under the cap (%zu)", len);
		send_raw(&r, e, body, len, "application/json");
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, e->huge_field), "%s: errors should name %s", e->path,
		       e->huge_field);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
	free(val);
	free(body);
}

static void test_malformed_json_is_400_on_every_auth_endpoint(void)
{
	static const char *bad[] = {"{not json", "{\"email\":\"a@example.com\",}",
	                            "{\"email\":\"a@example.com\"} trailing",
	                            "{\"email\":\"a@example.com\"", NULL};
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		for (int j = 0; bad[j]; j++) {
			api_resp r;
			send_raw(&r, &endpoints[i], bad[j], 0, "application/json");
			EXPECT(r.status == 400 &&
			           api_streq(api_jstr(r.json, "code"), "MALFORMED_JSON"),
			       "%s %s with body %s: expected 400 MALFORMED_JSON, got %ld %s",
			       endpoints[i].method, endpoints[i].path, bad[j], r.status, r.body);
			EXPECT_ERROR(r, 400, "MALFORMED_JSON");
			api_free(&r);
		}
	}
	EXPECT_NOTHING_WRITTEN(before);
}

/* JSON extensions some parsers allow are still not JSON (RFC 8259). */
static void test_non_standard_json_is_400_malformed_json_on_every_auth_endpoint(void)
{
	static const char *bad[] = {"{'email':1}",
	                            "{\"email\":NaN}",
	                            "{\"email\":Infinity}",
	                            "{\"n\":1.}",
	                            "{\"email\":\"a\tb@example.com\"}",
	                            NULL};
	struct counts before;

	snapshot(&before);
	for (int j = 0; bad[j]; j++) {
		char failed[600] = "", got[200] = "";

		for (size_t i = 0; i < N_ENDPOINTS; i++) {
			api_resp r;
			send_raw(&r, &endpoints[i], bad[j], 0, "application/json");
			if (r.status != 400 ||
			    !api_streq(api_jstr(r.json, "code"), "MALFORMED_JSON")) {
				size_t l = strlen(failed);
				snprintf(failed + l, sizeof failed - l, "%s%s", l ? ", " : "",
				         endpoints[i].path + strlen(AUTH));
				if (!got[0])
					snprintf(got, sizeof got, "%ld %s", r.status,
					         api_jstr(r.json, "code") ? api_jstr(r.json, "code")
					                                  : r.body);
			}
			EXPECT_ERROR(r, 400, NULL);
			api_free(&r);
		}
		EXPECT(
		    failed[0] == '\0',
		    "body %s (Content-Type application/json): expected 400 MALFORMED_JSON, got %s "
		    "on %s",
		    bad[j], got, failed);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_non_json_content_type_is_415_on_every_auth_endpoint(void)
{
	static const char *types[] = {"text/plain", "application/x-www-form-urlencoded",
	                              "multipart/form-data; boundary=x", NULL};
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		for (int j = 0; types[j]; j++) {
			api_resp r;
			send_raw(&r, &endpoints[i], "{\"email\":\"someone@example.com\"}", 0,
			         types[j]);
			EXPECT(r.status == 415, "%s %s as %s: expected 415, got %ld",
			       endpoints[i].method, endpoints[i].path, types[j], r.status);
			EXPECT_ERROR(r, 415, NULL);
			EXPECT_COMMON_HEADERS(r);
			api_free(&r);
		}
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_empty_body_lists_required_fields_on_every_auth_endpoint(void)
{
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		const struct endpoint *e = &endpoints[i];
		api_resp r;
		char fields[256];

		send_raw(&r, e, "", 0, "application/json");
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		for (int k = 0; k < 3 && e->required[k]; k++)
			EXPECT(api_has_error_field(&r, e->required[k]),
			       "%s with an empty body: errors should name %s, got [%s]", e->path,
			       e->required[k], fields);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_non_object_json_body_is_400_on_every_auth_endpoint(void)
{
	static const char *bad[] = {
	    "[]", "[{\"email\":\"a@example.com\"}]", "\"text\"", "42", "null", NULL};
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		for (int j = 0; bad[j]; j++) {
			api_resp r;
			send_raw(&r, &endpoints[i], bad[j], 0, "application/json");
			EXPECT(r.status == 400, "%s %s with %s: expected 400, got %ld",
			       endpoints[i].method, endpoints[i].path, bad[j], r.status);
			EXPECT_ERROR(r, 400, NULL);
			api_free(&r);
		}
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_wrong_json_types_are_400_on_every_auth_endpoint(void)
{
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		const struct endpoint *e = &endpoints[i];
		api_resp r;
		char fields[256];

		send_raw(&r, e, e->wrong_types, 0, "application/json");
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		for (int k = 0; k < 3 && e->required[k]; k++)
			EXPECT(api_has_error_field(&r, e->required[k]),
			       "%s with %s: errors should name %s, got [%s]", e->path,
			       e->wrong_types, e->required[k], fields);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

static void test_nul_in_strings_is_400_on_every_auth_endpoint(void)
{
	api_user u;
	char email[128];
	struct counts before;
	api_resp r;
	const char *tok;

	/* a user of its own: a server that cut strings at NUL would change it */
	if (api_user_register(&u, "nul") != 0)
		return;
	snapshot(&before);
	struct {
		const char *method, *path;
		int token;
		char body[600];
	} cases[7];
	int n = 0;

	api_unique_email(email, sizeof email, "nul-reg");
	cases[n].method = "POST";
	cases[n].path = AUTH "/register";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body,
	         "{\"name\":\"Nul\\u0000Name\",\"email\":\"%s\",\"password\":\"Passw0rd1\"}",
	         email);
	cases[n].method = "POST";
	cases[n].path = AUTH "/register";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body,
	         "{\"name\":\"Nul Pass\",\"email\":\"%s\",\"password\":\"Passw0rd1\\u0000\"}",
	         email);
	cases[n].method = "POST";
	cases[n].path = AUTH "/login";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body,
	         "{\"email\":\"%s\",\"password\":\"%s\\u0000tail\"}", u.email, u.password);
	cases[n].method = "PUT";
	cases[n].path = AUTH "/change-password";
	cases[n].token = 1;
	snprintf(cases[n++].body, sizeof cases[0].body,
	         "{\"currentPassword\":\"%s\",\"newPassword\":\"Changed123\\u0000tail\"}",
	         u.password);
	cases[n].method = "POST";
	cases[n].path = AUTH "/refresh";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body, "{\"refreshToken\":\"%s\\u0000\"}",
	         u.refresh);
	cases[n].method = "POST";
	cases[n].path = AUTH "/forgot-password";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body, "{\"email\":\"%s\\u0000.evil.example\"}",
	         u.email);
	cases[n].method = "POST";
	cases[n].path = AUTH "/reset-password";
	cases[n].token = 0;
	snprintf(cases[n++].body, sizeof cases[0].body,
	         "{\"token\":\"abc\\u0000def\",\"newPassword\":\"Changed123\"}");

	for (int i = 0; i < n; i++) {
		tok = cases[i].token ? u.token : NULL;
		api_send(&r, cases[i].method, cases[i].path, tok, cases[i].body);
		EXPECT(r.status == 400, "%s %s %s: expected 400, got %ld %s", cases[i].method,
		       cases[i].path, cases[i].body, r.status, r.body);
		EXPECT_ERROR(r, 400, NULL);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
	EXPECT(me_status(u.token) == 200, "the user's session is untouched");
	EXPECT(login_status(u.email, u.password, NULL) == 200, "the user's password is unchanged");
	api_user_free(&u);
}

static void test_invalid_utf8_is_400_on_every_auth_endpoint(void)
{
	static const char *bad[] = {
	    "{\"name\":\"Bad\xff\xfeName\",\"email\":\"utf8@example.com\",\"password\":"
	    "\"Passw0rd1\"}",
	    "{\"email\":\"utf8\xc3(@example.com\",\"password\":\"Passw0rd1\"}",
	    "{\"currentPassword\":\"Passw0rd1\",\"newPassword\":\"Passw0rd\xed\xa0\x80\"}",
	    "{\"refreshToken\":\"\xc0\xaf\"}",
	    "{\"email\":\"utf8\xe2\x82@example.com\"}",
	    "{\"token\":\"\xf8\x88\x80\x80\x80\",\"newPassword\":\"Passw0rd1\"}",
	};
	struct counts before;

	snapshot(&before);
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		api_resp r;
		send_raw(&r, &endpoints[i], bad[i], 0, "application/json");
		EXPECT(r.status == 400, "%s %s with invalid UTF-8: expected 400, got %ld %s",
		       endpoints[i].method, endpoints[i].path, r.status, r.body);
		EXPECT_ERROR(r, 400, NULL);
		api_free(&r);
	}
	EXPECT_NOTHING_WRITTEN(before);
}

/* ---------------------------------------------------------------- registry */

static int suite_cleanup(void)
{
	api_user_free(&fixture);
	return 0;
}

int api_suite_auth(void)
{
	CU_pSuite s = CU_add_suite("auth", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_register_returns_201_with_user_and_tokens);
	ADD(test_register_stores_bcrypt_cost_12_hash);
	ADD(test_register_writes_one_user_registered_event);
	ADD(test_register_duplicate_email_in_any_case_is_409);
	ADD(test_register_validation_reports_every_failing_field);
	ADD(test_register_enforces_password_rules);
	ADD(test_register_accepts_values_at_the_limits);
	ADD(test_register_ignores_unknown_fields_and_cannot_set_role);
	ADD(test_login_returns_200_with_user_and_tokens);
	ADD(test_login_email_is_case_insensitive);
	ADD(test_login_seeded_admin_has_admin_role);
	ADD(test_login_unknown_email_and_wrong_password_get_same_401);
	ADD(test_login_locks_after_five_failures);
	ADD(test_login_success_resets_failure_count);
	ADD(test_login_reports_missing_fields);
	ADD(test_me_returns_user_with_null_current_subscription);
	ADD(test_me_requires_bearer_authorization);
	ADD(test_me_rejects_forged_and_expired_tokens);
	ADD(test_change_password_rejects_wrong_current_password);
	ADD(test_change_password_rejects_same_and_weak_passwords);
	ADD(test_change_password_requires_token);
	ADD(test_change_password_revokes_every_earlier_token);
	ADD(test_refresh_rotates_tokens);
	ADD(test_refresh_reuse_revokes_whole_chain);
	ADD(test_refresh_rejects_missing_and_garbage_tokens);
	ADD(test_logout_revokes_access_and_refresh_at_once);
	ADD(test_logout_requires_token);
	ADD(test_forgot_password_same_response_for_known_and_unknown_email);
	ADD(test_forgot_password_validates_email);
	ADD(test_reset_password_works_once_and_revokes_sessions);
	ADD(test_reset_password_rejects_bad_tokens);
	ADD(test_reset_password_rejected_weak_password_keeps_token);
	ADD(test_reset_password_unlocks_locked_account);
	ADD(test_forgot_password_stores_no_clear_reset_token);
	ADD(test_reset_worker_drops_sealed_token_after_reset_ttl);
	ADD(test_reset_password_drops_the_used_token);
	ADD(test_forgot_password_mails_at_most_reset_limit_per_address);
	ADD(test_reset_password_with_bad_token_computes_no_bcrypt);
	ADD(test_login_parallel_wrong_passwords_evaluate_at_most_the_limit);
	ADD(test_me_rejects_token_with_wrong_or_missing_issuer_or_audience);
	ADD(test_deactivated_user_is_refused_on_the_next_request);
	ADD(test_oversized_body_is_413_on_every_auth_endpoint);
	ADD(test_body_just_under_cap_with_huge_field_is_400);
	ADD(test_malformed_json_is_400_on_every_auth_endpoint);
	ADD(test_non_standard_json_is_400_malformed_json_on_every_auth_endpoint);
	ADD(test_non_json_content_type_is_415_on_every_auth_endpoint);
	ADD(test_empty_body_lists_required_fields_on_every_auth_endpoint);
	ADD(test_non_object_json_body_is_400_on_every_auth_endpoint);
	ADD(test_wrong_json_types_are_400_on_every_auth_endpoint);
	ADD(test_nul_in_strings_is_400_on_every_auth_endpoint);
	ADD(test_invalid_utf8_is_400_on_every_auth_endpoint);
#undef ADD
	return 0;
}
