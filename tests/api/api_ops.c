/*
 * API tests of the operator's commands against the running stack: sp-admin
 * check-config on good and bad files, status (human and --json), and
 * rotate-jwt-key with tokens signed before and after the rotation.
 */
#include "api_client.h"
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUTH "/api/v1/auth"

/* The stack's sp-admin with args, its stdout and stderr into *out (malloc'd); the exit status. */
static int run_admin(const char *args, char **out)
{
	const char *d = getenv("SP_DEV");
	char path[] = "/tmp/api-admin-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;
	long n;

	*out = calloc(1, 1);
	if (d == NULL || strchr(d, '\'') || fd < 0) {
		if (fd >= 0)
			close(fd);
		EXPECT(0, "SP_DEV must name scripts/dev");
		return -1;
	}
	close(fd);
	rc = api_shell("\"$(dirname '%s')/../sp-admin\" %s >'%s' 2>&1", d, args, path);
	if ((f = fopen(path, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		free(*out);
		*out = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
		if (n <= 0 || fread(*out, 1, (size_t)n, f) != (size_t)n)
			(*out)[0] = '\0';
		fclose(f);
	}
	unlink(path);
	return rc;
}

/* A copy of the stack's config with extra lines appended, at path. */
static int config_with(const char *path, const char *extra)
{
	const char *src = getenv("SP_CONFIG");
	int rc = api_shell("cat '%s' >'%s' && printf '%%s' '%s' >>'%s'", src ? src : "/dev/null",
	                   path, extra, path);

	EXPECT(rc == 0, "cannot write %s", path);
	return rc;
}

/* ---------------------------------------------------------------- check-config */

static void test_check_config_accepts_the_stack_config_and_masks_secrets(void)
{
	char *out;
	int rc;

	EXPECT(api_db_ready() == 0, "the stack's config is loaded");
	rc = run_admin("check-config", &out);

	EXPECT(rc == 0, "check-config on the stack's config exits 0 (got %d): %.400s", rc, out);
	EXPECT(strstr(out, "jwt.secret") && strstr(out, "(set, "),
	       "jwt.secret is shown as set with its length");
	EXPECT(sp_cfg.jwt_secret && strstr(out, sp_cfg.jwt_secret) == NULL,
	       "the secret's value is never printed");
	EXPECT(strstr(out, "file ") && strstr(out, "streaming.conf:"), "sources: the file's lines");
	free(out);
	/* the environment wins over the file, and says so */
	setenv("SP_BCRYPT_COST", "11", 1);
	rc = run_admin("check-config", &out);
	unsetenv("SP_BCRYPT_COST");
	EXPECT(rc == 0 && strstr(out, "env SP_BCRYPT_COST") != NULL,
	       "bcrypt.cost from SP_BCRYPT_COST: %.200s", out);
	free(out);
}

static void test_check_config_names_each_bad_value_and_exits_1(void)
{
	char path[64], args[128], *out;
	int rc;

	snprintf(path, sizeof path, "/tmp/api-conf-%d.conf", (int)getpid());
	if (config_with(path, "bcrypt.cost = 99\nsmtp.starttls = maybe\nratelimit.auth = lots\n") !=
	    0)
		return;
	snprintf(args, sizeof args, "check-config %s", path);
	rc = run_admin(args, &out);
	EXPECT(rc == 1, "invalid values: exit 1 (got %d)", rc);
	EXPECT(strstr(out, "config: bcrypt.cost must be an integer from 4 to 31 (got '99')") !=
	           NULL,
	       "bcrypt.cost named with its range: %.300s", out);
	EXPECT(strstr(out, "config: smtp.starttls must be require, try or off") != NULL,
	       "smtp.starttls named with its choices");
	EXPECT(strstr(out, "ratelimit.auth must be written COUNT/SECONDS") != NULL,
	       "ratelimit.auth named with its form");
	EXPECT(strstr(out, "3 invalid") != NULL, "the count of invalid values");
	free(out);
	unlink(path);
}

static void test_check_config_warns_of_unknown_keys_and_strict_refuses_them(void)
{
	char path[64], args[128], *out;
	int rc;

	snprintf(path, sizeof path, "/tmp/api-conf-%d.conf", (int)getpid());
	if (config_with(path, "jwt.acess_ttl = 60\n") != 0)
		return;
	snprintf(args, sizeof args, "check-config %s", path);
	rc = run_admin(args, &out);
	EXPECT(rc == 0, "an unknown key alone is a warning: exit 0 (got %d)", rc);
	EXPECT(strstr(out, "unknown key 'jwt.acess_ttl'") != NULL, "the unknown key is named");
	free(out);
	snprintf(args, sizeof args, "check-config --strict %s", path);
	rc = run_admin(args, &out);
	EXPECT(rc == 1, "--strict: exit 1 (got %d)", rc);
	free(out);
	snprintf(args, sizeof args, "check-config /nonexistent/streaming.conf");
	rc = run_admin(args, &out);
	EXPECT(rc == 1 && strstr(out, "cannot read"), "a missing file: exit 1 and says so");
	free(out);
	unlink(path);
}

/* ---------------------------------------------------------------- status */

static void test_status_reports_services_backlog_partitions_and_job_runs(void)
{
	char *out, *log = NULL;
	json_object *st;
	int rc;

	EXPECT(api_run_worker(NULL, "resets", NULL, &log) == 0, "worker resets runs: %s",
	       log ? log : "");
	free(log);
	rc = run_admin("status --json", &out);
	EXPECT(rc == 0, "status exits 0 with both services up (got %d)", rc);
	st = json_tokener_parse(out);
	EXPECT(st != NULL, "status --json prints JSON: %.300s", out);
	if (st) {
		EXPECT(api_jbool(st, "services.mariadb") && api_jbool(st, "services.redis"),
		       "both services reachable");
		EXPECT(api_jint(st, "outbox.pending.count") >= 0 &&
		           api_jtype(st, "outbox.failed.count", json_type_int),
		       "outbox counts");
		EXPECT(api_jtype(st, "liveSessions.sessions", json_type_int), "live sessions");
		EXPECT(strstr(out, "\"table\":\"watch_events\"") != NULL,
		       "the watch_events partitions are listed");
		EXPECT(strstr(out, "\"job\":\"resets\"") != NULL &&
		           strstr(out, "\"state\":\"ok\"") != NULL,
		       "the resets run just made is recorded as ok");
		json_object_put(st);
	}
	free(out);
	rc = run_admin("status", &out);
	EXPECT(rc == 0 && strstr(out, "MariaDB            reachable") &&
	           strstr(out, "worker jobs (last run):"),
	       "the human form: %.300s", out);
	free(out);
}

/* ---------------------------------------------------------------- rotation */

static long me_status(const char *token)
{
	api_resp r;
	long st;

	api_get(&r, AUTH "/me", token);
	st = r.status;
	api_free(&r);
	return st;
}

static void kid_of(const char *token, char kid[SP_KID_MAX])
{
	if (token == NULL || sp_jwt_token_kid(token, kid) != 0)
		snprintf(kid, SP_KID_MAX, "?");
}

/* Every process re-reads the ring within jwt.keyring_refresh_seconds (1 in the test stack). */
static void wait_for_ring(void)
{
	api_sleep_s((double)sp_cfg.jwt_keyring_refresh + 0.6);
}

static void run_sql(const char *sql)
{
	char err[256];

	EXPECT(api_db_script(sql, err, sizeof err) == 0, "%s: %s", sql, err);
}

static void clear_ring(void)
{
	run_sql("DELETE FROM jwt_keys");
	wait_for_ring();
}

/* The payload of a JWT as JSON (base64url decoded), or NULL. */
static json_object *payload_of(const char *token)
{
	const char *p = token ? strchr(token, '.') : NULL;
	char buf[2048];
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (p == NULL)
		return NULL;
	for (p++; *p && *p != '.' && o + 1 < sizeof buf; p++) {
		const char *set =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *q = strchr(set, *p);

		if (q == NULL)
			return NULL;
		acc = (acc << 6) | (unsigned)(q - set);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[o] = '\0';
	return json_tokener_parse(buf);
}

/* A token with the claims of token (a new jti, fresh times), signed with key under kid. */
static char *forge(const char *token, const char *kid, const char *key)
{
	json_object *pl = payload_of(token);
	long long now = (long long)time(NULL);
	sp_claims c;
	char *t = NULL;

	if (pl == NULL)
		return NULL;
	memset(&c, 0, sizeof c);
	c.uid = atoll(api_jstr(pl, "sub") ? api_jstr(pl, "sub") : "0");
	snprintf(c.role, sizeof c.role, "%s", api_jstr(pl, "role") ? api_jstr(pl, "role") : "");
	snprintf(c.sid, sizeof c.sid, "%s", api_jstr(pl, "sid") ? api_jstr(pl, "sid") : "");
	c.tv = (long)api_jint(pl, "tv");
	sp_random_hex(c.jti, 16);
	c.iat = now - 5;
	c.exp = now + 600;
	json_object_put(pl);
	if (sp_jwt_issue_kid(&c, kid, key, &t) != 0)
		return NULL;
	return t;
}

static long login_token(const api_user *u, char **token)
{
	api_resp r;
	long st = api_login(&r, u->email, u->password);

	api_take_str(token, &r, "data.token");
	api_free(&r);
	return st;
}

static char *refreshed_token(const char *refresh)
{
	api_resp r;
	char body[256], *tok = NULL;

	snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", refresh ? refresh : "");
	api_send(&r, "POST", AUTH "/refresh", NULL, body);
	EXPECT_OK(r, 200);
	api_take_str(&tok, &r, "data.token");
	api_free(&r);
	return tok;
}

/*
 * Signed in before a rotation: the token keeps working, its refresh and a
 * new sign-in get the new kid, signing out still revokes it; an unknown
 * kid is refused, and so is the old key once past its retirement.
 */
static void test_rotation_keeps_old_tokens_and_revocation_working(void)
{
	api_user u;
	api_resp r;
	char kid[SP_KID_MAX], *newkid, *out, *tok = NULL, *ref = NULL, *forged, *log = NULL;
	int rc;

	if (api_db_ready() != 0 || sp_cfg.jwt_secret == NULL)
		return;
	clear_ring();
	if (api_user_register(&u, "rotate") != 0)
		return;
	kid_of(u.token, kid);
	api_check_str(kid, "0", "kid with no ring", __FILE__, __LINE__);
	forged = forge(u.token, "0", sp_cfg.jwt_secret);
	EXPECT(forged && me_status(forged) == 200, "control: a kid 0 token signed with jwt.secret");
	free(forged);

	rc = run_admin("rotate-jwt-key", &out);
	EXPECT(rc == 0 && strstr(out, "now signs new tokens"), "rotate-jwt-key: %d %.200s", rc,
	       out);
	free(out);
	newkid = api_db_str_s("SELECT kid FROM jwt_keys WHERE retire_at IS NULL AND kid <> ?", "0");
	EXPECT(newkid != NULL && strlen(newkid) == 16, "one new signing key in the ring");
	wait_for_ring();

	EXPECT(me_status(u.token) == 200, "the token signed before the rotation still works");
	EXPECT(login_token(&u, &tok) == 200, "a new sign-in");
	kid_of(tok, kid);
	api_check_str(kid, newkid ? newkid : "", "the new sign-in's kid", __FILE__, __LINE__);
	EXPECT(me_status(tok) == 200, "the new token works");
	ref = refreshed_token(u.refresh);
	kid_of(ref, kid);
	api_check_str(kid, newkid ? newkid : "", "a refresh across the rotation", __FILE__,
	              __LINE__);
	EXPECT(me_status(ref) == 200, "the refreshed token works");

	forged = forge(tok, "0123456789abcdef", sp_cfg.jwt_secret);
	EXPECT(forged && me_status(forged) == 401, "a kid the ring does not know: 401");
	free(forged);

	api_send(&r, "POST", AUTH "/logout", u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT(me_status(u.token) == 401, "the old token, signed out after the rotation: 401");

	/* the old key past its retirement verifies nothing, and the worker drops it */
	forged = forge(tok, "0", sp_cfg.jwt_secret);
	EXPECT(forged && me_status(forged) == 200, "control: kid 0 verifies until it retires");
	free(forged);
	run_sql("UPDATE jwt_keys SET retire_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE "
	        "kid = '0'");
	wait_for_ring();
	forged = forge(tok, "0", sp_cfg.jwt_secret);
	EXPECT(forged && me_status(forged) == 401, "a kid 0 token once kid 0 retired: 401");
	free(forged);
	EXPECT(me_status(tok) == 200, "the new key's token keeps working");
	EXPECT(api_run_worker(NULL, "resets", NULL, &log) == 0, "worker resets: %s", log);
	free(log);
	EXPECT(api_db_ll("SELECT COUNT(*) FROM jwt_keys WHERE kid = '0'") == 0,
	       "the retired key is dropped from the ring");
	free(newkid);
	free(tok);
	free(ref);
	api_user_free(&u);
	clear_ring();
}

/* ---------------------------------------------------------------- suite */

int api_suite_ops(void)
{
	CU_pSuite s = CU_add_suite("ops", NULL, NULL);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_check_config_accepts_the_stack_config_and_masks_secrets);
	ADD(test_check_config_names_each_bad_value_and_exits_1);
	ADD(test_check_config_warns_of_unknown_keys_and_strict_refuses_them);
	ADD(test_status_reports_services_backlog_partitions_and_job_runs);
	ADD(test_rotation_keeps_old_tokens_and_revocation_working);
#undef ADD
	return 0;
}
