/*
 * The plans and subscriptions area: the public plan list and admin plan
 * writes (plans.c), subscribing through the payment provider, status,
 * history, cancel.
 */
#include "plans.h"
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_gate.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_payment.h"
#include "sp_sub.h"
#include "sp_tier.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* POST /subscriptions/subscribe */
struct subscribe_in {
	long long plan_id;
	char method[64];
	int auto_renew;
};

/* GET /subscriptions/history */
struct history_in {
	long long page, limit;
};

/* PUT /subscriptions/cancel */
struct cancel_in {
	char reason[2001];
	int has_reason;
};

static int subs_subscribe(sp_req *r);
static int subs_status(sp_req *r);
static int subs_history(sp_req *r);
static int subs_cancel(sp_req *r);
static int parse_subscribe(sp_req *r, void *in);
static int parse_history(sp_req *r, void *in);
static int parse_cancel(sp_req *r, void *in);

static const sp_route routes[] = {
    {"GET", "/subscriptions/plans", plans_list, SP_AUTH_NONE, SP_NO_BODY, plans_list_key, NULL,
     SP_INPUT(plans_parse_list, struct plans_list_in)},
    {"GET", "/subscriptions/plans/:planId", plans_get, SP_AUTH_OPTIONAL, SP_NO_BODY, NULL, NULL,
     SP_INPUT(plans_parse_id, struct plan_id_in)},
    {"POST", "/subscriptions/plans", plans_create, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(plans_parse_create, struct plan_in)},
    {"PUT", "/subscriptions/plans/:planId", plans_update, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(plans_parse_update, struct plan_update_in)},
    {"DELETE", "/subscriptions/plans/:planId", plans_delete, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL,
     SP_INPUT(plans_parse_id, struct plan_id_in)},
    {"POST", "/subscriptions/subscribe", subs_subscribe, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_subscribe, struct subscribe_in)},
    {"GET", "/subscriptions/status", subs_status, SP_AUTH_REQUIRED, SP_NO_BODY, sp_prefetch_sub,
     NULL, SP_NO_INPUT},
    {"GET", "/subscriptions/history", subs_history, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_INPUT(parse_history, struct history_in)},
    {"PUT", "/subscriptions/cancel", subs_cancel, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_cancel, struct cancel_in)},
};

/* ---------------------------------------------------------------- subscribe */

static json_object *load_sub(long long sub_id, int *err)
{
	sp_res res;
	json_object *s = NULL;

	*err = 0;
	if (sp_db_query(&res,
	                "SELECT " SP_SUB_COLS
	                " FROM subscriptions s JOIN plans p ON p.id = s.plan_id "
	                "WHERE s.id = ?",
	                "l", sub_id) != 0) {
		*err = 1;
		return NULL;
	}
	if (res.nrows == 1)
		s = sp_sub_json(&res, 0, 0);
	sp_res_free(&res);
	return s;
}

/* After a committed change: the next request sees the new level and documents. */
static void publish(long long uid)
{
	sp_level_publish(uid);
	sp_user_caches_drop(uid);
}

/* {planId, paymentMethod, autoRenew?}: a plan id may come as a number or a string. */
static int parse_subscribe(sp_req *r, void *in)
{
	struct subscribe_in *q = in;
	json_object *v;

	if (!json_object_object_get_ex(r->json, "planId", &v) || v == NULL)
		sp_field_error_add(r, "planId", "is required");
	else if (!(json_object_is_type(v, json_type_int) &&
	           (q->plan_id = json_object_get_int64(v)) > 0) &&
	         !(json_object_is_type(v, json_type_string) &&
	           sp_parse_ll(json_object_get_string(v), 1, (long long)1 << 62, &q->plan_id) == 0))
		sp_field_error_add(r, "planId", "must be a plan id");
	if (sp_v_text(r, r->json, "paymentMethod", 1, 1, 32, q->method, sizeof q->method) ==
	        SP_V_OK &&
	    !sp_payment_provider_get()->supports(q->method))
		sp_field_error_add(r, "paymentMethod",
		                   "must be one of card, paypal, bank_transfer");
	q->auto_renew = 1;
	sp_v_bool(r, r->json, "autoRenew", 0, &q->auto_renew);
	return 0;
}

/* What is being bought, as the plan stands now. */
struct offer {
	char amount[24], currency[4], plan_name[201];
	long long validity;
	int level;
};

/* The plan if it is on sale: 0; else 404, 400 (no longer offered) or 503 answered. */
static int load_offer(sp_req *r, long long plan_id, struct offer *o)
{
	enum { PRICE, CURRENCY, VALIDITY, ACTIVE, NAME, LEVEL };
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT price, currency, validity_days, is_active, name, access_level FROM "
	                "plans WHERE id = ?",
	                "l", plan_id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Plan not found");
	}
	if (sp_res_ll(&res, 0, ACTIVE, 0) != 1) {
		sp_res_free(&res);
		sp_field_error_add(r, "planId", "plan is no longer offered");
		return sp_fail_validation(r);
	}
	snprintf(o->amount, sizeof o->amount, "%s", sp_res_str(&res, 0, PRICE));
	snprintf(o->currency, sizeof o->currency, "%s", sp_res_str(&res, 0, CURRENCY));
	o->validity = sp_res_ll(&res, 0, VALIDITY, 30);
	sp_utf8_copy(o->plan_name, sizeof o->plan_name, sp_res_str(&res, 0, NAME));
	o->level = (int)sp_res_ll(&res, 0, LEVEL, 0);
	sp_res_free(&res);
	return 0;
}

/* The outbox event of a new subscription (its id is added once known). */
static json_object *created_event(long long plan_id, const struct offer *o, const char *txn)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "planId", json_object_new_int64(plan_id));
	json_object_object_add(ev, "planName", json_object_new_string(o->plan_name));
	json_object_object_add(ev, "accessLevel", json_object_new_string(sp_tier_name(o->level)));
	json_object_object_add(ev, "amount", sp_json_money(o->amount));
	json_object_object_add(ev, "currency", json_object_new_string(o->currency));
	json_object_object_add(ev, "transactionId", json_object_new_string(txn));
	return ev;
}

/*
 * Replaces the active subscription and inserts the paid one under the
 * user's row lock, so two concurrent subscribes serialise and the
 * one-active-per-user index never trips; the event commits with it.
 * Returns the new subscription's id, or 0 after a rollback.
 */
static long long record_subscription(long long uid, const struct subscribe_in *q,
                                     const struct offer *o, const char *txn)
{
	json_object *ev = created_event(q->plan_id, o, txn);
	long long sub_id = 0;
	sp_res res;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM users WHERE id = ? FOR UPDATE", "l", uid) != 0)
		goto out;
	sp_res_free(&res);
	if (sp_db_exec("UPDATE subscriptions SET status = IF(end_date <= UTC_TIMESTAMP(3), "
	               "'expired', 'replaced'), ended_at = UTC_TIMESTAMP(3), auto_renew = 0 WHERE "
	               "user_id = ? AND status = 'active'",
	               "l", uid) < 0 ||
	    sp_db_exec(
	        "INSERT INTO subscriptions (user_id, plan_id, status, start_date, end_date, "
	        "auto_renew, transaction_id, amount, currency, payment_method, payment_date) "
	        "VALUES (?, ?, 'active', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? DAY, "
	        "?, ?, ?, ?, ?, UTC_TIMESTAMP(3))",
	        "lllissss", uid, q->plan_id, o->validity, q->auto_renew, txn, o->amount,
	        o->currency, q->method) != 1)
		goto out;
	sub_id = (long long)sp_db_insert_id();
	json_object_object_add(ev, "subscriptionId", json_object_new_int64(sub_id));
	if (sp_outbox_add("subscription.created", uid, json_object_get(ev)) != 0 ||
	    sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l", uid) <
	        0 ||
	    sp_db_commit() != 0)
		sub_id = 0;
out:
	json_object_put(ev);
	if (sub_id == 0)
		sp_db_rollback();
	return sub_id;
}

/* 200 (or 201) with the subscription as it now stands. */
static int reply_sub(sp_req *r, int status, long long sub_id, const char *msg)
{
	int err;
	json_object *sub = load_sub(sub_id, &err), *data;

	if (sub == NULL)
		return sp_unavailable(r);
	data = json_object_new_object();
	json_object_object_add(data, "subscription", sub);
	sp_ok(r, status, msg, data);
	return 0;
}

static int subs_subscribe(sp_req *r)
{
	const struct subscribe_in *q = r->in;
	const sp_payment_provider *pay = sp_payment_provider_get();
	struct offer o;
	sp_charge charge;
	sp_charge_result paid;
	long long sub_id;

	if (load_offer(r, q->plan_id, &o) != 0)
		return -1;
	charge.user_id = r->user_id;
	charge.plan_id = q->plan_id;
	charge.amount = o.amount;
	charge.currency = o.currency;
	charge.method = q->method;
	if (pay->charge(&charge, &paid) != 0)
		return sp_unavailable(r);
	if (!paid.approved)
		return sp_fail(r, 400, "PAYMENT_DECLINED", "The payment was declined");
	if ((sub_id = record_subscription(r->user_id, q, &o, paid.transaction_id)) == 0) {
		pay->refund(paid.transaction_id);
		return sp_unavailable(r);
	}
	publish(r->user_id);
	return reply_sub(r, 201, sub_id, "Subscription activated");
}

/* ---------------------------------------------------------------- status */

/*
 * The status document is cached per user as "<endMs>|<json>": a hit past
 * the subscription's end is ignored, so an expiry shows at once.
 */
static int subs_status(sp_req *r)
{
	json_object *sub = NULL, *data, *devs;
	const char *bar;
	char key[64];
	long long end_ms = 0;

	if (r->prefetched && (bar = strchr(r->prefetched, '|')) != NULL) {
		end_ms = strtoll(r->prefetched, NULL, 10);
		if (end_ms == 0 || end_ms > sp_now_ms()) {
			sp_metrics_cache_lookup("status", 1);
			sp_ok_raw(r, 200, bar + 1);
			return 0;
		}
	}
	sp_metrics_cache_lookup("status", 0);
	if (sp_sub_current(r->user_id, &sub) != 0)
		return sp_unavailable(r);
	if (sp_user_devices(r->user_id, &devs) != 0) {
		json_object_put(sub);
		return sp_unavailable(r);
	}
	data = json_object_new_object();
	if (sub) {
		json_object *e;
		json_object_object_add(sub, "devices", devs);
		if (json_object_object_get_ex(sub, "endDate", &e) && e) {
			/* "…Z" back to ms */
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			if (strptime(json_object_get_string(e), "%Y-%m-%dT%H:%M:%S", &tm))
				end_ms = (long long)timegm(&tm) * 1000;
		}
		json_object_object_add(data, "subscription", sub);
	} else {
		json_object_put(devs);
		json_object_object_add(data, "subscription", NULL);
		json_object_object_add(data, "message",
		                       json_object_new_string("No active subscription; you are on "
		                                              "the Free tier"));
		end_ms = 0;
	}
	{
		sp_buf b;
		sp_buf_init(&b);
		sp_buf_addf(&b, "%lld|%s", end_ms, sp_json_text(data));
		sp_key_sub(key, sizeof key, r->user_id);
		sp_kv_set(key, b.data, b.len, sp_cfg.cache_ttl, SP_KV_NX);
		sp_buf_free(&b);
	}
	sp_ok(r, 200, NULL, data);
	return 0;
}

static int parse_history(sp_req *r, void *in)
{
	struct history_in *q = in;

	sp_v_query_int(r, "page", 1, 1, 1000000, &q->page);
	sp_v_query_int(r, "limit", 20, 1, 50, &q->limit);
	return 0;
}

static int subs_history(sp_req *r)
{
	const struct history_in *q = r->in;
	long long page = q->page, limit = q->limit, total;
	sp_res res;
	json_object *arr, *data, *extra, *pg;

	if (sp_db_query(&res, "SELECT COUNT(*) FROM subscriptions WHERE user_id = ?", "l",
	                r->user_id) != 0)
		return sp_unavailable(r);
	total = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (sp_db_query(
	        &res,
	        "SELECT " SP_SUB_COLS " FROM subscriptions s JOIN plans p ON p.id = s.plan_id "
	        "WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?",
	        "lll", r->user_id, limit, (page - 1) * limit) != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, sp_sub_json(&res, i, 0));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "subscriptions", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	pg = json_object_new_object();
	json_object_object_add(pg, "page", json_object_new_int64(page));
	json_object_object_add(pg, "limit", json_object_new_int64(limit));
	json_object_object_add(pg, "total", json_object_new_int64(total));
	json_object_object_add(pg, "pages", json_object_new_int64((total + limit - 1) / limit));
	json_object_object_add(extra, "pagination", pg);
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

/* ---------------------------------------------------------------- cancel */

static int parse_cancel(sp_req *r, void *in)
{
	struct cancel_in *q = in;

	q->has_reason =
	    sp_v_text(r, r->json, "reason", 0, 0, 500, q->reason, sizeof q->reason) == SP_V_OK;
	return 0;
}

static int subs_cancel(sp_req *r)
{
	const struct cancel_in *q = r->in;
	const char *reason = q->has_reason ? q->reason : NULL;
	sp_res res;
	long long sub_id;
	json_object *ev;

	if (sp_db_begin() != 0 ||
	    sp_db_query(
	        &res,
	        "SELECT id, cancelled_at IS NOT NULL FROM subscriptions WHERE user_id = ? AND "
	        "status = 'active' AND end_date > UTC_TIMESTAMP(3) FOR UPDATE",
	        "l", r->user_id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "No active subscription to cancel");
	}
	sub_id = sp_res_ll(&res, 0, 0, 0);
	if (sp_res_ll(&res, 0, 1, 0)) {
		sp_res_free(&res);
		return sp_fail(r, 409, "CONFLICT", "The subscription is already cancelled");
	}
	sp_res_free(&res);
	/* access continues until end_date; only the renewal stops */
	if (sp_db_exec("UPDATE subscriptions SET auto_renew = 0, cancelled_at = UTC_TIMESTAMP(3), "
	               "cancel_reason = ? WHERE id = ?",
	               "sl", reason, sub_id) != 1)
		return sp_unavailable(r);
	ev = json_object_new_object();
	json_object_object_add(ev, "subscriptionId", json_object_new_int64(sub_id));
	json_object_object_add(ev, "reason", sp_json_str_or_null(reason));
	if (sp_outbox_add("subscription.cancelled", r->user_id, ev) != 0 ||
	    sp_db_exec("UPDATE users SET updated_at = UTC_TIMESTAMP(3) WHERE id = ?", "l",
	               r->user_id) < 0 ||
	    sp_db_commit() != 0)
		return sp_unavailable(r);
	publish(r->user_id);
	return reply_sub(r, 200, sub_id,
	                 "Subscription cancelled; access continues until the end date");
}

static int init(void)
{
	plans_init();
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"subscriptions", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
