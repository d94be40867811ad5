/*
 * Job "aggregate": recomputes the daily watch aggregates of the UTC day
 * before now, and of any of the seven days before that which
 * watch_aggregate_days does not list yet (a job that did not run catches
 * up). Today is never aggregated: it is not over, and trending counts
 * today's raw events itself.
 *
 * A day is recomputed whole in one transaction (delete its rows, insert the
 * new ones, record the day in watch_aggregate_days), so a rerun gives the
 * same rows and a failed run leaves the day as it was. Definitions, over
 * the events of day D (start, progress, complete, stop):
 *
 *   views           'start' events of the title on D;
 *   unique_viewers  distinct users with any event of the title on D;
 *   watch_seconds   per event, LEAST(GREATEST(position - previous position,
 *                   0), whole seconds since the previous event), where the
 *                   previous event is the one before it of the same user and
 *                   title by (created_at, id), looking back into D - 1; a
 *                   'start' (and a first event) adds 0;
 *   completions     'complete' events on D; completion_rate =
 *                   LEAST(1, completions / unique_viewers), 4 decimals;
 *   per user        watch_seconds (same rule), distinct titles, completions.
 *
 * Every statement reads created_at by range (D - 1 00:00 to D + 1 00:00),
 * so partition pruning reads one or two monthly partitions.
 */
#include "worker.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CATCH_UP_DAYS 7

/*
 * The events of [?, ?) (D - 1 to D + 1) with the watched seconds each adds
 * (w), and on_d = 1 for those of D (created_at >= ?).
 */
#define EVENTS_W                                                                                   \
	"SELECT user_id, content_id, event, on_d, CASE WHEN event = 'start' OR prev_at IS "        \
	"NULL THEN 0 ELSE LEAST(GREATEST(pos - prev_pos, 0), TIMESTAMPDIFF(SECOND, prev_at, "      \
	"created_at)) END AS w FROM (SELECT user_id, content_id, event, created_at, "              \
	"CAST(position_seconds AS SIGNED) AS pos, created_at >= ? AS on_d, "                       \
	"LAG(CAST(position_seconds AS SIGNED)) OVER (PARTITION BY user_id, content_id ORDER BY "   \
	"created_at, id) AS prev_pos, LAG(created_at) OVER (PARTITION BY user_id, content_id "     \
	"ORDER BY created_at, id) AS prev_at FROM watch_events WHERE created_at >= ? AND "         \
	"created_at < ?) x"

static const char *const SQL_CONTENT =
    "INSERT INTO watch_daily_content (day, content_id, views, unique_viewers, watch_seconds, "
    "completions, completion_rate) SELECT ?, content_id, SUM(event = 'start'), COUNT(DISTINCT "
    "user_id), SUM(w), SUM(event = 'complete'), ROUND(LEAST(1, SUM(event = 'complete') / "
    "COUNT(DISTINCT user_id)), 4) FROM (" EVENTS_W ") e WHERE on_d = 1 GROUP BY content_id";

static const char *const SQL_USERS =
    "INSERT INTO watch_daily_users (day, user_id, watch_seconds, titles, completions) SELECT "
    "?, user_id, SUM(w), COUNT(DISTINCT content_id), SUM(event = 'complete') FROM (" EVENTS_W
    ") e WHERE on_d = 1 GROUP BY user_id";

/* "YYYY-MM-DD" of the UTC day `back` days before the day of now_ms. */
static void day_text(int64_t now_ms, int back, char out[16])
{
	time_t t = (time_t)(now_ms / 1000) - (time_t)back * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/* Recomputes one day in one transaction; the events counted, or -1. */
static long long aggregate_day(const char *prev, const char *day, const char *next,
                               const char *stamp)
{
	sp_res res;
	long long events = -1;

	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_exec("DELETE FROM watch_daily_content WHERE day = ?", "s", day) < 0 ||
	    sp_db_exec("DELETE FROM watch_daily_users WHERE day = ?", "s", day) < 0 ||
	    sp_db_exec(SQL_CONTENT, "ssss", day, day, prev, next) < 0 ||
	    sp_db_exec(SQL_USERS, "ssss", day, day, prev, next) < 0 ||
	    sp_db_exec("INSERT INTO watch_aggregate_days (day, events, computed_at) SELECT ?, "
	               "COUNT(*), ? FROM watch_events WHERE created_at >= ? AND created_at < ? "
	               "ON DUPLICATE KEY UPDATE events = VALUES(events), "
	               "computed_at = VALUES(computed_at)",
	               "ssss", day, stamp, day, next) < 0 ||
	    sp_db_query(&res, "SELECT events FROM watch_aggregate_days WHERE day = ?", "s", day) !=
	        0) {
		sp_db_rollback();
		return -1;
	}
	events = sp_res_ll(&res, 0, 0, -1);
	sp_res_free(&res);
	if (sp_db_commit() != 0)
		return -1;
	return events;
}

/* Which of the CATCH_UP_DAYS days before yesterday are aggregated already (bit per day). */
static int done_days(int64_t now_ms, unsigned *done)
{
	char from[16], to[16];
	sp_res res;

	day_text(now_ms, CATCH_UP_DAYS + 1, from);
	day_text(now_ms, 1, to);
	*done = 0;
	if (sp_db_query(&res,
	                "SELECT DATEDIFF(?, day) FROM watch_aggregate_days WHERE day >= ? AND "
	                "day < ?",
	                "sss", to, from, to) != 0)
		return -1;
	for (size_t i = 0; i < res.nrows; i++) {
		long long back = sp_res_ll(&res, i, 0, 0); /* 1 = the day before yesterday */
		if (back >= 1 && back <= CATCH_UP_DAYS)
			*done |= 1u << back;
	}
	sp_res_free(&res);
	return 0;
}

int job_aggregate(int64_t now_ms)
{
	char stamp[32], prev[16], day[16], next[16];
	unsigned done;
	int days = 0, failed = 0;

	if (done_days(now_ms, &done) != 0) {
		sp_error("aggregate: MariaDB unavailable; nothing done");
		return 1;
	}
	sp_db_time(now_ms, stamp);
	/* yesterday (back 1) always; the CATCH_UP_DAYS before it when missing */
	for (int back = 1; back <= CATCH_UP_DAYS + 1; back++) {
		long long events;
		if (back > 1 && (done & (1u << (back - 1))))
			continue;
		day_text(now_ms, back + 1, prev);
		day_text(now_ms, back, day);
		day_text(now_ms, back - 1, next);
		events = aggregate_day(prev, day, next, stamp);
		if (events < 0) {
			sp_error("aggregate: day %s could not be recomputed; left as it was", day);
			failed++;
			continue;
		}
		days++;
		sp_info("aggregate: day %s recomputed from %lld events%s", day, events,
		        back > 1 ? " (catching up)" : "");
	}
	sp_info("aggregate: done: %d days recomputed, %d failed", days, failed);
	return failed ? 1 : 0;
}
