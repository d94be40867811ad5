/* bcrypt: $2b$ hashes at the configured cost, verify accepts only the right password. */
#include "unit.h"
#include "sp_auth.h"

#include <string.h>

static void test_hash_is_2b_with_cost(void)
{
	char h[128];

	CU_ASSERT_EQUAL_FATAL(sp_password_hash("Secret123", 4, h, sizeof h), 0);
	CU_ASSERT_EQUAL(strncmp(h, "$2b$04$", 7), 0);
	CU_ASSERT_EQUAL(strlen(h), 60);
}

static void test_verify_right_and_wrong(void)
{
	char h[128];

	CU_ASSERT_EQUAL_FATAL(sp_password_hash("Secret123", 4, h, sizeof h), 0);
	CU_ASSERT_TRUE(sp_password_verify("Secret123", h));
	CU_ASSERT_FALSE(sp_password_verify("Secret124", h));
	CU_ASSERT_FALSE(sp_password_verify("", h));
	CU_ASSERT_FALSE(sp_password_verify("Secret123", "not-a-hash"));
	CU_ASSERT_FALSE(sp_password_verify("Secret123", ""));
}

static void test_salts_differ(void)
{
	char a[128], b[128];

	CU_ASSERT_EQUAL_FATAL(sp_password_hash("Secret123", 4, a, sizeof a), 0);
	CU_ASSERT_EQUAL_FATAL(sp_password_hash("Secret123", 4, b, sizeof b), 0);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void test_default_cost_hash_is_cost_12(void)
{
	char h[128];

	CU_ASSERT_EQUAL_FATAL(sp_password_hash("Secret123", 12, h, sizeof h), 0);
	CU_ASSERT_EQUAL(strncmp(h, "$2b$12$", 7), 0);
	CU_ASSERT_TRUE(sp_password_verify("Secret123", h));
}

void suite_bcrypt(void)
{
	CU_pSuite s = CU_add_suite("bcrypt", NULL, NULL);

	ADD_TEST(s, test_hash_is_2b_with_cost);
	ADD_TEST(s, test_verify_right_and_wrong);
	ADD_TEST(s, test_salts_differ);
	ADD_TEST(s, test_default_cost_hash_is_cost_12);
}
