/*
 * Watch progress writes: one upsert of the row and one watch event. The
 * thresholds are sp_watch_status_of() alone; the statement stores what it
 * decided.
 */
#include "sp_history.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"started", "paused", "completed"};

/*
 * The upsert. completed_at and event_at are assigned first, while status
 * is still the old one: completed_at moves only when this write crosses
 * into completed (a rewatch keeps the earlier date until it is finished
 * again); event_at moves when the status changes or a minute has passed
 * since the last event, and only then is an event appended.
 */
static const char upsert_sql[] =
    "INSERT INTO watch_progress (user_id, content_id, watched_seconds, total_seconds, status, "
    "completed_at, event_at, device_id, session_id, quality, created_at, updated_at) VALUES (?, "
    "?, ?, ?, ?, IF(? = 'completed', ?, NULL), ?, ?, ?, IF(? < 0, NULL, ?), ?, ?) "
    "ON DUPLICATE KEY UPDATE completed_at = IF(VALUES(status) = 'completed' AND status <> "
    "'completed', VALUES(updated_at), completed_at), event_at = IF(VALUES(status) <> status OR "
    "event_at IS NULL OR VALUES(updated_at) >= event_at + INTERVAL " SP_HISTORY_EVENT_EVERY
    " SECOND, VALUES(updated_at), event_at), watched_seconds = VALUES(watched_seconds), "
    "total_seconds = VALUES(total_seconds), status = VALUES(status), device_id = "
    "COALESCE(VALUES(device_id), device_id), session_id = COALESCE(VALUES(session_id), "
    "session_id), quality = COALESCE(VALUES(quality), quality), updated_at = VALUES(updated_at) "
    "RETURNING id, completed_at, event_at";

enum sp_watch_status sp_watch_status_of(long long watched, long long total)
{
	if (watched * 100 >= total * 90)
		return SP_WATCH_COMPLETED;
	return watched * 100 < total * 5 ? SP_WATCH_STARTED : SP_WATCH_PAUSED;
}

const char *sp_watch_status_name(enum sp_watch_status s)
{
	return status_names[s];
}

int sp_watch_percent(long long watched, long long total)
{
	if (total <= 0 || watched <= 0)
		return 0;
	return watched >= total ? 100 : (int)(watched * 100 / total);
}

static int upsert(const sp_watch *w, const char *at, sp_progress *out)
{
	const char *status = status_names[out->status];
	sp_res res;

	if (sp_db_query(&res, upsert_sql,
	                "lllls"
	                "ss"
	                "s"
	                "ss"
	                "ii"
	                "ss",
	                w->user_id, w->content_id, out->watched, out->total, status, status, at, at,
	                w->device_id, w->session_id, w->quality, w->quality, at, at) != 0)
		/* the title went away between its check and this write */
		return sp_db_errno() == SP_ER_NO_REFERENCED_ROW ? 0 : -1;
	if (res.nrows != 1) {
		sp_res_free(&res);
		return -1;
	}
	out->id = sp_res_ll(&res, 0, 0, 0);
	out->completed_ms = sp_res_str(&res, 0, 1) ? sp_parse_db_time(sp_res_str(&res, 0, 1)) : 0;
	out->completed_now = out->status == SP_WATCH_COMPLETED && out->completed_ms == out->at_ms;
	out->event_due =
	    sp_res_str(&res, 0, 2) && sp_parse_db_time(sp_res_str(&res, 0, 2)) == out->at_ms;
	sp_res_free(&res);
	return 1;
}

void sp_history_changed(long long uid)
{
	char gen[SP_KEY_MAX], cw[SP_KEY_MAX], recent[SP_KEY_MAX], stats[SP_KEY_MAX];
	const char *keys[3] = {cw, recent, stats};

	sp_key_history_gen(gen, sizeof gen, uid);
	sp_key_history(cw, sizeof cw, uid, SP_HISTORY_CW);
	sp_key_history(recent, sizeof recent, uid, SP_HISTORY_RECENT);
	sp_key_history(stats, sizeof stats, uid, SP_HISTORY_STATS);
	/*
	 * Best effort: if Redis cannot be reached now but kept its data, the
	 * answers may be served up to their TTL (ANSWER_TTL in history.c) late.
	 */
	sp_cache_gen_drop(gen, SP_GROUP_CATALOG, keys, 3);
}

int sp_history_record(const sp_watch *w, sp_progress *out)
{
	char at[32];
	int rc;

	memset(out, 0, sizeof *out);
	if (w->total <= 0)
		return 0;
	out->at_ms = sp_now_ms();
	out->total = w->total;
	out->watched = w->watched < 0 ? 0 : w->watched > w->total ? w->total : w->watched;
	out->percent = sp_watch_percent(out->watched, out->total);
	out->status = sp_watch_status_of(out->watched, out->total);
	sp_db_time(out->at_ms, at);
	if ((rc = upsert(w, at, out)) != 1)
		return rc;
	sp_history_changed(w->user_id);
	/* the analytics record (sampled); the progress row above is the viewer's truth */
	if ((out->event_due || w->always_event) &&
	    sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, position_seconds, "
	               "created_at) VALUES (?, ?, ?, ?, ?)",
	               "llsls", w->user_id, w->content_id,
	               out->completed_now ? "complete" : w->event, out->watched, at) < 0)
		return -1;
	return 1;
}
