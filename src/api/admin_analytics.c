/*
 * Content analytics of the admin area, read from watch_daily_content (one
 * row per day and title, written by the job "aggregate"), never from raw
 * events: a range of at most 366 days, paged by (day, title).
 */
#include "admin_analytics.h"
#include "sp_app.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_valid.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define RANGE_DAYS_MAX 366
#define DEFAULT_DAYS   30

/* Unix seconds of midnight UTC of a checked "YYYY-MM-DD". */
static time_t day_start(const char *day)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	strptime(day, "%Y-%m-%d", &tm);
	return timegm(&tm);
}

static void day_text(time_t t, char out[11])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * Defaults: to is yesterday (UTC; today is never aggregated), from is 29
 * days before to (30 days), or before a given to.
 */
int analytics_parse(sp_req *r, void *in)
{
	struct analytics_in *q = in;
	int has_from, has_to;
	time_t now = time(NULL);

	has_from = sp_v_query_date(r, "from", q->from);
	has_to = sp_v_query_date(r, "to", q->to);
	sp_v_query_int(r, "page", 1, 1, 1000000, &q->page);
	sp_v_query_int(r, "limit", 20, 1, 100, &q->limit);
	if (has_from == SP_V_INVALID || has_to == SP_V_INVALID)
		return 0;
	if (has_to == SP_V_ABSENT)
		day_text(now - 86400, q->to);
	if (has_from == SP_V_ABSENT)
		day_text(day_start(q->to) - (DEFAULT_DAYS - 1) * 86400L, q->from);
	if (strcmp(q->from, q->to) > 0)
		sp_field_error_add(r, "from", "must not be after to");
	else if ((day_start(q->to) - day_start(q->from)) / 86400 + 1 > RANGE_DAYS_MAX)
		sp_field_error_add(r, "to", "must be at most 366 days from from (inclusive)");
	return 0;
}

enum analytics_col { AC_DAY, AC_ID, AC_TITLE, AC_VIEWS, AC_UNIQUE, AC_SECONDS, AC_DONE, AC_RATE };

static json_object *row_json(const sp_res *res, size_t i)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "date", sp_json_str_or_null(sp_res_str(res, i, AC_DAY)));
	json_object_object_add(o, "contentId", sp_json_str_or_null(sp_res_str(res, i, AC_ID)));
	json_object_object_add(o, "title", sp_json_str_or_null(sp_res_str(res, i, AC_TITLE)));
	json_object_object_add(o, "views", json_object_new_int64(sp_res_ll(res, i, AC_VIEWS, 0)));
	json_object_object_add(o, "uniqueViewers",
	                       json_object_new_int64(sp_res_ll(res, i, AC_UNIQUE, 0)));
	json_object_object_add(o, "watchSeconds",
	                       json_object_new_int64(sp_res_ll(res, i, AC_SECONDS, 0)));
	json_object_object_add(o, "completions",
	                       json_object_new_int64(sp_res_ll(res, i, AC_DONE, 0)));
	json_object_object_add(o, "completionRate", sp_json_money(sp_res_str(res, i, AC_RATE)));
	return o;
}

/* Both queries are ranges of the primary key (day, content_id). */
int admin_analytics_content(sp_req *r)
{
	const struct analytics_in *q = r->in;
	long long total;
	sp_res res;
	json_object *arr, *data;

	if (sp_db_query(&res, "SELECT COUNT(*) FROM watch_daily_content WHERE day BETWEEN ? AND ?",
	                "ss", q->from, q->to) != 0)
		return sp_unavailable(r);
	total = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (sp_db_query(&res,
	                "SELECT DATE_FORMAT(w.day, '%Y-%m-%d'), w.content_id, c.title, w.views, "
	                "w.unique_viewers, w.watch_seconds, w.completions, w.completion_rate FROM "
	                "watch_daily_content w LEFT JOIN content c ON c.id = w.content_id WHERE "
	                "w.day BETWEEN ? AND ? ORDER BY w.day, w.content_id LIMIT ? OFFSET ?",
	                "ssll", q->from, q->to, q->limit, (q->page - 1) * q->limit) != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, row_json(&res, i));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "from", json_object_new_string(q->from));
	json_object_object_add(data, "to", json_object_new_string(q->to));
	json_object_object_add(data, "rows", arr);
	sp_ok_page(r, data, json_object_array_length(arr), q->page, q->limit, total);
	return 0;
}
