/*
 * Sealed secrets: AES-256-GCM, so a value kept for a later reader (a reset
 * link's token waiting for the mailer) is unreadable and tamper-evident at rest.
 */
#include "sp_seal.h"
#include "sp_config.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define NONCE_LEN 12
#define TAG_LEN   16
#define PREFIX    "v1."

void sp_seal_key(unsigned char key[SP_SEAL_KEY_LEN])
{
	const char *k = sp_conf_str("outbox.seal_key", "");
	char buf[600];

	/* a label per use, so this key never equals the one signing tokens or media URLs */
	if (k && strlen(k) >= 32) {
		sp_hmac_sha256("seal", 4, k, strlen(k), key);
		return;
	}
	snprintf(buf, sizeof buf, "seal|%s", sp_cfg.jwt_secret ? sp_cfg.jwt_secret : "");
	sp_hmac_sha256("seal", 4, buf, strlen(buf), key);
	OPENSSL_cleanse(buf, sizeof buf);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower-case hex of even length into out (len / 2 bytes); -1 on any other character. */
static int from_hex(const char *in, size_t len, unsigned char *out)
{
	if (len % 2)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* One GCM pass: enc 1 seals buf[0..n) in place and writes tag, enc 0 opens and checks it. */
static int gcm(int enc, const unsigned char *key, const unsigned char *nonce, const char *aad,
               unsigned char *buf, size_t n, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len, ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
	     (n == 0 || EVP_CipherUpdate(ctx, buf, &len, buf, (int)n) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
	/* for decryption this is where a wrong tag (tampering, key or aad) is refused */
	ok = ok && EVP_CipherFinal_ex(ctx, buf + n, &len) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

int sp_seal(const unsigned char key[SP_SEAL_KEY_LEN], const char *aad, const void *plain, size_t n,
            char **out)
{
	size_t raw_len = NONCE_LEN + n + TAG_LEN;
	unsigned char *raw;
	char *text;
	int rc = -1;

	*out = NULL;
	if (n > SP_SEAL_MAX)
		return -1;
	raw = sp_xmalloc(raw_len + 16);
	sp_random_bytes(raw, NONCE_LEN);
	memcpy(raw + NONCE_LEN, plain, n);
	if (gcm(1, key, raw, aad, raw + NONCE_LEN, n, raw + NONCE_LEN + n) == 0) {
		text = sp_xmalloc(sizeof PREFIX + 2 * raw_len);
		memcpy(text, PREFIX, sizeof PREFIX - 1);
		to_hex(raw, raw_len, text + sizeof PREFIX - 1);
		*out = text;
		rc = 0;
	}
	OPENSSL_cleanse(raw, raw_len);
	free(raw);
	return rc;
}

int sp_unseal(const unsigned char key[SP_SEAL_KEY_LEN], const char *aad, const char *sealed,
              char **out, size_t *n)
{
	size_t hex_len, raw_len, plain_len;
	unsigned char *raw;
	int rc = -1;

	*out = NULL;
	if (sealed == NULL || strncmp(sealed, PREFIX, sizeof PREFIX - 1) != 0)
		return -1;
	sealed += sizeof PREFIX - 1;
	hex_len = strnlen(sealed, 2 * SP_SEAL_MAX + 1);
	if (hex_len > 2 * SP_SEAL_MAX || hex_len < 2 * (NONCE_LEN + TAG_LEN))
		return -1;
	raw_len = hex_len / 2;
	raw = sp_xmalloc(raw_len + 16);
	if (from_hex(sealed, hex_len, raw) == 0) {
		plain_len = raw_len - NONCE_LEN - TAG_LEN;
		if (gcm(0, key, raw, aad, raw + NONCE_LEN, plain_len,
		        raw + NONCE_LEN + plain_len) == 0) {
			*out = sp_xmalloc(plain_len + 1);
			memcpy(*out, raw + NONCE_LEN, plain_len);
			(*out)[plain_len] = '\0';
			if (n)
				*n = plain_len;
			rc = 0;
		}
	}
	OPENSSL_cleanse(raw, raw_len);
	free(raw);
	return rc;
}
