/*
 * Job "lifecycle": a subscription's life after its purchase. Before its end
 * an active subscription gets one "subscription.expiring" notice per
 * period; at its end an auto-renewing one is charged again and renewed in
 * place (the same row, the next period), anything else expires and the
 * user drops to Free at once (level republished, streams beyond the Free
 * plan's limits ended).
 *
 * Every change is written with its outbox event in one transaction, under
 * the subscription's row lock and re-checked there (still active, still
 * the same end date), so two runs never notify, renew or charge-and-record
 * twice. Every time compared or written is the run's now (--now).
 */
#include "worker.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_payment.h"
#include "sp_tier.h"
#include "sp_user.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>

/* At most this many subscriptions per step and run; the next run takes the rest. */
#define BATCH 5000

/* What a run did, for its log line. */
struct tally {
	long notices, renewed, expired, deferred;
};

/* A subscription and its plan as they stand now. */
struct sub {
	long long id, user_id, plan_id, validity;
	char end[32], method[33], plan_name[201], price[24], currency[4];
	int auto_renew, plan_active;
};

/* ---------------------------------------------------------------- reading */

/* The subscription's columns read below, in this order. */
#define SUB_COLS "user_id, plan_id, end_date, auto_renew, payment_method"
enum sub_col { SC_USER, SC_PLAN, SC_END, SC_RENEW, SC_METHOD };

static void sub_from(const sp_res *res, long long id, struct sub *s)
{
	memset(s, 0, sizeof *s);
	s->id = id;
	s->user_id = sp_res_ll(res, 0, SC_USER, 0);
	s->plan_id = sp_res_ll(res, 0, SC_PLAN, 0);
	snprintf(s->end, sizeof s->end, "%s", sp_res_str(res, 0, SC_END));
	s->auto_renew = sp_res_ll(res, 0, SC_RENEW, 0) == 1;
	snprintf(s->method, sizeof s->method, "%s",
	         sp_res_str(res, 0, SC_METHOD) ? sp_res_str(res, 0, SC_METHOD) : "");
}

/* The plan's current terms into s (the renewal charges today's price). 0 ok. */
static int plan_of(struct sub *s)
{
	enum { P_NAME, P_PRICE, P_CURRENCY, P_ACTIVE, P_VALIDITY };
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT name, price, currency, is_active, validity_days FROM plans WHERE "
	                "id = ?",
	                "l", s->plan_id) != 0)
		return -1;
	if (res.nrows == 1) {
		sp_utf8_copy(s->plan_name, sizeof s->plan_name, sp_res_str(&res, 0, P_NAME));
		snprintf(s->price, sizeof s->price, "%s", sp_res_str(&res, 0, P_PRICE));
		snprintf(s->currency, sizeof s->currency, "%s", sp_res_str(&res, 0, P_CURRENCY));
		s->plan_active = sp_res_ll(&res, 0, P_ACTIVE, 0) == 1;
		s->validity = sp_res_ll(&res, 0, P_VALIDITY, 30);
	}
	sp_res_free(&res);
	return 0;
}

/* The event's common part: which subscription of which plan (the mailer looks both up). */
static json_object *event_of(const struct sub *s)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "subscriptionId", json_object_new_int64(s->id));
	json_object_object_add(ev, "planId", json_object_new_int64(s->plan_id));
	json_object_object_add(ev, "planName", json_object_new_string(s->plan_name));
	return ev;
}

/* After a committed change: the user's next request sees the new level and documents. */
static void publish(long long uid)
{
	sp_level_publish(uid);
	sp_user_caches_drop(uid);
}

/* ---------------------------------------------------------------- expiring notice */

/* Due: active, not noticed this period, ending after now and within expiring_days of it. */
#define NOTICE_DUE                                                                                 \
	"status = 'active' AND expiring_notified_at IS NULL AND end_date > ? AND end_date <= ? "   \
	"+ INTERVAL ? DAY"

/* One notice, recorded with its event: 1 sent, 0 no longer due, -1 error. */
static int notice_one(long long id, const char *now)
{
	long long days = sp_cfg.lifecycle_expiring_days;
	struct sub s;
	json_object *ev;
	sp_res res;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res,
	                "SELECT " SUB_COLS " FROM subscriptions WHERE id = ? AND " NOTICE_DUE
	                " FOR UPDATE",
	                "lssl", id, now, now, days) != 0)
		goto fail;
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_db_rollback();
		return 0;
	}
	sub_from(&res, id, &s);
	sp_res_free(&res);
	if (plan_of(&s) != 0 ||
	    sp_db_exec("UPDATE subscriptions SET expiring_notified_at = ? WHERE id = ?", "sl", now,
	               id) != 1)
		goto fail;
	ev = event_of(&s);
	json_object_object_add(ev, "endDate", sp_json_dbtime(s.end));
	json_object_object_add(ev, "autoRenew", json_object_new_boolean(s.auto_renew));
	json_object_object_add(ev, "renewalAmount", sp_json_money(s.price));
	json_object_object_add(ev, "currency", json_object_new_string(s.currency));
	if (sp_outbox_add("subscription.expiring", s.user_id, ev) != 0 || sp_db_commit() != 0)
		goto fail;
	return 1;
fail:
	sp_db_rollback();
	return -1;
}

static int notices(const char *now, struct tally *t)
{
	sp_res res;
	int rc = 0;

	if (sp_db_query(
	        &res, "SELECT id FROM subscriptions WHERE " NOTICE_DUE " ORDER BY end_date LIMIT ?",
	        "ssll", now, now, (long long)sp_cfg.lifecycle_expiring_days, (long long)BATCH) != 0)
		return -1;
	for (size_t i = 0; i < res.nrows && rc >= 0; i++)
		if ((rc = notice_one(sp_res_ll(&res, i, 0, 0), now)) > 0)
			t->notices++;
	sp_res_free(&res);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- expiry */

/*
 * Opens the change's transaction with s locked, if it still stands as read:
 * active, at the same end date and, when renewing, still auto-renewing.
 * 1 locked, 0 changed meanwhile (rolled back), -1 error.
 */
static int lock_unchanged(const struct sub *s, int renewing)
{
	sp_res res;
	size_t n;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res,
	                "SELECT id FROM subscriptions WHERE id = ? AND status = 'active' AND "
	                "end_date = ? AND (? = 0 OR auto_renew = 1) FOR UPDATE",
	                "lsi", s->id, s->end, renewing) != 0) {
		sp_db_rollback();
		return -1;
	}
	n = res.nrows;
	sp_res_free(&res);
	if (n == 0)
		sp_db_rollback();
	return n > 0;
}

/*
 * Closes s (still active with the end date read) as expired, with its
 * event; then the user is at Free at once and loses the streams the Free
 * plan does not allow. 1 done, 0 changed meanwhile, -1 error.
 */
static int expire(const struct sub *s, const char *now, const char *reason, struct tally *t)
{
	json_object *ev;
	int locked = lock_unchanged(s, 0);

	if (locked <= 0)
		return locked;
	if (sp_db_exec("UPDATE subscriptions SET status = 'expired', ended_at = ?, auto_renew = 0 "
	               "WHERE id = ?",
	               "sl", now, s->id) != 1)
		goto fail;
	ev = event_of(s);
	json_object_object_add(ev, "endDate", sp_json_dbtime(s->end));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	if (sp_outbox_add("subscription.expired", s->user_id, ev) != 0 ||
	    sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l",
	               s->user_id) < 0 ||
	    sp_db_commit() != 0)
		goto fail;
	publish(s->user_id);
	if (enforce_user(s->user_id) < 0)
		sp_warn("lifecycle: streams of user %lld not checked (MariaDB)", s->user_id);
	sp_info("lifecycle: subscription %lld expired (%s)", s->id, reason);
	t->expired++;
	return 1;
fail:
	sp_db_rollback();
	return -1;
}

/* ---------------------------------------------------------------- renewal */

/* The renewal's event, with the new period as recorded. */
static json_object *renewed_event(const struct sub *s, const sp_charge_result *paid)
{
	json_object *ev = event_of(s);
	sp_res res;

	if (sp_db_query(&res, "SELECT start_date, end_date FROM subscriptions WHERE id = ?", "l",
	                s->id) == 0) {
		if (res.nrows == 1) {
			json_object_object_add(ev, "startDate",
			                       sp_json_dbtime(sp_res_str(&res, 0, 0)));
			json_object_object_add(ev, "endDate",
			                       sp_json_dbtime(sp_res_str(&res, 0, 1)));
		}
		sp_res_free(&res);
	}
	json_object_object_add(ev, "previousEndDate", sp_json_dbtime(s->end));
	json_object_object_add(ev, "transactionId", json_object_new_string(paid->transaction_id));
	json_object_object_add(ev, "amount", sp_json_money(s->price));
	json_object_object_add(ev, "currency", json_object_new_string(s->currency));
	json_object_object_add(ev, "paymentMethod", json_object_new_string(s->method));
	return ev;
}

/*
 * The paid renewal recorded in place: the next period starts at the old
 * end, the payment details are the new charge's (the trigger of migration
 * 0009 keeps the payment in subscription_payments), the expiring notice is
 * armed again. 1 done, 0 changed meanwhile (not renewed), -1 error.
 */
static int record_renewal(const struct sub *s, const char *now, const sp_charge_result *paid)
{
	int locked = lock_unchanged(s, 1);

	if (locked <= 0)
		return locked;
	/* assignments run left to right: start_date takes the old end_date */
	if (sp_db_exec("UPDATE subscriptions SET start_date = end_date, end_date = end_date + "
	               "INTERVAL ? DAY, transaction_id = ?, amount = ?, currency = ?, payment_date "
	               "= ?, expiring_notified_at = NULL WHERE id = ?",
	               "lssssl", s->validity, paid->transaction_id, s->price, s->currency, now,
	               s->id) != 1 ||
	    sp_outbox_add("subscription.renewed", s->user_id, renewed_event(s, paid)) != 0 ||
	    sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l",
	               s->user_id) < 0 ||
	    sp_db_commit() != 0)
		goto fail;
	return 1;
fail:
	sp_db_rollback();
	return -1;
}

/*
 * Charges the plan's current price with the subscription's payment method
 * (a free plan is renewed without a charge), outside any transaction, then
 * records it; a charge whose record fails is refunded. A decline expires
 * the subscription; a provider that cannot be reached is tried again by
 * the next runs until lifecycle.renew_grace_hours after the end, then the
 * subscription expires. 1 renewed or expired, 0 left for later, -1 error.
 */
static int renew(const struct sub *s, const char *now, int64_t now_ms, struct tally *t)
{
	const sp_payment_provider *pay = sp_payment_provider_get();
	int64_t grace_ms = sp_cfg.lifecycle_renew_grace_hours * 3600000LL;
	int free_plan = sp_payment_amount_is_zero(s->price), rc;
	sp_charge c = {s->user_id, s->plan_id, s->price, s->currency, s->method};
	sp_charge_result paid;

	memset(&paid, 0, sizeof paid);
	if (free_plan) {
		char rnd[25];
		sp_random_hex(rnd, 12);
		snprintf(paid.transaction_id, sizeof paid.transaction_id, "free_%s", rnd);
		paid.approved = 1;
	} else if (pay->charge(&c, &paid) != 0) {
		if (now_ms < sp_parse_db_time(s->end) + grace_ms) {
			sp_warn("lifecycle: subscription %lld: payment provider unreachable; "
			        "renewal retried on the next run",
			        s->id);
			t->deferred++;
			return 0;
		}
		return expire(s, now, "payment_unreachable", t);
	}
	if (!paid.approved)
		return expire(s, now, "payment_declined", t);
	if ((rc = record_renewal(s, now, &paid)) != 1) {
		if (!free_plan)
			pay->refund(paid.transaction_id);
		return rc;
	}
	publish(s->user_id);
	sp_info("lifecycle: subscription %lld renewed (%s)", s->id, paid.transaction_id);
	t->renewed++;
	return 1;
}

/* One subscription past its end: renewed or expired. 1 changed, 0 not, -1 error. */
static int end_one(long long id, const char *now, int64_t now_ms, struct tally *t)
{
	struct sub s;
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT " SUB_COLS " FROM subscriptions WHERE id = ? AND status = 'active' "
	                "AND end_date <= ?",
	                "ls", id, now) != 0)
		return -1;
	if (res.nrows == 0) {
		sp_res_free(&res);
		return 0;
	}
	sub_from(&res, id, &s);
	sp_res_free(&res);
	if (plan_of(&s) != 0)
		return -1;
	if (!s.auto_renew)
		return expire(&s, now, "cancelled", t);
	if (!s.plan_active)
		return expire(&s, now, "plan_unavailable", t);
	return renew(&s, now, now_ms, t);
}

static int ends(const char *now, int64_t now_ms, struct tally *t)
{
	sp_res res;
	int rc = 0;

	if (sp_db_query(&res,
	                "SELECT id FROM subscriptions WHERE status = 'active' AND end_date <= ? "
	                "ORDER BY end_date LIMIT ?",
	                "sl", now, (long long)BATCH) != 0)
		return -1;
	for (size_t i = 0; i < res.nrows && rc >= 0; i++)
		rc = end_one(sp_res_ll(&res, i, 0, 0), now, now_ms, t);
	sp_res_free(&res);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- the job */

int job_lifecycle(int64_t now_ms)
{
	struct tally t = {0, 0, 0, 0};
	char now[32];

	sp_db_time(now_ms, now);
	/* ends first: a subscription past its end needs no notice of it */
	if (ends(now, now_ms, &t) != 0 || notices(now, &t) != 0) {
		sp_error("lifecycle: database unavailable (%ld renewed, %ld expired, %ld notices "
		         "before it failed)",
		         t.renewed, t.expired, t.notices);
		return 1;
	}
	sp_info("lifecycle: %ld expiring notices, %ld renewed, %ld expired, %ld renewals deferred "
	        "(payment provider unreachable)",
	        t.notices, t.renewed, t.expired, t.deferred);
	return 0;
}
