/*
 * JSON values below the HTTP layer: a strict RFC 8259 syntax check run
 * before json-c parses a body (json-c is lenient: single quotes, NaN,
 * Infinity, raw control characters, and the contract calls anything that is
 * not JSON a 400 MALFORMED_JSON), and the value helpers every module that
 * builds or reads JSON shares.
 */
#include "sp_json.h"
#include "sp_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cur {
	const unsigned char *p, *end;
	int depth, max_depth;
};

static void ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int lit(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

static int hex4(struct cur *c)
{
	for (int i = 0; i < 4; i++, c->p++) {
		unsigned char h = c->p < c->end ? *c->p : 0;
		if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
			return -1;
	}
	return 0;
}

/* Strings: no raw control characters, only the defined escapes. UTF-8 is checked later. */
static int string(struct cur *c)
{
	c->p++; /* opening quote */
	while (c->p < c->end) {
		unsigned char ch = *c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			c->p++;
			if (c->p >= c->end)
				return -1;
			ch = *c->p;
			if (ch == 'u') {
				c->p++;
				if (hex4(c) != 0)
					return -1;
				continue;
			}
			if (!strchr("\"\\/bfnrt", ch) || ch == '\0')
				return -1;
		}
		c->p++;
	}
	return -1;
}

static int digits(struct cur *c)
{
	const unsigned char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s ? 0 : -1;
}

static int number(struct cur *c)
{
	if (*c->p == '-')
		c->p++;
	if (c->p >= c->end)
		return -1;
	if (*c->p == '0')
		c->p++;
	else if (digits(c) != 0)
		return -1;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (digits(c) != 0)
			return -1;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (digits(c) != 0)
			return -1;
	}
	return 0;
}

static int value(struct cur *c);

static int container(struct cur *c, unsigned char close)
{
	if (++c->depth > c->max_depth)
		return -1;
	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return 0;
	}
	for (;;) {
		ws(c);
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"' || string(c) != 0)
				return -1;
			ws(c);
			if (c->p >= c->end || *c->p != ':')
				return -1;
			c->p++;
			ws(c);
		}
		if (value(c) != 0)
			return -1;
		ws(c);
		if (c->p >= c->end)
			return -1;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p != close)
			return -1;
		c->p++;
		c->depth--;
		return 0;
	}
}

static int value(struct cur *c)
{
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '{':
		return container(c, '}');
	case '[':
		return container(c, ']');
	case '"':
		return string(c);
	case 't':
		return lit(c, "true");
	case 'f':
		return lit(c, "false");
	case 'n':
		return lit(c, "null");
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return number(c);
		return -1;
	}
}

int sp_json_check(const char *s, size_t n, int max_depth)
{
	struct cur c = {(const unsigned char *)s, (const unsigned char *)s + n, 0, max_depth};

	ws(&c);
	if (value(&c) != 0)
		return -1;
	ws(&c);
	return c.p == c.end ? 0 : -1;
}

/* ---------------------------------------------------------------- values */

json_object *sp_json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *sp_json_time(int64_t ms)
{
	char iso[32];

	sp_iso8601(ms, iso);
	return json_object_new_string(iso);
}

json_object *sp_json_dbtime(const char *s)
{
	int64_t ms = sp_parse_db_time(s);

	return ms < 0 ? NULL : sp_json_time(ms);
}

json_object *sp_json_money(const char *s)
{
	if (s == NULL)
		return NULL;
	return json_object_new_double_s(strtod(s, NULL), s);
}

const char *sp_json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                             JSON_C_TO_STRING_NOSLASHESCAPE);
}

int sp_json_number_ll(json_object *v, long long min, long long max, long long *out)
{
	double d;

	if (v == NULL)
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		long long x = json_object_get_int64(v);
		if (x < min || x > max)
			return -2;
		*out = x;
		return 0;
	}
	if (!json_object_is_type(v, json_type_double))
		return -1;
	d = trunc(json_object_get_double(v));
	/* (double)min and (double)max may round outward: compare strictly inside them */
	if (!isfinite(d) || d < (double)min || d > (double)max || d >= 9223372036854775807.0 ||
	    d < -9223372036854775807.0)
		return -2;
	*out = (long long)d;
	if (*out < min || *out > max)
		return -2;
	return 0;
}
