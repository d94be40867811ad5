/*
 * Watch progress writes: one upsert of the row and one watch event. The
 * thresholds are sp_watch_status_of() alone; the statement stores what it
 * decided.
 *
 * MariaDB hears of a (viewer, title) on every status change and otherwise
 * at most once per SP_HISTORY_EVERY_S seconds, the moments a sampled
 * watch event is due anyway. After each write the title's mark (its
 * status, row id and completion time, and the title's facts and the
 * viewer's level the write was checked with) lives in Redis for that
 * interval; a position reported while the mark lives, with the same
 * status, facts and level, waits in the viewer's buffer instead, held by
 * the gate's own round trip (SP_HISTORY_WP_LUA), and reaches
 * MariaDB when the viewer's history is next read, the title is next
 * written, or the worker's "progress" job runs (sp_history_flush).
 */
#include "sp_history.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
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
    "event_at IS NULL OR VALUES(updated_at) >= event_at + INTERVAL " SP_HISTORY_EVERY
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

/* ---------------------------------------------------------------- Redis side */

/*
 * After a write of the title's row: the viewer's cached answers dropped,
 * the title's mark set to the row (or, ARGV[4] "", removed: forgotten),
 * its buffered position dropped (the write is newer).
 * KEYS: generation, catalogue version, mark, buffer, dirty set.
 * ARGV: the three answers' names, mark, its life (ms), title, viewer.
 */
static sp_kv_script written_script = {
    "history_written",
    SP_CACHE_GEN_DROP_LUA "gen_drop(KEYS[1], KEYS[2], {ARGV[1], ARGV[2], ARGV[3]})\n"
                          "if ARGV[4] == '' then redis.call('DEL', KEYS[3])\n"
                          "else redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end\n"
                          "redis.call('HDEL', KEYS[4], ARGV[6])\n"
                          "if redis.call('HLEN', KEYS[4]) == 0 then\n"
                          "  redis.call('ZREM', KEYS[5], ARGV[7])\n"
                          "end\n"
                          "return 1\n",
    ""};

/*
 * After a flush: each buffered position written drops out, unless a newer
 * one replaced it meanwhile. KEYS: buffer, dirty set. ARGV: viewer, then
 * title, position pairs.
 */
static sp_kv_script settle_script = {
    "history_settle",
    "for i = 2, #ARGV, 2 do\n"
    "  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then\n"
    "    redis.call('HDEL', KEYS[1], ARGV[i])\n"
    "  end\n"
    "end\n"
    "if redis.call('HLEN', KEYS[1]) == 0 then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "end\n"
    "return 1\n",
    ""};

/* The viewer's three cached answers, as gen_drop takes them. */
typedef struct answer_names {
	char cw[SP_KEY_MAX], recent[SP_KEY_MAX], stats[SP_KEY_MAX];
} answer_names;

static void fill_answer_names(answer_names *a, long long uid)
{
	char k[SP_KEY_MAX];

	sp_key_history(k, sizeof k, uid, SP_HISTORY_CW);
	sp_cache_gen_name(k, a->cw, sizeof a->cw);
	sp_key_history(k, sizeof k, uid, SP_HISTORY_RECENT);
	sp_cache_gen_name(k, a->recent, sizeof a->recent);
	sp_key_history(k, sizeof k, uid, SP_HISTORY_STATS);
	sp_cache_gen_name(k, a->stats, sizeof a->stats);
}

/*
 * After a write (p) or a delete (p NULL) of the title's row. The mark is
 * set only for a write checked by the viewer's own report (w->checked),
 * living SP_HISTORY_EVERY_S or until w->checked_until_ms.
 */
static void written(long long uid, long long cid, const sp_progress *p, const sp_watch *w)
{
	char gen[SP_KEY_MAX], ver[SP_KEY_MAX], mark[SP_KEY_MAX], buf[SP_KEY_MAX], dirty[SP_KEY_MAX];
	char state[SP_STEP_ARG_MAX] = "", every[24], title[24], viewer[24];
	long long life = SP_HISTORY_EVERY_S * 1000LL;
	const char *keys[5] = {gen, ver, mark, buf, dirty};
	answer_names a;
	const char *args[7] = {a.cw, a.recent, a.stats, state, every, title, viewer};

	sp_key_history_gen(gen, sizeof gen, uid);
	sp_key_group_version(ver, sizeof ver, SP_GROUP_CATALOG);
	sp_key_progress_mark(mark, sizeof mark, uid, cid);
	sp_key_progress_buffer(buf, sizeof buf, uid);
	sp_key_progress_dirty(dirty, sizeof dirty);
	fill_answer_names(&a, uid);
	if (p && w && w->checked && w->checked_until_ms > 0 &&
	    w->checked_until_ms - p->at_ms < life)
		life = w->checked_until_ms - p->at_ms;
	if (p && w && w->checked && life > 0)
		snprintf(state, sizeof state, "%s\n%lld\n%lld\n%s", status_names[p->status], p->id,
		         (long long)p->completed_ms, w->checked);
	snprintf(every, sizeof every, "%lld", life);
	snprintf(title, sizeof title, "%lld", cid);
	snprintf(viewer, sizeof viewer, "%lld", uid);
	/*
	 * Best effort: if Redis cannot be reached now but kept its data, the
	 * answers may be served up to their TTL (ANSWER_TTL in history.c) late.
	 */
	sp_kv_free(sp_kv_run(&written_script, 5, keys, 7, args));
}

/* ---------------------------------------------------------------- writes */

/* What a report makes of the title (everything but the row's id and completion). */
static int assess(const sp_watch *w, sp_progress *out)
{
	memset(out, 0, sizeof *out);
	if (w->total <= 0)
		return -1;
	out->at_ms = sp_now_ms();
	out->total = w->total;
	out->watched = w->watched < 0 ? 0 : w->watched > w->total ? w->total : w->watched;
	out->percent = sp_watch_percent(out->watched, out->total);
	out->status = sp_watch_status_of(out->watched, out->total);
	return 0;
}

int sp_history_record(const sp_watch *w, sp_progress *out)
{
	char at[32];
	int rc;

	if (assess(w, out) != 0)
		return 0;
	sp_db_time(out->at_ms, at);
	if ((rc = upsert(w, at, out)) != 1)
		return rc;
	written(w->user_id, w->content_id, out, w);
	/* the analytics record (sampled); the progress row above is the viewer's truth */
	if ((out->event_due || w->always_event) &&
	    sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, position_seconds, "
	               "created_at) VALUES (?, ?, ?, ?, ?)",
	               "llsls", w->user_id, w->content_id,
	               out->completed_now ? "complete" : w->event, out->watched, at) < 0)
		return -1;
	return 1;
}

/* A buffered position: "watched|total|status|at ms|quality|session|device" (device last: any text).
 */
static void buffer_value(const sp_watch *w, const sp_progress *p, char *out, size_t n)
{
	snprintf(out, n, "%lld|%lld|%s|%lld|%d|%s|%s", p->watched, p->total,
	         status_names[p->status], (long long)p->at_ms, w->quality,
	         w->session_id ? w->session_id : "", w->device_id ? w->device_id : "");
}

void sp_history_step(const sp_watch *w, sp_step *s)
{
	sp_progress p;
	answer_names a;

	assess(w, &p);
	s->kind = SP_STEP_PROGRESS;
	s->nkeys = 6;
	s->nargs = 9;
	sp_key_progress_mark(s->keys[0], sizeof s->keys[0], w->user_id, w->content_id);
	sp_key_progress_buffer(s->keys[1], sizeof s->keys[1], w->user_id);
	sp_key_progress_dirty(s->keys[2], sizeof s->keys[2]);
	sp_key_history_gen(s->keys[3], sizeof s->keys[3], w->user_id);
	sp_key_group_version(s->keys[4], sizeof s->keys[4], SP_GROUP_CATALOG);
	if (w->session_id)
		sp_key_stream_session(s->keys[5], sizeof s->keys[5], w->session_id);
	else
		snprintf(s->keys[5], sizeof s->keys[5], "%s", s->keys[0]); /* not read */
	snprintf(s->args[0], sizeof s->args[0], "%lld", w->content_id);
	snprintf(s->args[1], sizeof s->args[1], "%lld", w->user_id);
	snprintf(s->args[2], sizeof s->args[2], "%s", status_names[p.status]);
	buffer_value(w, &p, s->args[3], sizeof s->args[3]);
	snprintf(s->args[4], sizeof s->args[4], "%lld", (long long)p.at_ms);
	snprintf(s->args[5], sizeof s->args[5], "%d", w->session_id != NULL);
	fill_answer_names(&a, w->user_id);
	snprintf(s->args[6], sizeof s->args[6], "%s", a.cw);
	snprintf(s->args[7], sizeof s->args[7], "%s", a.recent);
	snprintf(s->args[8], sizeof s->args[8], "%s", a.stats);
}

int sp_history_held(const char *status, const char *value, const sp_watch *w, sp_progress *out)
{
	char *p;

	if (strcmp(status, "HELD") != 0 || assess(w, out) != 0)
		return 0;
	out->id = strtoll(value, &p, 10);
	if (out->id <= 0 || *p != '|')
		return 0;
	out->completed_ms = strtoll(p + 1, NULL, 10);
	sp_metrics_inc("sp_history_held_total");
	return 1;
}

int sp_history_forget(long long uid, long long cid)
{
	long long n = sp_db_exec("DELETE FROM watch_progress WHERE user_id = ? AND content_id = ?",
	                         "ll", uid, cid);

	if (n > 0)
		written(uid, cid, NULL, NULL);
	return n < 0 ? -1 : n > 0;
}

/* ---------------------------------------------------------------- flush */

/*
 * One buffered position (buffer_value) into its row, unless the row moved on
 * since: another status, or a write reported after it. A report held in the
 * same millisecond as the write before it is still newer (it arrived after
 * that write's answer), so equal times count as not moved on.
 */
static int flush_one(long long uid, long long cid, const char *value)
{
	char status[16] = "", *p;
	long long watched, total, at;
	int quality;
	const char *session, *device;
	char when[32], sid[40];

	watched = strtoll(value, &p, 10);
	total = *p == '|' ? strtoll(p + 1, &p, 10) : -1;
	if (*p != '|' || sscanf(p + 1, "%15[a-z]", status) != 1 || (p = strchr(p + 1, '|')) == NULL)
		return 0;
	at = strtoll(p + 1, &p, 10);
	quality = *p == '|' ? (int)strtol(p + 1, &p, 10) : -1;
	if (*p != '|' || total <= 0 || at <= 0)
		return 0; /* not a buffered position: dropped by the settle */
	session = p + 1;
	if ((device = strchr(session, '|')) == NULL || (size_t)(device - session) >= sizeof sid)
		return 0;
	snprintf(sid, sizeof sid, "%.*s", (int)(device - session), session);
	device++;
	sp_db_time(at, when);
	return sp_db_exec(
	           "UPDATE watch_progress SET watched_seconds = ?, total_seconds = ?, "
	           "device_id = COALESCE(?, device_id), session_id = COALESCE(?, session_id), "
	           "quality = COALESCE(IF(? < 0, NULL, ?), quality), updated_at = ? WHERE "
	           "user_id = ? AND content_id = ? AND status = ? AND updated_at <= ?",
	           "llssiisllss", watched, total, *device ? device : NULL, sid[0] ? sid : NULL,
	           quality, quality, when, uid, cid, status, when) < 0
	           ? -1
	           : 0;
}

int sp_history_flush(long long uid)
{
	char buf[SP_KEY_MAX], dirty[SP_KEY_MAX], viewer[24];
	const char *keys[2] = {buf, dirty};
	const char **args;
	sp_kv_result *all;
	size_t n, nargs = 1;
	int rc = 0;

	sp_key_progress_buffer(buf, sizeof buf, uid);
	sp_key_progress_dirty(dirty, sizeof dirty);
	if ((all = sp_kv_hgetall(buf)) == NULL || sp_kv_failed(all)) {
		sp_kv_free(all);
		return 0; /* Redis away: nothing can be buffered either */
	}
	n = sp_kv_count(all) / 2;
	args = sp_xcalloc(2 * n + 1, sizeof *args);
	snprintf(viewer, sizeof viewer, "%lld", uid);
	args[0] = viewer;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *title = sp_kv_str_at(all, 2 * i, NULL);
		const char *value = sp_kv_str_at(all, 2 * i + 1, NULL);

		if (title == NULL || value == NULL)
			continue;
		if ((rc = flush_one(uid, strtoll(title, NULL, 10), value)) == 0) {
			args[nargs++] = title;
			args[nargs++] = value;
		}
	}
	sp_kv_free(sp_kv_run(&settle_script, 2, keys, (int)nargs, args));
	free(args);
	sp_kv_free(all);
	return rc;
}
