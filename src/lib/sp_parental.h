/*
 * Parental controls of an account: the setting (enabled, maximum age), the
 * PIN that guards every change (bcrypt) and its lockout, counted exactly in
 * MariaDB. The age cap reaches requests through the caller's level (sp_tier).
 */
#ifndef SP_PARENTAL_H
#define SP_PARENTAL_H

#include <json-c/json.h>

/* Wrong PINs allowed within SP_PIN_WINDOW_S before changes lock for SP_PIN_LOCK_S. */
#define SP_PIN_MAX_FAILURES 5
#define SP_PIN_WINDOW_S     900
#define SP_PIN_LOCK_S       900

typedef struct sp_parental {
	int enabled;
	int max_age; /* 0, 7, 10, 13, 14, 17 or 18 */
	int pin_set;
	char pin_hash[72];  /* "" when no PIN is set */
	long long locked_s; /* seconds left of a PIN lock, 0 none */
} sp_parental;

/* The account's controls (defaults: off, 18, no PIN). 0 ok, -1 MariaDB down. */
int sp_parental_get(long long uid, sp_parental *out);
/* {enabled, maxAge, pinSet} */
json_object *sp_parental_json(const sp_parental *p);

/*
 * The first setting: stores the controls with the PIN's hash unless the
 * account already has controls. 1 stored, 0 there were some already (the
 * caller then checks the PIN as for a change), -1 MariaDB down.
 */
int sp_parental_create(long long uid, int enabled, int max_age, const char *pin_hash);

enum sp_pin_check {
	SP_PIN_OK,     /* right: the failure count is cleared */
	SP_PIN_WRONG,  /* wrong: counted (the one that fills the count locks) */
	SP_PIN_LOCKED, /* refused unchecked: locked, or every attempt is taken */
	SP_PIN_ERROR   /* MariaDB down */
};
/*
 * Checks pin against the stored hash. Like the sign-in lockout, an attempt
 * is reserved before the bcrypt by a conditional UPDATE (atomic under the
 * row lock), so any number of parallel guesses has at most
 * SP_PIN_MAX_FAILURES PINs checked per window.
 */
enum sp_pin_check sp_parental_check_pin(long long uid, const char *pin_hash, const char *pin);
/* Seconds left of the PIN lock (SP_PIN_LOCK_S while it is being set), for Retry-After. */
long long sp_parental_locked_for(long long uid);

/*
 * A change the PIN allowed: enabled and max_age (< 0: left as they are).
 * 0 ok, -1 MariaDB down.
 */
int sp_parental_update(long long uid, int enabled, int max_age);
/* A new PIN (its hash) in place of a forgotten one; the PIN lock is cleared. 0 ok, 1 no
 * controls yet (then they are created, off), -1 MariaDB down. */
int sp_parental_reset_pin(long long uid, const char *pin_hash);
/* After a committed change: the caller's level, which carries the age cap, is republished. */
void sp_parental_published(long long uid);

/* 1 when s is a PIN: 4 to 6 ASCII digits. */
int sp_pin_valid(const char *s);

#endif
