/*
 * Small helpers every module uses: allocation that never returns NULL,
 * a growable byte buffer, time stamps, random ids, hashing and constant-time compare.
 */
#include "sp_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static void oom(void)
{
	fputs("{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n", stderr);
	abort();
}

void *sp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *sp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *sp_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom();
	return q;
}

char *sp_xstrdup(const char *s)
{
	return sp_xstrndup(s, strlen(s));
}

char *sp_xstrndup(const char *s, size_t n)
{
	char *p = sp_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *sp_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

void sp_buf_init(sp_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void sp_buf_free(sp_buf *b)
{
	free(b->data);
	sp_buf_init(b);
}

void sp_buf_reset(sp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void buf_grow(sp_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = sp_xrealloc(b->data, cap);
	b->cap = cap;
}

void sp_buf_add(sp_buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sp_buf_adds(sp_buf *b, const char *s)
{
	sp_buf_add(b, s, strlen(s));
}

void sp_buf_addf(sp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sp_buf_add_json_escaped(sp_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			sp_buf_add(b, "\\\"", 2);
			break;
		case '\\':
			sp_buf_add(b, "\\\\", 2);
			break;
		case '\n':
			sp_buf_add(b, "\\n", 2);
			break;
		case '\r':
			sp_buf_add(b, "\\r", 2);
			break;
		case '\t':
			sp_buf_add(b, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				sp_buf_add(b, e, 6);
			} else {
				sp_buf_add(b, &s[i], 1);
			}
		}
	}
}

int64_t sp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_time(int64_t ms, const char *fmt, const char *suffix, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	unsigned frac = (unsigned)(ms % 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 32, fmt, &tm);
	snprintf(out + n, 32 - n, ".%03u%s", frac % 1000u, suffix);
}

void sp_iso8601(int64_t ms, char out[32])
{
	format_time(ms, "%Y-%m-%dT%H:%M:%S", "Z", out);
}

void sp_db_time(int64_t ms, char out[32])
{
	format_time(ms, "%Y-%m-%d %H:%M:%S", "", out);
}

int64_t sp_parse_db_time(const char *s)
{
	struct tm tm;
	int frac = 0, fd = 0;
	const char *p;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (fd < 3) {
				frac = frac * 10 + (*p - '0');
				fd++;
			}
			p++;
		}
		while (fd < 3) {
			frac *= 10;
			fd++;
		}
	}
	if (*p != '\0')
		return -1;
	return (int64_t)timegm(&tm) * 1000 + frac;
}

void sp_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fputs("{\"level\":\"fatal\",\"msg\":\"getrandom failed\"}\n", stderr);
			abort();
		}
		p += r;
		n -= (size_t)r;
	}
}

void sp_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];

	if (nbytes > sizeof raw)
		nbytes = sizeof raw;
	sp_random_bytes(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

void sp_request_id(char out[17])
{
	static uint64_t seed, counter;
	static const char hex[] = "0123456789abcdef";
	uint64_t z;

	if (seed == 0)
		sp_random_bytes(&seed, sizeof seed);
	z = seed + 0x9e3779b97f4a7c15ULL * ++counter;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	for (int i = 15; i >= 0; i--) {
		out[i] = hex[z & 15];
		z >>= 4;
	}
	out[16] = '\0';
}

void sp_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void sp_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen);
}

int sp_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = (unsigned char)(alen != blen);
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	else if ((c & 0xE0) == 0xC0) {
		need = 1;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		need = 2;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		need = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || (p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	/* reject overlong forms, surrogates and values past U+10FFFF */
	if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}

long sp_utf8_count(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_seq(p + i, n - i);
		if (k == 0)
			return -1;
		i += k;
		count++;
	}
	return count;
}

size_t sp_utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n <= max)
		return n;
	/* step back over continuation bytes to the start of the character at max */
	while (max > 0 && (p[max] & 0xC0) == 0x80)
		max--;
	return max;
}

size_t sp_utf8_copy(char *out, size_t outsz, const char *src)
{
	const unsigned char *p;
	size_t n, i = 0, j = 0;

	if (src == NULL)
		src = "";
	p = (const unsigned char *)src;
	n = strlen(src);

	while (i < n) {
		size_t k = utf8_seq(p + i, n - i);
		const char *piece = k ? src + i : "\xef\xbf\xbd"; /* U+FFFD */
		size_t len = k ? k : 3;

		if (j + len >= outsz)
			break;
		memcpy(out + j, piece, len);
		j += len;
		i += k ? k : 1;
	}
	out[j] = '\0';
	return j;
}

int sp_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (p == s && (*p == '-' || *p == '+'))))
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int sp_parse_id(const char *s, size_t n, long long *out)
{
	const long long max = (long long)1 << 62;
	long long v = 0;

	if (s == NULL || n == 0 || n > 19 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int sp_mkdirs(const char *path)
{
	char tmp[1024];

	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}
