/*
 * Redis access: one connection per process with connect/read timeouts,
 * dropped and reopened after any error, Lua scripts called by SHA.
 * hiredis cannot reuse a context after an error, so every failure frees it.
 */
#include "sp_kv.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static redisContext *ctx;
static int64_t retry_after_ms;
static void (*connect_hook)(void);
static int in_hook;
static int quiet;

int sp_kv_quiet(int on)
{
	int was = quiet;

	quiet = on;
	return was;
}

void sp_kv_on_connect(void (*fn)(void))
{
	connect_hook = fn;
}

void sp_kv_close(void)
{
	if (ctx)
		redisFree(ctx);
	ctx = NULL;
}

static void fail(const char *what)
{
	if (!quiet)
		sp_warn("redis %s failed: %s", what,
		        ctx && ctx->errstr[0] ? ctx->errstr : "no reply");
	sp_kv_close();
	/* a quiet caller retries on its own schedule: its failure delays no request */
	if (!quiet)
		retry_after_ms = sp_now_ms() + 1000;
}

int sp_kv_connect(void)
{
	struct timeval tv;
	int64_t now;

	if (ctx)
		return 0;
	now = sp_now_ms();
	if (now < retry_after_ms)
		return -1;
	tv.tv_sec = sp_cfg.redis_timeout_ms / 1000;
	tv.tv_usec = (sp_cfg.redis_timeout_ms % 1000) * 1000;
	if (sp_cfg.redis_socket && *sp_cfg.redis_socket)
		ctx = redisConnectUnixWithTimeout(sp_cfg.redis_socket, tv);
	else
		ctx = redisConnectWithTimeout(sp_cfg.redis_host, sp_cfg.redis_port, tv);
	if (ctx == NULL || ctx->err) {
		fail("connect");
		return -1;
	}
	redisSetTimeout(ctx, tv);
	/* scripts are reloaded lazily on this connection */
	if (connect_hook && !in_hook) {
		in_hook = 1;
		connect_hook();
		in_hook = 0;
	}
	return ctx ? 0 : -1;
}

int sp_kv_up(void)
{
	return sp_kv_connect() == 0;
}

/*
 * A connection that worked before may have been closed under us (a Redis
 * restart): the first command then fails at once with EOF or a broken pipe.
 * That is retried once on a fresh connection; a timeout is not, since the
 * command may have run.
 */
static int stale_connection(void)
{
	return ctx && (ctx->err == REDIS_ERR_EOF ||
	               (ctx->err == REDIS_ERR_IO && strstr(ctx->errstr, "timed out") == NULL));
}

static int reconnect_now(void)
{
	sp_kv_close();
	retry_after_ms = 0;
	return sp_kv_connect();
}

redisReply *sp_kv_cmd(const char *fmt, ...)
{
	va_list ap, again;
	redisReply *rep;

	if (sp_kv_connect() != 0)
		return NULL;
	va_start(ap, fmt);
	va_copy(again, ap);
	rep = redisvCommand(ctx, fmt, ap);
	if (rep == NULL && stale_connection() && reconnect_now() == 0)
		rep = redisvCommand(ctx, fmt, again);
	va_end(again);
	va_end(ap);
	if (rep == NULL)
		fail("command");
	return rep;
}

redisReply *sp_kv_argv(int argc, const char **argv, const size_t *lens)
{
	redisReply *rep;

	if (sp_kv_connect() != 0)
		return NULL;
	rep = redisCommandArgv(ctx, argc, argv, lens);
	if (rep == NULL && stale_connection() && reconnect_now() == 0)
		rep = redisCommandArgv(ctx, argc, argv, lens);
	if (rep == NULL)
		fail("command");
	return rep;
}

static int load_script(sp_kv_script *s)
{
	redisReply *rep = sp_kv_cmd("SCRIPT LOAD %s", s->src);

	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		if (!quiet)
			sp_error("redis script %s did not load: %s", s->name,
			         rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
		freeReplyObject(rep);
		return -1;
	}
	memcpy(s->sha, rep->str, 40);
	s->sha[40] = '\0';
	freeReplyObject(rep);
	return 0;
}

/*
 * Any number of arguments: up to STACK_ARGS they live on the stack, beyond
 * that the vector is allocated (a metrics flush sends hundreds).
 */
#define STACK_ARGS 64

redisReply *sp_kv_eval(sp_kv_script *s, int nkeys, int argc, const char **argv, const size_t *lens)
{
	const char *av_stack[STACK_ARGS];
	size_t al_stack[STACK_ARGS];
	const char **av = av_stack;
	size_t *al = al_stack;
	char nk[16];
	redisReply *rep = NULL;

	if (argc < 0 || nkeys < 0 || nkeys > argc)
		return NULL;
	if (sp_kv_connect() != 0)
		return NULL;
	if ((size_t)argc + 3 > STACK_ARGS) {
		av = sp_xcalloc((size_t)argc + 3, sizeof *av);
		al = sp_xcalloc((size_t)argc + 3, sizeof *al);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (s->sha[0] == '\0' && load_script(s) != 0)
			goto out;
		snprintf(nk, sizeof nk, "%d", nkeys);
		av[0] = "EVALSHA";
		al[0] = 7;
		av[1] = s->sha;
		al[1] = 40;
		av[2] = nk;
		al[2] = strlen(nk);
		for (int i = 0; i < argc; i++) {
			av[3 + i] = argv[i];
			al[3 + i] = lens ? lens[i] : strlen(argv[i]);
		}
		rep = sp_kv_argv(argc + 3, av, al);
		if (rep == NULL)
			goto out;
		if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			s->sha[0] = '\0';
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR && !quiet)
			sp_error("redis script %s failed: %s", s->name, rep->str);
		goto out;
	}
out:
	if (av != av_stack) {
		free(av);
		free(al);
	}
	return rep;
}

void sp_kv_key(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(out, outsz, "%s", sp_cfg.redis_prefix ? sp_cfg.redis_prefix : "sp:");

	if (n < 0 || (size_t)n >= outsz)
		return;
	va_start(ap, fmt);
	vsnprintf(out + n, outsz - (size_t)n, fmt, ap);
	va_end(ap);
}
