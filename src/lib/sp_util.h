/*
 * Small helpers every module uses: allocation that never returns NULL,
 * a growable byte buffer, time stamps, random ids, hashing and constant-time compare.
 */
#ifndef SP_UTIL_H
#define SP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *sp_xmalloc(size_t n);
void *sp_xcalloc(size_t n, size_t size);
void *sp_xrealloc(void *p, size_t n);
char *sp_xstrdup(const char *s);
char *sp_xstrndup(const char *s, size_t n);
char *sp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable, always NUL-terminated byte buffer. */
typedef struct sp_buf {
	char *data;
	size_t len;
	size_t cap;
} sp_buf;

void sp_buf_init(sp_buf *b);
void sp_buf_free(sp_buf *b);
void sp_buf_reset(sp_buf *b);
void sp_buf_add(sp_buf *b, const void *p, size_t n);
void sp_buf_adds(sp_buf *b, const char *s);
void sp_buf_addf(sp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string (no quotes), escaping as needed. */
void sp_buf_add_json_escaped(sp_buf *b, const char *s, size_t n);

/* Wall clock in milliseconds since the epoch. */
int64_t sp_now_ms(void);
/* Formats ms since epoch as "2025-01-08T10:30:00.000Z" into out (>= 25 bytes). */
void sp_iso8601(int64_t ms, char out[32]);
/* Parses "YYYY-MM-DD HH:MM:SS[.fff]" (MariaDB DATETIME text, UTC) to ms; -1 on error. */
int64_t sp_parse_db_time(const char *s);
/* Formats ms since epoch as a MariaDB DATETIME(3) literal "YYYY-MM-DD HH:MM:SS.fff". */
void sp_db_time(int64_t ms, char out[32]);

/* Fills buf with n cryptographically random bytes; aborts if the kernel cannot. */
void sp_random_bytes(void *buf, size_t n);
/* Writes 2*nbytes lowercase hex characters of fresh randomness plus NUL into out. */
void sp_random_hex(char *out, size_t nbytes);
/*
 * A 16-hex-character id unique within this process and unpredictable across
 * processes (a random per-process seed, then a counter through splitmix64):
 * request ids cost no system call.
 */
void sp_request_id(char out[17]);
/* SHA-256 of data as 64 lowercase hex characters plus NUL. */
void sp_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 raw (32 bytes). */
void sp_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32]);
/* Constant-time equality of two byte strings of possibly different length. */
int sp_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* UTF-8: returns the number of code points, or -1 if s[0..n) is not valid UTF-8. */
long sp_utf8_count(const char *s, size_t n);
/*
 * The length of the longest prefix of s[0..n) that is at most max bytes and
 * ends on a code-point boundary (for valid UTF-8: never inside a character).
 */
size_t sp_utf8_cut(const char *s, size_t n, size_t max);
/*
 * Copies the string src (NULL: "") into out (size outsz > 0) as valid UTF-8: each byte
 * that does not start a valid sequence becomes U+FFFD, and the copy is cut
 * at a code-point boundary to fit. Returns the bytes written (without NUL).
 */
size_t sp_utf8_copy(char *out, size_t outsz, const char *src);

/* mkdir -p with mode 0755; 0 when the directory exists afterwards. */
int sp_mkdirs(const char *path);

/* Parses a base-10 integer in [min, max] from the whole of s; 0 on success. */
int sp_parse_ll(const char *s, long long min, long long max, long long *out);
/*
 * Parses a row id written canonically in s[0..n): decimal digits only, no
 * sign, no leading zero, 1 .. 2^62; 0 on success. "05", "+5", "0" are not ids.
 */
int sp_parse_id(const char *s, size_t n, long long *out);

#endif
