/*
 * How an outbox event becomes a mail: the user's current name, address and
 * preferences, the event's own values, and the event type's two templates.
 */
#include "mailer.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_mail.h"
#include "sp_outbox.h"
#include "sp_user.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEMPLATE_MAX 65536

typedef enum mail_build (*vars_fn)(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                   char *why, size_t n);

static enum mail_build vars_reset(const struct mail_event *, int64_t, sp_mail_vars *, char *,
                                  size_t);
static enum mail_build vars_subscription(const struct mail_event *, int64_t, sp_mail_vars *, char *,
                                         size_t);
static enum mail_build vars_streams(const struct mail_event *, int64_t, sp_mail_vars *, char *,
                                    size_t);
static enum mail_build vars_locked(const struct mail_event *, int64_t, sp_mail_vars *, char *,
                                   size_t);
static enum mail_build vars_downloads(const struct mail_event *, int64_t, sp_mail_vars *, char *,
                                      size_t);

/* The events that are mailed, what each adds to the common values, and which are expiry notices. */
static const struct kind {
	const char *type;
	vars_fn vars;
	int expiry;
} kinds[] = {
    {"user.registered", NULL, 0},
    {"password.reset_requested", vars_reset, 0},
    {"password.changed", NULL, 0},
    {"account.locked", vars_locked, 0},
    {"subscription.created", vars_subscription, 0},
    {"subscription.renewed", vars_subscription, 0},
    {"subscription.cancelled", vars_subscription, 0},
    {"subscription.expiring", vars_subscription, 1},
    {"subscription.expired", vars_subscription, 1},
    {"stream.limit_exceeded", vars_streams, 0},
    {"download.revoked", vars_downloads, 0},
};

/* ---------------------------------------------------------------- values */

/* "6 December 2026" (with_time: ", 20:35 UTC") from Unix ms. */
static void human_time(int64_t ms, int with_time, char out[64])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 64, with_time ? "%-d %B %Y, %H:%M UTC" : "%-d %B %Y", &tm);
}

static void var_date(sp_mail_vars *vs, const char *name, const char *dbtime)
{
	char out[64] = "";
	int64_t ms = dbtime ? sp_parse_db_time(dbtime) : -1;

	if (ms >= 0)
		human_time(ms, 0, out);
	sp_mail_var(vs, name, out);
}

/* payload's member key as a JSON value (owned by p), or NULL. */
static json_object *member(json_object *p, const char *key)
{
	json_object *v = NULL;

	return p && json_object_object_get_ex(p, key, &v) ? v : NULL;
}

static enum mail_build vars_reset(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                  char *why, size_t n)
{
	json_object *p = json_tokener_parse(ev->payload);
	const char *exp = json_object_get_string(member(p, "expiresAt"));
	char token[256], iso[32] = "", when[64] = "";
	int64_t exp_ms = -1;
	sp_buf link;

	if (exp && strlen(exp) >= 19) { /* "2026-12-06T20:35:00.000Z" */
		snprintf(iso, sizeof iso, "%.10s %.8s", exp, exp + 11);
		exp_ms = sp_parse_db_time(iso);
	}
	json_object_put(p);
	if (exp_ms >= 0 && exp_ms <= now) {
		snprintf(why, n, "the reset link expired before it could be mailed");
		return MAIL_SKIP;
	}
	/* dropped once the reset was used, or by the resets job once it expired */
	if (sp_outbox_open_token(ev->payload, ev->type, ev->user_id, token, sizeof token) != 0) {
		snprintf(why, n, "the reset token is gone (used or expired)");
		return MAIL_SKIP;
	}
	sp_buf_init(&link);
	sp_buf_addf(&link, "%s/reset-password?token=%s", sp_cfg.public_url, token);
	sp_mail_var(vs, "resetLink", link.data);
	OPENSSL_cleanse(link.data, link.len);
	OPENSSL_cleanse(token, sizeof token);
	sp_buf_free(&link);
	if (exp_ms >= 0)
		human_time(exp_ms, 1, when);
	sp_mail_var(vs, "expiresAt", when);
	return MAIL_BUILT;
}

static enum mail_build vars_subscription(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                         char *why, size_t n)
{
	json_object *p = json_tokener_parse(ev->payload);
	long long sid = (long long)json_object_get_int64(member(p, "subscriptionId"));
	char price[64];
	sp_res res;
	int renews;

	(void)now;
	json_object_put(p);
	if (sid <= 0) {
		snprintf(why, n, "the event names no subscription");
		return MAIL_SKIP;
	}
	if (sp_db_query(&res,
	                "SELECT p.name, s.start_date, s.end_date, s.auto_renew, s.amount, "
	                "s.currency, s.cancel_reason FROM subscriptions s JOIN plans p ON p.id = "
	                "s.plan_id WHERE s.id = ? AND s.user_id = ?",
	                "ll", sid, ev->user_id) != 0)
		return MAIL_UNAVAILABLE;
	if (res.nrows == 0) {
		sp_res_free(&res);
		snprintf(why, n, "the subscription no longer exists");
		return MAIL_SKIP;
	}
	renews = sp_res_ll(&res, 0, 3, 0) == 1;
	snprintf(price, sizeof price, "%s %s", sp_res_str(&res, 0, 4) ? sp_res_str(&res, 0, 4) : "",
	         sp_res_str(&res, 0, 5) ? sp_res_str(&res, 0, 5) : "");
	sp_mail_var(vs, "plan", sp_res_str(&res, 0, 0));
	var_date(vs, "startDate", sp_res_str(&res, 0, 1));
	var_date(vs, "endDate", sp_res_str(&res, 0, 2));
	var_date(vs, "renewalDate", renews ? sp_res_str(&res, 0, 2) : NULL);
	sp_mail_var(vs, "autoRenew", renews ? "yes" : "");
	sp_mail_var(vs, "price", price);
	sp_mail_var(vs, "reason", sp_res_str(&res, 0, 6));
	sp_res_free(&res);
	return MAIL_BUILT;
}

static void var_int(sp_mail_vars *vs, const char *name, json_object *v)
{
	char s[32];

	snprintf(s, sizeof s, "%lld", (long long)json_object_get_int64(v));
	sp_mail_var(vs, name, s);
}

static enum mail_build vars_streams(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                    char *why, size_t n)
{
	json_object *p = json_tokener_parse(ev->payload);

	(void)now, (void)why, (void)n;
	var_int(vs, "endedSessions", member(p, "endedSessions"));
	var_int(vs, "maxStreams", member(p, "maxConcurrentStreams"));
	sp_mail_var(vs, "plan", json_object_get_string(member(p, "plan")));
	json_object_put(p);
	return MAIL_BUILT;
}

static enum mail_build vars_downloads(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                      char *why, size_t n)
{
	json_object *p = json_tokener_parse(ev->payload);

	(void)now, (void)why, (void)n;
	var_int(vs, "count", member(p, "count"));
	var_int(vs, "maxDownloads", member(p, "maxDownloads"));
	sp_mail_var(vs, "plan", json_object_get_string(member(p, "plan")));
	json_object_put(p);
	return MAIL_BUILT;
}

static enum mail_build vars_locked(const struct mail_event *ev, int64_t now, sp_mail_vars *vs,
                                   char *why, size_t n)
{
	json_object *p = json_tokener_parse(ev->payload);
	long long secs = (long long)json_object_get_int64(member(p, "lockoutSeconds"));
	char s[32];

	(void)now, (void)why, (void)n;
	json_object_put(p);
	snprintf(s, sizeof s, "%lld", secs > 0 ? (secs + 59) / 60 : 0);
	sp_mail_var(vs, "lockoutMinutes", s);
	return MAIL_BUILT;
}

/* ---------------------------------------------------------------- the user */

struct recipient {
	char name[512];
	char email[256];
};

/*
 * The user as of now. A suppressed event gets its reason in why: the mail
 * is off for the user (a reset link, asked for explicitly and the only way
 * back in, is mailed anyway) or, for expiry notices, expiry notices are.
 */
static enum mail_build load_user(const struct mail_event *ev, const struct kind *k,
                                 struct recipient *u, char *why, size_t n)
{
	json_object *prefs, *notes, *email_on, *expiry_on;
	sp_res res;

	if (sp_db_query(&res, "SELECT name, email, preferences FROM users WHERE id = ?", "l",
	                ev->user_id) != 0)
		return MAIL_UNAVAILABLE;
	if (res.nrows == 0 || sp_res_str(&res, 0, 1) == NULL) {
		sp_res_free(&res);
		snprintf(why, n, "the account no longer exists");
		return MAIL_SKIP;
	}
	snprintf(u->name, sizeof u->name, "%s",
	         sp_res_str(&res, 0, 0) ? sp_res_str(&res, 0, 0) : "");
	snprintf(u->email, sizeof u->email, "%s", sp_res_str(&res, 0, 1));
	prefs = sp_user_preferences(sp_res_str(&res, 0, 2));
	sp_res_free(&res);
	notes = member(prefs, "notifications");
	email_on = member(notes, "email");
	expiry_on = member(notes, "expiry");
	why[0] = '\0';
	if (strcmp(k->type, "password.reset_requested") != 0 && email_on &&
	    !json_object_get_boolean(email_on))
		snprintf(why, n, "notifications.email is off");
	else if (k->expiry && expiry_on && !json_object_get_boolean(expiry_on))
		snprintf(why, n, "notifications.expiry is off");
	json_object_put(prefs);
	return why[0] ? MAIL_SKIP : MAIL_BUILT;
}

/* ---------------------------------------------------------------- templates */

/* <mail.templates_dir>/<type>.<ext>, whole (at most TEMPLATE_MAX bytes), or NULL. */
static char *read_template(const char *type, const char *ext)
{
	char path[4096];
	FILE *f;
	char *s;
	size_t n;

	snprintf(path, sizeof path, "%s/%s.%s", sp_cfg.mail_templates_dir, type, ext);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	s = sp_xmalloc(TEMPLATE_MAX + 1);
	n = fread(s, 1, TEMPLATE_MAX + 1, f);
	fclose(f);
	if (n > TEMPLATE_MAX) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* Both parts rendered and the message composed into msg. */
static enum mail_build render(const char *type, const sp_mail_vars *vs, const struct recipient *u,
                              sp_buf *msg, char *why, size_t n)
{
	char *txt = read_template(type, "txt"), *html = read_template(type, "html");
	char subject[1024];
	const char *body = NULL;
	enum mail_build rc = MAIL_ERROR;
	sp_buf t, h;

	sp_buf_init(&t);
	sp_buf_init(&h);
	if (txt == NULL || html == NULL)
		snprintf(why, n, "template %s.txt or %s.html missing or over %d bytes in %s", type,
		         type, TEMPLATE_MAX, sp_cfg.mail_templates_dir);
	else if (sp_mail_render(txt, vs, SP_MAIL_TEXT, &t, why, n) == 0 &&
	         sp_mail_render(html, vs, SP_MAIL_HTML, &h, why, n) == 0) {
		if (sp_mail_split_subject(t.data ? t.data : "", subject, sizeof subject, &body) !=
		    0)
			snprintf(why, n, "template %s.txt does not start with 'Subject:'", type);
		else {
			sp_mail_msg m = {sp_cfg.smtp_from, u->name,    u->email, subject, body,
			                 h.data,           sp_now_ms()};
			rc = sp_mail_compose(&m, msg) == 0 ? MAIL_BUILT : MAIL_SKIP;
			if (rc == MAIL_SKIP)
				snprintf(why, n, "the address cannot be mailed");
		}
	}
	if (t.data)
		OPENSSL_cleanse(t.data, t.len); /* a reset link */
	if (h.data)
		OPENSSL_cleanse(h.data, h.len);
	sp_buf_free(&t);
	sp_buf_free(&h);
	free(txt);
	free(html);
	return rc;
}

enum mail_build mail_build(const struct mail_event *ev, int64_t now, sp_buf *msg, char *to,
                           size_t ton, char *why, size_t whyn)
{
	const struct kind *k = NULL;
	struct recipient u;
	sp_mail_vars vs = {.n = 0};
	enum mail_build rc;

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i].type, ev->type) == 0)
			k = &kinds[i];
	if (k == NULL) {
		snprintf(why, whyn, "no mail for this event type");
		return MAIL_SKIP;
	}
	if (ev->user_id <= 0) {
		snprintf(why, whyn, "the event has no user");
		return MAIL_SKIP;
	}
	if ((rc = load_user(ev, k, &u, why, whyn)) != MAIL_BUILT)
		return rc;
	sp_mail_var(&vs, "name", u.name);
	sp_mail_var(&vs, "email", u.email);
	sp_mail_var(&vs, "siteUrl", sp_cfg.public_url);
	if (k->vars == NULL || (rc = k->vars(ev, now, &vs, why, whyn)) == MAIL_BUILT)
		rc = render(k->type, &vs, &u, msg, why, whyn);
	sp_mail_vars_free(&vs);
	snprintf(to, ton, "%s", u.email);
	return rc;
}
