/*
 * The user document every area shows (profile, preferences, level), built
 * from one row of SP_USER_COLS.
 */
#ifndef SP_USER_H
#define SP_USER_H

#include <json-c/json.h>

#include "sp_db.h"

/* The columns sp_user_json reads, in order; alias the users table as u. */
#define SP_USER_COLS                                                                               \
	"u.id, u.name, u.email, u.phone, u.bio, u.role, u.preferences, u.picture_path, "           \
	"u.created_at, u.last_login_at, u.is_active"
#define SP_USER_NCOLS 11
/* The columns of SP_USER_COLS by name, counted from where they start. */
enum sp_user_col {
	SP_UC_ID,
	SP_UC_NAME,
	SP_UC_EMAIL,
	SP_UC_PHONE,
	SP_UC_BIO,
	SP_UC_ROLE,
	SP_UC_PREFERENCES,
	SP_UC_PICTURE,
	SP_UC_CREATED_AT,
	SP_UC_LAST_LOGIN_AT,
	SP_UC_ACTIVE,
};

/* Builds the user object from res row (columns from col0 on). */
json_object *sp_user_json(const sp_res *res, size_t row, size_t col0);
/* Sets user.subscription (the one in force, or null) and user.accessLevel. 0 ok. */
int sp_user_attach_subscription(json_object *user, long long uid);
/* Loads user uid with its subscription: 0 found (*out set), 1 not found, -1 unavailable. */
int sp_user_fetch(long long uid, json_object **out);
/* The preferences object with defaults filled in, from stored JSON text (or NULL). */
json_object *sp_user_preferences(const char *stored);

/* The user's registered devices {deviceId, deviceName, deviceType, lastUsed, registeredAt},
 * most recently used first, into *out. 0 ok, -1 database unavailable. */
int sp_user_devices(long long uid, json_object **out);
/* Drops the user's cached documents (profile for /auth/me, subscription status). */
void sp_user_caches_drop(long long uid);
/* What an admin changes on an account (sp_user_change); NULL / -1 / 0 leave it as it is. */
typedef struct sp_user_change {
	const char *role; /* "user" or "admin" */
	int active;       /* 1 activate, 0 deactivate */
	int unlock;       /* 1 clears the login lockout (failed_logins, locked_until) */
} sp_user_change;

/*
 * Applies c to account uid in one transaction: the one way to switch an
 * account off or on, or change its role. A deactivation or a role change
 * bumps the token version (a token carries its role), a deactivation also
 * revokes every refresh chain, and the new version is published to Redis at
 * once, so the account's next request is refused whatever the caches held
 * (a refresh then issues tokens with the new role). 0 done, 1 no such user,
 * -1 unavailable.
 */
int sp_user_change_apply(long long uid, const sp_user_change *c);
/*
 * Activates or deactivates an account (sp_user_change_apply with active only). Deactivation
 * also bumps the token version and revokes every refresh chain, and the new
 * version is published to Redis at once, so the account's next request is
 * refused whatever the caches held. 0 done, 1 no such user, -1 unavailable.
 */
int sp_user_set_active(long long uid, int active);

/* Hashes a new password at the configured bcrypt cost into out (128 bytes do). 0 ok, -1 failed. */
int sp_user_hash_password(const char *password, char *out, size_t outlen);

/* Whether a password change queues the password.changed event (the mail to the user). */
enum sp_password_notice { SP_PASSWORD_SILENT, SP_PASSWORD_NOTIFY };

/*
 * Gives account uid a new password hash (from sp_user_hash_password): the
 * one way to set a password. Bumps the token version (every access token
 * issued before stops working), revokes every refresh chain, clears any
 * lockout and, with SP_PASSWORD_NOTIFY, queues password.changed. Runs
 * inside the caller's transaction, so that what else the caller does (a
 * reset marked used, new tokens issued) stands or falls with it; after the
 * commit call sp_user_password_published. 0 done, -1 no such user or
 * database error.
 */
int sp_user_set_password(long long uid, const char *hash, enum sp_password_notice notice);

/*
 * After the commit of sp_user_set_password: Redis learns the new token
 * version at once and the user's cached documents go. Redis down: the gate
 * checks MariaDB, and sp_auth_resync replays the version.
 */
void sp_user_password_published(long long uid);

/*
 * The account lockout (auth.max_failed_logins, auth.lockout_seconds), for
 * every check of the account password. Before its bcrypt, a check reserves
 * an attempt: 1 reserved, 0 refused (locked, or every attempt taken by
 * checks still running), -1 unavailable. After a wrong password,
 * sp_user_record_failure locks the account once the count is full (and
 * writes account.locked): 0 ok, -1 unavailable. A right password resets
 * failed_logins to 0.
 */
int sp_user_reserve_attempt(long long uid);
int sp_user_record_failure(long long uid, const char *email);

#endif
