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
}
