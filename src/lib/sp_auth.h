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
