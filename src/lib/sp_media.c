/*
 * Signed media tokens: HMAC-SHA256 over session, content, highest rendition
 * and expiry. They ride in the media URL's path, so the relative URIs of a
 * playlist keep them, and the web server's authorizer checks every request.
 */
#include "sp_media.h"
#include "sp_config.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* media.secret, or a key derived from jwt.secret so one secret suffices. */
static void media_key(unsigned char key[32])
{
	const char *k = sp_conf_str("media.secret", "");
	char buf[600];

	if (k && strlen(k) >= 32) {
		sp_hmac_sha256("media", 5, k, strlen(k), key);
		return;
	}
	snprintf(buf, sizeof buf, "media|%s", sp_cfg.jwt_secret ? sp_cfg.jwt_secret : "");
	sp_hmac_sha256("media", 5, buf, strlen(buf), key);
}

static void sign(const char *payload, size_t n, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char key[32], mac[32];

	media_key(key);
	sp_hmac_sha256(key, sizeof key, payload, n, mac);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[64] = '\0';
}

void sp_media_token(const sp_media_claims *c, char *out, size_t n)
{
	char payload[96], hex[65];
	int len = snprintf(payload, sizeof payload, "%s.%lld.%d.%lld", c->sid, c->content_id,
	                   c->max_quality, c->exp);

	sign(payload, (size_t)len, hex);
	snprintf(out, n, "%s.%s", payload, hex);
}

void sp_media_licence_sid(long long id, char *out, size_t n)
{
	snprintf(out, n, "dl%lld", id);
}

/*
 * What a token's sid names: a stream session (32 lowercase hex; *licence
 * 0) or a download licence ("dl" and a canonical positive id), else -1.
 * The two shapes cannot be confused: 'l' is not a hex digit.
 */
static int sid_kind(const char *sid, long long *licence)
{
	*licence = 0;
	if (strlen(sid) == 32 && strspn(sid, "0123456789abcdef") == 32)
		return 0;
	if (strncmp(sid, "dl", 2) != 0 || sid[2] < '1' || sid[2] > '9' ||
	    strspn(sid + 2, "0123456789") != strlen(sid + 2) || strlen(sid + 2) > 18)
		return -1;
	*licence = atoll(sid + 2);
	return 0;
}

enum sp_media_check sp_media_check(const char *token, size_t len, long long now,
                                   sp_media_claims *out)
{
	char buf[192], hex[65];
	const char *dot;
	size_t plen;
	int q;
	long long cid, exp, licence;
	char sid[33];
	int used = 0;

	memset(out, 0, sizeof *out);
	if (len < 70 || len >= sizeof buf)
		return SP_MEDIA_BAD;
	memcpy(buf, token, len);
	buf[len] = '\0';
	dot = strrchr(buf, '.');
	if (dot == NULL || strlen(dot + 1) != 64)
		return SP_MEDIA_BAD;
	plen = (size_t)(dot - buf);
	if (sscanf(buf, "%32[0-9a-z].%lld.%d.%lld%n", sid, &cid, &q, &exp, &used) != 4 ||
	    (size_t)used != plen || sid_kind(sid, &licence) != 0 || q < 0 || q > 3 || cid <= 0)
		return SP_MEDIA_BAD;
	sign(buf, plen, hex);
	if (!sp_ct_equal(hex, 64, dot + 1, 64))
		return SP_MEDIA_BAD;
	snprintf(out->sid, sizeof out->sid, "%s", sid);
	out->licence = licence;
	out->content_id = cid;
	out->max_quality = q;
	out->exp = exp;
	return exp <= now ? SP_MEDIA_EXPIRED : SP_MEDIA_VALID;
}

int sp_media_verify(const char *token, size_t len, long long now, sp_media_claims *out)
{
	if (sp_media_check(token, len, now, out) == SP_MEDIA_VALID)
		return 0;
	memset(out, 0, sizeof *out);
	return -1;
}
