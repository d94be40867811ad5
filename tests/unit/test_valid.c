/* Validation: e-mail, phone and password rules; every failing field is collected. */
#include "unit.h"
#include "sp_valid.h"

#include <limits.h>

#include <stdlib.h>
#include <string.h>

static void test_email_rules(void)
{
	CU_ASSERT_TRUE(sp_valid_email("ann@example.com"));
	CU_ASSERT_TRUE(sp_valid_email("a.b+tag@sub.example.co"));
	CU_ASSERT_FALSE(sp_valid_email("ann"));
	CU_ASSERT_FALSE(sp_valid_email("ann@"));
	CU_ASSERT_FALSE(sp_valid_email("@example.com"));
	CU_ASSERT_FALSE(sp_valid_email("ann@example"));
	CU_ASSERT_FALSE(sp_valid_email("ann@@example.com"));
	CU_ASSERT_FALSE(sp_valid_email("ann smith@example.com"));
	CU_ASSERT_FALSE(sp_valid_email("ann..x@example.com"));
	CU_ASSERT_FALSE(sp_valid_email("ann@-example.com"));
}

static void test_phone_rules(void)
{
	CU_ASSERT_TRUE(sp_valid_phone("+14155552671"));
	CU_ASSERT_TRUE(sp_valid_phone("4155552671"));
	CU_ASSERT_FALSE(sp_valid_phone("+0123456"));
	CU_ASSERT_FALSE(sp_valid_phone("12345"));
	CU_ASSERT_FALSE(sp_valid_phone("+1234567890123456"));
	CU_ASSERT_FALSE(sp_valid_phone("phone"));
}

static void test_session_id_rules(void)
{
	CU_ASSERT_TRUE(sp_valid_session_id("60521d87a6e4f9f242b4da69bc12f9e9"));
	CU_ASSERT_FALSE(sp_valid_session_id("60521D87A6E4F9F242B4DA69BC12F9E9")); /* upper case */
	CU_ASSERT_FALSE(sp_valid_session_id("60521d87a6e4f9f242b4da69bc12f9e"));  /* 31 */
	CU_ASSERT_FALSE(sp_valid_session_id("60521d87a6e4f9f242b4da69bc12f9e90"));
	CU_ASSERT_FALSE(sp_valid_session_id("g0521d87a6e4f9f242b4da69bc12f9e9"));
	CU_ASSERT_FALSE(sp_valid_session_id(""));
	CU_ASSERT_FALSE(sp_valid_session_id(NULL));
}

static void test_password_rules(void)
{
	CU_ASSERT_PTR_NULL(sp_password_problem("Secret123", 9));
	CU_ASSERT_PTR_NOT_NULL(sp_password_problem("Sec123", 6));    /* short */
	CU_ASSERT_PTR_NOT_NULL(sp_password_problem("secret123", 9)); /* no upper */
	CU_ASSERT_PTR_NOT_NULL(sp_password_problem("SECRET123", 9)); /* no lower */
	CU_ASSERT_PTR_NOT_NULL(sp_password_problem("SecretABC", 9)); /* no digit */
	char longpw[80];
	memset(longpw, 'a', sizeof longpw - 1);
	longpw[0] = 'A';
	longpw[1] = '1';
	longpw[79] = '\0';
	CU_ASSERT_PTR_NOT_NULL(sp_password_problem(longpw, 79)); /* beyond bcrypt's 72 bytes */
}

static void test_every_failing_field_is_collected(void)
{
	sp_req r;
	char name[401], email[255], phone[24];
	const char *pw;
	json_object *o = json_tokener_parse(
	    "{\"name\":\"A\",\"email\":\"nope\",\"password\":\"short\",\"phone\":\"x\"}");

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(sp_v_text(&r, o, "name", 1, 2, 100, name, sizeof name), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_email(&r, o, "email", 1, email, sizeof email), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_password(&r, o, "password", 1, &pw), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_phone(&r, o, "phone", phone, sizeof phone), SP_V_INVALID);
	CU_ASSERT_EQUAL(r.n_errors, 4);
	json_object_put(o);
	sp_req_free(&r);
}

static void test_types_nul_and_lengths(void)
{
	sp_req r;
	char name[401], email[255];
	json_object *o =
	    json_tokener_parse("{\"name\":42,\"email\":\"ANN@Example.COM\",\"bio\":\"a\\u0000b\"}");

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(sp_v_text(&r, o, "name", 1, 2, 100, name, sizeof name), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_email(&r, o, "email", 1, email, sizeof email), SP_V_OK);
	CU_ASSERT_STRING_EQUAL(email, "ann@example.com");
	CU_ASSERT_EQUAL(sp_v_text(&r, o, "bio", 0, 0, 500, name, sizeof name), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_text(&r, o, "missing", 0, 0, 500, name, sizeof name), SP_V_ABSENT);
	CU_ASSERT_EQUAL(r.n_errors, 2);
	CU_ASSERT_STRING_EQUAL(r.errors[0].field, "name");
	CU_ASSERT_STRING_EQUAL(r.errors[1].field, "bio");
	json_object_put(o);
	sp_req_free(&r);
}

static void test_text_counts_characters_not_bytes(void)
{
	sp_req r;
	char out[401];
	/* 100 two-byte characters: allowed for a 100-character name */
	char json[512] = "{\"name\":\"";
	for (int i = 0; i < 100; i++)
		strcat(json, "\xc3\xa9");
	strcat(json, "\"}");
	json_object *o = json_tokener_parse(json);

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(sp_v_text(&r, o, "name", 1, 2, 100, out, sizeof out), SP_V_OK);
	json_object_put(o);
	sp_req_free(&r);
}

static void test_query_int_bounds(void)
{
	sp_req r;
	long long v;

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	r.query[0].name = strdup("limit");
	r.query[0].value = strdup("101");
	r.query[1].name = strdup("page");
	r.query[1].value = strdup("abc");
	r.n_query = 2;
	CU_ASSERT_EQUAL(sp_v_query_int(&r, "limit", 20, 1, 100, &v), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_query_int(&r, "page", 1, 1, 1000000, &v), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_query_int(&r, "other", 7, 1, 100, &v), SP_V_ABSENT);
	CU_ASSERT_EQUAL(v, 7);
	CU_ASSERT_EQUAL(r.n_errors, 2);
	sp_req_free(&r);
}

static void test_query_date_real_days_only(void)
{
	static const char *const bad[] = {"2024-02-30",           "2024-13-01", "2024-1-01",
	                                  "2024-01-01T00:00:00Z", "yesterday",  ""};
	sp_req r;
	char out[11] = "";

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	r.query[0].name = strdup("from");
	r.query[0].value = strdup("2024-02-29");
	r.n_query = 1;
	CU_ASSERT_EQUAL(sp_v_query_date(&r, "from", out), SP_V_OK);
	CU_ASSERT_STRING_EQUAL(out, "2024-02-29");
	CU_ASSERT_EQUAL(sp_v_query_date(&r, "to", out), SP_V_ABSENT);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		free(r.query[0].value);
		r.query[0].value = strdup(bad[i]);
		CU_ASSERT_EQUAL(sp_v_query_date(&r, "from", out), SP_V_INVALID);
	}
	CU_ASSERT_EQUAL(r.n_errors, 1); /* one entry per field */
	sp_req_free(&r);
}

/* A JSON number parsed as a request body would carry it. */
static int number(const char *text, long long min, long long max, long long *out)
{
	json_object *o = json_tokener_parse(text);
	int rc = sp_json_number_ll(o, min, max, out);

	json_object_put(o);
	return rc;
}

static void test_number_range_is_checked_before_conversion(void)
{
	long long v = -7;

	/* out of range of long long altogether: refused, never converted (UBSan would stop here) */
	CU_ASSERT_EQUAL(number("1e300", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("-1e300", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("9.3e18", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("9.3e18", LLONG_MIN, LLONG_MAX, &v), -2);
	CU_ASSERT_EQUAL(number("9223372036854775807.0", LLONG_MIN, LLONG_MAX, &v), -2);
	CU_ASSERT_EQUAL(number("-1e19", LLONG_MIN, LLONG_MAX, &v), -2);
	CU_ASSERT_EQUAL(v, -7);
	/* in range: a fraction is cut toward zero, an integer kept */
	CU_ASSERT_EQUAL(number("75.9", 0, 10000000, &v), 0);
	CU_ASSERT_EQUAL(v, 75);
	CU_ASSERT_EQUAL(number("-0.5", 0, 10000000, &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(number("10000000", 0, 10000000, &v), 0);
	CU_ASSERT_EQUAL(v, 10000000);
	CU_ASSERT_EQUAL(number("10000000.5", 0, 10000000, &v), 0);
	CU_ASSERT_EQUAL(v, 10000000);
	CU_ASSERT_EQUAL(number("4e18", LLONG_MIN, LLONG_MAX, &v), 0);
	CU_ASSERT_EQUAL(v, 4000000000000000000LL);
	/* just outside */
	CU_ASSERT_EQUAL(number("10000001", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("10000001.0", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("-1", 0, 10000000, &v), -2);
	CU_ASSERT_EQUAL(number("-1.5", 0, 10000000, &v), -2);
	/* not numbers */
	CU_ASSERT_EQUAL(number("\"12\"", 0, 10000000, &v), -1);
	CU_ASSERT_EQUAL(number("true", 0, 10000000, &v), -1);
	CU_ASSERT_EQUAL(sp_json_number_ll(NULL, 0, 10, &v), -1);
}

static int color_parse(const char *s)
{
	static const char *const colors[] = {"red", "green"};

	return sp_enum_index(colors, 2, s);
}

static void test_shared_field_kinds(void)
{
	sp_req r;
	int e = -1;
	char date[11], url[64], price[24];
	json_object *arr = NULL;
	json_object *o = json_tokener_parse(
	    "{\"c\":\"green\",\"bad\":\"blue\",\"d\":\"2024-02-29T10:00:00Z\",\"nd\":"
	    "\"2025-02-30\",\"u\":\"https://x.example/a.jpg\",\"nu\":\"javascript:x\",\"p\":"
	    "12.5,\"np\":1.005,\"s\":[\"a\",\"b\"],\"ns\":[\"a\",3],\"es\":[]}");

	sp_req_init(&r, NULL, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(sp_v_enum(&r, o, "c", 1, color_parse, "must be red or green", &e), SP_V_OK);
	CU_ASSERT_EQUAL(e, 1);
	CU_ASSERT_EQUAL(sp_v_enum(&r, o, "bad", 1, color_parse, "m", &e), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_enum(&r, o, "none", 0, color_parse, "m", &e), SP_V_ABSENT);
	CU_ASSERT_EQUAL(sp_v_date(&r, o, "d", 1, date), SP_V_OK);
	CU_ASSERT_STRING_EQUAL(date, "2024-02-29");
	CU_ASSERT_EQUAL(sp_v_date(&r, o, "nd", 1, date), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_url(&r, o, "u", url, sizeof url), SP_V_OK);
	CU_ASSERT_EQUAL(sp_v_url(&r, o, "nu", url, sizeof url), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_price(&r, o, "p", 1, price, sizeof price), SP_V_OK);
	CU_ASSERT_STRING_EQUAL(price, "12.50");
	CU_ASSERT_EQUAL(sp_v_price(&r, o, "np", 1, price, sizeof price), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_strings(&r, o, "s", 1, 1, 5, 10, &arr), SP_V_OK);
	CU_ASSERT_EQUAL(json_object_array_length(arr), 2);
	json_object_put(arr);
	CU_ASSERT_EQUAL(sp_v_strings(&r, o, "ns", 1, 1, 5, 10, &arr), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_strings(&r, o, "es", 1, 1, 5, 10, &arr), SP_V_INVALID);
	CU_ASSERT_EQUAL(sp_v_strings(&r, o, "es", 1, 0, 5, 10, &arr), SP_V_OK);
	json_object_put(arr);
	/* bad, nd, nu, np, ns, es (min 1) */
	CU_ASSERT_EQUAL(r.n_errors, 6);
	json_object_put(o);
	sp_req_free(&r);
}

/* A path id the service cannot have issued is "not found", never a field error. */
static void test_path_id_never_issued_is_not_found(void)
{
	static const char *const bad[] = {"abc", "12abc", "-5",
	                                  "0",   "1.5",   "99999999999999999999999"};
	sp_req r;
	long long id = 0;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sp_req_init(&r, NULL, NULL, NULL, NULL);
		r.param_names[0] = strdup("id");
		r.param_values[0] = strdup(bad[i]);
		r.n_params = 1;
		CU_ASSERT_EQUAL(sp_v_path_id(&r, "id", "Content not found", &id), SP_V_INVALID);
		CU_ASSERT_EQUAL(r.in_status, 404);
		CU_ASSERT_STRING_EQUAL(r.in_message, "Content not found");
		CU_ASSERT_EQUAL(r.n_errors, 0);
		sp_req_free(&r);
	}
	sp_req_init(&r, NULL, NULL, NULL, NULL);
	r.param_names[0] = strdup("id");
	r.param_values[0] = strdup("42");
	r.n_params = 1;
	CU_ASSERT_EQUAL(sp_v_path_id(&r, "id", "Content not found", &id), SP_V_OK);
	CU_ASSERT_EQUAL(id, 42);
	CU_ASSERT_EQUAL(r.in_status, 0);
	sp_req_free(&r);
}

void suite_valid(void)
{
	CU_pSuite s = CU_add_suite("valid", NULL, NULL);

	ADD_TEST(s, test_email_rules);
	ADD_TEST(s, test_phone_rules);
	ADD_TEST(s, test_session_id_rules);
	ADD_TEST(s, test_password_rules);
	ADD_TEST(s, test_every_failing_field_is_collected);
	ADD_TEST(s, test_types_nul_and_lengths);
	ADD_TEST(s, test_text_counts_characters_not_bytes);
	ADD_TEST(s, test_query_int_bounds);
	ADD_TEST(s, test_query_date_real_days_only);
	ADD_TEST(s, test_number_range_is_checked_before_conversion);
	ADD_TEST(s, test_shared_field_kinds);
	ADD_TEST(s, test_path_id_never_issued_is_not_found);
}
