/*
 * Job "mailer": mails the outbox's due events over SMTP. Rows are claimed in
 * small batches under a lease, sent, and then settled only while the lease
 * is still this run's, so parallel runs on any number of hosts share the work.
 */
#include "worker.h"
#include "mailer.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_smtp.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH       10
#define RUN_SECONDS 50 /* no new batch is claimed after this, so cron runs do not pile up */

/*
 * A claimed row is this run's until locked_until: long enough for a whole
 * batch to time out message by message. A run killed mid-batch leaves its
 * rows to be claimed again once the lease has passed.
 */
static int64_t lease_ms(void)
{
	return ((int64_t)BATCH * (sp_cfg.smtp_timeout + 5) + 60) * 1000;
}

/* ---------------------------------------------------------------- claim */

/* Up to BATCH due rows, leased to lease; their number, or -1 (database unavailable). */
static int claim(int64_t now, const char *lease, struct mail_event *ev)
{
	char at[32], until[32];
	sp_res res;
	size_t rows;
	int n = 0;

	sp_db_time(now, at);
	sp_db_time(now + lease_ms(), until);
	if (sp_db_begin() != 0)
		return -1;
	/* SKIP LOCKED: rows another run is claiming right now are left to it */
	if (sp_db_query(&res,
	                "SELECT id, event_type, user_id, payload, attempts FROM outbox WHERE "
	                "status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR "
	                "locked_until <= ?) ORDER BY next_attempt_at, id LIMIT 10 FOR UPDATE SKIP "
	                "LOCKED",
	                "ss", at, at) != 0) {
		sp_db_rollback();
		return -1;
	}
	for (size_t i = 0; i < res.nrows && n < BATCH; i++, n++) {
		ev[n].id = sp_res_ll(&res, i, 0, 0);
		snprintf(ev[n].type, sizeof ev[n].type, "%s", sp_res_str(&res, i, 1));
		ev[n].user_id = sp_res_ll(&res, i, 2, 0);
		ev[n].payload = sp_xstrdup(sp_res_str(&res, i, 3) ? sp_res_str(&res, i, 3) : "{}");
		ev[n].attempt = (int)sp_res_ll(&res, i, 4, 0) + 1;
		if (sp_db_exec(
		        "UPDATE outbox SET locked_until = ?, lease_id = ?, attempts = attempts "
		        "+ 1 WHERE id = ?",
		        "ssl", until, lease, ev[n].id) != 1)
			break;
	}
	rows = res.nrows;
	sp_res_free(&res);
	if ((size_t)n != rows || sp_db_commit() != 0) {
		sp_db_rollback();
		while (n > 0)
			free(ev[--n].payload);
		return -1;
	}
	return n;
}

/* ---------------------------------------------------------------- settle */

struct settle {
	const char *status; /* pending (retry or release), sent, failed, skipped */
	const char *next_at;
	const char *error;
	const char *reason;
	int untried; /* 1: released without an attempt, which is not counted */
};

/*
 * One statement for every outcome, guarded by the lease: a run whose lease
 * passed (and whose rows another run took) changes nothing, so sent_at is
 * set once. A settled event no longer needs a reset link's sealed token.
 * 1 settled, 0 the lease was lost, -1 database unavailable.
 */
static int settle(const struct mail_event *ev, const char *lease, const struct settle *s)
{
	long long n = sp_db_exec(
	    "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), "
	    "last_error = ?, skip_reason = ?, attempts = attempts - ?, sent_at = IF(? = 'sent', "
	    "UTC_TIMESTAMP(3), NULL), payload = IF(? = 'pending', payload, JSON_REMOVE(payload, "
	    "'$.sealedToken')), locked_until = NULL, lease_id = NULL WHERE id = ? AND lease_id = ? "
	    "AND status = 'pending'",
	    "ssssissls", s->status, s->next_at, s->error, s->reason, s->untried, s->status,
	    s->status, ev->id, lease);

	return n < 0 ? -1 : (int)n;
}

/* The wait before attempt + 1: mail.backoff_seconds doubled per attempt, capped. */
static int64_t backoff_ms(int attempt)
{
	int64_t s = sp_cfg.mail_backoff;

	for (int i = 1; i < attempt && s < sp_cfg.mail_backoff_max; i++)
		s *= 2;
	return (s < sp_cfg.mail_backoff_max ? s : sp_cfg.mail_backoff_max) * 1000;
}

/* One JSON line per outcome: event, type, user, attempt; never a token or a password. */
static void log_outcome(const struct mail_event *ev, const char *outcome, const char *detail,
                        const char *next_at)
{
	char msg[32], name[80];
	sp_buf kv;

	/* a fixed set of outcomes: sent, skipped, retry, failed, lease_lost */
	snprintf(name, sizeof name, "sp_mail_outcomes_total{outcome=\"%s\"}", outcome);
	sp_metrics_inc(name);
	sp_buf_init(&kv);
	sp_buf_addf(&kv, "\"job\":\"mailer\",\"outcome\":\"%s\",\"event_id\":%lld,\"type\":\"",
	            outcome, ev->id);
	sp_buf_add_json_escaped(&kv, ev->type, strlen(ev->type));
	sp_buf_addf(&kv, "\",\"user_id\":%lld,\"attempt\":%d", ev->user_id, ev->attempt);
	if (detail) {
		sp_buf_adds(&kv,
		            strcmp(outcome, "skipped") == 0 ? ",\"reason\":\"" : ",\"error\":\"");
		sp_buf_add_json_escaped(&kv, detail, strlen(detail));
		sp_buf_adds(&kv, "\"");
	}
	if (next_at)
		sp_buf_addf(&kv, ",\"next_attempt_at\":\"%s\"", next_at);
	snprintf(msg, sizeof msg, "mail %s", outcome);
	sp_log(strcmp(outcome, "sent") == 0 || strcmp(outcome, "skipped") == 0 ? SP_LOG_INFO
	                                                                       : SP_LOG_WARN,
	       msg, kv.data);
	sp_buf_free(&kv);
}

struct tally {
	int sent, retried, failed, skipped, lost;
};

/*
 * The run's lease passed and another run took the event meanwhile: its
 * outcome is that run's to record (a mail sent here may then go twice).
 */
static void lease_lost(const struct mail_event *ev, struct tally *t)
{
	log_outcome(ev, "lease_lost", "the lease expired before the outcome was recorded", NULL);
	t->lost++;
}

/* Settles a sent or skipped event. 0 done (or the lease was lost), -1 database unavailable. */
static int settle_done(const struct mail_event *ev, const char *lease, const char *reason,
                       struct tally *t)
{
	struct settle s = {reason ? "skipped" : "sent", NULL, NULL, reason, 0};
	int rc = settle(ev, lease, &s);

	if (rc > 0) {
		log_outcome(ev, s.status, reason, NULL);
		if (reason)
			t->skipped++;
		else
			t->sent++;
	} else if (rc == 0) {
		lease_lost(ev, t);
	}
	return rc < 0 ? -1 : 0;
}

/*
 * A failed attempt: again after the back-off, or parked as failed after the
 * last one (or at once when the relay refused the recipient for good).
 * 0 done (or the lease was lost), -1 database unavailable.
 */
static int settle_failure(const struct mail_event *ev, const char *lease, int64_t now,
                          const char *error, int permanent, struct tally *t)
{
	struct settle s = {"failed", NULL, error, NULL, 0};
	char next[32], iso[32];
	int rc;

	if (!permanent && ev->attempt < sp_cfg.mail_max_attempts) {
		sp_db_time(now + backoff_ms(ev->attempt), next);
		sp_iso8601(now + backoff_ms(ev->attempt), iso);
		s.status = "pending";
		s.next_at = next;
	}
	rc = settle(ev, lease, &s);
	if (rc > 0) {
		log_outcome(ev, s.next_at ? "retry" : "failed", error, s.next_at ? iso : NULL);
		if (s.next_at)
			t->retried++;
		else
			t->failed++;
	} else if (rc == 0) {
		lease_lost(ev, t);
	}
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- one event */

/* Mails one claimed event and settles it. 1: stop the run (relay down, database gone). */
static int process(const struct mail_event *ev, const char *lease, int64_t now, struct tally *t)
{
	struct settle untried = {"pending", NULL, NULL, NULL, 1};
	char why[256] = "", to[256];
	enum sp_smtp_result r;
	enum mail_build b;
	sp_buf msg;

	sp_buf_init(&msg);
	b = mail_build(ev, now, &msg, to, sizeof to, why, sizeof why);
	if (b == MAIL_UNAVAILABLE) {
		sp_buf_free(&msg);
		settle(ev, lease, &untried);
		return 1;
	}
	if (b == MAIL_SKIP) {
		sp_buf_free(&msg);
		return settle_done(ev, lease, why, t) != 0;
	}
	if (b == MAIL_ERROR) {
		sp_buf_free(&msg);
		return settle_failure(ev, lease, now, why, 0, t) != 0;
	}
	r = sp_smtp_send(to, msg.data, msg.len, why, sizeof why);
	sp_buf_free(&msg);
	if (r == SP_SMTP_SENT)
		return settle_done(ev, lease, NULL, t) != 0;
	return settle_failure(ev, lease, now, why, r == SP_SMTP_REJECTED, t) != 0 ||
	       r == SP_SMTP_DOWN;
}

/* Gives back the rows of a batch the run did not try (the relay is down): no attempt counted. */
static void release(const struct mail_event *ev, int n, const char *lease)
{
	struct settle s = {"pending", NULL, NULL, NULL, 1};

	for (int i = 0; i < n; i++)
		settle(&ev[i], lease, &s);
}

int job_mailer(int64_t now_ms)
{
	struct mail_event ev[BATCH];
	struct tally t = {0, 0, 0, 0, 0};
	int64_t until = sp_now_ms() + RUN_SECONDS * 1000;
	char lease[33];
	int n = 0, stop = 0, rc = 0;

	sp_random_hex(lease, 16);
	while (!stop && sp_now_ms() < until && (n = claim(now_ms, lease, ev)) != 0) {
		if (n < 0) {
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!stop)
				stop = process(&ev[i], lease, now_ms, &t);
			else
				release(&ev[i], 1, lease);
			free(ev[i].payload);
		}
	}
	if (n < 0 || rc)
		sp_error("mailer: database unavailable");
	sp_info("mailer: %d sent, %d to retry, %d failed, %d skipped%s", t.sent, t.retried,
	        t.failed, t.skipped, t.lost ? " (some leases lost to another run)" : "");
	return rc;
}
