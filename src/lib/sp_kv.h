/*
 * Redis access: one connection per process with connect/read timeouts,
 * dropped and reopened after any error, Lua scripts called by SHA.
 * Callers name keys without the deployment's prefix (sp_keys.h): sp_kv
 * adds redis.prefix itself, and answers come back as typed values.
 */
#ifndef SP_KV_H
#define SP_KV_H

#include <stddef.h>

#include "sp_keys.h" /* the names sp_kv takes */

typedef struct sp_kv_script {
	const char *name;
	const char *src;
	char sha[41];
} sp_kv_script;

/*
 * An answer held for the caller: an integer, a string, nil, an error or an
 * array of those (a script's answer). Read it with the accessors below and
 * free it with sp_kv_free; NULL stands for "no answer" everywhere.
 */
typedef struct sp_kv_result sp_kv_result;

/* Connects if needed (with a short back-off after a failure); 0 when up. */
int sp_kv_connect(void);
int sp_kv_up(void);
void sp_kv_close(void);
/*
 * While on, failures are not logged and do not start the 1 s reconnect
 * back-off (the caller retries them itself, e.g. the metrics flush of an
 * idle process, and the next request should not wait for that); returns
 * the previous setting.
 */
int sp_kv_quiet(int on);

/*
 * Adds fn to the hooks run, in the order registered, after every
 * successful (re)connect, e.g. to replay state missed while Redis was
 * away. Registering the same fn again does nothing.
 */
void sp_kv_on_connect(void (*fn)(void));

/* ---------------------------------------------------------------- typed calls */

#define SP_KV_NX 1 /* sp_kv_set: only when the key does not exist yet */

/*
 * SET name val (len bytes, binary safe) with a TTL in seconds (none when
 * ttl_s <= 0). 1 stored, 0 not stored (SP_KV_NX and the key exists),
 * -1 Redis unreachable or refusing.
 */
int sp_kv_set(const char *name, const char *val, size_t len, long ttl_s, int flags);
/* DEL of one or more names, the list ended by NULL; how many existed, -1 on failure. */
int sp_kv_del(const char *name, ...) __attribute__((sentinel));
/* 0 when Redis answers PING. */
int sp_kv_ping(void);
/* HGETALL name: an array of field, value, field, value...; NULL on failure. */
sp_kv_result *sp_kv_hgetall(const char *name);
/*
 * EVALSHA of s with nkeys key names (prefixed here) and nargs string
 * arguments; the script is loaded on first use or after NOSCRIPT. NULL when
 * Redis did not answer; an error answer is logged (unless quiet) and
 * returned, see sp_kv_failed.
 */
sp_kv_result *sp_kv_run(sp_kv_script *s, int nkeys, const char *const *keys, int nargs,
                        const char *const *args);

/* 1 when res is no answer or an error answer. */
int sp_kv_failed(const sp_kv_result *res);
/* The answer itself as an integer (dflt when it is not one). */
long long sp_kv_int(const sp_kv_result *res, long long dflt);
/* Elements of an array answer; 0 for anything else. */
size_t sp_kv_count(const sp_kv_result *res);
/* Element i when it is an integer, else dflt (missing, nil, a string...). */
long long sp_kv_int_at(const sp_kv_result *res, size_t i, long long dflt);
/*
 * Element i when it is a string (NUL-terminated, valid until sp_kv_free;
 * *len its length when len is not NULL), else NULL.
 */
const char *sp_kv_str_at(const sp_kv_result *res, size_t i, size_t *len);
void sp_kv_free(sp_kv_result *res);

/*
 * Answers built by hand, so that code reading a script's answer can be
 * tested without a server: an array of n nils, whose elements are then set.
 */
sp_kv_result *sp_kv_array_new(size_t n);
void sp_kv_array_set_int(sp_kv_result *res, size_t i, long long v);
void sp_kv_array_set_str(sp_kv_result *res, size_t i, const char *s);

/* The deployment's key prefix (redis.prefix, "sp:" by default). */
const char *sp_kv_prefix(void);

#endif
