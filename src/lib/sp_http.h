/*
 * The request a handler sees and the response it builds. Requests come from
 * the FastCGI environment; responses leave only through the envelope helpers.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sp_json.h"
#include "sp_util.h"

#define SP_API_BASE    "/api/v1"
#define SP_MAX_PARAMS  8
#define SP_MAX_QUERY   32
#define SP_MAX_HEADERS 32

/* Reads the value of a FastCGI/CGI parameter such as "HTTP_ORIGIN". */
typedef const char *(*sp_param_fn)(void *ctx, const char *name);
/* Reads up to n bytes of request body; returns bytes read, 0 at end, -1 on error. */
typedef long (*sp_read_fn)(void *ctx, char *buf, size_t n);
/* Writes n bytes of response. */
typedef void (*sp_write_fn)(void *ctx, const char *buf, size_t n);

typedef struct sp_field_error {
	char *field;
	char *message;
} sp_field_error;

typedef struct sp_kv_pair {
	char *name;
	char *value;
} sp_kv_pair;

typedef struct sp_req {
	void *io;
	sp_param_fn param;
	sp_read_fn read;
	sp_write_fn write;

	char method[16];
	char *path;           /* decoded path without query, e.g. "/api/v1/auth/me" */
	char *raw_path;       /* the path as sent (still percent-encoded) */
	const char *api_path; /* raw path below SP_API_BASE, e.g. "/auth/me" ("" if outside) */
	sp_kv_pair query[SP_MAX_QUERY];
	size_t n_query;
	const char *content_type, *authorization, *origin, *content_length;
	char client_ip[64];
	char client_key[64]; /* what per-client rate limits count: see sp_client_key */
	char request_id[17];
	int64_t start_ms;
	int is_https;

	char *param_names[SP_MAX_PARAMS];
	char *param_values[SP_MAX_PARAMS];
	int n_params;
	const struct sp_route *route;

	char *body;
	size_t body_len;
	json_object *json; /* parsed JSON object body, or NULL */
	/* what sp_req_load_* found wrong with the body, answered by sp_req_body_result */
	int body_status; /* 0 fine; else 400, 413 or 415 */
	const char *body_code, *body_message, *body_field;
	/* the route's parsed input (sp_route.parse) and what is wrong with it */
	void *in;
	void (*in_release)(void *in); /* set by a parser whose struct owns memory */
	int in_status; /* 0 good; 400 field errors recorded; 404 an id never issued */
	/* the parser's field errors, kept apart until the 400 so no earlier answer shows them */
	sp_field_error *in_errors;
	size_t n_in_errors;
	const char *in_message; /* the 404's message */

	/* who is calling (set by the gate) */
	int authenticated;
	long long user_id;
	char user_id_str[24];
	char role[16];
	char jti[40];
	char sid[40];
	long tv;
	long long token_exp;
	char *prefetched;     /* value of the route's prefetch cache key, if any */
	int prefetched_local; /* ... and it is this process's own copy (sp_cache) */
	char *level_cached;   /* the caller's cached level (sp_tier), if any */
	int step_done;        /* the route's gate step ran: its answer follows */
	char step_status[16];
	char step_text[64];   /* its second answer (the step's owner says what it holds) */
	long long step_value; /* ... as a number */

	/* rate limit outcome for the headers */
	int rl_set;
	long rl_limit, rl_remaining;
	long long rl_reset;

	/* response */
	int status;
	sp_buf headers;
	sp_buf body_out;
	sp_field_error *errors;
	size_t n_errors;
	int responded;
	const char *error_code;
	const char *content_type_out; /* NULL: JSON */
} sp_req;

void sp_req_init(sp_req *r, void *io, sp_param_fn param, sp_read_fn read, sp_write_fn write);
void sp_req_free(sp_req *r);
/* Fills method, path, query, headers and client IP from the parameters. */
int sp_req_parse(sp_req *r);
/*
 * The rate-limit key of a client address, in canonical form: an IPv4
 * address (or IPv4-mapped IPv6) as itself, an IPv6 address as its /64
 * ("2001:db8:1:2::/64"), since one subscriber holds a whole /64; anything
 * unparsable as given. out needs 64 bytes.
 */
void sp_client_key(const char *ip, char *out, size_t n);
const char *sp_req_header(sp_req *r, const char *cgi_name);
/* Percent-decodes s[0..n) (plus_space: '+' is ' '); NULL on a bad escape or %00. */
char *sp_url_decode(const char *s, size_t n, int plus_space);
const char *sp_query(sp_req *r, const char *name);
const char *sp_param(sp_req *r, const char *name);

/*
 * Reads the body with a hard cap (Content-Length checked first). Nothing is
 * answered here: a problem (413, or 400 for a short or unparsable length)
 * is kept in the request for sp_req_body_result, so the body can be read
 * before the gate and every request is still counted first. 0 ok, -1 not.
 */
int sp_req_load_body(sp_req *r, size_t cap);
/*
 * sp_req_load_body, then the body as a JSON object into r->json (an empty
 * body is an empty object); a problem (415, 400 MALFORMED_JSON, 400 not an
 * object) is kept the same way and r->json stays NULL. 0 ok, -1 not.
 */
int sp_req_load_json(sp_req *r, size_t cap);
/* Answers the problem a load kept and returns -1; 0 when there is none. */
int sp_req_body_result(sp_req *r);
/* Records that the input names something the service never issued: answered 404 NOT_FOUND. */
void sp_input_not_found(sp_req *r, const char *message);

void sp_add_header(sp_req *r, const char *name, const char *value);

/*
 * Envelope helpers. They take ownership of the json objects passed in. Every
 * failure helper returns -1, so a handler fails in one statement:
 * `return sp_fail(r, 404, "NOT_FOUND", "No such plan");`.
 */
void sp_ok(sp_req *r, int status, const char *message, json_object *data);
/* Like sp_ok; extra's members are added at the top level (count, pagination). */
void sp_ok_ex(sp_req *r, int status, const char *message, json_object *data, json_object *extra);
/*
 * A page of a list: data, then count (items on this page) and pagination
 * {page, limit, total, pages} at the top level, as the Conventions ask.
 */
void sp_ok_page(sp_req *r, json_object *data, size_t count, long long page, long long limit,
                long long total);
/* A whole response body given as already-serialised JSON (a cache hit). */
void sp_reply_raw(sp_req *r, int status, const char *body_json);
/* Like sp_ok with data given as already-serialised JSON (a cache hit). */
void sp_ok_raw(sp_req *r, int status, const char *data_json);
int sp_fail(sp_req *r, int status, const char *code, const char *message);
int sp_fail_ex(sp_req *r, int status, const char *code, const char *message, json_object *extra);
/* 503 SERVICE_UNAVAILABLE with Retry-After (handlers use sp_unavailable, which also rolls back). */
int sp_fail_unavailable(sp_req *r);
void sp_field_error_add(sp_req *r, const char *field, const char *message);
/* Replies 400 VALIDATION_ERROR with every collected field error; returns -1. */
int sp_fail_validation(sp_req *r);
/* A response without a body (204). */
void sp_no_content(sp_req *r, int status);

/* Writes status line, headers and body through r->write. */
void sp_send(sp_req *r);
const char *sp_status_text(int status);

#endif
