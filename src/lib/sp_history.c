/*
 * Watch progress writes. The thresholds live here once, as SQL, inside the
 * one statement every writer uses, so the row's status and the answer's
 * status can never disagree.
 */
#include "sp_history.h"
#include "sp_db.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"started", "paused", "completed"};

/* The status of watched seconds w of t (t > 0). */
#define STATUS_OF(w, t)                                                                            \
	"CASE WHEN " w " * 100 >= " t " * 90 THEN 'completed' WHEN " w " * 100 < " t               \
	" * 5 THEN 'started' ELSE 'paused' END"

/*
 * The upsert. The values come from a one-row SELECT over the title, so a
 * missing total takes the title's length and a missing title writes
 * nothing. completed_at is assigned first, while status is still the old
 * one: it moves only when this write crosses into completed.
 */
static const char upsert_sql[] =
    "INSERT INTO watch_progress (user_id, content_id, watched_seconds, total_seconds, status, "
    "completed_at, device_id, session_id, quality, created_at, updated_at) "
    "SELECT v.uid, v.cid, v.w, v.t, " STATUS_OF("v.w", "v.t") ", IF(" STATUS_OF(
        "v.w", "v.t") " = 'completed', v.at, NULL), v.dev, v.sid, v.q, v.at, v.at "
                      "FROM (SELECT ? AS uid, c.id AS cid, LEAST(?, IF(? < 0, c.duration_min * 60, "
                      "?)) AS w, IF(? < 0, c.duration_min * 60, ?) AS t, ? AS dev, ? AS sid, "
                      "IF(? < 0, NULL, ?) AS q, CAST(? AS DATETIME(3)) AS at FROM content c "
                      "WHERE c.id = ?) v "
                      "WHERE v.t > 0 "
                      "ON DUPLICATE KEY UPDATE completed_at = IF(VALUES(status) = 'completed' "
                      "AND status <> 'completed', VALUES(updated_at), completed_at), "
                      "watched_seconds = VALUES(watched_seconds), total_seconds = "
                      "VALUES(total_seconds), status = VALUES(status), device_id = "
                      "COALESCE(VALUES(device_id), device_id), session_id = "
                      "COALESCE(VALUES(session_id), session_id), quality = "
                      "COALESCE(VALUES(quality), quality), updated_at = VALUES(updated_at) "
                      "RETURNING id, watched_seconds, total_seconds, status, completed_at";

enum { R_ID, R_WATCHED, R_TOTAL, R_STATUS, R_COMPLETED };

const char *sp_watch_status_name(enum sp_watch_status s)
{
	return status_names[s];
}

int sp_watch_status_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

int sp_watch_percent(long long watched, long long total)
{
	if (total <= 0 || watched <= 0)
		return 0;
	return watched >= total ? 100 : (int)(watched * 100 / total);
}

static int upsert(const sp_watch *w, const char *at, sp_progress *out)
{
	sp_res res;
	int st;

	if (sp_db_query(&res, upsert_sql, "llllllssiisl", w->user_id, w->watched, w->total,
	                w->total, w->total, w->total, w->device_id, w->session_id, w->quality,
	                w->quality, at, w->content_id) != 0)
		return -1;
	if (res.nrows != 1) {
		sp_res_free(&res);
		return 0;
	}
	out->id = sp_res_ll(&res, 0, R_ID, 0);
	out->watched = sp_res_ll(&res, 0, R_WATCHED, 0);
	out->total = sp_res_ll(&res, 0, R_TOTAL, 0);
	out->percent = sp_watch_percent(out->watched, out->total);
	st = sp_watch_status_parse(sp_res_str(&res, 0, R_STATUS));
	out->status = st < 0 ? SP_WATCH_PAUSED : (enum sp_watch_status)st;
	out->completed_ms = sp_res_str(&res, 0, R_COMPLETED)
	                        ? sp_parse_db_time(sp_res_str(&res, 0, R_COMPLETED))
	                        : 0;
	out->completed_now = out->status == SP_WATCH_COMPLETED && out->completed_ms == out->at_ms;
	sp_res_free(&res);
	return 1;
}

int sp_history_record(const sp_watch *w, sp_progress *out)
{
	char at[32];
	int rc;

	memset(out, 0, sizeof *out);
	out->at_ms = sp_now_ms();
	sp_db_time(out->at_ms, at);
	if ((rc = upsert(w, at, out)) != 1)
		return rc;
	/* the analytics record; the progress row above is the viewer's truth */
	if (sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, position_seconds, "
	               "created_at) VALUES (?, ?, ?, ?, ?)",
	               "llsls", w->user_id, w->content_id,
	               out->completed_now ? "complete" : w->event, out->watched, at) < 0)
		return -1;
	return 1;
}
