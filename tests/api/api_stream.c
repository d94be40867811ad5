/*
 * Streaming, as a player sees it: starting a stream (shape, quality cap,
 * tiers), the device and concurrent-stream limits (exact under a 50-way
 * race, with Redis and without it, and across its return), heartbeats, stop
 * and remote end, staleness, the worker jobs that tidy and enforce, the
 * per-user start rate limit, and the signed HLS media the web server checks
 * on every playlist and segment request.
 */
#include "api_client.h"

#include "sp_config.h"
#include "sp_media.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define API       "/api/v1"
#define HEARTBEAT API "/content/stream/heartbeat"
#define STOP      API "/stream/stop"
#define SESSIONS  API "/stream/sessions"
#define DEVICES   API "/users/devices"

/* plans as seeded */
#define PLAN_FREE     1
#define PLAN_BASIC    2
#define PLAN_PREMIUM  3
#define PLAN_ULTIMATE 4

/* ---------------------------------------------------------------- helpers */

static int is_sid(const char *s)
{
	if (s == NULL || strlen(s) != 32)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return 1;
}

static const char *or_x(const char *s)
{
	return s ? s : "x";
}

/* Another active title at this level, not skip. */
static long long another_title(int level, long long skip)
{
	char sql[256];
	long long id;

	snprintf(sql, sizeof sql,
	         "SELECT id FROM content WHERE is_active = 1 AND access_level = ? AND id <> %lld "
	         "ORDER BY id LIMIT 1",
	         skip);
	id = api_db_ll_l(sql, level);
	EXPECT(id > 0, "a second active title at level %d exists", level);
	return id > 0 ? id : 1;
}

static long session_post(api_resp *r, const api_user *u, const char *path, const char *sid,
                         long pos)
{
	char body[160];

	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":%ld}", or_x(sid),
	         pos);
	return api_send(r, "POST", path, u->token, body);
}

static long beat(api_resp *r, const api_user *u, const char *sid)
{
	return session_post(r, u, HEARTBEAT, sid, 30);
}

/* Heartbeat; the status only. */
static long beat_status(const api_user *u, const char *sid, char *body, size_t n)
{
	api_resp r;
	long st = beat(&r, u, sid);

	if (body)
		snprintf(body, n, "%.300s", r.body);
	api_free(&r);
	return st;
}

static long end_remote(api_resp *r, const api_user *u, const char *sid)
{
	char path[128];

	snprintf(path, sizeof path, SESSIONS "/%s", or_x(sid));
	return api_send(r, "DELETE", path, u->token, NULL);
}

/* The caller's live sessions, from GET /stream/sessions. */
typedef struct live_set {
	long status;
	int count; /* the "count" field; -1 absent */
	int n;     /* sessions[] length */
	char ids[16][33];
	char body[600];
} live_set;

static void live(const api_user *u, live_set *out)
{
	api_resp r;
	json_object *arr;

	memset(out, 0, sizeof *out);
	api_get(&r, SESSIONS, u->token);
	out->status = r.status;
	out->count = (int)api_jint(r.json, "count");
	arr = api_jget(r.json, "data.sessions");
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) &&
	                   i < json_object_array_length(arr) && i < 16;
	     i++) {
		const char *id = api_jstr(json_object_array_get_idx(arr, i), "sessionId");
		snprintf(out->ids[out->n++], 33, "%s", id ? id : "");
	}
	snprintf(out->body, sizeof out->body, "%.590s", r.body);
	api_free(&r);
}

static int live_has(const live_set *l, const char *sid)
{
	for (int i = 0; sid && i < l->n; i++)
		if (strcmp(l->ids[i], sid) == 0)
			return 1;
	return 0;
}

/* Live sessions are exactly these (order free). */
static int live_is(const live_set *l, const char *const *ids, int n)
{
	if (l->status != 200 || l->count != n || l->n != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (!live_has(l, ids[i]))
			return 0;
	return 1;
}

/* Open (ended_at NULL) stream_sessions rows of a user in MariaDB. */
static long long open_rows(const api_user *u)
{
	return api_db_ll_s(
	    "SELECT COUNT(*) FROM stream_sessions WHERE user_id = ? AND ended_at IS NULL", u->id);
}

static long long all_rows(const api_user *u)
{
	return api_db_ll_s("SELECT COUNT(*) FROM stream_sessions WHERE user_id = ?", u->id);
}

static long long start_events(const api_user *u)
{
	return api_db_ll_s(
	    "SELECT COUNT(*) FROM watch_events WHERE user_id = ? AND event = 'start'", u->id);
}

/*
 * After "$SP_DEV" start redis: each program retries Redis at most once a second
 * after a failure, so wait that out; then a stream request must show a counted
 * (not failed-open) rate limit, i.e. Redis is in use again. 0 when it is.
 */
static int redis_in_use(const api_user *u)
{
	double t0 = api_now_s();
	int used = 0;

	api_sleep_s(1.3);
	while (!used && api_now_s() - t0 < 6) {
		api_resp r;
		const char *lim, *rem;
		api_get(&r, SESSIONS, u->token);
		lim = api_hdr(&r, "X-RateLimit-Limit");
		rem = api_hdr(&r, "X-RateLimit-Remaining");
		used = r.status == 200 && lim && rem && atol(rem) < atol(lim);
		api_free(&r);
		if (!used)
			api_sleep_s(0.2);
	}
	EXPECT(used, "after Redis restarted the stream API counts rate limits in Redis again "
	             "(X-RateLimit-Remaining below the limit) within 6 s");
	return used ? 0 : -1;
}

static void test_heartbeat_bad_bodies_count_toward_the_rate_limit(void)
{
	api_user u;
	api_resp r;
	int n400 = 0, n429 = 0, other = 0, sent;

	if (api_viewer(&u, "st-hb-flood", PLAN_FREE) != 0)
		return;
	/* the authenticated limit is 500 per 15 minutes: every request counts, a bad body too */
	for (sent = 0; sent < 520 && n429 == 0; sent++) {
		api_send(&r, "POST", HEARTBEAT, u.token, "{\"sessionId\":");
		if (r.status == 400)
			n400++;
		else if (r.status == 429) {
			n429++;
			EXPECT_ERROR(r, 429, "RATE_LIMITED");
			EXPECT(api_hdr(&r, "Retry-After") != NULL, "the 429 carries Retry-After");
		} else
			other++;
		api_free(&r);
	}
	EXPECT(n429 == 1 && n400 <= 500 && other == 0,
	       "heartbeats with malformed bodies past the limit: expected a 429 after at most "
	       "500, got %d x 400, %d x 429, %d other in %d requests",
	       n400, n429, other, sent);
	api_user_free(&u);
}

static void test_heartbeat_position_out_of_integer_range_is_400(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *sid = NULL, body[200];
	static const char *const huge[] = {"1e300", "-1e300", "9.3e18", "1e19"};

	if (api_viewer(&u, "st-hb-huge", PLAN_PREMIUM) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "huge", NULL, NULL, NULL);
	for (size_t i = 0; i < 4; i++) {
		snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":%s}",
		         or_x(sid), huge[i]);
		api_send(&r, "POST", HEARTBEAT, u.token, body);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "playbackPosition"),
		       "playbackPosition %s: errors[] names playbackPosition: %.300s", huge[i],
		       r.body);
		api_free(&r);
	}
	/* a fraction in range is still cut to whole seconds */
	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":75.9}", or_x(sid));
	api_send(&r, "POST", HEARTBEAT, u.token, body);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.playbackPosition") == 75,
	       "playbackPosition 75.9 is answered as 75: %.300s", r.body);
	api_free(&r);
	free(sid);
	api_user_free(&u);
}

/* 1 when s is well-formed UTF-8. */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80             ? 0
		        : (*p & 0xE0) == 0xC0 ? 1
		        : (*p & 0xF0) == 0xE0 ? 2
		        : (*p & 0xF8) == 0xF0 ? 3
		                              : -1;
		if (n < 0)
			return 0;
		p++;
		for (int k = 0; k < n; k++, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

static void test_start_with_long_multibyte_device_name_keeps_valid_utf8(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char path[96], name[400] = "", body[600];
	const char *got;

	if (api_viewer(&u, "st-utf8", PLAN_PREMIUM) != 0)
		return;
	/* 100 characters of three bytes each: allowed, 300 bytes */
	for (int i = 0; i < 100; i++)
		strcat(name, "\xe2\x82\xac");
	snprintf(path, sizeof path, API "/content/%lld/stream", cid);
	snprintf(body, sizeof body,
	         "{\"deviceId\":\"utf8-tv\",\"deviceName\":\"%s\",\"deviceType\":\"tv\"}", name);
	api_send(&r, "POST", path, u.token, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_get(&r, SESSIONS, u.token);
	EXPECT_OK(r, 200);
	got = api_jstr(r.json, "data.sessions.0.deviceName");
	EXPECT(got && *got && utf8_ok(got) && strncmp(name, got, strlen(got)) == 0,
	       "the session's deviceName is a valid UTF-8 prefix of the name sent: %.300s", r.body);
	api_free(&r);
	api_get(&r, DEVICES, u.token);
	EXPECT_OK(r, 200);
	got = api_jstr(r.json, "data.devices.0.deviceName");
	EXPECT(got && *got && utf8_ok(got) && strncmp(name, got, strlen(got)) == 0,
	       "the registered device's name is a valid UTF-8 prefix of the name sent: %.300s",
	       r.body);
	api_free(&r);
	api_user_free(&u);
}

static void test_ending_a_session_answers_playback_position_null(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *sid = NULL;

	if (api_viewer(&u, "st-end-null", PLAN_PREMIUM) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "end-null", NULL, NULL, NULL);
	end_remote(&r, &u, sid);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.status"), "ended");
	EXPECT(api_jnull(r.json, "data.playbackPosition"),
	       "DELETE /stream/sessions/:id answers playbackPosition null (none is given): %.300s",
	       r.body);
	api_free(&r);
	free(sid);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- media */

/* A raw GET of a media URL (the path exactly as given: no dot-segment folding). */
typedef struct media_resp {
	long status;
	char ctype[128];
	api_buf body;
	char url[1200];
} media_resp;

static size_t m_hdr(char *p, size_t sz, size_t nm, void *ud)
{
	media_resp *m = ud;
	size_t n = sz * nm, l = n;

	if (n > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
		const char *v = p + 13;
		while (*v == ' ')
			v++;
		while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
			l--;
		snprintf(m->ctype, sizeof m->ctype, "%.*s", (int)(p + l - v), v);
	}
	return n;
}

static long media_get(media_resp *m, const char *url)
{
	CURL *c = curl_easy_init();

	memset(m, 0, sizeof *m);
	m->body.data = calloc(1, 1);
	snprintf(m->url, sizeof m->url, "%s", url);
	if (c == NULL)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, m_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, m);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &m->status);
	curl_easy_cleanup(c);
	return m->status;
}

static void media_free(media_resp *m)
{
	free(m->body.data);
	m->body.data = NULL;
}

/* The status of a media GET; expect want, with the URL and what came back when it differs. */
static void expect_media(const char *url, long want, const char *what, int line)
{
	media_resp m;

	media_get(&m, url);
	api_assert(m.status == want, line, __FILE__,
	           "%s: GET %.400s expected %ld, got %ld (%zu bytes, %s)%s%.120s", what, url, want,
	           m.status, m.body.len, m.ctype[0] ? m.ctype : "no content type",
	           m.body.len && m.body.data[0] == '#' ? ": " : "",
	           m.body.len && m.body.data[0] == '#' ? m.body.data : "");
	media_free(&m);
}
#define EXPECT_MEDIA(url, want, what) expect_media((url), (want), (what), __LINE__)

/* The parts of a streamUrl ".../media/t/<token>/<cid>/<master>". */
typedef struct media_url {
	char prefix[512]; /* ".../media/t/" */
	char token[256];
	char base[1024];        /* ".../media/t/<token>/<cid>" */
	char master[64];        /* "master-1-1.m3u8" */
	char sig_flipped[1024]; /* base with one hex digit of the signature changed */
} media_url;

static int split_url(const char *url, media_url *u)
{
	const char *t, *slash, *last;

	memset(u, 0, sizeof *u);
	if (url == NULL || (t = strstr(url, "/media/t/")) == NULL)
		return -1;
	t += 9;
	slash = strchr(t, '/');
	last = strrchr(url, '/');
	if (slash == NULL || last == NULL || last <= slash)
		return -1;
	snprintf(u->prefix, sizeof u->prefix, "%.*s", (int)(t - url), url);
	snprintf(u->token, sizeof u->token, "%.*s", (int)(slash - t), t);
	snprintf(u->base, sizeof u->base, "%.*s", (int)(last - url), url);
	snprintf(u->master, sizeof u->master, "%s", last + 1);
	snprintf(u->sig_flipped, sizeof u->sig_flipped, "%s", u->base);
	{
		/* the signature is the token's last dot-separated part: flip its 10th digit */
		char *tok = u->sig_flipped + (t - url);
		char *end = strchr(tok, '/');
		char *dot;
		*end = '\0';
		dot = strrchr(tok, '.');
		*end = '/';
		if (dot == NULL || end - dot < 12)
			return -1;
		dot[10] = dot[10] == '0' ? '1' : '0';
	}
	return 0;
}

/* The URIs of a master playlist's #EXT-X-STREAM-INF entries, in order; n found. Each INF
 * line is checked for RESOLUTION= and BANDWIDTH= (bad counts those without). */
static int master_uris(const char *body, char uris[8][64], int *bad)
{
	const char *p = body;
	int n = 0, want_uri = 0;

	*bad = 0;
	while (p && *p) {
		size_t l = strcspn(p, "\r\n");
		if (l > 0) {
			if (strncmp(p, "#EXT-X-STREAM-INF:", 18) == 0) {
				char line[512];
				snprintf(line, sizeof line, "%.*s", (int)l, p);
				if (!strstr(line, "RESOLUTION=") || !strstr(line, "BANDWIDTH="))
					(*bad)++;
				want_uri = 1;
			} else if (p[0] != '#' && want_uri && n < 8) {
				snprintf(uris[n++], 64, "%.*s", (int)(l < 63 ? l : 63), p);
				want_uri = 0;
			}
		}
		p += l;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	return n;
}

/* The first URI (a non-comment line) of a media playlist into out; 0 found. */
static int first_segment(const char *body, char *out, size_t n)
{
	const char *p = body;

	while (p && *p) {
		size_t l = strcspn(p, "\r\n");
		if (l > 0 && p[0] != '#') {
			snprintf(out, n, "%.*s", (int)l, p);
			return 0;
		}
		p += l;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	return -1;
}

static int has_uri(char uris[8][64], int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (strcmp(uris[i], want) == 0)
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- the race */

enum { RACERS = 50 };

struct racer {
	pthread_barrier_t *go;
	const char *token;
	long long cid;
	int n;
	const char *tag;
	long status;
	char code[48];
	char sid[33];
	char err[128];
};

/* One start from its own device and handle, released with the others. */
static void *racer_run(void *arg)
{
	struct racer *x = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	api_buf g = {NULL, 0};
	char url[256], auth[2200], body[200], xff[64];
	json_object *o;
	CURLcode rc;

	if (c == NULL) {
		snprintf(x->err, sizeof x->err, "curl_easy_init failed");
		pthread_barrier_wait(x->go);
		return NULL;
	}
	snprintf(url, sizeof url, "%s" API "/content/%lld/stream", api_base(), x->cid);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", x->token);
	snprintf(body, sizeof body,
	         "{\"deviceId\":\"%s-%d\",\"deviceName\":\"Racer %d\",\"deviceType\":\"phone\"}",
	         x->tag, x->n, x->n);
	snprintf(xff, sizeof xff, "X-Forwarded-For: 198.19.%d.%d", 100 + x->n / 250,
	         x->n % 250 + 1);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, xff);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	pthread_barrier_wait(x->go);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	else
		snprintf(x->err, sizeof x->err, "%s", curl_easy_strerror(rc));
	o = g.data ? json_tokener_parse(g.data) : NULL;
	if (o) {
		const char *code = api_jstr(o, "code"), *sid = api_jstr(o, "data.sessionId");
		snprintf(x->code, sizeof x->code, "%s", code ? code : "");
		snprintf(x->sid, sizeof x->sid, "%s", sid ? sid : "");
		json_object_put(o);
	} else if (g.data) {
		snprintf(x->err, sizeof x->err, "%.120s", g.data);
	}
	free(g.data);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

typedef struct race_result {
	int ok, limited, other;
	char ok_ids[RACERS][33];
	char other_desc[200]; /* the first unexpected answer */
} race_result;

/* RACERS starts for one account, each from its own device, released together by a barrier. */
static void race(const api_user *u, long long cid, const char *tag, race_result *res)
{
	pthread_t t[RACERS];
	struct racer x[RACERS];
	pthread_barrier_t go;
	int started = 0;

	memset(res, 0, sizeof *res);
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		memset(&x[i], 0, sizeof x[i]);
		x[i].go = &go;
		x[i].token = u->token;
		x[i].cid = cid;
		x[i].n = i;
		x[i].tag = tag;
	}
	for (int i = 0; i < RACERS; i++) {
		if (pthread_create(&t[i], NULL, racer_run, &x[i]) != 0)
			break;
		started++;
	}
	if (started < RACERS) {
		/* cannot release a partial barrier: report and let none run */
		EXPECT(0, "only %d of %d race threads could be created", started, RACERS);
		for (int i = started; i < RACERS; i++)
			pthread_barrier_wait(&go);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < started; i++) {
		if (x[i].status == 200 && is_sid(x[i].sid)) {
			snprintf(res->ok_ids[res->ok++], 33, "%s", x[i].sid);
		} else if (x[i].status == 429 &&
		           strcmp(x[i].code, "CONCURRENT_LIMIT_EXCEEDED") == 0) {
			res->limited++;
		} else {
			if (res->other++ == 0)
				snprintf(res->other_desc, sizeof res->other_desc,
				         "device %s-%d: status %ld code %s %s", tag, i, x[i].status,
				         x[i].code[0] ? x[i].code : "-", x[i].err);
		}
	}
}

/* ---------------------------------------------------------------- start */

static void test_start_returns_stream_url_session_and_counts(void)
{
	long long cid = api_title(2, 4);
	api_user u;
	api_resp r;
	const char *url, *sid, *tok, *exp;
	char *first = NULL, *second = NULL, prefix[300];
	long long exp_ms;
	live_set l;

	if (api_viewer(&u, "st-shape", PLAN_PREMIUM) != 0)
		return;
	api_stream_start(&r, &u, cid, "living-room", NULL, "4K");
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	url = api_jstr(r.json, "data.streamUrl");
	sid = api_jstr(r.json, "data.sessionId");
	tok = api_jstr(r.json, "data.sessionToken");
	exp = api_jstr(r.json, "data.expiresAt");
	snprintf(prefix, sizeof prefix, "%s/media/", api_base());
	EXPECT(url && strncmp(url, prefix, strlen(prefix)) == 0 && strstr(url, ".m3u8"),
	       "POST /content/%lld/stream: streamUrl should be an absolute URL of an HLS playlist "
	       "under %s, got %s",
	       cid, prefix, url ? url : "(none)");
	EXPECT(is_sid(sid), "sessionId should be 32 hex characters, got %s", sid ? sid : "(none)");
	EXPECT(tok && strlen(tok) >= 16, "sessionToken should be a token string, got %s",
	       tok ? tok : "(none)");
	exp_ms = api_iso_ms(exp);
	EXPECT(exp_ms > (long long)time(NULL) * 1000,
	       "expiresAt should be an ISO 8601 UTC time with ms in the future, got %s",
	       exp ? exp : "(none)");
	EXPECT_STR(api_jstr(r.json, "data.quality"), "1080p");
	EXPECT(api_jint(r.json, "data.maxConcurrentStreams") == 2,
	       "Premium: maxConcurrentStreams should be 2, got %s",
	       json_object_to_json_string(api_jget(r.json, "data.maxConcurrentStreams")));
	EXPECT(api_jint(r.json, "data.currentStreams") == 1,
	       "first stream: currentStreams should be 1, got %s",
	       json_object_to_json_string(api_jget(r.json, "data.currentStreams")));
	api_take_str(&first, &r, "data.sessionId");
	api_free(&r);

	api_stream_start(&r, &u, cid, "phone", NULL, "480p");
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.currentStreams") == 2,
	       "second device: currentStreams should be 2, got %s",
	       json_object_to_json_string(api_jget(r.json, "data.currentStreams")));
	api_take_str(&second, &r, "data.sessionId");
	EXPECT(first && second && strcmp(first, second) != 0, "two starts get two session ids");
	api_free(&r);

	live(&u, &l);
	{
		const char *ids[] = {or_x(first), or_x(second)};
		EXPECT(
		    live_is(&l, ids, 2),
		    "GET /stream/sessions should list exactly the 2 started sessions %s, %s; got "
		    "%ld %s",
		    or_x(first), or_x(second), l.status, l.body);
	}
	free(first);
	free(second);
	api_user_free(&u);
}

static void expect_quality(const api_user *u, long long cid, const char *ask, const char *want,
                           const char *who)
{
	api_resp r;

	api_stream_start(&r, u, cid, "q-screen", NULL, ask);
	EXPECT_OK(r, 200);
	EXPECT(api_streq(api_jstr(r.json, "data.quality"), want),
	       "%s on title %lld asking %s: quality should be %s, got %s", who, cid, ask, want,
	       api_jstr(r.json, "data.quality") ? api_jstr(r.json, "data.quality") : "(none)");
	api_free(&r);
}

static void test_start_caps_quality_at_plan_and_title_renditions(void)
{
	long long free_t = api_title(0, 1), basic_t = api_title(1, 2), premium_t = api_title(2, 4),
	          ultimate_t = api_title(3, 8);
	api_user f, b, p, x;

	if (api_viewer(&f, "q-free", PLAN_FREE) != 0 ||
	    api_viewer(&b, "q-basic", PLAN_BASIC) != 0 ||
	    api_viewer(&p, "q-premium", PLAN_PREMIUM) != 0 ||
	    api_viewer(&x, "q-ultimate", PLAN_ULTIMATE) != 0)
		return;
	/* the plan caps */
	expect_quality(&p, premium_t, "4K", "1080p", "Premium");
	expect_quality(&p, premium_t, "1080p", "1080p", "Premium");
	expect_quality(&p, premium_t, "720p", "720p", "Premium");
	expect_quality(&p, premium_t, "480p", "480p", "Premium");
	expect_quality(&b, basic_t, "1080p", "720p", "Basic");
	expect_quality(&b, basic_t, "4K", "720p", "Basic");
	expect_quality(&f, free_t, "720p", "480p", "Free");
	expect_quality(&x, ultimate_t, "4K", "4K", "Ultimate");
	/* the title caps: a title without 1080p or 4K is never granted them */
	if (api_db_ll_l("SELECT renditions FROM content WHERE id = ?", basic_t) == 3)
		expect_quality(&x, basic_t, "4K", "720p", "Ultimate (title has 480p and 720p)");
	if (api_db_ll_l("SELECT renditions FROM content WHERE id = ?", free_t) == 1)
		expect_quality(&x, free_t, "1080p", "480p", "Ultimate (title has 480p only)");
	api_user_free(&f);
	api_user_free(&b);
	api_user_free(&p);
	api_user_free(&x);
}

static void test_start_above_plan_level_is_403_tier_too_low_or_subscription_required(void)
{
	long long free_t = api_title(0, 1), basic_t = api_title(1, 1), premium_t = api_title(2, 1),
	          ultimate_t = api_title(3, 1);
	api_user f, b, p;
	api_resp r;

	if (api_viewer(&f, "tier-free", PLAN_FREE) != 0 ||
	    api_viewer(&b, "tier-basic", PLAN_BASIC) != 0 ||
	    api_viewer(&p, "tier-premium", PLAN_PREMIUM) != 0)
		return;
	api_stream_start(&r, &f, basic_t, "tv", NULL, NULL);
	EXPECT_ERROR(r, 403, "SUBSCRIPTION_REQUIRED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_stream_start(&r, &f, ultimate_t, "tv", NULL, NULL);
	EXPECT_ERROR(r, 403, "SUBSCRIPTION_REQUIRED");
	api_free(&r);
	api_stream_start(&r, &b, premium_t, "tv", NULL, NULL);
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	api_stream_start(&r, &b, ultimate_t, "tv", NULL, NULL);
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	api_stream_start(&r, &p, ultimate_t, "tv", NULL, NULL);
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	EXPECT(all_rows(&f) == 0 && all_rows(&b) == 0 && all_rows(&p) == 0,
	       "refused starts write no stream_sessions rows (free %lld, basic %lld, premium %lld)",
	       all_rows(&f), all_rows(&b), all_rows(&p));
	/* what the level allows plays */
	api_stream_start(&r, &f, free_t, "tv", NULL, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_stream_start(&r, &p, premium_t, "tv", NULL, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_user_free(&f);
	api_user_free(&b);
	api_user_free(&p);
}

static void test_start_rejects_bad_input_unknown_or_inactive_content_and_no_token(void)
{
	long long cid = api_title(1, 1);
	api_user u, admin;
	api_resp r;
	char path[96];

	if (api_viewer(&u, "st-bad", PLAN_ULTIMATE) != 0)
		return;
	snprintf(path, sizeof path, API "/content/%lld/stream", cid);
	api_send(&r, "POST", path, u.token, "{\"deviceName\":\"TV\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "deviceId"), "missing deviceId: errors[] names deviceId: %s",
	       r.body);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "POST", path, u.token, "{\"deviceId\":\"tv\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "deviceName"),
	       "missing deviceName: errors[] names deviceName: %s", r.body);
	api_free(&r);
	api_send(&r, "POST", path, u.token, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "deviceId") && api_has_error_field(&r, "deviceName"),
	       "empty body: errors[] names deviceId and deviceName: %s", r.body);
	api_free(&r);
	api_stream_start(&r, &u, cid, "tv", NULL, "8K");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "quality"), "quality 8K: errors[] names quality: %s",
	       r.body);
	api_free(&r);
	EXPECT(all_rows(&u) == 0, "invalid starts write no stream_sessions rows (got %lld)",
	       all_rows(&u));

	api_stream_start(&r, &u, 987654321, "tv", NULL, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);

	api_send(&r, "POST", path, NULL, "{\"deviceId\":\"tv\",\"deviceName\":\"TV\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);

	/* an inactive title: created by the admin, started once, then deactivated */
	if (api_admin_login(&admin) == 0) {
		const char *body =
		    "{\"title\":\"Stream Test Inactive\",\"description\":\"A title that is "
		    "switched off\",\"type\":\"movie\",\"genre\":[\"Drama\"],\"accessLevel\":"
		    "\"Free\",\"duration\":90,\"releaseDate\":\"2024-01-01\",\"language\":\"en\","
		    "\"resolution\":[\"480p\"]}";
		long long id = -1;
		api_send(&r, "POST", API "/content", admin.token, body);
		EXPECT_STATUS(r, 201);
		if (api_jstr(r.json, "data.content.id"))
			id = atoll(api_jstr(r.json, "data.content.id"));
		api_free(&r);
		if (id > 0) {
			api_stream_start(&r, &u, id, "tv", NULL, NULL);
			EXPECT_OK(r, 200);
			api_free(&r);
			snprintf(path, sizeof path, API "/content/%lld", id);
			api_send(&r, "DELETE", path, admin.token, NULL);
			EXPECT_STATUS(r, 200);
			api_free(&r);
			api_stream_start(&r, &u, id, "tv", NULL, NULL);
			EXPECT_ERROR(r, 404, "NOT_FOUND");
			api_free(&r);
		}
		api_user_free(&admin);
	}
	api_user_free(&u);
}

static void test_start_writes_session_and_watch_event_rows_and_stop_closes_it(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *a = NULL, *b = NULL;
	long long events;

	if (api_viewer(&u, "st-rows", PLAN_PREMIUM) != 0)
		return;
	a = api_stream_start_ok(&u, cid, "den", NULL, NULL, NULL);
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM stream_sessions WHERE id = ? AND ended_at IS NULL",
	                   or_x(a)) == 1,
	       "a started session %s has an open stream_sessions row", or_x(a));
	{
		char *owner =
		    api_db_str_s("SELECT CONCAT(user_id, '/', content_id, '/', device_id) "
		                 "FROM stream_sessions WHERE id = ?",
		                 or_x(a));
		char want[160];
		snprintf(want, sizeof want, "%s/%lld/den", u.id, cid);
		EXPECT(api_streq(owner, want),
		       "stream_sessions row of %s: user/content/device should be %s, got %s",
		       or_x(a), want, owner ? owner : "(none)");
		free(owner);
	}
	EXPECT(start_events(&u) == 1, "one start: one watch_events 'start' row, got %lld",
	       start_events(&u));
	b = api_stream_start_ok(&u, cid, "kitchen", NULL, NULL, NULL);
	EXPECT(start_events(&u) == 2, "two starts: two watch_events 'start' rows, got %lld",
	       start_events(&u));
	EXPECT(open_rows(&u) == 2, "two starts: two open stream_sessions rows, got %lld",
	       open_rows(&u));

	/* a refused start writes neither */
	api_stream_start(&r, &u, cid, "garage", NULL, NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	api_free(&r);
	events = start_events(&u);
	EXPECT(events == 2 && all_rows(&u) == 2,
	       "a start refused with 429 writes no watch event or session row (events %lld, rows "
	       "%lld)",
	       events, all_rows(&u));

	session_post(&r, &u, STOP, a, 42);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT(api_db_ll_s("SELECT ended_at IS NOT NULL AND position_seconds = 42 FROM "
	                   "stream_sessions WHERE id = ?",
	                   or_x(a)) == 1,
	       "POST /stream/stop {playbackPosition:42}: the row of %s has ended_at set and "
	       "position 42",
	       or_x(a));
	EXPECT(open_rows(&u) == 1, "after a stop one open row is left, got %lld", open_rows(&u));
	free(a);
	free(b);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- devices and limits */

static void test_same_device_start_replaces_its_own_session(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *old = NULL, *now = NULL, *other = NULL, body[320];
	live_set l;

	if (api_viewer(&u, "st-same", PLAN_PREMIUM) != 0)
		return;
	old = api_stream_start_ok(&u, cid, "tablet", NULL, NULL, NULL);
	api_stream_start(&r, &u, cid, "tablet", NULL, NULL);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.currentStreams") == 1,
	       "the same device starting again: currentStreams should stay 1, got %lld",
	       api_jint(r.json, "data.currentStreams"));
	api_take_str(&now, &r, "data.sessionId");
	api_free(&r);
	EXPECT(now && old && strcmp(now, old) != 0, "the restart gets a new session id");
	live(&u, &l);
	{
		const char *ids[] = {or_x(now)};
		EXPECT(live_is(&l, ids, 1),
		       "GET /stream/sessions: exactly the device's new session %s, got %ld %s",
		       or_x(now), l.status, l.body);
	}
	EXPECT(beat_status(&u, old, body, sizeof body) == 410,
	       "heartbeat of the replaced session %s: expected 410, got %s", or_x(old), body);
	EXPECT(beat_status(&u, now, body, sizeof body) == 200,
	       "heartbeat of the replacing session: expected 200, got %s", body);
	EXPECT(open_rows(&u) == 1, "one open stream_sessions row after a replacement, got %lld",
	       open_rows(&u));
	/* the replacement never took a second slot: another device still fits */
	other = api_stream_start_ok(&u, cid, "laptop", NULL, NULL, NULL);
	EXPECT(other != NULL, "a second device still starts after a replacement");
	free(old);
	free(now);
	free(other);
	api_user_free(&u);
}

static void test_new_device_beyond_plan_is_403_until_a_device_is_removed(void)
{
	long long cid = api_title(1, 1);
	api_user u;
	api_resp r;
	char *first = NULL, *second = NULL;

	if (api_viewer(&u, "st-dev", PLAN_BASIC) != 0)
		return;
	first = api_stream_start_ok(&u, cid, "tv-one", NULL, NULL, NULL);
	api_stream_start(&r, &u, cid, "phone-two", NULL, NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_jlen(r.json, "devices") == 1 &&
	           api_streq(api_jstr(r.json, "devices.0.deviceId"), "tv-one"),
	       "DEVICE_LIMIT_REACHED lists the registered device tv-one in devices[]: %s", r.body);
	api_free(&r);
	/* a stopped session's device stays registered */
	session_post(&r, &u, STOP, first, 5);
	EXPECT_OK(r, 200);
	api_free(&r);
	api_stream_start(&r, &u, cid, "phone-two", NULL, NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	EXPECT(api_streq(api_jstr(r.json, "devices.0.deviceId"), "tv-one"),
	       "after the stop the device is still registered: %s", r.body);
	api_free(&r);
	api_get(&r, DEVICES, u.token);
	EXPECT(r.status == 200 && api_streq(api_jstr(r.json, "data.devices.0.deviceId"), "tv-one"),
	       "GET /users/devices lists tv-one: %ld %s", r.status, r.body);
	api_free(&r);
	api_send(&r, "DELETE", DEVICES "/tv-one", u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	second = api_stream_start_ok(&u, cid, "phone-two", NULL, NULL, NULL);
	EXPECT(second != NULL, "after DELETE /users/devices/tv-one the new device starts");
	/* the slot moved: the old device is now the new one */
	session_post(&r, &u, STOP, second, 5);
	api_free(&r);
	api_stream_start(&r, &u, cid, "tv-one", NULL, NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	api_free(&r);
	free(first);
	free(second);
	api_user_free(&u);
}

/* Checks a CONCURRENT_LIMIT_EXCEEDED body against the live ids; upgrade: the expected planId
 * or NULL when no upgrade action may appear. */
static void check_limit_body(const api_resp *r, int max, const char *const *ids, int n,
                             const char *upgrade)
{
	char want[96];
	json_object *devs = api_jget(r->json, "activeDevices");
	json_object *acts = api_jget(r->json, "actions");
	int terminate = 0, upgrades = 0, matched = 0, bad_dev = 0, bad_label = 0;
	const char *plan = NULL;

	snprintf(want, sizeof want, "Maximum %d concurrent streams allowed", max);
	EXPECT(api_streq(api_jstr(r->json, "message"), want), "429 message should be \"%s\": %s",
	       want, r->body);
	EXPECT(api_jlen(r->json, "activeDevices") == (size_t)n,
	       "activeDevices[] should have %d entries: %.500s", n, r->body);
	for (size_t i = 0; devs && i < api_jlen(r->json, "activeDevices"); i++) {
		json_object *d = json_object_array_get_idx(devs, i);
		const char *sid = api_jstr(d, "sessionId");
		const char *name = api_jstr(d, "deviceName");
		int hit = 0;
		for (int k = 0; k < n; k++)
			hit |= api_streq(sid, ids[k]);
		matched += hit;
		if (!hit || name == NULL || strncmp(name, "Screen ", 7) != 0 ||
		    api_iso_ms(api_jstr(d, "startedAt")) < 0)
			bad_dev++;
	}
	EXPECT(matched == n && bad_dev == 0,
	       "activeDevices[] should be the %d live sessions, each {sessionId, deviceName, "
	       "startedAt (ISO ms)}: %.600s",
	       n, r->body);
	matched = 0;
	for (size_t i = 0; acts && i < api_jlen(r->json, "actions"); i++) {
		json_object *a = json_object_array_get_idx(acts, i);
		const char *act = api_jstr(a, "action");
		const char *label = api_jstr(a, "label");
		if (label == NULL || *label == '\0')
			bad_label++;
		if (api_streq(act, "terminate_session")) {
			terminate++;
			for (int k = 0; k < n; k++)
				matched += api_streq(api_jstr(a, "sessionId"), ids[k]);
		} else if (api_streq(act, "upgrade")) {
			upgrades++;
			plan = api_jstr(a, "planId");
		}
	}
	EXPECT(terminate == n && matched == n,
	       "actions[] should hold one terminate_session per live session (%d): %.600s", n,
	       r->body);
	EXPECT(bad_label == 0, "every action carries a label: %.600s", r->body);
	if (upgrade)
		EXPECT(upgrades == 1 && api_streq(plan, upgrade),
		       "actions[] should hold one {action:upgrade, planId:\"%s\"}: %.600s", upgrade,
		       r->body);
	else
		EXPECT(upgrades == 0,
		       "no higher plan exists: actions[] should hold no upgrade: %.600s", r->body);
}

/* The plan a viewer with max streams is offered, from the plans table, or NULL. */
static char *upgrade_for(int max)
{
	return api_db_str_l("SELECT CAST(id AS CHAR) FROM plans WHERE is_active = 1 AND "
	                    "max_streams > ? ORDER BY max_streams, price, id LIMIT 1",
	                    max);
}

static void test_over_concurrent_limit_is_429_with_active_devices_and_actions(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *a = NULL, *b = NULL, *up = upgrade_for(2), *c = NULL;
	const char *victim;

	if (api_viewer(&u, "st-limit", PLAN_PREMIUM) != 0) {
		free(up);
		return;
	}
	EXPECT(up != NULL, "the seeded plans include one with more than 2 streams");
	a = api_stream_start_ok(&u, cid, "one", NULL, NULL, NULL);
	b = api_stream_start_ok(&u, cid, "two", NULL, NULL, NULL);
	api_stream_start(&r, &u, cid, "three", NULL, NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	EXPECT_COMMON_HEADERS(r);
	{
		const char *ids[] = {or_x(a), or_x(b)};
		check_limit_body(&r, 2, ids, 2, up);
	}
	/* the terminate action works: end the session it names, then the third device plays */
	victim = api_jstr(r.json, "actions.0.sessionId");
	if (victim) {
		api_resp e;
		end_remote(&e, &u, victim);
		EXPECT_OK(e, 200);
		api_free(&e);
	}
	api_free(&r);
	c = api_stream_start_ok(&u, cid, "three", NULL, NULL, NULL);
	EXPECT(c != NULL, "after terminating one session the third device starts");
	free(a);
	free(b);
	free(c);
	free(up);
	api_user_free(&u);
}

static void test_ultimate_at_its_limit_is_offered_no_upgrade_without_a_bigger_plan(void)
{
	long long cid = api_title(3, 1);
	api_user u;
	api_resp r;
	char *ids[4] = {NULL, NULL, NULL, NULL}, *up = upgrade_for(4);
	char dev[16];

	if (api_viewer(&u, "st-ult", PLAN_ULTIMATE) != 0) {
		free(up);
		return;
	}
	for (int i = 0; i < 4; i++) {
		snprintf(dev, sizeof dev, "screen-%d", i);
		ids[i] = api_stream_start_ok(&u, cid, dev, NULL, NULL, NULL);
	}
	api_stream_start(&r, &u, cid, "screen-5", NULL, NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	{
		const char *live_ids[] = {or_x(ids[0]), or_x(ids[1]), or_x(ids[2]), or_x(ids[3])};
		check_limit_body(&r, 4, live_ids, 4, up);
	}
	api_free(&r);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	free(up);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- heartbeat, stop, end */

static void test_heartbeat_200_then_410_after_stop_or_remote_end(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *a = NULL, *b = NULL;
	live_set l;

	if (api_viewer(&u, "st-hb", PLAN_PREMIUM) != 0)
		return;
	a = api_stream_start_ok(&u, cid, "a", NULL, NULL, NULL);
	b = api_stream_start_ok(&u, cid, "b", NULL, NULL, NULL);
	beat(&r, &u, a);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	session_post(&r, &u, STOP, a, 61);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	beat(&r, &u, a);
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	beat(&r, &u, b);
	EXPECT_OK(r, 200);
	api_free(&r);
	end_remote(&r, &u, b);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	beat(&r, &u, b);
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	live(&u, &l);
	EXPECT(l.status == 200 && l.count == 0 && l.n == 0,
	       "after stop and remote end no session is live: %ld %s", l.status, l.body);
	EXPECT(open_rows(&u) == 0, "both rows closed (ended_at set), %lld open", open_rows(&u));
	free(a);
	free(b);
	api_user_free(&u);
}

static void test_heartbeats_keep_a_session_live_and_a_silent_one_goes_stale(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *kept = NULL, *silent = NULL, *silent_url = NULL, *third = NULL, body[320];
	double t0;
	live_set l;

	if (api_viewer(&u, "st-stale", PLAN_PREMIUM) != 0)
		return;
	kept = api_stream_start_ok(&u, cid, "kept", NULL, NULL, NULL);
	t0 = api_now_s();
	silent = api_stream_start_ok(&u, cid, "silent", NULL, NULL, &silent_url);
	/* heartbeats every 2 s carry one session past the 6 s window; the other sends none */
	for (int i = 1; i <= 4; i++) {
		api_sleep_s(t0 + 2.0 * i - api_now_s());
		EXPECT(beat_status(&u, kept, body, sizeof body) == 200,
		       "heartbeat %d at %.1f s: expected 200, got %s", i, api_now_s() - t0, body);
	}
	api_sleep_s(t0 + 8.2 - api_now_s());
	/* before any worker runs: the silent session no longer counts */
	api_stream_start(&r, &u, cid, "third", NULL, NULL);
	EXPECT(r.status == 200,
	       "%.1f s after its last heartbeat the silent session should not count: a third "
	       "device on a 2-stream plan expected 200, got %ld %.300s",
	       api_now_s() - t0, r.status, r.body);
	EXPECT(r.status != 200 || api_jint(r.json, "data.currentStreams") == 2,
	       "currentStreams counts the kept session and the new one (2), got %lld",
	       api_jint(r.json, "data.currentStreams"));
	api_take_str(&third, &r, "data.sessionId");
	api_free(&r);
	live(&u, &l);
	{
		const char *ids[] = {or_x(kept), or_x(third)};
		EXPECT(live_is(&l, ids, 2),
		       "GET /stream/sessions lists the kept and the new session only: %ld %s",
		       l.status, l.body);
	}
	beat(&r, &u, silent);
	EXPECT_ERROR(r, 410, "SESSION_ENDED");
	api_free(&r);
	EXPECT(beat_status(&u, kept, body, sizeof body) == 200,
	       "the kept session still beats: expected 200, got %s", body);
	/* the stale session's media token is refused too */
	if (silent_url)
		EXPECT_MEDIA(silent_url, 403, "a stale session's master playlist");
	free(kept);
	free(silent);
	free(silent_url);
	free(third);
	api_user_free(&u);
}

static void test_other_users_session_cannot_be_beaten_stopped_or_ended(void)
{
	long long cid = api_title(2, 1);
	api_user u, o;
	api_resp r;
	char *sid = NULL, body[320];
	live_set l;

	if (api_viewer(&u, "st-own", PLAN_PREMIUM) != 0 ||
	    api_viewer(&o, "st-other", PLAN_PREMIUM) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "mine", NULL, NULL, NULL);
	beat(&r, &o, sid);
	EXPECT(r.status == 404 || r.status == 410,
	       "another user's heartbeat of %s: expected 404 or 410, got %ld %.200s", or_x(sid),
	       r.status, r.body);
	api_free(&r);
	session_post(&r, &o, STOP, sid, 1);
	EXPECT(r.status == 404 || r.status == 410,
	       "another user's POST /stream/stop of %s: expected 404 or 410, got %ld %.200s",
	       or_x(sid), r.status, r.body);
	api_free(&r);
	end_remote(&r, &o, sid);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(beat_status(&u, sid, body, sizeof body) == 200,
	       "the owner's session survives the other user's attempts: heartbeat expected 200, "
	       "got %s",
	       body);
	live(&u, &l);
	{
		const char *ids[] = {or_x(sid)};
		EXPECT(live_is(&l, ids, 1), "the owner still has the session live: %ld %s",
		       l.status, l.body);
	}
	EXPECT(api_db_ll_s("SELECT ended_at IS NULL FROM stream_sessions WHERE id = ?",
	                   or_x(sid)) == 1,
	       "the row of %s is still open", or_x(sid));
	free(sid);
	api_user_free(&u);
	api_user_free(&o);
}

static void test_malformed_or_unknown_session_ids_are_400_or_404(void)
{
	api_user u;
	api_resp r;

	if (api_viewer(&u, "st-badsid", PLAN_PREMIUM) != 0)
		return;
	beat(&r, &u, "not-a-session");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "sessionId"), "errors[] names sessionId: %s", r.body);
	api_free(&r);
	session_post(&r, &u, STOP, "not-a-session", 1);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "sessionId"), "errors[] names sessionId: %s", r.body);
	api_free(&r);
	api_send(&r, "POST", HEARTBEAT, u.token, "{\"playbackPosition\":1}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "sessionId"), "missing sessionId: errors[] names it: %s",
	       r.body);
	api_free(&r);
	api_send(&r, "POST", HEARTBEAT, u.token,
	         "{\"sessionId\":\"0123456789abcdef0123456789abcdef\",\"playbackPosition\":-5}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "playbackPosition"),
	       "negative playbackPosition: errors[] names it: %s", r.body);
	api_free(&r);
	end_remote(&r, &u, "not-a-session");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	/* well formed, never issued */
	beat(&r, &u, "0123456789abcdef0123456789abcdef");
	EXPECT(r.status == 404 || r.status == 410,
	       "heartbeat of a never-issued session id: expected 404 or 410, got %ld %.200s",
	       r.status, r.body);
	api_free(&r);
	end_remote(&r, &u, "0123456789abcdef0123456789abcdef");
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "POST", HEARTBEAT, NULL,
	         "{\"sessionId\":\"0123456789abcdef0123456789abcdef\",\"playbackPosition\":1}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- races */

static void test_fifty_simultaneous_starts_admit_exactly_two_ten_times(void)
{
	long long cid = api_title(2, 1);

	for (int round = 0; round < 10; round++) {
		api_user u;
		race_result res;
		live_set l;
		const char *ids[2];
		char tag[16];

		if (api_viewer(&u, "race", PLAN_PREMIUM) != 0)
			return;
		snprintf(tag, sizeof tag, "r%d", round);
		race(&u, cid, tag, &res);
		EXPECT(
		    res.ok == 2 && res.limited == 48 && res.other == 0,
		    "round %d: %d simultaneous starts on a 2-stream plan: %d got 200, %d got 429 "
		    "CONCURRENT_LIMIT_EXCEEDED, %d other (want 2/48/0)%s%s",
		    round, RACERS, res.ok, res.limited, res.other,
		    res.other ? "; first other: " : "", res.other_desc);
		live(&u, &l);
		ids[0] = res.ok > 0 ? res.ok_ids[0] : "x";
		ids[1] = res.ok > 1 ? res.ok_ids[1] : "x";
		EXPECT(
		    live_is(&l, ids, 2),
		    "round %d: GET /stream/sessions should hold exactly the 2 admitted sessions: "
		    "%ld %s",
		    round, l.status, l.body);
		EXPECT(open_rows(&u) == 2 && all_rows(&u) == 2,
		       "round %d: MariaDB holds exactly 2 session rows (open %lld, all %lld)",
		       round, open_rows(&u), all_rows(&u));
		api_user_free(&u);
	}
}

static void test_without_redis_fifty_starts_admit_exactly_two_and_sessions_survive_its_return(void)
{
	enum { ROUNDS = 3 };
	long long cid = api_title(2, 1);
	api_user racers[ROUNDS], v;
	race_result res;
	live_set l;
	api_resp r;
	char *v1 = NULL, *v2 = NULL, *fresh = NULL, body[320];
	char keep[2][33] = {"x", "x"};
	int n_users = 0;

	/* accounts first: the stack's own sign-up path is not what is under test */
	for (int i = 0; i < ROUNDS; i++, n_users++)
		if (api_viewer(&racers[i], "race-noredis", PLAN_PREMIUM) != 0)
			goto out;
	if (api_viewer(&v, "before-outage", PLAN_PREMIUM) != 0)
		goto out;
	n_users++;
	v1 = api_stream_start_ok(&v, cid, "before-1", NULL, NULL, NULL);
	v2 = api_stream_start_ok(&v, cid, "before-2", NULL, NULL, NULL);

	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	EXPECT(beat_status(&v, v1, body, sizeof body) == 200 &&
	           beat_status(&v, v2, body, sizeof body) == 200,
	       "without Redis, heartbeats of sessions started before the outage: 200, got %s",
	       body);
	for (int round = 0; round < ROUNDS; round++) {
		char tag[16];
		const char *ids[2];
		snprintf(tag, sizeof tag, "nr%d", round);
		race(&racers[round], cid, tag, &res);
		EXPECT(res.ok == 2 && res.limited == 48 && res.other == 0,
		       "Redis stopped, round %d: %d simultaneous starts: %d got 200, %d got 429 "
		       "CONCURRENT_LIMIT_EXCEEDED, %d other (want 2/48/0)%s%s",
		       round, RACERS, res.ok, res.limited, res.other,
		       res.other ? "; first other: " : "", res.other_desc);
		ids[0] = res.ok > 0 ? res.ok_ids[0] : "x";
		ids[1] = res.ok > 1 ? res.ok_ids[1] : "x";
		snprintf(keep[0], 33, "%s", ids[0]);
		snprintf(keep[1], 33, "%s", ids[1]);
		live(&racers[round], &l);
		EXPECT(
		    live_is(&l, ids, 2),
		    "Redis stopped, round %d: GET /stream/sessions holds exactly the 2 admitted: "
		    "%ld %s",
		    round, l.status, l.body);
		EXPECT(open_rows(&racers[round]) == 2,
		       "Redis stopped, round %d: 2 open rows in MariaDB, got %lld", round,
		       open_rows(&racers[round]));
		/* keep the outage's first sessions live while the others race */
		beat_status(&v, v1, NULL, 0);
		beat_status(&v, v2, NULL, 0);
	}
	{
		api_user *u = &racers[ROUNDS - 1];
		const char *ids[2] = {keep[0], keep[1]};
		const char *vids[2] = {or_x(v1), or_x(v2)};

		api_stream_start(&r, &v, cid, "during", NULL, NULL);
		EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
		api_free(&r);
		beat_status(u, keep[0], NULL, 0);
		beat_status(u, keep[1], NULL, 0);

		/* Redis comes back (empty): the same sessions, no more, no fewer */
		if (api_redis_start() != 0) {
			EXPECT(0, "\"$SP_DEV\" start redis failed");
			goto out;
		}
		live(u, &l);
		EXPECT(live_is(&l, ids, 2),
		       "right as Redis returned: the account has exactly its 2 sessions %s, %s; "
		       "got %ld %s",
		       keep[0], keep[1], l.status, l.body);
		(void)redis_in_use(u);
		live(u, &l);
		EXPECT(live_is(&l, ids, 2),
		       "after Redis returned: the account still has exactly its 2 sessions %s, %s; "
		       "got %ld %s",
		       keep[0], keep[1], l.status, l.body);
		live(&v, &l);
		EXPECT(
		    live_is(&l, vids, 2),
		    "after Redis returned: the sessions from before the outage %s, %s remain: got "
		    "%ld %s",
		    or_x(v1), or_x(v2), l.status, l.body);
		api_stream_start(&r, u, cid, "after-3", NULL, NULL);
		EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
		api_free(&r);
		api_stream_start(&r, &v, cid, "after-3", NULL, NULL);
		EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
		api_free(&r);
		for (int i = 0; i < 2; i++)
			EXPECT(beat_status(u, keep[i], body, sizeof body) == 200,
			       "after Redis returned: heartbeat of %s expected 200, got %s",
			       keep[i], body);
		session_post(&r, u, STOP, keep[0], 10);
		EXPECT_OK(r, 200);
		api_free(&r);
		fresh = api_stream_start_ok(u, cid, "after-new", NULL, NULL, NULL);
		{
			const char *now_ids[2] = {keep[1], or_x(fresh)};
			live(u, &l);
			EXPECT(
			    live_is(&l, now_ids, 2),
			    "a stop frees exactly one slot: live should be %s and the new %s, got "
			    "%ld %s",
			    keep[1], or_x(fresh), l.status, l.body);
		}
		EXPECT(open_rows(u) == 2, "after Redis returned: 2 open rows in MariaDB, got %lld",
		       open_rows(u));
		api_stream_start(&r, u, cid, "after-4", NULL, NULL);
		EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
		api_free(&r);
	}
out:
	api_redis_ensure_started();
	for (int i = 0; i < n_users && i < ROUNDS; i++)
		api_user_free(&racers[i]);
	if (n_users > ROUNDS)
		api_user_free(&v);
	free(v1);
	free(v2);
	free(fresh);
}

/* 32 random hex digits, the shape of a session id. */
static void hex_id(char out[33])
{
	for (int i = 0; i < 32; i++)
		out[i] = "0123456789abcdef"[rand() % 16];
	out[32] = '\0';
}

/*
 * Sessions MariaDB holds but Redis does not know yet (as when a process
 * still in its reconnect back-off admitted them in MariaDB while Redis was
 * returning): a start Redis would admit is refused by the final check under
 * the row lock, and Redis is then brought in line with MariaDB.
 */
static void test_start_refused_when_mariadb_already_holds_the_limit(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	live_set l;
	char sql[1024], err[256], g1[33], g2[33];
	const char *ghosts[2] = {g1, g2};

	if (api_viewer(&u, "db-holds", PLAN_PREMIUM) != 0)
		return;
	hex_id(g1);
	hex_id(g2);
	snprintf(sql, sizeof sql,
	         "INSERT INTO stream_sessions (id, user_id, content_id, device_id, device_name, "
	         "device_type, quality, started_at, last_heartbeat_at) VALUES "
	         "('%s', %s, %lld, 'ghost-1', 'Ghost 1', 'tv', 1, UTC_TIMESTAMP(3), "
	         "UTC_TIMESTAMP(3)), ('%s', %s, %lld, 'ghost-2', 'Ghost 2', 'tv', 1, "
	         "UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
	         g1, u.id, cid, g2, u.id, cid);
	if (api_db_script(sql, err, sizeof err) != 0) {
		EXPECT(0, "inserting two live sessions in MariaDB failed: %s", err);
		goto out;
	}
	api_stream_start(&r, &u, cid, "real-1", NULL, NULL);
	EXPECT_ERROR(r, 429, "CONCURRENT_LIMIT_EXCEEDED");
	EXPECT(api_jlen(r.json, "activeDevices") == 2,
	       "the 429 should list the 2 sessions MariaDB holds: %.500s", r.body);
	api_free(&r);
	EXPECT(open_rows(&u) == 2, "MariaDB still holds exactly the 2 sessions, got %lld",
	       open_rows(&u));
	live(&u, &l);
	EXPECT(live_is(&l, ghosts, 2),
	       "GET /stream/sessions after the refusal lists MariaDB's 2 sessions: %ld %s",
	       l.status, l.body);
out:
	api_user_free(&u);
}

/*
 * The moment Redis returns: a stream program that found Redis down keeps to
 * MariaDB for up to a second, while other programs already use Redis again.
 * Starts in that moment must still respect the limit exactly.
 */
static void test_fifty_starts_as_redis_returns_admit_exactly_two(void)
{
	long long cid = api_title(2, 1);
	api_user u, w;
	race_result res;
	live_set l;
	const char *ids[2];
	char body[320];

	if (api_viewer(&u, "race-switch", PLAN_PREMIUM) != 0 ||
	    api_viewer(&w, "race-switch-w", PLAN_PREMIUM) != 0)
		return;
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	/* a stream request notices the outage */
	live(&w, &l);
	EXPECT(l.status == 200, "GET /stream/sessions without Redis: 200, got %ld", l.status);
	if (api_redis_start() != 0) {
		EXPECT(0, "\"$SP_DEV\" start redis failed");
		goto out;
	}
	race(&u, cid, "sw", &res);
	EXPECT(res.ok == 2 && res.limited == 48 && res.other == 0,
	       "%d simultaneous starts right as Redis returned: %d got 200, %d got 429 "
	       "CONCURRENT_LIMIT_EXCEEDED, %d other (want 2/48/0)%s%s",
	       RACERS, res.ok, res.limited, res.other, res.other ? "; first other: " : "",
	       res.other_desc);
	ids[0] = res.ok > 0 ? res.ok_ids[0] : "x";
	ids[1] = res.ok > 1 ? res.ok_ids[1] : "x";
	live(&u, &l);
	EXPECT(l.status == 200 && l.count == res.ok,
	       "GET /stream/sessions agrees with the %d admitted: %ld %s", res.ok, l.status,
	       l.body);
	EXPECT(open_rows(&u) == res.ok, "MariaDB holds %d open rows, got %lld", res.ok,
	       open_rows(&u));
	(void)redis_in_use(&u);
	for (int i = 0; i < 2 && i < res.ok; i++)
		EXPECT(beat_status(&u, ids[i], body, sizeof body) == 200,
		       "heartbeat of admitted %s once Redis is in use: expected 200, got %s",
		       ids[i], body);
	live(&u, &l);
	EXPECT(l.status == 200 && l.count == (res.ok < 2 ? res.ok : 2) && live_is(&l, ids, 2),
	       "once Redis is in use the account holds exactly its 2 sessions: %ld %s", l.status,
	       l.body);
out:
	api_redis_ensure_started();
	api_user_free(&u);
	api_user_free(&w);
}

/* A session admitted in that moment is live: its media is served, not refused. */
static void test_session_started_as_redis_returns_has_its_media_served(void)
{
	long long cid = api_title(1, 2);
	api_user u, w;
	char *wurl = NULL, *url = NULL, *sid = NULL, *wsid = NULL, body[320];
	live_set l;

	if (api_viewer(&u, "media-switch", PLAN_BASIC) != 0 ||
	    api_viewer(&w, "media-switch-w", PLAN_BASIC) != 0)
		return;
	wsid = api_stream_start_ok(&w, cid, "tv", NULL, NULL, &wurl);
	if (wurl == NULL)
		goto out;
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	live(&w, &l); /* a stream request notices the outage */
	if (api_redis_start() != 0) {
		EXPECT(0, "\"$SP_DEV\" start redis failed");
		goto out;
	}
	EXPECT_MEDIA(wurl, 200, "a session from before the outage, right as Redis returned");
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (url == NULL)
		goto out;
	EXPECT_MEDIA(url, 200,
	             "the master of a session started right as Redis returned (the session is "
	             "live)");
	EXPECT(beat_status(&u, sid, body, sizeof body) == 200,
	       "that session's heartbeat: expected 200, got %s", body);
	EXPECT_MEDIA(url, 200, "the same master after a heartbeat");
	(void)redis_in_use(&u);
	EXPECT_MEDIA(url, 200, "the same master once Redis is in use again");
out:
	api_redis_ensure_started();
	free(wurl);
	free(url);
	free(sid);
	free(wsid);
	api_user_free(&u);
	api_user_free(&w);
}

/* ---------------------------------------------------------------- rate limit */

static void test_61st_start_within_a_minute_is_429_rate_limited(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	int ok = 0, first_bad = 0;
	long first_bad_status = 0;
	const char *ra, *rem;
	time_t t;

	if (api_viewer(&u, "st-rate", PLAN_PREMIUM) != 0)
		return;
	/* the 61 starts must land in one minute: begin early in a clock minute */
	t = time(NULL);
	if (t % 60 > 45)
		sleep((unsigned)(61 - t % 60));
	for (int i = 1; i <= 60; i++) {
		api_stream_start(&r, &u, cid, "rate-tv", NULL, NULL);
		if (r.status == 200)
			ok++;
		else if (first_bad == 0) {
			first_bad = i;
			first_bad_status = r.status;
		}
		api_free(&r);
	}
	EXPECT(ok == 60,
	       "60 starts within a minute are allowed (limit 60/min): %d got 200; "
	       "start #%d got %ld",
	       ok, first_bad, first_bad_status);
	api_stream_start(&r, &u, cid, "rate-tv", NULL, NULL);
	EXPECT_ERROR(r, 429, "RATE_LIMITED");
	EXPECT_COMMON_HEADERS(r);
	ra = api_hdr(&r, "Retry-After");
	rem = api_hdr(&r, "X-RateLimit-Remaining");
	EXPECT(ra && atol(ra) >= 1 && atol(ra) <= 60,
	       "the 61st start's 429 carries Retry-After of 1..60 s, got %s", ra ? ra : "(absent)");
	EXPECT(api_streq(rem, "0"), "the 61st start's 429: X-RateLimit-Remaining 0, got %s",
	       rem ? rem : "(absent)");
	api_free(&r);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- media */

static void test_master_playlist_lists_only_plan_renditions_granted_first(void)
{
	long long cid = api_title(1, 2);
	api_user u;
	api_resp r;
	char *url = NULL, uris[8][64];
	media_resp m;
	int n, bad;

	if (api_viewer(&u, "media-basic", PLAN_BASIC) != 0)
		return;
	free(api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url));
	if (url == NULL)
		goto out;
	media_get(&m, url);
	EXPECT(m.status == 200, "GET master %s: expected 200, got %ld", url, m.status);
	EXPECT(strncmp(m.ctype, "application/vnd.apple.mpegurl", 29) == 0,
	       "master playlist Content-Type application/vnd.apple.mpegurl, got %s", m.ctype);
	EXPECT(strncmp(m.body.data, "#EXTM3U", 7) == 0, "master starts with #EXTM3U: %.100s",
	       m.body.data);
	n = master_uris(m.body.data, uris, &bad);
	EXPECT(n == 2 && has_uri(uris, n, "480p/index.m3u8") && has_uri(uris, n, "720p/index.m3u8"),
	       "a Basic session's master lists 480p and 720p only:\n%s", m.body.data);
	EXPECT(bad == 0, "every #EXT-X-STREAM-INF has RESOLUTION= and BANDWIDTH=:\n%s",
	       m.body.data);
	EXPECT(n > 0 && strcmp(uris[0], "720p/index.m3u8") == 0,
	       "the granted quality (720p) is listed first:\n%s", m.body.data);
	media_free(&m);
	free(url);
	url = NULL;

	/* asking for 480p: 480p first, 720p still offered */
	api_stream_start(&r, &u, cid, "tv", NULL, "480p");
	EXPECT_OK(r, 200);
	api_take_str(&url, &r, "data.streamUrl");
	api_free(&r);
	if (url == NULL)
		goto out;
	media_get(&m, url);
	EXPECT(m.status == 200, "GET master %s: expected 200, got %ld", url, m.status);
	n = master_uris(m.body.data, uris, &bad);
	EXPECT(n == 2 && strcmp(uris[0], "480p/index.m3u8") == 0 &&
	           has_uri(uris, n, "720p/index.m3u8"),
	       "granted 480p: the master lists 480p first, then 720p:\n%s", m.body.data);
	media_free(&m);
out:
	free(url);
	api_user_free(&u);
}

static void test_ultimate_master_on_a_4k_title_lists_all_four(void)
{
	long long cid = api_title(3, 15);
	api_user u;
	api_resp r;
	char *url = NULL, uris[8][64];
	media_resp m;
	int n, bad;

	if (api_viewer(&u, "media-ult", PLAN_ULTIMATE) != 0)
		return;
	api_stream_start(&r, &u, cid, "tv", NULL, "4K");
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.quality"), "4K");
	api_take_str(&url, &r, "data.streamUrl");
	api_free(&r);
	if (url == NULL)
		goto out;
	media_get(&m, url);
	EXPECT(m.status == 200, "GET master %s: expected 200, got %ld", url, m.status);
	n = master_uris(m.body.data, uris, &bad);
	EXPECT(n == 4 && has_uri(uris, n, "480p/index.m3u8") &&
	           has_uri(uris, n, "720p/index.m3u8") && has_uri(uris, n, "1080p/index.m3u8") &&
	           has_uri(uris, n, "2160p/index.m3u8"),
	       "an Ultimate session on a 4K title lists 480p, 720p, 1080p and 2160p:\n%s",
	       m.body.data);
	EXPECT(bad == 0 && strstr(m.body.data, "RESOLUTION=3840x2160"),
	       "each entry has RESOLUTION and BANDWIDTH, 2160p at 3840x2160:\n%s", m.body.data);
	EXPECT(n > 0 && strcmp(uris[0], "2160p/index.m3u8") == 0,
	       "the granted 4K rendition is listed first:\n%s", m.body.data);
	media_free(&m);
out:
	free(url);
	api_user_free(&u);
}

static void test_every_listed_variant_and_its_segment_are_served(void)
{
	long long cid = api_title(2, 4);
	api_user u;
	char *url = NULL, uris[8][64], base[1024], vurl[1200], surl[1400], seg[128];
	media_resp m, v, s;
	int n, bad;

	if (api_viewer(&u, "media-var", PLAN_PREMIUM) != 0)
		return;
	free(api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url));
	if (url == NULL)
		goto out;
	snprintf(base, sizeof base, "%.*s", (int)(strrchr(url, '/') - url), url);
	media_get(&m, url);
	EXPECT(m.status == 200, "GET master %s: expected 200, got %ld", url, m.status);
	n = master_uris(m.body.data, uris, &bad);
	EXPECT(n == 3, "a Premium master on a 1080p title lists 3 renditions:\n%s", m.body.data);
	for (int i = 0; i < n; i++) {
		snprintf(vurl, sizeof vurl, "%.1000s/%.63s", base, uris[i]);
		media_get(&v, vurl);
		EXPECT(v.status == 200 && v.body.len > 0 && strncmp(v.body.data, "#EXTM3U", 7) == 0,
		       "variant %s: expected 200 with a playlist, got %ld (%zu bytes)", vurl,
		       v.status, v.body.len);
		EXPECT(strncmp(v.ctype, "application/vnd.apple.mpegurl", 29) == 0,
		       "variant Content-Type application/vnd.apple.mpegurl, got %s", v.ctype);
		if (first_segment(v.body.data, seg, sizeof seg) == 0) {
			snprintf(surl, sizeof surl, "%.*s/%.127s", (int)(strrchr(vurl, '/') - vurl),
			         vurl, seg);
			media_get(&s, surl);
			EXPECT(s.status == 200 && s.body.len > 0,
			       "segment %s: expected 200 with a body, got %ld (%zu bytes)", surl,
			       s.status, s.body.len);
			EXPECT(strstr(seg, ".ts") == NULL || strcmp(s.ctype, "video/mp2t") == 0,
			       "a .ts segment is served as video/mp2t, got %s", s.ctype);
			media_free(&s);
		} else {
			EXPECT(0, "variant %s names no segment:\n%s", vurl, v.body.data);
		}
		media_free(&v);
	}
	media_free(&m);
out:
	free(url);
	api_user_free(&u);
}

static void test_media_refused_for_forged_expired_other_title_higher_rendition_or_no_token(void)
{
	long long cid = api_title(1, 2), other = another_title(1, cid), free_t = api_title(0, 1);
	api_user u;
	char *url = NULL, *sid = NULL, buf[1400];
	media_url mu;

	if (api_viewer(&u, "media-deny", PLAN_BASIC) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (url == NULL || split_url(url, &mu) != 0) {
		EXPECT(0, "streamUrl has the shape .../media/t/<token>/<id>/<file>: %s", or_x(url));
		goto out;
	}
	/* the controls: this token works for its own title */
	EXPECT_MEDIA(url, 200, "the master with its own token");
	snprintf(buf, sizeof buf, "%s/720p/index.m3u8", mu.base);
	EXPECT_MEDIA(buf, 200, "the 720p variant with its own token");

	snprintf(buf, sizeof buf, "%s/%s", mu.sig_flipped, mu.master);
	EXPECT_MEDIA(buf, 403, "one hex digit of the signature changed (master)");
	snprintf(buf, sizeof buf, "%s/720p/index.m3u8", mu.sig_flipped);
	EXPECT_MEDIA(buf, 403, "one hex digit of the signature changed (variant)");
	snprintf(buf, sizeof buf, "%s%s/%lld/720p/index.m3u8", mu.prefix, mu.token, other);
	EXPECT_MEDIA(buf, 403, "another Basic title's variant with this title's token");
	snprintf(buf, sizeof buf, "%s%s/%lld/480p/index.m3u8", mu.prefix, mu.token, free_t);
	EXPECT_MEDIA(buf, 403, "a Free title's variant with this title's token");
	snprintf(buf, sizeof buf, "%s/1080p/index.m3u8", mu.base);
	EXPECT_MEDIA(buf, 403, "a 1080p variant with a Basic (720p) token");
	snprintf(buf, sizeof buf, "%s/2160p/index.m3u8", mu.base);
	EXPECT_MEDIA(buf, 403, "a 2160p variant with a Basic (720p) token");
	snprintf(buf, sizeof buf, "%s/media/%lld/480p/index.m3u8", api_base(), cid);
	EXPECT_MEDIA(buf, 403, "a variant without a token");
	snprintf(buf, sizeof buf, "%s/media/%lld/%s", api_base(), cid, mu.master);
	EXPECT_MEDIA(buf, 403, "the master without a token");
	snprintf(buf, sizeof buf, "%s/media/%lld/480p/seg_000.ts", api_base(), cid);
	EXPECT_MEDIA(buf, 403, "a segment without a token");

	/* a token signed with the stack's own key: with a future expiry it is let through;
	 * past its expiry only while its session is live (a player kept alive by heartbeats
	 * outlives stream.token_ttl), and refused once the session has ended */
	if (api_db_ready() == 0 && sid) {
		sp_media_claims c;
		char tok[256];
		memset(&c, 0, sizeof c);
		snprintf(c.sid, sizeof c.sid, "%s", sid);
		c.content_id = cid;
		c.max_quality = 1;
		c.exp = (long long)time(NULL) + 600;
		sp_media_token(&c, tok, sizeof tok);
		snprintf(buf, sizeof buf, "%s%s/%lld/720p/index.m3u8", mu.prefix, tok, cid);
		EXPECT_MEDIA(buf, 200, "control: a token signed here with a future expiry");
		c.exp = (long long)time(NULL) - 5;
		sp_media_token(&c, tok, sizeof tok);
		snprintf(buf, sizeof buf, "%s%s/%lld/720p/index.m3u8", mu.prefix, tok, cid);
		EXPECT_MEDIA(buf, 200, "an expired token of a live session");
		c.max_quality = 2;
		sp_media_token(&c, tok, sizeof tok);
		snprintf(buf, sizeof buf, "%s%s/%lld/1080p/index.m3u8", mu.prefix, tok, cid);
		EXPECT_MEDIA(buf, 403,
		             "an expired token claiming 1080p for a Basic (720p) session");
		c.max_quality = 1;
		sp_media_token(&c, tok, sizeof tok);
		api_resp r;
		session_post(&r, &u, STOP, sid, 3);
		EXPECT_OK(r, 200);
		api_free(&r);
		snprintf(buf, sizeof buf, "%s%s/%lld/720p/index.m3u8", mu.prefix, tok, cid);
		EXPECT_MEDIA(buf, 403, "an expired token once its session has ended");
	}
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

static void test_media_refused_for_dot_dot_traversal(void)
{
	long long cid = api_title(1, 2), uhd = api_title(3, 8);
	api_user u;
	char *url = NULL, buf[1400];
	media_url mu;
	const char *forms[] = {
	    "720p/../../%lld/2160p/index.m3u8",
	    "720p/%%2e%%2e/%%2e%%2e/%lld/2160p/index.m3u8",
	    "720p/%%2e%%2e%%2f%%2e%%2e%%2f%lld%%2f2160p%%2findex.m3u8",
	    "720p/%%2e%%2e%%2f%%2e%%2e%%2f%lld%%2f2160p%%2fseg_000.ts",
	    "720p/..%%2f..%%2f%lld%%2f2160p%%2findex.m3u8",
	    "../%lld/2160p/index.m3u8",
	    "MASTER/../../%lld/2160p/index.m3u8",
	    "MASTER/../../%lld/2160p/seg_000.ts",
	    "MASTER%%2f..%%2f..%%2f%lld%%2f2160p%%2findex.m3u8",
	};

	if (api_viewer(&u, "media-dots", PLAN_BASIC) != 0)
		return;
	free(api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url));
	if (url == NULL || split_url(url, &mu) != 0) {
		EXPECT(0, "streamUrl has the shape .../media/t/<token>/<id>/<file>: %s", or_x(url));
		goto out;
	}
	snprintf(buf, sizeof buf, "%s/720p/index.m3u8", mu.base);
	EXPECT_MEDIA(buf, 200, "control: the 720p variant with this token");
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		char rel[256], what[400];
		const char *f = forms[i];
		int off = 0;
		if (strncmp(f, "MASTER", 6) == 0) {
			off = snprintf(rel, sizeof rel, "%s", mu.master);
			f += 6;
		}
		snprintf(rel + off, sizeof rel - (size_t)off, f, uhd);
		snprintf(buf, sizeof buf, "%s/%s", mu.base, rel);
		snprintf(
		    what, sizeof what,
		    "a Basic token for title %lld reaching the 4K title %lld by traversal (%s)",
		    cid, uhd, rel);
		EXPECT_MEDIA(buf, 403, what);
	}
out:
	free(url);
	api_user_free(&u);
}

static void test_media_refused_after_the_session_ends(void)
{
	long long cid = api_title(1, 2);
	api_user u;
	api_resp r;
	char *url = NULL, *sid = NULL, buf[1400];
	media_url mu;

	if (api_viewer(&u, "media-ended", PLAN_BASIC) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (url == NULL || split_url(url, &mu) != 0)
		goto out;
	EXPECT_MEDIA(url, 200, "the master while the session is live");
	session_post(&r, &u, STOP, sid, 3);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT_MEDIA(url, 403, "the master of a stopped session");
	snprintf(buf, sizeof buf, "%s/720p/index.m3u8", mu.base);
	EXPECT_MEDIA(buf, 403, "a variant of a stopped session");
	snprintf(buf, sizeof buf, "%s/720p/seg_000.ts", mu.base);
	EXPECT_MEDIA(buf, 403, "a segment of a stopped session");
out:
	free(url);
	free(sid);
	api_user_free(&u);
}

static void test_media_of_a_live_session_is_served_without_redis(void)
{
	long long cid = api_title(1, 2);
	api_user u;
	char *url = NULL, *sid = NULL, buf[1400], body[320];
	media_url mu;

	if (api_viewer(&u, "media-noredis", PLAN_BASIC) != 0)
		return;
	sid = api_stream_start_ok(&u, cid, "tv", NULL, NULL, &url);
	if (url == NULL || split_url(url, &mu) != 0)
		goto out;
	snprintf(buf, sizeof buf, "%s/720p/seg_001.ts", mu.base);
	EXPECT_MEDIA(buf, 200, "a segment with Redis up");
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	EXPECT_MEDIA(buf, 200, "a live session's segment with Redis stopped");
	EXPECT_MEDIA(url, 200, "a live session's master with Redis stopped");
	snprintf(buf, sizeof buf, "%s/720p/seg_001.ts", mu.sig_flipped);
	EXPECT_MEDIA(buf, 403, "a forged token with Redis stopped");
	EXPECT(beat_status(&u, sid, body, sizeof body) == 200,
	       "heartbeat with Redis stopped: expected 200, got %s", body);
	EXPECT(api_redis_start() == 0, "\"$SP_DEV\" start redis");
	(void)redis_in_use(&u);
	snprintf(buf, sizeof buf, "%s/720p/seg_001.ts", mu.base);
	EXPECT_MEDIA(buf, 200, "the live session's segment once Redis is back");
out:
	api_redis_ensure_started();
	free(url);
	free(sid);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- worker */

static void test_worker_sessions_closes_stale_rows_and_keeps_live_ones(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	char *stale = NULL, *kept = NULL, *why = NULL, body[320];
	double t0;
	int rc;

	if (api_viewer(&u, "wk-sessions", PLAN_PREMIUM) != 0)
		return;
	t0 = api_now_s();
	stale = api_stream_start_ok(&u, cid, "left-on", NULL, NULL, NULL);
	kept = api_stream_start_ok(&u, cid, "watching", NULL, NULL, NULL);
	for (int i = 1; i <= 3; i++) {
		api_sleep_s(t0 + 2.0 * i - api_now_s());
		beat_status(&u, kept, NULL, 0);
	}
	api_sleep_s(t0 + 7.3 - api_now_s());
	EXPECT(beat_status(&u, kept, body, sizeof body) == 200, "the watched session beats: %s",
	       body);
	rc = api_run_tool("worker", "sessions");
	EXPECT(rc == 0, "scripts/dev worker sessions exits 0, got %d", rc);
	why = api_db_str_s("SELECT CONCAT(ended_at IS NOT NULL, '/', COALESCE(end_reason, '-')) "
	                   "FROM stream_sessions WHERE id = ?",
	                   or_x(stale));
	EXPECT(api_streq(why, "1/stale"),
	       "after `worker sessions` the stale session's row has ended_at set and end_reason "
	       "'stale' (ended/reason), got %s",
	       why ? why : "(no row)");
	EXPECT(api_db_ll_s("SELECT ended_at IS NULL FROM stream_sessions WHERE id = ?",
	                   or_x(kept)) == 1,
	       "the worker leaves the heartbeating session %s open", or_x(kept));
	EXPECT(beat_status(&u, kept, body, sizeof body) == 200,
	       "the heartbeating session still beats after the worker: %s", body);
	free(why);
	free(stale);
	free(kept);
	api_user_free(&u);
}

static void test_worker_enforce_keeps_only_the_newest_after_a_downgrade(void)
{
	long long cid = api_title(1, 1);
	api_user u;
	char *older = NULL, *newer = NULL, body[320];
	live_set l;
	int rc;

	if (api_viewer(&u, "wk-enforce", PLAN_PREMIUM) != 0)
		return;
	older = api_stream_start_ok(&u, cid, "older", NULL, NULL, NULL);
	usleep(50000);
	newer = api_stream_start_ok(&u, cid, "newer", NULL, NULL, NULL);
	/* down to Basic: one stream */
	if (api_subscribe(&u, PLAN_BASIC) != 0)
		goto out;
	beat_status(&u, older, NULL, 0);
	beat_status(&u, newer, NULL, 0);
	rc = api_run_tool("worker", "enforce");
	EXPECT(rc == 0, "scripts/dev worker enforce exits 0, got %d", rc);
	live(&u, &l);
	{
		const char *ids[] = {or_x(newer)};
		EXPECT(
		    live_is(&l, ids, 1),
		    "after a downgrade to 1 stream and `worker enforce`, only the newest session "
		    "%s is live: %ld %s",
		    or_x(newer), l.status, l.body);
	}
	EXPECT(beat_status(&u, older, body, sizeof body) == 410,
	       "the older session's heartbeat after enforce: expected 410, got %s", body);
	EXPECT(beat_status(&u, newer, body, sizeof body) == 200,
	       "the newest session's heartbeat after enforce: expected 200, got %s", body);
	EXPECT(api_db_ll_s("SELECT ended_at IS NOT NULL FROM stream_sessions WHERE id = ?",
	                   or_x(older)) == 1,
	       "the older session's row is closed");
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM outbox WHERE event_type = 'stream.limit_exceeded' "
	                   "AND user_id = ?",
	                   u.id) == 1,
	       "one outbox row 'stream.limit_exceeded' for user %s, got %lld", u.id,
	       api_db_ll_s("SELECT COUNT(*) FROM outbox WHERE event_type = "
	                   "'stream.limit_exceeded' AND user_id = ?",
	                   u.id));
out:
	free(older);
	free(newer);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- headers */

static void test_stream_responses_carry_security_and_rate_limit_headers(void)
{
	long long cid = api_title(1, 1);
	api_user u;
	api_resp r;
	char *sid = NULL;

	if (api_viewer(&u, "st-headers", PLAN_BASIC) != 0)
		return;
	api_stream_start(&r, &u, cid, "tv", NULL, NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_take_str(&sid, &r, "data.sessionId");
	api_free(&r);
	api_get(&r, SESSIONS, u.token);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_stream_start(&r, &u, cid, "phone", NULL, NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	beat(&r, &u, sid);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	end_remote(&r, &u, sid);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	session_post(&r, &u, STOP, "zz", 1);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	free(sid);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- registry */

static int suite_cleanup(void)
{
	api_redis_ensure_started();
	return 0;
}

int api_suite_stream(void)
{
	CU_pSuite s = CU_add_suite("stream", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_start_returns_stream_url_session_and_counts);
	ADD(test_start_caps_quality_at_plan_and_title_renditions);
	ADD(test_start_above_plan_level_is_403_tier_too_low_or_subscription_required);
	ADD(test_start_rejects_bad_input_unknown_or_inactive_content_and_no_token);
	ADD(test_start_writes_session_and_watch_event_rows_and_stop_closes_it);
	ADD(test_same_device_start_replaces_its_own_session);
	ADD(test_new_device_beyond_plan_is_403_until_a_device_is_removed);
	ADD(test_over_concurrent_limit_is_429_with_active_devices_and_actions);
	ADD(test_ultimate_at_its_limit_is_offered_no_upgrade_without_a_bigger_plan);
	ADD(test_heartbeat_200_then_410_after_stop_or_remote_end);
	ADD(test_heartbeats_keep_a_session_live_and_a_silent_one_goes_stale);
	ADD(test_other_users_session_cannot_be_beaten_stopped_or_ended);
	ADD(test_malformed_or_unknown_session_ids_are_400_or_404);
	ADD(test_61st_start_within_a_minute_is_429_rate_limited);
	ADD(test_heartbeat_bad_bodies_count_toward_the_rate_limit);
	ADD(test_heartbeat_position_out_of_integer_range_is_400);
	ADD(test_start_with_long_multibyte_device_name_keeps_valid_utf8);
	ADD(test_ending_a_session_answers_playback_position_null);
	ADD(test_fifty_simultaneous_starts_admit_exactly_two_ten_times);
	ADD(test_without_redis_fifty_starts_admit_exactly_two_and_sessions_survive_its_return);
	ADD(test_start_refused_when_mariadb_already_holds_the_limit);
	ADD(test_fifty_starts_as_redis_returns_admit_exactly_two);
	ADD(test_session_started_as_redis_returns_has_its_media_served);
	ADD(test_master_playlist_lists_only_plan_renditions_granted_first);
	ADD(test_ultimate_master_on_a_4k_title_lists_all_four);
	ADD(test_every_listed_variant_and_its_segment_are_served);
	ADD(test_media_refused_for_forged_expired_other_title_higher_rendition_or_no_token);
	ADD(test_media_refused_for_dot_dot_traversal);
	ADD(test_media_refused_after_the_session_ends);
	ADD(test_media_of_a_live_session_is_served_without_redis);
	ADD(test_worker_sessions_closes_stale_rows_and_keeps_live_ones);
	ADD(test_worker_enforce_keeps_only_the_newest_after_a_downgrade);
	ADD(test_stream_responses_carry_security_and_rate_limit_headers);
#undef ADD
	return 0;
}
