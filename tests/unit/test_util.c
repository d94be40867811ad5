/* sp_util: time formats, UTF-8 counting and cutting, integer parsing, constant-time compare. */
#include "unit.h"
#include "sp_util.h"

#include <stdlib.h>
#include <string.h>

static void test_iso8601_has_milliseconds_and_z(void)
{
	char out[32];

	sp_iso8601(1736332200123LL, out);
	CU_ASSERT_STRING_EQUAL(out, "2025-01-08T10:30:00.123Z");
}

static void test_db_time_round_trips(void)
{
	char out[32];

	CU_ASSERT_EQUAL(sp_parse_db_time("2025-01-08 10:30:00.123"), 1736332200123LL);
	CU_ASSERT_EQUAL(sp_parse_db_time("2025-01-08 10:30:00"), 1736332200000LL);
	CU_ASSERT_EQUAL(sp_parse_db_time("garbage"), -1);
	sp_db_time(1736332200123LL, out);
	CU_ASSERT_STRING_EQUAL(out, "2025-01-08 10:30:00.123");
}

static void test_utf8_count_rejects_invalid(void)
{
	CU_ASSERT_EQUAL(sp_utf8_count("abc", 3), 3);
	CU_ASSERT_EQUAL(sp_utf8_count("\xc3\xa9t\xc3\xa9", 5), 3);
	CU_ASSERT_EQUAL(sp_utf8_count("\xf0\x9f\x8e\xac", 4), 1);
	CU_ASSERT_EQUAL(sp_utf8_count("\xc3", 1), -1);         /* truncated */
	CU_ASSERT_EQUAL(sp_utf8_count("\xc0\xaf", 2), -1);     /* overlong */
	CU_ASSERT_EQUAL(sp_utf8_count("\xed\xa0\x80", 3), -1); /* surrogate */
	CU_ASSERT_EQUAL(sp_utf8_count("\xff", 1), -1);
}

static void test_utf8_cut_stops_between_characters(void)
{
	const char *euro3 = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"; /* three 3-byte characters */

	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 9), 9);
	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 100), 9);
	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 8), 6);
	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 7), 6);
	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 6), 6);
	CU_ASSERT_EQUAL(sp_utf8_cut(euro3, 9, 2), 0);
	CU_ASSERT_EQUAL(sp_utf8_cut("ab\xf0\x9f\x8e\xac", 6, 5), 2);
	CU_ASSERT_EQUAL(sp_utf8_cut("abcdef", 6, 4), 4);
	CU_ASSERT_EQUAL(sp_utf8_cut("", 0, 0), 0);
}

static void test_utf8_copy_fits_and_stays_valid(void)
{
	char name[301] = "", out[101];
	size_t n;

	/* 100 characters of 3 bytes into 100 bytes: 33 whole characters */
	for (int i = 0; i < 100; i++)
		strcat(name, "\xe2\x82\xac");
	n = sp_utf8_copy(out, sizeof out, name);
	CU_ASSERT_EQUAL(n, 99);
	CU_ASSERT_EQUAL(strlen(out), 99);
	CU_ASSERT_EQUAL(sp_utf8_count(out, n), 33);
	CU_ASSERT_EQUAL(memcmp(out, name, 99), 0);
	/* what fits is copied whole */
	n = sp_utf8_copy(out, sizeof out, "Salon \xc3\xa9t\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(out, "Salon \xc3\xa9t\xc3\xa9");
	/* invalid bytes become U+FFFD */
	n = sp_utf8_copy(out, sizeof out,
	                 "a\xff"
	                 "b\xc3");
	CU_ASSERT_STRING_EQUAL(out, "a\xef\xbf\xbd"
	                            "b\xef\xbf\xbd");
	CU_ASSERT_EQUAL(n, 8);
	n = sp_utf8_copy(out, sizeof out, "\xed\xa0\x80"); /* a surrogate: three bad bytes */
	CU_ASSERT_EQUAL(sp_utf8_count(out, n), 3);
	/* a replacement that does not fit is left out, never cut */
	n = sp_utf8_copy(out, 4, "ab\xff");
	CU_ASSERT_STRING_EQUAL(out, "ab");
	n = sp_utf8_copy(out, 1, "abc");
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_parse_ll_bounds(void)
{
	long long v;

	CU_ASSERT_EQUAL(sp_parse_ll("42", 1, 100, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(sp_parse_ll("0", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_ll("101", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_ll("abc", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_ll("12abc", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_ll("", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_ll("99999999999999999999999", 1, 100, &v), -1);
}

static void test_parse_id_is_canonical(void)
{
	long long v = 0;

	CU_ASSERT_EQUAL(sp_parse_id("5", 1, &v), 0);
	CU_ASSERT_EQUAL(v, 5);
	CU_ASSERT_EQUAL(sp_parse_id("5/480p", 1, &v), 0);
	CU_ASSERT_EQUAL(sp_parse_id("4611686018427387904", 19, &v), 0);
	CU_ASSERT_EQUAL(v, (long long)1 << 62);
	CU_ASSERT_EQUAL(sp_parse_id("05", 2, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("0", 1, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("+5", 2, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("-5", 2, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id(" 5", 2, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("5a", 2, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("", 0, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("4611686018427387905", 19, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("9223372036854775808", 19, &v), -1);
	CU_ASSERT_EQUAL(sp_parse_id("18446744073709551621", 20, &v), -1);
}

static void test_ct_equal(void)
{
	CU_ASSERT_TRUE(sp_ct_equal("abc", 3, "abc", 3));
	CU_ASSERT_FALSE(sp_ct_equal("abc", 3, "abd", 3));
	CU_ASSERT_FALSE(sp_ct_equal("abc", 3, "abcd", 4));
}

static void test_random_hex_is_fresh(void)
{
	char a[33], b[33];

	sp_random_hex(a, 16);
	sp_random_hex(b, 16);
	CU_ASSERT_EQUAL(strlen(a), 32);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void test_sha256_known_vector(void)
{
	char out[65];

	sp_sha256_hex("abc", 3, out);
	CU_ASSERT_STRING_EQUAL(out,
	                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_json_escape(void)
{
	sp_buf b;

	sp_buf_init(&b);
	sp_buf_add_json_escaped(&b, "a\"b\\c\n\x01", 7);
	CU_ASSERT_STRING_EQUAL(b.data, "a\\\"b\\\\c\\n\\u0001");
	sp_buf_free(&b);
}

void suite_util(void)
{
	CU_pSuite s = CU_add_suite("util", NULL, NULL);

	ADD_TEST(s, test_iso8601_has_milliseconds_and_z);
	ADD_TEST(s, test_db_time_round_trips);
	ADD_TEST(s, test_utf8_count_rejects_invalid);
	ADD_TEST(s, test_utf8_cut_stops_between_characters);
	ADD_TEST(s, test_utf8_copy_fits_and_stays_valid);
	ADD_TEST(s, test_parse_ll_bounds);
	ADD_TEST(s, test_parse_id_is_canonical);
	ADD_TEST(s, test_ct_equal);
	ADD_TEST(s, test_random_hex_is_fresh);
	ADD_TEST(s, test_sha256_known_vector);
	ADD_TEST(s, test_json_escape);
}
