/*
 * Credentials: bcrypt password hashing, HS256 access tokens (libjwt, with
 * the algorithm pinned and exp checked here), and revocation marks.
 */
#ifndef SP_AUTH_H
#define SP_AUTH_H

#include <stddef.h>

typedef struct sp_claims {
	long long uid;
	char role[16];
	char jti[40];
	char sid[40]; /* the refresh chain this token belongs to */
	long tv;      /* the user's token version when issued */
	long long iat, exp;
} sp_claims;

/* bcrypt ($2b$) at the given cost; out must hold at least 64 bytes. 0 ok. */
int sp_password_hash(const char *pw, int cost, char *out, size_t outsz);
/* 1 when pw matches hash (constant-time comparison), else 0. */
int sp_password_verify(const char *pw, const char *hash);
/* Spends the same time as a verify, for unknown accounts. */
void sp_password_burn(const char *pw);

/* Signs c as an HS256 JWT; *out is malloc'd. 0 ok. */
int sp_jwt_issue(const sp_claims *c, const char *secret, char **out);
/*
 * Verifies signature (HS256 only), exp and iat against now (seconds) and the
 * presence of every claim; fills out. 0 valid, -1 not.
 */
int sp_jwt_verify(const char *token, const char *secret, long long now, sp_claims *out);

/* As sp_jwt_issue, with kid in the header naming the key. */
int sp_jwt_issue_kid(const sp_claims *c, const char *kid, const char *secret, char **out);

/*
 * The signing-key ring (jwt_keys, sp-admin rotate-jwt-key). With no ring,
 * jwt.secret signs as kid "0"; a token without a kid is a kid "0" token.
 */
#define SP_KID_MAX 33
/* Signs c with the current key; *out malloc'd, kid the key's id. 0 ok. */
int sp_jwt_issue_current(const sp_claims *c, char **out, char kid[SP_KID_MAX]);
/* Verifies with the key the token's kid names, if that key is in the ring and not retired. */
int sp_jwt_verify_current(const char *token, long long now, sp_claims *out);
/* The kid of a token's header ("0" when it has none); -1 when the header is unreadable. */
int sp_jwt_token_kid(const char *token, char kid[SP_KID_MAX]);
/* A new signing key; the keys signing until now retire in retire_s seconds. 0 ok. */
int sp_jwt_keyring_rotate(long long retire_s, char kid[SP_KID_MAX]);
/* Drops the keys past retirement; how many, -1 MariaDB unavailable. */
long long sp_jwt_keyring_prune(void);

/* Forgets the verified-token cache (tests; a key change). */
void sp_jwt_cache_clear(void);

/* Redis marks for revocations already committed to MariaDB (best effort). */
void sp_auth_mark_jti_revoked(const char *jti, long long ttl);
void sp_auth_mark_chain_revoked(const char *sid);
/* Stores a user's new token version in the cache (writers SET, fillers SET NX). */
void sp_auth_cache_tv(long long uid, long tv, int only_if_absent);
/*
 * After Redis (re)connects, replays from MariaDB the revocation marks that
 * may have been missed while it was unreachable (the token versions and
 * the other per-user values the gate reads: sp_gate_resync).
 */
void sp_auth_resync(void);

#endif
