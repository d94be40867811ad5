/* Request parsing and the contract's envelopes, through a fake FastCGI exchange. */
#include "unit.h"
#include "sp_config.h"
#include "sp_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake {
	const char **params; /* name, value, ..., NULL */
	const char *body;
	size_t off;
	sp_buf out;
};

static const char *fparam(void *io, const char *name)
{
	struct fake *f = io;

	for (int i = 0; f->params[i]; i += 2)
		if (strcmp(f->params[i], name) == 0)
			return f->params[i + 1];
	return NULL;
}

static long fread_body(void *io, char *buf, size_t n)
{
	struct fake *f = io;
	size_t left = f->body ? strlen(f->body) - f->off : 0;

	if (n > left)
		n = left;
	memcpy(buf, f->body + f->off, n);
	f->off += n;
	return (long)n;
}

static void fwrite_out(void *io, const char *buf, size_t n)
{
	struct fake *f = io;

	sp_buf_add(&f->out, buf, n);
}

static void start(sp_req *r, struct fake *f, const char **params, const char *body)
{
	memset(f, 0, sizeof *f);
	f->params = params;
	f->body = body;
	sp_buf_init(&f->out);
	sp_req_init(r, f, fparam, fread_body, fwrite_out);
	CU_ASSERT_EQUAL(sp_req_parse(r), 0);
}

static void finish(sp_req *r, struct fake *f)
{
	sp_req_free(r);
	sp_buf_free(&f->out);
}

static void test_success_envelope_shape(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/x", NULL};
	json_object *d = json_object_new_object(), *root, *v;

	start(&r, &f, p, NULL);
	json_object_object_add(d, "a", json_object_new_int(1));
	sp_ok(&r, 201, "Created", d);
	root = json_tokener_parse(r.body_out.data);
	CU_ASSERT_EQUAL(r.status, 201);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "success", &v) &&
	               json_object_get_boolean(v));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "message", &v));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "data", &v) &&
	               json_object_is_type(v, json_type_object));
	json_object_put(root);
	finish(&r, &f);
}

static void test_error_envelope_lists_fields(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/x", NULL};
	json_object *root, *v, *e;

	start(&r, &f, p, NULL);
	sp_field_error_add(&r, "email", "is required");
	sp_field_error_add(&r, "password", "is required");
	sp_fail_validation(&r);
	root = json_tokener_parse(r.body_out.data);
	CU_ASSERT_EQUAL(r.status, 400);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "success", &v) &&
	               !json_object_get_boolean(v));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "code", &v) &&
	               strcmp(json_object_get_string(v), "VALIDATION_ERROR") == 0);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "message", &v));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "errors", &e));
	CU_ASSERT_EQUAL(json_object_array_length(e), 2);
	v = json_object_array_get_idx(e, 1);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(v, "field")),
	                       "password");
	json_object_put(root);
	finish(&r, &f);
}

static void test_plain_error_has_empty_errors(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/x", NULL};
	json_object *root, *e;

	start(&r, &f, p, NULL);
	sp_fail(&r, 404, "NOT_FOUND", "No such thing");
	root = json_tokener_parse(r.body_out.data);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "errors", &e) &&
	               json_object_array_length(e) == 0);
	json_object_put(root);
	finish(&r, &f);
}

static void test_send_writes_security_headers(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/x", NULL};

	start(&r, &f, p, NULL);
	sp_ok(&r, 200, NULL, NULL);
	sp_send(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.out.data, "Status: 200 OK\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.out.data, "X-Content-Type-Options: nosniff\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.out.data, "X-Frame-Options: DENY\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.out.data, "Referrer-Policy: no-referrer\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    f.out.data, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.out.data, "Cross-Origin-Resource-Policy: same-origin\r\n"));
	CU_ASSERT_PTR_NULL(strstr(f.out.data, "Strict-Transport-Security"));
	finish(&r, &f);
}

static void test_oversized_body_is_413_unread(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {
	    "REQUEST_METHOD", "POST",         "REQUEST_URI",      "/api/v1/x", "CONTENT_LENGTH",
	    "2000000",        "CONTENT_TYPE", "application/json", NULL};

	start(&r, &f, p, "{}");
	CU_ASSERT_EQUAL(sp_req_load_body(&r, 1048576), -1);
	CU_ASSERT_EQUAL(r.body_status, 413);
	CU_ASSERT_EQUAL(r.responded, 0); /* kept for after the gate, not answered yet */
	CU_ASSERT_EQUAL(sp_req_body_result(&r), -1);
	CU_ASSERT_EQUAL(r.status, 413);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body_out.data, "PAYLOAD_TOO_LARGE"));
	CU_ASSERT_EQUAL(f.off, 0); /* nothing was read */
	finish(&r, &f);
}

static int parse_with(const char *ctype, const char *body, sp_req *r, struct fake *f)
{
	static char len[24];
	static const char *p[9];

	snprintf(len, sizeof len, "%zu", strlen(body));
	p[0] = "REQUEST_METHOD";
	p[1] = "POST";
	p[2] = "REQUEST_URI";
	p[3] = "/api/v1/x";
	p[4] = "CONTENT_LENGTH";
	p[5] = len;
	p[6] = ctype ? "CONTENT_TYPE" : NULL;
	p[7] = ctype;
	p[8] = NULL;
	start(r, f, p, body);
	/* the status answered, 0 when the body is fine */
	if (sp_req_load_json(r, 1048576) != 0 && sp_req_body_result(r) != 0)
		return r->status;
	return 0;
}

static void test_body_checks(void)
{
	sp_req r;
	struct fake f;

	CU_ASSERT_EQUAL(parse_with("text/plain", "{}", &r, &f), 415);
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with(NULL, "{}", &r, &f), 415);
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json", "{\"a\":", &r, &f), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body_out.data, "MALFORMED_JSON"));
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json", "{} x", &r, &f), 400);
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json", "[1,2]", &r, &f), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body_out.data, "VALIDATION_ERROR"));
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json", "{\"a\":\"\xff\xfe\"}", &r, &f), 400);
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json; charset=utf-8", "{\"a\":1}", &r, &f), 0);
	CU_ASSERT_PTR_NOT_NULL(r.json);
	finish(&r, &f);
	CU_ASSERT_EQUAL(parse_with("application/json", "", &r, &f), 0);
	finish(&r, &f);
}

static void test_lenient_json_is_malformed(void)
{
	static const char *bad[] = {
	    "{'a':1}",          "{\"a\":NaN}",     "{\"a\":Infinity}", "{\"a\":1.}",
	    "{\"a\":\"x\ty\"}", "{\"a\":01}",      "{\"a\":1,}",       "[1,]",
	    "{\"a\" 1}",        "{\"a\":\"\\x\"}", "\"unterminated",   "{} {}"};
	sp_req r;
	struct fake f;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(parse_with("application/json", bad[i], &r, &f), 400);
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(r.body_out.data ? r.body_out.data : "", "MALFORMED_JSON"));
		finish(&r, &f);
	}
	CU_ASSERT_EQUAL(parse_with("application/json",
	                           "{\"a\":[1,-2.5e3,true,false,null,{\"b\":\"\\u00e9\\n\"}]}", &r,
	                           &f),
	                0);
	finish(&r, &f);
}

static void test_forwarded_for_only_from_trusted_proxy(void)
{
	sp_req r;
	struct fake f;
	const char *direct[] = {"REQUEST_URI",          "/api/v1/x",   "REMOTE_ADDR", "10.1.1.1",
	                        "HTTP_X_FORWARDED_FOR", "203.0.113.9", NULL};
	const char *proxied[] = {"REQUEST_URI",
	                         "/api/v1/x",
	                         "REMOTE_ADDR",
	                         "127.0.0.1",
	                         "HTTP_X_FORWARDED_FOR",
	                         "198.51.100.7, 203.0.113.9",
	                         NULL};

	free(sp_cfg.trusted_proxies);
	sp_cfg.trusted_proxies = strdup("127.0.0.1");
	start(&r, &f, direct, NULL);
	CU_ASSERT_STRING_EQUAL(r.client_ip, "10.1.1.1");
	finish(&r, &f);
	start(&r, &f, proxied, NULL);
	CU_ASSERT_STRING_EQUAL(r.client_ip, "203.0.113.9");
	finish(&r, &f);
	free(sp_cfg.trusted_proxies);
	sp_cfg.trusted_proxies = NULL;
}

static void test_path_and_query_decoding(void)
{
	sp_req r;
	struct fake f;
	const char *p[] = {"REQUEST_URI", "/api/v1/auth/me/?a=1&b=x%20y&c=%2B+z", NULL};
	const char *bad[] = {"REQUEST_URI", "/api/v1/a%00b", NULL};

	start(&r, &f, p, NULL);
	CU_ASSERT_STRING_EQUAL(r.api_path, "/auth/me");
	CU_ASSERT_STRING_EQUAL(sp_query(&r, "b"), "x y");
	CU_ASSERT_STRING_EQUAL(sp_query(&r, "c"), "+ z");
	finish(&r, &f);
	memset(&f, 0, sizeof f);
	f.params = bad;
	sp_req_init(&r, &f, fparam, fread_body, fwrite_out);
	CU_ASSERT_EQUAL(sp_req_parse(&r), -1);
	sp_req_free(&r);
}

void suite_envelope(void)
{
	CU_pSuite s = CU_add_suite("envelope", NULL, NULL);

	ADD_TEST(s, test_success_envelope_shape);
	ADD_TEST(s, test_error_envelope_lists_fields);
	ADD_TEST(s, test_plain_error_has_empty_errors);
	ADD_TEST(s, test_send_writes_security_headers);
	ADD_TEST(s, test_oversized_body_is_413_unread);
	ADD_TEST(s, test_body_checks);
	ADD_TEST(s, test_lenient_json_is_malformed);
	ADD_TEST(s, test_forwarded_for_only_from_trusted_proxy);
	ADD_TEST(s, test_path_and_query_decoding);
}
