/* Tiers: level and rendition names, and the cached level round trip. */
#include "unit.h"
#include "sp_tier.h"

#include <string.h>

static void test_tier_order_and_names(void)
{
	CU_ASSERT_EQUAL(sp_tier_parse("Free"), 0);
	CU_ASSERT_EQUAL(sp_tier_parse("basic"), 1);
	CU_ASSERT_EQUAL(sp_tier_parse("Premium"), 2);
	CU_ASSERT_EQUAL(sp_tier_parse("ULTIMATE"), 3);
	CU_ASSERT_EQUAL(sp_tier_parse("Gold"), -1);
	CU_ASSERT_EQUAL(sp_tier_parse(""), -1);
	CU_ASSERT_STRING_EQUAL(sp_tier_name(2), "Premium");
}

static void test_resolution_order(void)
{
	CU_ASSERT_EQUAL(sp_resolution_parse("480p"), 0);
	CU_ASSERT_EQUAL(sp_resolution_parse("720p"), 1);
	CU_ASSERT_EQUAL(sp_resolution_parse("1080p"), 2);
	CU_ASSERT_EQUAL(sp_resolution_parse("4K"), 3);
	CU_ASSERT_EQUAL(sp_resolution_parse("2160p"), 3);
	CU_ASSERT_EQUAL(sp_resolution_parse("8K"), -1);
	CU_ASSERT_STRING_EQUAL(sp_resolution_name(3), "4K");
}

static void test_level_cache_round_trip(void)
{
	sp_level a, b;
	char buf[256];

	memset(&a, 0, sizeof a);
	a.level = 2;
	a.plan_id = 3;
	a.max_streams = 2;
	a.max_devices = 4;
	a.resolution = 2;
	a.sub_id = 77;
	a.end_ms = 1800000000123LL;
	a.age_cap = 13;
	strcpy(a.plan_name, "Premium | Family");
	sp_level_encode(&a, buf, sizeof buf);
	CU_ASSERT_EQUAL_FATAL(sp_level_decode(buf, &b), 0);
	CU_ASSERT_EQUAL(b.level, 2);
	CU_ASSERT_EQUAL(b.plan_id, 3);
	CU_ASSERT_EQUAL(b.max_streams, 2);
	CU_ASSERT_EQUAL(b.max_devices, 4);
	CU_ASSERT_EQUAL(b.sub_id, 77);
	CU_ASSERT_EQUAL(b.end_ms, 1800000000123LL);
	CU_ASSERT_EQUAL(b.age_cap, 13);
	CU_ASSERT_STRING_EQUAL(b.plan_name, "Premium | Family");
}

/* Accounts without controls keep the plain level's pages; a cap gets its own. */
static void test_level_scope_names_level_and_age_cap(void)
{
	sp_level l;
	char scope[SP_SCOPE_MAX], buf[256];

	memset(&l, 0, sizeof l);
	l.level = 2;
	l.age_cap = SP_AGE_NONE;
	sp_level_scope(&l, scope, sizeof scope);
	CU_ASSERT_STRING_EQUAL(scope, "2");
	l.age_cap = 0;
	sp_level_scope(&l, scope, sizeof scope);
	CU_ASSERT_STRING_EQUAL(scope, "2a0");
	l.level = 3;
	l.age_cap = 17;
	sp_level_encode(&l, buf, sizeof buf);
	CU_ASSERT_EQUAL(sp_level_scope_of(buf, scope, sizeof scope), 0);
	CU_ASSERT_STRING_EQUAL(scope, "3a17");
	CU_ASSERT_EQUAL(sp_level_scope_of("L1|2|9|2|2|2|4|0|Premium", scope, sizeof scope), -1);
}

static void test_level_cache_rejects_garbage(void)
{
	sp_level b;

	CU_ASSERT_EQUAL(sp_level_decode("garbage", &b), -1);
	CU_ASSERT_EQUAL(sp_level_decode("L2|9|1|1|1|0|0|0|-1|x", &b), -1); /* level out of range */
	CU_ASSERT_EQUAL(sp_level_decode("L2|1|2", &b), -1);
	CU_ASSERT_EQUAL(sp_level_decode("L2|1|1|1|1|0|0|0|12|x", &b), -1); /* not an age cap */
	CU_ASSERT_EQUAL(sp_level_decode("L2|1|1|1|1|0|0|0|18|x", &b), -1); /* 18 is no cap */
	CU_ASSERT_EQUAL(sp_level_decode("L1|1|1|1|1|0|0|0|x", &b), -1);    /* before age caps */
	CU_ASSERT_EQUAL(sp_level_decode(NULL, &b), -1);
}

void suite_tier(void)
{
	CU_pSuite s = CU_add_suite("tier", NULL, NULL);

	ADD_TEST(s, test_tier_order_and_names);
	ADD_TEST(s, test_resolution_order);
	ADD_TEST(s, test_level_cache_round_trip);
	ADD_TEST(s, test_level_cache_rejects_garbage);
	ADD_TEST(s, test_level_scope_names_level_and_age_cap);
}
