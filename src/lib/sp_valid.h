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

/* Pure checks, usable anywhere (and unit-tested). */
int sp_valid_email(const char *s);
int sp_valid_phone(const char *s);
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

#endif
