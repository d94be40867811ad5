/*
 * Credentials: bcrypt password hashing, HS256 access tokens (libjwt, with
 * the algorithm pinned and exp checked here), and revocation marks.
 */
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

/*
 * Every bcrypt computation goes through here and is counted
 * (sp_bcrypt_hashes_total), so the work a request costs can be seen; the
 * count is sent at the end of the request, as a hash is rare and costly.
 */
static const char *bcrypt(const char *pw, const char *setting, struct crypt_data *cd)
{
	sp_metrics_inc_now("sp_bcrypt_hashes_total");
	return crypt_rn(pw, setting, cd, sizeof *cd);
}

int sp_password_hash(const char *pw, int cost, char *out, size_t outsz)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rc = -1;

	if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting, sizeof setting) == NULL)
		return -1;
	cd = sp_xcalloc(1, sizeof *cd);
	h = bcrypt(pw, setting, cd);
	if (h && h[0] == '$' && strlen(h) < outsz) {
		snprintf(out, outsz, "%s", h);
		rc = 0;
	}
	free(cd);
	return rc;
}

int sp_password_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	int ok = 0;

	if (pw == NULL || hash == NULL || strncmp(hash, "$2", 2) != 0)
		return 0;
	cd = sp_xcalloc(1, sizeof *cd);
	h = bcrypt(pw, hash, cd);
	if (h && h[0] == '$')
		ok = sp_ct_equal(h, strlen(h), hash, strlen(hash));
	free(cd);
	return ok;
}

void sp_password_burn(const char *pw)
{
	static char dummy[64];

	if (dummy[0] == '\0' &&
	    sp_password_hash("timing-equaliser", sp_cfg.bcrypt_cost ? sp_cfg.bcrypt_cost : 12,
	                     dummy, sizeof dummy) != 0)
		return;
	(void)sp_password_verify(pw, dummy);
}

/* Who issues the tokens and whom they are for (jwt.issuer, jwt.audience). */
static const char *jwt_issuer(void)
{
	return sp_cfg.jwt_issuer && *sp_cfg.jwt_issuer ? sp_cfg.jwt_issuer : "streaming";
}

static const char *jwt_audience(void)
{
	return sp_cfg.jwt_audience && *sp_cfg.jwt_audience ? sp_cfg.jwt_audience : "streaming-api";
}

int sp_jwt_issue(const sp_claims *c, const char *secret, char **out)
{
	return sp_jwt_issue_kid(c, NULL, secret, out);
}

int sp_jwt_issue_kid(const sp_claims *c, const char *kid, const char *secret, char **out)
{
	jwt_t *jwt = NULL;
	char uid[24];
	char *tok;
	int rc = -1;

	if (jwt_new(&jwt) != 0)
		return -1;
	snprintf(uid, sizeof uid, "%lld", c->uid);
	if (jwt_add_grant(jwt, "sub", uid) || jwt_add_grant(jwt, "role", c->role) ||
	    jwt_add_grant(jwt, "jti", c->jti) || jwt_add_grant(jwt, "sid", c->sid) ||
	    jwt_add_grant(jwt, "typ", "access") || jwt_add_grant(jwt, "iss", jwt_issuer()) ||
	    jwt_add_grant(jwt, "aud", jwt_audience()) || jwt_add_grant_int(jwt, "tv", c->tv) ||
	    jwt_add_grant_int(jwt, "iat", c->iat) || jwt_add_grant_int(jwt, "exp", c->exp))
		goto out;
	if (kid != NULL && jwt_add_header(jwt, "kid", kid) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)))
		goto out;
	tok = jwt_encode_str(jwt);
	if (tok == NULL)
		goto out;
	*out = sp_xstrdup(tok);
	free(tok);
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}

static int copy_grant(jwt_t *jwt, const char *name, char *dst, size_t n)
{
	const char *v = jwt_get_grant(jwt, name);

	if (v == NULL || strlen(v) == 0 || strlen(v) >= n)
		return -1;
	snprintf(dst, n, "%s", v);
	return 0;
}

/* 1 when the claim is present, a string, and exactly want (an aud array is refused). */
static int grant_is(jwt_t *jwt, const char *name, const char *want)
{
	const char *v = jwt_get_grant(jwt, name);

	return v != NULL && strcmp(v, want) == 0;
}

/*
 * Tokens already verified by this process, keyed by their full text
 * (signature included, so no other token can hit an entry). A client sends
 * the same token for its whole life, so most requests skip the decode and
 * HMAC; exp is still checked on every use, revocation by the gate.
 */
#define VERIFIED_SLOTS 256

static struct {
	char *token;
	const char *secret;
	sp_claims claims;
} verified[VERIFIED_SLOTS];

static size_t token_slot(const char *t)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *t; t++)
		h = (h ^ (unsigned char)*t) * 1099511628211ULL;
	return (size_t)(h % VERIFIED_SLOTS);
}

static int jwt_verify_full(const char *token, const char *secret, long long now, sp_claims *out);

int sp_jwt_verify(const char *token, const char *secret, long long now, sp_claims *out)
{
	size_t slot;

	if (token == NULL || strlen(token) > 4096 || strlen(token) < 16) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	slot = token_slot(token);
	if (verified[slot].token && verified[slot].secret == secret &&
	    strcmp(verified[slot].token, token) == 0) {
		if (verified[slot].claims.exp <= now || verified[slot].claims.iat > now + 60) {
			memset(out, 0, sizeof *out);
			return -1;
		}
		*out = verified[slot].claims;
		return 0;
	}
	if (jwt_verify_full(token, secret, now, out) != 0)
		return -1;
	free(verified[slot].token);
	verified[slot].token = sp_xstrdup(token);
	verified[slot].secret = secret;
	verified[slot].claims = *out;
	return 0;
}

void sp_jwt_cache_clear(void)
{
	for (size_t i = 0; i < VERIFIED_SLOTS; i++) {
		free(verified[i].token);
		verified[i].token = NULL;
	}
}

static int jwt_verify_full(const char *token, const char *secret, long long now, sp_claims *out)
{
	jwt_t *jwt = NULL;
	char sub[24];
	char typ[16];
	int rc = -1;
	long long v;

	memset(out, 0, sizeof *out);
	if (token == NULL || strlen(token) > 4096 || strlen(token) < 16)
		return -1;
	/* the key is always passed, so an unsigned or differently keyed token fails here */
	if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0)
		return -1;
	/* libjwt trusts the header's alg: only HS256 is ours */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	if (copy_grant(jwt, "sub", sub, sizeof sub) ||
	    copy_grant(jwt, "jti", out->jti, sizeof out->jti) ||
	    copy_grant(jwt, "sid", out->sid, sizeof out->sid) ||
	    copy_grant(jwt, "role", out->role, sizeof out->role) ||
	    copy_grant(jwt, "typ", typ, sizeof typ) || strcmp(typ, "access") != 0)
		goto out;
	/* signed with our key is not enough: the token must be ours and meant for this API */
	if (!grant_is(jwt, "iss", jwt_issuer()) || !grant_is(jwt, "aud", jwt_audience()))
		goto out;
	if (sp_parse_ll(sub, 1, (long long)1 << 62, &out->uid) != 0)
		goto out;
	/* libjwt does not check times: exp must be in the future, iat not in the future */
	errno = 0;
	out->exp = jwt_get_grant_int(jwt, "exp");
	if (errno)
		goto out;
	out->iat = jwt_get_grant_int(jwt, "iat");
	if (errno)
		goto out;
	v = jwt_get_grant_int(jwt, "tv");
	if (errno || v < 0)
		goto out;
	out->tv = (long)v;
	if (out->exp <= now || out->iat > now + 60 || out->iat > out->exp)
		goto out;
	rc = 0;
out:
	jwt_free(jwt);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}

void sp_auth_mark_jti_revoked(const char *jti, long long ttl)
{
	char key[SP_KEY_MAX];

	if (ttl <= 0)
		return;
	sp_key_deny_jti(key, sizeof key, jti);
	sp_kv_set(key, "1", 1, (long)ttl, 0);
}

void sp_auth_mark_chain_revoked(const char *sid)
{
	char key[SP_KEY_MAX];

	/* access tokens of the chain live at most access_ttl more seconds */
	sp_key_deny_chain(key, sizeof key, sid);
	sp_kv_set(key, "1", 1, sp_cfg.jwt_access_ttl + 5, 0);
}

void sp_auth_cache_tv(long long uid, long tv, int only_if_absent)
{
	char key[SP_KEY_MAX], val[24];

	sp_key_token_version(key, sizeof key, uid);
	snprintf(val, sizeof val, "%ld", tv);
	sp_kv_set(key, val, strlen(val), sp_cfg.cache_ttl, only_if_absent ? SP_KV_NX : 0);
}

void sp_auth_resync(void)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT jti, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3), expires_at) + 1 "
	                "FROM revoked_access_tokens WHERE expires_at > UTC_TIMESTAMP(3)",
	                "") == 0) {
		for (size_t i = 0; i < res.nrows; i++)
			sp_auth_mark_jti_revoked(sp_res_str(&res, i, 0), sp_res_ll(&res, i, 1, 1));
		sp_res_free(&res);
	}
	if (sp_db_query(&res,
	                "SELECT id FROM refresh_chains WHERE revoked_at > UTC_TIMESTAMP(3) - "
	                "INTERVAL ? SECOND",
	                "l", (long long)sp_cfg.jwt_access_ttl + 5) == 0) {
		for (size_t i = 0; i < res.nrows; i++)
			sp_auth_mark_chain_revoked(sp_res_str(&res, i, 0));
		sp_res_free(&res);
	}
}
