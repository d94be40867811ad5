/*
 * The API tests' HTTP client (libcurl, one reused handle) and helpers.
 */
#include "api_client.h"

#include "sp_config.h"
#include "sp_db.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static CURL *curl;
static char base[256];
static unsigned ip_counter;
static unsigned run_id;
static unsigned email_counter;
static int db_ok = -1;
static int redis_stopped;

/* ---------------------------------------------------------------- setup */

int api_init(void)
{
	const char *b = getenv("SP_TEST_BASE");
	size_t l;

	if (b == NULL || *b == '\0')
		b = "http://127.0.0.1:18080";
	snprintf(base, sizeof base, "%s", b);
	l = strlen(base);
	if (l > 0 && base[l - 1] == '/')
		base[l - 1] = '\0';
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* a different range of fake addresses each run, so reruns within a
	 * rate-limit window against the same stack do not collide */
	ip_counter = (unsigned)rand() % 60000u;
	run_id = (unsigned)time(NULL) % 100000u * 100u + (unsigned)getpid() % 100u;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	curl = curl_easy_init();
	return curl ? 0 : -1;
}

void api_cleanup(void)
{
	api_redis_ensure_started();
	if (curl)
		curl_easy_cleanup(curl);
	curl = NULL;
	curl_global_cleanup();
	if (db_ok == 0)
		sp_db_close();
}

const char *api_base(void)
{
	return base;
}

void api_fresh_ip(char *out, size_t n)
{
	unsigned v = ip_counter++ % 65024u;

	/* 198.18.x.y with y in 1..254 */
	snprintf(out, n, "198.18.%u.%u", (v / 254u) % 256u, v % 254u + 1u);
}

/* ---------------------------------------------------------------- requests */

/* Appends n bytes to the NUL-terminated buffer *data of *len bytes; n, or 0 without memory. */
static size_t append(char **data, size_t *len, const char *p, size_t n)
{
	char *nb = realloc(*data, *len + n + 1);

	if (nb == NULL)
		return 0;
	*data = nb;
	memcpy(*data + *len, p, n);
	*len += n;
	(*data)[*len] = '\0';
	return n;
}

size_t api_on_body(char *p, size_t sz, size_t nm, void *ud)
{
	api_resp *r = ud;

	return append(&r->body, &r->body_len, p, sz * nm);
}

size_t api_buf_write(char *p, size_t sz, size_t nm, void *ud)
{
	api_buf *b = ud;

	return append(&b->data, &b->len, p, sz * nm);
}

static void clear_headers(api_resp *r)
{
	for (int i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->n_headers = 0;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	api_resp *r = ud;
	size_t n = sz * nm, l = n;
	const char *colon;

	/* a new status line (e.g. after 100 Continue) starts a new header block */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		clear_headers(r);
		return n;
	}
	while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
		l--;
	colon = memchr(p, ':', l);
	if (colon == NULL || r->n_headers >= API_MAX_HEADERS)
		return n;
	{
		size_t nl = (size_t)(colon - p);
		const char *v = colon + 1;
		size_t vl;

		while (v < p + l && (*v == ' ' || *v == '\t'))
			v++;
		vl = (size_t)(p + l - v);
		r->headers[r->n_headers].name = strndup(p, nl);
		r->headers[r->n_headers].value = strndup(v, vl);
		r->n_headers++;
	}
	return n;
}

static int has_header(const char *const *hs, const char *name)
{
	size_t l = strlen(name);

	for (; hs && *hs; hs++)
		if (strncasecmp(*hs, name, l) == 0 && (*hs)[l] == ':')
			return 1;
	return 0;
}

long api_do(api_resp *resp, const api_req *req)
{
	struct curl_slist *hl = NULL;
	char url[2048], line[4200], ip[32];
	CURLcode rc;
	const char *method = req->method ? req->method : "GET";

	memset(resp, 0, sizeof *resp);
	snprintf(resp->method, sizeof resp->method, "%s", method);
	snprintf(resp->path, sizeof resp->path, "%s", req->path);
	resp->body = calloc(1, 1);
	if (curl == NULL) {
		snprintf(resp->curl_error, sizeof resp->curl_error, "client not initialised");
		return 0;
	}
	if (strncmp(req->path, "http://", 7) == 0 || strncmp(req->path, "https://", 8) == 0)
		snprintf(url, sizeof url, "%s", req->path);
	else
		snprintf(url, sizeof url, "%s%s", base, req->path);

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, resp->curl_error);
	if (req->iface) {
		/*
		 * A connection bound to another local address must not be reused
		 * for later requests that did not ask for it (curl would, once the
		 * plain one was closed), or they would all count as that client.
		 */
		curl_easy_setopt(curl, CURLOPT_INTERFACE, req->iface);
		curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
	}

	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	if (req->body) {
		size_t bl = req->body_len ? req->body_len : strlen(req->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bl);
		if (!has_header(req->headers, "Content-Type"))
			hl = curl_slist_append(hl, "Content-Type: application/json");
	} else if (!req->no_length && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)) {
		/* an explicit empty body: Content-Length: 0 */
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		if (!has_header(req->headers, "Content-Type"))
			hl = curl_slist_append(hl, "Content-Type:");
	}
	hl = curl_slist_append(hl, "Expect:");
	if (!req->no_xff && !has_header(req->headers, "X-Forwarded-For")) {
		api_fresh_ip(ip, sizeof ip);
		snprintf(line, sizeof line, "X-Forwarded-For: %s", ip);
		hl = curl_slist_append(hl, line);
	}
	if (req->token) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", req->token);
		hl = curl_slist_append(hl, line);
	}
	for (const char *const *h = req->headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK || resp->n_headers > 0) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
		if (rc != CURLE_OK && resp->curl_error[0] == '\0')
			snprintf(resp->curl_error, sizeof resp->curl_error, "%s",
			         curl_easy_strerror(rc));
	} else {
		resp->status = 0;
		if (resp->curl_error[0] == '\0')
			snprintf(resp->curl_error, sizeof resp->curl_error, "%s",
			         curl_easy_strerror(rc));
	}
	curl_slist_free_all(hl);
	if (resp->body_len > 0) {
		json_tokener *tok = json_tokener_new();
		json_object *o = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
		if (json_tokener_get_error(tok) == json_tokener_success)
			resp->json = o;
		else if (o)
			json_object_put(o);
		json_tokener_free(tok);
	}
	return resp->status;
}

long api_get(api_resp *resp, const char *path, const char *token)
{
	api_req q = {.method = "GET", .path = path, .token = token};

	return api_do(resp, &q);
}

long api_send(api_resp *resp, const char *method, const char *path, const char *token,
              const char *json_body)
{
	api_req q = {.method = method, .path = path, .token = token, .body = json_body};

	return api_do(resp, &q);
}

long api_get_status(const char *path)
{
	api_resp r;
	long st = api_get(&r, path, NULL);

	api_free(&r);
	return st;
}

void api_free(api_resp *resp)
{
	clear_headers(resp);
	free(resp->body);
	resp->body = NULL;
	if (resp->json)
		json_object_put(resp->json);
	resp->json = NULL;
}

/* ---------------------------------------------------------------- reading */

const char *api_hdr(const api_resp *r, const char *name)
{
	for (int i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

json_object *api_jget(json_object *o, const char *path)
{
	char buf[256], *save = NULL, *part;

	if (o == NULL)
		return NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			long i = strtol(part, &end, 10);
			if (*end || i < 0 || (size_t)i >= json_object_array_length(o))
				return NULL;
			o = json_object_array_get_idx(o, (size_t)i);
		} else if (json_object_is_type(o, json_type_object)) {
			json_object *v;
			if (!json_object_object_get_ex(o, part, &v))
				return NULL;
			o = v; /* JSON null ends the walk: NULL */
		} else {
			return NULL;
		}
	}
	return o;
}

const char *api_jstr(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int api_jnull(json_object *o, const char *path)
{
	char buf[256], *dot;
	json_object *parent, *v;

	snprintf(buf, sizeof buf, "%s", path);
	dot = strrchr(buf, '.');
	if (dot) {
		*dot = '\0';
		parent = api_jget(o, buf);
	} else {
		parent = o;
	}
	if (parent == NULL || !json_object_is_type(parent, json_type_object))
		return 0;
	if (!json_object_object_get_ex(parent, dot ? dot + 1 : buf, &v))
		return 0;
	return v == NULL;
}

void api_error_fields(const api_resp *r, char *out, size_t n)
{
	json_object *errs = api_jget(r->json, "errors");
	size_t used = 0;

	out[0] = '\0';
	if (errs == NULL || !json_object_is_type(errs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(errs); i++) {
		const char *f = api_jstr(json_object_array_get_idx(errs, i), "field");
		int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", f ? f : "?");
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
}

int api_has_error_field(const api_resp *r, const char *field)
{
	json_object *errs = api_jget(r->json, "errors");

	if (errs == NULL || !json_object_is_type(errs, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(errs); i++) {
		const char *f = api_jstr(json_object_array_get_idx(errs, i), "field");
		if (f && strcmp(f, field) == 0)
			return 1;
	}
	return 0;
}

int api_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

long long api_jint(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

int api_jbool(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

size_t api_jlen(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

int api_jtype(json_object *o, const char *path, json_type t)
{
	json_object *v = api_jget(o, path);

	return v && json_object_is_type(v, t);
}

int api_is_iso_ms(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (s == NULL || strlen(s) != sizeof pat - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	}
	return 1;
}

long long api_iso_ms(const char *s)
{
	struct tm tm;

	if (!api_is_iso_ms(s))
		return -1;
	memset(&tm, 0, sizeof tm);
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return -1;
	return (long long)timegm(&tm) * 1000 + atoi(s + 20);
}

/* ---------------------------------------------------------------- time */

double api_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void api_sleep_s(double s)
{
	if (s > 0)
		usleep((useconds_t)(s * 1e6));
}

/* ---------------------------------------------------------------- checks */

/* CUnit keeps the condition text of a failure; give it a copy that lives on. */
static char *kept[4096];
static int n_kept;

void api_assert(int ok, int line, const char *file, const char *fmt, ...)
{
	char buf[1400];
	char *msg;
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, (unsigned)line, "ok", file, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	msg = strdup(buf);
	if (msg && n_kept < (int)(sizeof kept / sizeof kept[0]))
		kept[n_kept++] = msg;
	fprintf(stderr, "    FAIL %s:%d: %s\n", file, line, buf);
	CU_assertImplementation(CU_FALSE, (unsigned)line, msg ? msg : "(no memory)", file, "",
	                        CU_FALSE);
}

const char *api_excerpt(const api_resp *r, char *out, size_t n)
{
	size_t l = r->body_len < n - 1 ? r->body_len : n - 1;

	for (size_t i = 0; i < l; i++)
		out[i] = isprint((unsigned char)r->body[i]) ? r->body[i] : '.';
	out[l] = '\0';
	return out;
}

void api_check_status(const api_resp *r, long want, const char *file, int line)
{
	char ex[400];

	api_assert(r->status == want, line, file, "%s %.120s: expected status %ld, got %ld %s%s",
	           r->method, r->path, want, r->status, r->curl_error[0] ? r->curl_error : "",
	           api_excerpt(r, ex, sizeof ex));
}

void api_check_error(const api_resp *r, long want, const char *code, const char *file, int line)
{
	char ex[400];
	const char *got_code = api_jstr(r->json, "code");
	const char *msg = api_jstr(r->json, "message");
	json_object *success = api_jget(r->json, "success");
	json_object *errs = api_jget(r->json, "errors");
	int shape = r->json && json_object_is_type(r->json, json_type_object) && success &&
	            json_object_is_type(success, json_type_boolean) &&
	            !json_object_get_boolean(success) && got_code && msg && *msg && errs &&
	            json_object_is_type(errs, json_type_array);
	const char *ct = api_hdr(r, "Content-Type");

	api_check_status(r, want, file, line);
	api_assert(shape, line, file,
	           "%s %.120s: expected the error envelope {success:false, code, message, "
	           "errors[]}, got %s",
	           r->method, r->path, api_excerpt(r, ex, sizeof ex));
	if (code)
		api_assert(api_streq(got_code, code), line, file,
		           "%s %.120s: expected code %s, got %s", r->method, r->path, code,
		           got_code ? got_code : "(none)");
	api_assert(ct && strncasecmp(ct, "application/json", 16) == 0, line, file,
	           "%s %.120s: error Content-Type should be application/json, got %s", r->method,
	           r->path, ct ? ct : "(none)");
	/* no internals in an error */
	api_assert(strstr(r->body, "SELECT ") == NULL && strstr(r->body, "mysql") == NULL &&
	               strstr(r->body, "MariaDB server") == NULL && strstr(r->body, ".c:") == NULL,
	           line, file, "%s %.120s: error body leaks internals: %s", r->method, r->path,
	           api_excerpt(r, ex, sizeof ex));
}

void api_check_ok(const api_resp *r, long want, const char *file, int line)
{
	char ex[400];
	json_object *success = api_jget(r->json, "success");
	json_object *data = api_jget(r->json, "data");

	api_check_status(r, want, file, line);
	api_assert(success && json_object_is_type(success, json_type_boolean) &&
	               json_object_get_boolean(success) && data &&
	               json_object_is_type(data, json_type_object),
	           line, file,
	           "%s %.120s: expected the success envelope {success:true, data:{...}}, got %s",
	           r->method, r->path, api_excerpt(r, ex, sizeof ex));
}

void api_check_header(const api_resp *r, const char *name, const char *want, const char *file,
                      int line)
{
	const char *got = api_hdr(r, name);

	api_assert(api_streq(got, want), line, file,
	           "%s %.120s (status %ld): header %s expected \"%s\", got \"%s\"", r->method,
	           r->path, r->status, name, want, got ? got : "(absent)");
}

int api_all_digits(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

void api_check_common_headers(const api_resp *r, const char *file, int line)
{
	const char *server = api_hdr(r, "Server");
	const char *lim = api_hdr(r, "X-RateLimit-Limit");
	const char *rem = api_hdr(r, "X-RateLimit-Remaining");
	const char *rst = api_hdr(r, "X-RateLimit-Reset");
	long long now = (long long)time(NULL);

	api_check_header(r, "X-Content-Type-Options", "nosniff", file, line);
	api_check_header(r, "X-Frame-Options", "DENY", file, line);
	api_check_header(r, "Referrer-Policy", "no-referrer", file, line);
	api_check_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'",
	                 file, line);
	api_check_header(r, "Cross-Origin-Resource-Policy", "same-origin", file, line);
	api_assert(api_all_digits(lim) && atol(lim) > 0, line, file,
	           "%s %.120s (status %ld): X-RateLimit-Limit should be a positive integer, got %s",
	           r->method, r->path, r->status, lim ? lim : "(absent)");
	api_assert(
	    api_all_digits(rem), line, file,
	    "%s %.120s (status %ld): X-RateLimit-Remaining should be an integer >= 0, got %s",
	    r->method, r->path, r->status, rem ? rem : "(absent)");
	api_assert(api_all_digits(rst) && atoll(rst) >= now - 5 && atoll(rst) <= now + 86400, line,
	           file,
	           "%s %.120s (status %ld): X-RateLimit-Reset should be Unix seconds in the "
	           "window, got %s (now %lld)",
	           r->method, r->path, r->status, rst ? rst : "(absent)", now);
	api_assert(server == NULL || strpbrk(server, "0123456789") == NULL, line, file,
	           "%s %.120s: Server header carries a version: %s", r->method, r->path,
	           server ? server : "");
}

void api_check_str(const char *got, const char *want, const char *what, const char *file, int line)
{
	api_assert(api_streq(got, want), line, file, "%s: expected \"%.200s\", got \"%.200s\"",
	           what, want ? want : "(null)", got ? got : "(null)");
}

/* ---------------------------------------------------------------- users */

void api_unique_email(char *out, size_t n, const char *prefix)
{
	snprintf(out, n, "%s-%u-%u@example.com", prefix, run_id, ++email_counter);
}

void api_take_str(char **dst, const api_resp *r, const char *path)
{
	const char *s = api_jstr(r->json, path);

	free(*dst);
	*dst = s ? strdup(s) : NULL;
}

void api_unique_token(char *out, size_t n, const char *tag)
{
	char *at;

	api_unique_email(out, n, tag);
	at = strchr(out, '@');
	if (at)
		*at = '\0';
}

void api_pct_encode(const char *in, const char *keep, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && j + 4 < n; p++) {
		if (isalnum(*p) || strchr(keep, *p)) {
			out[j++] = (char)*p;
		} else {
			out[j++] = '%';
			out[j++] = hex[*p >> 4];
			out[j++] = hex[*p & 15];
		}
	}
	out[j] = '\0';
}

long api_login(api_resp *r, const char *email, const char *password)
{
	char body[512];

	snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
	return api_send(r, "POST", "/api/v1/auth/login", NULL, body);
}

int api_user_register(api_user *u, const char *prefix)
{
	api_resp r;
	char body[512];
	const char *id;
	int rc;

	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "Test %s", prefix);
	api_unique_email(u->email, sizeof u->email, prefix);
	snprintf(u->password, sizeof u->password, "Passw0rd%u", email_counter);
	snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}",
	         u->name, u->email, u->password);
	api_send(&r, "POST", "/api/v1/auth/register", NULL, body);
	EXPECT_STATUS(r, 201);
	id = api_jstr(r.json, "data.user.id");
	snprintf(u->id, sizeof u->id, "%s", id ? id : "");
	api_take_str(&u->token, &r, "data.token");
	api_take_str(&u->refresh, &r, "data.refreshToken");
	rc = r.status == 201 && u->token && u->refresh && *u->id ? 0 : -1;
	api_free(&r);
	return rc;
}

int api_user_login(api_user *u)
{
	api_resp r;
	int rc;

	api_login(&r, u->email, u->password);
	EXPECT_STATUS(r, 200);
	api_take_str(&u->token, &r, "data.token");
	api_take_str(&u->refresh, &r, "data.refreshToken");
	rc = r.status == 200 && u->token && u->refresh ? 0 : -1;
	api_free(&r);
	return rc;
}

void api_user_free(api_user *u)
{
	free(u->token);
	free(u->refresh);
	u->token = u->refresh = NULL;
}

int api_admin_login(api_user *u)
{
	const char *email = getenv("SP_ADMIN_EMAIL");
	const char *password = getenv("SP_ADMIN_PASSWORD");
	const char *id, *role;
	api_resp r;

	memset(u, 0, sizeof *u);
	if (email == NULL || *email == '\0' || password == NULL || *password == '\0') {
		api_assert(0, __LINE__, __FILE__,
		           "SP_ADMIN_EMAIL and SP_ADMIN_PASSWORD must name the stack's admin");
		return -1;
	}
	snprintf(u->name, sizeof u->name, "admin");
	snprintf(u->email, sizeof u->email, "%s", email);
	snprintf(u->password, sizeof u->password, "%s", password);
	if (api_user_login(u) != 0)
		return -1;
	api_get(&r, "/api/v1/auth/me", u->token);
	id = api_jstr(r.json, "data.user.id");
	role = api_jstr(r.json, "data.user.role");
	snprintf(u->id, sizeof u->id, "%s", id ? id : "");
	api_assert(api_streq(role, "admin"), __LINE__, __FILE__,
	           "%s should have role admin, got %s", email, role ? role : "(none)");
	api_free(&r);
	return *u->id ? 0 : -1;
}

int api_subscribe(const api_user *u, int plan)
{
	api_resp r;
	char body[96];
	int rc;

	snprintf(body, sizeof body, "{\"planId\":%d,\"paymentMethod\":\"card\"}", plan);
	api_send(&r, "POST", "/api/v1/subscriptions/subscribe", u->token, body);
	EXPECT_STATUS(r, 201);
	rc = r.status == 201 ? 0 : -1;
	api_free(&r);
	return rc;
}

int api_viewer(api_user *u, const char *prefix, int plan)
{
	if (api_user_register(u, prefix) != 0) {
		EXPECT(0, "registering a %s user failed", prefix);
		return -1;
	}
	if (plan <= 1)
		return 0;
	return api_subscribe(u, plan);
}

/* ---------------------------------------------------------------- streaming */

long long api_title(int level, int need)
{
	char sql[256];
	long long id;

	snprintf(sql, sizeof sql,
	         "SELECT id FROM content WHERE is_active = 1 AND access_level = ? AND "
	         "(renditions & %d) = %d ORDER BY id LIMIT 1",
	         need, need);
	id = api_db_ll_l(sql, level);
	EXPECT(id > 0, "an active title at level %d with renditions %d exists in the catalogue",
	       level, need);
	return id > 0 ? id : 1;
}

long api_stream_start(api_resp *r, const api_user *u, long long cid, const char *dev,
                      const char *name, const char *quality)
{
	char path[96], screen[200], body[400];

	snprintf(path, sizeof path, "/api/v1/content/%lld/stream", cid);
	if (name == NULL) {
		snprintf(screen, sizeof screen, "Screen %s", dev);
		name = screen;
	}
	if (quality)
		snprintf(body, sizeof body,
		         "{\"deviceId\":\"%s\",\"deviceName\":\"%s\",\"deviceType\":\"tv\","
		         "\"quality\":\"%s\"}",
		         dev, name, quality);
	else
		snprintf(body, sizeof body,
		         "{\"deviceId\":\"%s\",\"deviceName\":\"%s\",\"deviceType\":\"tv\"}", dev,
		         name);
	return api_send(r, "POST", path, u->token, body);
}

char *api_stream_start_ok(const api_user *u, long long cid, const char *dev, const char *name,
                          const char *quality, char **url)
{
	api_resp r;
	char *sid = NULL;

	api_stream_start(&r, u, cid, dev, name, quality);
	EXPECT_OK(r, 200);
	api_take_str(&sid, &r, "data.sessionId");
	if (url)
		api_take_str(url, &r, "data.streamUrl");
	api_free(&r);
	return sid;
}

/* ---------------------------------------------------------------- database */

int api_db_ready(void)
{
	char err[512];

	if (db_ok >= 0)
		return db_ok;
	if (sp_settings_load(NULL, err, sizeof err) != 0) {
		fprintf(stderr, "api: cannot load SP_CONFIG: %s\n", err);
		db_ok = -1;
		return -1;
	}
	db_ok = sp_db_connect() == 0 ? 0 : -1;
	if (db_ok != 0)
		fprintf(stderr, "api: cannot reach MariaDB with SP_CONFIG settings\n");
	return db_ok;
}

static long long first_ll(int rc, sp_res *res)
{
	long long v = -1;

	if (rc != 0)
		return -1;
	if (res->nrows > 0)
		v = sp_res_ll(res, 0, 0, -1);
	sp_res_free(res);
	return v;
}

static char *first_str(int rc, sp_res *res)
{
	char *v = NULL;

	if (rc != 0)
		return NULL;
	if (res->nrows > 0 && sp_res_str(res, 0, 0))
		v = strdup(sp_res_str(res, 0, 0));
	sp_res_free(res);
	return v;
}

long long api_db_ll_s(const char *sql, const char *s)
{
	sp_res res;

	if (api_db_ready() != 0)
		return -1;
	return first_ll(sp_db_query(&res, sql, "s", s), &res);
}

long long api_db_ll_l(const char *sql, long long v)
{
	sp_res res;

	if (api_db_ready() != 0)
		return -1;
	return first_ll(sp_db_query(&res, sql, "l", v), &res);
}

long long api_db_ll(const char *sql)
{
	sp_res res;

	if (api_db_ready() != 0)
		return -1;
	return first_ll(sp_db_query(&res, sql, ""), &res);
}

char *api_db_str_s(const char *sql, const char *s)
{
	sp_res res;

	if (api_db_ready() != 0)
		return NULL;
	return first_str(sp_db_query(&res, sql, "s", s), &res);
}

char *api_db_str_l(const char *sql, long long v)
{
	sp_res res;

	if (api_db_ready() != 0)
		return NULL;
	return first_str(sp_db_query(&res, sql, "l", v), &res);
}

long long api_outbox_count(const char *uid, const char *type)
{
	sp_res res;
	long long n = -1;

	if (api_db_ready() != 0)
		return -1;
	if (sp_db_query(&res, "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND event_type = ?",
	                "ls", atoll(uid ? uid : "0"), type) != 0)
		return -1;
	if (res.nrows > 0)
		n = sp_res_ll(&res, 0, 0, -1);
	sp_res_free(&res);
	return n;
}

int api_db_script(const char *sql, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (api_db_ready() != 0) {
		snprintf(err, errlen, "database not reachable with SP_CONFIG settings");
		return -1;
	}
	return sp_db_run_script(sql, err, errlen) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- stack */

/* "$SP_DEV" ACTION SERVICE, with extra environment assignments ("NAME=value", NULL-terminated). */
int api_dev_service(const char *action, const char *service, const char *const *env)
{
	const char *d = getenv("SP_DEV");
	char cmd[1200];
	int rc;

	if (d == NULL || *d == '\0' || strchr(d, '\'')) {
		fprintf(stderr, "api: SP_DEV is not set; cannot %s %s\n", action, service);
		return -1;
	}
	for (size_t i = 0; env && env[i]; i++)
		if (putenv((char *)env[i]) != 0)
			return -1;
	snprintf(cmd, sizeof cmd, "'%s' %s %s >/dev/null 2>&1", d, action, service);
	rc = system(cmd);
	for (size_t i = 0; env && env[i]; i++) {
		char name[128];
		size_t n = strcspn(env[i], "=");
		snprintf(name, sizeof name, "%.*s", (int)n, env[i]);
		unsetenv(name);
	}
	return rc == 0 ? 0 : -1;
}

static int dev(const char *action)
{
	return api_dev_service(action, "redis", NULL);
}

int api_redis_stop(void)
{
	redis_stopped = 1;
	return dev("stop");
}

int api_redis_start(void)
{
	int rc = dev("start");

	if (rc == 0)
		redis_stopped = 0;
	return rc;
}

void api_redis_ensure_started(void)
{
	if (redis_stopped)
		(void)api_redis_start();
}

const char *api_ready_redis(void)
{
	static char state[16];
	api_resp r;

	api_get(&r, "/api/v1/ready", NULL);
	snprintf(state, sizeof state, "%s",
	         r.status == 200 && api_jstr(r.json, "data.redis") ? api_jstr(r.json, "data.redis")
	                                                           : "?");
	api_free(&r);
	return state;
}

void api_redis_start_and_wait(void)
{
	double t0 = api_now_s();
	int rc = api_redis_start();

	EXPECT(rc == 0, "\"$SP_DEV\" start redis failed");
	while (api_now_s() - t0 < 15 && strcmp(api_ready_redis(), "up") != 0)
		usleep(200000);
	/*
	 * the programs pause a second before reconnecting; past that every
	 * process answers "up" (where processes share one socket, the next
	 * /ready may reach one that has not reconnected yet)
	 */
	usleep(1200000);
	EXPECT(strcmp(api_ready_redis(), "up") == 0, "/ready reports redis up after a restart");
}

int api_run_tool(const char *tool, const char *args)
{
	const char *d = getenv("SP_DEV");
	char cmd[1400];

	if (d == NULL || *d == '\0' || strchr(d, '\'') || strchr(args, '\'')) {
		EXPECT(0, "SP_DEV must name scripts/dev to run %s", tool);
		return -1;
	}
	if (strcmp(tool, "worker") == 0)
		snprintf(cmd, sizeof cmd, "'%s' worker %s >/dev/null 2>&1", d, args);
	else /* sp-admin sits at the top of the tree scripts/dev builds in */
		snprintf(cmd, sizeof cmd, "\"$(dirname '%s')/../sp-admin\" %s >/dev/null 2>&1", d,
		         args);
	return system(cmd);
}

void api_free_kept(void)
{
	for (int i = 0; i < n_kept; i++)
		free(kept[i]);
	n_kept = 0;
}

int api_shell(const char *fmt, ...)
{
	char cmd[3000];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int api_run_worker(const char *env, const char *job, const char *now, char **log)
{
	const char *d = getenv("SP_DEV");
	char path[] = "/tmp/api-worker-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;
	long n;

	*log = calloc(1, 1);
	if (d == NULL || *d == '\0' || strchr(d, '\'') || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	rc = api_shell("%s SP_LOG_FILE= '%s' worker %s %s%s >'%s' 2>&1", env ? env : "", d, job,
	               now ? "--now " : "", now ? now : "", path);
	if ((f = fopen(path, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		free(*log);
		*log = calloc(1, (size_t)n + 1);
		if (n < 0 || fread(*log, 1, (size_t)n, f) != (size_t)n)
			(*log)[0] = '\0';
		fclose(f);
	}
	unlink(path);
	return rc;
}
