/* Watch progress: the status thresholds and the whole-percent progress. */
#include "unit.h"
#include "sp_history.h"

static void test_status_thresholds(void)
{
	CU_ASSERT_EQUAL(sp_watch_status_of(0, 1000), SP_WATCH_STARTED);
	CU_ASSERT_EQUAL(sp_watch_status_of(49, 1000), SP_WATCH_STARTED);
	CU_ASSERT_EQUAL(sp_watch_status_of(50, 1000), SP_WATCH_PAUSED); /* 5 % exactly */
	CU_ASSERT_EQUAL(sp_watch_status_of(899, 1000), SP_WATCH_PAUSED);
	CU_ASSERT_EQUAL(sp_watch_status_of(900, 1000), SP_WATCH_COMPLETED); /* 90 % exactly */
	CU_ASSERT_EQUAL(sp_watch_status_of(1000, 1000), SP_WATCH_COMPLETED);
	/* no rounding on the way: 1 of 21 s is 4.76 %, 19 of 21 is 90.48 % */
	CU_ASSERT_EQUAL(sp_watch_status_of(1, 21), SP_WATCH_STARTED);
	CU_ASSERT_EQUAL(sp_watch_status_of(2, 21), SP_WATCH_PAUSED);
	CU_ASSERT_EQUAL(sp_watch_status_of(18, 21), SP_WATCH_PAUSED);
	CU_ASSERT_EQUAL(sp_watch_status_of(19, 21), SP_WATCH_COMPLETED);
	/* the largest durations accepted do not overflow */
	CU_ASSERT_EQUAL(sp_watch_status_of(9000000, 10000000), SP_WATCH_COMPLETED);
}

static void test_percent_and_names(void)
{
	CU_ASSERT_EQUAL(sp_watch_percent(0, 1000), 0);
	CU_ASSERT_EQUAL(sp_watch_percent(899, 1000), 89); /* rounded down */
	CU_ASSERT_EQUAL(sp_watch_percent(1000, 1000), 100);
	CU_ASSERT_EQUAL(sp_watch_percent(5, 0), 0);
	CU_ASSERT_STRING_EQUAL(sp_watch_status_name(SP_WATCH_PAUSED), "paused");
}

void suite_history(void)
{
	CU_pSuite s = CU_add_suite("history", NULL, NULL);

	ADD_TEST(s, test_status_thresholds);
	ADD_TEST(s, test_percent_and_names);
}
