/*
 * Conventions every endpoint shares: 404/405, security headers, CORS,
 * health, readiness and metrics, rate limits and the client address, and
 * behaviour while Redis is down (stopped and restarted through scripts/dev).
 */
#include "api_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define API "/api/v1"

/* ---------------------------------------------------------------- helpers */

/* case-insensitive substring */
static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay && *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

static long hdr_long(const api_resp *r, const char *name)
{
	const char *v = api_hdr(r, name);

	return api_all_digits(v) ? atol(v) : -1;
}

/* One request from a fixed fake client address. */
static long send_from(api_resp *r, const char *method, const char *path, const char *token,
                      const char *body, const char *ip)
{
	char xff[64];
	const char *hs[] = {xff, NULL};
	api_req q = {.method = method, .path = path, .token = token, .body = body, .headers = hs};

	snprintf(xff, sizeof xff, "X-Forwarded-For: %s", ip);
	return api_do(r, &q);
}

static void unknown_login_body(char *body, size_t n)
{
	char email[128];

	api_unique_email(email, sizeof email, "nobody");
	snprintf(body, n, "{\"email\":\"%s\",\"password\":\"Wrong1234\"}", email);
}

static void check_429(const api_resp *r, const char *file, int line)
{
	long ra = hdr_long(r, "Retry-After");

	api_check_error(r, 429, "RATE_LIMITED", file, line);
	api_check_common_headers(r, file, line);
	api_assert(ra >= 1 && ra <= 901, line, file,
	           "429 should carry Retry-After in seconds (1..901), got %s",
	           api_hdr(r, "Retry-After") ? api_hdr(r, "Retry-After") : "(absent)");
	api_assert(hdr_long(r, "X-RateLimit-Remaining") == 0, line, file,
	           "429: X-RateLimit-Remaining should be 0, got %s",
	           api_hdr(r, "X-RateLimit-Remaining") ? api_hdr(r, "X-RateLimit-Remaining")
	                                               : "(absent)");
}
#define EXPECT_429(r) check_429(&(r), __FILE__, __LINE__)

/* ---------------------------------------------------------------- 404 / 405 */

static void test_unknown_api_path_is_404_not_found(void)
{
	static const char *paths[] = {API "/definitely-not-here", API "/auth/nope",
	                              API "/auth/me/extra", API "/nothing/here/at/all", NULL};
	api_resp r;

	for (int i = 0; paths[i]; i++) {
		api_get(&r, paths[i], NULL);
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	api_send(&r, "POST", API "/nothing/here", NULL, "{}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
}

/*
 * What the web server answers itself, before any program sees the request,
 * is in the same JSON error shape: a POST without Content-Length, a body
 * over the server's own cap, a static file that does not exist.
 */
static void test_web_server_errors_use_the_json_error_shape(void)
{
	api_resp r;
	char *big;
	const size_t big_len = (size_t)17 << 20; /* over server.max-request-size (16 MiB) */

	{
		api_req q = {.method = "POST", .path = API "/auth/login", .no_length = 1};
		api_do(&r, &q);
		EXPECT_ERROR(r, 411, "LENGTH_REQUIRED");
		api_free(&r);
	}
	big = malloc(big_len);
	if (big) {
		api_req q = {
		    .method = "POST", .path = API "/auth/login", .body = big, .body_len = big_len};
		memset(big, ' ', big_len);
		api_do(&r, &q);
		EXPECT_ERROR(r, 413, "PAYLOAD_TOO_LARGE");
		api_free(&r);
		free(big);
	}
	api_get(&r, "/no-such-file.txt", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_get(&r, "/catalogue/thumbs/no-such-thumb.jpg", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
}

static void test_wrong_method_is_405_with_allow_header(void)
{
	static const struct {
		const char *method, *path, *allowed;
	} cases[] = {
	    {"DELETE", API "/auth/me", "GET"},
	    {"GET", API "/auth/login", "POST"},
	    {"PATCH", API "/auth/change-password", "PUT"},
	    {"PUT", API "/health", "GET"},
	};
	api_resp r;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_req q = {.method = cases[i].method, .path = cases[i].path};
		const char *allow;

		api_do(&r, &q);
		EXPECT_ERROR(r, 405, NULL);
		EXPECT_COMMON_HEADERS(r);
		allow = api_hdr(&r, "Allow");
		EXPECT(allow && strstr(allow, cases[i].allowed),
		       "%s %s: Allow should list %s, got %s", cases[i].method, cases[i].path,
		       cases[i].allowed, allow ? allow : "(absent)");
		EXPECT(allow == NULL || strstr(allow, cases[i].method) == NULL,
		       "%s %s: Allow should not list the refused method: %s", cases[i].method,
		       cases[i].path, allow ? allow : "");
		api_free(&r);
	}
}

/*
 * A request's fields are read before the token is checked, but what is
 * wrong with them is told only to a caller allowed to send them, and only
 * in a 400: a 401, 403 or 404 answered first lists no field errors.
 */
static void test_field_errors_only_in_the_400(void)
{
	static const char *bad_plan = "{\"name\":\"x\",\"price\":-1}";
	api_user u;
	api_resp r;

	api_send(&r, "POST", API "/subscriptions/plans", NULL, bad_plan);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT(api_jlen(r.json, "errors") == 0, "401 lists field errors: %.300s", r.body);
	api_free(&r);
	if (api_user_register(&u, "fielderr") != 0)
		return;
	api_send(&r, "POST", API "/subscriptions/plans", u.token, bad_plan);
	EXPECT_ERROR(r, 403, "FORBIDDEN");
	EXPECT(api_jlen(r.json, "errors") == 0, "403 lists field errors: %.300s", r.body);
	api_free(&r);
	api_send(&r, "PUT", API "/users/profile", u.token, "{\"preferences\":null}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "preferences"), "errors should name preferences: %.300s",
	       r.body);
	api_free(&r);
	api_user_free(&u);
	api_send(&r, "PUT", API "/content/no-such-id", NULL, "{\"title\":\"\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT(api_jlen(r.json, "errors") == 0, "401 lists field errors: %.300s", r.body);
	api_free(&r);
	if (api_admin_login(&u) != 0)
		return;
	api_send(&r, "PUT", API "/content/no-such-id", u.token, "{\"title\":\"\"}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT(api_jlen(r.json, "errors") == 0, "404 lists field errors: %.300s", r.body);
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- headers */

static void test_security_headers_on_every_response(void)
{
	static const char *pre_ok[] = {"Origin: http://allowed.example",
	                               "Access-Control-Request-Method: POST", NULL};
	static const char *pre_bad[] = {"Origin: http://evil.example",
	                                "Access-Control-Request-Method: POST", NULL};
	static const char *text[] = {"Content-Type: text/plain", NULL};
	char email[128], body[512];
	struct {
		api_req q;
		long want;
	} cases[] = {
	    {{.method = "GET", .path = API "/health"}, 200},
	    {{.method = "GET", .path = API "/ready"}, 200},
	    {{.method = "GET", .path = "/metrics", .no_xff = 1}, 200},
	    {{.method = "POST", .path = API "/auth/register", .body = body}, 201},
	    {{.method = "POST", .path = API "/auth/login", .body = "{}"}, 400},
	    {{.method = "POST", .path = API "/auth/login", .body = "{x", .headers = NULL}, 400},
	    {{.method = "GET", .path = API "/auth/me"}, 401},
	    {{.method = "GET", .path = API "/auth/me", .token = "forged.token.value"}, 401},
	    {{.method = "GET", .path = API "/no-such-thing"}, 404},
	    {{.method = "DELETE", .path = API "/auth/me"}, 405},
	    {{.method = "POST", .path = API "/auth/login", .body = "{}", .headers = text}, 415},
	    {{.method = "OPTIONS", .path = API "/auth/login", .headers = pre_ok}, 204},
	    {{.method = "OPTIONS", .path = API "/auth/login", .headers = pre_bad}, 403},
	};

	api_unique_email(email, sizeof email, "headers");
	snprintf(body, sizeof body,
	         "{\"name\":\"Head Ers\",\"email\":\"%s\",\"password\":\"Passw0rd1\"}", email);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_resp r;
		api_do(&r, &cases[i].q);
		EXPECT_STATUS(r, cases[i].want);
		EXPECT_COMMON_HEADERS(r);
		if (cases[i].want != 204 && cases[i].want != 200 && cases[i].want != 201)
			EXPECT_ERROR(r, cases[i].want, NULL);
		api_free(&r);
	}
}

/*
 * The security headers every response carries, exactly once each: what the
 * web server answers itself (before or without any program) included. The
 * API's policy on API paths and on requests too malformed to have one; the
 * web client's on static paths.
 */
#define STATIC_CSP                                                                                 \
	"default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; frame-ancestors "    \
	"'none'"
#define API_CSP "default-src 'none'; frame-ancestors 'none'"

static void check_security_headers(const api_resp *r, const char *csp, const char *file, int line)
{
	static const char *names[] = {"X-Content-Type-Options", "X-Frame-Options",
	                              "Referrer-Policy", "Content-Security-Policy",
	                              "Cross-Origin-Resource-Policy"};
	const char *server = api_hdr(r, "Server");

	api_check_header(r, "X-Content-Type-Options", "nosniff", file, line);
	api_check_header(r, "X-Frame-Options", "DENY", file, line);
	api_check_header(r, "Referrer-Policy", "no-referrer", file, line);
	api_check_header(r, "Content-Security-Policy", csp, file, line);
	api_check_header(r, "Cross-Origin-Resource-Policy", "same-origin", file, line);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		int n = 0;
		for (int k = 0; k < r->n_headers; k++)
			n += strcasecmp(r->headers[k].name, names[i]) == 0;
		api_assert(n == 1, line, file, "%s %.80s (status %ld): %d %s headers, expected one",
		           r->method, r->path, r->status, n, names[i]);
	}
	api_assert(server == NULL || strpbrk(server, "0123456789") == NULL, line, file,
	           "%s %.80s: Server header carries a version: %s", r->method, r->path,
	           server ? server : "");
}
#define EXPECT_SECURITY_HEADERS(r, csp) check_security_headers(&(r), (csp), __FILE__, __LINE__)

/* Reads a whole HTTP/1.x response (the server closes) from fd into r. */
static void raw_read_response(int fd, api_resp *r)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1), *p, *eol, *body;
	ssize_t got;

	if (buf == NULL)
		return;
	while (len < cap && (got = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)got;
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) == 0 && body) {
		r->status = strtol(buf + 9, NULL, 10);
		*body = '\0';
		for (p = strstr(buf, "\r\n"); p && p < body && r->n_headers < API_MAX_HEADERS;
		     p = eol) {
			char *colon;
			p += 2;
			eol = strstr(p, "\r\n");
			if (eol)
				*eol = '\0';
			if ((colon = strchr(p, ':')) != NULL) {
				*colon = '\0';
				r->headers[r->n_headers].name = strdup(p);
				r->headers[r->n_headers].value =
				    strdup(colon + 1 + strspn(colon + 1, " "));
				r->n_headers++;
			}
		}
		r->body = strdup(body + 4);
		r->body_len = strlen(r->body);
		r->json = json_tokener_parse(r->body);
	}
	free(buf);
}

/* Sends raw bytes to the server under test and reads its answer into r. */
static void raw_request(api_resp *r, const char *what, const char *request)
{
	const char *base = api_base(), *hp = strstr(base, "://");
	char host[64] = "127.0.0.1";
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 10};
	int fd, port = 80;

	memset(r, 0, sizeof *r);
	snprintf(r->method, sizeof r->method, "RAW");
	snprintf(r->path, sizeof r->path, "%s", what);
	if (hp == NULL || sscanf(hp + 3, "%63[^:/]:%d", host, &port) < 1)
		return;
	a.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    write(fd, request, strlen(request)) == (ssize_t)strlen(request))
		raw_read_response(fd, r);
	close(fd);
}

static void test_web_servers_own_errors_carry_the_security_headers(void)
{
	static const struct {
		const char *what, *request;
		long want;
	} raw[] = {
	    {"header line without a colon",
	     "GET " API "/health HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", 400},
	    {"HTTP/1.1 without Host", "GET " API "/health HTTP/1.1\r\n\r\n", 400},
	    {"HTTP/2.5 on a plain connection", "GET " API "/health HTTP/2.5\r\nHost: a\r\n\r\n",
	     505},
	};
	const size_t big_len = (size_t)17 << 20;
	static char long_uri[9200];
	api_resp r;
	char *big;

	{
		api_req q = {.method = "POST", .path = API "/auth/login", .no_length = 1};
		api_do(&r, &q);
		EXPECT_ERROR(r, 411, "LENGTH_REQUIRED");
		EXPECT_SECURITY_HEADERS(r, API_CSP);
		api_free(&r);
	}
	if ((big = malloc(big_len)) != NULL) {
		api_req q = {
		    .method = "POST", .path = API "/auth/login", .body = big, .body_len = big_len};
		memset(big, ' ', big_len);
		api_do(&r, &q);
		EXPECT_ERROR(r, 413, "PAYLOAD_TOO_LARGE");
		EXPECT_SECURITY_HEADERS(r, API_CSP);
		api_free(&r);
		free(big);
	}
	/* lighttpd counts the request line into its 8 KiB header cap (431); Apache caps it alone
	 * (414) */
	snprintf(long_uri, sizeof long_uri,
	         "GET " API "/health?q=%09000d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	raw_request(&r, "a 9000-byte URI", long_uri);
	EXPECT(r.status == 414 || r.status == 431, "a 9000-byte URI: expected 414 or 431, got %ld",
	       r.status);
	EXPECT_ERROR(r, r.status, NULL);
	EXPECT_SECURITY_HEADERS(r, API_CSP);
	api_free(&r);
	api_get(&r, "/no-such-file.txt", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_SECURITY_HEADERS(r, STATIC_CSP);
	api_free(&r);
	for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
		raw_request(&r, raw[i].what, raw[i].request);
		EXPECT_ERROR(r, raw[i].want, NULL);
		EXPECT_SECURITY_HEADERS(r, API_CSP);
		api_free(&r);
	}
	/* a program that is not running (the test stacks route /bench/down to a socket
	 * nobody listens on): the server's own 503 */
	api_get(&r, "/bench/down", NULL);
	EXPECT(r.status == 502 || r.status == 503, "a program down: expected 502 or 503, got %ld",
	       r.status);
	EXPECT_ERROR(r, r.status, "SERVICE_UNAVAILABLE");
	EXPECT_SECURITY_HEADERS(r, STATIC_CSP);
	api_free(&r);
	/* and what the programs answer: one copy each, not the program's beside the server's */
	api_get(&r, API "/health", NULL);
	EXPECT_OK(r, 200);
	EXPECT_SECURITY_HEADERS(r, API_CSP);
	api_free(&r);
	api_get(&r, "/", NULL);
	EXPECT_SECURITY_HEADERS(r, STATIC_CSP);
	api_free(&r);
}

static void test_json_content_type_with_utf8_charset_is_accepted(void)
{
	static const char *hs[] = {"Content-Type: application/json; charset=utf-8", NULL};
	char body[256];
	api_req q = {.method = "POST", .path = API "/auth/login", .body = body, .headers = hs};
	api_resp r;

	unknown_login_body(body, sizeof body);
	api_do(&r, &q);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
}

static void test_unknown_query_parameters_are_ignored(void)
{
	api_resp r;

	api_get(&r, API "/health?foo=bar&page=zzz&x", NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
}

/* ---------------------------------------------------------------- CORS */

static void test_cors_preflight_from_allowed_origin_is_204(void)
{
	static const char *hs[] = {
	    "Origin: http://allowed.example", "Access-Control-Request-Method: POST",
	    "Access-Control-Request-Headers: authorization, content-type", NULL};
	api_req q = {.method = "OPTIONS", .path = API "/auth/login", .headers = hs};
	api_resp r;
	const char *m, *h, *v;

	api_do(&r, &q);
	EXPECT_STATUS(r, 204);
	EXPECT_HEADER(r, "Access-Control-Allow-Origin", "http://allowed.example");
	m = api_hdr(&r, "Access-Control-Allow-Methods");
	h = api_hdr(&r, "Access-Control-Allow-Headers");
	v = api_hdr(&r, "Vary");
	EXPECT(m && strstr(m, "POST"), "Access-Control-Allow-Methods should list POST, got %s",
	       m ? m : "(absent)");
	EXPECT(h && contains_ci(h, "authorization") && contains_ci(h, "content-type"),
	       "Access-Control-Allow-Headers should list Authorization and Content-Type, got %s",
	       h ? h : "(absent)");
	EXPECT(v && contains_ci(v, "origin"), "Vary should name Origin, got %s",
	       v ? v : "(absent)");
	EXPECT(r.body_len == 0, "204 has no body, got %zu bytes", r.body_len);
	api_free(&r);
}

static void test_cors_preflight_from_other_origin_gets_no_cors_headers(void)
{
	static const char *origins[] = {"http://evil.example",
	                                "http://allowed.example.evil.example",
	                                "https://allowed.example", "null", NULL};
	api_resp r;

	for (int i = 0; origins[i]; i++) {
		char o[128];
		const char *hs[] = {o, "Access-Control-Request-Method: POST", NULL};
		api_req q = {.method = "OPTIONS", .path = API "/auth/login", .headers = hs};

		snprintf(o, sizeof o, "Origin: %s", origins[i]);
		api_do(&r, &q);
		EXPECT(r.status == 403, "preflight from %s: expected 403, got %ld", origins[i],
		       r.status);
		EXPECT(api_hdr(&r, "Access-Control-Allow-Origin") == NULL,
		       "preflight from %s: Access-Control-Allow-Origin must be absent, got %s",
		       origins[i], api_hdr(&r, "Access-Control-Allow-Origin"));
		EXPECT(api_hdr(&r, "Access-Control-Allow-Methods") == NULL &&
		           api_hdr(&r, "Access-Control-Allow-Headers") == NULL &&
		           api_hdr(&r, "Access-Control-Allow-Credentials") == NULL,
		       "preflight from %s: no other CORS headers", origins[i]);
		api_free(&r);
	}
}

static void test_cors_actual_request_echoes_only_allowed_origin(void)
{
	static const char *ok[] = {"Origin: http://allowed.example", NULL};
	static const char *bad[] = {"Origin: http://evil.example", NULL};
	api_req q1 = {.method = "GET", .path = API "/health", .headers = ok};
	api_req q2 = {.method = "GET", .path = API "/health", .headers = bad};
	api_resp r;

	api_do(&r, &q1);
	EXPECT_OK(r, 200);
	EXPECT_HEADER(r, "Access-Control-Allow-Origin", "http://allowed.example");
	EXPECT(contains_ci(api_hdr(&r, "Vary"), "origin"), "Vary: Origin on a CORS response");
	api_free(&r);
	api_do(&r, &q2);
	EXPECT_OK(r, 200);
	EXPECT(api_hdr(&r, "Access-Control-Allow-Origin") == NULL,
	       "GET with Origin http://evil.example: Access-Control-Allow-Origin must be absent, "
	       "got %s",
	       api_hdr(&r, "Access-Control-Allow-Origin"));
	api_free(&r);
}

/* ---------------------------------------------------------------- health and metrics */

static void test_health_answers_200(void)
{
	api_resp r;

	api_get(&r, API "/health", NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
}

static void test_ready_reports_database_and_redis_up(void)
{
	api_resp r;

	api_get(&r, API "/ready", NULL);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.database"), "up");
	EXPECT_STR(api_jstr(r.json, "data.redis"), "up");
	api_free(&r);
}

static void test_metrics_from_loopback_is_prometheus_text(void)
{
	api_req q = {.method = "GET", .path = "/metrics", .no_xff = 1};
	api_resp r;
	const char *ct;

	/* at least one counted request first */
	api_get(&r, API "/health", NULL);
	api_free(&r);
	sleep(1);
	api_do(&r, &q);
	EXPECT_STATUS(r, 200);
	ct = api_hdr(&r, "Content-Type");
	EXPECT(ct && strncasecmp(ct, "text/plain", 10) == 0,
	       "metrics Content-Type should be text/plain, got %s", ct ? ct : "(absent)");
	EXPECT(strstr(r.body, "sp_http_requests_total") != NULL,
	       "metrics should contain sp_http_requests_total: %.300s", r.body);
	api_free(&r);
}

/* The value of one series in /metrics text (0 when absent). */
static double metric_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return 0;
}

static char *metrics_text(void)
{
	api_req q = {.method = "GET", .path = "/metrics", .no_xff = 1};
	api_resp r;
	char *t = NULL;

	api_do(&r, &q);
	if (r.status == 200)
		t = strdup(r.body);
	api_free(&r);
	return t;
}

/* A route of the table below, and what each request to it answered. */
struct probe {
	const char *method, *path, *label;
	long seen[6]; /* statuses seen */
	int times[6];
	int n;
};

static void probe_count(struct probe *p, long status)
{
	for (int i = 0; i < p->n; i++)
		if (p->seen[i] == status) {
			p->times[i]++;
			return;
		}
	if (p->n < 6) {
		p->seen[p->n] = status;
		p->times[p->n++] = 1;
	}
}

/* 1 when every (route, status) rose by exactly what was sent; *why says which did not. */
static int metrics_match(const char *before, const char *after, struct probe *ps, size_t n,
                         char *why, size_t wn)
{
	char series[300];

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < ps[i].n; k++) {
			snprintf(series, sizeof series,
			         "sp_http_requests_total{route=\"%s\",status=\"%ld\"}", ps[i].label,
			         ps[i].seen[k]);
			double d = metric_value(after, series) - metric_value(before, series);
			if (d != ps[i].times[k]) {
				snprintf(why, wn, "%s rose by %.0f, %d sent", series, d,
				         ps[i].times[k]);
				return 0;
			}
		}
	return 1;
}

static void test_metrics_count_every_request_exactly_across_processes(void)
{
	struct probe ps[] = {
	    {"GET", API "/health", "GET /health", {0}, {0}, 0},
	    {"GET", API "/ready", "GET /ready", {0}, {0}, 0},
	    {"PUT", API "/health", "unmatched", {0}, {0}, 0},
	    {"GET", API "/no/such/path", "unmatched", {0}, {0}, 0},
	    {"GET", API "/subscriptions/plans", "GET /subscriptions/plans", {0}, {0}, 0},
	    {"GET", API "/subscriptions/plans/1", "GET /subscriptions/plans/:planId", {0}, {0}, 0},
	    {"GET",
	     API "/subscriptions/plans/987654",
	     "GET /subscriptions/plans/:planId",
	     {0},
	     {0},
	     0},
	    {"GET", API "/subscriptions/status", "GET /subscriptions/status", {0}, {0}, 0},
	    {"GET", API "/content", "GET /content", {0}, {0}, 0},
	    {"GET", API "/content?page=0", "GET /content", {0}, {0}, 0},
	    {"GET", API "/content/featured", "GET /content/featured", {0}, {0}, 0},
	    {"GET", API "/content/trending", "GET /content/trending", {0}, {0}, 0},
	    {"GET", API "/content/987654", "GET /content/:id", {0}, {0}, 0},
	    {"GET", API "/content/1", "GET /content/:id", {0}, {0}, 0},
	    {"GET", API "/auth/me", "GET /auth/me", {0}, {0}, 0},
	    {"GET", API "/users/devices", "GET /users/devices", {0}, {0}, 0},
	    {"GET", API "/stream/sessions", "GET /stream/sessions", {0}, {0}, 0},
	    {"POST", API "/stream/stop", "POST /stream/stop", {0}, {0}, 0},
	    {"POST", API "/auth/login", "POST /auth/login", {0}, {0}, 0},
	};
	size_t n = sizeof ps / sizeof ps[0];
	char *before, *after = NULL, why[400] = "";
	int sent = 0, ok = 0;
	double t0;

	before = metrics_text();
	EXPECT(before != NULL, "GET /metrics from loopback answers 200");
	if (before == NULL)
		return;
	/* 12 rounds over 19 requests: many series per process, every process of each program */
	for (int round = 0; round < 12; round++)
		for (size_t i = 0; i < n; i++) {
			api_req q = {.method = ps[i].method,
			             .path = ps[i].path,
			             .body = strcmp(ps[i].method, "POST") == 0 ? "{}" : NULL};
			api_resp r;
			api_do(&r, &q);
			if (r.status > 0) {
				probe_count(&ps[i], r.status);
				sent++;
			}
			api_free(&r);
		}
	EXPECT(sent == 12 * (int)n, "every request answered: %d of %d", sent, 12 * (int)n);
	/* traffic has stopped: the counts are exact within a few seconds */
	t0 = api_now_s();
	while (!ok && api_now_s() - t0 < 5) {
		usleep(250000);
		free(after);
		after = metrics_text();
		ok = after && metrics_match(before, after, ps, n, why, sizeof why);
	}
	EXPECT(ok, "5 s after %d requests /metrics does not add up: %s", sent, why);
	/* and stays exact: nothing counted twice later */
	sleep(2);
	free(after);
	after = metrics_text();
	EXPECT(after && metrics_match(before, after, ps, n, why, sizeof why),
	       "2 s later /metrics no longer adds up: %s", why);
	free(before);
	free(after);
}

/* Each line of a histogram's buckets, checked for increasing le with +Inf last, then _sum, _count.
 */
static void check_histogram_order(const char *text)
{
	char prev_labels[300] = "";
	double prev_le = -1;
	int in_buckets = 0, groups = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[400];
		snprintf(line, sizeof line, "%.*s", (int)(len < 399 ? len : 399), p);
		if (strncmp(line, "sp_http_request_duration_seconds_bucket{", 40) == 0) {
			char *le = strstr(line, ",le=\"");
			char labels[300];
			double v;
			EXPECT(le != NULL, "bucket line without le: %s", line);
			if (le == NULL)
				return;
			snprintf(labels, sizeof labels, "%.*s", (int)(le - line), line);
			v = strncmp(le + 5, "+Inf", 4) == 0 ? 1e308 : strtod(le + 5, NULL);
			if (!in_buckets || strcmp(labels, prev_labels) != 0) {
				EXPECT(!in_buckets || prev_le == 1e308,
				       "buckets of %s end without +Inf", prev_labels);
				snprintf(prev_labels, sizeof prev_labels, "%s", labels);
				in_buckets = 1;
				groups++;
			} else {
				EXPECT(v > prev_le, "bucket le not increasing in %s: %g after %g",
				       line, v, prev_le);
			}
			prev_le = v;
		} else if (in_buckets) {
			/* _sum then _count right after the +Inf bucket */
			EXPECT(prev_le == 1e308, "the last bucket of %s is not +Inf", prev_labels);
			EXPECT(strncmp(line, "sp_http_request_duration_seconds_sum{", 37) == 0,
			       "after the buckets of %s comes _sum, got: %s", prev_labels, line);
			in_buckets = 0;
		}
	}
	EXPECT(groups > 0, "the histogram has buckets");
}

static void test_metrics_pass_promtool_with_help_type_and_ordered_buckets(void)
{
	api_resp r;
	char *text, path[] = "/tmp/sp-metrics-XXXXXX", cmd[256];
	int fd, st;
	FILE *f;

	api_get(&r, API "/health", NULL);
	api_free(&r);
	api_get(&r, API "/content", NULL);
	api_free(&r);
	sleep(2);
	text = metrics_text();
	EXPECT(text != NULL, "GET /metrics answers 200");
	if (text == NULL)
		return;
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	EXPECT(f != NULL, "temporary file for promtool");
	if (f) {
		fputs(text, f);
		fclose(f);
		snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
		st = system(cmd);
		char out[1024] = "";
		snprintf(cmd, sizeof cmd, "%s.out", path);
		f = fopen(cmd, "r");
		if (f) {
			size_t k = fread(out, 1, sizeof out - 1, f);
			out[k] = '\0';
			fclose(f);
		}
		EXPECT(st == 0, "promtool check metrics: exit %d: %s", st, out);
		unlink(cmd);
		unlink(path);
	}
	EXPECT(strstr(text, "sp_http_request_duration_seconds_count{route=\"GET /health\"}") !=
	           NULL,
	       "the request-duration histogram is in seconds: %.300s", text);
	EXPECT(strstr(text, "_duration_ms") == NULL, "no histogram in milliseconds is left");
	EXPECT(strstr(text, "# HELP sp_http_requests_total ") != NULL &&
	           strstr(text, "# TYPE sp_http_requests_total counter") != NULL,
	       "HELP and TYPE of sp_http_requests_total");
	/* each family's TYPE comes before its first sample */
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char fam[128], type_line[160];
		size_t k = 0;
		if (*p == '#')
			continue;
		while (p[k] && p[k] != '{' && p[k] != ' ' && k < sizeof fam - 1)
			k++;
		snprintf(fam, sizeof fam, "%.*s", (int)k, p);
		if (strncmp(fam, "sp_http_request_duration_seconds_", 33) == 0)
			snprintf(fam, sizeof fam, "sp_http_request_duration_seconds");
		snprintf(type_line, sizeof type_line, "# TYPE %s ", fam);
		const char *t = strstr(text, type_line);
		EXPECT(t != NULL && t < p, "# TYPE of %s before its first sample", fam);
		if (t == NULL || t >= p)
			break;
	}
	check_histogram_order(text);
	free(text);
}

static void test_metrics_refused_to_forwarded_remote_client(void)
{
	api_resp r;

	/* the trusted proxy on loopback forwards for a remote client: not loopback */
	send_from(&r, "GET", "/metrics", NULL, NULL, "198.18.250.7");
	EXPECT(r.status == 403 || r.status == 404,
	       "GET /metrics forwarded for 198.18.250.7 by the trusted proxy: expected 403, got "
	       "%ld",
	       r.status);
	EXPECT(strstr(r.body, "sp_http_requests_total") == NULL,
	       "metrics text served to a forwarded remote client");
	api_free(&r);
}

/* ---------------------------------------------------------------- rate limits */

static void test_rate_limit_auth_endpoints_five_per_ip(void)
{
	char ip[32], body[256];
	api_resp r;
	long prev = -1;

	api_fresh_ip(ip, sizeof ip);
	for (int i = 1; i <= 5; i++) {
		long rem;
		unknown_login_body(body, sizeof body);
		send_from(&r, "POST", API "/auth/login", NULL, body, ip);
		EXPECT(r.status == 401, "login %d from %s: expected 401, got %ld", i, ip, r.status);
		rem = hdr_long(&r, "X-RateLimit-Remaining");
		EXPECT(prev < 0 || rem < prev,
		       "X-RateLimit-Remaining should decrease: %ld then %ld", prev, rem);
		if (i == 5)
			EXPECT(rem == 0, "after the 5th of 5 the remaining count is 0, got %ld",
			       rem);
		prev = rem;
		api_free(&r);
	}
	unknown_login_body(body, sizeof body);
	send_from(&r, "POST", API "/auth/login", NULL, body, ip);
	EXPECT_429(r);
	api_free(&r);
	/* still limited with a valid-looking login; another address is not */
	send_from(&r, "POST", API "/auth/login", NULL, "{}", ip);
	EXPECT_STATUS(r, 429);
	api_free(&r);
	unknown_login_body(body, sizeof body);
	api_send(&r, "POST", API "/auth/login", NULL, body);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
}

static void test_rate_limit_covers_register_and_refresh(void)
{
	char ip[32];
	api_resp r;

	api_fresh_ip(ip, sizeof ip);
	for (int i = 1; i <= 5; i++) {
		send_from(&r, "POST", API "/auth/register", NULL, "{\"name\":\"x\"}", ip);
		EXPECT(r.status == 400, "register %d from %s: expected 400, got %ld", i, ip,
		       r.status);
		api_free(&r);
	}
	send_from(&r, "POST", API "/auth/register", NULL, "{\"name\":\"x\"}", ip);
	EXPECT_429(r);
	api_free(&r);

	api_fresh_ip(ip, sizeof ip);
	for (int i = 1; i <= 5; i++) {
		send_from(&r, "POST", API "/auth/refresh", NULL, "{\"refreshToken\":\"garbage\"}",
		          ip);
		EXPECT(r.status == 401, "refresh %d from %s: expected 401, got %ld", i, ip,
		       r.status);
		api_free(&r);
	}
	send_from(&r, "POST", API "/auth/refresh", NULL, "{\"refreshToken\":\"garbage\"}", ip);
	EXPECT_429(r);
	api_free(&r);
}

/* The i-th address (0..5) of the /64 2001:db8:a:b::, each written another way. */
static void ipv6_in_64(char out[46], unsigned a, unsigned b, int i)
{
	switch (i) {
	case 0:
		snprintf(out, 46, "2001:db8:%x:%x::1", a, b);
		break;
	case 1:
		snprintf(out, 46, "2001:db8:%x:%x:0:0:0:2", a, b);
		break;
	case 2:
		snprintf(out, 46, "2001:DB8:%X:%X:ffff:ffff:ffff:fffe", a, b);
		break;
	case 3:
		snprintf(out, 46, "2001:0db8:%04x:%04x:1234:5678:9abc:def0", a, b);
		break;
	case 4:
		snprintf(out, 46, "2001:db8:%x:%x:a::", a, b);
		break;
	default:
		snprintf(out, 46, "2001:db8:%x:%x:ba5e::77", a, b);
		break;
	}
}

/*
 * An IPv6 subscriber holds a whole /64: its addresses, however written,
 * share one per-IP limit; the next /64 has its own.
 */
static void test_rate_limit_ipv6_clients_share_their_64(void)
{
	/* one /64 per run, so reruns against the same stack do not collide */
	unsigned a = (unsigned)rand() % 0xffffu, b = (unsigned)rand() % 0xffffu;
	const char *garbage = "{\"refreshToken\":\"garbage\"}";
	char ip[46];
	api_resp r;

	for (int i = 0; i < 5; i++) {
		ipv6_in_64(ip, a, b, i);
		send_from(&r, "POST", API "/auth/refresh", NULL, garbage, ip);
		EXPECT(r.status == 401, "refresh %d from %s: expected 401, got %ld", i + 1, ip,
		       r.status);
		api_free(&r);
	}
	ipv6_in_64(ip, a, b, 5);
	send_from(&r, "POST", API "/auth/refresh", NULL, garbage, ip);
	EXPECT(r.status == 429,
	       "a 6th auth request from %s, in the /64 of the 5 before: expected 429, got %ld", ip,
	       r.status);
	EXPECT_429(r);
	api_free(&r);
	/* the neighbouring /64 is another client */
	ipv6_in_64(ip, a, (b + 1) % 0x10000u, 0);
	send_from(&r, "POST", API "/auth/refresh", NULL, garbage, ip);
	EXPECT(r.status == 401, "an auth request from the next /64 (%s): expected 401, got %ld", ip,
	       r.status);
	api_free(&r);
}

static void test_rate_limit_anonymous_hundred_per_ip(void)
{
	char ip[32];
	api_resp r;
	int bad_status = 0, bad_remaining = 0;
	long last_rem = -1;

	api_fresh_ip(ip, sizeof ip);
	for (int i = 1; i <= 100; i++) {
		long rem;
		send_from(&r, "GET", API "/health", NULL, NULL, ip);
		rem = hdr_long(&r, "X-RateLimit-Remaining");
		if (r.status != 200) {
			if (!bad_status)
				EXPECT(0, "anonymous request %d from %s: expected 200, got %ld", i,
				       ip, r.status);
			bad_status++;
		}
		if (rem != 100 - i || hdr_long(&r, "X-RateLimit-Limit") != 100) {
			if (!bad_remaining)
				EXPECT(0,
				       "anonymous request %d: expected X-RateLimit-Limit 100 and "
				       "Remaining %d, got %s / %s",
				       i, 100 - i,
				       api_hdr(&r, "X-RateLimit-Limit")
				           ? api_hdr(&r, "X-RateLimit-Limit")
				           : "(absent)",
				       api_hdr(&r, "X-RateLimit-Remaining")
				           ? api_hdr(&r, "X-RateLimit-Remaining")
				           : "(absent)");
			bad_remaining++;
		}
		last_rem = rem;
		api_free(&r);
	}
	EXPECT(last_rem == 0, "remaining after 100 requests: %ld", last_rem);
	send_from(&r, "GET", API "/health", NULL, NULL, ip);
	EXPECT_429(r);
	api_free(&r);
	/* the limit is per address */
	api_get(&r, API "/health", NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
}

static void test_rate_limit_authenticated_five_hundred_per_user(void)
{
	api_user u;
	api_resp r;
	int bad = 0;

	if (api_user_register(&u, "rl-user") != 0)
		return;
	/* a fresh address each time: the limit follows the user */
	for (int i = 1; i <= 500; i++) {
		long rem;
		api_get(&r, API "/auth/me", u.token);
		rem = hdr_long(&r, "X-RateLimit-Remaining");
		if (r.status != 200 || rem != 500 - i || hdr_long(&r, "X-RateLimit-Limit") != 500) {
			if (!bad)
				EXPECT(0,
				       "authenticated request %d: expected 200 with Limit 500 and "
				       "Remaining %d, got %ld %s / %s",
				       i, 500 - i, r.status,
				       api_hdr(&r, "X-RateLimit-Limit")
				           ? api_hdr(&r, "X-RateLimit-Limit")
				           : "(absent)",
				       api_hdr(&r, "X-RateLimit-Remaining")
				           ? api_hdr(&r, "X-RateLimit-Remaining")
				           : "(absent)");
			bad++;
		}
		api_free(&r);
	}
	api_get(&r, API "/auth/me", u.token);
	EXPECT_429(r);
	api_free(&r);
	api_user_free(&u);
}

static void test_forwarded_for_believed_from_trusted_proxy(void)
{
	char body[256];
	api_resp r;

	/* six sign-ins from loopback, each forwarded for a different client */
	for (int i = 1; i <= 6; i++) {
		unknown_login_body(body, sizeof body);
		api_send(&r, "POST", API "/auth/login", NULL, body);
		EXPECT(r.status == 401,
		       "login %d for a new forwarded client: expected 401, got %ld", i, r.status);
		api_free(&r);
	}
}

static void test_forwarded_for_ignored_from_untrusted_peer(void)
{
	char body[256], xff[64];
	api_resp r;

	for (int i = 1; i <= 6; i++) {
		const char *hs[] = {xff, NULL};
		api_req q = {.method = "POST",
		             .path = API "/auth/login",
		             .body = body,
		             .headers = hs,
		             .iface = "127.0.0.2"};
		char ip[32];

		api_fresh_ip(ip, sizeof ip);
		snprintf(xff, sizeof xff, "X-Forwarded-For: %s", ip);
		unknown_login_body(body, sizeof body);
		api_do(&r, &q);
		if (r.status == 0)
			EXPECT(0, "cannot connect from 127.0.0.2: %s", r.curl_error);
		if (i <= 5)
			EXPECT(r.status == 401,
			       "login %d from peer 127.0.0.2 (X-Forwarded-For %s): expected 401, "
			       "got %ld",
			       i, ip, r.status);
		else
			EXPECT_429(r);
		api_free(&r);
	}
}

/* ---------------------------------------------------------------- Redis down */

static int redis_down(void)
{
	int rc = api_redis_stop();

	EXPECT(rc == 0, "\"$SP_DEV\" stop redis failed");
	return rc;
}

/* After a restart: /auth/me with token answered through Redis (the
 * per-user counter moved) must be want; returns how many were. */
static int me_via_redis(const char *token, long want, const char *what)
{
	double t0 = api_now_s();
	int via_redis = 0, wrong = 0;

	while (api_now_s() - t0 < 10 && via_redis < 8) {
		api_resp r;
		long lim, rem;

		api_get(&r, API "/auth/me", token);
		lim = hdr_long(&r, "X-RateLimit-Limit");
		rem = hdr_long(&r, "X-RateLimit-Remaining");
		if (r.status != want) {
			if (!wrong)
				EXPECT(0, "%s: expected %ld, got %ld %s", what, want, r.status,
				       r.body);
			wrong++;
		}
		if (lim > 0 && rem >= 0 && rem < lim)
			via_redis++;
		api_free(&r);
		usleep(100000);
	}
	EXPECT(via_redis >= 4, "%s: only %d answers went through Redis after the restart", what,
	       via_redis);
	return via_redis;
}

static void test_ready_reports_redis_down_and_stays_200(void)
{
	api_resp r;

	if (redis_down() == 0) {
		for (int i = 0; i < 3; i++) {
			api_get(&r, API "/ready", NULL);
			EXPECT_OK(r, 200);
			EXPECT_STR(api_jstr(r.json, "data.database"), "up");
			EXPECT_STR(api_jstr(r.json, "data.redis"), "down");
			EXPECT_COMMON_HEADERS(r);
			api_free(&r);
		}
		api_get(&r, API "/health", NULL);
		EXPECT_OK(r, 200);
		api_free(&r);
	}
	api_redis_start_and_wait();
	api_get(&r, API "/ready", NULL);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.redis"), "up");
	api_free(&r);
}

static void test_login_and_me_work_while_redis_is_down(void)
{
	api_user u;
	api_resp r;
	char body[512];
	char *token = NULL;

	if (api_user_register(&u, "redis-down") != 0)
		return;
	if (redis_down() == 0) {
		EXPECT_STR(api_ready_redis(), "down");
		snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", u.email,
		         u.password);
		api_send(&r, "POST", API "/auth/login", NULL, body);
		EXPECT_OK(r, 200);
		EXPECT_COMMON_HEADERS(r);
		api_take_str(&token, &r, "data.token");
		api_free(&r);
		for (int i = 0; i < 3; i++) {
			api_get(&r, API "/auth/me", token);
			EXPECT_OK(r, 200);
			EXPECT_STR(api_jstr(r.json, "data.user.id"), u.id);
			EXPECT_COMMON_HEADERS(r);
			api_free(&r);
			api_get(&r, API "/auth/me", u.token);
			EXPECT_OK(r, 200);
			api_free(&r);
		}
		/* a wrong token is still refused */
		api_get(&r, API "/auth/me", "forged.token.value");
		EXPECT_ERROR(r, 401, "UNAUTHORIZED");
		api_free(&r);
	}
	api_redis_start_and_wait();
	free(token);
	api_user_free(&u);
}

static void test_logout_during_redis_outage_stays_revoked_after_recovery(void)
{
	api_user u, other;
	api_resp r;
	char body[256];

	if (api_user_register(&u, "redis-logout") != 0)
		return;
	other = u;
	other.token = other.refresh = NULL;
	if (api_user_login(&other) != 0) {
		api_user_free(&u);
		return;
	}
	if (redis_down() == 0) {
		EXPECT_STR(api_ready_redis(), "down");
		api_send(&r, "POST", API "/auth/logout", u.token, NULL);
		EXPECT_OK(r, 200);
		api_free(&r);
		for (int i = 0; i < 3; i++) {
			api_get(&r, API "/auth/me", u.token);
			EXPECT_ERROR(r, 401, "UNAUTHORIZED");
			api_free(&r);
		}
	}
	api_redis_start_and_wait();
	me_via_redis(u.token, 401, "token revoked while Redis was down, after Redis is back");
	snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", u.refresh);
	api_send(&r, "POST", API "/auth/refresh", NULL, body);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_get(&r, API "/auth/me", other.token);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_user_free(&other);
	api_user_free(&u);
}

static void test_logout_before_redis_outage_stays_revoked(void)
{
	api_user u, other;
	api_resp r;

	if (api_user_register(&u, "redis-before") != 0)
		return;
	other = u;
	other.token = other.refresh = NULL;
	if (api_user_login(&other) != 0) {
		api_user_free(&u);
		return;
	}
	api_send(&r, "POST", API "/auth/logout", u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_get(&r, API "/auth/me", u.token);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	if (redis_down() == 0) {
		EXPECT_STR(api_ready_redis(), "down");
		for (int i = 0; i < 4; i++) {
			api_get(&r, API "/auth/me", u.token);
			EXPECT(r.status == 401,
			       "signed-out token while Redis is down (MariaDB fallback): expected "
			       "401, got %ld %s",
			       r.status, r.body);
			EXPECT_ERROR(r, 401, "UNAUTHORIZED");
			api_free(&r);
			api_get(&r, API "/auth/me", other.token);
			EXPECT_OK(r, 200);
			api_free(&r);
		}
	}
	api_redis_start_and_wait();
	me_via_redis(u.token, 401, "token revoked before the outage, after Redis is back");
	api_user_free(&other);
	api_user_free(&u);
}

static void test_metrics_answer_200_right_after_redis_restart(void)
{
	api_req q = {.method = "GET", .path = "/metrics", .no_xff = 1};
	api_resp r;

	double t0 = api_now_s();
	long st = 0;

	/* the metrics program holds a working Redis connection */
	while (st != 200 && api_now_s() - t0 < 5) {
		api_do(&r, &q);
		st = r.status;
		api_free(&r);
		if (st != 200)
			usleep(300000);
	}
	EXPECT(st == 200, "GET /metrics with Redis up: expected 200 within 5 s, last %ld", st);
	if (redis_down() == 0) {
		int rc = api_redis_start();
		EXPECT(rc == 0, "\"$SP_DEV\" start redis failed");
		/* Redis answers again (scripts/dev start waited for PING): no reason for a 503 */
		api_do(&r, &q);
		EXPECT(r.status == 200,
		       "GET /metrics right after Redis came back: expected 200, got %ld %.200s",
		       r.status, r.body);
		api_free(&r);
	}
	api_redis_start_and_wait();
	api_do(&r, &q);
	EXPECT_STATUS(r, 200);
	api_free(&r);
}

/* ---------------------------------------------------------------- operator series */

/* Sum of every sample of family (all label sets) in /metrics text. */
static double metric_sum(const char *text, const char *family)
{
	size_t n = strlen(family);
	double sum = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, family, n) == 0 && (p[n] == '{' || p[n] == ' ')) {
			const char *v = strchr(p, ' ');
			sum += v ? strtod(v + 1, NULL) : 0;
		}
	return sum;
}

/* Polls /metrics up to 5 s until series exceeds floor; its last value (-1: no answer). */
static double metric_above(const char *series, double floor)
{
	double t0 = api_now_s(), v = -1;

	while (api_now_s() - t0 < 5) {
		char *t = metrics_text();
		v = t ? metric_value(t, series) : -1;
		free(t);
		if (v > floor)
			break;
		usleep(200000);
	}
	return v;
}

#define PROBE_ROWS                                                                                 \
	"INSERT INTO outbox (event_type, payload, status) VALUES ('metrics.probe', '{}', "         \
	"'failed'), ('metrics.probe', '{}', 'failed');"                                            \
	"SET @o = (SELECT MAX(id) FROM outbox WHERE event_type = 'metrics.probe');"                \
	"INSERT INTO webhooks (url, secret_sealed, events, cursor_outbox_id, failures) VALUES "    \
	"('http://127.0.0.1:9/metrics-probe', 'not-a-seal', '[\"metrics.probe\"]', @o, 1);"        \
	"SET @w = LAST_INSERT_ID();"                                                               \
	"INSERT INTO webhook_deliveries (webhook_id, outbox_id, status, next_attempt_at) VALUES "  \
	"(@w, @o, 'pending', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND), (@w, @o - 1, 'failed', "       \
	"UTC_TIMESTAMP(3))"
#define PROBE_CLEANUP                                                                              \
	"DELETE FROM webhooks WHERE url = 'http://127.0.0.1:9/metrics-probe';"                     \
	"DELETE FROM outbox WHERE event_type = 'metrics.probe'"

/* The webhooks job's outcome for the probe's pending delivery, as it left it in MariaDB. */
static const char *probe_outcome(void)
{
	char *st =
	    api_db_str_l("SELECT CONCAT(d.status, ':', d.attempts) FROM webhook_deliveries d "
	                 "JOIN webhooks w ON w.id = d.webhook_id WHERE w.url = "
	                 "'http://127.0.0.1:9/metrics-probe' AND d.outbox_id = "
	                 "(SELECT MAX(id) FROM outbox WHERE event_type = 'metrics.probe') "
	                 "AND ? = 1",
	                 1);
	const char *o = st == NULL                           ? "?"
	                : strncmp(st, "failed:", 7) == 0     ? "failed"
	                : strncmp(st, "delivered:", 10) == 0 ? "delivered"
	                : strcmp(st, "pending:0") != 0       ? "retry"
	                                                     : "not attempted";
	free(st);
	return o;
}

/*
 * Failed outbox events, webhook deliveries pending and parked, and a failing
 * webhook, read from MariaDB at scrape time; then a webhooks run whose
 * attempt (the secret cannot be opened) is counted by outcome.
 */
static void test_metrics_show_outbox_and_webhook_state(void)
{
	char err[256], series[96], *before, *after;
	const char *outcome;
	double was;

	before = metrics_text();
	EXPECT(before != NULL, "GET /metrics answers 200");
	EXPECT(api_db_script(PROBE_ROWS, err, sizeof err) == 0, "probe rows: %s", err);
	after = metrics_text();
	EXPECT(after != NULL, "GET /metrics answers 200 after the probe rows");
	if (before && after) {
		static const struct {
			const char *series;
			double rise;
		} want[] = {{"sp_outbox_failed", 2},
		            {"sp_webhook_deliveries{status=\"pending\"}", 1},
		            {"sp_webhook_deliveries{status=\"failed\"}", 1},
		            {"sp_webhooks_failing", 1}};
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			double b = metric_value(before, want[i].series),
			       a = metric_value(after, want[i].series);
			EXPECT(strstr(after, want[i].series) != NULL && a == b + want[i].rise,
			       "%s: %g before, %g after; expected +%g", want[i].series, b, a,
			       want[i].rise);
		}
		was = metric_sum(after, "sp_webhook_attempts_total");
		EXPECT(api_run_tool("worker", "webhooks") == 0, "sp-worker webhooks exits 0");
		outcome = probe_outcome();
		snprintf(series, sizeof series, "sp_webhook_attempts_total{outcome=\"%s\"}",
		         outcome);
		free(after);
		after = metrics_text();
		EXPECT(after && strstr(after, series) &&
		           metric_sum(after, "sp_webhook_attempts_total") > was,
		       "after a webhooks run whose attempt ended %s, %s counts it: %.2000s",
		       outcome, series, after ? after : "(no answer)");
	}
	free(before);
	free(after);
	EXPECT(api_db_script(PROBE_CLEANUP, err, sizeof err) == 0, "probe cleanup: %s", err);
}

/* A mailer run counts each event's outcome, the one its row ends in. */
static void test_metrics_count_mail_outcomes(void)
{
	char err[256], series[96], *text, *st;
	double was;
	long long id;

	text = metrics_text();
	was = text ? metric_sum(text, "sp_mail_outcomes_total") : 0;
	free(text);
	EXPECT(
	    api_db_script("INSERT INTO outbox (event_type, payload) VALUES ('metrics.probe', '{}')",
	                  err, sizeof err) == 0,
	    "probe event: %s", err);
	id = api_db_ll("SELECT MAX(id) FROM outbox WHERE event_type = 'metrics.probe'");
	EXPECT(api_run_tool("worker", "mailer") == 0, "sp-worker mailer exits 0");
	st = api_db_str_l("SELECT IF(status = 'pending', IF(attempts > 0, 'retry', 'untouched'), "
	                  "status) FROM outbox WHERE id = ?",
	                  id);
	snprintf(series, sizeof series, "sp_mail_outcomes_total{outcome=\"%s\"}", st ? st : "?");
	text = metrics_text();
	EXPECT(text && strstr(text, series) && metric_sum(text, "sp_mail_outcomes_total") > was,
	       "the mailer left the probe %s; /metrics should count it in %s: %.2000s",
	       st ? st : "?", series, text ? text : "(no answer)");
	free(text);
	free(st);
	EXPECT(api_db_script(PROBE_CLEANUP, err, sizeof err) == 0, "probe cleanup: %s", err);
}

/* A Redis restart empties the metrics hash; the programs' reconnects are counted anew. */
static void test_metrics_count_redis_reconnects(void)
{
	double v;

	if (redis_down() != 0)
		return;
	api_redis_start_and_wait();
	v = metric_above("sp_redis_reconnects_total", 0);
	EXPECT(v >= 1,
	       "after a Redis restart sp_redis_reconnects_total should count the "
	       "reconnects, got %g",
	       v);
}

/* A progress report held in Redis between two MariaDB writes is counted. */
static void test_metrics_count_held_progress_reports(void)
{
	char *text = metrics_text(), path[96];
	double was = text ? metric_value(text, "sp_history_held_total") : 0, v;
	long long cid = api_title(0, 0);
	api_user u;
	api_resp r;

	free(text);
	if (api_viewer(&u, "metrics-held", 1) != 0)
		return;
	snprintf(path, sizeof path, "/api/v1/watch-history/%lld/progress", cid);
	/*
	 * Six reports, not three: where processes share one socket (Apache with
	 * spawn-fcgi) any of them may take each report, and a process's first
	 * report after a Redis restart (the test before restarts it) is written
	 * rather than held.
	 */
	for (int i = 1; i <= 6; i++) {
		char body[96];
		snprintf(body, sizeof body, "{\"watchedDuration\":%d,\"totalDuration\":1000}",
		         100 * i);
		api_send(&r, "PUT", path, u.token, body);
		EXPECT_OK(r, 200);
		api_free(&r);
	}
	v = metric_above("sp_history_held_total", was + 1);
	EXPECT(v >= was + 2, "two reports after the first write were held: %g, was %g", v, was);
	api_user_free(&u);
}

/* Connections killed in MariaDB: the programs open new ones, counted. */
static void test_metrics_count_mariadb_reconnects(void)
{
	char sql[64], err[256], *text = metrics_text();
	double was = text ? metric_value(text, "sp_db_reconnects_total") : 0, v;
	long long id = 0;
	int killed = 0;

	free(text);
	EXPECT(text != NULL, "GET /metrics answers 200");
	while ((id = api_db_ll_l("SELECT MIN(id) FROM information_schema.PROCESSLIST WHERE id > ? "
	                         "AND id <> CONNECTION_ID() AND user = SUBSTRING_INDEX(USER(), "
	                         "'@', 1)",
	                         id)) > 0) {
		snprintf(sql, sizeof sql, "KILL %lld", id);
		killed += api_db_script(sql, err, sizeof err) == 0;
	}
	EXPECT(killed > 0, "no program connection to kill");
	sleep(3); /* past the idle check, so the next use pings and reconnects */
	v = metric_above("sp_db_reconnects_total", was);
	EXPECT(v > was, "after %d killed connections sp_db_reconnects_total stayed %g", killed, v);
}

/* Every target expression of the dashboard's panels, appended to exprs (one per line). */
static int dashboard_exprs(json_object *dash, char *exprs, size_t size)
{
	size_t len = 0;

	json_object *panels = NULL;
	int n = 0;

	if (!json_object_object_get_ex(dash, "panels", &panels) ||
	    !json_object_is_type(panels, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(panels); i++) {
		json_object *targets = NULL, *p = json_object_array_get_idx(panels, i);
		if (!json_object_object_get_ex(p, "targets", &targets))
			continue;
		for (size_t k = 0; k < json_object_array_length(targets); k++) {
			json_object *e = NULL;
			if (json_object_object_get_ex(json_object_array_get_idx(targets, k), "expr",
			                              &e))
				n++, len +=
				     (size_t)snprintf(exprs + len, len < size ? size - len : 0,
				                      "%s\n", json_object_get_string(e));
		}
	}
	return n;
}

/* 1 when /metrics text declares the series name (a histogram's for _bucket/_sum/_count). */
static int declared(const char *text, const char *name)
{
	static const char *const suffix[] = {"_bucket", "_sum", "_count"};
	char line[160];
	size_t n = strlen(name);

	snprintf(line, sizeof line, "# TYPE %s ", name);
	if (strstr(text, line))
		return 1;
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(suffix[i]);
		if (n > k && strcmp(name + n - k, suffix[i]) == 0) {
			snprintf(line, sizeof line, "# TYPE %.*s histogram", (int)(n - k), name);
			if (strstr(text, line))
				return 1;
		}
	}
	return 0;
}

/* The expressions as recording rules ($__rate_interval as 5m) through promtool check rules. */
static int promtool_rules_ok(const char *exprs, char *out, size_t outn)
{
	char path[] = "/tmp/sp-rules-XXXXXX", cmd[256];
	int fd = mkstemp(path), n = 0, st;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL)
		return 0;
	fputs("groups:\n  - name: dashboard\n    rules:\n", f);
	for (const char *p = exprs, *e; (e = strchr(p, '\n')) != NULL; p = e + 1) {
		fprintf(f, "      - record: dashboard:expr%d\n        expr: '", n++);
		for (const char *c = p; c < e; c++) {
			if (strncmp(c, "$__rate_interval", 16) == 0) {
				fputs("5m", f);
				c += 15;
			} else if (*c == '\'') {
				fputs("''", f); /* YAML single quotes */
			} else {
				fputc(*c, f);
			}
		}
		fputs("'\n", f);
	}
	fclose(f);
	snprintf(cmd, sizeof cmd, "promtool check rules %s 2>&1", path);
	f = popen(cmd, "r");
	out[0] = '\0';
	if (f) {
		out[fread(out, 1, outn - 1, f)] = '\0';
		st = pclose(f);
	} else
		st = -1;
	unlink(path);
	return st == 0;
}

/*
 * conf/grafana/streaming.json parses, its expressions are valid PromQL, and
 * every sp_ name in them is a series the running service declares, so the
 * dashboard cannot drift from the code.
 */
static void test_grafana_dashboard_uses_only_exported_series(void)
{
	json_object *dash = json_object_from_file("conf/grafana/streaming.json");
	static char exprs[32768];
	char *text, out[2048];
	int n;

	EXPECT(dash != NULL, "conf/grafana/streaming.json parses as JSON (run from the worktree)");
	if (dash == NULL)
		return;
	exprs[0] = '\0';
	n = dashboard_exprs(dash, exprs, sizeof exprs);
	EXPECT(n >= 10, "the dashboard has panel expressions: %d", n);
	EXPECT(n > 0 && promtool_rules_ok(exprs, out, sizeof out),
	       "dashboard expressions are valid PromQL: %s", out);
	text = metrics_text();
	EXPECT(text != NULL, "GET /metrics answers 200");
	for (const char *p = exprs; text && p && *p; p++) {
		char name[128];
		size_t k = 0;
		if (strncmp(p, "sp_", 3) != 0 ||
		    (p > exprs && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == ':')))
			continue;
		while ((isalnum((unsigned char)p[k]) || p[k] == '_') && k < sizeof name - 1)
			k++;
		snprintf(name, sizeof name, "%.*s", (int)k, p);
		EXPECT(declared(text, name),
		       "the dashboard uses %s, which /metrics does not declare", name);
		p += k - 1;
	}
	free(text);
	json_object_put(dash);
}

static void test_prometheus_scrape_config_passes_promtool(void)
{
	FILE *f = popen("promtool check config conf/prometheus/prometheus.yml 2>&1", "r");
	char out[1024] = "";
	int st = -1;

	if (f) {
		out[fread(out, 1, sizeof out - 1, f)] = '\0';
		st = pclose(f);
	}
	EXPECT(st == 0, "promtool check config conf/prometheus/prometheus.yml: %s", out);
	EXPECT(strstr(out, "SUCCESS") != NULL, "promtool reports success: %s", out);
}

/* ---------------------------------------------------------------- registry */

/* Static files, the web client and media alike: a same-origin MSE player (hls.js) may
 * use blob: media sources and workers, and nothing else is widened. */
static void test_static_files_csp_allows_a_same_origin_mse_player(void)
{
	const char *want = "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
	                   "frame-ancestors 'none'";
	const char *paths[] = {"/", "/index.html", "/media/1/480p/index.m3u8"};
	api_resp r;

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		api_get(&r, paths[i], NULL);
		EXPECT(r.status != 0, "GET %s answered", paths[i]);
		EXPECT_HEADER(r, "Content-Security-Policy", want);
		api_free(&r);
	}
}

static int suite_cleanup(void)
{
	api_redis_ensure_started();
	return 0;
}

int api_suite_http(void)
{
	CU_pSuite s = CU_add_suite("http", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_health_answers_200);
	ADD(test_ready_reports_database_and_redis_up);
	ADD(test_unknown_api_path_is_404_not_found);
	ADD(test_wrong_method_is_405_with_allow_header);
	ADD(test_field_errors_only_in_the_400);
	ADD(test_web_server_errors_use_the_json_error_shape);
	ADD(test_security_headers_on_every_response);
	ADD(test_web_servers_own_errors_carry_the_security_headers);
	ADD(test_json_content_type_with_utf8_charset_is_accepted);
	ADD(test_unknown_query_parameters_are_ignored);
	ADD(test_cors_preflight_from_allowed_origin_is_204);
	ADD(test_cors_preflight_from_other_origin_gets_no_cors_headers);
	ADD(test_cors_actual_request_echoes_only_allowed_origin);
	ADD(test_metrics_from_loopback_is_prometheus_text);
	ADD(test_metrics_refused_to_forwarded_remote_client);
	ADD(test_metrics_count_every_request_exactly_across_processes);
	ADD(test_metrics_pass_promtool_with_help_type_and_ordered_buckets);
	ADD(test_rate_limit_auth_endpoints_five_per_ip);
	ADD(test_rate_limit_covers_register_and_refresh);
	ADD(test_rate_limit_ipv6_clients_share_their_64);
	ADD(test_rate_limit_anonymous_hundred_per_ip);
	ADD(test_rate_limit_authenticated_five_hundred_per_user);
	ADD(test_forwarded_for_believed_from_trusted_proxy);
	ADD(test_forwarded_for_ignored_from_untrusted_peer);
	ADD(test_ready_reports_redis_down_and_stays_200);
	ADD(test_login_and_me_work_while_redis_is_down);
	ADD(test_logout_during_redis_outage_stays_revoked_after_recovery);
	ADD(test_logout_before_redis_outage_stays_revoked);
	ADD(test_metrics_answer_200_right_after_redis_restart);
	ADD(test_metrics_show_outbox_and_webhook_state);
	ADD(test_metrics_count_mail_outcomes);
	ADD(test_metrics_count_redis_reconnects);
	ADD(test_metrics_count_held_progress_reports);
	ADD(test_metrics_count_mariadb_reconnects);
	ADD(test_grafana_dashboard_uses_only_exported_series);
	ADD(test_prometheus_scrape_config_passes_promtool);
	ADD(test_static_files_csp_allows_a_same_origin_mse_player);
#undef ADD
	return 0;
}
