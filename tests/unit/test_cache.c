/*
 * Process-local catalogue copies: used only under the group version they
 * were stored under, never past their expiry, never without a version read
 * in the same request, and bounded in bytes.
 */
#include "unit.h"
#include "sp_cache.h"
#include "sp_config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static long saved_bytes;

static int setup(void)
{
	saved_bytes = sp_cfg.cache_local_bytes;
	sp_cfg.cache_local_bytes = 8192;
	sp_cache_local("catalog");
	return 0;
}

static int teardown(void)
{
	sp_cache_local_clear();
	sp_cfg.cache_local_bytes = saved_bytes;
	sp_cache_local(NULL);
	return 0;
}

static const char *get(const char *key)
{
	static char out[2048];
	size_t len = 0;
	const char *v = sp_cache_local_get(key, &len);

	if (v == NULL || len >= sizeof out)
		return NULL;
	memcpy(out, v, len);
	out[len] = '\0';
	return out;
}

static void seen(const char *ver)
{
	sp_cache_req_begin();
	sp_cache_seen("catalog", ver, strlen(ver));
}

static void test_copy_lives_under_its_version_only(void)
{
	sp_cache_local_clear();
	seen("100.1.1");
	sp_cache_local_store("sp:catalog:list:0:a", "{\"page\":1}", 10, 60000);
	CU_ASSERT_STRING_EQUAL(sp_cache_local_version(), "100.1.1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(get("sp:catalog:list:0:a"));
	CU_ASSERT_STRING_EQUAL(get("sp:catalog:list:0:a"), "{\"page\":1}");
	/* the same version seen again keeps it */
	seen("100.1.1");
	CU_ASSERT_PTR_NOT_NULL(get("sp:catalog:list:0:a"));
	/* a write elsewhere gave the group a new version: every copy goes */
	seen("100.1.2");
	CU_ASSERT_PTR_NULL(get("sp:catalog:list:0:a"));
	CU_ASSERT_STRING_EQUAL(sp_cache_local_version(), "100.1.2");
}

static void test_no_copy_without_a_version_read_in_this_request(void)
{
	sp_cache_local_clear();
	seen("7.0.1");
	sp_cache_req_begin();
	sp_cache_local_store("sp:catalog:item:1:0", "x", 1, 60000);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:1:0"));
	/* a version read for another group does not vouch for this one */
	sp_cache_req_begin();
	sp_cache_seen("plans", "7.0.1", 5);
	sp_cache_local_store("sp:catalog:item:1:0", "x", 1, 60000);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:1:0"));
	/* an empty or oversized version counts as none */
	sp_cache_seen("catalog", "", 0);
	sp_cache_local_store("sp:catalog:item:1:0", "x", 1, 60000);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:1:0"));
}

static void test_copy_expires(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	sp_cache_local_clear();
	seen("9.9.9");
	sp_cache_local_store("sp:catalog:item:2:0", "short", 5, 5);
	sp_cache_local_store("sp:catalog:item:3:0", "long", 4, 60000);
	nanosleep(&ts, NULL);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:2:0"));
	CU_ASSERT_PTR_NOT_NULL(get("sp:catalog:item:3:0"));
	/* no time left: not kept at all */
	sp_cache_local_store("sp:catalog:item:4:0", "none", 4, 0);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:4:0"));
}

static void test_bytes_stay_bounded_and_newest_survives(void)
{
	char key[64], val[512];
	int found = 0;

	sp_cache_local_clear();
	seen("5.5.5");
	memset(val, 'v', sizeof val);
	/* larger than an eighth of the bound: never kept */
	sp_cache_local_store("sp:catalog:list:0:big", val, 1100, 60000);
	CU_ASSERT_PTR_NULL(get("sp:catalog:list:0:big"));
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "sp:catalog:list:0:%04d", i);
		sp_cache_local_store(key, val, 500, 60000);
		CU_ASSERT_PTR_NOT_NULL(get(key));
	}
	/* 8192 bytes hold at most 16 such pages */
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "sp:catalog:list:0:%04d", i);
		if (get(key))
			found++;
	}
	CU_ASSERT(found >= 1 && found <= 16);
	/* the version survives the flush that made room */
	CU_ASSERT_STRING_EQUAL(sp_cache_local_version(), "5.5.5");
	/* replacing a key keeps one copy of it */
	sp_cache_local_store("sp:catalog:list:0:0999", "new", 3, 60000);
	CU_ASSERT_STRING_EQUAL(get("sp:catalog:list:0:0999"), "new");
}

static void test_off_when_bound_is_zero(void)
{
	sp_cfg.cache_local_bytes = 0;
	sp_cache_local("catalog");
	CU_ASSERT_PTR_NULL(sp_cache_local_group());
	seen("1.1.1");
	sp_cache_local_store("sp:catalog:item:5:0", "x", 1, 60000);
	CU_ASSERT_PTR_NULL(get("sp:catalog:item:5:0"));
	sp_cfg.cache_local_bytes = 8192;
	sp_cache_local("catalog");
	CU_ASSERT_STRING_EQUAL(sp_cache_local_group(), "catalog");
}

void suite_cache(void)
{
	CU_pSuite s = CU_add_suite("cache", setup, teardown);

	ADD_TEST(s, test_copy_lives_under_its_version_only);
	ADD_TEST(s, test_no_copy_without_a_version_read_in_this_request);
	ADD_TEST(s, test_copy_expires);
	ADD_TEST(s, test_bytes_stay_bounded_and_newest_survives);
	ADD_TEST(s, test_off_when_bound_is_zero);
}
