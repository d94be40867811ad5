/*
 * Metrics: each process counts locally and adds its counts to one Redis
 * hash in numbered batches, so /metrics sees every process exactly, at no per-request cost.
 */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>

/* Adds 1 to a counter named in Prometheus form, e.g. "cache_hits_total{cache=\"me\"}". */
void sp_metrics_inc(const char *name);
void sp_metrics_add(const char *name, double v);
/* Adds 1 and has the next sp_metrics_flush send it at once (rare, costly events). */
void sp_metrics_inc_now(const char *name);
/* Counts a cache lookup for the hit ratio: sp_cache_{hits,misses}_total{cache="<cache>"}. */
void sp_metrics_cache_lookup(const char *cache, int hit);
/* Records one request: count by route and status, latency histogram by route. */
void sp_metrics_request(const char *route, int status, double ms);
/*
 * Sends accumulated counts if a second has passed (force: now), in batches
 * of at most 200 series. Each batch carries this process's id and a number;
 * Redis applies a number once, so a batch whose reply was lost is resent
 * unchanged and never counted twice. Redis errors are not logged: the
 * counts stay and the next flush tries again.
 */
void sp_metrics_flush(int force);
/* 1 while counts wait to be sent. */
int sp_metrics_pending(void);
/* Milliseconds until the next flush is due (0: now), -1 when nothing waits. */
long sp_metrics_due_in_ms(void);
/*
 * The totals of the given series (full names, e.g. sp_cache_hits_total{cache="catalog"}) as
 * /metrics shows them, summed over every process (this one's counts sent first); a series
 * never counted is 0. 0 ok, -1 Redis unavailable.
 */
int sp_metrics_totals(const char *const *series, size_t n, double *out);
/* Writes the Prometheus text of everything recorded into out (malloc'd). 0 ok. */
int sp_metrics_render(char **out);

#endif
