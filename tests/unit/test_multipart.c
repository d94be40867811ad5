/* multipart/form-data: the named part is found; malformed bodies are told apart. */
#include "unit.h"
#include "sp_multipart.h"

#include <string.h>

#define CT "multipart/form-data; boundary=XyZ"

static void test_finds_named_part(void)
{
	const char body[] =
	    "preamble\r\n--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\n"
	    "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\ndata\r\n"
	    "--XyZ--\r\n";
	sp_part p;

	CU_ASSERT_EQUAL_FATAL(sp_multipart_find(CT, body, sizeof body - 1, "picture", &p),
	                      SP_MP_OK);
	CU_ASSERT_EQUAL(p.len, 12);
	CU_ASSERT_EQUAL(memcmp(p.data, "\x89PNG\r\n\x1a\ndata", 12), 0);
	CU_ASSERT_STRING_EQUAL(p.filename, "a.png");
	CU_ASSERT_STRING_EQUAL(p.content_type, "image/png");
}

static void test_missing_part(void)
{
	const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n"
	                    "--XyZ--\r\n";
	sp_part p;

	CU_ASSERT_EQUAL(sp_multipart_find(CT, body, sizeof body - 1, "picture", &p), SP_MP_NO_PART);
}

static void test_truncated_part_is_malformed(void)
{
	const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"picture\"\r\n\r\n"
	                    "\x89PNG and then the connection ended";
	sp_part p;

	CU_ASSERT_EQUAL(sp_multipart_find(CT, body, sizeof body - 1, "picture", &p),
	                SP_MP_MALFORMED);
}

static void test_no_boundary_and_wrong_type(void)
{
	sp_part p;

	CU_ASSERT_EQUAL(sp_multipart_find("multipart/form-data", "x", 1, "picture", &p),
	                SP_MP_NO_BOUNDARY);
	CU_ASSERT_EQUAL(sp_multipart_find("application/json", "{}", 2, "picture", &p),
	                SP_MP_NOT_MULTIPART);
	CU_ASSERT_EQUAL(sp_multipart_find(NULL, "{}", 2, "picture", &p), SP_MP_NOT_MULTIPART);
}

static void test_quoted_boundary(void)
{
	const char body[] = "--a b\r\nContent-Disposition: form-data; name=\"picture\"\r\n\r\nZ\r\n"
	                    "--a b--\r\n";
	sp_part p;

	CU_ASSERT_EQUAL(sp_multipart_find("multipart/form-data; boundary=\"a b\"", body,
	                                  sizeof body - 1, "picture", &p),
	                SP_MP_OK);
	CU_ASSERT_EQUAL(p.len, 1);
}

void suite_multipart(void)
{
	CU_pSuite s = CU_add_suite("multipart", NULL, NULL);

	ADD_TEST(s, test_finds_named_part);
	ADD_TEST(s, test_missing_part);
	ADD_TEST(s, test_truncated_part_is_malformed);
	ADD_TEST(s, test_no_boundary_and_wrong_type);
	ADD_TEST(s, test_quoted_boundary);
}
