/*
 * Metrics: each process counts locally and adds its counts to one Redis
 * hash at most once a second, so /metrics sees every process at no per-request cost.
 */
#ifndef SP_METRICS_H
#define SP_METRICS_H

/* Adds 1 to a counter named in Prometheus form, e.g. "cache_hits_total{cache=\"me\"}". */
void sp_metrics_inc(const char *name);
void sp_metrics_add(const char *name, double v);
/* Adds 1 and has the next sp_metrics_flush send it at once (rare, costly events). */
void sp_metrics_inc_now(const char *name);
/* Records one request: count by route and status, latency histogram by route. */
void sp_metrics_request(const char *route, int status, double ms);
/* Sends accumulated counts if a second has passed (force: now). */
void sp_metrics_flush(int force);
/* Writes the Prometheus text of everything recorded into out (malloc'd). 0 ok. */
int sp_metrics_render(char **out);

#endif
