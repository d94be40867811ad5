/* JWT: HS256 only, signature, expiry and claims are checked by our code. */
#include "unit.h"
#include "sp_auth.h"
#include "sp_config.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *KEY = "0123456789abcdef0123456789abcdef";
static const long long NOW = 1800000000LL;

static sp_claims claims(void)
{
	sp_claims c;

	memset(&c, 0, sizeof c);
	c.uid = 42;
	strcpy(c.role, "user");
	strcpy(c.jti, "0123456789abcdef0123456789abcdef");
	strcpy(c.sid, "fedcba9876543210fedcba9876543210");
	c.tv = 3;
	c.iat = NOW;
	c.exp = NOW + 900;
	return c;
}

static void test_valid_token_round_trips(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), 0);
	CU_ASSERT_EQUAL(out.uid, 42);
	CU_ASSERT_EQUAL(out.tv, 3);
	CU_ASSERT_STRING_EQUAL(out.role, "user");
	CU_ASSERT_STRING_EQUAL(out.sid, c.sid);
	free(tok);
}

static void test_expired_token_is_rejected(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 900, &out), -1);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 10000, &out), -1);
	free(tok);
}

static void test_token_from_the_future_is_rejected(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW - 3600, &out), -1);
	free(tok);
}

static void test_wrong_key_is_rejected(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, "another-key-another-key-another-key", &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), -1);
	free(tok);
}

/* Builds a token with libjwt directly, with any algorithm and key. */
static char *raw_token(jwt_alg_t alg, const char *key)
{
	jwt_t *jwt;
	char *t, *copy;

	jwt_new(&jwt);
	jwt_add_grant(jwt, "sub", "42");
	jwt_add_grant(jwt, "role", "admin");
	jwt_add_grant(jwt, "jti", "0123456789abcdef0123456789abcdef");
	jwt_add_grant(jwt, "sid", "fedcba9876543210fedcba9876543210");
	jwt_add_grant(jwt, "typ", "access");
	jwt_add_grant_int(jwt, "tv", 3);
	jwt_add_grant_int(jwt, "iat", NOW);
	jwt_add_grant_int(jwt, "exp", NOW + 900);
	jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0);
	t = jwt_encode_str(jwt);
	copy = t ? strdup(t) : NULL;
	free(t);
	jwt_free(jwt);
	return copy;
}

static void test_alg_none_is_rejected(void)
{
	sp_claims out;
	char *tok = raw_token(JWT_ALG_NONE, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), -1);
	free(tok);
}

static void test_other_hmac_alg_with_right_key_is_rejected(void)
{
	sp_claims out;
	char *tok = raw_token(JWT_ALG_HS512, KEY);

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), -1);
	free(tok);
}

static void test_tampered_payload_is_rejected(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL, *dot1, *dot2, forged[2048];
	const char *payload =
	    "{\"sub\":\"1\",\"role\":\"admin\",\"jti\":\"0123456789abcdef0123456789abcdef\","
	    "\"sid\":\"fedcba9876543210fedcba9876543210\",\"typ\":\"access\","
	    "\"tv\":3,\"iat\":1800000000,\"exp\":1800000900}";
	unsigned char b64[1024];
	int n;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	dot1 = strchr(tok, '.');
	dot2 = strchr(dot1 + 1, '.');
	n = EVP_EncodeBlock(b64, (const unsigned char *)payload, (int)strlen(payload));
	/* base64url without padding */
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok, b64, dot2);
	CU_ASSERT_EQUAL(sp_jwt_verify(forged, KEY, NOW + 1, &out), -1);
	/* the untouched token still verifies, so the failure above is the tampering */
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), 0);
	free(tok);
}

static void test_garbage_is_rejected(void)
{
	sp_claims out;

	CU_ASSERT_EQUAL(sp_jwt_verify("not.a.token", KEY, NOW, &out), -1);
	CU_ASSERT_EQUAL(sp_jwt_verify("", KEY, NOW, &out), -1);
	CU_ASSERT_EQUAL(sp_jwt_verify("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", KEY, NOW, &out), -1);
}

static void test_cached_token_still_expires(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), 0);
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 2, &out), 0); /* from the cache */
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 900, &out), -1);
	free(tok);
}

/* A token of ours in every claim but iss and aud (NULL: left out), HS256 with KEY. */
static char *token_with_iss_aud(const char *iss, const char *aud)
{
	jwt_t *jwt;
	char *t, *copy;

	jwt_new(&jwt);
	jwt_add_grant(jwt, "sub", "42");
	jwt_add_grant(jwt, "role", "user");
	jwt_add_grant(jwt, "jti", "0123456789abcdef0123456789abcdef");
	jwt_add_grant(jwt, "sid", "fedcba9876543210fedcba9876543210");
	jwt_add_grant(jwt, "typ", "access");
	if (iss)
		jwt_add_grant(jwt, "iss", iss);
	if (aud)
		jwt_add_grant(jwt, "aud", aud);
	jwt_add_grant_int(jwt, "tv", 3);
	jwt_add_grant_int(jwt, "iat", NOW);
	jwt_add_grant_int(jwt, "exp", NOW + 900);
	jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)KEY, (int)strlen(KEY));
	t = jwt_encode_str(jwt);
	copy = t ? strdup(t) : NULL;
	free(t);
	jwt_free(jwt);
	return copy;
}

static int verifies(char *tok)
{
	sp_claims out;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	rc = sp_jwt_verify(tok, KEY, NOW + 1, &out);
	free(tok);
	return rc == 0;
}

static void test_issued_token_carries_configured_iss_and_aud(void)
{
	sp_claims c = claims();
	char *tok = NULL;
	const char *iss, *aud;
	jwt_t *jwt = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL_FATAL(jwt_decode(&jwt, tok, (const unsigned char *)KEY, (int)strlen(KEY)),
	                      0);
	iss = jwt_get_grant(jwt, "iss");
	aud = jwt_get_grant(jwt, "aud");
	CU_ASSERT_TRUE(iss && strcmp(iss, "test-issuer") == 0);
	CU_ASSERT_TRUE(aud && strcmp(aud, "test-audience") == 0);
	jwt_free(jwt);
	free(tok);
}

static void test_right_key_with_right_iss_and_aud_is_accepted(void)
{
	/* the control for the refusals below: only iss/aud differ there */
	CU_ASSERT_TRUE(verifies(token_with_iss_aud("test-issuer", "test-audience")));
}

static void test_right_key_with_missing_iss_or_aud_is_rejected(void)
{
	CU_ASSERT_FALSE(verifies(token_with_iss_aud(NULL, "test-audience")));
	CU_ASSERT_FALSE(verifies(token_with_iss_aud("test-issuer", NULL)));
	CU_ASSERT_FALSE(verifies(token_with_iss_aud(NULL, NULL)));
}

static void test_right_key_with_wrong_iss_or_aud_is_rejected(void)
{
	CU_ASSERT_FALSE(verifies(token_with_iss_aud("other-issuer", "test-audience")));
	CU_ASSERT_FALSE(verifies(token_with_iss_aud("test-issuer", "other-audience")));
	CU_ASSERT_FALSE(verifies(token_with_iss_aud("test-issuerX", "test-audience")));
	CU_ASSERT_FALSE(verifies(token_with_iss_aud("", "")));
}

static int jwt_setup(void)
{
	free(sp_cfg.jwt_issuer);
	free(sp_cfg.jwt_audience);
	sp_cfg.jwt_issuer = strdup("test-issuer");
	sp_cfg.jwt_audience = strdup("test-audience");
	return 0;
}

static int jwt_cleanup(void)
{
	sp_jwt_cache_clear();
	free(sp_cfg.jwt_issuer);
	free(sp_cfg.jwt_audience);
	sp_cfg.jwt_issuer = sp_cfg.jwt_audience = NULL;
	return 0;
}

/* The key id rides in the header; a token without one is a kid "0" (jwt.secret) token. */
static void test_kid_is_in_the_header(void)
{
	sp_claims c = claims(), out;
	char *tok = NULL, kid[SP_KID_MAX] = "";

	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue_kid(&c, "a1b2c3d4e5f60718", KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_token_kid(tok, kid), 0);
	CU_ASSERT_STRING_EQUAL(kid, "a1b2c3d4e5f60718");
	CU_ASSERT_EQUAL(sp_jwt_verify(tok, KEY, NOW + 1, &out), 0);
	free(tok);
	tok = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_jwt_issue(&c, KEY, &tok), 0);
	CU_ASSERT_EQUAL(sp_jwt_token_kid(tok, kid), 0);
	CU_ASSERT_STRING_EQUAL(kid, "0");
	free(tok);
	CU_ASSERT_EQUAL(sp_jwt_token_kid("!!!.x.y", kid), -1);
	CU_ASSERT_EQUAL(sp_jwt_token_kid("no-dot", kid), -1);
	/* {"alg":"HS256","kid":7}: a kid that is not a string is refused */
	CU_ASSERT_EQUAL(sp_jwt_token_kid("eyJhbGciOiJIUzI1NiIsImtpZCI6N30.e30.x", kid), -1);
}

void suite_jwt(void)
{
	CU_pSuite s = CU_add_suite("jwt", jwt_setup, jwt_cleanup);

	ADD_TEST(s, test_valid_token_round_trips);
	ADD_TEST(s, test_expired_token_is_rejected);
	ADD_TEST(s, test_token_from_the_future_is_rejected);
	ADD_TEST(s, test_wrong_key_is_rejected);
	ADD_TEST(s, test_alg_none_is_rejected);
	ADD_TEST(s, test_other_hmac_alg_with_right_key_is_rejected);
	ADD_TEST(s, test_tampered_payload_is_rejected);
	ADD_TEST(s, test_garbage_is_rejected);
	ADD_TEST(s, test_cached_token_still_expires);
	ADD_TEST(s, test_issued_token_carries_configured_iss_and_aud);
	ADD_TEST(s, test_right_key_with_right_iss_and_aud_is_accepted);
	ADD_TEST(s, test_right_key_with_missing_iss_or_aud_is_rejected);
	ADD_TEST(s, test_right_key_with_wrong_iss_or_aud_is_rejected);
	ADD_TEST(s, test_kid_is_in_the_header);
}
