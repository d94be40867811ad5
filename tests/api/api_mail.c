/*
 * API tests of the mail suite: the worker job "mailer" run by scripts/dev
 * against the test stack, whose SMTP capture server stores every message it
 * accepts as a file under var/<stack>/mail/ (the directory of SP_CONFIG).
 * Each test mails its own fresh addresses and counts only their messages.
 */
#include "api_client.h"
#include "sp_outbox.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the stack */

static int smtp_stopped;

static const char *dev(void)
{
	const char *d = getenv("SP_DEV");

	if (d == NULL || *d == '\0' || strchr(d, '\'')) {
		EXPECT(0, "SP_DEV must name scripts/dev");
		return NULL;
	}
	return d;
}

/*
 * scripts/dev worker mailer [--now NOW] with extra environment env ("A=1"),
 * its log (stderr) into *log (malloc'd); the exit status.
 */
static int mailer(const char *env, const char *now, char **log)
{
	return api_run_worker(env, "mailer", now, log);
}

/* Runs the mailer once, expecting it to succeed. */
static void run_mailer(const char *env, const char *now)
{
	char *log = NULL;
	int rc = mailer(env, now, &log);

	EXPECT(rc == 0, "sp-worker mailer exits 0, got %d: %.400s", rc, log);
	free(log);
}

static void smtp(const char *action)
{
	int rc = api_dev_service(action, "smtp", NULL);

	EXPECT(rc == 0, "scripts/dev %s smtp succeeds", action);
	smtp_stopped = strcmp(action, "stop") == 0 && rc == 0;
}

/* ---------------------------------------------------------------- captured mail */

typedef struct mail {
	char *raw;     /* the whole file */
	char *headers; /* the header block (the capture's own lines included) */
	char *text;    /* the decoded text/plain part ("" when absent) */
	char *html;    /* the decoded text/html part */
} mail;

static void mail_free(mail *m)
{
	free(m->raw);
	free(m->headers);
	free(m->text);
	free(m->html);
	memset(m, 0, sizeof *m);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	return s;
}

/* The base64 body of the part of type (e.g. "text/html"), decoded; "" when absent. */
static char *part(const char *raw, const char *type)
{
	char want[64];
	const char *p, *body, *end;
	char *b64, *out;
	size_t n = 0;
	int len;

	snprintf(want, sizeof want, "Content-Type: %s;", type);
	p = strstr(raw, want);
	body = p ? strstr(p, "\r\n\r\n") : NULL;
	end = body ? strstr(body + 4, "\r\n--") : NULL;
	if (body == NULL || end == NULL)
		return strdup("");
	body += 4;
	b64 = calloc(1, (size_t)(end - body) + 1);
	for (const char *q = body; q < end; q++)
		if (*q != '\r' && *q != '\n')
			b64[n++] = *q;
	out = calloc(1, n + 1);
	len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)b64, (int)n);
	if (len < 0)
		len = 0;
	while (len > 0 && n > 0 && b64[n - 1] == '=') { /* the padding decodes as NULs */
		len--;
		n--;
	}
	out[len] = '\0';
	free(b64);
	return out;
}

/*
 * The messages captured in dir whose envelope recipient is addr, into out
 * (at most max, each to be freed with mail_free); how many there are in all.
 */
static int mails_in(const char *dir, const char *addr, mail *out, int max)
{
	char line[300], path[2048];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(line, sizeof line, "X-Capture-Rcpt-To: %s\r\n", addr);
	if ((d = opendir(dir)) == NULL) {
		EXPECT(0, "the capture server's directory %s exists", dir);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		char *raw, *hdr_end;
		if (e->d_name[0] == '.' || strstr(e->d_name, ".eml") == NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		raw = read_file(path);
		hdr_end = raw ? strstr(raw, "\r\n\r\n") : NULL;
		if (hdr_end == NULL || strstr(raw, line) == NULL || strstr(raw, line) > hdr_end) {
			free(raw);
			continue;
		}
		if (n < max) {
			out[n].raw = raw;
			out[n].headers = strndup(raw, (size_t)(hdr_end - raw) + 2);
			out[n].text = part(raw, "text/plain");
			out[n].html = part(raw, "text/html");
		} else {
			free(raw);
		}
		n++;
	}
	closedir(d);
	return n;
}

/* The stack's captured messages to addr (the capture server's directory next to SP_CONFIG). */
static int mails_to(const char *addr, mail *out, int max)
{
	const char *conf = getenv("SP_CONFIG");
	char dir[1024];

	snprintf(dir, sizeof dir, "%s", conf ? conf : "");
	if (strrchr(dir, '/'))
		strcpy(strrchr(dir, '/'), "/mail");
	return mails_in(dir, addr, out, max);
}

/* How many of the first n mails have a text part containing needle. */
static int count_text(const mail *m, int n, const char *needle)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += m[i].text && strstr(m[i].text, needle) != NULL;
	return c;
}

static void free_all(mail *m, int n)
{
	for (int i = 0; i < n; i++)
		mail_free(&m[i]);
}

/* ---------------------------------------------------------------- users */

/* POST /auth/register with a given name (JSON-escaped here); 0 ok. */
static int register_named(api_user *u, const char *prefix, const char *name)
{
	json_object *b = json_object_new_object();
	api_resp r;
	int rc;

	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", name);
	api_unique_email(u->email, sizeof u->email, prefix);
	snprintf(u->password, sizeof u->password, "Passw0rdMail");
	json_object_object_add(b, "name", json_object_new_string(name));
	json_object_object_add(b, "email", json_object_new_string(u->email));
	json_object_object_add(b, "password", json_object_new_string(u->password));
	api_send(&r, "POST", "/api/v1/auth/register", NULL, json_object_to_json_string(b));
	json_object_put(b);
	EXPECT_STATUS(r, 201);
	snprintf(u->id, sizeof u->id, "%s",
	         api_jstr(r.json, "data.user.id") ? api_jstr(r.json, "data.user.id") : "");
	api_take_str(&u->token, &r, "data.token");
	rc = r.status == 201 && u->token ? 0 : -1;
	api_free(&r);
	return rc;
}

static void cancel(const api_user *u)
{
	api_resp r;

	api_send(&r, "PUT", "/api/v1/subscriptions/cancel", u->token, "{\"reason\":\"testing\"}");
	EXPECT_STATUS(r, 200);
	api_free(&r);
}

static void forgot(const api_user *u)
{
	char body[256];
	api_resp r;

	snprintf(body, sizeof body, "{\"email\":\"%s\"}", u->email);
	api_send(&r, "POST", "/api/v1/auth/forgot-password", NULL, body);
	EXPECT_STATUS(r, 200);
	api_free(&r);
}

/* The outbox row of user uid and type: "status attempts" etc. as one string (malloc'd). */
static char *event_state(const char *uid, const char *type)
{
	char sql[400];

	snprintf(sql, sizeof sql,
	         "SELECT CONCAT(status, ' ', attempts, ' ', sent_at IS NOT NULL) FROM outbox "
	         "WHERE user_id = ? AND event_type = '%s' ORDER BY id DESC LIMIT 1",
	         type);
	return api_db_str_l(sql, atoll(uid));
}

#define EXPECT_EVENT(uid, type, want)                                                              \
	do {                                                                                       \
		char *st_ = event_state((uid), (type));                                            \
		EXPECT(st_ &&strcmp(st_, (want)) == 0,                                             \
		       "outbox %s of user %s: \"status attempts sent\" is \"%s\", want \"%s\"",    \
		       (type), (uid), st_ ? st_ : "(none)", (want));                               \
		free(st_);                                                                         \
	} while (0)

/* ---------------------------------------------------------------- tests */

static void test_mailer_sends_register_subscribe_cancel_mails_once_each(void)
{
	api_user u;
	mail m[8];
	int n;

	if (register_named(&u, "mail-once", "Mia Once") != 0 || api_subscribe(&u, 3) != 0)
		goto out;
	cancel(&u);
	run_mailer(NULL, NULL);
	run_mailer(NULL, NULL); /* a second run finds nothing more to send */
	n = mails_to(u.email, m, 8);
	EXPECT(n == 3, "3 mails to %s (welcome, subscribed, cancelled), got %d", u.email, n);
	if (n <= 8) {
		EXPECT(count_text(m, n, "Your account ") == 1, "one welcome mail");
		EXPECT(count_text(m, n, "subscription (14.99 USD) is active") == 1,
		       "one subscription mail naming the plan's price");
		EXPECT(count_text(m, n, "will not renew. You keep watching until") == 1,
		       "one cancellation mail with the end date");
		EXPECT(count_text(m, n, "Hello Mia Once,") == n,
		       "every mail greets the user by name");
		for (int i = 0; i < n && i < 8; i++)
			EXPECT(strstr(m[i].headers, "\r\nTo: Mia Once <") != NULL &&
			           strstr(m[i].headers, "\r\nMessage-ID: <") != NULL &&
			           strstr(m[i].headers, "\r\nDate: ") != NULL &&
			           strstr(m[i].headers, "multipart/alternative; boundary=") !=
			               NULL &&
			           strstr(m[i].html, "<p>Hello Mia Once,</p>") != NULL,
			       "headers and both parts: %.600s", m[i].headers);
		free_all(m, n < 8 ? n : 8);
	}
	EXPECT_EVENT(u.id, "user.registered", "sent 1 1");
	EXPECT_EVENT(u.id, "subscription.created", "sent 1 1");
	EXPECT_EVENT(u.id, "subscription.cancelled", "sent 1 1");
out:
	api_user_free(&u);
}

/* The end date of subscription id as the mails write it ("6 January 2027"); malloc'd. */
static char *mail_date(long long id)
{
	return api_db_str_l(
	    "SELECT DATE_FORMAT(end_date, '%e %M %Y') FROM subscriptions WHERE id = ?", id);
}

/* Moves subscription id's end to now + seconds, then runs the lifecycle job once. */
static void lifecycle_at(long long id, long seconds)
{
	char q[300], err[200];
	const char *d = dev();

	snprintf(q, sizeof q,
	         "UPDATE subscriptions SET end_date = UTC_TIMESTAMP(3) + INTERVAL %ld SECOND WHERE "
	         "id = %lld",
	         seconds, id);
	EXPECT(api_db_script(q, err, sizeof err) == 0, "%s: %s", q, err);
	EXPECT(d && api_shell("'%s' worker lifecycle >/dev/null 2>&1", d) == 0, "worker lifecycle");
}

/* The lifecycle job's events, mailed with the real subscription's plan, price and dates. */
static void test_lifecycle_events_are_mailed_with_plan_and_dates(void)
{
	api_user u;
	mail m[10];
	char *date = NULL;
	long long id;
	int n;

	run_mailer(NULL, NULL); /* nothing else waiting */
	if (register_named(&u, "mail-life", "Lia Cycle") != 0 || api_subscribe(&u, 3) != 0)
		goto out;
	id = api_db_ll_l("SELECT id FROM subscriptions WHERE user_id = ? AND status = 'active'",
	                 atoll(u.id));
	lifecycle_at(id, 2 * 86400); /* two days left: the expiring notice */
	run_mailer(NULL, NULL);
	date = mail_date(id);
	n = mails_to(u.email, m, 10);
	EXPECT(n == 3 && count_text(m, n, "Your Premium subscription renews automatically on") == 1,
	       "welcome, subscribed, then one expiring notice, got %d", n);
	EXPECT(date && count_text(m, n, date) >= 1, "the notice names the end date %s", date);
	free_all(m, n < 10 ? n : 10);
	free(date);
	lifecycle_at(id, -60); /* the end: renewed */
	run_mailer(NULL, NULL);
	date = mail_date(id);
	n = mails_to(u.email, m, 10);
	EXPECT(n == 4 && count_text(m, n,
	                            "Your Premium subscription (14.99 USD) was renewed and "
	                            "now runs until") == 1,
	       "one renewal mail with plan and price, got %d mails", n);
	EXPECT(date && count_text(m, n, date) >= 1, "it names the new end date %s", date);
	free_all(m, n < 10 ? n : 10);
	free(date);
	cancel(&u);
	lifecycle_at(id, -60); /* cancelled, at its end: expired */
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 10);
	EXPECT(n == 6 && count_text(m, n, "Your Premium subscription ended on") == 1 &&
	           count_text(m, n, "your account is back on the Free plan") == 1,
	       "a cancellation mail, then one expiry mail, got %d mails", n);
	free_all(m, n < 10 ? n : 10);
	EXPECT_EVENT(u.id, "subscription.expiring", "sent 1 1");
	EXPECT_EVENT(u.id, "subscription.renewed", "sent 1 1");
	EXPECT_EVENT(u.id, "subscription.expired", "sent 1 1");
out:
	api_user_free(&u);
}

#define RACERS 6

static void test_two_mailers_at_once_send_each_event_once(void)
{
	api_user u[RACERS];
	const char *d = dev();
	int ok = 1, rc;

	memset(u, 0, sizeof u);
	run_mailer(NULL, NULL); /* nothing else waiting */
	for (int i = 0; i < RACERS && ok; i++) {
		char name[32];
		snprintf(name, sizeof name, "Racer %d", i);
		ok = register_named(&u[i], "mail-race", name) == 0 && api_subscribe(&u[i], 2) == 0;
	}
	if (!ok || d == NULL)
		goto out;
	/* 3 events each, 18 in all: both runs claim several batches of 10 */
	for (int i = 0; i < RACERS; i++)
		cancel(&u[i]);
	/* two hosts: the per-host lock lets them run at once, so only the claims keep them apart */
	rc = api_shell(
	    "(SP_WORKER_HOST=mail-a '%s' worker mailer >/dev/null 2>&1 & SP_WORKER_HOST=mail-b "
	    "'%s' worker mailer >/dev/null 2>&1 & wait)",
	    d, d);
	EXPECT(rc == 0, "two mailers started together both finish");
	for (int i = 0; i < RACERS; i++) {
		mail m[8];
		int n = mails_to(u[i].email, m, 8);
		EXPECT(n == 3, "exactly 3 mails to %s after two parallel runs, got %d", u[i].email,
		       n);
		free_all(m, n < 8 ? n : 8);
		EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND (status <> "
		                   "'sent' OR attempts <> 1 OR sent_at IS NULL)",
		                   atoll(u[i].id)) == 0,
		       "every event of %s is sent, once, at the first attempt", u[i].email);
	}
out:
	for (int i = 0; i < RACERS; i++)
		api_user_free(&u[i]);
}

/* A second mailer on a host where one is running does nothing; another host's run mails. */
static void test_one_mailer_at_a_time_on_a_host(void)
{
	api_user u;
	char *log = NULL;
	mail m[4];
	int n;

	run_mailer(NULL, NULL); /* nothing else waiting */
	if (register_named(&u, "mail-host", "Host Lock") != 0)
		return;
	EXPECT(api_db_ll_s("SELECT GET_LOCK(?, 0)", "streaming.worker.mailer@mail-host-a") == 1,
	       "the test holds host mail-host-a's mailer lock");
	EXPECT(mailer("SP_WORKER_HOST=mail-host-a", NULL, &log) == 0, "the run exits 0");
	EXPECT(log && strstr(log, "another run holds the lock"), "it says so: %.300s", log);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 0, "the run on the busy host mailed nothing, got %d", n);
	free_all(m, n < 4 ? n : 4);
	free(log);
	EXPECT(api_db_ll_s("SELECT RELEASE_LOCK(?)", "streaming.worker.mailer@mail-host-a") == 1,
	       "the test releases the lock");
	run_mailer("SP_WORKER_HOST=mail-host-b", NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 1, "a run on another host mailed the welcome, got %d", n);
	free_all(m, n < 4 ? n : 4);
	api_user_free(&u);
}

static void test_mail_off_means_no_mail_but_the_reset_link(void)
{
	api_user u;
	api_resp r;
	mail m[4];
	int n;

	if (register_named(&u, "mail-off", "Otto Off") != 0)
		goto out;
	api_send(&r, "PUT", "/api/v1/users/profile", u.token,
	         "{\"preferences\":{\"notifications\":{\"email\":false}}}");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	if (api_subscribe(&u, 3) != 0)
		goto out;
	cancel(&u);
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 0, "no mail to a user who turned e-mail off, got %d", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(u.id, "user.registered", "skipped 1 0");
	EXPECT_EVENT(u.id, "subscription.created", "skipped 1 0");
	EXPECT_EVENT(u.id, "subscription.cancelled", "skipped 1 0");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND skip_reason = "
	                   "'notifications.email is off'",
	                   atoll(u.id)) == 3,
	       "the reason is recorded");
	/* the reset link, asked for explicitly, is still mailed */
	forgot(&u);
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 1 && count_text(m, n, "/reset-password?token=") == 1,
	       "the reset link is mailed although e-mail is off (%d mails)", n);
	free_all(m, n < 4 ? n : 4);
out:
	api_user_free(&u);
}

/* The token of the reset link in a mail's text, into out (>= 80 bytes); 0 found. */
static int link_token(const mail *m, char *out, size_t n)
{
	const char *p = strstr(m->text, "/reset-password?token=");
	size_t len;

	if (p == NULL)
		return -1;
	p += strlen("/reset-password?token=");
	len = strspn(p, "0123456789abcdef");
	if (len < 32 || len >= n)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static void test_forgot_password_mail_link_resets_once(void)
{
	char token[128], body[256];
	api_user u;
	api_resp r;
	mail m[4];
	int n;

	if (register_named(&u, "mail-reset", "Rita Reset") != 0)
		goto out;
	forgot(&u);
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 2, "welcome and reset mails, got %d", n);
	token[0] = '\0';
	for (int i = 0; i < n && i < 4; i++)
		if (link_token(&m[i], token, sizeof token) == 0)
			EXPECT(strstr(m[i].html, token) != NULL, "the HTML part has the same link");
	free_all(m, n < 4 ? n : 4);
	EXPECT(token[0] != '\0', "the reset mail carries a link with a token");
	if (token[0] == '\0')
		goto out;
	snprintf(body, sizeof body, "{\"token\":\"%s\",\"newPassword\":\"Changed123\"}", token);
	api_send(&r, "POST", "/api/v1/auth/reset-password", NULL, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_send(&r, "POST", "/api/v1/auth/reset-password", NULL, body);
	EXPECT_ERROR(r, 400, "INVALID_TOKEN");
	api_free(&r);
	api_login(&r, u.email, "Changed123");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND "
	                   "JSON_CONTAINS_PATH(payload, 'one', '$.sealedToken')",
	                   atoll(u.id)) == 0,
	       "no sealed token is left in the outbox once mailed and used");
out:
	api_user_free(&u);
}

static void test_reset_link_used_before_mailing_is_not_mailed(void)
{
	char *payload = NULL, token[128], body[256];
	api_user u;
	api_resp r;
	mail m[4];
	int n;

	if (register_named(&u, "mail-stale", "Sam Stale") != 0)
		goto out;
	forgot(&u);
	/* the link is used (its token read as the mailer would) before any mail went out */
	payload = api_db_str_l("SELECT payload FROM outbox WHERE user_id = ? AND event_type = "
	                       "'password.reset_requested'",
	                       atoll(u.id));
	if (payload == NULL || sp_outbox_open_token(payload, "password.reset_requested",
	                                            atoll(u.id), token, sizeof token) != 0) {
		EXPECT(0, "the reset event carries a sealed token");
		goto out;
	}
	snprintf(body, sizeof body, "{\"token\":\"%s\",\"newPassword\":\"Changed123\"}", token);
	api_send(&r, "POST", "/api/v1/auth/reset-password", NULL, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 2 && count_text(m, n, "reset-password?token=") == 0,
	       "welcome and password-changed mails, no dead reset link (%d mails)", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(u.id, "password.reset_requested", "skipped 1 0");
out:
	free(payload);
	api_user_free(&u);
}

/* next_attempt_at of the user's newest event of type, plus a second, as ISO (malloc'd). */
static char *past_next_attempt(const char *uid, const char *type)
{
	char sql[400];

	snprintf(
	    sql, sizeof sql,
	    "SELECT DATE_FORMAT(next_attempt_at + INTERVAL 1 SECOND, '%%Y-%%m-%%dT%%H:%%i:%%sZ') "
	    "FROM outbox WHERE user_id = ? AND event_type = '%s' ORDER BY id DESC LIMIT 1",
	    type);
	return api_db_str_l(sql, atoll(uid));
}

static void test_smtp_down_retries_with_backoff_then_delivers(void)
{
	char *when = NULL, *err = NULL;
	api_user u;
	mail m[4];
	int n;

	run_mailer(NULL, NULL);
	if (register_named(&u, "mail-down", "Dora Down") != 0)
		goto out;
	smtp("stop");
	run_mailer(NULL, NULL);
	EXPECT_EVENT(u.id, "user.registered", "pending 1 0");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND next_attempt_at > "
	                   "UTC_TIMESTAMP(3) + INTERVAL 30 SECOND AND locked_until IS NULL",
	                   atoll(u.id)) == 1,
	       "the retry waits for the back-off (mail.backoff_seconds)");
	err = api_db_str_l("SELECT last_error FROM outbox WHERE user_id = ?", atoll(u.id));
	EXPECT(err && *err, "the failure is recorded: %s", err ? err : "(null)");
	smtp("start");
	run_mailer(NULL, NULL); /* not due yet */
	n = mails_to(u.email, m, 4);
	EXPECT(n == 0, "nothing sent before the back-off has passed, got %d", n);
	free_all(m, n < 4 ? n : 4);
	when = past_next_attempt(u.id, "user.registered");
	run_mailer(NULL, when);
	run_mailer(NULL, when);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 1, "delivered once when due and the relay is back, got %d", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(u.id, "user.registered", "sent 2 1");
out:
	if (smtp_stopped)
		smtp("start");
	free(when);
	free(err);
	api_user_free(&u);
}

static void test_mail_parked_as_failed_after_the_last_attempt(void)
{
	char *when = NULL, *err = NULL;
	api_user u;
	mail m[4];
	int n;

	run_mailer(NULL, NULL);
	if (register_named(&u, "mail-park", "Pia Park") != 0)
		goto out;
	smtp("stop");
	run_mailer("SP_MAIL_MAX_ATTEMPTS=2", NULL);
	EXPECT_EVENT(u.id, "user.registered", "pending 1 0");
	when = past_next_attempt(u.id, "user.registered");
	run_mailer("SP_MAIL_MAX_ATTEMPTS=2", when);
	EXPECT_EVENT(u.id, "user.registered", "failed 2 0");
	err = api_db_str_l("SELECT last_error FROM outbox WHERE user_id = ?", atoll(u.id));
	EXPECT(err && *err, "the last error is kept: %s", err ? err : "(null)");
	smtp("start");
	free(when);
	when = past_next_attempt(u.id, "user.registered");
	run_mailer(NULL, "2099-01-01T00:00:00Z"); /* a failed event is never taken again */
	n = mails_to(u.email, m, 4);
	EXPECT(n == 0, "no mail for a parked event, got %d", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(u.id, "user.registered", "failed 2 0");
out:
	if (smtp_stopped)
		smtp("start");
	free(when);
	free(err);
	api_user_free(&u);
}

static void test_recipient_refused_for_good_fails_at_once(void)
{
	api_user u;

	/* the capture server refuses local parts starting with "bounce" with a 550 */
	if (register_named(&u, "bounce-mail", "Bo Bounce") != 0)
		goto out;
	run_mailer(NULL, NULL);
	EXPECT_EVENT(u.id, "user.registered", "failed 1 0");
out:
	api_user_free(&u);
}

/* 1 when every header line of h starts with one of the names the mailer writes. */
static int only_known_headers(const char *h)
{
	static const char *const known[] = {"X-Capture-Mail-From: ",
	                                    "X-Capture-Rcpt-To: ",
	                                    "From: ",
	                                    "To: ",
	                                    "Subject: ",
	                                    "Date: ",
	                                    "Message-ID: ",
	                                    "MIME-Version: ",
	                                    "Content-Type: ",
	                                    " "};
	for (const char *p = h; *p;) {
		const char *eol = strstr(p, "\r\n");
		int ok = 0;
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			ok |= strncmp(p, known[i], strlen(known[i])) == 0;
		if (!ok || eol == NULL)
			return 0;
		p = eol + 2;
	}
	return 1;
}

static void test_name_cannot_inject_headers_or_markup(void)
{
	const char *evil = "Eve\r\nBcc: victim@example.com\r\n<script>alert(1)</script> Zoë";
	api_user u;
	mail m[4];
	int n;

	if (register_named(&u, "mail-evil", evil) != 0)
		goto out;
	run_mailer(NULL, NULL);
	n = mails_to(u.email, m, 4);
	EXPECT(n == 1, "one welcome mail, got %d", n);
	if (n == 1) {
		EXPECT(only_known_headers(m[0].headers), "no header but the mailer's own:\n%s",
		       m[0].headers);
		EXPECT(strstr(m[0].headers, "victim@example.com") == NULL,
		       "the name's Bcc is not a header in clear:\n%s", m[0].headers);
		EXPECT(strstr(m[0].headers, "Subject: =?UTF-8?B?") != NULL,
		       "a subject with the name is RFC 2047 encoded:\n%s", m[0].headers);
		EXPECT(strstr(m[0].html, "<script>") == NULL &&
		           strstr(m[0].html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL,
		       "the HTML part escapes the name: %.500s", m[0].html);
		EXPECT(strstr(m[0].text, "Eve  Bcc: victim@example.com  <script>") != NULL,
		       "the text part has the name on one line: %.300s", m[0].text);
		EXPECT(strstr(m[0].headers, "X-Capture-Rcpt-To: victim") == NULL,
		       "the only recipient is the user");
	}
	free_all(m, n < 4 ? n : 4);
out:
	api_user_free(&u);
}

/* A lifecycle event (written by the lifecycle job) for the user's newest subscription. */
static void add_lifecycle_event(const api_user *u, const char *type)
{
	char sql[600], err[256];
	long long sid =
	    api_db_ll_l("SELECT MAX(id) FROM subscriptions WHERE user_id = ?", atoll(u->id));

	snprintf(sql, sizeof sql,
	         "INSERT INTO outbox (event_type, user_id, payload) VALUES ('%s', %lld, "
	         "JSON_OBJECT('subscriptionId', %lld))",
	         type, atoll(u->id), sid);
	EXPECT(sid > 0 && api_db_script(sql, err, sizeof err) == 0, "%s event added: %s", type,
	       err);
}

static void test_expiry_notices_follow_the_expiry_preference(void)
{
	api_user on, off;
	api_resp r;
	mail m[4];
	int n;

	memset(&off, 0, sizeof off);
	if (register_named(&on, "mail-exp-on", "Eli Expiry") != 0 || api_subscribe(&on, 2) != 0 ||
	    register_named(&off, "mail-exp-off", "Ola Expiry") != 0 || api_subscribe(&off, 2) != 0)
		goto out;
	api_send(&r, "PUT", "/api/v1/users/profile", off.token,
	         "{\"preferences\":{\"notifications\":{\"expiry\":false}}}");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	run_mailer(NULL, NULL);
	add_lifecycle_event(&on, "subscription.expiring");
	add_lifecycle_event(&off, "subscription.expiring");
	add_lifecycle_event(&off, "subscription.expired");
	run_mailer(NULL, NULL);
	n = mails_to(on.email, m, 4);
	EXPECT(n == 3, "welcome, subscription and expiring mails, got %d", n);
	for (int i = 0, found = 0; i < n && i < 4; i++) {
		found +=
		    strstr(m[i].headers, "\r\nSubject: Your Basic subscription ends on ") != NULL;
		if (i == n - 1 || i == 3)
			EXPECT(found == 1, "one expiring notice naming the plan and its end date");
	}
	free_all(m, n < 4 ? n : 4);
	n = mails_to(off.email, m, 4);
	EXPECT(n == 2, "welcome and subscription mails only with expiry notices off, got %d", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(off.id, "subscription.expiring", "skipped 1 0");
	EXPECT_EVENT(off.id, "subscription.expired", "skipped 1 0");
out:
	api_user_free(&on);
	api_user_free(&off);
}

/* ---------------------------------------------------------------- a relay with TLS and sign-in */

/* A port free on 127.0.0.1 just now; 0 if none could be had. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

struct relay {
	char dir[256], cert[300], mail[300], pid[300];
	int port;
};

/* A second capture server that requires STARTTLS (a fresh self-signed certificate) and a sign-in.
 */
static int relay_start(struct relay *t)
{
	const char *d = dev();
	char scripts[1024], key[300];

	snprintf(t->dir, sizeof t->dir, "/tmp/sp-mail-relay-%d", (int)getpid());
	snprintf(t->cert, sizeof t->cert, "%s/cert.pem", t->dir);
	snprintf(key, sizeof key, "%s/key.pem", t->dir);
	snprintf(t->mail, sizeof t->mail, "%s/mail", t->dir);
	snprintf(t->pid, sizeof t->pid, "%s/pid", t->dir);
	if (d == NULL || (t->port = free_port()) == 0)
		return -1;
	snprintf(scripts, sizeof scripts, "%s", d);
	if (strrchr(scripts, '/'))
		*strrchr(scripts, '/') = '\0';
	if (api_shell("rm -rf '%s' && mkdir -p '%s' && openssl req -x509 -newkey rsa:2048 -nodes "
	              "-keyout '%s' -out '%s' -days 1 -subj /CN=127.0.0.1 -addext "
	              "subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
	              t->dir, t->dir, key, t->cert) != 0)
		return -1;
	api_shell(
	    "/usr/bin/python3 '%s/smtp-capture' --port %d --dir '%s' --pid-file '%s' --tls-cert "
	    "'%s' --tls-key '%s' --auth relay-user:relay-secret-pw >'%s/log' 2>&1 &",
	    scripts, t->port, t->mail, t->pid, t->cert, key, t->dir);
	for (int i = 0; i < 100; i++) {
		if (access(t->pid, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

static void relay_stop(struct relay *t)
{
	char *pid = t->pid[0] ? read_file(t->pid) : NULL;

	if (pid && atoi(pid) > 1)
		kill(atoi(pid), SIGTERM);
	for (int i = 0; pid && i < 50 && access(t->pid, F_OK) == 0; i++)
		usleep(100000);
	free(pid);
	if (t->dir[0])
		api_shell("rm -rf '%s'", t->dir);
}

/* The real clock plus offset seconds as --now. */
static void now_plus(long offset, char *out, size_t n)
{
	time_t t = time(NULL) + offset;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The mailer's environment for the relay: STARTTLS required, signed in with password, CA or none.
 */
static void relay_env(const struct relay *t, const char *password, int with_ca, char *out, size_t n)
{
	snprintf(out, n,
	         "SP_SMTP_URL=smtp://127.0.0.1:%d SP_SMTP_STARTTLS=require SP_SMTP_USER=relay-user "
	         "SP_SMTP_TIMEOUT_SECONDS=5 SP_SMTP_PASSWORD=%s SP_SMTP_CA_FILE='%s'",
	         t->port, password, with_ca ? t->cert : "");
}

/*
 * A relay that requires STARTTLS and a sign-in: without the CA that signed
 * its certificate, or with a wrong password, nothing is sent and the mail
 * waits for its next attempt; with both right it goes once, over TLS,
 * signed in, and the password appears in no log line.
 */
static void test_mail_over_starttls_with_sign_in(void)
{
	struct relay t;
	char env[1200], when[32], *log = NULL;
	api_user u;
	mail m[4];
	int n;

	memset(&t, 0, sizeof t);
	run_mailer(NULL, NULL); /* nothing else waiting */
	if (relay_start(&t) != 0) {
		EXPECT(0, "a capture server with STARTTLS and sign-in starts");
		goto out;
	}
	if (register_named(&u, "mail-tls", "Tia Tls") != 0)
		goto out;
	relay_env(&t, "relay-secret-pw", 0, env, sizeof env);
	EXPECT(mailer(env, NULL, &log) == 0, "a run against an untrusted certificate exits 0");
	EXPECT(mails_in(t.mail, u.email, m, 4) == 0,
	       "nothing sent to a relay whose certificate is not trusted");
	EXPECT(log && strstr(log, "relay-secret-pw") == NULL, "no password in the log");
	free(log);
	EXPECT_EVENT(u.id, "user.registered", "pending 1 0");
	relay_env(&t, "wrong-password", 1, env, sizeof env);
	now_plus(3600, when, sizeof when);
	run_mailer(env, when);
	EXPECT(mails_in(t.mail, u.email, m, 4) == 0, "nothing sent with a wrong password");
	EXPECT_EVENT(u.id, "user.registered", "pending 2 0");
	relay_env(&t, "relay-secret-pw", 1, env, sizeof env);
	now_plus(7200, when, sizeof when);
	log = NULL;
	EXPECT(mailer(env, when, &log) == 0, "the run with the CA and the password exits 0");
	EXPECT(log && strstr(log, "relay-secret-pw") == NULL, "no password in the log");
	free(log);
	n = mails_in(t.mail, u.email, m, 4);
	EXPECT(n == 1 && strstr(m[0].headers, "X-Capture-TLS: yes\r\n") &&
	           strstr(m[0].headers, "X-Capture-Auth: relay-user\r\n"),
	       "one mail, over STARTTLS and signed in (%d mails)", n);
	free_all(m, n < 4 ? n : 4);
	EXPECT_EVENT(u.id, "user.registered", "sent 3 1");
	api_user_free(&u);
out:
	relay_stop(&t);
}

static int suite_cleanup(void)
{
	if (smtp_stopped)
		(void)api_dev_service("start", "smtp", NULL);
	return 0;
}

int api_suite_mail(void)
{
	CU_pSuite s = CU_add_suite("mail", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_mailer_sends_register_subscribe_cancel_mails_once_each);
	ADD(test_lifecycle_events_are_mailed_with_plan_and_dates);
	ADD(test_two_mailers_at_once_send_each_event_once);
	ADD(test_one_mailer_at_a_time_on_a_host);
	ADD(test_mail_off_means_no_mail_but_the_reset_link);
	ADD(test_forgot_password_mail_link_resets_once);
	ADD(test_reset_link_used_before_mailing_is_not_mailed);
	ADD(test_smtp_down_retries_with_backoff_then_delivers);
	ADD(test_mail_parked_as_failed_after_the_last_attempt);
	ADD(test_recipient_refused_for_good_fails_at_once);
	ADD(test_name_cannot_inject_headers_or_markup);
	ADD(test_expiry_notices_follow_the_expiry_preference);
	ADD(test_mail_over_starttls_with_sign_in);
#undef ADD
	return 0;
}
