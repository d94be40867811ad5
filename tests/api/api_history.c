/*
 * API tests of watch history: PUT progress and its thresholds (started
 * below 5 %, completed from 90 %), continue-watching, recent, stats and
 * DELETE; bad input writing nothing; the tier rule; one user never seeing
 * another's history; and playback itself (heartbeat flushes, stops)
 * feeding continue-watching.
 */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API "/api/v1"

#define PLAN_BASIC   2
#define PLAN_PREMIUM 3

/* The n-th (from 0) active title at level, by id. */
static long long nth_title(int level, int n)
{
	char sql[160];
	long long id;

	snprintf(sql, sizeof sql,
	         "SELECT id FROM content WHERE is_active = 1 AND access_level = ? ORDER BY id "
	         "LIMIT 1 OFFSET %d",
	         n);
	id = api_db_ll_l(sql, level);
	EXPECT(id > 0, "the catalogue has at least %d active titles at level %d", n + 1, level);
	return id > 0 ? id : 1;
}

/* PUT progress; the status, the response kept in r (caller frees). */
static long put_progress(api_resp *r, const api_user *u, long long cid, const char *body)
{
	char path[96];

	snprintf(path, sizeof path, API "/watch-history/%lld/progress", cid);
	return api_send(r, "PUT", path, u->token, body);
}

/* PUT {watchedDuration: w, totalDuration: t} expecting 200; the status string (static). */
static const char *put_ok(const api_user *u, long long cid, long long w, long long t)
{
	static char status[16];
	char body[96];
	api_resp r;

	snprintf(body, sizeof body, "{\"watchedDuration\":%lld,\"totalDuration\":%lld}", w, t);
	put_progress(&r, u, cid, body);
	EXPECT_OK(r, 200);
	snprintf(status, sizeof status, "%s",
	         api_jstr(r.json, "data.watchHistory.status")
	             ? api_jstr(r.json, "data.watchHistory.status")
	             : "?");
	api_free(&r);
	return status;
}

/* Rows the user has in watch_progress and in watch_events. */
static long long progress_rows(const api_user *u)
{
	return api_db_ll_s("SELECT COUNT(*) FROM watch_progress WHERE user_id = ?", u->id);
}

static long long event_rows(const api_user *u)
{
	return api_db_ll_s("SELECT COUNT(*) FROM watch_events WHERE user_id = ?", u->id);
}

/* GET a list (continue-watching or recent) with a query; status; r kept. */
static long get_list(api_resp *r, const api_user *u, const char *which, const char *query)
{
	char path[128];

	snprintf(path, sizeof path, API "/watch-history/%s%s", which, query ? query : "");
	return api_get(r, path, u->token);
}

/* The content ids of a list response, in order, as "a,b,c". */
static void list_ids(const api_resp *r, const char *key, char *out, size_t n)
{
	char path[64];
	size_t len = api_jlen(r->json, key), used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < len && used < n; i++) {
		snprintf(path, sizeof path, "%s.%zu.content.id", key, i);
		used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "," : "",
		                         api_jstr(r->json, path) ? api_jstr(r->json, path) : "?");
	}
}

static long long continue_position(const api_user *u, long long cid);

/* ---------------------------------------------------------------- progress */

static void test_progress_thresholds_and_answer(void)
{
	long long cid = nth_title(0, 0);
	api_user u;
	api_resp r;
	const char *at;

	if (api_viewer(&u, "wh-thresh", 1) != 0)
		return;
	EXPECT_STR(put_ok(&u, cid, 0, 1000), "started");
	EXPECT_STR(put_ok(&u, cid, 49, 1000), "started");
	EXPECT_STR(put_ok(&u, cid, 50, 1000), "paused");
	EXPECT_STR(put_ok(&u, cid, 899, 1000), "paused");
	put_progress(&r, &u, cid, "{\"watchedDuration\":900,\"totalDuration\":1000}");
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.watchHistory.status"), "completed");
	EXPECT(api_jint(r.json, "data.watchHistory.progress") == 90,
	       "900 of 1000 s is progress 90");
	EXPECT(api_jint(r.json, "data.watchHistory.watchedDuration") == 900 &&
	           api_jint(r.json, "data.watchHistory.totalDuration") == 1000,
	       "the answer echoes watchedDuration 900 and totalDuration 1000");
	EXPECT(api_all_digits(api_jstr(r.json, "data.watchHistory.id")),
	       "watchHistory.id is an opaque id string");
	at = api_jstr(r.json, "data.watchHistory.completedAt");
	EXPECT(at && api_is_iso_ms(at), "completedAt is set when the title reaches 90 %%");
	api_free(&r);
	EXPECT(progress_rows(&u) == 1, "five writes for one title keep one progress row");
	EXPECT(event_rows(&u) == 3,
	       "events are sampled: the first write and each change of status append one, "
	       "writes within a minute that keep the status do not (3 expected, got %lld)",
	       event_rows(&u));
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM watch_events WHERE user_id = ? AND event = "
	                   "'complete'",
	                   u.id) == 1,
	       "crossing 90 %% is recorded once as a 'complete' event");
	api_user_free(&u);
}

static void test_progress_checks_the_body_and_writes_nothing(void)
{
	static const char *const bad[] = {
	    "{\"watchedDuration\":-1,\"totalDuration\":100}",
	    "{\"watchedDuration\":101,\"totalDuration\":100}",
	    "{\"watchedDuration\":0,\"totalDuration\":0}",
	    "{\"watchedDuration\":\"ten\",\"totalDuration\":100}",
	    "{\"watchedDuration\":10,\"totalDuration\":\"100\"}",
	    "{\"watchedDuration\":10}",
	    "{\"totalDuration\":100}",
	    "{\"watchedDuration\":10,\"totalDuration\":100,\"quality\":\"8K\"}",
	    "{\"watchedDuration\":10,\"totalDuration\":100,\"sessionId\":\"nope\"}",
	};
	long long cid = nth_title(0, 0);
	api_user u;
	api_resp r;

	if (api_viewer(&u, "wh-bad", 1) != 0)
		return;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put_progress(&r, &u, cid, bad[i]);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_jlen(r.json, "errors") >= 1, "a 400 for %s names the field", bad[i]);
		api_free(&r);
	}
	put_progress(&r, &u, cid, "{\"watchedDuration\":-5,\"totalDuration\":0}");
	EXPECT(api_has_error_field(&r, "watchedDuration") &&
	           api_has_error_field(&r, "totalDuration"),
	       "both bad durations are listed in errors[]");
	api_free(&r);
	put_progress(&r, &u, cid, "{\"watchedDuration\":1,");
	EXPECT_ERROR(r, 400, "MALFORMED_JSON");
	api_free(&r);
	EXPECT(progress_rows(&u) == 0 && event_rows(&u) == 0,
	       "no progress row and no watch event after bad input");
	api_user_free(&u);
}

static void test_progress_on_missing_or_inactive_content_is_404(void)
{
	api_user u, admin;
	api_resp r;
	char *inactive = NULL;
	char path[96];

	if (api_viewer(&u, "wh-404", 1) != 0 || api_admin_login(&admin) != 0)
		return;
	api_send(&r, "PUT", API "/watch-history/abc/progress", u.token,
	         "{\"watchedDuration\":1,\"totalDuration\":10}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	put_progress(&r, &u, 987654321, "{\"watchedDuration\":1,\"totalDuration\":10}");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(
	    &r, "POST", API "/content", admin.token,
	    "{\"title\":\"Soon gone\",\"description\":\"A title that is deactivated\","
	    "\"type\":\"movie\",\"genre\":[\"Drama\"],\"duration\":90,\"accessLevel\":\"Free\","
	    "\"releaseDate\":\"2024-01-01\"}");
	EXPECT_STATUS(r, 201);
	api_take_str(&inactive, &r, "data.content.id");
	api_free(&r);
	if (inactive) {
		snprintf(path, sizeof path, API "/content/%s", inactive);
		api_send(&r, "DELETE", path, admin.token, NULL);
		EXPECT_STATUS(r, 200);
		api_free(&r);
		put_progress(&r, &u, atoll(inactive),
		             "{\"watchedDuration\":1,\"totalDuration\":10}");
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
	EXPECT(progress_rows(&u) == 0 && event_rows(&u) == 0, "nothing written for a 404");
	free(inactive);
	api_user_free(&admin);
	api_user_free(&u);
}

static void test_progress_above_the_plan_is_403_like_a_stream_start(void)
{
	api_user free_u, basic;
	api_resp r;

	if (api_viewer(&free_u, "wh-tier-free", 1) != 0 ||
	    api_viewer(&basic, "wh-tier-basic", PLAN_BASIC) != 0)
		return;
	put_progress(&r, &free_u, nth_title(1, 0), "{\"watchedDuration\":1,\"totalDuration\":10}");
	EXPECT_ERROR(r, 403, "SUBSCRIPTION_REQUIRED");
	api_free(&r);
	put_progress(&r, &basic, nth_title(2, 0), "{\"watchedDuration\":1,\"totalDuration\":10}");
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	EXPECT_STR(put_ok(&basic, nth_title(1, 0), 0, 10), "started");
	EXPECT(progress_rows(&free_u) == 0 && progress_rows(&basic) == 1,
	       "a refused write leaves nothing; Basic may record a Basic title");
	api_user_free(&free_u);
	api_user_free(&basic);
}

static void test_progress_with_a_session_id_must_name_the_callers_session(void)
{
	long long cid = nth_title(0, 0);
	api_user a, b;
	api_resp r;
	char *sid = NULL, body[160];

	if (api_viewer(&a, "wh-sid-a", 1) != 0 || api_viewer(&b, "wh-sid-b", 1) != 0)
		return;
	sid = api_stream_start_ok(&a, cid, "tv", NULL, NULL, NULL);
	snprintf(body, sizeof body,
	         "{\"watchedDuration\":30,\"totalDuration\":600,\"sessionId\":\"%s\","
	         "\"deviceId\":\"tv\",\"quality\":\"480p\"}",
	         sid ? sid : "");
	put_progress(&r, &a, cid, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	put_progress(&r, &b, cid, body);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT(progress_rows(&b) == 0, "another user's session id writes nothing");
	/* a report that would wait in Redis (b wrote this title just now) is checked as well */
	EXPECT_STR(put_ok(&b, cid, 40, 600), "paused");
	put_progress(&r, &b, cid, body);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT(continue_position(&b, cid) == 40,
	       "another user's session id changes nothing, even between two writes");
	free(sid);
	api_user_free(&a);
	api_user_free(&b);
}

/* ---------------------------------------------------------------- lists */

static void test_continue_watching_lists_unfinished_titles_newest_first(void)
{
	long long t[4] = {nth_title(0, 0), nth_title(0, 1), nth_title(0, 2), nth_title(0, 3)};
	api_user u;
	api_resp r;
	char ids[128], want[128];

	if (api_viewer(&u, "wh-cw", 1) != 0)
		return;
	put_ok(&u, t[0], 100, 1000);
	put_ok(&u, t[1], 10, 1000);
	put_ok(&u, t[2], 950, 1000); /* completed: not to continue */
	put_ok(&u, t[3], 500, 1000);
	get_list(&r, &u, "continue-watching", NULL);
	EXPECT_OK(r, 200);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld,%lld,%lld", t[3], t[1], t[0]);
	EXPECT_STR(ids, want);
	EXPECT(api_jint(r.json, "count") == 3, "count is the items in the page");
	EXPECT(api_jint(r.json, "data.continueWatching.0.watchedDuration") == 500 &&
	           api_jint(r.json, "data.continueWatching.0.progress") == 50,
	       "an item carries watchedDuration and progress");
	EXPECT(api_jstr(r.json, "data.continueWatching.0.content.title") &&
	           api_jtype(r.json, "data.continueWatching.0.content.type", json_type_string) &&
	           api_jtype(r.json, "data.continueWatching.0.content.duration", json_type_int) &&
	           api_jget(r.json, "data.continueWatching.0.content.thumbnailUrl") != NULL,
	       "an item's content has id, title, thumbnailUrl, type and duration");
	EXPECT(api_is_iso_ms(api_jstr(r.json, "data.continueWatching.0.lastWatchedAt")),
	       "lastWatchedAt is an ISO time");
	api_free(&r);
	put_ok(&u, t[0], 120, 1000); /* watched again: first now */
	get_list(&r, &u, "continue-watching", "?limit=2");
	EXPECT_OK(r, 200);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld,%lld", t[0], t[3]);
	EXPECT_STR(ids, want);
	api_free(&r);
	api_user_free(&u);
}

static void test_list_limits_are_checked(void)
{
	static const struct {
		const char *which, *query;
		long want;
	} cases[] = {
	    {"continue-watching", "?limit=0", 400}, {"continue-watching", "?limit=21", 400},
	    {"continue-watching", "?limit=x", 400}, {"continue-watching", "?limit=20", 200},
	    {"recent", "?limit=51", 400},           {"recent", "?limit=0", 400},
	    {"recent", "?limit=50", 200},           {"recent", "?limit=-3", 400},
	};
	api_user u;
	api_resp r;

	if (api_viewer(&u, "wh-limits", 1) != 0)
		return;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		get_list(&r, &u, cases[i].which, cases[i].query);
		if (cases[i].want == 400) {
			EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
			EXPECT(api_has_error_field(&r, "limit"), "%s%s names limit", cases[i].which,
			       cases[i].query);
		} else {
			EXPECT_OK(r, 200);
		}
		api_free(&r);
	}
	api_user_free(&u);
}

static void test_continue_watching_defaults_to_ten_recent_to_twenty(void)
{
	api_user u;
	api_resp r;

	if (api_viewer(&u, "wh-defaults", 1) != 0)
		return;
	for (int i = 0; i < 12; i++)
		put_ok(&u, nth_title(0, i), 60, 1000);
	get_list(&r, &u, "continue-watching", NULL);
	EXPECT(api_jlen(r.json, "data.continueWatching") == 10,
	       "continue-watching answers 10 items by default (of 12)");
	api_free(&r);
	get_list(&r, &u, "recent", NULL);
	EXPECT(api_jlen(r.json, "data.recent") == 12, "recent answers all 12 (default 20)");
	api_free(&r);
	api_user_free(&u);
}

static void test_recent_lists_finished_titles_with_completed_at(void)
{
	long long a = nth_title(0, 0), b = nth_title(0, 1);
	api_user u;
	api_resp r;
	char ids[64], want[64];

	if (api_viewer(&u, "wh-recent", 1) != 0)
		return;
	put_ok(&u, a, 990, 1000);
	put_ok(&u, b, 300, 1000);
	get_list(&r, &u, "recent", NULL);
	EXPECT_OK(r, 200);
	list_ids(&r, "data.recent", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld,%lld", b, a);
	EXPECT_STR(ids, want);
	EXPECT_STR(api_jstr(r.json, "data.recent.1.status"), "completed");
	EXPECT(api_is_iso_ms(api_jstr(r.json, "data.recent.1.completedAt")),
	       "a finished title has completedAt");
	EXPECT(api_jnull(r.json, "data.recent.0.completedAt"), "an unfinished one has null");
	EXPECT(api_jint(r.json, "data.recent.0.totalDuration") == 1000,
	       "recent items carry totalDuration");
	api_free(&r);
	/* watched again from the start: back in continue-watching, completedAt kept */
	EXPECT_STR(put_ok(&u, a, 20, 1000), "started");
	get_list(&r, &u, "continue-watching", NULL);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld,%lld", a, b);
	EXPECT_STR(ids, want);
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- stats */

static void test_stats_on_a_known_set(void)
{
	long long t[3] = {nth_title(0, 0), nth_title(0, 1), nth_title(0, 2)};
	api_user u;
	api_resp r;
	char sql[320];
	long long top_n;

	if (api_viewer(&u, "wh-stats", 1) != 0)
		return;
	api_get(&r, API "/watch-history/stats", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 0 &&
	           api_jint(r.json, "data.stats.totalContentWatched") == 0 &&
	           api_jlen(r.json, "data.stats.favoriteGenres") == 0,
	       "a new viewer's stats are zero");
	api_free(&r);
	put_ok(&u, t[0], 100, 1000); /* 10 % */
	put_ok(&u, t[1], 300, 600);  /* 50 % */
	put_ok(&u, t[2], 950, 1000); /* 95 %, completed */
	api_get(&r, API "/watch-history/stats", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 1350,
	       "totalWatchTime is 100 + 300 + 950 s");
	EXPECT(api_jint(r.json, "data.stats.totalContentWatched") == 3, "three titles watched");
	EXPECT(api_jint(r.json, "data.stats.completedContent") == 1, "one completed");
	EXPECT(json_object_get_double(api_jget(r.json, "data.stats.averageCompletionRate")) >
	               51.66 &&
	           json_object_get_double(api_jget(r.json, "data.stats.averageCompletionRate")) <
	               51.68,
	       "averageCompletionRate is (10 + 50 + 95) / 3 = 51.67");
	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*) FROM content_genres WHERE content_id IN (%lld, %lld, %lld) "
	         "GROUP BY genre ORDER BY COUNT(*) DESC, genre LIMIT 1",
	         t[0], t[1], t[2]);
	top_n = api_db_ll(sql);
	EXPECT(api_jint(r.json, "data.stats.favoriteGenres.0.count") == top_n &&
	           api_jstr(r.json, "data.stats.favoriteGenres.0.genre") != NULL,
	       "the favourite genre is the one most of the three titles share (%lld)", top_n);
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- delete, isolation */

static void test_delete_removes_a_title_from_continue_watching(void)
{
	long long a = nth_title(0, 0), b = nth_title(0, 1);
	api_user u;
	api_resp r;
	char path[96], ids[64], want[32];

	if (api_viewer(&u, "wh-delete", 1) != 0)
		return;
	put_ok(&u, a, 100, 1000);
	put_ok(&u, b, 100, 1000);
	snprintf(path, sizeof path, API "/watch-history/%lld", a);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	get_list(&r, &u, "continue-watching", NULL);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld", b);
	EXPECT_STR(ids, want);
	api_free(&r);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "DELETE", API "/watch-history/abc", u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_user_free(&u);
}

static void test_a_user_only_ever_sees_their_own_history(void)
{
	long long a = nth_title(0, 0);
	api_user owner, other;
	api_resp r;
	char path[96];

	if (api_viewer(&owner, "wh-own", 1) != 0 || api_viewer(&other, "wh-other", 1) != 0)
		return;
	put_ok(&owner, a, 100, 1000);
	get_list(&r, &other, "continue-watching", NULL);
	EXPECT(api_jlen(r.json, "data.continueWatching") == 0, "another user's list is empty");
	api_free(&r);
	get_list(&r, &other, "recent", NULL);
	EXPECT(api_jlen(r.json, "data.recent") == 0, "another user's recent is empty");
	api_free(&r);
	api_get(&r, API "/watch-history/stats", other.token);
	EXPECT(api_jint(r.json, "data.stats.totalContentWatched") == 0,
	       "another user's stats count nothing");
	api_free(&r);
	snprintf(path, sizeof path, API "/watch-history/%lld", a);
	api_send(&r, "DELETE", path, other.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT(progress_rows(&owner) == 1, "the owner's row survives the other's DELETE");
	api_get(&r, API "/watch-history/recent", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&owner);
	api_user_free(&other);
}

/* ---------------------------------------------------------------- caching */

/*
 * The read answers are cached per viewer: every write, a DELETE and a
 * content write must show on the very next read, and a read twice in a row
 * (the second from the cache) must give the same answer.
 */
static void test_cached_answers_follow_every_change(void)
{
	api_user u, admin;
	api_resp r;
	char *cid_s = NULL, path[96], ids[64], want[64];
	long long fresh, other = nth_title(0, 0);

	if (api_viewer(&u, "wh-cache", 1) != 0 || api_admin_login(&admin) != 0)
		return;
	api_send(
	    &r, "POST", API "/content", admin.token,
	    "{\"title\":\"Cached then gone\",\"description\":\"A title that is deactivated\","
	    "\"type\":\"movie\",\"genre\":[\"Drama\"],\"duration\":90,\"accessLevel\":\"Free\","
	    "\"releaseDate\":\"2024-01-01\"}");
	EXPECT_STATUS(r, 201);
	api_take_str(&cid_s, &r, "data.content.id");
	api_free(&r);
	fresh = cid_s ? atoll(cid_s) : 1;
	put_ok(&u, other, 100, 1000);
	put_ok(&u, fresh, 200, 1000);
	for (int i = 0; i < 2; i++) {
		get_list(&r, &u, "continue-watching", NULL);
		list_ids(&r, "data.continueWatching", ids, sizeof ids);
		snprintf(want, sizeof want, "%lld,%lld", fresh, other);
		EXPECT_STR(ids, want);
		api_free(&r);
		api_get(&r, API "/watch-history/stats", u.token);
		EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 300,
		       "stats read %d: 300 s watched", i + 1);
		api_free(&r);
	}
	put_ok(&u, other, 400, 1000); /* a write: first again, and counted */
	get_list(&r, &u, "continue-watching", "?limit=1");
	snprintf(want, sizeof want, "%lld", other);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	EXPECT_STR(ids, want);
	api_free(&r);
	api_get(&r, API "/watch-history/stats", u.token);
	EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 600,
	       "stats after a write count it at once (600 s)");
	api_free(&r);
	snprintf(path, sizeof path, API "/content/%lld", fresh);
	api_send(&r, "DELETE", path, admin.token, NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	get_list(&r, &u, "recent", NULL);
	list_ids(&r, "data.recent", ids, sizeof ids);
	EXPECT_STR(ids, want);
	api_free(&r);
	free(cid_s);
	api_user_free(&admin);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- backing services */

/*
 * Redis away: writes and reads go to MariaDB (nothing is cached) and the
 * answers are right. MariaDB away as well: 503, never a 500. Both back: the
 * write made during the outage is counted.
 */
static void test_history_without_redis_then_without_mariadb(void)
{
	long long cid = nth_title(0, 0);
	api_user u;
	api_resp r;
	char want[24], ids[64];
	int db_down = 0;

	if (api_viewer(&u, "wh-down", 1) != 0)
		return;
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis");
		goto out;
	}
	EXPECT_STR(put_ok(&u, cid, 300, 1000), "paused");
	get_list(&r, &u, "continue-watching", NULL);
	EXPECT_OK(r, 200);
	list_ids(&r, "data.continueWatching", ids, sizeof ids);
	snprintf(want, sizeof want, "%lld", cid);
	EXPECT_STR(ids, want);
	api_free(&r);
	db_down = api_dev_service("stop", "mariadb", NULL) == 0;
	EXPECT(db_down, "\"$SP_DEV\" stop mariadb");
	if (db_down) {
		put_progress(&r, &u, cid, "{\"watchedDuration\":400,\"totalDuration\":1000}");
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
		get_list(&r, &u, "recent", NULL);
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
		api_get(&r, API "/watch-history/stats", u.token);
		EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
		api_free(&r);
	}
out:
	if (db_down)
		EXPECT(api_dev_service("start", "mariadb", NULL) == 0, "\"$SP_DEV\" start mariadb");
	api_redis_start_and_wait();
	api_get(&r, API "/watch-history/stats", u.token);
	EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 300,
	       "after both are back, stats count the write made while Redis was away");
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- playback */

static long beat(const api_user *u, const char *sid, const char *position_field)
{
	char body[160];
	api_resp r;
	long st;

	snprintf(body, sizeof body, "{\"sessionId\":\"%s\"%s}", sid ? sid : "", position_field);
	st = api_send(&r, "POST", API "/content/stream/heartbeat", u->token, body);
	api_free(&r);
	return st;
}

/* watchedDuration of the first continue-watching item for cid, -1 when absent. */
static long long continue_position(const api_user *u, long long cid)
{
	api_resp r;
	char want[24], path[64];
	long long pos = -1;
	size_t n;

	get_list(&r, u, "continue-watching", NULL);
	n = api_jlen(r.json, "data.continueWatching");
	snprintf(want, sizeof want, "%lld", cid);
	for (size_t i = 0; i < n && pos < 0; i++) {
		snprintf(path, sizeof path, "data.continueWatching.%zu.content.id", i);
		if (api_streq(api_jstr(r.json, path), want)) {
			snprintf(path, sizeof path, "data.continueWatching.%zu.watchedDuration", i);
			pos = api_jint(r.json, path);
		}
	}
	api_free(&r);
	return pos;
}

static void test_heartbeats_and_a_stop_feed_continue_watching(void)
{
	long long cid = nth_title(0, 0);
	api_user tv, phone;
	char *sid;
	char body[160];
	api_resp r;

	if (api_viewer(&tv, "wh-play", 1) != 0)
		return;
	phone = tv;
	phone.token = NULL;
	phone.refresh = NULL;
	if (api_user_login(&phone) != 0)
		return;
	sid = api_stream_start_ok(&tv, cid, "tv", NULL, NULL, NULL);
	/* the test stack's stale window is 6 s: MariaDB is due every 1.5 s */
	api_sleep_s(1.7);
	EXPECT(beat(&tv, sid, ",\"playbackPosition\":600") == 200, "a heartbeat at 600 s");
	EXPECT(continue_position(&phone, cid) == 600,
	       "a heartbeat due in MariaDB flushes its position to continue-watching (got %lld)",
	       continue_position(&phone, cid));
	EXPECT(beat(&tv, sid, ",\"playbackPosition\":660") == 200, "a heartbeat right after");
	EXPECT(continue_position(&phone, cid) == 600,
	       "a heartbeat that is not due writes nothing to MariaDB (still 600)");
	EXPECT(beat(&tv, sid, "") == 200, "a heartbeat without a position");
	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":900}", sid);
	api_send(&r, "POST", API "/stream/stop", tv.token, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT(continue_position(&phone, cid) == 900,
	       "after the TV stops at 900 s the phone sees 900 on its next request");
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM watch_events WHERE user_id = ? AND event = 'stop' "
	                   "AND position_seconds = 900",
	                   tv.id) == 1,
	       "the stop is one watch event at 900 s");
	free(sid);
	api_user_free(&phone);
	free(tv.token);
	free(tv.refresh);
}

/* ---------------------------------------------------------------- between writes */

/* The position MariaDB holds for the user's title, -1 none. */
static long long db_position(const api_user *u, long long cid)
{
	char sql[160];

	snprintf(sql, sizeof sql,
	         "SELECT COALESCE(MAX(watched_seconds), -1) FROM watch_progress WHERE user_id = ? "
	         "AND content_id = %lld",
	         cid);
	return api_db_ll_s(sql, u->id);
}

/* PUT {w, t} expecting 200; the answer's watchHistory.id (malloc'd, "?" when absent). */
static char *put_id(const api_user *u, long long cid, long long w, long long t)
{
	char body[96];
	api_resp r;
	char *id;

	snprintf(body, sizeof body, "{\"watchedDuration\":%lld,\"totalDuration\":%lld}", w, t);
	put_progress(&r, u, cid, body);
	EXPECT_OK(r, 200);
	id = strdup(api_jstr(r.json, "data.watchHistory.id")
	                ? api_jstr(r.json, "data.watchHistory.id")
	                : "?");
	api_free(&r);
	return id;
}

static void test_reports_between_writes_are_read_back_at_once(void)
{
	long long cid = nth_title(0, 1);
	api_user u;
	api_resp r;
	char *first, *second;

	if (api_viewer(&u, "wh-buffer", 1) != 0)
		return;
	first = put_id(&u, cid, 100, 1000);
	EXPECT(db_position(&u, cid) == 100, "the first report of a title is written to MariaDB");
	second = put_id(&u, cid, 200, 1000);
	EXPECT_STR(second, first);
	EXPECT(db_position(&u, cid) == 100,
	       "a report seconds later with the same status waits in Redis (MariaDB still 100)");
	EXPECT(continue_position(&u, cid) == 200,
	       "continue-watching right after shows the newer position");
	EXPECT(db_position(&u, cid) == 200, "reading the history wrote the waiting position");
	free(put_id(&u, cid, 300, 1000));
	api_get(&r, API "/watch-history/stats", u.token);
	EXPECT(api_jint(r.json, "data.stats.totalWatchTime") == 300,
	       "stats right after a waiting report count it (got %lld)",
	       api_jint(r.json, "data.stats.totalWatchTime"));
	api_free(&r);
	EXPECT_STR(put_ok(&u, cid, 950, 1000), "completed");
	EXPECT(db_position(&u, cid) == 950 &&
	           api_db_ll_s("SELECT COUNT(*) FROM watch_progress WHERE user_id = ? AND status = "
	                       "'completed' AND completed_at IS NOT NULL",
	                       u.id) == 1,
	       "a change of status is written to MariaDB at once, with completedAt");
	free(first);
	free(second);
	api_user_free(&u);
}

static void test_the_progress_job_writes_waiting_positions(void)
{
	long long cid = nth_title(0, 2);
	api_user u;

	if (api_viewer(&u, "wh-job", 1) != 0)
		return;
	free(put_id(&u, cid, 100, 1000));
	free(put_id(&u, cid, 250, 1000));
	EXPECT(db_position(&u, cid) == 100, "the second report waits in Redis");
	EXPECT(api_run_tool("worker", "progress") == 0, "sp-worker progress");
	EXPECT(db_position(&u, cid) == 250, "the progress job wrote it (got %lld)",
	       db_position(&u, cid));
	EXPECT(api_run_tool("worker", "progress") == 0, "sp-worker progress, again");
	EXPECT(db_position(&u, cid) == 250 && continue_position(&u, cid) == 250,
	       "a second run changes nothing");
	api_user_free(&u);
}

static void test_delete_drops_a_waiting_position(void)
{
	long long cid = nth_title(0, 3);
	api_user u;
	api_resp r;
	char path[96];

	if (api_viewer(&u, "wh-forget", 1) != 0)
		return;
	free(put_id(&u, cid, 100, 1000));
	free(put_id(&u, cid, 250, 1000));
	snprintf(path, sizeof path, API "/watch-history/%lld", cid);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT(api_run_tool("worker", "progress") == 0, "sp-worker progress");
	EXPECT(db_position(&u, cid) == -1 && continue_position(&u, cid) == -1,
	       "a deleted title does not come back from a position that was waiting");
	free(put_id(&u, cid, 50, 1000));
	EXPECT(db_position(&u, cid) == 50 && continue_position(&u, cid) == 50,
	       "a report after the delete starts the title again, written at once");
	api_user_free(&u);
}

static void test_a_report_between_writes_is_checked_again_after_a_change(void)
{
	long long premium_title = nth_title(2, 1);
	api_user u, admin;
	api_resp r;
	char *cid = NULL, path[96];

	if (api_viewer(&u, "wh-recheck", PLAN_PREMIUM) != 0 || api_admin_login(&admin) != 0)
		return;
	free(put_id(&u, premium_title, 100, 1000));
	free(put_id(&u, premium_title, 150, 1000));
	EXPECT(db_position(&u, premium_title) == 100, "the second report was held");
	/* down to Basic: the next report on the Premium title is refused, not held */
	EXPECT(api_subscribe(&u, PLAN_BASIC) == 0, "subscribe to Basic");
	put_progress(&r, &u, premium_title, "{\"watchedDuration\":200,\"totalDuration\":1000}");
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	EXPECT(continue_position(&u, premium_title) == -1 && db_position(&u, premium_title) == 150,
	       "the refused report left nothing (MariaDB has the held 150, the plan hides it)");
	/* a title deactivated between two reports: 404, nothing held */
	api_send(&r, "POST", API "/content", admin.token,
	         "{\"title\":\"Gone soon\",\"description\":\"Deactivated between reports\","
	         "\"type\":\"movie\",\"genre\":[\"Drama\"],\"duration\":90,\"accessLevel\":"
	         "\"Free\",\"releaseDate\":\"2024-01-01\"}");
	EXPECT_STATUS(r, 201);
	api_take_str(&cid, &r, "data.content.id");
	api_free(&r);
	if (cid) {
		free(put_id(&u, atoll(cid), 100, 1000));
		snprintf(path, sizeof path, API "/content/%s", cid);
		api_send(&r, "DELETE", path, admin.token, NULL);
		EXPECT_STATUS(r, 200);
		api_free(&r);
		put_progress(&r, &u, atoll(cid),
		             "{\"watchedDuration\":300,\"totalDuration\":1000}");
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
		EXPECT(api_run_tool("worker", "progress") == 0 &&
		           db_position(&u, atoll(cid)) == 100,
		       "the refused report was not held (MariaDB keeps 100)");
	}
	free(cid);
	api_user_free(&admin);
	api_user_free(&u);
}

int api_suite_history(void)
{
	CU_pSuite s = CU_add_suite("history", NULL, NULL);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_progress_thresholds_and_answer);
	ADD(test_progress_checks_the_body_and_writes_nothing);
	ADD(test_progress_on_missing_or_inactive_content_is_404);
	ADD(test_progress_above_the_plan_is_403_like_a_stream_start);
	ADD(test_progress_with_a_session_id_must_name_the_callers_session);
	ADD(test_continue_watching_lists_unfinished_titles_newest_first);
	ADD(test_list_limits_are_checked);
	ADD(test_continue_watching_defaults_to_ten_recent_to_twenty);
	ADD(test_recent_lists_finished_titles_with_completed_at);
	ADD(test_stats_on_a_known_set);
	ADD(test_delete_removes_a_title_from_continue_watching);
	ADD(test_a_user_only_ever_sees_their_own_history);
	ADD(test_cached_answers_follow_every_change);
	ADD(test_heartbeats_and_a_stop_feed_continue_watching);
	ADD(test_history_without_redis_then_without_mariadb);
	ADD(test_reports_between_writes_are_read_back_at_once);
	ADD(test_the_progress_job_writes_waiting_positions);
	ADD(test_delete_drops_a_waiting_position);
	ADD(test_a_report_between_writes_is_checked_again_after_a_change);
#undef ADD
	return 0;
}
