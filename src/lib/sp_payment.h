/*
 * Payments go through a provider: one struct of function pointers, so a
 * real gateway plugs in without touching the handlers. The built-in
 * provider approves the contract's methods; no money moves.
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

/* The provider named by payment.provider (only "builtin" ships). */
const sp_payment_provider *sp_payment_provider_get(void);

#endif
