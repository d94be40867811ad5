/*
 * Validation at the edge: each helper checks one field of a JSON body (or
 * query) and records every failure in the request's errors[] for the 400.
 */
#include "sp_valid.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int sp_valid_email(const char *s)
{
	const char *at, *dot;
	size_t n = strlen(s);

	if (n < 3 || n > 254)
		return 0;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL || at - s > 64)
		return 0;
	for (const char *p = s; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c)))
			return 0;
	}
	if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
		return 0;
	/* domain: dot-separated labels of letters, digits and inner hyphens, a dot required */
	dot = strrchr(at + 1, '.');
	if (dot == NULL || dot[1] == '\0' || strlen(dot + 1) < 2)
		return 0;
	const char *label = at + 1;
	for (const char *p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t ll = (size_t)(p - label);
			if (ll == 0 || ll > 63 || label[0] == '-' || p[-1] == '-')
				return 0;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!(isalnum((unsigned char)*p) || *p == '-')) {
			return 0;
		}
	}
	return 1;
}

int sp_valid_session_id(const char *s)
{
	if (s == NULL || strlen(s) != 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int sp_valid_phone(const char *s)
{
	size_t digits = 0;
	const char *p = s;

	if (*p == '+')
		p++;
	if (*p < '1' || *p > '9')
		return 0;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		digits++;
	}
	return digits >= 7 && digits <= 15;
}

const char *sp_password_problem(const char *pw, size_t len)
{
	int up = 0, lo = 0, dig = 0;
	long chars = sp_utf8_count(pw, len);

	if (chars < 0 || strlen(pw) != len)
		return "must be valid text";
	if (chars < 8)
		return "must be at least 8 characters";
	if (len > 72)
		return "must be at most 72 bytes";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];
		up |= isupper(c) != 0;
		lo |= islower(c) != 0;
		dig |= isdigit(c) != 0;
	}
	if (!up || !lo || !dig)
		return "must contain an upper-case letter, a lower-case letter and a digit";
	return NULL;
}

/* Fetches a string field; records type errors. Returns SP_V_* and sets *s, *len. */
static int get_string(sp_req *r, json_object *o, const char *field, int required, const char **s,
                      size_t *len)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, field, &v)) {
		if (required) {
			sp_field_error_add(r, field, "is required");
			return SP_V_INVALID;
		}
		return SP_V_ABSENT;
	}
	if (v == NULL) {
		if (required) {
			sp_field_error_add(r, field, "is required");
			return SP_V_INVALID;
		}
		return SP_V_NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		sp_field_error_add(r, field, "must be a string");
		return SP_V_INVALID;
	}
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (strlen(*s) != *len || sp_utf8_count(*s, *len) < 0) {
		sp_field_error_add(r, field, "must be valid UTF-8 text without NUL characters");
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

int sp_v_text(sp_req *r, json_object *o, const char *field, int required, long min, long max,
              char *out, size_t outsz)
{
	const char *s;
	size_t len;
	int rc = get_string(r, o, field, required, &s, &len);
	char msg[96];
	long chars;

	if (rc != SP_V_OK)
		return rc;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	chars = sp_utf8_count(s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) {
			sp_field_error_add(r, field, "must not contain control characters");
			return SP_V_INVALID;
		}
	}
	if (chars < min || chars > max || len >= outsz) {
		if (chars < min && min == 1 && required)
			snprintf(msg, sizeof msg, "is required");
		else
			snprintf(msg, sizeof msg, "must be %ld to %ld characters", min, max);
		sp_field_error_add(r, field, msg);
		return SP_V_INVALID;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return SP_V_OK;
}

int sp_v_email(sp_req *r, json_object *o, const char *field, int required, char *out, size_t outsz)
{
	const char *s;
	size_t len;
	int rc = get_string(r, o, field, required, &s, &len);

	if (rc != SP_V_OK)
		return rc;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= outsz || len > 254) {
		sp_field_error_add(r, field,
		                   len == 0 ? "is required" : "must be a valid e-mail address");
		return SP_V_INVALID;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	if (!sp_valid_email(out)) {
		sp_field_error_add(r, field, "must be a valid e-mail address");
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

int sp_v_password(sp_req *r, json_object *o, const char *field, int check_rules, const char **out)
{
	const char *s;
	size_t len;
	int rc = get_string(r, o, field, 1, &s, &len);
	const char *why;

	if (rc != SP_V_OK)
		return rc;
	if (len == 0) {
		sp_field_error_add(r, field, "is required");
		return SP_V_INVALID;
	}
	if (check_rules && (why = sp_password_problem(s, len)) != NULL) {
		sp_field_error_add(r, field, why);
		return SP_V_INVALID;
	}
	if (!check_rules && len > 1024) {
		sp_field_error_add(r, field, "is too long");
		return SP_V_INVALID;
	}
	*out = s;
	return SP_V_OK;
}

int sp_v_phone(sp_req *r, json_object *o, const char *field, char *out, size_t outsz)
{
	const char *s;
	size_t len;
	int rc = get_string(r, o, field, 0, &s, &len);
	size_t j = 0;

	if (rc != SP_V_OK)
		return rc;
	/* spaces, dashes, dots and parentheses are accepted as separators and dropped */
	for (size_t i = 0; i < len; i++) {
		if (strchr(" -.()", s[i]))
			continue;
		if (j + 1 >= outsz || j >= 20) {
			j = 0;
			break;
		}
		out[j++] = s[i];
	}
	out[j] = '\0';
	if (len == 0 || len > 32 || !sp_valid_phone(out)) {
		sp_field_error_add(r, field, "must be a phone number like +14155552671");
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

int sp_v_int(sp_req *r, json_object *o, const char *field, int required, long long min,
             long long max, long long *out)
{
	json_object *v;
	char msg[96];

	if (o == NULL || !json_object_object_get_ex(o, field, &v) || v == NULL) {
		if (required) {
			sp_field_error_add(r, field, "is required");
			return SP_V_INVALID;
		}
		return SP_V_ABSENT;
	}
	if (!json_object_is_type(v, json_type_int)) {
		sp_field_error_add(r, field, "must be an integer");
		return SP_V_INVALID;
	}
	errno = 0;
	long long x = json_object_get_int64(v);
	if (x < min || x > max) {
		snprintf(msg, sizeof msg, "must be from %lld to %lld", min, max);
		sp_field_error_add(r, field, msg);
		return SP_V_INVALID;
	}
	*out = x;
	return SP_V_OK;
}

int sp_v_bool(sp_req *r, json_object *o, const char *field, int required, int *out)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, field, &v) || v == NULL) {
		if (required) {
			sp_field_error_add(r, field, "is required");
			return SP_V_INVALID;
		}
		return SP_V_ABSENT;
	}
	if (!json_object_is_type(v, json_type_boolean)) {
		sp_field_error_add(r, field, "must be true or false");
		return SP_V_INVALID;
	}
	*out = json_object_get_boolean(v);
	return SP_V_OK;
}

int sp_v_query_int(sp_req *r, const char *name, long long def, long long min, long long max,
                   long long *out)
{
	const char *v = sp_query(r, name);
	char msg[96];

	if (v == NULL) {
		*out = def;
		return SP_V_ABSENT;
	}
	if (sp_parse_ll(v, min, max, out) != 0) {
		snprintf(msg, sizeof msg, "must be an integer from %lld to %lld", min, max);
		sp_field_error_add(r, name, msg);
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

/* ---------------------------------------------------------------- shared field kinds */

/* The field's value, or NULL after recording "is required" (required) or nothing (absent). */
static json_object *field(sp_req *r, json_object *o, const char *name, int required)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, name, "is required");
		return NULL;
	}
	return v;
}

static int absent(int required)
{
	return required ? SP_V_INVALID : SP_V_ABSENT;
}

int sp_v_enum(sp_req *r, json_object *o, const char *name, int required, sp_enum_parse parse,
              const char *msg, int *out)
{
	json_object *v = field(r, o, name, required);

	if (v == NULL)
		return absent(required);
	if (!json_object_is_type(v, json_type_string) ||
	    (*out = parse(json_object_get_string(v))) < 0) {
		sp_field_error_add(r, name, msg);
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

int sp_v_query_enum(sp_req *r, const char *name, sp_enum_parse parse, const char *msg, int *out)
{
	const char *v = sp_query(r, name);
	int x;

	if (v == NULL)
		return SP_V_ABSENT;
	if ((x = parse(v)) < 0) {
		sp_field_error_add(r, name, msg);
		return SP_V_INVALID;
	}
	*out = x;
	return SP_V_OK;
}

int sp_enum_index(const char *const *values, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(values[i], s) == 0)
			return (int)i;
	return -1;
}

int sp_parse_order(const char *s)
{
	return strcasecmp(s, "asc") == 0 ? 0 : strcasecmp(s, "desc") == 0 ? 1 : -1;
}

int sp_parse_bool_word(const char *s)
{
	return strcmp(s, "true") == 0 ? 1 : strcmp(s, "false") == 0 ? 0 : -1;
}

int sp_v_query_text(sp_req *r, const char *name, long min, long max, const char *msg,
                    const char **out)
{
	const char *v = sp_query(r, name);
	long n;

	if (v == NULL)
		return SP_V_ABSENT;
	n = sp_utf8_count(v, strlen(v));
	if (n < min || n > max) {
		sp_field_error_add(r, name, msg);
		return SP_V_INVALID;
	}
	*out = v;
	return SP_V_OK;
}

/* A clean copy of one array element: a string of 1..maxlen characters, no NUL inside. */
static const char *string_item(json_object *e, long maxlen)
{
	const char *s =
	    e && json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
	size_t sl = s ? (size_t)json_object_get_string_len(e) : 0;
	long chars = s ? sp_utf8_count(s, sl) : -1;

	return s && chars >= 1 && chars <= maxlen && strlen(s) == sl ? s : NULL;
}

int sp_v_strings(sp_req *r, json_object *o, const char *name, int required, size_t min_n,
                 size_t max_n, long maxlen, json_object **out)
{
	json_object *v = field(r, o, name, required), *clean;
	size_t n;
	char msg[96];

	if (v == NULL)
		return absent(required);
	snprintf(msg, sizeof msg, "must be an array of %zu to %zu strings of 1 to %ld characters",
	         min_n, max_n, maxlen);
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) < min_n ||
	    n > max_n) {
		sp_field_error_add(r, name, msg);
		return SP_V_INVALID;
	}
	clean = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		const char *s = string_item(json_object_array_get_idx(v, i), maxlen);
		if (s == NULL) {
			sp_field_error_add(r, name, msg);
			json_object_put(clean);
			return SP_V_INVALID;
		}
		json_object_array_add(clean, json_object_new_string(s));
	}
	*out = clean;
	return SP_V_OK;
}

/* 1 when buf starts with a real calendar date "YYYY-MM-DD" (then "T..." may follow). */
static int calendar_date(const char *buf)
{
	struct tm tm, back;
	time_t t;
	const char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(buf, "%Y-%m-%d", &tm);
	if (end == NULL || (*end != '\0' && *end != 'T') || strlen(buf) < 10 || buf[4] != '-' ||
	    tm.tm_year < -100 || tm.tm_year > 300)
		return 0;
	back = tm;
	t = timegm(&back); /* normalises its argument: 2025-02-30 becomes March 2 */
	gmtime_r(&t, &back);
	return back.tm_mday == tm.tm_mday && back.tm_mon == tm.tm_mon && back.tm_year == tm.tm_year;
}

int sp_v_date(sp_req *r, json_object *o, const char *name, int required, char out[11])
{
	char buf[64];
	int rc = sp_v_text(r, o, name, required, 10, 30, buf, sizeof buf);

	if (rc != SP_V_OK)
		return rc;
	if (!calendar_date(buf)) {
		sp_field_error_add(r, name, "must be a date like 2025-01-08");
		return SP_V_INVALID;
	}
	snprintf(out, 11, "%.10s", buf);
	return SP_V_OK;
}

int sp_v_query_date(sp_req *r, const char *name, char out[11])
{
	const char *v = sp_query(r, name);

	if (v == NULL)
		return SP_V_ABSENT;
	if (strlen(v) != 10 || !calendar_date(v)) {
		sp_field_error_add(r, name, "must be a date like 2025-01-08");
		return SP_V_INVALID;
	}
	memcpy(out, v, 11);
	return SP_V_OK;
}

int sp_v_url(sp_req *r, json_object *o, const char *name, char *out, size_t n)
{
	int rc = sp_v_text(r, o, name, 0, 1, 500, out, n);

	if (rc != SP_V_OK)
		return rc;
	if (out[0] != '/' && strncmp(out, "https://", 8) != 0 && strncmp(out, "http://", 7) != 0) {
		sp_field_error_add(r, name, "must be a path (/...) or an http(s) URL");
		return SP_V_INVALID;
	}
	return SP_V_OK;
}

int sp_v_price(sp_req *r, json_object *o, const char *name, int required, char *out, size_t n)
{
	json_object *v = field(r, o, name, required);
	double d;

	if (v == NULL)
		return absent(required);
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
		sp_field_error_add(r, name, "must be a number");
		return SP_V_INVALID;
	}
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0 || d > 100000 || fabs(d * 100 - round(d * 100)) > 1e-6) {
		sp_field_error_add(r, name, "must be from 0 to 100000 with at most two decimals");
		return SP_V_INVALID;
	}
	snprintf(out, n, "%.2f", d);
	return SP_V_OK;
}

int sp_v_path_id(sp_req *r, const char *name, const char *not_found, long long *out)
{
	if (sp_parse_ll(sp_param(r, name), 1, (long long)1 << 62, out) != 0) {
		sp_input_not_found(r, not_found);
		return SP_V_INVALID;
	}
	return SP_V_OK;
}
