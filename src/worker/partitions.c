/*
 * Job "partitions": watch_events is RANGE COLUMNS(created_at) partitioned by
 * month (pYYYYMM holds [YYYY-MM-01, next month); p_before what came before
 * the table was partitioned; pmax everything later, so an insert never
 * fails). Each run, given now:
 *
 *   1. splits pmax so that the current month and history.months_ahead
 *      months after it have their own partition (and any month missed while
 *      the job did not run);
 *   2. moves every partition whose upper bound is at least
 *      history.warm_days old into an ARCHIVE-engine table of its own
 *      (watch_archive_YYYYMM, watch_archive_before), then drops it. Each
 *      step can be interrupted and rerun: a copy is checked against its
 *      source (rows and a checksum) before the views name it and before the
 *      partition goes; a copy that does not match is dropped and redone;
 *      a partition whose copy does not match is never dropped;
 *   3. keeps the views watch_events_archive (every archive table) and
 *      watch_events_all (live plus archived rows) in step.
 *
 * The ARCHIVE engine is a plugin (plugin_load_add = ha_archive); without it
 * the job changes nothing and fails.
 *
 * SQL built here: DDL carries no input. The only identifiers put into SQL
 * text are partition names read from information_schema and checked
 * against ^p[0-9]{6}$, p_before or pmax (valid_part_name), the archive
 * table names derived from them, and archive table names checked against
 * ^watch_archive_([0-9]{6}|before)$; bounds are dates formatted here.
 */
#include "worker.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLS "id, user_id, content_id, event, position_seconds, created_at"

typedef struct part {
	char name[16];  /* p_before, pmax or pYYYYMM (validated) */
	char bound[24]; /* "YYYY-MM-DD HH:MM:SS"; "" for MAXVALUE */
	int old;        /* upper bound <= now - warm_days */
} part;

typedef struct parts {
	part *v;
	size_t n;
} parts;

/* Rows and a checksum over every column: a copy matches its source when both agree. */
typedef struct tally {
	long long rows;
	char sum[48];
} tally;

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[n] == '\0';
}

/* p_before, pmax or pYYYYMM with a month 01..12. */
static int valid_part_name(const char *s)
{
	if (strcmp(s, "p_before") == 0 || strcmp(s, "pmax") == 0)
		return 1;
	if (s[0] != 'p' || strlen(s) != 7 || !all_digits(s + 1, 6))
		return 0;
	return atoi(s + 5) >= 1 && atoi(s + 5) <= 12;
}

/* watch_archive_YYYYMM or watch_archive_before. */
static int valid_archive_name(const char *s)
{
	const char *pre = "watch_archive_";
	size_t n = strlen(pre);

	if (strncmp(s, pre, n) != 0)
		return 0;
	return strcmp(s + n, "before") == 0 || (strlen(s + n) == 6 && all_digits(s + n, 6));
}

/* The archive table of a partition: p202601 -> watch_archive_202601. */
static void archive_name(const char *part, char *out, size_t n)
{
	snprintf(out, n, "watch_archive_%s", strcmp(part, "p_before") == 0 ? "before" : part + 1);
}

/* A month as a count (year * 12 + month - 1) from "YYYY-MM..." or from ms. */
static int month_of_text(const char *s)
{
	return atoi(s) * 12 + atoi(s + 5) - 1;
}

static int month_of_ms(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static int archive_engine_ok(void)
{
	sp_res res;
	int ok;

	if (sp_db_query(&res,
	                "SELECT COUNT(*) FROM information_schema.ENGINES WHERE ENGINE = 'ARCHIVE' "
	                "AND SUPPORT IN ('YES', 'DEFAULT')",
	                "") != 0)
		return -1;
	ok = sp_res_ll(&res, 0, 0, 0) == 1;
	sp_res_free(&res);
	return ok ? 0 : 1;
}

/* The partitions of watch_events in order, each marked old or not against cutoff. */
static int load_parts(parts *p, const char *cutoff)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT PARTITION_NAME, IF(PARTITION_DESCRIPTION = 'MAXVALUE', '', "
	                "DATE_FORMAT(CAST(TRIM(BOTH '''' FROM PARTITION_DESCRIPTION) AS DATETIME), "
	                "'%Y-%m-%d %H:%i:%s')), PARTITION_DESCRIPTION <> 'MAXVALUE' AND "
	                "CAST(TRIM(BOTH '''' FROM PARTITION_DESCRIPTION) AS DATETIME) <= ? "
	                "FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND "
	                "TABLE_NAME = 'watch_events' ORDER BY PARTITION_ORDINAL_POSITION",
	                "s", cutoff) != 0) {
		sp_error("partitions: cannot read information_schema.PARTITIONS");
		return -1;
	}
	p->v = sp_xcalloc(res.nrows + 1, sizeof *p->v);
	p->n = 0;
	for (size_t i = 0; i < res.nrows; i++) {
		const char *name = sp_res_str(&res, i, 0), *bound = sp_res_str(&res, i, 1);
		if (name == NULL || !valid_part_name(name) || bound == NULL ||
		    (*bound != '\0' && strlen(bound) != 19)) {
			sp_error("partitions: watch_events has an unexpected partition \"%.32s\" "
			         "(not partitioned, or not by this job); nothing done",
			         name ? name : "(none)");
			sp_res_free(&res);
			return -1;
		}
		snprintf(p->v[p->n].name, sizeof p->v[p->n].name, "%s", name);
		snprintf(p->v[p->n].bound, sizeof p->v[p->n].bound, "%s", bound);
		p->v[p->n].old = sp_res_ll(&res, i, 2, 0) == 1;
		p->n++;
	}
	sp_res_free(&res);
	if (p->n == 0 || strcmp(p->v[p->n - 1].name, "pmax") != 0) {
		sp_error("partitions: watch_events has no pmax partition last; nothing done");
		return -1;
	}
	return 0;
}

/*
 * Splits pmax into one partition per month from the last bound through the
 * current month plus history.months_ahead (nothing when they exist).
 */
static int ensure_ahead(const parts *p, int64_t now_ms, int *added)
{
	int first, last = month_of_ms(now_ms) + (int)sp_cfg.history_months_ahead;
	sp_buf sql;
	char err[512];
	int rc;

	first = p->n >= 2 ? month_of_text(p->v[p->n - 2].bound) : month_of_ms(now_ms);
	*added = first <= last ? last - first + 1 : 0;
	if (*added == 0)
		return 0;
	sp_buf_init(&sql);
	sp_buf_adds(&sql, "ALTER TABLE watch_events REORGANIZE PARTITION pmax INTO (");
	for (int m = first; m <= last; m++)
		sp_buf_addf(&sql, "PARTITION p%04d%02d VALUES LESS THAN ('%04d-%02d-01'), ", m / 12,
		            m % 12 + 1, (m + 1) / 12, (m + 1) % 12 + 1);
	sp_buf_adds(&sql, "PARTITION pmax VALUES LESS THAN (MAXVALUE))");
	rc = sp_db_run_script(sql.data, err, sizeof err);
	sp_buf_free(&sql);
	if (rc != 0) {
		sp_error("partitions: adding p%04d%02d..p%04d%02d failed: %s", first / 12,
		         first % 12 + 1, last / 12, last % 12 + 1, err);
		return -1;
	}
	sp_info("partitions: added p%04d%02d..p%04d%02d (%d months) before pmax", first / 12,
	        first % 12 + 1, last / 12, last % 12 + 1, *added);
	return 0;
}

/* Rows and checksum of a table or a partition ("watch_events PARTITION (p202601)"). */
static int tally_of(const char *from, tally *t)
{
	char sql[256];
	sp_res res;

	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', " COLS "))), 0) FROM %s",
	         from);
	if (sp_db_query(&res, sql, "") != 0)
		return -1;
	if (res.nrows != 1) {
		sp_res_free(&res);
		return -1;
	}
	t->rows = sp_res_ll(&res, 0, 0, -1);
	snprintf(t->sum, sizeof t->sum, "%s", sp_res_str(&res, 0, 1) ? sp_res_str(&res, 0, 1) : "");
	sp_res_free(&res);
	return 0;
}

static int table_exists(const char *table)
{
	sp_res res;
	int n;

	if (sp_db_query(&res,
	                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
	                "DATABASE() AND TABLE_NAME = ?",
	                "s", table) != 0)
		return -1;
	n = (int)sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	return n > 0;
}

static int run_ddl(const char *what, const char *sql)
{
	char err[512];

	if (sp_db_run_script(sql, err, sizeof err) == 0)
		return 0;
	sp_error("partitions: %s failed: %s", what, err);
	return -1;
}

/*
 * watch_events_archive = every archive table; watch_events_all = live rows
 * and archived ones. Rebuilt from the tables that exist, so a rerun repairs.
 */
static int rebuild_views(void)
{
	sp_res res;
	sp_buf sql;
	size_t used = 0;
	int rc;

	if (sp_db_query(&res,
	                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
	                "DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME LIKE "
	                "'watch\\_archive\\_%' ORDER BY TABLE_NAME",
	                "") != 0) {
		sp_error("partitions: cannot list the archive tables");
		return -1;
	}
	sp_buf_init(&sql);
	sp_buf_adds(&sql, "CREATE OR REPLACE VIEW watch_events_archive AS ");
	for (size_t i = 0; i < res.nrows; i++) {
		const char *t = sp_res_str(&res, i, 0);
		if (t == NULL || !valid_archive_name(t)) {
			sp_warn("partitions: table %.64s is not an archive of this job; left out",
			        t ? t : "");
			continue;
		}
		sp_buf_addf(&sql, "%sSELECT " COLS " FROM %s", used++ ? " UNION ALL " : "", t);
	}
	sp_res_free(&res);
	if (used == 0)
		sp_buf_adds(&sql, "SELECT " COLS " FROM watch_events WHERE 0 = 1");
	sp_buf_adds(&sql, "; CREATE OR REPLACE VIEW watch_events_all AS SELECT " COLS
	                  " FROM watch_events UNION ALL SELECT " COLS " FROM watch_events_archive");
	rc = run_ddl("rebuilding the views", sql.data);
	sp_buf_free(&sql);
	if (rc == 0)
		sp_info("partitions: views rebuilt over %zu archive tables", used);
	return rc;
}

/* Drops a copy that does not match its source (a run stopped while copying). */
static int drop_partial(const char *table, const tally *src)
{
	char sql[128];
	tally t;

	if (tally_of(table, &t) != 0)
		return -1;
	if (t.rows == src->rows && strcmp(t.sum, src->sum) == 0)
		return 1; /* a complete copy: keep it */
	snprintf(sql, sizeof sql, "DROP TABLE %s", table);
	if (run_ddl("dropping a partial copy", sql) != 0)
		return -1;
	sp_warn("partitions: %s held %lld of %lld rows (a copy cut short); dropped to copy again",
	        table, t.rows, src->rows);
	return 0;
}

/*
 * Creates the archive table with watch_events' columns (types, character
 * set and collation as they are there; no index) and copies the partition.
 */
static int copy_part(const char *name, const char *table)
{
	char sql[256];

	snprintf(sql, sizeof sql,
	         "CREATE TABLE %s ENGINE=ARCHIVE AS SELECT " COLS " FROM watch_events WHERE 0 = 1",
	         table);
	if (run_ddl("creating an archive table", sql) != 0)
		return -1;
	snprintf(sql, sizeof sql,
	         "INSERT INTO %s (" COLS ") SELECT " COLS " FROM watch_events PARTITION (%s)",
	         table, name);
	return run_ddl("copying a partition", sql);
}

static int drop_part(const char *name)
{
	char sql[96];

	snprintf(sql, sizeof sql, "ALTER TABLE watch_events DROP PARTITION %s", name);
	return run_ddl("dropping a partition", sql);
}

/*
 * One old partition to its archive table: count the source; drop a copy
 * that does not match it; copy when there is none; check the copy against
 * the source again; name it in the views; only then drop the partition.
 */
static int archive_part(const char *name, long long *moved)
{
	char from[64], table[48];
	tally src, dst;
	int have;

	snprintf(from, sizeof from, "watch_events PARTITION (%s)", name);
	archive_name(name, table, sizeof table);
	if (tally_of(from, &src) != 0 || (have = table_exists(table)) < 0) {
		sp_error("partitions: cannot count %s; not archived", name);
		return -1;
	}
	if (src.rows == 0) {
		if (drop_part(name) != 0)
			return -1;
		sp_info("partitions: %s was empty; dropped without an archive table", name);
		return 0;
	}
	if (have && (have = drop_partial(table, &src)) < 0)
		return -1;
	if (!have && copy_part(name, table) != 0)
		return -1;
	if (tally_of(from, &src) != 0 || tally_of(table, &dst) != 0 || src.rows != dst.rows ||
	    strcmp(src.sum, dst.sum) != 0) {
		sp_error("partitions: the copy of %s in %s does not match it (%lld of %lld rows); "
		         "the partition is kept",
		         name, table, dst.rows, src.rows);
		return -1;
	}
	if (rebuild_views() != 0 || drop_part(name) != 0)
		return -1;
	sp_info("partitions: %s archived to %s (%lld rows, checked) and dropped", name, table,
	        src.rows);
	*moved += src.rows;
	return 0;
}

int job_partitions(int64_t now_ms)
{
	char cutoff[32];
	parts p = {NULL, 0};
	int added = 0, archived = 0, rc = 0, engine = archive_engine_ok();
	long long moved = 0;

	if (engine != 0) {
		if (engine > 0)
			sp_error("partitions: the ARCHIVE storage engine is not loaded; add "
			         "plugin_load_add = ha_archive to the MariaDB server configuration "
			         "and restart it; nothing done");
		else
			sp_error("partitions: MariaDB unavailable; nothing done");
		return 1;
	}
	sp_db_time(now_ms - (int64_t)sp_cfg.history_warm_days * 86400000, cutoff);
	if (load_parts(&p, cutoff) != 0) {
		free(p.v);
		return 1;
	}
	rc = ensure_ahead(&p, now_ms, &added);
	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		if (!p.v[i].old || strcmp(p.v[i].name, "pmax") == 0)
			continue;
		rc = archive_part(p.v[i].name, &moved);
		archived += rc == 0;
	}
	free(p.v);
	if (rc == 0 && archived == 0)
		rc = rebuild_views(); /* a rerun repairs views a stopped run left behind */
	sp_info(
	    "partitions: done: %d partitions added, %d old ones moved out (%lld rows archived), "
	    "warm_days %ld, "
	    "months_ahead %ld%s",
	    added, archived, moved, sp_cfg.history_warm_days, sp_cfg.history_months_ahead,
	    rc == 0 ? "" : "; stopped on an error");
	return rc == 0 ? 0 : 1;
}
