/*
 * API tests of the webhooks suite: /admin/webhooks (admin only, validation,
 * create, list, delete) and the worker job "webhooks" delivering outbox
 * events to a loopback receiver run by this process.
 *
 * The receiver is one thread on 127.0.0.1:<ephemeral port> that records
 * every request (path, headers, body) and answers a scripted status after a
 * scripted delay. Each test registers its webhooks on its own path of the
 * receiver and deletes them at the end; the suite starts and ends with no
 * webhook at all, so no other suite's events go anywhere.
 */
#include "api_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "whsec_test_0123456789abcdef"
#define RX_MAX 256

/* ---------------------------------------------------------------- receiver */

typedef struct rx_req {
	char path[128];
	char *head; /* the request line and headers */
	char *body;
} rx_req;

static struct {
	int fd, port, started;
	volatile int stop;
	pthread_t thread;
	pthread_mutex_t mu;
	int status, delay_ms;
	rx_req reqs[RX_MAX];
	int n;
} rx = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .status = 200};

/* Reads one request (headers up to 16 KiB, a body of Content-Length up to 256 KiB). */
static int rx_read(int c, rx_req *q)
{
	size_t cap = 16384 + 262144, len = 0, want = 0;
	char *buf = calloc(1, cap + 1), *end = NULL, *cl;

	while (buf && len < cap) {
		ssize_t k = recv(c, buf + len, cap - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			*end = '\0';
			cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			*end = '\r';
		}
		if (end && len >= want)
			break;
	}
	if (buf == NULL || end == NULL) {
		free(buf);
		return -1;
	}
	*end = '\0';
	q->head = strdup(buf);
	q->body = strdup(end + 4);
	sscanf(buf, "%*s %127s", q->path);
	free(buf);
	return 0;
}

static void rx_serve(int c)
{
	struct timeval tv = {5, 0};
	rx_req q = {0};
	char out[128];
	int status, delay;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (rx_read(c, &q) != 0)
		return;
	pthread_mutex_lock(&rx.mu);
	if (rx.n < RX_MAX)
		rx.reqs[rx.n++] = q;
	else {
		free(q.head);
		free(q.body);
	}
	status = rx.status;
	delay = rx.delay_ms;
	pthread_mutex_unlock(&rx.mu);
	if (delay > 0)
		usleep((useconds_t)delay * 1000);
	snprintf(out, sizeof out,
	         "HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
	         status);
	if (send(c, out, strlen(out), MSG_NOSIGNAL) < 0)
		return;
}

static void *rx_main(void *arg)
{
	(void)arg;
	while (!rx.stop) {
		struct pollfd p = {.fd = rx.fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((c = accept(rx.fd, NULL, NULL)) < 0)
			continue;
		rx_serve(c);
		close(c);
	}
	return NULL;
}

static int rx_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rx.fd < 0 || bind(rx.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(rx.fd, 64) != 0 || getsockname(rx.fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	rx.port = ntohs(a.sin_port);
	rx.stop = 0;
	if (pthread_create(&rx.thread, NULL, rx_main, NULL) != 0)
		return -1;
	rx.started = 1;
	return 0;
}

static void rx_clear(void)
{
	pthread_mutex_lock(&rx.mu);
	for (int i = 0; i < rx.n; i++) {
		free(rx.reqs[i].head);
		free(rx.reqs[i].body);
	}
	memset(rx.reqs, 0, sizeof rx.reqs);
	rx.n = 0;
	pthread_mutex_unlock(&rx.mu);
}

static void rx_script(int status, int delay_ms)
{
	pthread_mutex_lock(&rx.mu);
	rx.status = status;
	rx.delay_ms = delay_ms;
	pthread_mutex_unlock(&rx.mu);
}

/* The value of header name in a recorded head (into out), or NULL. */
static const char *rx_header(const rx_req *q, const char *name, char *out, size_t n)
{
	char pat[96];
	const char *p;
	size_t k;

	snprintf(pat, sizeof pat, "\r\n%s:", name);
	if (q->head == NULL || (p = strcasestr(q->head, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	k = strcspn(p, "\r\n");
	snprintf(out, n, "%.*s", (int)k, p);
	return out;
}

/* Requests recorded on path carrying X-Webhook-Id event; the last one's index in *last. */
static int rx_count(const char *path, long long event, int *last)
{
	char want[32], got[64];
	int count = 0;

	snprintf(want, sizeof want, "%lld", event);
	pthread_mutex_lock(&rx.mu);
	for (int i = 0; i < rx.n; i++) {
		if (strcmp(rx.reqs[i].path, path) != 0 ||
		    !rx_header(&rx.reqs[i], "X-Webhook-Id", got, sizeof got) ||
		    strcmp(got, want) != 0)
			continue;
		count++;
		if (last)
			*last = i;
	}
	pthread_mutex_unlock(&rx.mu);
	return count;
}

/* Requests recorded on path, whatever their event. */
static int rx_count_path(const char *path)
{
	int count = 0;

	pthread_mutex_lock(&rx.mu);
	for (int i = 0; i < rx.n; i++)
		count += strcmp(rx.reqs[i].path, path) == 0;
	pthread_mutex_unlock(&rx.mu);
	return count;
}

/* ---------------------------------------------------------------- helpers */

static api_user admin;

static const char *admin_token(void)
{
	if (admin.token == NULL && api_admin_login(&admin) != 0)
		EXPECT(0, "the stack's admin signs in");
	return admin.token;
}

/* A receiver URL on path ("/t-name") into out. */
static void rx_url(const char *path, char *out, size_t n)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", rx.port, path);
}

/* POST /admin/webhooks for path with events (JSON array text); the id (malloc'd) or NULL. */
static char *hook_create(const char *path, const char *events)
{
	char url[128], body[1024];
	api_resp r;
	char *id = NULL;

	rx_url(path, url, sizeof url);
	snprintf(body, sizeof body, "{\"url\":\"%s\",\"secret\":\"" SECRET "\",\"events\":%s}", url,
	         events);
	api_send(&r, "POST", "/api/v1/admin/webhooks", admin_token(), body);
	EXPECT_OK(r, 201);
	api_take_str(&id, &r, "data.webhook.id");
	api_free(&r);
	return id;
}

static void hook_delete(char *id)
{
	char path[96];
	api_resp r;

	if (id == NULL)
		return;
	snprintf(path, sizeof path, "/api/v1/admin/webhooks/%s", id);
	api_send(&r, "DELETE", path, admin_token(), NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	free(id);
}

/* The webhook id as GET /admin/webhooks lists it (a fresh copy of the list; put it). */
static json_object *hook_listed(const char *id)
{
	api_resp r;
	json_object *found = NULL, *list;

	api_get(&r, "/api/v1/admin/webhooks", admin_token());
	EXPECT_OK(r, 200);
	list = api_jget(r.json, "data.webhooks");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *w = json_object_array_get_idx(list, i);
		if (id && api_streq(api_jstr(w, "id"), id))
			found = json_object_get(w);
	}
	api_free(&r);
	return found;
}

/*
 * scripts/dev worker webhooks, with env ("A=1 B=2") and, when at is not 0,
 * --now at (Unix seconds); the exit status.
 */
static int run_job(const char *env, time_t at)
{
	char now[64] = "", args[128];
	struct tm tm;
	int st;

	if (at) {
		gmtime_r(&at, &tm);
		strftime(now, sizeof now, " --now %Y-%m-%dT%H:%M:%SZ", &tm);
	}
	snprintf(args, sizeof args, "webhooks%s", now);
	if (env && *env) {
		char cmd[1024];
		const char *d = getenv("SP_DEV");
		if (d == NULL || strchr(d, '\''))
			return -1;
		snprintf(cmd, sizeof cmd, "%s '%s' worker %s >/dev/null 2>&1", env, d, args);
		st = system(cmd);
		return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	st = api_run_tool("worker", args);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN_JOB(env, at) EXPECT(run_job((env), (at)) == 0, "sp-worker webhooks exits 0")

/* The newest outbox event of type for user uid; -1 when none. */
static long long event_of(const char *uid, const char *type)
{
	char sql[160];

	snprintf(sql, sizeof sql,
	         "SELECT MAX(id) FROM outbox WHERE event_type = '%s' AND user_id = ?", type);
	return api_db_ll_s(sql, uid);
}

/* hex HMAC-SHA256 of "ts.body" with SECRET, computed here with OpenSSL alone. */
static void expected_signature(const char *ts, const char *body, char hex[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t len = strlen(ts) + 1 + strlen(body);
	char *msg = malloc(len + 1);

	snprintf(msg, len + 1, "%s.%s", ts, body);
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)msg, len, mac, &n);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	free(msg);
}

/* ---------------------------------------------------------------- admin routes */

static void test_webhooks_need_a_token_and_the_admin_role(void)
{
	api_user u = {0};
	api_resp r;
	const char *body = "{\"url\":\"http://127.0.0.1:9/x\",\"secret\":\"" SECRET
	                   "\",\"events\":[\"user.registered\"]}";

	api_send(&r, "POST", "/api/v1/admin/webhooks", NULL, body);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_get(&r, "/api/v1/admin/webhooks", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	if (api_user_register(&u, "hook-user") != 0)
		return;
	api_send(&r, "POST", "/api/v1/admin/webhooks", u.token, body);
	EXPECT_ERROR(r, 403, "FORBIDDEN");
	api_free(&r);
	api_get(&r, "/api/v1/admin/webhooks", u.token);
	EXPECT_ERROR(r, 403, "FORBIDDEN");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "DELETE", "/api/v1/admin/webhooks/1", u.token, NULL);
	EXPECT_ERROR(r, 403, "FORBIDDEN");
	api_free(&r);
	EXPECT(api_db_ll("SELECT COUNT(*) FROM webhooks") == 0, "no webhook was written");
	api_user_free(&u);
}

/* POST body b answers 400 VALIDATION_ERROR naming exactly fields, and writes nothing. */
static void expect_invalid(const char *b, const char *fields)
{
	api_resp r;
	char got[256];

	api_send(&r, "POST", "/api/v1/admin/webhooks", admin_token(), b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, got, sizeof got);
	EXPECT(strcmp(got, fields) == 0, "errors[] of %.200s: want %s, got %s", b, fields, got);
	api_free(&r);
	EXPECT(api_db_ll("SELECT COUNT(*) FROM webhooks") == 0, "nothing written for %.200s", b);
}

static void test_webhook_validation_names_every_bad_field(void)
{
	char *big = malloc(4200);

	expect_invalid("{}", "url,secret,events");
	expect_invalid("{\"url\":\"ftp://example.com/x\",\"secret\":\"short\",\"events\":[]}",
	               "url,secret,events");
	expect_invalid("{\"url\":\"example.com/hook\",\"secret\":\"" SECRET
	               "\",\"events\":[\"user.registered\"]}",
	               "url");
	expect_invalid("{\"url\":\"http://exa mple.com/\",\"secret\":12345678901234567,"
	               "\"events\":[\"user.registered\"]}",
	               "url,secret");
	expect_invalid("{\"url\":\"https://example.com/h\",\"secret\":\"" SECRET
	               "\",\"events\":[\"user.registered\",\"user.deleted\"]}",
	               "events");
	expect_invalid("{\"url\":\"https://example.com/h\",\"secret\":\"" SECRET
	               "\",\"events\":[\"user.registered\",7]}",
	               "events");
	expect_invalid("{\"url\":\"https://example.com/h\",\"secret\":\"" SECRET
	               "\",\"events\":\"user.registered\"}",
	               "events");
	if (big == NULL)
		return;
	/* a URL of 2049 characters, then a secret of 257 */
	snprintf(big, 4200,
	         "{\"url\":\"https://example.com/%2030s\",\"secret\":\"" SECRET
	         "\",\"events\":[\"subscription.*\"]}",
	         "");
	for (char *p = strstr(big, "com/") + 4; *p == ' '; p++)
		*p = 'a';
	expect_invalid(big, "url");
	snprintf(big, 4200,
	         "{\"url\":\"https://example.com/\",\"secret\":\"%257s\","
	         "\"events\":[\"subscription.*\"]}",
	         "");
	for (char *p = strstr(big, "secret\":\"") + 9; *p == ' '; p++)
		*p = 's';
	expect_invalid(big, "secret");
	free(big);
}

static void test_webhook_create_list_delete(void)
{
	api_resp r;
	json_object *w;
	char *id = NULL, path[96], *sealed;
	const char *body = "{\"url\":\"https://hooks.example.com/in?x=1\",\"secret\":\"" SECRET
	                   "\",\"events\":[\"user.registered\",\"subscription.*\","
	                   "\"user.registered\"],\"active\":false}";

	api_send(&r, "POST", "/api/v1/admin/webhooks", admin_token(), body);
	EXPECT_OK(r, 201);
	EXPECT(api_all_digits(api_jstr(r.json, "data.webhook.id")),
	       "the id is an opaque digit string");
	EXPECT_STR(api_jstr(r.json, "data.webhook.url"), "https://hooks.example.com/in?x=1");
	EXPECT(api_jlen(r.json, "data.webhook.events") == 2, "events kept once each");
	EXPECT_STR(api_jstr(r.json, "data.webhook.events.1"), "subscription.*");
	EXPECT(api_jbool(r.json, "data.webhook.active") == 1, "a new webhook is active");
	EXPECT(api_is_iso_ms(api_jstr(r.json, "data.webhook.createdAt")), "createdAt is ISO ms");
	EXPECT(strstr(r.body, SECRET) == NULL && strstr(r.body, "secret") == NULL,
	       "the secret is never answered: %.300s", r.body);
	api_take_str(&id, &r, "data.webhook.id");
	api_free(&r);
	if (id == NULL)
		return;
	sealed = api_db_str_s("SELECT secret_sealed FROM webhooks WHERE id = ?", id);
	EXPECT(sealed && strncmp(sealed, "v1.", 3) == 0 && strstr(sealed, "whsec") == NULL,
	       "the secret is stored sealed, never in clear");
	free(sealed);

	api_get(&r, "/api/v1/admin/webhooks", admin_token());
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 1, "count is 1");
	EXPECT(strstr(r.body, SECRET) == NULL, "the list never holds the secret");
	api_free(&r);
	w = hook_listed(id);
	EXPECT(w != NULL, "the new webhook is listed");
	EXPECT(w && api_jnull(w, "lastStatus") && api_jnull(w, "lastAttemptAt") &&
	           api_jint(w, "failures") == 0,
	       "no attempt yet: lastStatus null, lastAttemptAt null, failures 0");
	json_object_put(w);

	snprintf(path, sizeof path, "/api/v1/admin/webhooks/%s", id);
	api_send(&r, "DELETE", path, admin_token(), NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_send(&r, "DELETE", path, admin_token(), NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "DELETE", "/api/v1/admin/webhooks/007", admin_token(), NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	w = hook_listed(id);
	EXPECT(w == NULL, "a deleted webhook is no longer listed");
	json_object_put(w);
	free(id);
}

/* ---------------------------------------------------------------- deliveries */

/* The recorded request carries the contract's headers and a signature over "ts.body". */
static void check_signed(const rx_req *q, long long event, const char *uid)
{
	char ts[64], sig[128], ct[128], want[72] = "sha256=", id[32];
	json_object *b = json_tokener_parse(q->body);

	EXPECT(rx_header(q, "Content-Type", ct, sizeof ct) && strcmp(ct, "application/json") == 0,
	       "Content-Type: application/json");
	EXPECT(rx_header(q, "X-Webhook-Timestamp", ts, sizeof ts) && api_all_digits(ts) &&
	           llabs(atoll(ts) - (long long)time(NULL)) < 600,
	       "X-Webhook-Timestamp is Unix seconds");
	EXPECT(rx_header(q, "X-Signature", sig, sizeof sig) != NULL, "X-Signature present");
	expected_signature(ts, q->body, want + 7);
	EXPECT(strcmp(sig, want) == 0,
	       "X-Signature is sha256=HMAC(secret, ts.body): got %s want %s", sig, want);
	snprintf(id, sizeof id, "%lld", event);
	EXPECT(b != NULL, "the body is JSON: %.200s", q->body);
	EXPECT_STR(api_jstr(b, "id"), id);
	EXPECT(api_is_iso_ms(api_jstr(b, "occurredAt")), "occurredAt is ISO ms");
	EXPECT_STR(api_jstr(b, "data.userId"), uid);
	if (b)
		json_object_put(b);
}

static void test_registered_user_event_reaches_receiver_signed(void)
{
	api_user u = {0};
	char *hook = hook_create("/signed", "[\"user.registered\"]");
	long long ev;
	int last = -1;
	json_object *w, *b;

	rx_script(200, 0);
	if (hook == NULL || api_user_register(&u, "hook-signed") != 0)
		goto out;
	ev = event_of(u.id, "user.registered");
	RUN_JOB(NULL, 0);
	EXPECT(rx_count("/signed", ev, &last) == 1, "the event reached the receiver once, got %d",
	       rx_count("/signed", ev, NULL));
	if (last >= 0) {
		check_signed(&rx.reqs[last], ev, u.id);
		b = json_tokener_parse(rx.reqs[last].body);
		EXPECT_STR(api_jstr(b, "type"), "user.registered");
		EXPECT_STR(api_jstr(b, "data.email"), u.email);
		json_object_put(b);
	}
	w = hook_listed(hook);
	EXPECT(w && api_jint(w, "lastStatus") == 200 && api_jint(w, "failures") == 0 &&
	           api_is_iso_ms(api_jstr(w, "lastAttemptAt")),
	       "the webhook shows lastStatus 200, failures 0, lastAttemptAt");
	json_object_put(w);
out:
	hook_delete(hook);
	api_user_free(&u);
}

static void test_events_the_webhook_did_not_ask_for_are_not_sent(void)
{
	api_user u = {0};
	char *hook = hook_create("/changed", "[\"password.changed\"]");
	char body[256];
	api_resp r;
	long long reg, changed;

	rx_script(200, 0);
	if (hook == NULL || api_user_register(&u, "hook-filter") != 0)
		goto out;
	reg = event_of(u.id, "user.registered");
	snprintf(body, sizeof body, "{\"currentPassword\":\"%s\",\"newPassword\":\"Changed12345\"}",
	         u.password);
	api_send(&r, "PUT", "/api/v1/auth/change-password", u.token, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	changed = event_of(u.id, "password.changed");
	RUN_JOB(NULL, 0);
	EXPECT(rx_count("/changed", reg, NULL) == 0, "user.registered is not sent to it");
	EXPECT(rx_count("/changed", changed, NULL) == 1, "password.changed is sent once");
	EXPECT(rx_count_path("/changed") == 1, "nothing else reached it, got %d",
	       rx_count_path("/changed"));
out:
	hook_delete(hook);
	api_user_free(&u);
}

/* lastStatus (-1 null) and failures of a webhook as listed. */
static void expect_outcome(const char *hook, long long status, long long failures)
{
	json_object *w = hook_listed(hook);
	long long got_status = w && api_jnull(w, "lastStatus") ? -1 : api_jint(w, "lastStatus");

	EXPECT(w && got_status == status && api_jint(w, "failures") == failures,
	       "webhook lastStatus %lld failures %lld, got %lld and %lld", status, failures,
	       got_status, w ? api_jint(w, "failures") : -1);
	json_object_put(w);
}

#define BACKOFF "SP_WEBHOOKS_BACKOFF_SECONDS=30 SP_WEBHOOKS_BACKOFF_MAX_SECONDS=3600"

static void test_failed_delivery_is_retried_with_backoff_then_delivered_once(void)
{
	api_user u = {0};
	char *hook = hook_create("/retry", "[\"user.registered\"]");
	time_t t0 = time(NULL);
	long long ev;

	rx_script(500, 0);
	if (hook == NULL || api_user_register(&u, "hook-retry") != 0)
		goto out;
	ev = event_of(u.id, "user.registered");
	RUN_JOB(BACKOFF, t0 + 1);
	EXPECT(rx_count("/retry", ev, NULL) == 1, "first attempt made");
	expect_outcome(hook, 500, 1);
	RUN_JOB(BACKOFF, t0 + 20); /* the first wait is 30 s */
	EXPECT(rx_count("/retry", ev, NULL) == 1, "no attempt before the backoff has passed");
	RUN_JOB(BACKOFF, t0 + 32);
	EXPECT(rx_count("/retry", ev, NULL) == 2, "second attempt after 30 s");
	expect_outcome(hook, 500, 2);
	rx_script(200, 0);
	RUN_JOB(BACKOFF, t0 + 80); /* the second wait is 60 s: not yet */
	EXPECT(rx_count("/retry", ev, NULL) == 2, "the wait doubled");
	RUN_JOB(BACKOFF, t0 + 93);
	EXPECT(rx_count("/retry", ev, NULL) == 3, "third attempt after 60 s more");
	expect_outcome(hook, 200, 0);
	RUN_JOB(BACKOFF, t0 + 5000);
	RUN_JOB(BACKOFF, 0);
	EXPECT(rx_count("/retry", ev, NULL) == 3, "never sent again after its 2xx, got %d",
	       rx_count("/retry", ev, NULL));
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ? AND "
	                   "status = 'delivered' AND attempts = 3",
	                   hook) == 1,
	       "the delivery is recorded delivered after 3 attempts");
out:
	hook_delete(hook);
	api_user_free(&u);
}

static void test_delivery_is_parked_after_the_last_attempt(void)
{
	api_user u = {0};
	char *hook = hook_create("/park", "[\"user.registered\"]");
	time_t t0 = time(NULL);
	long long ev;

	rx_script(503, 0);
	if (hook == NULL || api_user_register(&u, "hook-park") != 0)
		goto out;
	ev = event_of(u.id, "user.registered");
	RUN_JOB(BACKOFF " SP_WEBHOOKS_MAX_ATTEMPTS=2", t0 + 1);
	RUN_JOB(BACKOFF " SP_WEBHOOKS_MAX_ATTEMPTS=2", t0 + 40);
	EXPECT(rx_count("/park", ev, NULL) == 2, "two attempts made");
	rx_script(200, 0);
	RUN_JOB(BACKOFF " SP_WEBHOOKS_MAX_ATTEMPTS=2", t0 + 5000);
	EXPECT(rx_count("/park", ev, NULL) == 2, "no attempt after the last one");
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ? AND "
	                   "status = 'failed'",
	                   hook) == 1,
	       "the delivery is parked as failed");
	expect_outcome(hook, 503, 2);
out:
	hook_delete(hook);
	api_user_free(&u);
}

static void test_timeout_counts_as_a_failure_without_status(void)
{
	api_user u = {0};
	char *hook = hook_create("/slow", "[\"user.registered\"]");
	json_object *w;

	rx_script(200, 1500);
	if (hook == NULL || api_user_register(&u, "hook-slow") != 0)
		goto out;
	RUN_JOB("SP_WEBHOOKS_TIMEOUT_MS=300", 0);
	w = hook_listed(hook);
	EXPECT(w && api_jnull(w, "lastStatus") && api_streq(api_jstr(w, "lastError"), "timeout") &&
	           api_jint(w, "failures") == 1,
	       "a timeout: lastStatus null, lastError timeout, failures 1");
	json_object_put(w);
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ? AND "
	                   "status = 'pending' AND attempts = 1",
	                   hook) == 1,
	       "the delivery waits for its retry");
out:
	rx_script(200, 0);
	hook_delete(hook);
	api_user_free(&u);
}

static void test_runs_twice_and_at_once_deliver_each_event_once(void)
{
	api_user u[3];
	long long ev[3] = {0};
	char *hook = hook_create("/once", "[\"user.registered\"]");
	const char *d = getenv("SP_DEV");
	char cmd[1024];
	int st;

	memset(u, 0, sizeof u);
	/* two hosts (each run under its own host's lock); a slow receiver keeps them side by side
	 */
	rx_script(200, 300);
	for (int i = 0; i < 3 && hook; i++) {
		if (api_user_register(&u[i], "hook-once") != 0)
			goto out;
		ev[i] = event_of(u[i].id, "user.registered");
	}
	if (hook == NULL || d == NULL || strchr(d, '\''))
		goto out;
	snprintf(
	    cmd, sizeof cmd,
	    "SP_WORKER_HOST=hook-a '%s' worker webhooks >/dev/null 2>&1 & SP_WORKER_HOST=hook-b "
	    "'%s' worker webhooks >/dev/null 2>&1 & wait",
	    d, d);
	st = system(cmd);
	EXPECT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "two runs at once finish");
	RUN_JOB(NULL, 0);
	RUN_JOB(NULL, time(NULL) + 86400);
	for (int i = 0; i < 3; i++)
		EXPECT(rx_count("/once", ev[i], NULL) == 1, "event %d delivered once, got %d", i,
		       rx_count("/once", ev[i], NULL));
	EXPECT(rx_count_path("/once") == 3, "three deliveries in all, got %d",
	       rx_count_path("/once"));
out:
	rx_script(200, 0);
	hook_delete(hook);
	for (int i = 0; i < 3; i++)
		api_user_free(&u[i]);
}

static void test_forgot_password_event_never_carries_the_sealed_token(void)
{
	api_user u = {0};
	char *hook = hook_create("/reset", "[\"password.reset_requested\"]");
	char body[256], *payload = NULL, *sealed = NULL;
	api_resp r;
	long long ev;
	int last = -1;

	rx_script(200, 0);
	if (hook == NULL || api_user_register(&u, "hook-reset") != 0)
		goto out;
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", u.email);
	api_send(&r, "POST", "/api/v1/auth/forgot-password", NULL, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	ev = event_of(u.id, "password.reset_requested");
	payload = api_db_str_l("SELECT payload FROM outbox WHERE id = ?", ev);
	sealed = api_db_str_l(
	    "SELECT JSON_VALUE(payload, '$.sealedToken') FROM outbox WHERE id = ?", ev);
	/* the event does hold a sealed token for the mailer: the check below means something */
	EXPECT(sealed && strncmp(sealed, "v1.", 3) == 0, "the outbox event holds a sealed token");
	RUN_JOB(NULL, 0);
	EXPECT(rx_count("/reset", ev, &last) == 1, "the reset request event is delivered");
	if (last >= 0) {
		EXPECT(strstr(rx.reqs[last].body, "sealedToken") == NULL &&
		           (sealed == NULL || strstr(rx.reqs[last].body, sealed + 3) == NULL),
		       "no sealedToken in the body: %.300s", rx.reqs[last].body);
		EXPECT(strstr(rx.reqs[last].body, "\"expiresAt\"") != NULL,
		       "the rest of the payload is there");
		check_signed(&rx.reqs[last], ev, u.id);
	}
out:
	free(payload);
	free(sealed);
	hook_delete(hook);
	api_user_free(&u);
}

static void test_deleted_webhook_receives_nothing(void)
{
	api_user u = {0};
	char *gone = hook_create("/gone", "[\"user.registered\"]");
	char *kept = hook_create("/kept", "[\"user.registered\"]");
	char path[96];
	api_resp r;
	long long ev;

	rx_script(500, 0);
	if (gone == NULL || kept == NULL || api_user_register(&u, "hook-gone") != 0)
		goto out;
	ev = event_of(u.id, "user.registered");
	/* one failed attempt each, so the deleted one had a delivery waiting for its retry */
	RUN_JOB(BACKOFF, time(NULL));
	EXPECT(rx_count("/gone", ev, NULL) == 1 && rx_count("/kept", ev, NULL) == 1,
	       "both webhooks got the first attempt");
	snprintf(path, sizeof path, "/api/v1/admin/webhooks/%s", gone);
	api_send(&r, "DELETE", path, admin_token(), NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	free(gone);
	gone = NULL;
	rx_script(200, 0);
	RUN_JOB(BACKOFF, time(NULL) + 3600);
	EXPECT(rx_count("/gone", ev, NULL) == 1, "the deleted webhook got no retry");
	EXPECT(rx_count("/kept", ev, NULL) == 2, "the other one did (the job ran)");
out:
	hook_delete(gone);
	hook_delete(kept);
	api_user_free(&u);
}

/* MariaDB away: the admin routes answer 503, the job exits 1; nothing hangs or crashes. */
static void test_without_mariadb_routes_answer_503_and_the_job_fails_cleanly(void)
{
	const char *tok = admin_token();
	api_resp r;
	int db_down, st;
	double t0;

	if (tok == NULL)
		return;
	db_down = api_dev_service("stop", "mariadb", NULL) == 0;
	EXPECT(db_down, "\"$SP_DEV\" stop mariadb");
	if (db_down) {
		api_get(&r, "/api/v1/admin/webhooks", tok);
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
		api_send(&r, "POST", "/api/v1/admin/webhooks", tok,
		         "{\"url\":\"http://127.0.0.1:9/x\",\"secret\":\"" SECRET
		         "\",\"events\":[\"user.registered\"]}");
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
		api_send(&r, "DELETE", "/api/v1/admin/webhooks/1", tok, NULL);
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
		t0 = api_now_s();
		st = run_job(NULL, 0);
		EXPECT(st == 1, "the job exits 1 without MariaDB, got status %d", st);
		EXPECT(api_now_s() - t0 < 30, "and does so promptly");
		EXPECT(api_dev_service("start", "mariadb", NULL) == 0, "\"$SP_DEV\" start mariadb");
		/* a program tries a new connection at most every 250 ms after a failed one */
		api_sleep_s(0.3);
	}
	api_get(&r, "/api/v1/admin/webhooks", tok);
	EXPECT_OK(r, 200);
	api_free(&r);
}

/* ---------------------------------------------------------------- suite */

static char drop_all[] = "DELETE FROM webhooks";

static int suite_init(void)
{
	char err[256];

	if (api_db_script(drop_all, err, sizeof err) != 0)
		return -1;
	return rx_start();
}

static int suite_cleanup(void)
{
	char err[256];

	(void)api_db_script(drop_all, err, sizeof err);
	if (rx.started) {
		rx.stop = 1;
		pthread_join(rx.thread, NULL);
		close(rx.fd);
		rx.started = 0;
	}
	rx_clear();
	api_user_free(&admin);
	memset(&admin, 0, sizeof admin);
	return 0;
}

int api_suite_webhooks(void)
{
	CU_pSuite s = CU_add_suite("webhooks", suite_init, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_webhooks_need_a_token_and_the_admin_role);
	ADD(test_webhook_validation_names_every_bad_field);
	ADD(test_webhook_create_list_delete);
	ADD(test_registered_user_event_reaches_receiver_signed);
	ADD(test_events_the_webhook_did_not_ask_for_are_not_sent);
	ADD(test_failed_delivery_is_retried_with_backoff_then_delivered_once);
	ADD(test_delivery_is_parked_after_the_last_attempt);
	ADD(test_timeout_counts_as_a_failure_without_status);
	ADD(test_runs_twice_and_at_once_deliver_each_event_once);
	ADD(test_forgot_password_event_never_carries_the_sealed_token);
	ADD(test_deleted_webhook_receives_nothing);
	ADD(test_without_mariadb_routes_answer_503_and_the_job_fails_cleanly);
#undef ADD
	return 0;
}
