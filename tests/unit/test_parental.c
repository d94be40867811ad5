/* Parental controls: the PIN's shape and the age caps a setting may hold. */
#include "unit.h"
#include "sp_parental.h"
#include "sp_tier.h"

static void test_pin_is_four_to_six_digits(void)
{
	CU_ASSERT_EQUAL(sp_pin_valid("0000"), 1);
	CU_ASSERT_EQUAL(sp_pin_valid("12345"), 1);
	CU_ASSERT_EQUAL(sp_pin_valid("864209"), 1);
	CU_ASSERT_EQUAL(sp_pin_valid("123"), 0);
	CU_ASSERT_EQUAL(sp_pin_valid("1234567"), 0);
	CU_ASSERT_EQUAL(sp_pin_valid("12a4"), 0);
	CU_ASSERT_EQUAL(sp_pin_valid(" 1234"), 0);
	CU_ASSERT_EQUAL(sp_pin_valid("１２３４"), 0); /* full-width digits are not ASCII digits */
	CU_ASSERT_EQUAL(sp_pin_valid(""), 0);
	CU_ASSERT_EQUAL(sp_pin_valid(NULL), 0);
}

static void test_age_caps_are_the_contract_list(void)
{
	static const int allowed[] = {0, 7, 10, 13, 14, 17, 18};

	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		CU_ASSERT_EQUAL(sp_age_index(allowed[i]), (int)i);
	CU_ASSERT_EQUAL(sp_age_index(12), -1);
	CU_ASSERT_EQUAL(sp_age_index(-1), -1);
	CU_ASSERT_EQUAL(sp_age_index(21), -1);
}

void suite_parental(void)
{
	CU_pSuite s = CU_add_suite("parental", NULL, NULL);

	ADD_TEST(s, test_pin_is_four_to_six_digits);
	ADD_TEST(s, test_age_caps_are_the_contract_list);
}
