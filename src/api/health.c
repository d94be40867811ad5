/*
 * Liveness, readiness and metrics, plus the API's catch-all: any /api/v1
 * path no other area claims gets the contract's 404 from here.
 */
#include "sp_app.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_metrics.h"

#include <stdlib.h>
#include <string.h>

static int health_live(sp_req *r);
static int health_ready(sp_req *r);
static int health_metrics(sp_req *r);

static const sp_route routes[] = {
    {"GET", "/health", health_live, SP_AUTH_NONE, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"GET", "/ready", health_ready, SP_AUTH_NONE, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    /* the (loopback-only) scraper is not throttled: its limit headers are read, not counted */
    {"GET", "=/metrics", health_metrics, SP_AUTH_NONE, SP_NO_BODY | SP_RL_PEEK, NULL, NULL,
     SP_NO_INPUT},
};

static int64_t started_ms;

static int health_live(sp_req *r)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "status", json_object_new_string("ok"));
	json_object_object_add(d, "uptimeSeconds",
	                       json_object_new_int64((sp_now_ms() - started_ms) / 1000));
	sp_ok(r, 200, NULL, d);
	return 0;
}

/* 503 when MariaDB does not answer; Redis down is reported but tolerated. */
static int health_ready(sp_req *r)
{
	json_object *d = json_object_new_object();
	int db = sp_db_ping() == 0;
	int kv = sp_kv_ping() == 0;

	json_object_object_add(d, "status", json_object_new_string(db ? "ready" : "unavailable"));
	json_object_object_add(d, "database", json_object_new_string(db ? "up" : "down"));
	json_object_object_add(d, "redis", json_object_new_string(kv ? "up" : "down"));
	if (db) {
		sp_ok(r, 200, NULL, d);
	} else {
		sp_add_header(r, "Retry-After", "5");
		sp_fail_ex(r, 503, "SERVICE_UNAVAILABLE", "Database is unavailable", d);
	}
	return db ? 0 : -1;
}

/*
 * Gauges read at scrape time from MariaDB, the record of sessions, events
 * and deliveries; each count is a range of an index on (status, ...) over
 * the rows still in play (pending, or parked as failed). Left out while
 * MariaDB does not answer.
 */
static void db_gauges(sp_buf *b)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT (SELECT COUNT(*) FROM stream_sessions WHERE ended_at IS NULL AND "
	                "last_heartbeat_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND), (SELECT "
	                "COUNT(*) FROM outbox WHERE status = 'pending'), (SELECT COUNT(*) FROM "
	                "outbox WHERE status = 'failed'), (SELECT COUNT(*) FROM "
	                "webhook_deliveries WHERE status = 'pending'), (SELECT COUNT(*) FROM "
	                "webhook_deliveries WHERE status = 'failed'), (SELECT COUNT(*) FROM "
	                "webhooks WHERE active = 1 AND failures > 0)",
	                "l", (long long)sp_cfg.stream_stale_seconds) != 0)
		return;
	sp_buf_addf(b,
	            "# HELP sp_stream_sessions_live Stream sessions live now.\n"
	            "# TYPE sp_stream_sessions_live gauge\nsp_stream_sessions_live %lld\n"
	            "# HELP sp_outbox_backlog Recorded events waiting to be sent.\n"
	            "# TYPE sp_outbox_backlog gauge\nsp_outbox_backlog %lld\n"
	            "# HELP sp_outbox_failed Recorded events given up after the last retry.\n"
	            "# TYPE sp_outbox_failed gauge\nsp_outbox_failed %lld\n",
	            sp_res_ll(&res, 0, 0, 0), sp_res_ll(&res, 0, 1, 0), sp_res_ll(&res, 0, 2, 0));
	sp_buf_addf(b,
	            "# HELP sp_webhook_deliveries Webhook deliveries still in play, by status.\n"
	            "# TYPE sp_webhook_deliveries gauge\n"
	            "sp_webhook_deliveries{status=\"pending\"} %lld\n"
	            "sp_webhook_deliveries{status=\"failed\"} %lld\n"
	            "# HELP sp_webhooks_failing Active webhooks whose newest attempt failed.\n"
	            "# TYPE sp_webhooks_failing gauge\nsp_webhooks_failing %lld\n",
	            sp_res_ll(&res, 0, 3, 0), sp_res_ll(&res, 0, 4, 0), sp_res_ll(&res, 0, 5, 0));
	sp_res_free(&res);
}

/* Prometheus text; loopback (or metrics.allow) only. */
static int health_metrics(sp_req *r)
{
	const char *allow = sp_conf_str("metrics.allow", "127.0.0.1,::1");
	char *text = NULL;

	/* the client address, so a request relayed by a trusted proxy is judged by its origin */
	if (!sp_list_contains(allow, r->client_ip))
		return sp_fail(r, 403, "FORBIDDEN", "Metrics are not available from this address");
	if (sp_metrics_render(&text) != 0)
		return sp_unavailable(r);
	r->status = 200;
	sp_buf_reset(&r->body_out);
	sp_buf_adds(&r->body_out, text);
	free(text);
	db_gauges(&r->body_out);
	r->content_type_out = "text/plain; version=0.0.4";
	r->responded = 1;
	return 0;
}

static int init(void)
{
	started_ms = sp_now_ms();
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"health", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
