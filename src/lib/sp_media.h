/*
 * Signed media tokens: HMAC-SHA256 over session, content, highest rendition
 * and expiry. They ride in the media URL's path, so the relative URIs of a
 * playlist keep them, and the web server's authorizer checks every request.
 */
#ifndef SP_MEDIA_H
#define SP_MEDIA_H

#include <stddef.h>

typedef struct sp_media_claims {
	char sid[33];      /* a stream session id (32 hex), or "dl<id>" naming a download licence */
	long long licence; /* the licence id of a "dl<id>" token, else 0 (filled by the checks) */
	long long content_id;
	int max_quality; /* 0 480p .. 3 4K */
	long long exp;   /* Unix seconds */
} sp_media_claims;

/* "<sid>.<content>.<maxq>.<exp>.<64 hex of HMAC>"; out needs 160 bytes. */
/* The sid of a token bound to download licence id ("dl<id>"); out needs 24 bytes. */
void sp_media_licence_sid(long long id, char *out, size_t n);
void sp_media_token(const sp_media_claims *c, char *out, size_t n);
enum sp_media_check {
	SP_MEDIA_VALID,   /* well formed, correctly signed, unexpired */
	SP_MEDIA_EXPIRED, /* well formed and correctly signed, past its exp (claims filled) */
	SP_MEDIA_BAD,     /* malformed or forged */
};
/*
 * Checks the token (signature compared in constant time) and fills out
 * for a signed one, expired or not: the authorizer lets an expired token
 * through only while its session is live (a player kept alive by
 * heartbeats outlives stream.token_ttl).
 */
enum sp_media_check sp_media_check(const char *token, size_t len, long long now,
                                   sp_media_claims *out);
/* 0 when the token is well formed, correctly signed (constant time) and unexpired. */
int sp_media_verify(const char *token, size_t len, long long now, sp_media_claims *out);

#endif
