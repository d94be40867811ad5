/*
 * The access-token signing keys: a ring in MariaDB (jwt_keys) that every
 * process on every host caches, re-reads every jwt.keyring_refresh_seconds
 * and on a key id it does not know, so a rotation needs no restart.
 */
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_util.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_MAX 16
/* an unknown kid re-reads the ring at most this often, so forged ids cost little */
#define MISS_RELOAD_MS 1000

struct ring_key {
	char kid[SP_KID_MAX];
	char key[65];      /* the HS256 key: hex of the HMAC derivation */
	int64_t retire_ms; /* 0: not scheduled */
};

static struct ring_key ring[RING_MAX];
static size_t ring_n;    /* 0: no ring, jwt.secret signs as kid "0" */
static int64_t tried_ms; /* last attempt, successful or not */
static char config_kid[] = "0";

/*
 * A ring key is HMAC-SHA256(jwt.secret, "jwt-key|" kid "|" salt): the table
 * holds only the salt, so the database alone signs nothing, and every host
 * derives the same key from the secret it already has.
 */
static void derive(const char *kid, const char *salt, char out[65])
{
	unsigned char mac[32];
	char *msg = sp_xasprintf("jwt-key|%s|%s", kid, salt);
	const char *secret = sp_cfg.jwt_secret ? sp_cfg.jwt_secret : "";

	sp_hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	free(msg);
}

/* 1 when fresh holds other keys than the ring (retirement times move with every read). */
static int ring_changed(const struct ring_key *fresh, size_t n)
{
	if (n != ring_n)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(fresh[i].kid, ring[i].kid) != 0 ||
		    strcmp(fresh[i].key, ring[i].key) != 0)
			return 1;
	return 0;
}

/* Reads the keys not yet retired, the signing key first. 0 ok, -1 MariaDB unavailable. */
static int ring_read(int64_t now_ms)
{
	struct ring_key fresh[RING_MAX];
	size_t n = 0;
	sp_res res;

	tried_ms = now_ms;
	if (sp_db_query(&res,
	                "SELECT kid, COALESCE(salt, ''), COALESCE(TIMESTAMPDIFF(MICROSECOND, "
	                "UTC_TIMESTAMP(3), retire_at) DIV 1000, -1) FROM jwt_keys WHERE retire_at "
	                "IS NULL OR retire_at > UTC_TIMESTAMP(3) ORDER BY retire_at IS NULL DESC, "
	                "created_at DESC, kid LIMIT ?",
	                "l", (long long)RING_MAX) != 0)
		return -1;
	memset(fresh, 0, sizeof fresh);
	for (size_t i = 0; i < res.nrows && n < RING_MAX; i++) {
		const char *kid = sp_res_str(&res, i, 0), *salt = sp_res_str(&res, i, 1);
		long long left = sp_res_ll(&res, i, 2, -1);

		if (kid == NULL || strlen(kid) >= SP_KID_MAX)
			continue;
		snprintf(fresh[n].kid, sizeof fresh[n].kid, "%s", kid);
		if (salt == NULL || salt[0] == '\0')
			fresh[n].key[0] = '\0'; /* kid "0": jwt.secret itself */
		else
			derive(kid, salt, fresh[n].key);
		fresh[n].retire_ms = left >= 0 ? now_ms + left : 0;
		n++;
	}
	sp_res_free(&res);
	/* a changed ring must not keep answering from tokens verified under the old one */
	if (ring_changed(fresh, n))
		sp_jwt_cache_clear();
	memcpy(ring, fresh, sizeof ring);
	ring_n = n;
	explicit_bzero(fresh, sizeof fresh);
	return 0;
}

/* Re-reads the ring when it is older than jwt.keyring_refresh_seconds. */
static void ring_refresh(int64_t now_ms)
{
	long every = sp_cfg.jwt_keyring_refresh > 0 ? sp_cfg.jwt_keyring_refresh : 30;

	if (tried_ms == 0 || now_ms - tried_ms >= every * 1000)
		(void)ring_read(now_ms);
}

static const char *key_text(const struct ring_key *k)
{
	return k->key[0] ? k->key : (sp_cfg.jwt_secret ? sp_cfg.jwt_secret : "");
}

int sp_jwt_issue_current(const sp_claims *c, char **out, char kid[SP_KID_MAX])
{
	int64_t now = sp_now_ms();

	ring_refresh(now);
	if (ring_n == 0) {
		snprintf(kid, SP_KID_MAX, "%s", config_kid);
		return sp_jwt_issue_kid(c, config_kid, sp_cfg.jwt_secret ? sp_cfg.jwt_secret : "",
		                        out);
	}
	snprintf(kid, SP_KID_MAX, "%s", ring[0].kid);
	return sp_jwt_issue_kid(c, ring[0].kid, key_text(&ring[0]), out);
}

/* The key of kid now, or NULL: a retired key verifies nothing. */
static const char *ring_lookup(const char *kid, int64_t now_ms)
{
	if (ring_n == 0)
		return strcmp(kid, config_kid) == 0 && sp_cfg.jwt_secret ? sp_cfg.jwt_secret : NULL;
	for (size_t i = 0; i < ring_n; i++) {
		if (strcmp(ring[i].kid, kid) != 0)
			continue;
		if (ring[i].retire_ms != 0 && ring[i].retire_ms <= now_ms)
			return NULL;
		return key_text(&ring[i]);
	}
	return NULL;
}

/* base64url without padding into out (NUL-terminated); -1 when malformed or too long. */
static int b64url_decode(const char *s, size_t n, char *out, size_t outsz)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int v = ch >= 'A' && ch <= 'Z'   ? ch - 'A'
		        : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
		        : ch >= '0' && ch <= '9' ? ch - '0' + 52
		        : ch == '-'              ? 62
		        : ch == '_'              ? 63
		                                 : -1;
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return 0;
}

int sp_jwt_token_kid(const char *token, char kid[SP_KID_MAX])
{
	const char *dot = strchr(token, '.');
	char head[512];
	json_object *h, *k;
	int rc = -1;

	if (dot == NULL || b64url_decode(token, (size_t)(dot - token), head, sizeof head) != 0)
		return -1;
	h = json_tokener_parse(head);
	if (h == NULL || !json_object_is_type(h, json_type_object))
		goto out;
	if (!json_object_object_get_ex(h, "kid", &k)) {
		snprintf(kid, SP_KID_MAX, "%s", config_kid); /* issued before key ids */
		rc = 0;
	} else if (json_object_is_type(k, json_type_string) && json_object_get_string_len(k) > 0 &&
	           json_object_get_string_len(k) < SP_KID_MAX) {
		snprintf(kid, SP_KID_MAX, "%s", json_object_get_string(k));
		rc = 0;
	}
out:
	json_object_put(h);
	return rc;
}

int sp_jwt_verify_current(const char *token, long long now, sp_claims *out)
{
	char kid[SP_KID_MAX];
	int64_t now_ms = sp_now_ms();
	const char *key;

	memset(out, 0, sizeof *out);
	if (token == NULL || strlen(token) > 4096 || sp_jwt_token_kid(token, kid) != 0)
		return -1;
	ring_refresh(now_ms);
	key = ring_lookup(kid, now_ms);
	if (key == NULL && now_ms - tried_ms >= MISS_RELOAD_MS) {
		(void)ring_read(now_ms); /* perhaps a rotation this process has not seen yet */
		key = ring_lookup(kid, now_ms);
	}
	if (key == NULL)
		return -1;
	return sp_jwt_verify(token, key, now, out);
}

/* ---------------------------------------------------------------- rotation */

/*
 * Adds a new signing key and schedules every key still signing to retire
 * after retire_s seconds (the longest an access token it signed can live,
 * plus the time every process takes to notice); drops the keys already
 * past retirement. One transaction, the ring locked, so two rotations never
 * interleave. With no ring yet, jwt.secret joins it as kid "0" so its
 * tokens keep working until they expire.
 */
int sp_jwt_keyring_rotate(long long retire_s, char kid[SP_KID_MAX])
{
	char salt[65];
	sp_res res;
	long long n;

	sp_random_hex(kid, 8);
	sp_random_hex(salt, 32);
	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_query(&res,
	                "SELECT COUNT(*) FROM jwt_keys WHERE retire_at IS NULL OR retire_at "
	                "> UTC_TIMESTAMP(3) FOR UPDATE",
	                "") != 0)
		goto fail;
	n = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (sp_db_exec("DELETE FROM jwt_keys WHERE retire_at <= UTC_TIMESTAMP(3)", "") < 0 ||
	    (n == 0 && sp_db_exec("INSERT INTO jwt_keys (kid, salt, retire_at) VALUES ('0', NULL, "
	                          "UTC_TIMESTAMP(3) + INTERVAL ? SECOND)",
	                          "l", retire_s) != 1) ||
	    sp_db_exec("UPDATE jwt_keys SET retire_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE "
	               "retire_at IS NULL",
	               "l", retire_s) < 0 ||
	    sp_db_exec("INSERT INTO jwt_keys (kid, salt) VALUES (?, ?)", "ss", kid, salt) != 1 ||
	    sp_db_commit() != 0)
		goto fail;
	explicit_bzero(salt, sizeof salt);
	return 0;
fail:
	sp_db_rollback();
	explicit_bzero(salt, sizeof salt);
	return -1;
}

long long sp_jwt_keyring_prune(void)
{
	return sp_db_exec("DELETE FROM jwt_keys WHERE retire_at <= UTC_TIMESTAMP(3)", "");
}
