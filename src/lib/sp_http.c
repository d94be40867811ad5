/*
 * The request a handler sees and the response it builds: parsing of the
 * FastCGI environment with hard bounds, and the contract's JSON envelopes.
 */
#include "sp_http.h"
#include "sp_config.h"
#include "sp_json.h"
#include "sp_log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sp_req_init(sp_req *r, void *io, sp_param_fn param, sp_read_fn read, sp_write_fn write)
{
	memset(r, 0, sizeof *r);
	r->io = io;
	r->param = param;
	r->read = read;
	r->write = write;
	r->status = 200;
	r->start_ms = sp_now_ms();
	sp_buf_init(&r->headers);
	sp_buf_init(&r->body_out);
	sp_request_id(r->request_id);
}

void sp_req_free(sp_req *r)
{
	free(r->path);
	free(r->raw_path);
	for (size_t i = 0; i < r->n_query; i++) {
		free(r->query[i].name);
		free(r->query[i].value);
	}
	for (int i = 0; i < r->n_params; i++) {
		free(r->param_names[i]);
		free(r->param_values[i]);
	}
	free(r->body);
	if (r->json)
		json_object_put(r->json);
	if (r->in && r->in_release)
		r->in_release(r->in);
	free(r->in);
	free(r->prefetched);
	free(r->level_cached);
	for (size_t i = 0; i < r->n_errors; i++) {
		free(r->errors[i].field);
		free(r->errors[i].message);
	}
	free(r->errors);
	sp_buf_free(&r->headers);
	sp_buf_free(&r->body_out);
}

const char *sp_req_header(sp_req *r, const char *cgi_name)
{
	return r->param ? r->param(r->io, cgi_name) : NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n); plus_space turns '+' into ' ' (query strings). NULL on %00 or bad
 * escapes. */
char *sp_url_decode(const char *s, size_t n, int plus_space)
{
	char *out = sp_xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;
			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				free(out);
				return NULL;
			}
			out[j++] = (char)(h * 16 + l);
			i += 2;
		} else if (plus_space && s[i] == '+') {
			out[j++] = ' ';
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* -1 when a name or value has a bad escape or a %00: the request is malformed. */
static int parse_query(sp_req *r, const char *qs)
{
	const char *p = qs;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		char *name, *value;

		if (end > p) {
			if (eq) {
				name = sp_url_decode(p, (size_t)(eq - p), 1);
				value = sp_url_decode(eq + 1, (size_t)(end - eq - 1), 1);
			} else {
				name = sp_url_decode(p, (size_t)(end - p), 1);
				value = sp_xstrdup("");
			}
			if (name == NULL || value == NULL) {
				free(name);
				free(value);
				return -1;
			}
			if (*name && r->n_query < SP_MAX_QUERY) {
				r->query[r->n_query].name = name;
				r->query[r->n_query].value = value;
				r->n_query++;
			} else {
				free(name);
				free(value);
			}
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

static int is_trusted_proxy(const char *ip)
{
	return sp_cfg.trusted_proxies && sp_list_contains(sp_cfg.trusted_proxies, ip);
}

/*
 * The client address is the socket peer. X-Forwarded-For is believed only
 * when the peer is a configured proxy; then the right-most address that is
 * not itself a trusted proxy is the client.
 */
static void resolve_client_ip(sp_req *r)
{
	const char *peer = sp_req_header(r, "REMOTE_ADDR");
	const char *xff;

	snprintf(r->client_ip, sizeof r->client_ip, "%s", peer ? peer : "unknown");
	if (peer == NULL || !is_trusted_proxy(peer))
		return;
	xff = sp_req_header(r, "HTTP_X_FORWARDED_FOR");
	if (xff == NULL || strlen(xff) > 1024)
		return;
	char buf[1025];
	snprintf(buf, sizeof buf, "%s", xff);
	for (;;) {
		char *comma = strrchr(buf, ',');
		char *item = comma ? comma + 1 : buf;
		while (*item == ' ')
			item++;
		size_t len = strlen(item);
		while (len > 0 && item[len - 1] == ' ')
			item[--len] = '\0';
		int ok = len > 0 && len < sizeof r->client_ip;
		for (size_t i = 0; ok && i < len; i++)
			ok = isxdigit((unsigned char)item[i]) || item[i] == '.' || item[i] == ':';
		if (!ok)
			return;
		snprintf(r->client_ip, sizeof r->client_ip, "%s", item);
		if (!is_trusted_proxy(item) || comma == NULL)
			return;
		*comma = '\0';
	}
}

void sp_client_key(const char *ip, char *out, size_t n)
{
	struct in6_addr a6;
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, ip, &a4) == 1 && inet_ntop(AF_INET, &a4, text, sizeof text)) {
		snprintf(out, n, "%s", text);
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, a6.s6_addr + 12, 4);
			inet_ntop(AF_INET, &a4, text, sizeof text);
			snprintf(out, n, "%s", text);
			return;
		}
		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, text, sizeof text);
		snprintf(out, n, "%s/64", text);
	} else {
		snprintf(out, n, "%s", ip);
	}
}

int sp_req_parse(sp_req *r)
{
	const char *m = sp_req_header(r, "REQUEST_METHOD");
	const char *uri = sp_req_header(r, "REQUEST_URI");
	const char *q;
	size_t plen;
	const char *https;

	snprintf(r->method, sizeof r->method, "%s", m ? m : "GET");
	resolve_client_ip(r);
	sp_client_key(r->client_ip, r->client_key, sizeof r->client_key);
	if (uri == NULL)
		uri = sp_req_header(r, "SCRIPT_NAME");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	plen = q ? (size_t)(q - uri) : strlen(uri);
	if (plen > 2048)
		return -1;
	/*
	 * Routing works on the path as sent, segment by segment, so an encoded
	 * "/" (%2F) inside an id stays inside it; captured segments are decoded
	 * by the router. The decoded path is kept for logs and a sanity check.
	 */
	r->path = sp_url_decode(uri, plen, 0);
	if (r->path == NULL)
		return -1;
	r->raw_path = sp_xstrndup(uri, plen);
	/* one trailing slash is tolerated: /auth/me/ is /auth/me */
	size_t l = strlen(r->raw_path);
	if (l > 1 && r->raw_path[l - 1] == '/')
		r->raw_path[l - 1] = '\0';
	l = strlen(r->path);
	if (l > 1 && r->path[l - 1] == '/')
		r->path[l - 1] = '\0';
	if (strncmp(r->raw_path, SP_API_BASE, strlen(SP_API_BASE)) == 0 &&
	    (r->raw_path[strlen(SP_API_BASE)] == '/' || r->raw_path[strlen(SP_API_BASE)] == '\0'))
		r->api_path = r->raw_path + strlen(SP_API_BASE);
	else
		r->api_path = ""; /* outside the API: only "=/absolute" routes match */
	if (parse_query(r, q ? q + 1 : sp_req_header(r, "QUERY_STRING")) != 0)
		return -1;

	r->content_type = sp_req_header(r, "CONTENT_TYPE");
	r->content_length = sp_req_header(r, "CONTENT_LENGTH");
	r->authorization = sp_req_header(r, "HTTP_AUTHORIZATION");
	r->origin = sp_req_header(r, "HTTP_ORIGIN");
	https = sp_req_header(r, "HTTPS");
	r->is_https = https && strcasecmp(https, "on") == 0;
	return 0;
}

const char *sp_query(sp_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value;
	return NULL;
}

const char *sp_param(sp_req *r, const char *name)
{
	for (int i = 0; i < r->n_params; i++)
		if (strcmp(r->param_names[i], name) == 0)
			return r->param_values[i];
	return NULL;
}

static int content_type_is_json(const char *ct)
{
	const char *p;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	p = ct + 16;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	/* only a UTF-8 (or absent) charset parameter is accepted */
	p++;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "charset=", 8) == 0) {
		p += 8;
		if (*p == '"')
			p++;
		return strncasecmp(p, "utf-8", 5) == 0 || strncasecmp(p, "utf8", 4) == 0;
	}
	return 1;
}

/* Keeps a body problem for sp_req_body_result; returns its status. */
static int body_problem(sp_req *r, int status, const char *code, const char *message,
                        const char *field)
{
	r->body_status = status;
	r->body_code = code;
	r->body_message = message;
	r->body_field = field;
	return status;
}

static int load_body(sp_req *r, size_t cap)
{
	long long len = 0;

	if (r->content_length && *r->content_length) {
		if (sp_parse_ll(r->content_length, 0, (long long)1 << 50, &len) != 0)
			return body_problem(r, 400, "VALIDATION_ERROR", "Invalid Content-Length",
			                    NULL);
	}
	if ((unsigned long long)len > cap)
		return body_problem(r, 413, "PAYLOAD_TOO_LARGE", "Request body is too large", NULL);
	r->body = sp_xmalloc((size_t)len + 1);
	r->body_len = 0;
	while (r->body_len < (size_t)len) {
		long n =
		    r->read ? r->read(r->io, r->body + r->body_len, (size_t)len - r->body_len) : 0;
		if (n <= 0)
			break;
		r->body_len += (size_t)n;
	}
	r->body[r->body_len] = '\0';
	if (r->body_len != (size_t)len)
		return body_problem(r, 400, "VALIDATION_ERROR",
		                    "Request body is shorter than Content-Length", NULL);
	return 0;
}

static int load_json(sp_req *r)
{
	json_tokener *tok;
	json_object *o;
	size_t end;

	if (r->body_len > 0 && !content_type_is_json(r->content_type))
		return body_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE",
		                    "Content-Type must be application/json", NULL);
	if (r->body_len == 0) {
		r->json = json_object_new_object();
		return 0;
	}
	/* json-c alone would accept single quotes, NaN, Infinity and raw control characters */
	if (sp_json_check(r->body, r->body_len, 32) != 0)
		return body_problem(r, 400, "MALFORMED_JSON", "Request body is not valid JSON",
		                    NULL);
	tok = json_tokener_new_ex(32);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	end = json_tokener_get_parse_end(tok);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		if (o)
			json_object_put(o);
		return body_problem(r, 400, "MALFORMED_JSON", "Request body is not valid JSON",
		                    NULL);
	}
	json_tokener_free(tok);
	while (end < r->body_len && isspace((unsigned char)r->body[end]))
		end++;
	if (end != r->body_len) {
		json_object_put(o);
		return body_problem(r, 400, "MALFORMED_JSON", "Request body is not valid JSON",
		                    NULL);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return body_problem(r, 400, "VALIDATION_ERROR", "Validation failed", "body");
	}
	r->json = o;
	return 0;
}

int sp_req_body_result(sp_req *r)
{
	if (r->body_status == 0)
		return 0;
	if (r->body_field)
		sp_field_error_add(r, r->body_field, "must be a JSON object");
	return sp_fail(r, r->body_status, r->body_code, r->body_message);
}

int sp_req_load_body(sp_req *r, size_t cap)
{
	return load_body(r, cap) != 0 ? -1 : 0;
}

int sp_req_load_json(sp_req *r, size_t cap)
{
	return load_body(r, cap) != 0 || load_json(r) != 0 ? -1 : 0;
}

void sp_input_not_found(sp_req *r, const char *message)
{
	r->in_status = 404;
	r->in_message = message;
}

void sp_add_header(sp_req *r, const char *name, const char *value)
{
	/* header values never carry CR or LF */
	sp_buf_adds(&r->headers, name);
	sp_buf_adds(&r->headers, ": ");
	for (const char *p = value; *p; p++)
		if (*p != '\r' && *p != '\n')
			sp_buf_add(&r->headers, p, 1);
	sp_buf_adds(&r->headers, "\r\n");
}

static void finish_json(sp_req *r, int status, json_object *root)
{
	if (r->responded) {
		json_object_put(root);
		return;
	}
	r->status = status;
	sp_buf_reset(&r->body_out);
	sp_buf_adds(&r->body_out, sp_json_text(root));
	json_object_put(root);
	r->responded = 1;
}

static void merge(json_object *root, json_object *extra)
{
	if (extra == NULL)
		return;
	json_object_object_foreach(extra, k, v)
	{
		json_object_object_add(root, k, json_object_get(v));
	}
	json_object_put(extra);
}

void sp_ok_ex(sp_req *r, int status, const char *message, json_object *data, json_object *extra)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "success", json_object_new_boolean(1));
	if (message)
		json_object_object_add(root, "message", json_object_new_string(message));
	merge(root, extra);
	json_object_object_add(root, "data", data ? data : json_object_new_object());
	finish_json(r, status, root);
}

void sp_ok_page(sp_req *r, json_object *data, size_t count, long long page, long long limit,
                long long total)
{
	json_object *extra = json_object_new_object(), *pg = json_object_new_object();

	json_object_object_add(extra, "count", json_object_new_int64((int64_t)count));
	json_object_object_add(pg, "page", json_object_new_int64(page));
	json_object_object_add(pg, "limit", json_object_new_int64(limit));
	json_object_object_add(pg, "total", json_object_new_int64(total));
	json_object_object_add(pg, "pages",
	                       json_object_new_int64(limit > 0 ? (total + limit - 1) / limit : 0));
	json_object_object_add(extra, "pagination", pg);
	sp_ok_ex(r, 200, NULL, data, extra);
}

void sp_reply_raw(sp_req *r, int status, const char *body_json)
{
	if (r->responded)
		return;
	r->status = status;
	sp_buf_reset(&r->body_out);
	sp_buf_adds(&r->body_out, body_json);
	r->responded = 1;
}

void sp_ok_raw(sp_req *r, int status, const char *data_json)
{
	if (r->responded)
		return;
	r->status = status;
	sp_buf_reset(&r->body_out);
	sp_buf_adds(&r->body_out, "{\"success\":true,\"data\":");
	sp_buf_adds(&r->body_out, data_json);
	sp_buf_adds(&r->body_out, "}");
	r->responded = 1;
}

void sp_ok(sp_req *r, int status, const char *message, json_object *data)
{
	sp_ok_ex(r, status, message, data, NULL);
}

int sp_fail_ex(sp_req *r, int status, const char *code, const char *message, json_object *extra)
{
	json_object *root = json_object_new_object();
	json_object *errs = json_object_new_array();

	for (size_t i = 0; i < r->n_errors; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "field", json_object_new_string(r->errors[i].field));
		json_object_object_add(e, "message", json_object_new_string(r->errors[i].message));
		json_object_array_add(errs, e);
	}
	json_object_object_add(root, "success", json_object_new_boolean(0));
	json_object_object_add(root, "code", json_object_new_string(code));
	json_object_object_add(root, "message", json_object_new_string(message));
	json_object_object_add(root, "errors", errs);
	merge(root, extra);
	r->error_code = code;
	finish_json(r, status, root);
	return -1;
}

int sp_fail(sp_req *r, int status, const char *code, const char *message)
{
	return sp_fail_ex(r, status, code, message, NULL);
}

int sp_fail_unavailable(sp_req *r)
{
	sp_add_header(r, "Retry-After", "5");
	return sp_fail(r, 503, "SERVICE_UNAVAILABLE",
	               "A backing service is unavailable; please retry shortly");
}

void sp_field_error_add(sp_req *r, const char *field, const char *message)
{
	for (size_t i = 0; i < r->n_errors; i++)
		if (strcmp(r->errors[i].field, field) == 0)
			return; /* first problem per field is enough */
	r->errors = sp_xrealloc(r->errors, (r->n_errors + 1) * sizeof *r->errors);
	r->errors[r->n_errors].field = sp_xstrdup(field);
	r->errors[r->n_errors].message = sp_xstrdup(message);
	r->n_errors++;
}

int sp_fail_validation(sp_req *r)
{
	return sp_fail(r, 400, "VALIDATION_ERROR", "Validation failed");
}

void sp_no_content(sp_req *r, int status)
{
	if (r->responded)
		return;
	r->status = status;
	sp_buf_reset(&r->body_out);
	r->responded = 1;
}

const char *sp_status_text(int s)
{
	switch (s) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static void add_cors(sp_req *r, sp_buf *h)
{
	sp_buf_adds(h, "Vary: Origin\r\n");
	if (r->origin == NULL || !sp_list_contains(sp_cfg.cors_origins, r->origin))
		return;
	sp_buf_adds(h, "Access-Control-Allow-Origin: ");
	sp_buf_adds(h, r->origin);
	sp_buf_adds(h,
	            "\r\nAccess-Control-Expose-Headers: X-RateLimit-Limit, X-RateLimit-Remaining, "
	            "X-RateLimit-Reset, Retry-After, X-Request-Id\r\n");
}

void sp_send(sp_req *r)
{
	sp_buf h;

	sp_buf_init(&h);
	sp_buf_addf(&h, "Status: %d %s\r\n", r->status, sp_status_text(r->status));
	if (r->status != 204)
		sp_buf_addf(&h, "Content-Type: %s\r\n",
		            r->content_type_out ? r->content_type_out
		                                : "application/json; charset=utf-8");
	sp_buf_addf(&h, "Content-Length: %zu\r\n", r->status == 204 ? 0 : r->body_out.len);
	sp_buf_adds(&h, "X-Content-Type-Options: nosniff\r\n"
	                "X-Frame-Options: DENY\r\n"
	                "Referrer-Policy: no-referrer\r\n"
	                "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
	                "Cross-Origin-Resource-Policy: same-origin\r\n"
	                "Cache-Control: no-store\r\n");
	if (r->is_https)
		sp_buf_adds(&h,
		            "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
	sp_buf_addf(&h, "X-Request-Id: %s\r\n", r->request_id);
	if (r->rl_set)
		sp_buf_addf(&h,
		            "X-RateLimit-Limit: %ld\r\nX-RateLimit-Remaining: %ld\r\n"
		            "X-RateLimit-Reset: %lld\r\n",
		            r->rl_limit, r->rl_remaining < 0 ? 0 : r->rl_remaining, r->rl_reset);
	add_cors(r, &h);
	if (r->headers.len)
		sp_buf_add(&h, r->headers.data, r->headers.len);
	sp_buf_adds(&h, "\r\n");
	if (r->write) {
		r->write(r->io, h.data, h.len);
		if (r->status != 204 && strcmp(r->method, "HEAD") != 0 && r->body_out.len)
			r->write(r->io, r->body_out.data, r->body_out.len);
	}
	sp_buf_free(&h);
}
