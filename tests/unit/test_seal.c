/* Sealed secrets: what is sealed opens with the same key and aad, and nothing else does. */
#include "unit.h"
#include "sp_seal.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char KEY[SP_SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
#define TOKEN "4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
static const char *AAD = "outbox|password.reset_requested|42";

static char *seal(const char *aad)
{
	char *s = NULL;

	CU_ASSERT_EQUAL(sp_seal(KEY, aad, TOKEN, strlen(TOKEN), &s), 0);
	return s;
}

/* 0 when sealed opens with key and aad to the token. */
static int opens(const unsigned char *key, const char *aad, const char *sealed)
{
	char *plain = NULL;
	size_t n = 0;
	int rc = sp_unseal(key, aad, sealed, &plain, &n);

	if (rc == 0 && (n != strlen(TOKEN) || strcmp(plain, TOKEN) != 0))
		rc = 2;
	if (rc != 0 && rc != 2 && plain != NULL)
		rc = 3; /* a refusal must hand back nothing */
	free(plain);
	return rc;
}

static void test_sealed_token_opens_with_its_key_and_aad(void)
{
	char *s = seal(AAD);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(opens(KEY, AAD, s), 0);
	free(s);
}

static void test_sealed_text_does_not_hold_the_token(void)
{
	char *s = seal(AAD), *t = seal(AAD);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NULL(strstr(s, TOKEN));
	CU_ASSERT_PTR_NULL(strstr(s, "4f1c0d2e9a8b"));
	/* a fresh nonce each time: the same token never seals to the same text */
	CU_ASSERT_STRING_NOT_EQUAL(s, t);
	free(s);
	free(t);
}

static void test_tampered_sealed_token_is_refused(void)
{
	char *s = seal(AAD);
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	len = strlen(s);
	/* flip one hex digit in the nonce, the ciphertext and the tag in turn */
	for (size_t pos = 3; pos < len; pos += 7) {
		char saved = s[pos];
		s[pos] = saved == '0' ? '1' : '0';
		CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, s), 0);
		CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, s), 3);
		s[pos] = saved;
	}
	CU_ASSERT_EQUAL(opens(KEY, AAD, s), 0);
	/* cut short, or one byte longer */
	s[len - 2] = '\0';
	CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, s), 0);
	free(s);
}

static void test_sealed_token_refused_for_other_aad_or_key(void)
{
	unsigned char other[SP_SEAL_KEY_LEN];
	char *s = seal(AAD);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(other, KEY, sizeof other);
	other[0] ^= 1;
	CU_ASSERT_NOT_EQUAL(opens(KEY, "outbox|password.reset_requested|43", s), 0);
	CU_ASSERT_NOT_EQUAL(opens(KEY, "", s), 0);
	CU_ASSERT_NOT_EQUAL(opens(other, AAD, s), 0);
	free(s);
}

static void test_malformed_sealed_text_is_refused(void)
{
	static const char *bad[] = {"",
	                            "v1.",
	                            "v2.00112233445566778899aabbccddeeff00112233445566778899",
	                            "v1.zz112233445566778899aabbccddeeff00112233445566778899",
	                            "v1.0011",
	                            TOKEN,
	                            NULL};
	char *huge = malloc(2 * SP_SEAL_MAX + 16);

	for (int i = 0; bad[i]; i++)
		CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, bad[i]), 0);
	CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	memcpy(huge, "v1.", 3);
	memset(huge + 3, 'a', 2 * SP_SEAL_MAX + 10);
	huge[2 * SP_SEAL_MAX + 13] = '\0';
	CU_ASSERT_NOT_EQUAL(opens(KEY, AAD, huge), 0);
	free(huge);
}

void suite_seal(void)
{
	CU_pSuite s = CU_add_suite("seal", NULL, NULL);

	ADD_TEST(s, test_sealed_token_opens_with_its_key_and_aad);
	ADD_TEST(s, test_sealed_text_does_not_hold_the_token);
	ADD_TEST(s, test_tampered_sealed_token_is_refused);
	ADD_TEST(s, test_sealed_token_refused_for_other_aad_or_key);
	ADD_TEST(s, test_malformed_sealed_text_is_refused);
}
