/* Payment providers: chosen by payment.provider; "none" never grants a paid plan. */
#include "unit.h"
#include "sp_config.h"
#include "sp_payment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(const char *provider_line, char *err, size_t errlen)
{
	char path[64];
	FILE *f;
	int rc;

	snprintf(path, sizeof path, "/tmp/sp-unit-pay-%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		return -2;
	fprintf(f, "jwt.secret = 0123456789abcdef0123456789abcdef\n%s", provider_line);
	fclose(f);
	sp_settings_free();
	sp_conf_free();
	rc = sp_settings_load(path, err, errlen);
	unlink(path);
	return rc;
}

static sp_charge charge_of(const char *amount)
{
	sp_charge c = {
	    .user_id = 1, .plan_id = 2, .amount = amount, .currency = "USD", .method = "card"};
	return c;
}

static void test_no_provider_by_default_and_none_refuses_paid_plans(void)
{
	char err[256] = "";
	sp_charge c = charge_of("9.99");
	sp_charge_result out;

	CU_ASSERT_EQUAL_FATAL(load("", err, sizeof err), 0);
	CU_ASSERT_PTR_EQUAL(sp_payment_provider_get(), &sp_payment_none);
	/* "could not be reached": the handler answers 503 and writes nothing */
	CU_ASSERT_EQUAL(sp_payment_none.charge(&c, &out), -1);
	CU_ASSERT_EQUAL(out.approved, 0);
	c = charge_of("0.00");
	CU_ASSERT_EQUAL(sp_payment_none.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 1);
	CU_ASSERT_EQUAL(strncmp(out.transaction_id, "free_", 5), 0);
	c = charge_of("0.01");
	CU_ASSERT_EQUAL(sp_payment_none.charge(&c, &out), -1);
}

static void test_builtin_is_an_explicit_choice(void)
{
	char err[256] = "";
	sp_charge c = charge_of("14.99");
	sp_charge_result out;

	CU_ASSERT_EQUAL_FATAL(load("payment.provider = builtin\n", err, sizeof err), 0);
	CU_ASSERT_PTR_EQUAL(sp_payment_provider_get(), &sp_payment_builtin);
	CU_ASSERT_EQUAL(sp_payment_builtin.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 1);
	c.method = "cash";
	CU_ASSERT_EQUAL(sp_payment_builtin.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 0);
}

static void test_builtin_declines_the_methods_listed_for_tests(void)
{
	char err[256] = "";
	sp_charge c = charge_of("9.99");
	sp_charge_result out;

	CU_ASSERT_EQUAL_FATAL(load("payment.provider = builtin\n"
	                           "payment.decline_methods = paypal, bank_transfer\n",
	                           err, sizeof err),
	                      0);
	c.method = "paypal";
	CU_ASSERT_EQUAL(sp_payment_builtin.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 0);
	CU_ASSERT_STRING_NOT_EQUAL(out.decline_reason, "");
	c.method = "bank_transfer";
	CU_ASSERT_EQUAL(sp_payment_builtin.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 0);
	c.method = "card";
	CU_ASSERT_EQUAL(sp_payment_builtin.charge(&c, &out), 0);
	CU_ASSERT_EQUAL(out.approved, 1);
	CU_ASSERT(sp_payment_amount_is_zero("0.00"));
	CU_ASSERT(!sp_payment_amount_is_zero("0.01"));
	sp_settings_free();
	sp_conf_free();
}

static void test_unknown_provider_refused_at_start(void)
{
	char err[256] = "";

	CU_ASSERT_EQUAL(load("payment.provider = stripe-ish\n", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "payment.provider"));
	CU_ASSERT_PTR_NULL(sp_payment_provider_named("stripe-ish"));
	CU_ASSERT_PTR_EQUAL(sp_payment_provider_named("none"), &sp_payment_none);
	CU_ASSERT_PTR_EQUAL(sp_payment_provider_named(""), &sp_payment_none);
	sp_settings_free();
	sp_conf_free();
}

void suite_payment(void)
{
	CU_pSuite s = CU_add_suite("payment", NULL, NULL);

	ADD_TEST(s, test_no_provider_by_default_and_none_refuses_paid_plans);
	ADD_TEST(s, test_builtin_is_an_explicit_choice);
	ADD_TEST(s, test_builtin_declines_the_methods_listed_for_tests);
	ADD_TEST(s, test_unknown_provider_refused_at_start);
}
