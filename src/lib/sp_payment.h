/*
 * Payments go through a provider: one struct of function pointers, so a
 * real gateway plugs in without touching the handlers. payment.provider
 * chooses it: "builtin" approves the contract's methods (no money moves; for
 * demos and tests; payment.decline_methods makes it decline some, for tests), "none" (the default)
 * takes only free plans.
 */
#ifndef SP_PAYMENT_H
#define SP_PAYMENT_H

#include <stddef.h>

typedef struct sp_charge {
	long long user_id;
	long long plan_id;
	const char *amount;   /* decimal text, e.g. "14.99" */
	const char *currency; /* ISO 4217 */
	const char *method;   /* card | paypal | bank_transfer */
} sp_charge;

typedef struct sp_charge_result {
	int approved;
	char transaction_id[65];
	char decline_reason[128];
} sp_charge_result;

typedef struct sp_payment_provider {
	const char *name;
	/* 1 when the provider can take this payment method */
	int (*supports)(const char *method);
	/* 0 when the provider answered (approved or declined), -1 when it could not be reached */
	int (*charge)(const sp_charge *c, sp_charge_result *out);
	/* gives back a charge whose subscription could not be recorded */
	int (*refund)(const char *transaction_id);
} sp_payment_provider;

extern const sp_payment_provider sp_payment_builtin;
extern const sp_payment_provider sp_payment_none;

/* 1 when amount (decimal text) is zero: "0", "0.00"; nothing to charge. */
int sp_payment_amount_is_zero(const char *amount);
/* 1 when method is one the contract names (card, paypal, bank_transfer). */
int sp_payment_method_known(const char *method);
/* The provider named by name ("builtin", "none" or ""), NULL for any other name. */
const sp_payment_provider *sp_payment_provider_named(const char *name);
/* The provider named by payment.provider (checked when the settings load). */
const sp_payment_provider *sp_payment_provider_get(void);

#endif
