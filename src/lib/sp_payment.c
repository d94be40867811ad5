/*
 * Payments go through a provider: one struct of function pointers, so a
 * real gateway plugs in without touching the handlers. The built-in
 * provider approves the contract's methods; no money moves.
 */
#include "sp_payment.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>

static const char *const methods[] = {"card", "paypal", "bank_transfer"};

static int builtin_supports(const char *method)
{
	for (size_t i = 0; method && i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(method, methods[i]) == 0)
			return 1;
	return 0;
}

static int builtin_charge(const sp_charge *c, sp_charge_result *out)
{
	char rnd[25];

	memset(out, 0, sizeof *out);
	if (!builtin_supports(c->method)) {
		snprintf(out->decline_reason, sizeof out->decline_reason, "unsupported method");
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

const sp_payment_provider sp_payment_builtin = {"builtin", builtin_supports, builtin_charge,
                                                builtin_refund};

const sp_payment_provider *sp_payment_provider_get(void)
{
	/* further providers register here, chosen by payment.provider */
	return &sp_payment_builtin;
}
