/*
 * Redis access: one connection per process with connect/read timeouts,
 * dropped and reopened after any error, Lua scripts called by SHA.
 */
#ifndef SP_KV_H
#define SP_KV_H

#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct sp_kv_script {
	const char *name;
	const char *src;
	char sha[41];
} sp_kv_script;

/* Connects if needed (with a short back-off after a failure); 0 when up. */
int sp_kv_connect(void);
int sp_kv_up(void);
/* A command; NULL on any failure (the connection is then dropped). Free with freeReplyObject. */
redisReply *sp_kv_cmd(const char *fmt, ...);
redisReply *sp_kv_argv(int argc, const char **argv, const size_t *lens);
/*
 * EVALSHA of a script with nkeys keys then args (any number); loads it on
 * first use or NOSCRIPT.
 */
redisReply *sp_kv_eval(sp_kv_script *s, int nkeys, int argc, const char **argv, const size_t *lens);
void sp_kv_close(void);
/*
 * While on, failures are not logged and do not start the 1 s reconnect
 * back-off (the caller retries them itself, e.g. the metrics flush of an
 * idle process, and the next request should not wait for that); returns
 * the previous setting.
 */
int sp_kv_quiet(int on);

/* Called after every successful (re)connect, e.g. to replay state missed while down. */
void sp_kv_on_connect(void (*fn)(void));

/* Builds "<prefix><fmt...>" into out. */
void sp_kv_key(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
