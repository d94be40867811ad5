/*
 * Route tables: method + pattern ("/content/:id", below /api/v1; "=/metrics"
 * for an absolute path) -> handler, with the
 * common steps each route needs (authentication mode, extra rate limit).
 */
#ifndef SP_ROUTER_H
#define SP_ROUTER_H

#include <stddef.h>

#include "sp_http.h"

enum sp_auth_mode {
	SP_AUTH_NONE,     /* public; a token, if any, is ignored */
	SP_AUTH_OPTIONAL, /* public, but a token given must be valid */
	SP_AUTH_REQUIRED,
	SP_AUTH_ADMIN,
};

/* route flags */
#define SP_RL_AUTH   0x01u /* the tight per-IP limit of register/login/refresh */
#define SP_RL_STREAM 0x02u /* the per-user stream-start limit */
#define SP_RL_SEARCH 0x04u /* the search limit (applied when ?search= is present) */
#define SP_NO_BODY   0x08u /* the route reads no JSON body (one sent is still read, capped) */
#define SP_RAW_BODY  0x10u /* the handler reads the body itself (multipart) */
#define SP_RL_PEEK   0x20u /* monitoring: rate-limit headers shown, nothing counted */

/*
 * Answers the request from r->in (the parsed input) and the caller. Returns
 * 0 when it answered with success, -1 after answering a failure (every
 * sp_fail* returns -1 for this); the skeleton then rolls back a transaction
 * left open.
 */
typedef int (*sp_handler)(sp_req *r);

/*
 * A route's declared input: what it reads of the path, the query and the
 * JSON body, parsed once into one typed struct (in_size bytes, zeroed)
 * before the gate, so the prefetch hook, the gate step and the handler all
 * read r->in and nothing parses twice. The parser records what is wrong
 * with sp_field_error_add (answered 400 VALIDATION_ERROR) or
 * sp_input_not_found (404 NOT_FOUND: a path id the service never issued)
 * and returns 0 when the input is good. Problems are answered after the
 * token and role checks, so every request is counted by the gate first; a
 * request with bad input fetches nothing and runs no gate step.
 */
typedef int (*sp_parse_fn)(sp_req *r, void *in);
/* The last two fields of a route: its parser and the struct it fills, or none. */
#define SP_INPUT(parse, type) parse, sizeof(type)
#define SP_NO_INPUT           NULL, 0

/*
 * Names the cache key (without the prefix) the gate should fetch in its
 * round trip; uid is the caller (0 when anonymous). Reads r->in, which is
 * good. Returns 0 to fetch.
 */
typedef int (*sp_prefetch_fn)(sp_req *r, long long uid, char *key, size_t n);

/*
 * A step the gate script runs in its own round trip, after it has found the
 * request allowed (rate limit, revocation marks, token version): one of the
 * script's step functions (kind), called with the prefetched value, the
 * caller's cached level, then these keys and arguments, from r->in. Its
 * answer (two strings) comes back in r->step_*. The hook returns 0 to run it.
 */
#define SP_STEP_MAX_KEYS 6
#define SP_STEP_MAX_ARGS 9
#define SP_STEP_ARG_MAX  704 /* a watch position with a 128-character device id, a level */
enum sp_step_kind {
	SP_STEP_HEARTBEAT = 1, /* hb (SP_STREAM_HB_LUA) */
	SP_STEP_PROGRESS = 2,  /* wp (SP_HISTORY_WP_LUA) */
};
typedef struct sp_step {
	enum sp_step_kind kind;
	int nkeys, nargs;
	char keys[SP_STEP_MAX_KEYS][96];
	char args[SP_STEP_MAX_ARGS][SP_STEP_ARG_MAX];
} sp_step;
typedef int (*sp_step_fn)(sp_req *r, long long uid, sp_step *s);

typedef struct sp_route {
	const char *method;
	const char *pattern;
	sp_handler handler;
	enum sp_auth_mode auth;
	unsigned flags;
	/* A cache value fetched with the gate's single Redis round trip, or NULL. */
	sp_prefetch_fn prefetch;
	/* A session step run in that same round trip, or NULL. */
	sp_step_fn step;
	/* The declared input (SP_INPUT), or NULL: the handler reads no input. */
	sp_parse_fn parse;
	size_t in_size;
} sp_route;

enum sp_match { SP_MATCH_OK, SP_MATCH_NOT_FOUND, SP_MATCH_BAD_METHOD };

/*
 * Finds the route for r->method and r->api_path and fills r->params. On
 * SP_MATCH_BAD_METHOD, allow receives the comma-separated methods the path has.
 */
enum sp_match sp_route_match(const sp_route *routes, size_t n, sp_req *r, const sp_route **out,
                             char *allow, size_t allowlen);

#endif
