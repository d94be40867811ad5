/*
 * Streaming: exact concurrent-stream limits under a race (with Redis and
 * without), tier and device rules, heartbeats, and the signed HLS media
 * checked by the web server's authorizer.
 */
#include "api_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* The first active title at exactly this level (0 Free .. 3 Ultimate) with these renditions. */
static long long title_at(int level, int renditions)
{
	char sql[256];

	snprintf(
	    sql, sizeof sql,
	    "SELECT id FROM content WHERE is_active = 1 AND access_level = ? AND renditions = %d "
	    "ORDER BY id LIMIT 1",
	    renditions);
	return api_db_ll_l(sql, level);
}

/* A fresh user on plan (1 Free, 2 Basic, 3 Premium, 4 Ultimate); 0 ok. */
static int viewer(api_user *u, int plan)
{
	api_resp r;
	char body[96];

	memset(u, 0, sizeof *u);
	if (api_user_register(u, "viewer") != 0)
		return -1;
	if (plan == 1)
		return 0;
	snprintf(body, sizeof body, "{\"planId\":%d,\"paymentMethod\":\"card\"}", plan);
	api_send(&r, "POST", "/api/v1/subscriptions/subscribe", u->token, body);
	EXPECT_STATUS(r, 201);
	api_free(&r);
	return 0;
}

static long start(api_resp *r, api_user *u, long long cid, const char *device, const char *quality)
{
	char path[96], body[256];

	snprintf(path, sizeof path, "/api/v1/content/%lld/stream", cid);
	if (quality)
		snprintf(body, sizeof body,
		         "{\"deviceId\":\"%s\",\"deviceName\":\"Screen %s\",\"quality\":\"%s\"}",
		         device, device, quality);
	else
		snprintf(body, sizeof body, "{\"deviceId\":\"%s\",\"deviceName\":\"Screen %s\"}",
		         device, device);
	return api_send(r, "POST", path, u->token, body);
}

static long session_call(api_resp *r, api_user *u, const char *path, const char *sid)
{
	char body[128];

	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":12}", sid);
	return api_send(r, "POST", path, u->token, body);
}

static int live_count(api_user *u)
{
	api_resp r;
	int n;

	api_get(&r, "/api/v1/stream/sessions", u->token);
	n = r.json ? json_object_get_int(api_jget(r.json, "count")) : -1;
	api_free(&r);
	return n;
}

/* ---------------------------------------------------------------- the race */

struct racer {
	pthread_barrier_t *go;
	const char *token;
	long long cid;
	int n;
	long status;
	char code[48];
};

static size_t keep_body(char *p, size_t sz, size_t nm, void *ud)
{
	char *buf = ud;
	size_t have = strlen(buf), n = sz * nm;

	if (have + n < 4096) {
		memcpy(buf + have, p, n);
		buf[have + n] = '\0';
	}
	return sz * nm;
}

static void *race_one(void *arg)
{
	struct racer *x = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], auth[2048], body[128], xff[48], resp[4096] = "";
	const char *code;

	snprintf(url, sizeof url, "%s/api/v1/content/%lld/stream", api_base(), x->cid);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", x->token);
	snprintf(body, sizeof body, "{\"deviceId\":\"race-%d\",\"deviceName\":\"Racer %d\"}", x->n,
	         x->n);
	snprintf(xff, sizeof xff, "X-Forwarded-For: 198.19.%d.%d", x->n / 250, x->n % 250 + 1);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, xff);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	pthread_barrier_wait(x->go);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	code = strstr(resp, "\"code\":\"");
	if (code)
		snprintf(x->code, sizeof x->code, "%.*s", (int)strcspn(code + 8, "\""), code + 8);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

/* 50 starts from 50 devices of one Premium account, released together. */
static void race(api_user *u, long long cid, int *ok, int *limited)
{
	enum { N = 50 };
	pthread_t t[N];
	struct racer x[N];
	pthread_barrier_t go;

	*ok = *limited = 0;
	pthread_barrier_init(&go, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&x[i], 0, sizeof x[i]);
		x[i].go = &go;
		x[i].token = u->token;
		x[i].cid = cid;
		x[i].n = i;
		pthread_create(&t[i], NULL, race_one, &x[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < N; i++) {
		if (x[i].status == 200)
			(*ok)++;
		else if (x[i].status == 429 && strcmp(x[i].code, "CONCURRENT_LIMIT_EXCEEDED") == 0)
			(*limited)++;
	}
}

static void test_race_of_fifty_starts_admits_exactly_the_limit(void)
{
	long long cid = title_at(2, 7);

	EXPECT(cid > 0, "a Premium title exists");
	for (int round = 0; round < 10; round++) {
		api_user u;
		int ok, limited;
		if (viewer(&u, 3) != 0) {
			EXPECT(0, "premium viewer for round %d", round);
			return;
		}
		race(&u, cid, &ok, &limited);
		EXPECT(
		    ok == 2 && limited == 48,
		    "round %d: 50 simultaneous starts on a 2-screen plan: %d admitted, %d got 429 "
		    "CONCURRENT_LIMIT_EXCEEDED (want 2 and 48)",
		    round, ok, limited);
		EXPECT(live_count(&u) == 2, "round %d: GET /stream/sessions shows 2", round);
		api_user_free(&u);
	}
}

static void test_race_without_redis_is_exact_and_survives_its_return(void)
{
	long long cid = title_at(2, 7);
	api_user u, v;
	int ok, limited;
	api_resp r;
	char *ids[2] = {NULL, NULL};

	if (viewer(&u, 3) != 0 || viewer(&v, 3) != 0) {
		EXPECT(0, "premium viewers");
		return;
	}
	/* v starts two streams while Redis is up; they must survive the outage and its end */
	start(&r, &v, cid, "before-1", NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	start(&r, &v, cid, "before-2", NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);

	EXPECT(api_redis_stop() == 0, "redis stopped");
	race(&u, cid, &ok, &limited);
	EXPECT(ok == 2 && limited == 48, "without Redis: %d admitted, %d got 429 (want 2 and 48)",
	       ok, limited);
	EXPECT(live_count(&u) == 2, "without Redis: 2 live sessions");
	start(&r, &v, cid, "during", NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	api_free(&r);
	EXPECT(api_redis_start() == 0, "redis started");

	/* back with Redis: the same two sessions, no more, no fewer */
	EXPECT(live_count(&u) == 2, "after Redis returns: still 2 live sessions");
	EXPECT(live_count(&v) == 2, "after Redis returns: the earlier 2 sessions remain");
	start(&r, &u, cid, "after", NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	api_free(&r);
	api_get(&r, "/api/v1/stream/sessions", u.token);
	for (int i = 0; i < 2; i++)
		api_take_str(&ids[i], &r,
		             i == 0 ? "data.sessions.0.sessionId" : "data.sessions.1.sessionId");
	api_free(&r);
	for (int i = 0; i < 2; i++) {
		session_call(&r, &u, "/api/v1/content/stream/heartbeat", ids[i] ? ids[i] : "x");
		EXPECT_STATUS(r, 200);
		api_free(&r);
	}
	session_call(&r, &u, "/api/v1/stream/stop", ids[0] ? ids[0] : "x");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	start(&r, &u, cid, "after", NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	EXPECT(live_count(&u) == 2, "a stop frees exactly one slot");
	free(ids[0]);
	free(ids[1]);
	api_user_free(&u);
	api_user_free(&v);
}

/* ---------------------------------------------------------------- rules */

static void test_start_answers_the_contract_shape_and_caps_quality(void)
{
	long long cid = title_at(2, 7);
	api_user u;
	api_resp r;

	if (viewer(&u, 3) != 0)
		return;
	start(&r, &u, cid, "tv", "4K");
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT_STR(api_jstr(r.json, "data.quality"), "1080p");
	EXPECT(api_jstr(r.json, "data.streamUrl") &&
	           strstr(api_jstr(r.json, "data.streamUrl"), "/media/t/"),
	       "streamUrl points at the signed media path");
	EXPECT(api_jstr(r.json, "data.sessionId") &&
	           strlen(api_jstr(r.json, "data.sessionId")) == 32,
	       "a 128-bit session id");
	EXPECT(api_jget(r.json, "data.sessionToken") && api_jget(r.json, "data.expiresAt"),
	       "sessionToken and expiresAt");
	EXPECT(json_object_get_int(api_jget(r.json, "data.maxConcurrentStreams")) == 2 &&
	           json_object_get_int(api_jget(r.json, "data.currentStreams")) == 1,
	       "maxConcurrentStreams 2, currentStreams 1");
	api_free(&r);
	start(&r, &u, cid, "phone", "480p");
	EXPECT_STR(api_jstr(r.json, "data.quality"), "480p");
	api_free(&r);
	start(&r, &u, cid, "tablet", "8K");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	api_send(&r, "POST", "/api/v1/content/1/stream", u.token, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "deviceId") && api_has_error_field(&r, "deviceName"),
	       "both missing fields listed");
	api_free(&r);
	start(&r, &u, 999999999, "tv", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "POST", "/api/v1/content/1/stream", NULL,
	         "{\"deviceId\":\"a\",\"deviceName\":\"b\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

static void test_tier_above_the_plan_is_refused(void)
{
	api_user f, b;
	api_resp r;
	long long premium = title_at(2, 7);

	if (viewer(&f, 1) != 0 || viewer(&b, 2) != 0)
		return;
	start(&r, &f, premium, "tv", NULL);
	EXPECT_ERROR(r, 403, "SUBSCRIPTION_REQUIRED");
	api_free(&r);
	start(&r, &b, premium, "tv", NULL);
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	api_user_free(&f);
	api_user_free(&b);
}

static void test_same_device_replaces_its_own_session(void)
{
	long long cid = title_at(2, 7);
	api_user u;
	api_resp r;
	char *first = NULL;

	if (viewer(&u, 3) != 0)
		return;
	start(&r, &u, cid, "tv", NULL);
	api_take_str(&first, &r, "data.sessionId");
	api_free(&r);
	start(&r, &u, cid, "tv", NULL);
	EXPECT_STATUS(r, 200);
	EXPECT(json_object_get_int(api_jget(r.json, "data.currentStreams")) == 1,
	       "the same device never counts twice");
	api_free(&r);
	EXPECT(live_count(&u) == 1, "one session for the device");
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", first ? first : "x");
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	free(first);
	api_user_free(&u);
}

static void test_concurrent_limit_lists_sessions_and_actions(void)
{
	long long cid = title_at(2, 7);
	api_user u;
	api_resp r;
	json_object *acts;
	int terminate = 0, upgrade = 0;

	if (viewer(&u, 3) != 0)
		return;
	for (int i = 0; i < 2; i++) {
		start(&r, &u, cid, i ? "b" : "a", NULL);
		api_free(&r);
	}
	start(&r, &u, cid, "c", NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	EXPECT_STR(api_jstr(r.json, "message"), "Maximum 2 concurrent streams allowed");
	EXPECT(json_object_array_length(api_jget(r.json, "activeDevices")) == 2,
	       "two activeDevices");
	EXPECT(api_jget(r.json, "activeDevices.0.sessionId") &&
	           api_jget(r.json, "activeDevices.0.deviceName") &&
	           api_jget(r.json, "activeDevices.0.startedAt"),
	       "activeDevices carry sessionId, deviceName, startedAt");
	acts = api_jget(r.json, "actions");
	for (size_t i = 0; acts && i < json_object_array_length(acts); i++) {
		const char *a = api_jstr(json_object_array_get_idx(acts, i), "action");
		terminate += a && strcmp(a, "terminate_session") == 0;
		upgrade += a && strcmp(a, "upgrade") == 0 &&
		           api_jget(json_object_array_get_idx(acts, i), "planId");
	}
	EXPECT(terminate == 2 && upgrade == 1, "one terminate per session and an upgrade (%d, %d)",
	       terminate, upgrade);
	api_free(&r);
	api_user_free(&u);
}

static void test_device_limit_counts_registered_devices(void)
{
	long long cid = title_at(1, 3);
	api_user u;
	api_resp r;
	char *sid = NULL;

	if (viewer(&u, 2) != 0)
		return;
	start(&r, &u, cid, "first", NULL);
	EXPECT_STATUS(r, 200);
	api_take_str(&sid, &r, "data.sessionId");
	api_free(&r);
	session_call(&r, &u, "/api/v1/stream/stop", sid ? sid : "x");
	api_free(&r);
	start(&r, &u, cid, "second", NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	EXPECT_STR(api_jstr(r.json, "devices.0.deviceId"), "first");
	api_free(&r);
	api_send(&r, "DELETE", "/api/v1/users/devices/first", u.token, NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	start(&r, &u, cid, "second", NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	free(sid);
	api_user_free(&u);
}

static void test_heartbeat_stop_and_remote_end(void)
{
	long long cid = title_at(2, 7);
	api_user u, other;
	api_resp r;
	char *a = NULL, *b = NULL, path[96];

	if (viewer(&u, 3) != 0 || viewer(&other, 3) != 0)
		return;
	start(&r, &u, cid, "a", NULL);
	api_take_str(&a, &r, "data.sessionId");
	api_free(&r);
	start(&r, &u, cid, "b", NULL);
	api_take_str(&b, &r, "data.sessionId");
	api_free(&r);
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", a ? a : "x");
	EXPECT_OK(r, 200);
	api_free(&r);
	/* another user can neither beat nor end it */
	session_call(&r, &other, "/api/v1/content/stream/heartbeat", a ? a : "x");
	EXPECT(r.status == 404 || r.status == 410, "another user's heartbeat: %ld", r.status);
	api_free(&r);
	snprintf(path, sizeof path, "/api/v1/stream/sessions/%s", a ? a : "x");
	api_send(&r, "DELETE", path, other.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", a ? a : "x");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	/* stop, then the heartbeat is 410; remote end likewise */
	session_call(&r, &u, "/api/v1/stream/stop", a ? a : "x");
	EXPECT_OK(r, 200);
	api_free(&r);
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", a ? a : "x");
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	snprintf(path, sizeof path, "/api/v1/stream/sessions/%s", b ? b : "x");
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", b ? b : "x");
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	EXPECT(live_count(&u) == 0, "no live sessions left");
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", "not-a-session");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	free(a);
	free(b);
	api_user_free(&u);
	api_user_free(&other);
}

static void test_stale_session_stops_counting_and_gets_410(void)
{
	long long cid = title_at(1, 3);
	api_user u;
	api_resp r;
	char *sid = NULL;

	if (viewer(&u, 2) != 0)
		return;
	start(&r, &u, cid, "tv", NULL);
	api_take_str(&sid, &r, "data.sessionId");
	api_free(&r);
	/* heartbeats every 2 s keep it live past the 6 s window */
	for (int i = 0; i < 4; i++) {
		sleep(2);
		session_call(&r, &u, "/api/v1/content/stream/heartbeat", sid ? sid : "x");
		EXPECT_STATUS(r, 200);
		api_free(&r);
	}
	sleep(7);
	EXPECT(live_count(&u) == 0, "a stale session no longer counts");
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", sid ? sid : "x");
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	start(&r, &u, cid, "tv", NULL);
	EXPECT_STATUS(r, 200);
	api_free(&r);
	free(sid);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- media */

static long fetch(const char *url, char **body)
{
	api_resp r;
	api_req q;
	long st;

	memset(&q, 0, sizeof q);
	q.method = "GET";
	q.path = url;
	st = api_do(&r, &q);
	if (body)
		*body = r.body ? strdup(r.body) : strdup("");
	api_free(&r);
	return st;
}

static void test_media_is_signed_per_session_and_plan(void)
{
	long long basic = title_at(1, 3), other = title_at(0, 1);
	api_user u;
	api_resp r;
	char *url = NULL, *master = NULL, *variant = NULL, base[1024], seg[1200], bad[1100];
	const char *p;

	if (viewer(&u, 2) != 0)
		return;
	start(&r, &u, basic, "tv", NULL);
	api_take_str(&url, &r, "data.streamUrl");
	api_free(&r);
	if (url == NULL) {
		EXPECT(0, "a stream URL");
		return;
	}
	EXPECT(fetch(url, &master) == 200, "master playlist through the authorizer");
	EXPECT(master && strstr(master, "720p/index.m3u8") && strstr(master, "480p/index.m3u8") &&
	           !strstr(master, "1080p") && !strstr(master, "2160p"),
	       "a Basic master lists 480p and 720p only:\n%s", master ? master : "");
	EXPECT(master && strstr(master, "RESOLUTION=") && strstr(master, "BANDWIDTH="),
	       "RESOLUTION and BANDWIDTH");
	snprintf(base, sizeof base, "%.*s", (int)(strrchr(url, '/') - url), url);
	snprintf(seg, sizeof seg, "%s/720p/index.m3u8", base);
	EXPECT(fetch(seg, &variant) == 200, "variant playlist");
	p = variant ? strstr(variant, "seg_") : NULL;
	if (p) {
		snprintf(seg, sizeof seg, "%s/720p/%.*s", base, (int)strcspn(p, "\r\n"), p);
		EXPECT(fetch(seg, NULL) == 200, "a segment: %s", seg);
	} else {
		EXPECT(0, "the variant lists segments");
	}
	snprintf(seg, sizeof seg, "%s/1080p/index.m3u8", base);
	EXPECT(fetch(seg, NULL) == 403, "1080p on a Basic token is 403");
	/* tampered signature: flip the last hex digit of the token */
	snprintf(bad, sizeof bad, "%s", base);
	{
		char *slash = strrchr(bad, '/'); /* before the content id */
		if (slash && slash > bad) {
			char *c = slash - 1;
			*c = *c == 'a' ? 'b' : 'a';
		}
	}
	snprintf(seg, sizeof seg, "%s/720p/index.m3u8", bad);
	EXPECT(fetch(seg, NULL) == 403, "tampered token is 403");
	/* another title with this token */
	snprintf(bad, sizeof bad, "%.*s/%lld", (int)(strrchr(base, '/') - base), base, other);
	snprintf(seg, sizeof seg, "%s/480p/index.m3u8", bad);
	EXPECT(fetch(seg, NULL) == 403, "another title's media with this token is 403");
	snprintf(seg, sizeof seg, "%s/media/%lld/480p/index.m3u8", api_base(), basic);
	EXPECT(fetch(seg, NULL) == 403, "no token is 403");
	/* the session ends: its token stops working */
	api_get(&r, "/api/v1/stream/sessions", u.token);
	{
		char *sid = NULL;
		api_take_str(&sid, &r, "data.sessions.0.sessionId");
		api_free(&r);
		session_call(&r, &u, "/api/v1/stream/stop", sid ? sid : "x");
		api_free(&r);
		free(sid);
	}
	snprintf(seg, sizeof seg, "%s/720p/index.m3u8", base);
	EXPECT(fetch(seg, NULL) == 403, "an ended session's token is 403");
	free(url);
	free(master);
	free(variant);
	api_user_free(&u);
}

static void test_ultimate_master_lists_all_four(void)
{
	long long cid = title_at(3, 15);
	api_user u;
	api_resp r;
	char *url = NULL, *master = NULL;

	if (viewer(&u, 4) != 0)
		return;
	start(&r, &u, cid, "tv", NULL);
	EXPECT_STR(api_jstr(r.json, "data.quality"), "4K");
	api_take_str(&url, &r, "data.streamUrl");
	api_free(&r);
	EXPECT(url && fetch(url, &master) == 200, "master");
	EXPECT(master && strstr(master, "480p/") && strstr(master, "720p/") &&
	           strstr(master, "1080p/") && strstr(master, "2160p/"),
	       "an Ultimate master lists all four:\n%s", master ? master : "");
	free(url);
	free(master);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- worker */

static int worker(const char *job)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "\"%s\" worker %s >/dev/null 2>&1",
	         getenv("SP_DEV") ? getenv("SP_DEV") : "scripts/dev", job);
	return system(cmd);
}

static void test_worker_sessions_closes_stale_rows(void)
{
	long long cid = title_at(1, 3);
	api_user u;
	api_resp r;
	char *sid = NULL;

	if (viewer(&u, 2) != 0)
		return;
	start(&r, &u, cid, "tv", NULL);
	api_take_str(&sid, &r, "data.sessionId");
	api_free(&r);
	sleep(7);
	EXPECT(worker("sessions") == 0, "sp-worker sessions runs");
	EXPECT(api_db_ll_s("SELECT ended_at IS NOT NULL AND end_reason = 'stale' FROM "
	                   "stream_sessions WHERE id = ?",
	                   sid ? sid : "x") == 1,
	       "the stale session's row is closed as stale");
	free(sid);
	api_user_free(&u);
}

static void test_worker_enforce_ends_the_oldest_over_the_limit(void)
{
	long long cid = title_at(1, 3);
	api_user u;
	api_resp r;
	char *older = NULL, *newer = NULL;

	if (viewer(&u, 3) != 0)
		return;
	start(&r, &u, cid, "a", NULL);
	api_take_str(&older, &r, "data.sessionId");
	api_free(&r);
	start(&r, &u, cid, "b", NULL);
	api_take_str(&newer, &r, "data.sessionId");
	api_free(&r);
	/* down to Basic: one screen */
	api_send(&r, "POST", "/api/v1/subscriptions/subscribe", u.token,
	         "{\"planId\":2,\"paymentMethod\":\"card\"}");
	EXPECT_STATUS(r, 201);
	api_free(&r);
	EXPECT(worker("enforce") == 0, "sp-worker enforce runs");
	EXPECT(live_count(&u) == 1, "one stream left after enforce");
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", newer ? newer : "x");
	EXPECT_STATUS(r, 200);
	api_free(&r);
	session_call(&r, &u, "/api/v1/content/stream/heartbeat", older ? older : "x");
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM outbox WHERE event_type = 'stream.limit_exceeded' "
	                   "AND user_id = ?",
	                   u.id) == 1,
	       "one stream.limit_exceeded event");
	free(older);
	free(newer);
	api_user_free(&u);
}

int api_suite_streaming(void)
{
	CU_pSuite s = CU_add_suite("streaming", NULL, NULL);

	if (s == NULL)
		return -1;
	CU_add_test(s, "test_start_answers_the_contract_shape_and_caps_quality",
	            test_start_answers_the_contract_shape_and_caps_quality);
	CU_add_test(s, "test_tier_above_the_plan_is_refused", test_tier_above_the_plan_is_refused);
	CU_add_test(s, "test_same_device_replaces_its_own_session",
	            test_same_device_replaces_its_own_session);
	CU_add_test(s, "test_concurrent_limit_lists_sessions_and_actions",
	            test_concurrent_limit_lists_sessions_and_actions);
	CU_add_test(s, "test_device_limit_counts_registered_devices",
	            test_device_limit_counts_registered_devices);
	CU_add_test(s, "test_heartbeat_stop_and_remote_end", test_heartbeat_stop_and_remote_end);
	CU_add_test(s, "test_stale_session_stops_counting_and_gets_410",
	            test_stale_session_stops_counting_and_gets_410);
	CU_add_test(s, "test_media_is_signed_per_session_and_plan",
	            test_media_is_signed_per_session_and_plan);
	CU_add_test(s, "test_ultimate_master_lists_all_four", test_ultimate_master_lists_all_four);
	CU_add_test(s, "test_worker_sessions_closes_stale_rows",
	            test_worker_sessions_closes_stale_rows);
	CU_add_test(s, "test_worker_enforce_ends_the_oldest_over_the_limit",
	            test_worker_enforce_ends_the_oldest_over_the_limit);
	CU_add_test(s, "test_race_of_fifty_starts_admits_exactly_the_limit",
	            test_race_of_fifty_starts_admits_exactly_the_limit);
	CU_add_test(s, "test_race_without_redis_is_exact_and_survives_its_return",
	            test_race_without_redis_is_exact_and_survives_its_return);
	return 0;
}
