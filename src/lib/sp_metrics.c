/*
 * Metrics: each process counts locally and adds its counts to one Redis
 * hash at most once a second, so /metrics sees every process at no per-request cost.
 */
#include "sp_metrics.h"
#include "sp_kv.h"
#include "sp_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 512
#define SLOTS      1024 /* open addressing, power of two, twice MAX_SERIES */

struct series {
	char *name;
	double pending;
};

static struct series series[MAX_SERIES];
static size_t n_series;
/* name -> index + 1 in series[], so a request's dozen updates cost no scans */
static unsigned short slots[SLOTS];

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h & (SLOTS - 1));
}
static int64_t last_flush_ms;
static int flush_due; /* a count that should not wait for the next second */

static const double buckets[] = {1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500};

/* Adds all pending values to the shared hash atomically (one round trip). */
static sp_kv_script flush_script = {
    "metrics",
    "for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "return 1\n",
    ""};

void sp_metrics_add(const char *name, double v)
{
	size_t h = hash(name);

	while (slots[h]) {
		struct series *x = &series[slots[h] - 1];
		if (strcmp(x->name, name) == 0) {
			x->pending += v;
			return;
		}
		h = (h + 1) & (SLOTS - 1);
	}
	if (n_series == MAX_SERIES)
		return;
	series[n_series].name = sp_xstrdup(name);
	series[n_series].pending = v;
	n_series++;
	slots[h] = (unsigned short)n_series;
}

void sp_metrics_inc(const char *name)
{
	sp_metrics_add(name, 1);
}

void sp_metrics_inc_now(const char *name)
{
	sp_metrics_add(name, 1);
	flush_due = 1;
}

void sp_metrics_request(const char *route, int status, double ms)
{
	char name[256];

	snprintf(name, sizeof name, "sp_http_requests_total{route=\"%s\",status=\"%d\"}", route,
	         status);
	sp_metrics_inc(name);
	for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
		if (ms <= buckets[i]) {
			snprintf(name, sizeof name,
			         "sp_http_request_duration_ms_bucket{route=\"%s\",le=\"%g\"}",
			         route, buckets[i]);
			sp_metrics_inc(name);
		}
	}
	snprintf(name, sizeof name, "sp_http_request_duration_ms_bucket{route=\"%s\",le=\"+Inf\"}",
	         route);
	sp_metrics_inc(name);
	snprintf(name, sizeof name, "sp_http_request_duration_ms_sum{route=\"%s\"}", route);
	sp_metrics_add(name, ms);
	snprintf(name, sizeof name, "sp_http_request_duration_ms_count{route=\"%s\"}", route);
	sp_metrics_inc(name);
}

/* sp_kv_eval passes at most 61 arguments: the series go in batches of this many */
#define FLUSH_BATCH 30

void sp_metrics_flush(int force)
{
	const char *argv[2 * FLUSH_BATCH + 1];
	char vals[FLUSH_BATCH][32];
	size_t sent[FLUSH_BATCH];
	char key[64];
	int64_t now = sp_now_ms();
	redisReply *rep;

	if (!force && !flush_due && now - last_flush_ms < 1000)
		return;
	last_flush_ms = now;
	flush_due = 0;
	sp_kv_key(key, sizeof key, "metrics");
	argv[0] = key;
	for (size_t i = 0; i < n_series;) {
		int argc = 1, n = 0;

		for (; i < n_series && n < FLUSH_BATCH; i++) {
			if (series[i].pending == 0)
				continue;
			snprintf(vals[n], sizeof vals[n], "%.17g", series[i].pending);
			argv[argc++] = series[i].name;
			argv[argc++] = vals[n];
			sent[n++] = i;
		}
		if (n == 0)
			return;
		rep = sp_kv_eval(&flush_script, 1, argc, argv, NULL);
		if (rep == NULL)
			return; /* Redis down: keep the counts and try again later */
		if (rep->type != REDIS_REPLY_ERROR)
			for (int k = 0; k < n; k++)
				series[sent[k]].pending = 0;
		freeReplyObject(rep);
	}
}

static int cmp_names(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;

	return strcmp(x->str, y->str);
}

int sp_metrics_render(char **out)
{
	char key[64];
	redisReply *rep;
	sp_buf b;
	redisReply **names;
	size_t n;

	sp_metrics_flush(1);
	sp_kv_key(key, sizeof key, "metrics");
	rep = sp_kv_cmd("HGETALL %s", key);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		if (rep)
			freeReplyObject(rep);
		return -1;
	}
	n = rep->elements / 2;
	names = sp_xcalloc(n, sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = rep->element[2 * i];
	qsort(names, n, sizeof *names, cmp_names);
	sp_buf_init(&b);
	sp_buf_adds(&b, "# TYPE sp_http_requests_total counter\n"
	                "# TYPE sp_http_request_duration_ms histogram\n"
	                "# TYPE sp_cache_hits_total counter\n"
	                "# TYPE sp_cache_misses_total counter\n"
	                "# TYPE sp_ratelimit_fail_open_total counter\n"
	                "# TYPE sp_stream_db_fallback_total counter\n"
	                "# TYPE sp_bcrypt_hashes_total counter\n");
	for (size_t i = 0; i < n; i++) {
		/* the value follows its name in the HGETALL reply */
		redisReply *val = NULL;
		for (size_t k = 0; k + 1 < rep->elements; k += 2)
			if (rep->element[k] == names[i])
				val = rep->element[k + 1];
		sp_buf_addf(&b, "%s %s\n", names[i]->str, val ? val->str : "0");
	}
	free(names);
	freeReplyObject(rep);
	*out = b.data ? b.data : sp_xstrdup("");
	return 0;
}
