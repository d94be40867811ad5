/*
 * Redis access: one connection per process with connect/read timeouts,
 * dropped and reopened after any error, Lua scripts called by SHA.
 * hiredis cannot reuse a context after an error, so every failure frees it.
 * The only file that knows hiredis: everything else uses the typed calls.
 */
#include "sp_kv.h"
#include "sp_config.h"
#include "sp_keys.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

static redisContext *ctx;
static int64_t retry_after_ms;
/* hooks run after a (re)connect: a few modules each register one */
#define MAX_HOOKS 8
static void (*hooks[MAX_HOOKS])(void);
static int n_hooks;
static int in_hook;
static int quiet;
static int connected_before; /* a later connect is a reconnect, counted */

int sp_kv_quiet(int on)
{
	int was = quiet;

	quiet = on;
	return was;
}

void sp_kv_on_connect(void (*fn)(void))
{
	for (int i = 0; i < n_hooks; i++)
		if (hooks[i] == fn)
			return;
	if (n_hooks == MAX_HOOKS) {
		sp_error("redis: more than %d reconnect hooks", MAX_HOOKS);
		abort();
	}
	hooks[n_hooks++] = fn;
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
	/* counted locally: the next metrics flush takes it to Redis over this connection */
	if (connected_before)
		sp_metrics_inc_now("sp_redis_reconnects_total");
	connected_before = 1;
	/* scripts are reloaded lazily on this connection */
	/* a hook's own commands must not run the hooks again */
	if (!in_hook) {
		in_hook = 1;
		for (int i = 0; i < n_hooks; i++)
			hooks[i]();
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

static redisReply *sp_kv_cmd(const char *fmt, ...)
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

static redisReply *sp_kv_argv(int argc, const char **argv, const size_t *lens)
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

static redisReply *sp_kv_eval(sp_kv_script *s, int nkeys, int argc, const char **argv,
                              const size_t *lens)
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

const char *sp_kv_prefix(void)
{
	return sp_cfg.redis_prefix ? sp_cfg.redis_prefix : "sp:";
}

/* ---------------------------------------------------------------- typed calls */

/*
 * An sp_kv_result is a hiredis reply seen through the opaque type, so that
 * no caller depends on hiredis; the accessors read it back here.
 */
static const redisReply *reply_of(const sp_kv_result *res)
{
	return (const redisReply *)res;
}

/* name with the prefix into out[SP_KEY_MAX]; -1 (logged) when it does not fit */
static int full_key(const char *name, char *out)
{
	if (snprintf(out, SP_KEY_MAX, "%s%s", sp_kv_prefix(), name) >= SP_KEY_MAX) {
		sp_error("redis key too long: %.40s...", name);
		return -1;
	}
	return 0;
}

/* Runs argv with argv[1] a name to prefix; the raw reply or NULL. */
static redisReply *named_cmd(int argc, const char **argv, const size_t *lens)
{
	char key[SP_KEY_MAX];
	size_t kl[8];
	const char *av[8];

	if (argc > 8 || full_key(argv[1], key) != 0)
		return NULL;
	for (int i = 0; i < argc; i++) {
		av[i] = i == 1 ? key : argv[i];
		kl[i] = i == 1 ? strlen(key) : lens ? lens[i] : strlen(argv[i]);
	}
	return sp_kv_argv(argc, av, kl);
}

int sp_kv_set(const char *name, const char *val, size_t len, long ttl_s, int flags)
{
	const char *argv[6] = {"SET", name, val};
	size_t lens[6] = {3, 0, len};
	char ttl[24];
	int argc = 3, rc;
	redisReply *rep;

	if (ttl_s > 0) {
		snprintf(ttl, sizeof ttl, "%ld", ttl_s);
		argv[argc] = "EX";
		lens[argc++] = 2;
		argv[argc] = ttl;
		lens[argc++] = strlen(ttl);
	}
	if (flags & SP_KV_NX) {
		argv[argc] = "NX";
		lens[argc++] = 2;
	}
	rep = named_cmd(argc, argv, lens);
	if (rep == NULL)
		return -1;
	rc = rep->type == REDIS_REPLY_STATUS ? 1 : rep->type == REDIS_REPLY_NIL ? 0 : -1;
	freeReplyObject(rep);
	return rc;
}

/* at most this many names per DEL: callers drop a few related keys at once */
#define DEL_MAX 8

int sp_kv_del(const char *name, ...)
{
	char keys[DEL_MAX][SP_KEY_MAX];
	const char *argv[DEL_MAX + 1] = {"DEL"};
	int argc = 1, rc;
	redisReply *rep;
	va_list ap;

	va_start(ap, name);
	for (const char *n = name; n; n = va_arg(ap, const char *)) {
		if (argc > DEL_MAX || full_key(n, keys[argc - 1]) != 0) {
			va_end(ap);
			return -1;
		}
		argv[argc] = keys[argc - 1];
		argc++;
	}
	va_end(ap);
	rep = sp_kv_argv(argc, argv, NULL);
	if (rep == NULL)
		return -1;
	rc = rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
	freeReplyObject(rep);
	return rc;
}

int sp_kv_ping(void)
{
	const char *argv[1] = {"PING"};
	redisReply *rep = sp_kv_argv(1, argv, NULL);
	int rc = rep && rep->type == REDIS_REPLY_STATUS ? 0 : -1;

	if (rep)
		freeReplyObject(rep);
	return rc;
}

sp_kv_result *sp_kv_hgetall(const char *name)
{
	const char *argv[2] = {"HGETALL", name};

	return (sp_kv_result *)named_cmd(2, argv, NULL);
}

/* a script call's keys and arguments live on the stack up to these counts */
#define STACK_KEYS 16

sp_kv_result *sp_kv_run(sp_kv_script *s, int nkeys, const char *const *keys, int nargs,
                        const char *const *args)
{
	char stack_keys[STACK_KEYS][SP_KEY_MAX];
	char(*full)[SP_KEY_MAX] = stack_keys;
	const char *stack_argv[STACK_ARGS];
	const char **argv = stack_argv;
	redisReply *rep = NULL;

	if (nkeys < 0 || nargs < 0)
		return NULL;
	if (nkeys > STACK_KEYS)
		full = sp_xcalloc((size_t)nkeys, sizeof *full);
	if ((size_t)nkeys + (size_t)nargs > STACK_ARGS)
		argv = sp_xcalloc((size_t)nkeys + (size_t)nargs, sizeof *argv);
	for (int i = 0; i < nkeys; i++) {
		if (full_key(keys[i], full[i]) != 0)
			goto out;
		argv[i] = full[i];
	}
	for (int i = 0; i < nargs; i++)
		argv[nkeys + i] = args[i];
	rep = sp_kv_eval(s, nkeys, nkeys + nargs, argv, NULL);
out:
	if (full != stack_keys)
		free(full);
	if (argv != stack_argv)
		free(argv);
	return (sp_kv_result *)rep;
}

int sp_kv_failed(const sp_kv_result *res)
{
	return res == NULL || reply_of(res)->type == REDIS_REPLY_ERROR;
}

long long sp_kv_int(const sp_kv_result *res, long long dflt)
{
	return res && reply_of(res)->type == REDIS_REPLY_INTEGER ? reply_of(res)->integer : dflt;
}

size_t sp_kv_count(const sp_kv_result *res)
{
	return res && reply_of(res)->type == REDIS_REPLY_ARRAY ? reply_of(res)->elements : 0;
}

/* element i of an array answer, NULL when there is none */
static const redisReply *element(const sp_kv_result *res, size_t i)
{
	return i < sp_kv_count(res) ? reply_of(res)->element[i] : NULL;
}

long long sp_kv_int_at(const sp_kv_result *res, size_t i, long long dflt)
{
	const redisReply *e = element(res, i);

	return e && e->type == REDIS_REPLY_INTEGER ? e->integer : dflt;
}

const char *sp_kv_str_at(const sp_kv_result *res, size_t i, size_t *len)
{
	const redisReply *e = element(res, i);

	if (e == NULL || e->type != REDIS_REPLY_STRING || e->str == NULL)
		return NULL;
	if (len)
		*len = e->len;
	return e->str;
}

void sp_kv_free(sp_kv_result *res)
{
	if (res)
		freeReplyObject((redisReply *)res);
}

/*
 * Hand-built answers: the same structures hiredis makes, allocated with the
 * allocator freeReplyObject frees with; a NULL element reads as nil.
 */
sp_kv_result *sp_kv_array_new(size_t n)
{
	redisReply *a = sp_xcalloc(1, sizeof *a);

	a->type = REDIS_REPLY_ARRAY;
	a->elements = n;
	a->element = n ? sp_xcalloc(n, sizeof *a->element) : NULL;
	return (sp_kv_result *)a;
}

static redisReply *set_element(sp_kv_result *res, size_t i, int type)
{
	redisReply *a = (redisReply *)res, *e;

	if (i >= sp_kv_count(res))
		return NULL;
	freeReplyObject(a->element[i]);
	e = a->element[i] = sp_xcalloc(1, sizeof *e);
	e->type = type;
	return e;
}

void sp_kv_array_set_int(sp_kv_result *res, size_t i, long long v)
{
	redisReply *e = set_element(res, i, REDIS_REPLY_INTEGER);

	if (e)
		e->integer = v;
}

void sp_kv_array_set_str(sp_kv_result *res, size_t i, const char *s)
{
	redisReply *e = set_element(res, i, REDIS_REPLY_STRING);

	if (e) {
		e->str = sp_xstrdup(s);
		e->len = strlen(s);
	}
}
