/*
 * The watch-history area: where the caller is in each title (PUT
 * progress), what to continue, what was watched lately, totals, and
 * forgetting a title. Every query is the caller's own rows: a user only
 * ever sees their own history. Playback feeds the same rows (stream.c).
 */
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_history.h"
#include "sp_json.h"
#include "sp_keys.h"
#include "sp_tier.h"
#include "sp_title.h"
#include "sp_util.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A position report: the title (path) and where the viewer is (body). */
struct progress_in {
	long long content_id;
	long long watched, total;
	char session_id[33], device_id[129];
	int quality; /* -1: not given */
};

/* A page size (continue-watching, recent). */
struct limit_in {
	long long limit;
};

/* A title named in the path. */
struct title_in {
	long long content_id;
};

static int put_progress(sp_req *r);
static int progress_step(sp_req *r, long long uid, sp_step *s);
static int continue_watching(sp_req *r);
static int recent(sp_req *r);
static int stats(sp_req *r);
static int forget(sp_req *r);
static int parse_progress(sp_req *r, void *in);
static int parse_continue_limit(sp_req *r, void *in);
static int parse_recent_limit(sp_req *r, void *in);
static int parse_title(sp_req *r, void *in);
static int title_key(sp_req *r, long long uid, char *key, size_t n);
static int cw_key(sp_req *r, long long uid, char *key, size_t n);
static int recent_key(sp_req *r, long long uid, char *key, size_t n);
static int stats_key(sp_req *r, long long uid, char *key, size_t n);

static const sp_route routes[] = {
    /* the title's facts come with the gate's round trip, which may also hold the position */
    {"PUT", "/watch-history/:contentId/progress", put_progress, SP_AUTH_REQUIRED, 0, title_key,
     progress_step, SP_INPUT(parse_progress, struct progress_in)},
    /* the reads come from the viewer's cached answers, fetched in the gate's round trip */
    {"GET", "/watch-history/continue-watching", continue_watching, SP_AUTH_REQUIRED, SP_NO_BODY,
     cw_key, NULL, SP_INPUT(parse_continue_limit, struct limit_in)},
    {"GET", "/watch-history/recent", recent, SP_AUTH_REQUIRED, SP_NO_BODY, recent_key, NULL,
     SP_INPUT(parse_recent_limit, struct limit_in)},
    {"GET", "/watch-history/stats", stats, SP_AUTH_REQUIRED, SP_NO_BODY, stats_key, NULL,
     SP_NO_INPUT},
    {"DELETE", "/watch-history/:contentId", forget, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_INPUT(parse_title, struct title_in)},
};

/* ---------------------------------------------------------------- input */

static int parse_progress(sp_req *r, void *in)
{
	struct progress_in *q = in;
	int w, t;

	sp_v_path_id(r, "contentId", "Content not found", &q->content_id);
	w = sp_v_int(r, r->json, "watchedDuration", 1, 0, 10000000, &q->watched);
	t = sp_v_int(r, r->json, "totalDuration", 1, 1, 10000000, &q->total);
	if (SP_V_GIVEN(w) && SP_V_GIVEN(t) && q->watched > q->total)
		sp_field_error_add(r, "watchedDuration", "must not exceed totalDuration");
	if (SP_V_GIVEN(sp_v_text(r, r->json, "sessionId", 0, 1, 32, q->session_id,
	                         sizeof q->session_id)) &&
	    !sp_valid_session_id(q->session_id))
		sp_field_error_add(r, "sessionId", "must be a session id");
	sp_v_text(r, r->json, "deviceId", 0, 1, 128, q->device_id, sizeof q->device_id);
	q->quality = -1;
	sp_v_enum(r, r->json, "quality", 0, sp_resolution_parse,
	          "must be one of 480p, 720p, 1080p, 4K", &q->quality);
	return 0;
}

static int parse_continue_limit(sp_req *r, void *in)
{
	struct limit_in *q = in;

	sp_v_query_int(r, "limit", 10, 1, 20, &q->limit);
	return 0;
}

static int parse_recent_limit(sp_req *r, void *in)
{
	struct limit_in *q = in;

	sp_v_query_int(r, "limit", 20, 1, 50, &q->limit);
	return 0;
}

static int parse_title(sp_req *r, void *in)
{
	struct title_in *q = in;

	sp_v_path_id(r, "contentId", "Content not found", &q->content_id);
	return 0;
}

static int title_key(sp_req *r, long long uid, char *key, size_t n)
{
	const struct progress_in *q = r->in;

	(void)uid;
	sp_title_key(q->content_id, key, n);
	return 0;
}

/* ---------------------------------------------------------------- progress */

/* 0 when sid names one of the caller's sessions (or none was given); else answered. */
static int check_session(sp_req *r, const char *sid)
{
	sp_res res;
	size_t n;

	if (sid[0] == '\0')
		return 0;
	if (sp_db_query(&res, "SELECT 1 FROM stream_sessions WHERE id = ? AND user_id = ?", "sl",
	                sid, r->user_id) != 0)
		return sp_unavailable(r);
	n = res.nrows;
	sp_res_free(&res);
	return n == 1 ? 0 : sp_fail(r, 404, "NOT_FOUND", "No such session");
}

static json_object *progress_json(const struct progress_in *q, const sp_progress *p)
{
	json_object *o = json_object_new_object();
	char id[24], cid[24];

	snprintf(id, sizeof id, "%lld", p->id);
	snprintf(cid, sizeof cid, "%lld", q->content_id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "contentId", json_object_new_string(cid));
	json_object_object_add(o, "watchedDuration", json_object_new_int64(p->watched));
	json_object_object_add(o, "totalDuration", json_object_new_int64(p->total));
	json_object_object_add(o, "progress", json_object_new_int(p->percent));
	json_object_object_add(o, "status",
	                       json_object_new_string(sp_watch_status_name(p->status)));
	json_object_object_add(o, "completedAt",
	                       p->completed_ms ? sp_json_time(p->completed_ms) : NULL);
	json_object_object_add(o, "lastWatchedAt", sp_json_time(p->at_ms));
	return o;
}

/* The report as sp_history takes it. */
static void watch_of(const sp_req *r, long long uid, sp_watch *w)
{
	const struct progress_in *q = r->in;

	memset(w, 0, sizeof *w);
	w->user_id = uid;
	w->content_id = q->content_id;
	w->watched = q->watched;
	w->total = q->total;
	w->session_id = q->session_id[0] ? q->session_id : NULL;
	w->device_id = q->device_id[0] ? q->device_id : NULL;
	w->quality = q->quality;
	w->event = "progress";
}

static int progress_step(sp_req *r, long long uid, sp_step *s)
{
	sp_watch w;

	watch_of(r, uid, &w);
	sp_history_step(&w, s);
	return 0;
}

/* What the write was checked with, as the gate reads it: the title's facts and the level. */
static void checked_with(const sp_title *t, const sp_level *l, char *out, size_t n)
{
	char facts[48], level[SP_LEVEL_TEXT_MAX];

	sp_title_text(t, facts, sizeof facts);
	sp_level_encode(l, level, sizeof level);
	snprintf(out, n, "%s\n%s", facts, level);
}

static int put_progress(sp_req *r)
{
	const struct progress_in *q = r->in;
	char checked[48 + SP_LEVEL_TEXT_MAX];
	sp_title t;
	sp_level l;
	sp_progress p;
	sp_watch w;
	json_object *data;

	watch_of(r, r->user_id, &w);
	/* held by the gate's step: every check below passed for this title and level lately */
	if (!r->step_done || !sp_history_held(r->step_status, r->step_text, &w, &p)) {
		if (sp_title_admit(r, q->content_id, &t, &l) != 0 ||
		    check_session(r, q->session_id) != 0)
			return -1;
		checked_with(&t, &l, checked, sizeof checked);
		w.checked = checked;
		w.checked_until_ms = l.sub_id ? l.end_ms : 0;
		switch (sp_history_record(&w, &p)) {
		case -1:
			return sp_unavailable(r);
		case 0:
			return sp_fail(r, 404, "NOT_FOUND", "Content not found");
		}
	}
	data = json_object_new_object();
	json_object_object_add(data, "watchHistory", progress_json(q, &p));
	sp_ok(r, 200, "Progress saved", data);
	return 0;
}

/* ---------------------------------------------------------------- cached answers */

/*
 * Each read answer is cached per viewer (sp_key_history) as "<level>|<json>",
 * level -1 when the answer does not depend on it (a list's number also
 * carries the parental age cap, list_scope): the longest page a list
 * can ask for (slices serve smaller limits) and the stats. The gate brings
 * it in its round trip. Every write of the viewer's history drops them
 * (sp_history: a generation bump), a content write too (they belong to the
 * catalogue group), and a changed level misses. A miss first moves the
 * viewer's buffered positions to MariaDB (sp_history_flush).
 */
#define ANSWER_TTL 300

static int cw_key(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	sp_key_history(key, n, uid, SP_HISTORY_CW);
	return 0;
}

static int recent_key(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	sp_key_history(key, n, uid, SP_HISTORY_RECENT);
	return 0;
}

static int stats_key(sp_req *r, long long uid, char *key, size_t n)
{
	(void)r;
	sp_key_history(key, n, uid, SP_HISTORY_STATS);
	return 0;
}

/*
 * The prefetched answer when it was built for level: what follows
 * "<level>|", else NULL (a miss; counted either way).
 */
static const char *cached(sp_req *r, int level)
{
	const char *v = NULL;
	char *rest = NULL;

	if (r->prefetched && strtol(r->prefetched, &rest, 10) == level && rest && *rest == '|')
		v = rest + 1;
	sp_metrics_cache_lookup("history", v != NULL);
	return v;
}

/* Stores "<level>|<text>" as the viewer's answer, unless a write came since gen was read. */
static void store(long long uid, const char *answer, const char *gen, int level, const char *text)
{
	char key[SP_KEY_MAX], genkey[SP_KEY_MAX];
	char *val = sp_xasprintf("%d|%s", level, text);

	sp_key_history(key, sizeof key, uid, answer);
	sp_key_history_gen(genkey, sizeof genkey, uid);
	sp_cache_gen_put(SP_GROUP_CATALOG, genkey, gen, key, val, ANSWER_TTL);
	free(val);
}

/*
 * Before reading MariaDB: the viewer's generation ("" when Redis is away:
 * store nothing), then the buffered positions written. -1 MariaDB failed.
 */
static int before_read(long long uid, char *gen, size_t n)
{
	char genkey[SP_KEY_MAX];

	sp_key_history_gen(genkey, sizeof genkey, uid);
	if (sp_cache_gen_read(genkey, gen, n) != 0)
		gen[0] = '\0';
	return sp_history_flush(uid);
}

/* ---------------------------------------------------------------- lists */

/* The columns of a history item, in the order item_json reads them. */
#define ITEM_COLS                                                                                  \
	"wp.id, wp.watched_seconds, wp.total_seconds, wp.status, wp.completed_at, wp.updated_at, " \
	"c.id, c.title, c.thumbnail_url, c.type, c.duration_min"
enum item_col {
	IC_ID,
	IC_WATCHED,
	IC_TOTAL,
	IC_STATUS,
	IC_COMPLETED,
	IC_UPDATED,
	IC_CID,
	IC_TITLE,
	IC_THUMB,
	IC_TYPE,
	IC_DURATION
};

static json_object *item_json(const sp_res *res, size_t i)
{
	json_object *o = json_object_new_object(), *c = json_object_new_object();
	long long watched = sp_res_ll(res, i, IC_WATCHED, 0),
	          total = sp_res_ll(res, i, IC_TOTAL, 0);

#define STR(col) sp_json_str_or_null(sp_res_str(res, i, col))
	json_object_object_add(c, "id", STR(IC_CID));
	json_object_object_add(c, "title", STR(IC_TITLE));
	json_object_object_add(c, "thumbnailUrl", STR(IC_THUMB));
	json_object_object_add(c, "type", STR(IC_TYPE));
	json_object_object_add(c, "duration",
	                       json_object_new_int((int)sp_res_ll(res, i, IC_DURATION, 0)));
	json_object_object_add(o, "id", STR(IC_ID));
	json_object_object_add(o, "contentId", STR(IC_CID));
	json_object_object_add(o, "content", c);
	json_object_object_add(o, "watchedDuration", json_object_new_int64(watched));
	json_object_object_add(o, "totalDuration", json_object_new_int64(total));
	json_object_object_add(o, "progress",
	                       json_object_new_int(sp_watch_percent(watched, total)));
	json_object_object_add(o, "status", STR(IC_STATUS));
	json_object_object_add(o, "completedAt", sp_json_dbtime(sp_res_str(res, i, IC_COMPLETED)));
	json_object_object_add(o, "lastWatchedAt", sp_json_dbtime(sp_res_str(res, i, IC_UPDATED)));
#undef STR
	return o;
}

/*
 * What a list's cached answer was built for: the level (-1 when it does
 * not matter) and, with parental controls, the age cap, as one number
 * ("<number>|" heads the answer): the level alone without a cap, so the
 * answers of accounts without controls keep their shape.
 */
static int list_scope(int level, const sp_level *l)
{
	return l->age_cap == SP_AGE_NONE ? level : 1000 + (level + 1) * 100 + l->age_cap;
}

/*
 * The list from MariaDB, the longest page it may be asked for: titles
 * started or paused that the level still plays (level >= 0), or everything
 * watched lately (level -1); never a title above the age cap (age, 18
 * without one); NULL when MariaDB is down. Rendered once as
 * "<end of item 1>,<end of item 2>,...|<item 1>,<item 2>,...", so that a
 * page of any limit is a prefix of the items, served without parsing.
 */
static char *load_list(long long uid, int level, int age)
{
	sp_buf ends, items;
	sp_res res;
	char *out;
	int rc =
	    level >= 0
	        ? sp_db_query(&res,
	                      "SELECT " ITEM_COLS " FROM watch_progress wp JOIN content c ON "
	                      "c.id = wp.content_id WHERE wp.user_id = ? AND wp.status <> "
	                      "'completed' AND c.is_active = 1 AND c.access_level <= ? AND "
	                      "c.min_age <= ? ORDER BY wp.updated_at DESC, wp.id DESC LIMIT 20",
	                      "lii", uid, level, age)
	        : sp_db_query(&res,
	                      "SELECT " ITEM_COLS " FROM watch_progress wp JOIN content c ON "
	                      "c.id = wp.content_id WHERE wp.user_id = ? AND c.is_active = 1 "
	                      "AND c.min_age <= ? ORDER BY wp.updated_at DESC, wp.id DESC "
	                      "LIMIT 50",
	                      "li", uid, age);

	if (rc != 0)
		return NULL;
	sp_buf_init(&ends);
	sp_buf_init(&items);
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *o = item_json(&res, i);
		sp_buf_addf(&items, "%s%s", i ? "," : "", sp_json_text(o));
		sp_buf_addf(&ends, "%s%zu", i ? "," : "", items.len);
		json_object_put(o);
	}
	sp_res_free(&res);
	out = sp_xasprintf("%.*s|%.*s", (int)ends.len, ends.len ? ends.data : "", (int)items.len,
	                   items.len ? items.data : "");
	sp_buf_free(&ends);
	sp_buf_free(&items);
	return out;
}

/* Answers the first limit items of a rendered list (load_list) as data.<key> with count. */
static void reply_page(sp_req *r, const char *list, const char *key, long long limit)
{
	const char *items = strchr(list, '|');
	char *p = (char *)list, *body;
	size_t end = 0;
	long long count = 0;

	for (; items && p < items && count < limit; count++) {
		end = strtoul(p, &p, 10);
		if (*p == ',')
			p++;
	}
	body = sp_xasprintf("{\"success\":true,\"count\":%lld,\"data\":{\"%s\":[%.*s]}}", count,
	                    key, (int)end, items ? items + 1 : "");
	sp_reply_raw(r, 200, body);
	free(body);
}

/*
 * A list from the viewer's cached answer, else from MariaDB (then cached):
 * level 0 lists what the caller's level plays, -1 anything; either within
 * the caller's age cap.
 */
static int answer_list(sp_req *r, const char *answer, const char *key, int level, long long limit)
{
	sp_level l;
	const char *hit;
	int scope;

	if (sp_level_get(r, &l) != 0)
		return sp_unavailable(r);
	scope = list_scope(level < 0 ? -1 : l.level, &l);
	hit = cached(r, scope);
	char gen[32], *list;

	if (hit) {
		reply_page(r, hit, key, limit);
		return 0;
	}
	if (before_read(r->user_id, gen, sizeof gen) != 0 ||
	    (list = load_list(r->user_id, level < 0 ? -1 : l.level, sp_level_age_limit(&l))) ==
	        NULL)
		return sp_unavailable(r);
	store(r->user_id, answer, gen, scope, list);
	reply_page(r, list, key, limit);
	free(list);
	return 0;
}

/* Titles started or paused, most recent first: only those the caller's plan still plays (and
 * its age cap shows). */
static int continue_watching(sp_req *r)
{
	const struct limit_in *q = r->in;

	return answer_list(r, SP_HISTORY_CW, "continueWatching", 0, q->limit);
}

/* Everything watched lately, finished or not, most recent first. */
static int recent(sp_req *r)
{
	const struct limit_in *q = r->in;

	return answer_list(r, SP_HISTORY_RECENT, "recent", -1, q->limit);
}

/* ---------------------------------------------------------------- stats */

/* The genres of the caller's titles, most watched first (at most 5). */
static json_object *favorite_genres(long long uid)
{
	json_object *arr = json_object_new_array();
	sp_res res;

	if (sp_db_query(
	        &res,
	        "SELECT g.genre, COUNT(*) AS n FROM watch_progress wp JOIN content_genres g "
	        "ON g.content_id = wp.content_id WHERE wp.user_id = ? GROUP BY g.genre "
	        "ORDER BY n DESC, g.genre LIMIT 5",
	        "l", uid) != 0) {
		json_object_put(arr);
		return NULL;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *g = json_object_new_object();
		json_object_object_add(g, "genre", json_object_new_string(sp_res_str(&res, i, 0)));
		json_object_object_add(g, "count", json_object_new_int64(sp_res_ll(&res, i, 1, 0)));
		json_object_array_add(arr, g);
	}
	sp_res_free(&res);
	return arr;
}

/*
 * Totals over the caller's titles: one row per title (watch_progress), so
 * never a scan of raw watch events. Watch time is the seconds reached in
 * each title; the completion rate the mean progress, in percent. NULL when
 * MariaDB is down.
 */
static json_object *load_stats(long long uid)
{
	enum { S_SECONDS, S_TITLES, S_COMPLETED, S_RATE };
	json_object *s, *genres;
	sp_res res;

	if (sp_db_query(
	        &res,
	        "SELECT COALESCE(SUM(watched_seconds), 0), COUNT(*), "
	        "COALESCE(SUM(completed_at IS NOT NULL), 0), COALESCE(ROUND(AVG(LEAST(100, "
	        "watched_seconds * 100 / total_seconds)), 2), 0.00) FROM watch_progress WHERE "
	        "user_id = ?",
	        "l", uid) != 0)
		return NULL;
	if ((genres = favorite_genres(uid)) == NULL) {
		sp_res_free(&res);
		return NULL;
	}
	s = json_object_new_object();
	json_object_object_add(s, "totalWatchTime",
	                       json_object_new_int64(sp_res_ll(&res, 0, S_SECONDS, 0)));
	json_object_object_add(s, "totalContentWatched",
	                       json_object_new_int64(sp_res_ll(&res, 0, S_TITLES, 0)));
	json_object_object_add(s, "completedContent",
	                       json_object_new_int64(sp_res_ll(&res, 0, S_COMPLETED, 0)));
	json_object_object_add(s, "averageCompletionRate",
	                       sp_json_money(sp_res_str(&res, 0, S_RATE)));
	json_object_object_add(s, "favoriteGenres", genres);
	sp_res_free(&res);
	return s;
}

static int stats(sp_req *r)
{
	const char *hit = cached(r, -1);
	json_object *s;
	char gen[32], *body;

	if (hit) {
		sp_reply_raw(r, 200, hit);
		return 0;
	}
	if (before_read(r->user_id, gen, sizeof gen) != 0 || (s = load_stats(r->user_id)) == NULL)
		return sp_unavailable(r);
	body = sp_xasprintf("{\"success\":true,\"data\":{\"stats\":%s}}", sp_json_text(s));
	json_object_put(s);
	store(r->user_id, SP_HISTORY_STATS, gen, -1, body);
	sp_reply_raw(r, 200, body);
	free(body);
	return 0;
}

/* ---------------------------------------------------------------- forget */

static int forget(sp_req *r)
{
	const struct title_in *q = r->in;

	switch (sp_history_forget(r->user_id, q->content_id)) {
	case -1:
		return sp_unavailable(r);
	case 0:
		return sp_fail(r, 404, "NOT_FOUND", "This title is not in your watch history");
	}
	sp_ok(r, 200, "Removed from your watch history", NULL);
	return 0;
}

static int init(void)
{
	sp_cache_register_group(SP_GROUP_CATALOG);
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"history", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
