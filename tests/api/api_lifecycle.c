/*
 * API tests of the subscription lifecycle and of plan changes reaching
 * playback: the worker job "lifecycle" run by scripts/dev at given times
 * (expiring notice once a period, renewal in place, expiry by cancellation,
 * decline or an unreachable provider, the level dropping at once, reruns
 * changing nothing), and live sessions capped by the plan in force within
 * one heartbeat, in Redis and in MariaDB, while a media URL outlives its
 * token as long as heartbeats keep the session live.
 *
 * Each test moves only its own subscription's dates (by SQL, around the
 * real clock), so the worker's runs at "now" touch no other test's rows.
 */
#include "api_client.h"
#include "sp_keys.h"
#include "sp_kv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define API           "/api/v1"
#define HEARTBEAT     API "/content/stream/heartbeat"
#define STOP          API "/stream/stop"
#define PLAN_BASIC    2
#define PLAN_PREMIUM  3
#define PLAN_ULTIMATE 4

/* ---------------------------------------------------------------- helpers */

/* The real clock plus offset seconds as the worker's --now ("2026-12-06T10:30:00Z"). */
static void iso_at(long offset, char *out, size_t n)
{
	time_t t = time(NULL) + offset;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* scripts/dev worker lifecycle --now (real clock + offset s) with extra environment; exit status.
 */
static int lifecycle(const char *env, long offset)
{
	const char *d = getenv("SP_DEV");
	char now[32], cmd[1400];
	int st;

	if (d == NULL || *d == '\0' || strchr(d, '\'')) {
		EXPECT(0, "SP_DEV must name scripts/dev");
		return -1;
	}
	iso_at(offset, now, sizeof now);
	snprintf(cmd, sizeof cmd, "%s '%s' worker lifecycle --now %s >/dev/null 2>&1",
	         env ? env : "", d, now);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void run_ok(const char *env, long offset)
{
	int rc = lifecycle(env, offset);

	EXPECT(rc == 0, "worker lifecycle (%s, now %+lds) exits 0, got %d", env ? env : "", offset,
	       rc);
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
	char text[600], err[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	EXPECT(api_db_script(text, err, sizeof err) == 0, "SQL %s: %s", text, err);
}

/* The user's active subscription id; -1 when none. */
static long long active_sub(const api_user *u)
{
	return api_db_ll_l("SELECT id FROM subscriptions WHERE user_id = ? AND status = 'active'",
	                   atoll(u->id));
}

/* A subscription column as text (malloc'd; NULL for SQL NULL). */
static char *sub_col(long long id, const char *col)
{
	char q[200];

	snprintf(q, sizeof q, "SELECT %s FROM subscriptions WHERE id = ?", col);
	return api_db_str_l(q, id);
}

/* Its period ended a minute ago (the real clock), its start a validity before. */
static void end_a_minute_ago(long long id)
{
	sql("UPDATE subscriptions SET end_date = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE, "
	    "start_date = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE - INTERVAL 30 DAY WHERE id = %lld",
	    id);
}

/* Events of type for u whose payload names subscription id (and, if given, this reason). */
static long long events(const api_user *u, const char *type, long long id, const char *reason)
{
	char q[400];
	long long n;

	snprintf(q, sizeof q,
	         "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND event_type = '%s' AND "
	         "JSON_VALUE(payload, '$.subscriptionId') = %lld%s%s%s",
	         type, id, reason ? " AND JSON_VALUE(payload, '$.reason') = '" : "",
	         reason ? reason : "", reason ? "'" : "");
	n = api_db_ll_l(q, atoll(u->id));
	return n;
}

static long long payments(long long id)
{
	return api_db_ll_l("SELECT COUNT(*) FROM subscription_payments WHERE subscription_id = ?",
	                   id);
}

/* A stream start of a title above Free: the level in force, as the next request sees it. */
static long start_status(const api_user *u, long long cid, const char *dev, char *code, size_t n)
{
	api_resp r;
	long st = api_stream_start(&r, u, cid, dev, NULL, NULL);

	snprintf(code, n, "%s", api_jstr(r.json, "code") ? api_jstr(r.json, "code") : "");
	api_free(&r);
	return st;
}

static long beat(const api_user *u, const char *sid)
{
	api_resp r;
	char body[160];
	long st;

	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":30}",
	         sid ? sid : "x");
	st = api_send(&r, "POST", HEARTBEAT, u->token, body);
	api_free(&r);
	return st;
}

/* GET <streamUrl without its file>/<rel> (a playlist or segment), the status. */
static long media(const char *url, const char *rel)
{
	char buf[1400];
	const char *last = url ? strrchr(url, '/') : NULL;

	if (last == NULL)
		return 0;
	snprintf(buf, sizeof buf, "%.*s/%s", (int)(last - url), url, rel);
	return api_get_status(buf);
}

#define EXPECT_MEDIA(url, rel, want, what)                                                         \
	do {                                                                                       \
		long st_ = media((url), (rel));                                                    \
		EXPECT(st_ == (want), "%s: %s expected %d, got %ld", (what), (rel), (want), st_);  \
	} while (0)

/* ---------------------------------------------------------------- expiring notice */

static void test_expiring_notice_is_sent_once_per_period(void)
{
	api_user u;
	long long id;
	char *at;

	if (api_viewer(&u, "life-notice", PLAN_PREMIUM) != 0)
		return;
	id = active_sub(&u);
	sql("UPDATE subscriptions SET end_date = UTC_TIMESTAMP(3) + INTERVAL 10 DAY WHERE id = "
	    "%lld",
	    id);
	run_ok(NULL, 0);
	EXPECT(events(&u, "subscription.expiring", id, NULL) == 0,
	       "no expiring notice 10 days before the end");
	/* the clock faked 8 days ahead: 2 days before the end */
	run_ok(NULL, 8 * 86400);
	EXPECT(events(&u, "subscription.expiring", id, NULL) == 1,
	       "one expiring notice 2 days before the end, naming the subscription");
	at = sub_col(id, "expiring_notified_at");
	EXPECT(at != NULL, "the notice is recorded on the subscription");
	free(at);
	run_ok(NULL, 8 * 86400 + 3600);
	run_ok(NULL, 9 * 86400);
	EXPECT(events(&u, "subscription.expiring", id, NULL) == 1,
	       "later runs in the same period send no second notice");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND event_type = "
	                   "'subscription.expiring' AND JSON_VALUE(payload, '$.planId') = 3 AND "
	                   "JSON_VALUE(payload, '$.endDate') IS NOT NULL",
	                   atoll(u.id)) == 1,
	       "the notice carries planId and endDate");
	api_user_free(&u);
}

/* ---------------------------------------------------------------- renewal */

static void test_renewal_at_end_date_gives_a_new_period_and_keeps_the_level(void)
{
	long long cid = api_title(2, 4), id;
	api_user u;
	api_resp r;
	char *old_end, *old_txn, *start, *txn, code[64];

	if (api_viewer(&u, "life-renew", PLAN_PREMIUM) != 0)
		return;
	id = active_sub(&u);
	end_a_minute_ago(id);
	old_end = sub_col(id, "end_date");
	old_txn = sub_col(id, "transaction_id");
	run_ok(NULL, 0);
	start = sub_col(id, "start_date");
	txn = sub_col(id, "transaction_id");
	EXPECT(api_streq(start, old_end), "the new period starts at the old end (%s), got %s",
	       old_end ? old_end : "?", start ? start : "NULL");
	EXPECT(api_db_ll_l("SELECT end_date = start_date + INTERVAL 30 DAY AND status = 'active' "
	                   "AND expiring_notified_at IS NULL FROM subscriptions WHERE id = ?",
	                   id) == 1,
	       "the new period lasts the plan's 30 days, the subscription stays active");
	EXPECT(txn && old_txn && !api_streq(txn, old_txn), "a new charge's transaction id");
	EXPECT(events(&u, "subscription.renewed", id, NULL) == 1, "one renewed event");
	EXPECT(payments(id) == 2, "both payments on record, got %lld", payments(id));
	/* the level in force at once: status shows the new period, Premium titles play */
	api_get(&r, API "/subscriptions/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_streq(api_jstr(r.json, "data.subscription.paymentDetails.transactionId"), txn),
	       "status shows the renewal's payment");
	EXPECT(api_streq(api_jstr(r.json, "data.subscription.status"), "active"), "status active");
	api_free(&r);
	EXPECT(start_status(&u, cid, "tv", code, sizeof code) == 200,
	       "a Premium title starts after the renewal (got %s)", code);
	/* the same run again changes nothing */
	run_ok(NULL, 0);
	EXPECT(events(&u, "subscription.renewed", id, NULL) == 1, "still one renewed event");
	EXPECT(payments(id) == 2, "still two payments");
	free(start);
	start = sub_col(id, "start_date");
	EXPECT(api_streq(start, old_end), "the period did not move again");
	free(old_end);
	free(old_txn);
	free(start);
	free(txn);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- expiry */

/* After an expiry: status, history, the Free level on the very next request. */
static void expect_expired(const api_user *u, long long id, long long cid)
{
	api_resp r;
	char code[64], *ended = sub_col(id, "ended_at");

	EXPECT(api_db_ll_l("SELECT status = 'expired' FROM subscriptions WHERE id = ?", id) == 1,
	       "the subscription is expired");
	EXPECT(ended != NULL, "ended_at is set");
	free(ended);
	EXPECT(start_status(u, cid, "tv", code, sizeof code) == 403 &&
	           api_streq(code, "SUBSCRIPTION_REQUIRED"),
	       "a Premium title right after the run: 403 SUBSCRIPTION_REQUIRED, got %s", code);
	api_get(&r, API "/subscriptions/status", u->token);
	EXPECT(r.status == 200 && api_jnull(r.json, "data.subscription"),
	       "status: no subscription in force");
	api_free(&r);
	api_get(&r, API "/subscriptions/history", u->token);
	EXPECT(api_streq(api_jstr(r.json, "data.subscriptions.0.status"), "expired"),
	       "history shows it expired");
	api_free(&r);
	api_get(&r, API "/auth/me", u->token);
	EXPECT(api_jnull(r.json, "data.user.currentSubscription"), "me: no current subscription");
	api_free(&r);
}

static void test_declined_renewal_expires_and_the_level_drops_to_free_at_once(void)
{
	long long cid = api_title(2, 4), id;
	api_user u;
	api_resp r;
	char code[64];

	if (api_viewer(&u, "life-decline", 0) != 0)
		return;
	api_send(&r, "POST", API "/subscriptions/subscribe", u.token,
	         "{\"planId\":3,\"paymentMethod\":\"paypal\"}");
	EXPECT_STATUS(r, 201);
	api_free(&r);
	id = active_sub(&u);
	EXPECT(start_status(&u, cid, "tv", code, sizeof code) == 200, "Premium plays before");
	end_a_minute_ago(id);
	run_ok("SP_PAYMENT_DECLINE_METHODS=paypal", 0);
	EXPECT(events(&u, "subscription.expired", id, "payment_declined") == 1,
	       "one expired event (payment_declined) naming the subscription");
	EXPECT(events(&u, "subscription.renewed", id, NULL) == 0, "no renewed event");
	EXPECT(payments(id) == 1, "no payment recorded for the decline");
	expect_expired(&u, id, cid);
	run_ok("SP_PAYMENT_DECLINE_METHODS=paypal", 0);
	run_ok(NULL, 0);
	EXPECT(events(&u, "subscription.expired", id, NULL) == 1, "reruns change nothing");
	api_user_free(&u);
}

static void test_cancelled_subscription_expires_at_end_date_without_a_charge(void)
{
	long long cid = api_title(2, 4), id;
	api_user u;
	api_resp r;

	if (api_viewer(&u, "life-cancel", PLAN_PREMIUM) != 0)
		return;
	id = active_sub(&u);
	api_send(&r, "PUT", API "/subscriptions/cancel", u.token, "{\"reason\":\"too dear\"}");
	EXPECT_OK(r, 200);
	api_free(&r);
	run_ok(NULL, 0);
	EXPECT(api_db_ll_l("SELECT status = 'active' FROM subscriptions WHERE id = ?", id) == 1,
	       "a cancelled subscription stays active until its end date");
	end_a_minute_ago(id);
	run_ok(NULL, 0);
	EXPECT(events(&u, "subscription.expired", id, "cancelled") == 1,
	       "one expired event (cancelled)");
	EXPECT(payments(id) == 1, "no charge at the end of a cancelled subscription");
	expect_expired(&u, id, cid);
	api_user_free(&u);
}

static void test_unreachable_provider_is_retried_within_the_grace_then_expires(void)
{
	long long id;
	api_user u;

	if (api_viewer(&u, "life-unreach", PLAN_BASIC) != 0)
		return;
	id = active_sub(&u);
	end_a_minute_ago(id);
	/* provider "none" cannot take a paid renewal: it counts as unreachable */
	run_ok("SP_PAYMENT_PROVIDER=none", 0);
	EXPECT(api_db_ll_l("SELECT status = 'active' FROM subscriptions WHERE id = ?", id) == 1,
	       "within the grace window the subscription waits for the provider");
	EXPECT(events(&u, "subscription.expired", id, NULL) == 0 &&
	           events(&u, "subscription.renewed", id, NULL) == 0,
	       "no event while the renewal is retried");
	run_ok("SP_PAYMENT_PROVIDER=none", 25 * 3600);
	EXPECT(events(&u, "subscription.expired", id, "payment_unreachable") == 1,
	       "past lifecycle.renew_grace_hours (24) it expires (payment_unreachable)");
	EXPECT(api_db_ll_l("SELECT status = 'expired' FROM subscriptions WHERE id = ?", id) == 1,
	       "the subscription is expired");
	api_user_free(&u);
}

static void test_job_fails_cleanly_without_mariadb(void)
{
	int rc;

	EXPECT(api_dev_service("stop", "mariadb", NULL) == 0, "MariaDB stopped");
	rc = lifecycle(NULL, 0);
	EXPECT(rc == 1, "the job exits 1 while MariaDB is down, got %d", rc);
	EXPECT(api_dev_service("start", "mariadb", NULL) == 0, "MariaDB started again");
	run_ok(NULL, 0);
}

/* ---------------------------------------------------------------- playback */

static void test_downgrade_caps_a_live_session_within_one_heartbeat(void)
{
	long long cid = api_title(3, 8);
	api_user u;
	char *url = NULL, *sid = NULL;

	if (api_viewer(&u, "life-down", PLAN_ULTIMATE) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (sid == NULL || url == NULL)
		goto out;
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "Ultimate before the downgrade");
	if (api_subscribe(&u, PLAN_BASIC) != 0)
		goto out;
	EXPECT(beat(&u, sid) == 200, "the heartbeat after the downgrade is 200");
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 403, "4K after the downgrade to Basic");
	EXPECT_MEDIA(url, "1080p/index.m3u8", 403, "1080p after the downgrade to Basic");
	EXPECT_MEDIA(url, "master-3-3.m3u8", 403, "the 4K master after the downgrade");
	EXPECT_MEDIA(url, "720p/seg_000.ts", 200, "720p (Basic's best) plays on");
	EXPECT_MEDIA(url, "480p/index.m3u8", 200, "480p plays on");
	/* an upgrade lifts the cap again at the next heartbeat */
	if (api_subscribe(&u, PLAN_ULTIMATE) == 0) {
		EXPECT(beat(&u, sid) == 200, "heartbeat after the upgrade");
		EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "4K after upgrading again");
	}
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

/*
 * The gate's step takes the cap from the cached level; without one (it
 * expired, or Redis lost it) the handler loads the level from MariaDB and
 * sets the cap itself. Here the plan changes in MariaDB alone and the
 * cached level is dropped, as after its TTL.
 */
static void test_cap_is_set_from_mariadb_when_the_level_is_not_cached(void)
{
	long long cid = api_title(3, 8), id;
	api_user u;
	char *url = NULL, *sid = NULL, key[SP_KEY_MAX];

	if (api_viewer(&u, "life-capmiss", PLAN_ULTIMATE) != 0 || api_db_ready() != 0)
		return;
	id = active_sub(&u);
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (sid == NULL || url == NULL)
		goto out;
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "Ultimate before");
	sql("UPDATE subscriptions SET plan_id = %d WHERE id = %lld", PLAN_BASIC, id);
	EXPECT(beat(&u, sid) == 200, "heartbeat with the old level still cached");
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "4K while the cached level says Ultimate");
	sp_key_level(key, sizeof key, atoll(u.id));
	EXPECT(sp_kv_del(key, NULL) == 1, "the cached level was there and is dropped");
	EXPECT(beat(&u, sid) == 200, "heartbeat with no cached level");
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 403, "4K once the level came from MariaDB");
	EXPECT_MEDIA(url, "720p/seg_000.ts", 200, "720p (Basic's best)");
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

static void test_expiry_by_the_job_caps_a_live_session_to_free(void)
{
	long long cid = api_title(2, 4), id;
	api_user u;
	char *url = NULL, *sid = NULL;

	if (api_viewer(&u, "life-expcap", PLAN_PREMIUM) != 0)
		return;
	id = active_sub(&u);
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (sid == NULL || url == NULL)
		goto out;
	EXPECT_MEDIA(url, "1080p/seg_000.ts", 200, "Premium before the expiry");
	sql("UPDATE subscriptions SET auto_renew = 0 WHERE id = %lld", id);
	end_a_minute_ago(id);
	run_ok(NULL, 0);
	EXPECT(beat(&u, sid) == 200,
	       "the heartbeat after the expiry is 200 (one stream fits Free)");
	EXPECT_MEDIA(url, "1080p/seg_000.ts", 403, "1080p after the expiry");
	EXPECT_MEDIA(url, "720p/index.m3u8", 403, "720p after the expiry");
	EXPECT_MEDIA(url, "480p/seg_000.ts", 200, "480p (Free's) plays on");
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

static void test_cap_holds_from_mariadb_while_redis_is_down(void)
{
	long long cid = api_title(3, 8);
	api_user u;
	char *url = NULL, *sid = NULL;

	if (api_viewer(&u, "life-capdb", PLAN_ULTIMATE) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (sid == NULL || url == NULL)
		goto out;
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "Ultimate before");
	if (api_redis_stop() != 0) {
		EXPECT(0, "Redis stopped");
		goto out;
	}
	EXPECT(beat(&u, sid) == 200, "heartbeat in MariaDB");
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 200, "4K from MariaDB's record before the change");
	if (api_subscribe(&u, PLAN_BASIC) == 0) {
		EXPECT(beat(&u, sid) == 200, "heartbeat in MariaDB after the downgrade");
		EXPECT_MEDIA(url, "2160p/seg_000.ts", 403, "4K refused from MariaDB's record");
		EXPECT_MEDIA(url, "720p/seg_000.ts", 200, "720p from MariaDB's record");
	}
	api_redis_start_and_wait();
	EXPECT(beat(&u, sid) == 200, "heartbeat once Redis is back");
	EXPECT_MEDIA(url, "2160p/seg_000.ts", 403, "4K still refused once Redis is back");
	EXPECT_MEDIA(url, "720p/seg_000.ts", 200, "720p once Redis is back");
out:
	api_redis_ensure_started();
	free(url);
	free(sid);
	api_user_free(&u);
}

/* Heartbeats every second for s seconds; 1 when every one was 200. */
static int keep_alive(const api_user *u, const char *sid, double s)
{
	double end = api_now_s() + s;
	int ok = 1;

	while (api_now_s() < end) {
		if (beat(u, sid) != 200)
			ok = 0;
		api_sleep_s(1.0);
	}
	return ok;
}

static void test_media_url_outlives_its_token_while_heartbeats_continue(void)
{
	long long cid = api_title(1, 2), exp_ms;
	api_user u;
	api_resp r;
	char *url = NULL, *sid = NULL, body[160];

	if (api_viewer(&u, "life-ttl", PLAN_BASIC) != 0)
		return;
	api_stream_start(&r, &u, cid, "tv", NULL, NULL);
	EXPECT_OK(r, 200);
	api_take_str(&url, &r, "data.streamUrl");
	api_take_str(&sid, &r, "data.sessionId");
	exp_ms = api_iso_ms(api_jstr(r.json, "data.expiresAt"));
	api_free(&r);
	if (url == NULL || sid == NULL || exp_ms <= 0)
		goto out;
	/* the test stack's stream.token_ttl is 5 s: play past it, beating every second */
	EXPECT(keep_alive(&u, sid, (double)(exp_ms - (long long)time(NULL) * 1000) / 1000 + 2),
	       "every heartbeat answered 200");
	EXPECT((long long)time(NULL) * 1000 > exp_ms, "the token has expired by now");
	EXPECT_MEDIA(url, "720p/seg_001.ts", 200,
	             "a segment past the token's expiry, session live");
	EXPECT_MEDIA(url, "master-1-1.m3u8", 200, "the master past the token's expiry");
	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":9}", sid);
	api_send(&r, "POST", STOP, u.token, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT_MEDIA(url, "720p/seg_001.ts", 403, "the expired token once the session is stopped");
	free(url);
	free(sid);
	url = sid = NULL;
	/* a session nobody beats for: stale after stream.stale_seconds (6 s) */
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (url == NULL)
		goto out;
	EXPECT_MEDIA(url, "720p/seg_000.ts", 200, "a fresh session's segment");
	api_sleep_s(7.5);
	EXPECT_MEDIA(url, "720p/seg_000.ts", 403, "the expired token of a stale session");
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- registry */

static int suite_cleanup(void)
{
	api_redis_ensure_started();
	return 0;
}

int api_suite_lifecycle(void)
{
	CU_pSuite s = CU_add_suite("lifecycle", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_expiring_notice_is_sent_once_per_period);
	ADD(test_renewal_at_end_date_gives_a_new_period_and_keeps_the_level);
	ADD(test_declined_renewal_expires_and_the_level_drops_to_free_at_once);
	ADD(test_cancelled_subscription_expires_at_end_date_without_a_charge);
	ADD(test_unreachable_provider_is_retried_within_the_grace_then_expires);
	ADD(test_job_fails_cleanly_without_mariadb);
	ADD(test_downgrade_caps_a_live_session_within_one_heartbeat);
	ADD(test_cap_is_set_from_mariadb_when_the_level_is_not_cached);
	ADD(test_expiry_by_the_job_caps_a_live_session_to_free);
	ADD(test_cap_holds_from_mariadb_while_redis_is_down);
	ADD(test_media_url_outlives_its_token_while_heartbeats_continue);
#undef ADD
	return 0;
}
