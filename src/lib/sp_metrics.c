/*
 * Metrics: each process counts locally and adds its counts to one Redis
 * hash in numbered batches, so /metrics sees every process exactly, at no per-request cost.
 */
#include "sp_metrics.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * At most this many distinct series per process, so a flood of odd routes
 * cannot grow memory without bound; the last slot is kept for the count of
 * updates refused once the table is full.
 */
#define MAX_SERIES  2048
#define SLOTS       4096 /* open addressing, power of two, twice MAX_SERIES */
#define DROPPED     "sp_metrics_series_dropped_total"
#define CHUNK       200  /* series per script call: bounded, whatever is pending */
#define FLUSH_EVERY 1000 /* ms between flushes while requests keep coming */

struct series {
	char *name;
	double pending; /* counted, not yet in a batch */
	double sending; /* in the batch on its way (see flush) */
};

static struct series series[MAX_SERIES];
static size_t n_series;
/* name -> index + 1 in series[], so a request's dozen updates cost no scans */
static unsigned short slots[SLOTS];

static int64_t last_flush_ms;
static int flush_due; /* a count that should not wait for the next second */
static size_t n_pending;

/* the batch on its way: its number and its series, resent unchanged until Redis answers */
static char proc_id[17];
static unsigned long long seq;
static size_t batch[CHUNK];
static size_t n_batch;

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h & (SLOTS - 1));
}

/* Upper bounds in seconds, increasing; +Inf follows. */
static const double buckets[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

/*
 * Applies one batch at most once. KEYS: the metrics hash, this process's
 * batch mark. ARGV: the batch number, then name, value pairs. A batch whose
 * number is not above the mark was applied already (its reply was lost) and
 * is skipped; the mark is set before the counts so that even a batch failing
 * half-way is never applied twice.
 */
static sp_kv_script flush_script = {
    "metrics",
    "local seq = tonumber(ARGV[1])\n"
    "local last = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "if seq <= last then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)\n"
    "for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "return 1\n",
    ""};

static struct series *find(const char *name, int create)
{
	size_t h = hash(name);

	while (slots[h]) {
		struct series *x = &series[slots[h] - 1];
		if (strcmp(x->name, name) == 0)
			return x;
		h = (h + 1) & (SLOTS - 1);
	}
	if (!create || n_series >= MAX_SERIES - (strcmp(name, DROPPED) != 0))
		return NULL;
	series[n_series].name = sp_xstrdup(name);
	series[n_series].pending = 0;
	series[n_series].sending = 0;
	n_series++;
	slots[h] = (unsigned short)n_series;
	return &series[n_series - 1];
}

void sp_metrics_add(const char *name, double v)
{
	struct series *x = find(name, 1);
	int was;

	if (x == NULL)
		x = find(DROPPED, 1), v = 1;
	was = x->pending != 0;
	x->pending += v;
	if (!was && x->pending != 0)
		n_pending++;
	else if (was && x->pending == 0)
		n_pending--;
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

void sp_metrics_cache_lookup(const char *cache, int hit)
{
	char name[128];

	snprintf(name, sizeof name, "sp_cache_%s_total{cache=\"%s\"}", hit ? "hits" : "misses",
	         cache);
	sp_metrics_inc(name);
}

void sp_metrics_request(const char *route, int status, double ms)
{
	char name[320];
	double s = ms / 1000;

	snprintf(name, sizeof name, "sp_http_requests_total{route=\"%s\",status=\"%d\"}", route,
	         status);
	sp_metrics_inc(name);
	for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
		if (s <= buckets[i]) {
			snprintf(name, sizeof name,
			         "sp_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"}",
			         route, buckets[i]);
			sp_metrics_inc(name);
		}
	}
	snprintf(name, sizeof name,
	         "sp_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}", route);
	sp_metrics_inc(name);
	snprintf(name, sizeof name, "sp_http_request_duration_seconds_sum{route=\"%s\"}", route);
	sp_metrics_add(name, s);
	snprintf(name, sizeof name, "sp_http_request_duration_seconds_count{route=\"%s\"}", route);
	sp_metrics_inc(name);
}

int sp_metrics_pending(void)
{
	return n_pending > 0 || n_batch > 0;
}

long sp_metrics_due_in_ms(void)
{
	int64_t left;

	if (!sp_metrics_pending())
		return -1;
	if (flush_due)
		return 0;
	left = last_flush_ms + FLUSH_EVERY - sp_now_ms();
	return left < 0 ? 0 : left > FLUSH_EVERY ? FLUSH_EVERY : (long)left;
}

/* Moves up to CHUNK pending series into a new numbered batch; 0 when none was pending. */
static size_t next_batch(void)
{
	n_batch = 0;
	for (size_t i = 0; i < n_series && n_batch < CHUNK; i++) {
		if (series[i].pending == 0)
			continue;
		series[i].sending = series[i].pending;
		series[i].pending = 0;
		n_pending--;
		batch[n_batch++] = i;
	}
	if (n_batch)
		seq++;
	return n_batch;
}

/* Sends the batch on its way; 0 once Redis has it (applied now or before), -1 to retry later. */
static int send_batch(void)
{
	const char *keys[2], *args[1 + 2 * CHUNK];
	char vals[CHUNK][32], num[24], mark[SP_KEY_MAX];
	int nargs = 0;
	sp_kv_result *res;

	sp_key_metrics_batch(mark, sizeof mark, proc_id);
	keys[0] = SP_KEY_METRICS;
	keys[1] = mark;
	snprintf(num, sizeof num, "%llu", seq);
	args[nargs++] = num;
	for (size_t k = 0; k < n_batch; k++) {
		snprintf(vals[k], sizeof vals[k], "%.17g", series[batch[k]].sending);
		args[nargs++] = series[batch[k]].name;
		args[nargs++] = vals[k];
	}
	res = sp_kv_run(&flush_script, 2, keys, nargs, args);
	/*
	 * No answer (Redis down, the reply lost) or an error (e.g. Redis out of
	 * memory refusing the script): the same batch goes again; if the script
	 * got as far as the mark, the retry is skipped.
	 */
	if (sp_kv_failed(res)) {
		sp_kv_free(res);
		return -1;
	}
	sp_kv_free(res);
	for (size_t k = 0; k < n_batch; k++)
		series[batch[k]].sending = 0;
	n_batch = 0;
	return 0;
}

void sp_metrics_flush(int force)
{
	int64_t now = sp_now_ms();
	int was;

	if (!sp_metrics_pending())
		return;
	if (!force && !flush_due && now - last_flush_ms < FLUSH_EVERY)
		return;
	last_flush_ms = now;
	flush_due = 0;
	if (proc_id[0] == '\0')
		sp_random_hex(proc_id, 8);
	/* a flush runs again every second until it gets through: no log line per attempt */
	was = sp_kv_quiet(1);
	while (n_batch > 0 || next_batch() > 0)
		if (send_batch() != 0)
			break;
	sp_kv_quiet(was);
}

/* ---------------------------------------------------------------- rendering */

/* Every family /metrics shows, with its help: a new metric needs its line here. */
static const struct family {
	const char *name, *type, *help;
} families[] = {
    {"sp_http_requests_total", "counter", "HTTP requests answered, by route and status."},
    {"sp_http_request_duration_seconds", "histogram",
     "Time from the request's arrival to its answer, by route."},
    {"sp_cache_hits_total", "counter", "Cache lookups answered from the cache, by cache."},
    {"sp_cache_misses_total", "counter", "Cache lookups that went to MariaDB, by cache."},
    {"sp_cache_local_hits_total", "counter",
     "Catalogue answers taken from the content process's own copy."},
    {"sp_ratelimit_fail_open_total", "counter",
     "Requests let through unchecked because Redis was unreachable."},
    {"sp_stream_db_fallback_total", "counter",
     "Stream starts decided in MariaDB because Redis was unreachable."},
    {"sp_stream_limit_db_overrule_total", "counter",
     "Stream starts admitted by Redis but refused by the final check in MariaDB."},
    {"sp_bcrypt_hashes_total", "counter", "bcrypt hashes computed."},
    {"sp_history_held_total", "counter",
     "Watch-progress reports held in Redis between two MariaDB writes (gate step)."},
    {"sp_redis_reconnects_total", "counter",
     "Redis connections opened after a process's first (after a drop or a restart)."},
    {"sp_db_reconnects_total", "counter",
     "MariaDB connections opened after a process's first (after a drop or a restart)."},
    {"sp_mail_outcomes_total", "counter",
     "Mailer outcomes per event attempt: sent, skipped, retry, failed, lease_lost."},
    {"sp_webhook_attempts_total", "counter",
     "Webhook delivery attempts by outcome: delivered, retry, failed."},
    {DROPPED, "counter", "Metric updates dropped because a process had too many series."},
};

/* A parsed series name: family, labels without le, the le value (bucket) and the suffix. */
struct parsed {
	const char *full, *value;
	char family[96];
	char labels[256]; /* without le, braces included, "" if none */
	double le;        /* bucket bound; INFINITY for +Inf */
	int kind;         /* 0 plain, 1 bucket, 2 sum, 3 count */
};

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void parse_series(struct parsed *p, const char *full, const char *value)
{
	const char *brace = strchr(full, '{');
	size_t n = brace ? (size_t)(brace - full) : strlen(full);
	const char *lep;

	memset(p, 0, sizeof *p);
	p->full = full;
	p->value = value;
	p->le = 0;
	if (ends_with(full, n, "_bucket"))
		p->kind = 1, n -= 7;
	else if (ends_with(full, n, "_sum"))
		p->kind = 2, n -= 4;
	else if (ends_with(full, n, "_count"))
		p->kind = 3, n -= 6;
	if (p->kind && !(n == strlen("sp_http_request_duration_seconds") &&
	                 memcmp(full, "sp_http_request_duration_seconds", n) == 0)) {
		/* only the histogram has those suffixes */
		n += p->kind == 1 ? 7 : p->kind == 2 ? 4 : 6;
		p->kind = 0;
	}
	snprintf(p->family, sizeof p->family, "%.*s", (int)n, full);
	if (brace == NULL)
		return;
	snprintf(p->labels, sizeof p->labels, "%s", brace);
	if (p->kind == 1 && (lep = strstr(p->labels, ",le=\"")) != NULL) {
		char *end = strchr(lep + 5, '"');
		p->le = strncmp(lep + 5, "+Inf", 4) == 0 ? 1e300 : strtod(lep + 5, NULL);
		if (end)
			memmove((char *)lep, end + 1, strlen(end + 1) + 1);
	}
}

/*
 * Family, then labels; within a histogram's labels the buckets by bound
 * (+Inf last), then _sum, then _count, as the exposition format wants.
 */
static int cmp_series(const void *a, const void *b)
{
	const struct parsed *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	if (c)
		return c;
	if ((c = strcmp(x->labels, y->labels)) != 0)
		return c;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->le < y->le ? -1 : x->le > y->le;
}

static const struct family *family_of(const char *name)
{
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		if (strcmp(families[i].name, name) == 0)
			return &families[i];
	return NULL;
}

/*
 * Writes every bucket of the histogram series starting at ps[i], in
 * increasing le order and +Inf last, then its _sum and _count; a bucket no
 * request fell into has no sample in Redis and is written as 0. Returns the
 * index of the group's last sample.
 */
static size_t add_buckets(sp_buf *b, const struct parsed *ps, size_t n, size_t i)
{
	size_t j = i, len = strlen(ps[i].labels);
	const char *sum = "0", *count = "0";

	while (j + 1 < n && ps[j + 1].kind == 1 && strcmp(ps[j + 1].family, ps[i].family) == 0 &&
	       strcmp(ps[j + 1].labels, ps[i].labels) == 0)
		j++;
	for (size_t k = 0; k <= sizeof buckets / sizeof buckets[0]; k++) {
		int inf = k == sizeof buckets / sizeof buckets[0];
		double le = inf ? 1e300 : buckets[k];
		const char *v = "0";
		char bound[32];

		for (size_t m = i; m <= j; m++)
			if (ps[m].le > le * 0.999999 && ps[m].le < le * 1.000001)
				v = ps[m].value;
		if (inf)
			snprintf(bound, sizeof bound, "+Inf");
		else
			snprintf(bound, sizeof bound, "%g", le);
		sp_buf_addf(b, "%s_bucket%.*s%sle=\"%s\"} %s\n", ps[i].family,
		            (int)(len > 0 ? len - 1 : 0), ps[i].labels, len > 2 ? "," : "{", bound,
		            v);
	}
	/* then _sum and _count (a sum of zeros was never sent) */
	while (j + 1 < n && ps[j + 1].kind > 1 && strcmp(ps[j + 1].family, ps[i].family) == 0 &&
	       strcmp(ps[j + 1].labels, ps[i].labels) == 0) {
		j++;
		if (ps[j].kind == 2)
			sum = ps[j].value;
		else
			count = ps[j].value;
	}
	sp_buf_addf(b, "%s_sum%s %s\n%s_count%s %s\n", ps[i].family, ps[i].labels, sum,
	            ps[i].family, ps[i].labels, count);
	return j;
}

int sp_metrics_totals(const char *const *series, size_t n, double *out)
{
	sp_kv_result *all;

	sp_metrics_flush(1);
	all = sp_kv_hgetall(SP_KEY_METRICS);
	if (sp_kv_failed(all)) {
		sp_kv_free(all);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		out[k] = 0;
	for (size_t i = 0; i + 1 < sp_kv_count(all); i += 2) {
		const char *name = sp_kv_str_at(all, i, NULL),
		           *value = sp_kv_str_at(all, i + 1, NULL);
		for (size_t k = 0; name && value && k < n; k++)
			if (strcmp(name, series[k]) == 0)
				out[k] = strtod(value, NULL);
	}
	sp_kv_free(all);
	return 0;
}

int sp_metrics_render(char **out)
{
	sp_kv_result *all;
	sp_buf b;
	struct parsed *ps;
	size_t n = 0;

	sp_metrics_flush(1);
	all = sp_kv_hgetall(SP_KEY_METRICS);
	if (sp_kv_failed(all)) {
		sp_kv_free(all);
		return -1;
	}
	ps = sp_xcalloc(sp_kv_count(all) / 2 + 1, sizeof *ps);
	for (size_t i = 0; i + 1 < sp_kv_count(all); i += 2) {
		const char *name = sp_kv_str_at(all, i, NULL),
		           *value = sp_kv_str_at(all, i + 1, NULL);
		if (name && value)
			parse_series(&ps[n++], name, value);
	}
	qsort(ps, n, sizeof *ps, cmp_series);
	sp_buf_init(&b);
	/* a known family without samples yet is still declared */
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		size_t k = 0;
		while (k < n && strcmp(ps[k].family, families[i].name) != 0)
			k++;
		if (k == n)
			sp_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", families[i].name,
			            families[i].help, families[i].name, families[i].type);
	}
	/* then each family with samples: its HELP and TYPE, then its samples together */
	for (size_t i = 0; i < n; i++) {
		const struct family *f = family_of(ps[i].family);
		/* a family not in the table (left in Redis by an older version) is not shown */
		if (f == NULL)
			continue;
		if (i == 0 || strcmp(ps[i].family, ps[i - 1].family) != 0)
			sp_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			            f->type);
		if (ps[i].kind == 1) {
			i = add_buckets(&b, ps, n, i);
			continue;
		}
		sp_buf_addf(&b, "%s %s\n", ps[i].full, ps[i].value);
	}
	free(ps);
	sp_kv_free(all);
	*out = b.data ? b.data : sp_xstrdup("");
	return 0;
}
