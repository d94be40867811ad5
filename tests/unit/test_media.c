/* Media tokens: signed, bound to session, content, rendition and expiry. */
#include "unit.h"
#include "sp_config.h"
#include "sp_media.h"

#include <stdlib.h>
#include <string.h>

static sp_media_claims claims(void)
{
	sp_media_claims c;

	memset(&c, 0, sizeof c);
	strcpy(c.sid, "0123456789abcdef0123456789abcdef");
	c.content_id = 42;
	c.max_quality = 1;
	c.exp = 1800000000LL;
	return c;
}

static int setup(void)
{
	free(sp_cfg.jwt_secret);
	sp_cfg.jwt_secret = strdup("0123456789abcdef0123456789abcdef");
	return 0;
}

static int teardown(void)
{
	free(sp_cfg.jwt_secret);
	sp_cfg.jwt_secret = NULL;
	return 0;
}

static void test_token_round_trips(void)
{
	sp_media_claims c = claims(), out;
	char tok[192];

	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL_FATAL(sp_media_verify(tok, strlen(tok), c.exp - 10, &out), 0);
	CU_ASSERT_STRING_EQUAL(out.sid, c.sid);
	CU_ASSERT_EQUAL(out.content_id, 42);
	CU_ASSERT_EQUAL(out.max_quality, 1);
}

static void test_expired_token_fails(void)
{
	sp_media_claims c = claims(), out;
	char tok[192];

	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL(sp_media_verify(tok, strlen(tok), c.exp, &out), -1);
}

/* The authorizer's view: an expired token is told apart from a forged one, with its claims. */
static void test_check_tells_expired_from_forged(void)
{
	sp_media_claims c = claims(), out;
	char tok[192], bad[192];

	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL(sp_media_check(tok, strlen(tok), c.exp - 1, &out), SP_MEDIA_VALID);
	CU_ASSERT_EQUAL_FATAL(sp_media_check(tok, strlen(tok), c.exp, &out), SP_MEDIA_EXPIRED);
	CU_ASSERT_STRING_EQUAL(out.sid, c.sid);
	CU_ASSERT_EQUAL(out.content_id, 42);
	CU_ASSERT_EQUAL(out.max_quality, 1);
	CU_ASSERT_EQUAL(out.exp, c.exp);
	/* a later expiry claimed without re-signing is forged, not valid */
	strcpy(bad, tok);
	strstr(bad, ".1800000000.")[1] = '9';
	CU_ASSERT_EQUAL(sp_media_check(bad, strlen(bad), c.exp, &out), SP_MEDIA_BAD);
	CU_ASSERT_STRING_EQUAL(out.sid, "");
	strcpy(bad, tok);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
	CU_ASSERT_EQUAL(sp_media_check(bad, strlen(bad), c.exp + 100, &out), SP_MEDIA_BAD);
}

static void test_any_changed_part_fails(void)
{
	sp_media_claims c = claims(), out;
	char tok[192], bad[192];

	sp_media_token(&c, tok, sizeof tok);
	/* a higher rendition claimed without re-signing */
	strcpy(bad, tok);
	strstr(bad, ".1.")[1] = '3';
	CU_ASSERT_EQUAL(sp_media_verify(bad, strlen(bad), c.exp - 10, &out), -1);
	/* another title */
	strcpy(bad, tok);
	strstr(bad, ".42.")[2] = '3';
	CU_ASSERT_EQUAL(sp_media_verify(bad, strlen(bad), c.exp - 10, &out), -1);
	/* one signature character */
	strcpy(bad, tok);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
	CU_ASSERT_EQUAL(sp_media_verify(bad, strlen(bad), c.exp - 10, &out), -1);
	CU_ASSERT_EQUAL(sp_media_verify("garbage", 7, c.exp - 10, &out), -1);
}

/* A token bound to a download licence names it ("dl<id>"), never a stream session. */
static void test_licence_token_names_its_licence(void)
{
	sp_media_claims c = claims(), out;
	char tok[192], bad[192];

	sp_media_licence_sid(9876, c.sid, sizeof c.sid);
	CU_ASSERT_STRING_EQUAL(c.sid, "dl9876");
	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL_FATAL(sp_media_check(tok, strlen(tok), c.exp - 1, &out), SP_MEDIA_VALID);
	CU_ASSERT_EQUAL(out.licence, 9876);
	CU_ASSERT_STRING_EQUAL(out.sid, "dl9876");
	CU_ASSERT_EQUAL(sp_media_check(tok, strlen(tok), c.exp, &out), SP_MEDIA_EXPIRED);
	CU_ASSERT_EQUAL(out.licence, 9876);
	/* another licence claimed without re-signing */
	strcpy(bad, tok);
	bad[2] = '1';
	CU_ASSERT_EQUAL(sp_media_check(bad, strlen(bad), c.exp - 1, &out), SP_MEDIA_BAD);
	/* a stream token names no licence */
	c = claims();
	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL(sp_media_check(tok, strlen(tok), c.exp - 1, &out), SP_MEDIA_VALID);
	CU_ASSERT_EQUAL(out.licence, 0);
	/* ids of another shape are no sid at all, even correctly signed */
	strcpy(c.sid, "dl0123");
	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL(sp_media_check(tok, strlen(tok), c.exp - 1, &out), SP_MEDIA_BAD);
	strcpy(c.sid, "dx123");
	sp_media_token(&c, tok, sizeof tok);
	CU_ASSERT_EQUAL(sp_media_check(tok, strlen(tok), c.exp - 1, &out), SP_MEDIA_BAD);
}

void suite_media(void)
{
	CU_pSuite s = CU_add_suite("media", setup, teardown);

	ADD_TEST(s, test_token_round_trips);
	ADD_TEST(s, test_expired_token_fails);
	ADD_TEST(s, test_check_tells_expired_from_forged);
	ADD_TEST(s, test_any_changed_part_fails);
	ADD_TEST(s, test_licence_token_names_its_licence);
}
