/* Webhooks: the signature receivers recompute, the body without secrets, the URL and name rules. */
#include "unit.h"
#include "sp_webhook.h"

#include <stdlib.h>
#include <string.h>

static void test_signature_is_hmac_sha256_of_timestamp_dot_body(void)
{
	const char *secret = "whsec_0123456789abcdef", *body = "{\"id\":\"7\"}";
	char hex[65];

	/* python3: hmac.new(secret, b'1700000000.' + body, hashlib.sha256).hexdigest() */
	sp_webhook_sign(secret, strlen(secret), 1700000000LL, body, strlen(body), hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "f528e5c5fb4da626ec6c614e52f56496e5c22f39ba534bd7ad4e8b9c4dcf5dcd");
	sp_webhook_sign(secret, strlen(secret), 1700000001LL, body, strlen(body), hex);
	CU_ASSERT_STRING_NOT_EQUAL(
	    hex, "f528e5c5fb4da626ec6c614e52f56496e5c22f39ba534bd7ad4e8b9c4dcf5dcd");
}

static void test_body_drops_sealed_token_and_secret_names(void)
{
	char *b = sp_webhook_body(
	    42, "password.reset_requested", 1736332200000LL,
	    "{\"sealedToken\":\"v1.abc\",\"resetToken\":\"t\",\"clientSecret\":\"s\","
	    "\"newPassword\":\"p\",\"expiresInSeconds\":3600,\"name\":\"Ann\"}",
	    "9");

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"id\":\"42\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"type\":\"password.reset_requested\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"occurredAt\":\"2025-01-08T10:30:00.000Z\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"expiresInSeconds\":3600"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"name\":\"Ann\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"userId\":\"9\""));
	CU_ASSERT_PTR_NULL(strstr(b, "sealedToken"));
	CU_ASSERT_PTR_NULL(strstr(b, "v1.abc"));
	CU_ASSERT_PTR_NULL(strstr(b, "resetToken"));
	CU_ASSERT_PTR_NULL(strstr(b, "clientSecret"));
	CU_ASSERT_PTR_NULL(strstr(b, "newPassword"));
	free(b);
}

static void test_url_rule(void)
{
	static const char *const good[] = {
	    "http://127.0.0.1:9000/hook", "https://hooks.example.com/a?b=c", "HTTPS://example.com"};
	static const char *const bad[] = {"",
	                                  "ftp://example.com/x",
	                                  "example.com/hook",
	                                  "http://",
	                                  "http://exa mple.com/",
	                                  "http://user:pw@example.com/",
	                                  "javascript:alert(1)",
	                                  "http://example.com/\x01",
	                                  "http://[::1/"};
	char *huge = malloc(2100);

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CU_ASSERT_PTR_NULL(sp_webhook_url_problem(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_PTR_NOT_NULL(sp_webhook_url_problem(bad[i]));
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	memcpy(huge, "http://example.com/", 19);
	memset(huge + 19, 'a', 2030);
	huge[2049] = '\0';
	CU_ASSERT_PTR_NOT_NULL(sp_webhook_url_problem(huge));
	huge[2048] = '\0';
	CU_ASSERT_PTR_NULL(sp_webhook_url_problem(huge));
	free(huge);
}

static void test_event_names_and_matching(void)
{
	CU_ASSERT_EQUAL(sp_webhook_n_events, 11);
	CU_ASSERT_TRUE(sp_webhook_event_known("user.registered"));
	CU_ASSERT_TRUE(sp_webhook_event_known("subscription.*"));
	CU_ASSERT_FALSE(sp_webhook_event_known("user.*"));
	CU_ASSERT_FALSE(sp_webhook_event_known("USER.REGISTERED"));
	CU_ASSERT_FALSE(sp_webhook_event_known(NULL));
	CU_ASSERT_TRUE(sp_webhook_event_matches("[\"subscription.*\"]", "subscription.renewed"));
	CU_ASSERT_FALSE(sp_webhook_event_matches("[\"subscription.*\"]", "user.registered"));
	CU_ASSERT_TRUE(sp_webhook_event_matches("[\"a\",\"user.registered\"]", "user.registered"));
	CU_ASSERT_FALSE(
	    sp_webhook_event_matches("[\"password.changed\"]", "password.reset_requested"));
}

static void test_secret_is_sealed_for_its_row(void)
{
	char *sealed = NULL, *plain = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(sp_webhook_seal_secret(5, "whsec_0123456789abcdef", &sealed), 0);
	CU_ASSERT_PTR_NULL(strstr(sealed, "whsec_"));
	CU_ASSERT_EQUAL(sp_webhook_open_secret(6, sealed, &plain, &n), -1);
	CU_ASSERT_PTR_NULL(plain);
	CU_ASSERT_EQUAL(sp_webhook_open_secret(5, sealed, &plain, &n), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
	CU_ASSERT_STRING_EQUAL(plain, "whsec_0123456789abcdef");
	CU_ASSERT_EQUAL(n, strlen("whsec_0123456789abcdef"));
	free(plain);
	free(sealed);
}

void suite_webhook(void)
{
	CU_pSuite s = CU_add_suite("webhook", NULL, NULL);

	ADD_TEST(s, test_signature_is_hmac_sha256_of_timestamp_dot_body);
	ADD_TEST(s, test_body_drops_sealed_token_and_secret_names);
	ADD_TEST(s, test_url_rule);
	ADD_TEST(s, test_event_names_and_matching);
	ADD_TEST(s, test_secret_is_sealed_for_its_row);
}
