/*
 * API tests of the jobs suite: the worker jobs "partitions" and "aggregate"
 * run by scripts/dev against the stack, and trending over their aggregates.
 *
 * The partition tests travel in time (--now years ahead), which would
 * archive and drop the shared database's live partitions: they run against
 * a scratch database (scripts/dev scratch-db, migrated by sp-admin, the
 * worker run with SP_DB_NAME pointing at it), rebuilt for each test from a
 * known partition layout and dropped at the end. The aggregate and trending
 * tests use the stack's database, with past days or sentinel ids that are
 * theirs alone, and remove their rows afterwards.
 */
#include "api_client.h"
#include "sp_db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRATCH "streaming_jobs"

/* The layout each partition test starts from: an empty month, two with rows, pmax. */
#define LAYOUT                                                                                     \
	"ALTER TABLE " SCRATCH ".watch_events PARTITION BY RANGE COLUMNS(created_at) ("            \
	"PARTITION p_before VALUES LESS THAN ('2029-12-01'), "                                     \
	"PARTITION p202912 VALUES LESS THAN ('2030-01-01'), "                                      \
	"PARTITION p203001 VALUES LESS THAN ('2030-02-01'), "                                      \
	"PARTITION p203002 VALUES LESS THAN ('2030-03-01'), "                                      \
	"PARTITION pmax VALUES LESS THAN (MAXVALUE))"

/* Rows of that layout: 2 in p_before, none in p202912, 3 in p203001, 1 in p203002. */
#define ROWS                                                                                       \
	"INSERT INTO " SCRATCH ".watch_events (user_id, content_id, event, position_seconds, "     \
	"created_at) VALUES (11, 21, 'start', 0, '2029-11-05 10:00:00'), "                         \
	"(11, 21, 'stop', 30, '2029-11-30 23:59:59.999'), "                                        \
	"(12, 21, 'start', 0, '2030-01-01 00:00:00'), "                                            \
	"(12, 21, 'progress', 10, '2030-01-15 12:00:00.250'), "                                    \
	"(12, 22, 'complete', 20, '2030-01-31 23:59:59.999'), "                                    \
	"(13, 23, 'start', 0, '2030-02-10 08:00:00')"

/* An archive table made the way the job makes it. */
#define ARCHIVE_TABLE(name)                                                                        \
	"CREATE TABLE " SCRATCH "." name " ENGINE=ARCHIVE AS SELECT id, user_id, content_id, "     \
	"event, position_seconds, created_at FROM " SCRATCH ".watch_events WHERE 0 = 1"

/* ---------------------------------------------------------------- helpers */

/* scripts/dev's directory's parent (the tree sp-admin and sql/ are in), or NULL. */
static const char *dev_path(void)
{
	const char *d = getenv("SP_DEV");

	if (d == NULL || *d == '\0' || strchr(d, '\'')) {
		EXPECT(0, "SP_DEV must name scripts/dev");
		return NULL;
	}
	return d;
}

/*
 * scripts/dev worker JOB --now NOW with extra environment env ("A=1 B=2"),
 * its log lines (stderr) into log (malloc'd, "" when none); the exit status.
 */
static int worker(const char *env, const char *job, const char *now, char **log)
{
	return api_run_worker(env, job, now, log);
}

/* The partition job against the scratch database with warm_days 180, months_ahead 3. */
static int partitions(const char *now, char **log)
{
	return worker("SP_DB_NAME=" SCRATCH " SP_HISTORY_WARM_DAYS=180 SP_HISTORY_MONTHS_AHEAD=3",
	              "partitions", now, log);
}

static int script(const char *sql)
{
	char err[512];

	if (api_db_script(sql, err, sizeof err) == 0)
		return 0;
	EXPECT(0, "SQL failed: %s: %.200s", err, sql);
	return -1;
}

/* A fresh scratch database, migrated, in the partition layout; 0 ok. */
static int scratch_up(int with_rows)
{
	const char *d = dev_path();
	int rc;

	if (d == NULL)
		return -1;
	rc = api_shell("'%s' scratch-db create " SCRATCH " >/dev/null 2>&1", d);
	EXPECT(rc == 0, "scripts/dev scratch-db create " SCRATCH " exits 0, got %d", rc);
	if (rc != 0)
		return -1;
	rc = api_shell("SP_DB_NAME=" SCRATCH " \"$(dirname '%s')/../sp-admin\" migrate --dir "
	               "\"$(dirname '%s')/../sql/migrations\" >/dev/null 2>&1",
	               d, d);
	EXPECT(rc == 0, "sp-admin migrate into " SCRATCH " exits 0, got %d", rc);
	if (rc != 0 || script(LAYOUT) != 0)
		return -1;
	return with_rows ? script(ROWS) : 0;
}

static void scratch_down(void)
{
	const char *d = getenv("SP_DEV");

	if (d && *d && !strchr(d, '\''))
		(void)api_shell("'%s' scratch-db drop " SCRATCH " >/dev/null 2>&1", d);
}

/* "name:bound,..." of the scratch watch_events partitions, in order (malloc'd). */
static char *layout(void)
{
	return api_db_str_s(
	    "SELECT GROUP_CONCAT(PARTITION_NAME, ':', PARTITION_DESCRIPTION ORDER BY "
	    "PARTITION_ORDINAL_POSITION) FROM information_schema.PARTITIONS WHERE "
	    "TABLE_SCHEMA = ? AND TABLE_NAME = 'watch_events'",
	    SCRATCH);
}

/* The partition names only, "p203002,...,pmax" (malloc'd). */
static char *part_names(void)
{
	return api_db_str_s(
	    "SELECT GROUP_CONCAT(PARTITION_NAME ORDER BY PARTITION_ORDINAL_POSITION) "
	    "FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND "
	    "TABLE_NAME = 'watch_events'",
	    SCRATCH);
}

/* "table:engine,..." of the scratch archive tables (malloc'd; NULL when none). */
static char *archive_tables(void)
{
	return api_db_str_s("SELECT GROUP_CONCAT(TABLE_NAME, ':', ENGINE ORDER BY TABLE_NAME) FROM "
	                    "information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE "
	                    "'watch\\_archive\\_%'",
	                    SCRATCH);
}

static long long count_of(const char *sql)
{
	return api_db_ll(sql);
}

static int has(const char *log, const char *what)
{
	return log && strstr(log, what) != NULL;
}

/* Every row of ROWS (by id and created_at) is in watch_events_all exactly once. */
static int all_rows_found(void)
{
	static const char *const at[] = {"2029-11-05 10:00:00.000", "2029-11-30 23:59:59.999",
	                                 "2030-01-01 00:00:00.000", "2030-01-15 12:00:00.250",
	                                 "2030-01-31 23:59:59.999", "2030-02-10 08:00:00.000"};
	int found = 0;

	for (int i = 0; i < 6; i++) {
		/* ids are 1..6 in a fresh database, in insertion order */
		char *got = api_db_str_l("SELECT GROUP_CONCAT(DATE_FORMAT(created_at, "
		                         "'%Y-%m-%d %H:%i:%s.%f')) FROM " SCRATCH
		                         ".watch_events_all WHERE id = ?",
		                         i + 1);
		if (got && strncmp(got, at[i], 23) == 0 && strlen(got) == 26)
			found++;
		else
			EXPECT(0, "row id %d: watch_events_all has created_at \"%s\", want %s once",
			       i + 1, got ? got : "(none)", at[i]);
		free(got);
	}
	return found;
}

/* ---------------------------------------------------------------- partitions */

static void test_partitions_kept_ahead_across_a_month_boundary(void)
{
	char *log = NULL, *before = NULL, *after = NULL;
	int rc;

	if (scratch_up(0) != 0 || script("ALTER TABLE " SCRATCH ".watch_events PARTITION BY RANGE "
	                                 "COLUMNS(created_at) (PARTITION p_before VALUES LESS THAN "
	                                 "('2030-12-01'), PARTITION pmax VALUES LESS THAN "
	                                 "(MAXVALUE))") != 0)
		goto out;
	/* the last minute of December 2030: December and three months after it */
	rc = partitions("2030-12-31T23:59:00Z", &log);
	EXPECT(rc == 0, "partitions --now 2030-12-31T23:59 exits 0, got %d: %.300s", rc, log);
	before = layout();
	EXPECT_STR(before, "p_before:'2030-12-01',p203012:'2031-01-01',p203101:'2031-02-01',"
	                   "p203102:'2031-03-01',p203103:'2031-04-01',pmax:MAXVALUE");
	EXPECT(has(log, "added p203012..p203103 (4 months)"),
	       "the log names what was added: %.400s", log);
	free(log);
	/* the first minute of January 2031: one month more */
	rc = partitions("2031-01-01T00:01:00Z", &log);
	EXPECT(rc == 0, "partitions --now 2031-01-01T00:01 exits 0, got %d: %.300s", rc, log);
	free(before);
	before = layout();
	EXPECT_STR(before, "p_before:'2030-12-01',p203012:'2031-01-01',p203101:'2031-02-01',"
	                   "p203102:'2031-03-01',p203103:'2031-04-01',p203104:'2031-05-01',"
	                   "pmax:MAXVALUE");
	free(log);
	/* again at the same time: nothing changes */
	rc = partitions("2031-01-01T00:01:00Z", &log);
	after = layout();
	EXPECT(rc == 0 && api_streq(before, after),
	       "a second run changes nothing: exit %d, layout %s, was %s", rc, after, before);
	EXPECT(has(log, "0 partitions added"), "the second run adds nothing: %.400s", log);
	/* an insert far ahead still lands (in pmax) */
	EXPECT(script("INSERT INTO " SCRATCH ".watch_events (user_id, content_id, event, "
	              "created_at) VALUES (1, 1, 'start', '2099-01-01')") == 0,
	       "an insert far ahead lands in pmax");
out:
	free(log);
	free(before);
	free(after);
	scratch_down();
}

static void test_partitions_archive_old_months_and_keep_rows_queryable(void)
{
	char *log = NULL, *names = NULL, *tables = NULL;
	int rc;

	if (scratch_up(1) != 0)
		goto out;
	/* warm_days 180 before 2030-08-20 is 2030-02-21: p_before, p202912 and p203001 are old */
	rc = partitions("2030-08-20T00:00:00Z", &log);
	EXPECT(rc == 0, "partitions --now 2030-08-20 exits 0, got %d: %.400s", rc, log);
	names = part_names();
	EXPECT_STR(names, "p203002,p203003,p203004,p203005,p203006,p203007,p203008,p203009,"
	                  "p203010,p203011,pmax");
	tables = archive_tables();
	EXPECT_STR(tables, "watch_archive_203001:ARCHIVE,watch_archive_before:ARCHIVE");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_before") == 2,
	       "watch_archive_before holds p_before's 2 rows");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_203001") == 3,
	       "watch_archive_203001 holds p203001's 3 rows");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_events") == 1,
	       "watch_events keeps the row of p203002 only");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_events_all") == 6,
	       "watch_events_all still counts all 6 rows");
	EXPECT(all_rows_found() == 6,
	       "each archived row is selectable by id from watch_events_all");
	EXPECT(has(log, "p202912 was empty; dropped without an archive table"),
	       "the empty month is dropped with no table: %.600s", log);
	free(log);
	free(names);
	free(tables);
	/* a second run changes nothing */
	rc = partitions("2030-08-20T00:00:00Z", &log);
	names = part_names();
	tables = archive_tables();
	EXPECT(rc == 0 &&
	           api_streq(names, "p203002,p203003,p203004,p203005,p203006,p203007,p203008,"
	                            "p203009,p203010,p203011,pmax"),
	       "the second run keeps the partitions: exit %d, %s", rc, names);
	EXPECT_STR(tables, "watch_archive_203001:ARCHIVE,watch_archive_before:ARCHIVE");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_events_all") == 6,
	       "watch_events_all still 6 rows after a second run");
out:
	free(log);
	free(names);
	free(tables);
	scratch_down();
}

static void test_partitions_rerun_repairs_a_stopped_archive(void)
{
	char *log = NULL, *names = NULL;
	int rc;

	if (scratch_up(1) != 0)
		goto out;
	/* stopped after copying p203001 (copy complete, partition still there) */
	if (script(ARCHIVE_TABLE("watch_archive_203001")) != 0 ||
	    script("INSERT INTO " SCRATCH ".watch_archive_203001 SELECT * FROM " SCRATCH
	           ".watch_events PARTITION (p203001)") != 0)
		goto out;
	/* stopped while copying p_before (1 of its 2 rows copied) */
	if (script(ARCHIVE_TABLE("watch_archive_before")) != 0 ||
	    script("INSERT INTO " SCRATCH ".watch_archive_before SELECT * FROM " SCRATCH
	           ".watch_events PARTITION (p_before) ORDER BY id LIMIT 1") != 0)
		goto out;
	rc = partitions("2030-08-20T00:00:00Z", &log);
	EXPECT(rc == 0, "the rerun exits 0, got %d: %.600s", rc, log);
	names = part_names();
	EXPECT(api_streq(names, "p203002,p203003,p203004,p203005,p203006,p203007,p203008,p203009,"
	                        "p203010,p203011,pmax"),
	       "the rerun drops both old partitions: %s", names ? names : "(none)");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_203001") == 3,
	       "the complete copy is kept as it was, without duplicates (3 rows), got %lld",
	       count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_203001"));
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_before") == 2,
	       "the partial copy is redone (2 rows), got %lld",
	       count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_archive_before"));
	EXPECT(has(log, "watch_archive_before held 1 of 2 rows"),
	       "the log tells of the partial copy: %.600s", log);
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_events_all") == 6 &&
	           count_of("SELECT COUNT(DISTINCT id) FROM " SCRATCH ".watch_events_all") == 6,
	       "watch_events_all holds each of the 6 rows once");
	EXPECT(all_rows_found() == 6, "each row is selectable by id from watch_events_all");
out:
	free(log);
	free(names);
	scratch_down();
}

static void test_partitions_keeps_a_partition_whose_copy_fails(void)
{
	char *log = NULL, *names = NULL;
	int rc;

	if (scratch_up(1) != 0)
		goto out;
	/* a view in the archive table's place: the copy can be neither dropped nor made */
	if (script("CREATE VIEW " SCRATCH ".watch_archive_203001 AS SELECT * FROM " SCRATCH
	           ".watch_events WHERE 0 = 1") != 0)
		goto out;
	rc = partitions("2030-08-20T00:00:00Z", &log);
	EXPECT(rc != 0, "the job fails when a copy cannot be made, got exit %d", rc);
	names = part_names();
	EXPECT(names && strstr(names, "p203001,p203002") != NULL && !strstr(names, "p_before"),
	       "p_before is archived, p203001 (not copied) is kept: %s", names ? names : "(none)");
	EXPECT(count_of("SELECT COUNT(*) FROM " SCRATCH ".watch_events PARTITION (p203001)") == 3,
	       "p203001 keeps its 3 rows");
	EXPECT(has(log, "\"level\":\"error\""), "the failure is logged as an error: %.600s", log);
out:
	free(log);
	free(names);
	scratch_down();
}

static void test_partitions_does_nothing_while_another_run_holds_the_lock(void)
{
	char *log = NULL, *before = NULL, *after = NULL, *tables = NULL;
	int rc;

	if (scratch_up(1) != 0)
		goto out;
	before = layout();
	EXPECT(api_db_ll_s("SELECT GET_LOCK(?, 0)", "streaming.worker.partitions") == 1,
	       "the test takes the job's lock");
	rc = partitions("2030-08-20T00:00:00Z", &log);
	after = layout();
	EXPECT(api_db_ll_s("SELECT RELEASE_LOCK(?)", "streaming.worker.partitions") == 1,
	       "the test releases the job's lock");
	EXPECT(rc == 0, "a run that finds the lock held exits 0, got %d", rc);
	EXPECT(before && api_streq(before, after), "nothing changed: %s, was %s", after, before);
	tables = archive_tables();
	EXPECT(tables == NULL, "no archive table was made: %s", tables);
	EXPECT(has(log, "another run holds the lock"), "the log says so: %.300s", log);
out:
	free(tables);
	free(log);
	free(before);
	free(after);
	scratch_down();
}

/* ---------------------------------------------------------------- aggregate */

/* Sentinel ids of this run: users and titles base+1..base+3 (no foreign keys). */
static long long agg_base(void)
{
	return 4200000000LL + (long long)(getpid() % 100000) * 10;
}

/* The events of the test, user and title as offsets from agg_base. */
static const struct {
	int user, content;
	const char *event;
	int pos;
	const char *at;
} EVENTS[] = {
    {1, 1, "start", 0, "2024-03-09 23:50:00"},
    {1, 1, "progress", 400, "2024-03-09 23:58:00"},
    {1, 1, "progress", 600, "2024-03-10 00:02:00"}, /* +200 (of 240 s) */
    {1, 1, "progress", 700, "2024-03-10 00:03:00"}, /* +60: a seek, capped by time */
    {1, 1, "progress", 500, "2024-03-10 00:04:00"}, /* +0: back */
    {1, 1, "complete", 560, "2024-03-10 00:05:00"}, /* +60 */
    {1, 1, "stop", 600, "2024-03-10 00:06:00"},     /* +40 */
    {2, 1, "start", 300, "2024-03-10 10:00:00"},
    {2, 1, "progress", 350, "2024-03-10 10:01:00"},
    {2, 1, "progress", 360, "2024-03-10 10:01:00"}, /* same time, later id: +0 */
    {2, 1, "complete", 480, "2024-03-10 10:03:00"}, /* +120 */
    {2, 1, "progress", 500, "2024-03-11 00:00:30"}, /* the next day */
    {2, 2, "start", 0, "2024-03-10 11:00:00"},
    {2, 2, "progress", 600, "2024-03-10 11:10:00"},
    {2, 2, "stop", 900, "2024-03-10 11:20:00"},
    {3, 1, "start", 0, "2024-03-10 12:00:00"},
    {3, 1, "start", 0, "2024-03-10 12:00:30"},
    {3, 1, "progress", 60, "2024-03-10 12:01:30"},
    {1, 2, "start", 0, "2024-03-10 23:59:59.999"},
    {1, 3, "start", 0, "2024-03-10 13:00:00"},
    {1, 3, "complete", 1800, "2024-03-10 13:30:00"},
    {1, 3, "complete", 1800, "2024-03-10 13:31:00"},
    {1, 3, "progress", 1900, "2024-03-11 00:00:00"}, /* the next day, on the boundary */
};

static int agg_insert(void)
{
	long long b = agg_base();

	for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++)
		if (sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, "
		               "position_seconds, created_at) VALUES (?, ?, ?, ?, ?)",
		               "llsis", b + EVENTS[i].user, b + EVENTS[i].content, EVENTS[i].event,
		               EVENTS[i].pos, EVENTS[i].at) != 1)
			return -1;
	return 0;
}

static char *agg_dump(const char *sql)
{
	sp_res res;
	char *s = NULL;

	if (sp_db_query(&res, sql, "lll", agg_base(), agg_base(), agg_base() + 9) != 0)
		return NULL;
	if (res.nrows == 1 && sp_res_str(&res, 0, 0))
		s = strdup(sp_res_str(&res, 0, 0));
	sp_res_free(&res);
	return s;
}

#define DUMP_CONTENT                                                                               \
	"SELECT GROUP_CONCAT(CONCAT_WS(':', day, content_id - ?, views, unique_viewers, "          \
	"watch_seconds, completions, completion_rate) ORDER BY day, content_id) FROM "             \
	"watch_daily_content WHERE content_id BETWEEN ? AND ?"
#define DUMP_USERS                                                                                 \
	"SELECT GROUP_CONCAT(CONCAT_WS(':', day, user_id - ?, watch_seconds, titles, "             \
	"completions) "                                                                            \
	"ORDER BY day, user_id) FROM watch_daily_users WHERE user_id BETWEEN ? AND ?"

static void agg_cleanup(void)
{
	long long b = agg_base();

	sp_db_exec("DELETE FROM watch_events WHERE user_id BETWEEN ? AND ? AND created_at >= "
	           "'2024-03-01' AND created_at < '2024-04-01'",
	           "ll", b, b + 9);
	sp_db_exec("DELETE FROM watch_daily_content WHERE content_id BETWEEN ? AND ?", "ll", b,
	           b + 9);
	sp_db_exec("DELETE FROM watch_daily_users WHERE user_id BETWEEN ? AND ?", "ll", b, b + 9);
}

static void test_aggregate_computes_exact_daily_rows_and_reruns_identically(void)
{
	char *log = NULL, *c1 = NULL, *u1 = NULL, *c2 = NULL, *u2 = NULL;
	int rc;

	if (api_db_ready() != 0)
		return;
	agg_cleanup();
	EXPECT(agg_insert() == 0, "the test's events are inserted");
	/* the day before is to be caught up; today (03-11) must stay unaggregated */
	sp_db_exec("DELETE FROM watch_aggregate_days WHERE day IN ('2024-03-09', '2024-03-11')",
	           "");
	rc = worker("", "aggregate", "2024-03-11T01:00:00Z", &log);
	EXPECT(rc == 0, "aggregate --now 2024-03-11T01:00 exits 0, got %d: %.400s", rc, log);
	c1 = agg_dump(DUMP_CONTENT);
	u1 = agg_dump(DUMP_USERS);
	EXPECT_STR(c1, "2024-03-09:1:1:1:400:0:0.0000,2024-03-10:1:3:3:590:2:0.6667,"
	               "2024-03-10:2:2:2:900:0:0.0000,2024-03-10:3:1:1:1800:2:1.0000");
	EXPECT_STR(u1, "2024-03-09:1:400:1:0,2024-03-10:1:2160:3:3,2024-03-10:2:1070:2:1,"
	               "2024-03-10:3:60:1:0");
	EXPECT(api_db_ll("SELECT events = (SELECT COUNT(*) FROM watch_events WHERE created_at >= "
	                 "'2024-03-10' AND created_at < '2024-03-11') AND events >= 19 FROM "
	                 "watch_aggregate_days WHERE day = '2024-03-10'") == 1,
	       "watch_aggregate_days records 2024-03-10 with its event count");
	EXPECT(api_db_ll("SELECT COUNT(*) FROM watch_aggregate_days WHERE day = '2024-03-11'") == 0,
	       "today (2024-03-11 for that run) is not aggregated");
	EXPECT(has(log, "day 2024-03-09 recomputed") && has(log, "(catching up)"),
	       "the missing day before is caught up: %.600s", log);
	free(log);
	rc = worker("", "aggregate", "2024-03-11T01:00:00Z", &log);
	c2 = agg_dump(DUMP_CONTENT);
	u2 = agg_dump(DUMP_USERS);
	EXPECT(rc == 0 && api_streq(c1, c2) && api_streq(u1, u2),
	       "a second run gives identical rows: exit %d, content %s / %s, users %s / %s", rc, c2,
	       c1, u2, u1);
	EXPECT(!has(log, "catching up"), "the second run has nothing to catch up: %.600s", log);
	free(log);
	free(c1);
	free(u1);
	free(c2);
	free(u2);
	agg_cleanup();
}

/* ---------------------------------------------------------------- trending */

static long long trend_user(void)
{
	return 4300000000LL + (long long)(getpid() % 100000);
}

/* Inserts n watch events for title cid at days_ago (0: now) plus hours. */
static int trend_events(long long cid, const char *event, int n, int days_ago)
{
	for (int i = 0; i < n; i++)
		if (sp_db_exec(
		        days_ago == 0
		            ? "INSERT INTO watch_events (user_id, content_id, event, created_at) "
		              "VALUES (?, ?, ?, UTC_TIMESTAMP(3) - INTERVAL ? DAY)"
		            : "INSERT INTO watch_events (user_id, content_id, event, created_at) "
		              "VALUES (?, ?, ?, UTC_DATE() - INTERVAL ? DAY + INTERVAL 12 HOUR)",
		        "llsl", trend_user(), cid, event, (long long)days_ago) != 1)
			return -1;
	return 0;
}

/* views of title cid on the day days_ago; the day marked aggregated (remembered in *added). */
static int trend_daily(long long cid, long long views, int days_ago, unsigned *added)
{
	long long n = sp_db_exec("INSERT IGNORE INTO watch_aggregate_days (day, events, "
	                         "computed_at) VALUES (UTC_DATE() - INTERVAL ? DAY, 0, "
	                         "UTC_TIMESTAMP(3))",
	                         "l", (long long)days_ago);
	if (n == 1)
		*added |= 1u << days_ago;
	return n >= 0 && sp_db_exec("REPLACE INTO watch_daily_content (day, content_id, views, "
	                            "unique_viewers, watch_seconds, completions, completion_rate) "
	                            "VALUES (UTC_DATE() - INTERVAL ? DAY, ?, ?, 1, 0, 0, 0)",
	                            "lll", (long long)days_ago, cid, views) == 1
	           ? 0
	           : -1;
}

static int index_in(json_object *arr, long long id)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		const char *s = api_jstr(json_object_array_get_idx(arr, i), "id");
		if (api_all_digits(s) && atoll(s) == id)
			return (int)i;
	}
	return -1;
}

static void trend_cleanup(const long long *t, unsigned added, char *saved4)
{
	for (int d = 0; d < 8; d++)
		if (added & (1u << d))
			sp_db_exec(
			    "DELETE FROM watch_aggregate_days WHERE day = UTC_DATE() - INTERVAL ? "
			    "DAY",
			    "l", (long long)d);
	for (int i = 0; i < 5; i++)
		sp_db_exec("DELETE FROM watch_daily_content WHERE content_id = ? AND day >= "
		           "UTC_DATE() - INTERVAL 7 DAY",
		           "l", t[i]);
	sp_db_exec("DELETE FROM watch_events WHERE user_id = ?", "l", trend_user());
	if (saved4) /* put back the row of day today-4 the test took out */
		sp_db_exec(
		    "INSERT IGNORE INTO watch_aggregate_days (day, events, computed_at) SELECT "
		    "UTC_DATE() - INTERVAL 4 DAY, SUBSTRING_INDEX(?, '|', 1), "
		    "SUBSTRING_INDEX(?, '|', -1)",
		    "ss", saved4, saved4);
}

static void test_trending_adds_today_and_unaggregated_days_to_aggregates(void)
{
	/* A..E: five active titles nobody watched this week */
	long long t[5], top, k;
	unsigned added = 0;
	char *saved4 = NULL;
	api_resp r;
	json_object *arr;
	static const char *const name[] = {"A", "B", "C", "D", "E"};
	static const int want[] = {1, 0, 2, 3, 4}; /* B, A, C, D, E */

	if (api_db_ready() != 0)
		return;
	for (int i = 0; i < 5; i++)
		t[i] = api_db_ll_l(
		    "SELECT id FROM content c WHERE is_active = 1 AND NOT EXISTS "
		    "(SELECT 1 FROM watch_events e WHERE e.content_id = c.id AND "
		    "e.created_at >= UTC_DATE() - INTERVAL 8 DAY) AND NOT EXISTS (SELECT "
		    "1 FROM watch_daily_content d WHERE d.content_id = c.id AND d.day >= "
		    "UTC_DATE() - INTERVAL 8 DAY) ORDER BY views, id LIMIT 1 OFFSET ?",
		    i);
	/* above anything else any title can score this week */
	top = api_db_ll("SELECT (SELECT COUNT(*) FROM watch_events WHERE event = 'start' AND "
	                "created_at >= UTC_DATE() - INTERVAL 8 DAY) + (SELECT COALESCE(SUM(views), "
	                "0) FROM watch_daily_content WHERE day >= UTC_DATE() - INTERVAL 8 DAY)");
	EXPECT(top >= 0 && t[4] > 0, "cannot read watch_events / content");
	if (top < 0 || t[4] <= 0)
		return;
	k = top + 100;
	/* day today-4 is the one left unaggregated */
	saved4 = api_db_str_l("SELECT CONCAT(events, '|', computed_at) FROM watch_aggregate_days "
	                      "WHERE day = UTC_DATE() - INTERVAL ? DAY",
	                      4);
	sp_db_exec("DELETE FROM watch_aggregate_days WHERE day = UTC_DATE() - INTERVAL 4 DAY", "");
	/* A: k+10 aggregated */
	EXPECT(trend_daily(t[0], k + 10, 3, &added) == 0, "aggregates inserted");
	/* B: k+8 aggregated and 3 starts today: k+11 */
	EXPECT(trend_daily(t[1], k + 8, 3, &added) == 0 && trend_events(t[1], "start", 3, 0) == 0,
	       "B inserted");
	/* C: k+5 aggregated, 4 starts on the unaggregated day, progress today (not views): k+9 */
	EXPECT(trend_daily(t[2], k + 5, 1, &added) == 0 && trend_events(t[2], "start", 4, 4) == 0 &&
	           trend_events(t[2], "progress", 10, 0) == 0,
	       "C inserted");
	/* D: k+7 aggregated; its day's raw starts are in that figure already: k+7 */
	EXPECT(trend_daily(t[3], k + 7, 3, &added) == 0 && trend_events(t[3], "start", 5, 3) == 0,
	       "D inserted");
	/* E: k+6 in the window; 10k seven days ago, outside it: k+6 */
	EXPECT(trend_daily(t[4], k + 6, 2, &added) == 0 &&
	           trend_daily(t[4], 10 * k, 7, &added) == 0,
	       "E inserted");

	/* rows written in MariaDB by hand: the cached page (LIST_TTL) goes as after a write */
	EXPECT(api_run_tool("admin", "drop-cache catalog") == 0, "sp-admin drop-cache catalog");
	api_get(&r, "/api/v1/content/trending?limit=10", NULL);
	EXPECT_OK(r, 200);
	arr = api_jget(r.json, "data.content");
	EXPECT(api_jint(r.json, "count") == 10 && arr && json_object_array_length(arr) == 10,
	       "trending?limit=10 lists 10 titles: %.200s", r.body);
	for (int i = 0; i < 5; i++)
		EXPECT(index_in(arr, t[want[i]]) == i,
		       "trending: title %s (%lld) should be at %d, found at %d (k = %lld)",
		       name[want[i]], t[want[i]], i, index_in(arr, t[want[i]]), k);
	api_free(&r);
	trend_cleanup(t, added, saved4);
	free(saved4);
}

static int suite_cleanup(void)
{
	scratch_down();
	return 0;
}

int api_suite_jobs(void)
{
	CU_pSuite s = CU_add_suite("jobs", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_partitions_kept_ahead_across_a_month_boundary);
	ADD(test_partitions_archive_old_months_and_keep_rows_queryable);
	ADD(test_partitions_rerun_repairs_a_stopped_archive);
	ADD(test_partitions_keeps_a_partition_whose_copy_fails);
	ADD(test_partitions_does_nothing_while_another_run_holds_the_lock);
	ADD(test_aggregate_computes_exact_daily_rows_and_reruns_identically);
	ADD(test_trending_adds_today_and_unaggregated_days_to_aggregates);
#undef ADD
	return 0;
}
