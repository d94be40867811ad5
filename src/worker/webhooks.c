/*
 * Job "webhooks": fans new outbox events out into one delivery per matching
 * webhook, then POSTs the due deliveries, signed, and records each outcome:
 * a 2xx delivers it for good, anything else is retried with backoff and
 * parked as failed after webhooks.max_attempts.
 *
 * Runs may overlap (on one host or several): each delivery is claimed with
 * SELECT ... FOR UPDATE SKIP LOCKED and a lease (lease_owner, lease_until)
 * committed before the POST, so no two runs send one delivery at once. A
 * run that dies after the receiver's 2xx but before recording it leaves the
 * lease to expire and the delivery is sent again: at least once, receivers
 * dedupe by X-Webhook-Id. After a recorded 2xx it is never sent again.
 */
#include "worker.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"
#include "sp_webhook.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * An outbox row is written inside its change's transaction, so its id is
 * taken before it commits: an id below one already seen may still appear.
 * The cursor therefore only passes events older than this, and the younger
 * ones are looked at again by each run (the unique key makes that harmless).
 */
#define SETTLE_S 60
/* Events looked at per webhook and run; the cursor stops at the last of them. */
#define FANOUT_MAX 5000

struct run {
	int64_t now_ms;
	char now[32];
	char owner[17]; /* this run's lease mark */
	int delivered, retried, failed;
};

/* ---------------------------------------------------------------- fan-out */

/* One webhook: a delivery for each matching event past its cursor, then the cursor moved. */
static int fan_out_one(const struct run *run, long long wid, long long cursor, const char *events,
                       long long settled)
{
	sp_res ev;
	long long next = settled;

	if (sp_db_query(&ev, "SELECT id, event_type FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
	                "li", cursor, FANOUT_MAX) != 0)
		return -1;
	for (size_t i = 0; i < ev.nrows; i++) {
		if (!sp_webhook_event_matches(events, sp_res_str(&ev, i, 1)))
			continue;
		if (sp_db_exec("INSERT IGNORE INTO webhook_deliveries (webhook_id, outbox_id, "
		               "next_attempt_at) VALUES (?, ?, ?)",
		               "lls", wid, sp_res_ll(&ev, i, 0, 0), run->now) < 0) {
			sp_res_free(&ev);
			return -1;
		}
	}
	if (ev.nrows == FANOUT_MAX && sp_res_ll(&ev, ev.nrows - 1, 0, 0) < next)
		next = sp_res_ll(&ev, ev.nrows - 1, 0, 0);
	sp_res_free(&ev);
	return sp_db_exec("UPDATE webhooks SET cursor_outbox_id = GREATEST(cursor_outbox_id, ?) "
	                  "WHERE id = ?",
	                  "ll", next, wid) < 0
	           ? -1
	           : 0;
}

/*
 * The settled mark is read before any event is: every event at or below it
 * that the fan-out reads was visible then, so none is skipped by the cursor.
 */
static int fan_out(const struct run *run)
{
	sp_res hooks, settled;
	char cutoff[32];
	long long low = -1, mark;
	int rc = 0;

	if (sp_db_query(&hooks,
	                "SELECT id, cursor_outbox_id, events FROM webhooks WHERE active = 1 "
	                "ORDER BY id",
	                "") != 0)
		return -1;
	for (size_t i = 0; i < hooks.nrows; i++)
		if (low < 0 || sp_res_ll(&hooks, i, 1, 0) < low)
			low = sp_res_ll(&hooks, i, 1, 0);
	sp_db_time(run->now_ms - SETTLE_S * 1000, cutoff);
	if (hooks.nrows == 0 ||
	    sp_db_query(&settled,
	                "SELECT COALESCE(MAX(id), ?) FROM outbox WHERE id > ? AND created_at < ?",
	                "lls", low, low, cutoff) != 0) {
		rc = hooks.nrows == 0 ? 0 : -1;
		sp_res_free(&hooks);
		return rc;
	}
	mark = sp_res_ll(&settled, 0, 0, low);
	sp_res_free(&settled);
	for (size_t i = 0; i < hooks.nrows && rc == 0; i++)
		rc = fan_out_one(run, sp_res_ll(&hooks, i, 0, 0), sp_res_ll(&hooks, i, 1, 0),
		                 sp_res_str(&hooks, i, 2), mark);
	sp_res_free(&hooks);
	return rc;
}

/* ---------------------------------------------------------------- claim */

/*
 * Takes the most overdue delivery no other run holds: SKIP LOCKED passes
 * over rows another claim has locked this instant, the lease over those
 * already claimed. The attempt is counted here, so a run that dies while
 * posting still spends one. 1 claimed (*id), 0 none due, -1 database.
 */
static int claim(const struct run *run, long long *id)
{
	sp_res res;
	char until[32];
	long lease_s =
	    (sp_cfg.webhooks_connect_timeout_ms + sp_cfg.webhooks_timeout_ms) / 1000 + 60;

	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_query(&res,
	                "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND "
	                "next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) "
	                "ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
	                "ss", run->now, run->now) != 0)
		goto fail;
	if (res.nrows == 0) {
		sp_res_free(&res);
		return sp_db_commit() == 0 ? 0 : -1;
	}
	*id = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	sp_db_time(run->now_ms + (int64_t)lease_s * 1000, until);
	if (sp_db_exec("UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, "
	               "attempts = attempts + 1 WHERE id = ?",
	               "ssl", run->owner, until, *id) != 1 ||
	    sp_db_commit() != 0)
		goto fail;
	return 1;
fail:
	sp_db_rollback();
	return -1;
}

/* ---------------------------------------------------------------- POST */

/* The receiver's answer is not read: only its status counts. */
static size_t discard(char *p, size_t sz, size_t nm, void *ud)
{
	(void)p;
	(void)ud;
	return sz * nm;
}

/* The headers of one attempt (a fresh list; the caller frees it). */
static struct curl_slist *post_headers(long long event_id, long long ts, const char *sig)
{
	struct curl_slist *h = NULL;
	char line[128];

	h = curl_slist_append(h, "Content-Type: application/json");
	/* no 100-continue round trip, whatever the body's size */
	h = curl_slist_append(h, "Expect:");
	snprintf(line, sizeof line, "X-Webhook-Id: %lld", event_id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "X-Webhook-Timestamp: %lld", ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "X-Signature: sha256=%s", sig);
	return curl_slist_append(h, line);
}

/*
 * POSTs body to url: only http and https, no redirect followed, connect and
 * total timeouts from the settings. The HTTP status, or 0 with *err set
 * ("timeout", "connect_failed", "transport_error") when there was none.
 */
static long post(const char *url, const char *body, struct curl_slist *headers, const char **err)
{
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;

	*err = "transport_error";
	if (c == NULL)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, sp_cfg.webhooks_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, sp_cfg.webhooks_timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "streaming-webhooks/1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		*err = NULL;
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		*err = "timeout";
	} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
		*err = "connect_failed";
	}
	curl_easy_cleanup(c);
	return status;
}

/* ---------------------------------------------------------------- outcome */

/* The wait before attempt n + 1: backoff_seconds * 2^(n - 1), capped. */
static long long backoff_ms(long long attempts)
{
	long long s = sp_cfg.webhooks_backoff_seconds;

	for (long long i = 1; i < attempts && s < sp_cfg.webhooks_backoff_max_seconds; i++)
		s *= 2;
	if (s > sp_cfg.webhooks_backoff_max_seconds)
		s = sp_cfg.webhooks_backoff_max_seconds;
	return s * 1000;
}

struct attempt {
	long long delivery, webhook, event, attempts;
	long status; /* HTTP status, 0: none */
	const char *err;
};

static void log_outcome(const struct attempt *a, const char *outcome, const char *next)
{
	char kv[512], status[24] = "null", name[80];

	snprintf(name, sizeof name, "sp_webhook_attempts_total{outcome=\"%s\"}", outcome);
	sp_metrics_inc(name);

	if (a->status > 0)
		snprintf(status, sizeof status, "%ld", a->status);
	snprintf(kv, sizeof kv,
	         "\"job\":\"webhooks\",\"outcome\":\"%s\",\"webhookId\":%lld,\"eventId\":%lld,"
	         "\"deliveryId\":%lld,\"attempt\":%lld,\"httpStatus\":%s,\"error\":%s%s%s,"
	         "\"nextAttemptAt\":%s%s%s",
	         outcome, a->webhook, a->event, a->delivery, a->attempts, status,
	         a->err ? "\"" : "", a->err ? a->err : "null", a->err ? "\"" : "", next ? "\"" : "",
	         next ? next : "null", next ? "\"" : "");
	sp_log(strcmp(outcome, "delivered") == 0 ? SP_LOG_INFO : SP_LOG_WARN, "webhook delivery",
	       kv);
}

/* A 2xx: delivered for good, whoever holds the lease now; the webhook's failures reset. */
static int record_delivered(struct run *run, const struct attempt *a)
{
	if (sp_db_begin() != 0 ||
	    sp_db_exec("UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, "
	               "last_status = ?, last_error = NULL, lease_owner = NULL, lease_until = "
	               "NULL WHERE id = ? AND status = 'pending'",
	               "sil", run->now, (int)a->status, a->delivery) < 0 ||
	    sp_db_exec("UPDATE webhooks SET last_status = ?, last_error = NULL, last_attempt_at = "
	               "?, failures = 0 WHERE id = ?",
	               "isl", (int)a->status, run->now, a->webhook) < 0 ||
	    sp_db_commit() != 0) {
		sp_db_rollback();
		return -1;
	}
	run->delivered++;
	log_outcome(a, "delivered", NULL);
	return 0;
}

/* Anything else: retried after the backoff, or parked once the attempts are spent. */
static int record_failed(struct run *run, const struct attempt *a)
{
	int park = a->attempts >= sp_cfg.webhooks_max_attempts;
	char next[32], iso[32];
	int64_t at = run->now_ms + backoff_ms(a->attempts);

	sp_db_time(at, next);
	sp_iso8601(at, iso);
	if (sp_db_begin() != 0 ||
	    sp_db_exec("UPDATE webhook_deliveries SET status = IF(?, 'failed', 'pending'), "
	               "next_attempt_at = ?, last_status = NULLIF(?, 0), last_error = ?, "
	               "lease_owner = NULL, "
	               "lease_until = NULL WHERE id = ? AND status = 'pending' AND lease_owner = ?",
	               "isisls", park, next, (int)a->status, a->err, a->delivery, run->owner) < 0 ||
	    sp_db_exec("UPDATE webhooks SET last_status = NULLIF(?, 0), last_error = ?, "
	               "last_attempt_at = ?, failures = failures + 1 WHERE id = ?",
	               "issl", (int)a->status, a->err, run->now, a->webhook) < 0 ||
	    sp_db_commit() != 0) {
		sp_db_rollback();
		return -1;
	}
	park ? run->failed++ : run->retried++;
	log_outcome(a, park ? "failed" : "retry", park ? NULL : iso);
	return 0;
}

/* ---------------------------------------------------------------- one delivery */

enum delivery_col {
	DC_ATTEMPTS,
	DC_WEBHOOK,
	DC_URL,
	DC_SEALED,
	DC_EVENT,
	DC_TYPE,
	DC_USER,
	DC_PAYLOAD,
	DC_CREATED
};

/* Signs and sends the event of row 0 of res with the opened secret; fills a. */
static void send_event(const struct run *run, const sp_res *res, const char *secret,
                       size_t secret_len, struct attempt *a)
{
	long long ts = run->now_ms / 1000;
	char sig[65];
	char *body = sp_webhook_body(a->event, sp_res_str(res, 0, DC_TYPE),
	                             sp_parse_db_time(sp_res_str(res, 0, DC_CREATED)),
	                             sp_res_str(res, 0, DC_PAYLOAD), sp_res_str(res, 0, DC_USER));
	struct curl_slist *headers;

	sp_webhook_sign(secret, secret_len, ts, body, strlen(body), sig);
	headers = post_headers(a->event, ts, sig);
	a->status = post(sp_res_str(res, 0, DC_URL), body, headers, &a->err);
	curl_slist_free_all(headers);
	free(body);
}

/*
 * Sends the claimed delivery id and records the outcome. Its webhook may
 * have been deleted since the claim (the row went with it): nothing is sent.
 */
static int deliver(struct run *run, long long id)
{
	struct attempt a = {.delivery = id};
	char *secret = NULL;
	size_t secret_len = 0;
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT d.attempts, w.id, w.url, w.secret_sealed, o.id, o.event_type, "
	                "o.user_id, o.payload, o.created_at FROM webhook_deliveries d JOIN "
	                "webhooks w ON w.id = d.webhook_id JOIN outbox o ON o.id = d.outbox_id "
	                "WHERE d.id = ? AND d.lease_owner = ?",
	                "ls", id, run->owner) != 0)
		return -1;
	if (res.nrows == 0) {
		sp_res_free(&res);
		return 0;
	}
	a.attempts = sp_res_ll(&res, 0, DC_ATTEMPTS, 1);
	a.webhook = sp_res_ll(&res, 0, DC_WEBHOOK, 0);
	a.event = sp_res_ll(&res, 0, DC_EVENT, 0);
	if (sp_webhook_open_secret(a.webhook, sp_res_str(&res, 0, DC_SEALED), &secret,
	                           &secret_len) != 0) {
		a.err = "secret_unreadable"; /* another seal key: nothing can be signed */
	} else {
		send_event(run, &res, secret, secret_len, &a);
		OPENSSL_cleanse(secret, secret_len);
		free(secret);
	}
	sp_res_free(&res);
	return a.status >= 200 && a.status < 300 ? record_delivered(run, &a)
	                                         : record_failed(run, &a);
}

int job_webhooks(int64_t now_ms)
{
	struct run run = {.now_ms = now_ms};
	long long id = 0;
	int rc = 0, claimed = 0;

	sp_db_time(now_ms, run.now);
	sp_request_id(run.owner);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		sp_error("webhooks: libcurl did not initialise");
		return 1;
	}
	if (fan_out(&run) != 0)
		rc = -1;
	while (rc == 0 && claimed < sp_cfg.webhooks_batch && (rc = claim(&run, &id)) == 1) {
		claimed++;
		rc = deliver(&run, id);
	}
	curl_global_cleanup();
	if (rc < 0) {
		sp_error("webhooks: database unavailable after %d deliveries", claimed);
		return 1;
	}
	sp_info("webhooks: %d delivered, %d to retry, %d failed for good", run.delivered,
	        run.retried, run.failed);
	return 0;
}
