/* Config: file parsing, environment overrides, typed checks naming the key. */
#include "unit.h"
#include "sp_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof path, "/tmp/sp-unit-conf-%d.conf", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static const char *secret_line = "jwt.secret = 0123456789abcdef0123456789abcdef\n";

static void test_file_values_and_defaults(void)
{
	char err[256] = "", text[512];

	snprintf(text, sizeof text, "# comment\n%shttp.max_body = 2048\nratelimit.auth = 7/60\n",
	         secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL_FATAL(sp_settings_load(path, err, sizeof err), 0);
	CU_ASSERT_EQUAL(sp_cfg.max_body, 2048);
	CU_ASSERT_EQUAL(sp_cfg.rl_auth.limit, 7);
	CU_ASSERT_EQUAL(sp_cfg.rl_auth.window, 60);
	CU_ASSERT_EQUAL(sp_cfg.jwt_access_ttl, 900);
	CU_ASSERT_EQUAL(sp_cfg.jwt_refresh_ttl, 604800);
	CU_ASSERT_EQUAL(sp_cfg.bcrypt_cost, 12);
	CU_ASSERT_EQUAL(sp_cfg.max_failed_logins, 5);
	CU_ASSERT_EQUAL(sp_cfg.rl_anonymous.limit, 100);
	CU_ASSERT_EQUAL(sp_cfg.rl_anonymous.window, 900);
	unlink(path);
}

static void test_environment_overrides_file(void)
{
	char err[256] = "", text[512];

	snprintf(text, sizeof text, "%sratelimit.auth = 7/60\n", secret_line);
	write_conf(text);
	setenv("SP_RATELIMIT_AUTH", "5/900", 1);
	setenv("SP_JWT_ACCESS_TTL", "2", 1);
	CU_ASSERT_EQUAL_FATAL(sp_settings_load(path, err, sizeof err), 0);
	CU_ASSERT_EQUAL(sp_cfg.rl_auth.limit, 5);
	CU_ASSERT_EQUAL(sp_cfg.rl_auth.window, 900);
	CU_ASSERT_EQUAL(sp_cfg.jwt_access_ttl, 2);
	unsetenv("SP_RATELIMIT_AUTH");
	unsetenv("SP_JWT_ACCESS_TTL");
	unlink(path);
}

static void test_bad_value_names_the_key(void)
{
	char err[256] = "", text[512];

	snprintf(text, sizeof text, "%sbcrypt.cost = twelve\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bcrypt.cost"));
	snprintf(text, sizeof text, "%sratelimit.search = 20 per minute\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ratelimit.search"));
	unlink(path);
}

static void test_lifecycle_settings_defaults_and_bounds(void)
{
	char err[256] = "", text[512];

	write_conf(secret_line);
	CU_ASSERT_EQUAL_FATAL(sp_settings_load(path, err, sizeof err), 0);
	CU_ASSERT_EQUAL(sp_cfg.lifecycle_expiring_days, 3);
	CU_ASSERT_EQUAL(sp_cfg.lifecycle_renew_grace_hours, 24);
	CU_ASSERT_STRING_EQUAL(sp_cfg.payment_decline_methods, "");
	CU_ASSERT_EQUAL(sp_cfg.stream_token_ttl, 14400);
	setenv("SP_PAYMENT_DECLINE_METHODS", "paypal", 1);
	setenv("SP_STREAM_TOKEN_TTL", "5", 1);
	CU_ASSERT_EQUAL_FATAL(sp_settings_load(path, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(sp_cfg.payment_decline_methods, "paypal");
	CU_ASSERT_EQUAL(sp_cfg.stream_token_ttl, 5);
	unsetenv("SP_PAYMENT_DECLINE_METHODS");
	unsetenv("SP_STREAM_TOKEN_TTL");
	snprintf(text, sizeof text, "%slifecycle.expiring_days = 0\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lifecycle.expiring_days"));
	snprintf(text, sizeof text, "%slifecycle.renew_grace_hours = -1\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lifecycle.renew_grace_hours"));
	unlink(path);
}

static void test_refuses_short_jwt_secret(void)
{
	char err[256] = "";

	write_conf("jwt.secret = tooshort\n");
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "jwt.secret"));
	unlink(path);
}

static void test_line_without_equals_is_an_error(void)
{
	char err[256] = "";

	write_conf("jwt.secret\n");
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1:"));
	unlink(path);
}

static void test_list_contains_exact_items(void)
{
	CU_ASSERT_TRUE(
	    sp_list_contains("https://a.example, https://b.example", "https://b.example"));
	CU_ASSERT_FALSE(sp_list_contains("https://a.example", "https://a.example.evil"));
	CU_ASSERT_FALSE(sp_list_contains("", "x"));
}

/* Every key the table stores comes out of an empty file as its documented default. */
static void test_every_key_takes_its_table_default(void)
{
	char err[256] = "";

	write_conf(secret_line);
	CU_ASSERT_EQUAL_FATAL(sp_settings_load(path, err, sizeof err), 0);
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		const sp_conf_key *k = &sp_conf_keys[i];
		const char *p = (const char *)&sp_cfg + k->off;
		char got[64] = "";

		if (k->store == SP_CS_STR && strcmp(k->name, "jwt.secret") != 0)
			CU_ASSERT_STRING_EQUAL(*(char *const *)p, k->def);
		if (k->store == SP_CS_INT)
			snprintf(got, sizeof got, "%d", *(const int *)p);
		if (k->store == SP_CS_LONG)
			snprintf(got, sizeof got, "%ld", *(const long *)p);
		if (k->store == SP_CS_SIZE)
			snprintf(got, sizeof got, "%zu", *(const size_t *)p);
		if (k->store == SP_CS_RATE)
			snprintf(got, sizeof got, "%ld/%ld", ((const sp_rate_rule *)p)->limit,
			         ((const sp_rate_rule *)p)->window);
		if (got[0] && strcmp(got, k->def) != 0)
			CU_FAIL(k->name);
	}
	unlink(path);
}

/* Each key has a name with a section, a meaning, and a default its own check accepts. */
static void test_key_table_is_complete(void)
{
	char err[256];

	CU_ASSERT_TRUE(sp_conf_nkeys > 60);
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		const sp_conf_key *k = &sp_conf_keys[i];

		CU_ASSERT_PTR_NOT_NULL(strchr(k->name, '.'));
		CU_ASSERT_TRUE(k->about != NULL && k->about[0] != '\0');
		CU_ASSERT_PTR_EQUAL(sp_conf_key_named(k->name), k); /* no key twice */
	}
	sp_conf_load("/dev/null", err, sizeof err);
	for (size_t i = 0; i < sp_conf_nkeys; i++)
		if (strcmp(sp_conf_keys[i].name, "jwt.secret") != 0 &&
		    sp_conf_key_check(&sp_conf_keys[i], NULL, err, sizeof err) != 0)
			CU_FAIL(sp_conf_keys[i].name);
}

static void count_unknown(const char *key, const char *file, int line, void *arg)
{
	char *seen = arg;

	(void)file;
	snprintf(seen, 64, "%s@%d", key, line);
}

/* A key the table does not know is reported with its line, and does not stop the start. */
static void test_unknown_key_is_a_warning(void)
{
	char err[256] = "", text[512], seen[64] = "";

	snprintf(text, sizeof text, "%sjwt.acess_ttl = 60\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), 0);
	CU_ASSERT_EQUAL(sp_conf_each_unknown(count_unknown, seen), 1);
	CU_ASSERT_STRING_EQUAL(seen, "jwt.acess_ttl@2");
	CU_ASSERT_EQUAL(sp_cfg.jwt_access_ttl, 900);
	unlink(path);
}

/* Where a value comes from: the environment over the file's line over the default. */
static void test_source_names_env_file_or_default(void)
{
	char err[256] = "", text[512], src[256], want[128];

	snprintf(text, sizeof text, "%sbcrypt.cost = 10\n", secret_line);
	write_conf(text);
	CU_ASSERT_EQUAL_FATAL(sp_conf_load(path, err, sizeof err), 0);
	sp_conf_source("bcrypt.cost", src, sizeof src);
	snprintf(want, sizeof want, "file %s:2", path);
	CU_ASSERT_STRING_EQUAL(src, want);
	sp_conf_source("db.port", src, sizeof src);
	CU_ASSERT_STRING_EQUAL(src, "default");
	setenv("SP_BCRYPT_COST", "11", 1);
	sp_conf_source("bcrypt.cost", src, sizeof src);
	CU_ASSERT_STRING_EQUAL(src, "env SP_BCRYPT_COST");
	unsetenv("SP_BCRYPT_COST");
	unlink(path);
}

/* A missing jwt.secret is named only when nothing else is wrong (tools may run without it). */
static void test_other_errors_come_before_the_secret(void)
{
	char err[256] = "";

	write_conf("bcrypt.cost = 99\n");
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bcrypt.cost"));
	write_conf("payment.provider = stripe\n");
	CU_ASSERT_EQUAL(sp_settings_load(path, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "config: payment.provider must be none or builtin");
	unlink(path);
}

/*
 * docs/OPERATIONS.md carries the reference `sp-admin config-reference`
 * prints, between its markers: a key added, removed or changed in the
 * table without the doc fails here.
 */
static void test_operations_doc_matches_the_key_table(void)
{
	const char *dir = getenv("srcdir") ? getenv("srcdir") : ".";
	const char *begin = "<!-- config-reference:begin -->\n",
	           *end = "<!-- config-reference:end -->";
	char file[512], *doc = NULL, *gen = NULL, *a, *b;
	size_t n = 0, gn = 0;
	FILE *f, *m;

	snprintf(file, sizeof file, "%s/docs/OPERATIONS.md", dir);
	f = fopen(file, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	doc = calloc(1, 1 << 20);
	n = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	doc[n] = '\0';
	m = open_memstream(&gen, &gn);
	sp_conf_reference(m);
	fclose(m);
	a = strstr(doc, begin);
	b = a ? strstr(a, end) : NULL;
	CU_ASSERT_PTR_NOT_NULL(b);
	if (b) {
		a += strlen(begin);
		*b = '\0';
		if (strcmp(a, gen) != 0)
			CU_FAIL("docs/OPERATIONS.md config reference differs from sp-admin "
			        "config-reference");
	}
	free(doc);
	free(gen);
}

/*
 * conf/streaming.conf, the annotated template, sets every key of the table
 * (http.port excepted: scripts/dev writes it) and no key the table lacks.
 */
static void test_template_matches_the_key_table(void)
{
	const char *dir = getenv("srcdir") ? getenv("srcdir") : ".";
	char file[512], err[256] = "";

	snprintf(file, sizeof file, "%s/conf/streaming.conf", dir);
	CU_ASSERT_EQUAL_FATAL(sp_conf_load(file, err, sizeof err), 0);
	CU_ASSERT_EQUAL(sp_conf_each_unknown(NULL, NULL), 0);
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		char src[600];

		if (strcmp(sp_conf_keys[i].name, "http.port") == 0)
			continue;
		sp_conf_source(sp_conf_keys[i].name, src, sizeof src);
		if (strcmp(src, "default") == 0) /* an environment override hides the line */
			CU_FAIL(sp_conf_keys[i].name);
	}
}

static int cleanup(void)
{
	sp_conf_free();
	sp_settings_free();
	return 0;
}

void suite_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, cleanup);

	ADD_TEST(s, test_file_values_and_defaults);
	ADD_TEST(s, test_environment_overrides_file);
	ADD_TEST(s, test_bad_value_names_the_key);
	ADD_TEST(s, test_lifecycle_settings_defaults_and_bounds);
	ADD_TEST(s, test_refuses_short_jwt_secret);
	ADD_TEST(s, test_line_without_equals_is_an_error);
	ADD_TEST(s, test_list_contains_exact_items);
	ADD_TEST(s, test_every_key_takes_its_table_default);
	ADD_TEST(s, test_key_table_is_complete);
	ADD_TEST(s, test_unknown_key_is_a_warning);
	ADD_TEST(s, test_source_names_env_file_or_default);
	ADD_TEST(s, test_other_errors_come_before_the_secret);
	ADD_TEST(s, test_operations_doc_matches_the_key_table);
	ADD_TEST(s, test_template_matches_the_key_table);
}
