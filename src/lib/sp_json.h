/*
 * JSON values below the HTTP layer: the strict syntax check run before
 * json-c parses a body, and the value helpers shared by every module that
 * builds or reads JSON.
 */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* 0 when s[0..n) is exactly one JSON value (whitespace around it allowed), nesting <= max_depth. */
int sp_json_check(const char *s, size_t n, int max_depth);

/* A string, or JSON null (NULL) for a NULL s. */
json_object *sp_json_str_or_null(const char *s);
/* A time in ms since the epoch as an ISO 8601 string ("2026-01-02T03:04:05.678Z"). */
json_object *sp_json_time(int64_t ms);
/* DATETIME text from MariaDB ("YYYY-MM-DD HH:MM:SS.fff") -> ISO 8601 string or null. */
json_object *sp_json_dbtime(const char *s);
/* A decimal text ("14.99") as a JSON number that prints exactly so; NULL -> null. */
json_object *sp_json_money(const char *s);
/* Compact text of o (no escaped slashes); owned by o. */
const char *sp_json_text(json_object *o);
/*
 * A JSON number in [min, max] into *out: an integer as it is, a double cut
 * toward zero. The range is checked on the double before it is converted
 * (converting an out-of-range double is undefined behaviour), so 1e300, NaN
 * or -1e19 are refused, not wrapped. 0 ok, -1 not a number, -2 out of range.
 */
int sp_json_number_ll(json_object *v, long long min, long long max, long long *out);

#endif
