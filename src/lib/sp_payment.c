/*
 * Payment providers: the built-in one that approves every known method (no
 * money moves) and "none", which refuses to take money, so a deployment
 * that configured no gateway never grants a paid plan for nothing.
 */
#include "sp_payment.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>

static const char *const methods[] = {"card", "paypal", "bank_transfer"};

int sp_payment_method_known(const char *method)
{
	for (size_t i = 0; method && i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(method, methods[i]) == 0)
			return 1;
	return 0;
}

int sp_payment_amount_is_zero(const char *amount)
{
	int digits = 0;

	for (const char *p = amount; *p; p++) {
		if (*p == '.')
			continue;
		if (*p != '0')
			return 0;
		digits++;
	}
	return digits > 0;
}

static int builtin_charge(const sp_charge *c, sp_charge_result *out)
{
	char rnd[25];

	memset(out, 0, sizeof *out);
	if (!sp_payment_method_known(c->method)) {
		snprintf(out->decline_reason, sizeof out->decline_reason, "unsupported method");
		return 0;
	}
	/* payment.decline_methods: a decline to rehearse (tests only) */
	if (sp_cfg.payment_decline_methods &&
	    sp_list_contains(sp_cfg.payment_decline_methods, c->method)) {
		snprintf(out->decline_reason, sizeof out->decline_reason, "declined by the issuer");
		return 0;
	}
	sp_random_hex(rnd, 12);
	snprintf(out->transaction_id, sizeof out->transaction_id, "txn_%s", rnd);
	out->approved = 1;
	return 0;
}

static int builtin_refund(const char *transaction_id)
{
	sp_info("builtin payment provider: refunded %s", transaction_id);
	return 0;
}

const sp_payment_provider sp_payment_builtin = {"builtin", sp_payment_method_known, builtin_charge,
                                                builtin_refund};

/*
 * No gateway configured: a free plan needs none, anything that costs money
 * answers "could not be reached", which the subscribe handler turns into a
 * 503 before anything is written.
 */
static int none_charge(const sp_charge *c, sp_charge_result *out)
{
	char rnd[25];

	memset(out, 0, sizeof *out);
	if (!sp_payment_amount_is_zero(c->amount)) {
		sp_warn("payment.provider is not set: refusing a paid subscription (%s %s)",
		        c->amount, c->currency);
		return -1;
	}
	sp_random_hex(rnd, 12);
	snprintf(out->transaction_id, sizeof out->transaction_id, "free_%s", rnd);
	out->approved = 1;
	return 0;
}

static int none_refund(const char *transaction_id)
{
	(void)transaction_id;
	return 0; /* nothing was charged */
}

const sp_payment_provider sp_payment_none = {"none", sp_payment_method_known, none_charge,
                                             none_refund};

const sp_payment_provider *sp_payment_provider_named(const char *name)
{
	/* further providers register here */
	if (strcmp(name, "builtin") == 0)
		return &sp_payment_builtin;
	if (name[0] == '\0' || strcmp(name, "none") == 0)
		return &sp_payment_none;
	return NULL;
}

const sp_payment_provider *sp_payment_provider_get(void)
{
	const sp_payment_provider *p = sp_payment_provider_named(sp_cfg.payment_provider);

	return p ? p : &sp_payment_none;
}
