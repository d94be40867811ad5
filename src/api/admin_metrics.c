/*
 * The admin overview: live streams from the session record (sp_stream),
 * the catalogue cache's hit ratio from the counters /metrics shows
 * (sp_metrics), subscriptions in force and recurring revenue from MariaDB.
 */
#include "admin_metrics.h"
#include "sp_app.h"
#include "sp_tier.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_metrics.h"
#include "sp_stream.h"

#include <math.h>
#include <stdio.h>

#define TOP_STREAMERS 10
#define PLANS_MAX     100

/* x rounded to 2 decimals, as a JSON number. */
static json_object *two_decimals(double x)
{
	char buf[48];

	snprintf(buf, sizeof buf, "%.2f", x);
	return json_object_new_double_s(round(x * 100) / 100, buf);
}

/* activeStreams, activeUsers, avgConcurrentStreams, topStreamers. */
static int add_streams(json_object *d)
{
	sp_streamer top[TOP_STREAMERS];
	long long sessions, users;
	size_t n;
	json_object *arr;

	if (sp_stream_live_summary(&sessions, &users, top, TOP_STREAMERS, &n) != 0)
		return -1;
	json_object_object_add(d, "activeStreams", json_object_new_int64(sessions));
	json_object_object_add(d, "activeUsers", json_object_new_int64(users));
	json_object_object_add(d, "avgConcurrentStreams",
	                       two_decimals(users > 0 ? (double)sessions / (double)users : 0));
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *u = json_object_new_object();
		char id[24];

		snprintf(id, sizeof id, "%lld", top[i].user_id);
		json_object_object_add(u, "userId", json_object_new_string(id));
		json_object_object_add(u, "name", json_object_new_string(top[i].name));
		json_object_object_add(u, "email", json_object_new_string(top[i].email));
		json_object_object_add(u, "activeStreams", json_object_new_int64(top[i].sessions));
		json_object_array_add(arr, u);
	}
	json_object_object_add(d, "topStreamers", arr);
	return 0;
}

/* Catalogue lookups answered from a cache / from MariaDB, over every process; null when none. */
static void add_cache_ratio(json_object *d)
{
	static const char *const series[] = {"sp_cache_hits_total{cache=\"catalog\"}",
	                                     "sp_cache_misses_total{cache=\"catalog\"}"};
	double v[2];
	json_object *ratio = NULL;

	/* Redis away: the counts are unknown, not zero */
	if (sp_metrics_totals(series, 2, v) == 0 && v[0] + v[1] > 0) {
		char buf[32];
		double x = v[0] / (v[0] + v[1]);

		snprintf(buf, sizeof buf, "%.4f", x);
		ratio = json_object_new_double_s(round(x * 10000) / 10000, buf);
	}
	json_object_object_add(d, "cacheHitRatio", ratio);
}

/* Every plan with its subscriptions in force (status active, end_date in the future). */
static int add_plans(json_object *d)
{
	sp_res res;
	json_object *arr;

	if (sp_db_query(&res,
	                "SELECT p.id, p.name, p.access_level, (SELECT COUNT(*) FROM subscriptions "
	                "s WHERE s.plan_id = p.id AND s.status = 'active' AND s.end_date > "
	                "UTC_TIMESTAMP(3)) FROM plans p ORDER BY p.display_order, p.id LIMIT ?",
	                "l", (long long)PLANS_MAX) != 0)
		return -1;
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "planId", sp_json_str_or_null(sp_res_str(&res, i, 0)));
		json_object_object_add(p, "name", sp_json_str_or_null(sp_res_str(&res, i, 1)));
		json_object_object_add(
		    p, "accessLevel",
		    json_object_new_string(sp_tier_name((int)sp_res_ll(&res, i, 2, 0))));
		json_object_object_add(p, "activeSubscriptions",
		                       json_object_new_int64(sp_res_ll(&res, i, 3, 0)));
		json_object_array_add(arr, p);
	}
	sp_res_free(&res);
	json_object_object_add(d, "subscriptionsByPlan", arr);
	return 0;
}

/*
 * Subscriptions in force that renew, each at its plan's price normalised to
 * 30 days (price * 30 / validity_days), summed exactly in DECIMAL per
 * currency. amount/currency: the largest currency's (USD and 0.00 when
 * none); byCurrency: every currency's.
 */
static int add_revenue(json_object *d)
{
	sp_res res;
	json_object *m = json_object_new_object(), *by = json_object_new_array();

	if (sp_db_query(&res,
	                "SELECT p.currency, ROUND(SUM(p.price * 30 / p.validity_days), 2) AS mrr "
	                "FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.status = "
	                "'active' AND s.end_date > UTC_TIMESTAMP(3) AND s.auto_renew = 1 GROUP BY "
	                "p.currency ORDER BY mrr DESC, p.currency LIMIT ?",
	                "l", (long long)PLANS_MAX) != 0) {
		json_object_put(m);
		json_object_put(by);
		return -1;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "currency", sp_json_str_or_null(sp_res_str(&res, i, 0)));
		json_object_object_add(c, "amount", sp_json_money(sp_res_str(&res, i, 1)));
		json_object_array_add(by, c);
	}
	json_object_object_add(m, "amount",
	                       sp_json_money(res.nrows ? sp_res_str(&res, 0, 1) : "0.00"));
	json_object_object_add(m, "currency",
	                       json_object_new_string(res.nrows && sp_res_str(&res, 0, 0)
	                                                  ? sp_res_str(&res, 0, 0)
	                                                  : "USD"));
	json_object_object_add(m, "byCurrency", by);
	sp_res_free(&res);
	json_object_object_add(d, "monthlyRecurringRevenue", m);
	return 0;
}

int admin_metrics(sp_req *r)
{
	json_object *d = json_object_new_object();

	if (add_streams(d) != 0 || add_plans(d) != 0 || add_revenue(d) != 0) {
		json_object_put(d);
		return sp_unavailable(r);
	}
	add_cache_ratio(d);
	sp_ok(r, 200, NULL, d);
	return 0;
}
