/*
 * Validation at the edge: each helper checks one field of a JSON body (or
 * query) and records every failure in the request's errors[] for the 400.
 */
#ifndef SP_VALID_H
#define SP_VALID_H

#include <stddef.h>

#include "sp_http.h"

/* Results of the sp_v_* field helpers. */
#define SP_V_INVALID (-1)
#define SP_V_ABSENT  0
#define SP_V_OK      1
#define SP_V_NULL    2 /* explicit JSON null on an optional field */
/* 1 when a helper's result says the field was given and is good. */
#define SP_V_GIVEN(result) ((result) == SP_V_OK)

/* Pure checks, usable anywhere (and unit-tested). */
int sp_valid_email(const char *s);
int sp_valid_phone(const char *s);
/* A stream session id as the service issues them: 32 lowercase hex characters. */
int sp_valid_session_id(const char *s);
/* NULL when acceptable, else why not. */
const char *sp_password_problem(const char *pw, size_t len);

/* A string of min..max characters (code points), trimmed, copied into out. */
int sp_v_text(sp_req *r, json_object *o, const char *field, int required, long min, long max,
              char *out, size_t outsz);
/* An e-mail address, lower-cased into out (>= 255 bytes). */
int sp_v_email(sp_req *r, json_object *o, const char *field, int required, char *out, size_t outsz);
/* A password meeting the rules; out points into the JSON object (not copied). */
int sp_v_password(sp_req *r, json_object *o, const char *field, int check_rules, const char **out);
int sp_v_phone(sp_req *r, json_object *o, const char *field, char *out, size_t outsz);
int sp_v_int(sp_req *r, json_object *o, const char *field, int required, long long min,
             long long max, long long *out);
int sp_v_bool(sp_req *r, json_object *o, const char *field, int required, int *out);
/* A query parameter integer; absent -> def. */
int sp_v_query_int(sp_req *r, const char *name, long long def, long long min, long long max,
                   long long *out);

/* Text to an enum value (e.g. sp_tier_parse): >= 0, or -1 when s is none of them. */
typedef int (*sp_enum_parse)(const char *s);
/* The index of s in values[0..n), or -1 (to write an sp_enum_parse for a list). */
int sp_enum_index(const char *const *values, size_t n, const char *s);
/* "asc" 0, "desc" 1 (any case), else -1; "true" 1, "false" 0, else -1. */
int sp_parse_order(const char *s);
int sp_parse_bool_word(const char *s);
/* A string naming one of an enum's values; msg says which ("must be one of ..."). */
int sp_v_enum(sp_req *r, json_object *o, const char *field, int required, sp_enum_parse parse,
              const char *msg, int *out);
/* The same for a query parameter; absent leaves *out as it is. */
int sp_v_query_enum(sp_req *r, const char *name, sp_enum_parse parse, const char *msg, int *out);
/* A query parameter of min..max characters; *out points into the request. */
int sp_v_query_text(sp_req *r, const char *name, long min, long max, const char *msg,
                    const char **out);
/* An array of min_n..max_n strings of 1..maxlen characters; *out a clean copy (caller's). */
int sp_v_strings(sp_req *r, json_object *o, const char *field, int required, size_t min_n,
                 size_t max_n, long maxlen, json_object **out);
/* A calendar date "YYYY-MM-DD" (a full ISO timestamp is accepted and cut to its date). */
int sp_v_date(sp_req *r, json_object *o, const char *field, int required, char out[11]);
/* A query parameter date "YYYY-MM-DD" (a real calendar day, nothing after it); absent keeps out. */
int sp_v_query_date(sp_req *r, const char *name, char out[11]);
/* An optional link: a path ("/...") or an http(s) URL of at most 500 characters. */
int sp_v_url(sp_req *r, json_object *o, const char *field, char *out, size_t n);
/* A price from 0 to 100000 with at most two decimals, as "12.34" in out. */
int sp_v_price(sp_req *r, json_object *o, const char *field, int required, char *out, size_t n);
/*
 * A path id. Ids are opaque to clients, so one the service can never have
 * issued (not a positive integer) names nothing: 404 NOT_FOUND with
 * not_found as the message, never a 400 (sp_input_not_found).
 */
int sp_v_path_id(sp_req *r, const char *name, const char *not_found, long long *out);

#endif
