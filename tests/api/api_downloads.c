/*
 * Offline downloads: maxDownloads on plans, licences per device and title
 * (tier, device and download limits, exact under a 30-way race with Redis
 * and without it), their media through the web server's authorizer, revoking
 * one, expiry, and the enforcement that revokes licences after a downgrade.
 */
#include "api_client.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_media.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API       "/api/v1"
#define DOWNLOADS API "/downloads"
#define PLANS     API "/subscriptions/plans"

#define PLAN_FREE     1
#define PLAN_BASIC    2
#define PLAN_PREMIUM  3
#define PLAN_ULTIMATE 4

/* ---------------------------------------------------------------- helpers */

static api_user admin;
static int admin_ok = -1;
/* a Premium-level plan allowing 2 downloads (made by the suite, retired after it) */
static char two_plan[24];

static const char *admin_token(void)
{
	if (admin_ok != 0)
		admin_ok = api_admin_login(&admin);
	return admin_ok == 0 ? admin.token : NULL;
}

/* Creates the suite's plan with maxDownloads 2 (once); its id or NULL. */
static const char *plan_with_two(void)
{
	char body[768], name[64];
	api_resp r;

	if (two_plan[0])
		return two_plan;
	if (admin_token() == NULL)
		return NULL;
	api_unique_token(name, sizeof name, "dl2");
	snprintf(body, sizeof body,
	         "{\"name\":\"%.40s\",\"price\":5,\"currency\":\"USD\",\"validityDays\":30,"
	         "\"accessLevel\":\"Premium\",\"maxDevicesAllowed\":4,\"maxConcurrentStreams\":2,"
	         "\"resolution\":\"1080p\",\"downloadAllowed\":true,\"maxDownloads\":2,"
	         "\"displayOrder\":900}",
	         name);
	api_send(&r, "POST", PLANS, admin.token, body);
	EXPECT_OK(r, 201);
	EXPECT(api_jint(r.json, "data.plan.maxDownloads") == 2,
	       "a plan created with maxDownloads 2 shows 2, got %s", r.body);
	if (r.status == 201 && api_jstr(r.json, "data.plan.id"))
		snprintf(two_plan, sizeof two_plan, "%s", api_jstr(r.json, "data.plan.id"));
	api_free(&r);
	return two_plan[0] ? two_plan : NULL;
}

/* A viewer subscribed to the suite's 2-download plan; 0 ok. */
static int two_viewer(api_user *u, const char *prefix)
{
	const char *plan = plan_with_two();

	if (plan == NULL || api_viewer(u, prefix, PLAN_FREE) != 0)
		return -1;
	return api_subscribe(u, atoi(plan));
}

static int suite_cleanup(void)
{
	char path[96];
	api_resp r;

	if (two_plan[0] && admin_token()) {
		snprintf(path, sizeof path, PLANS "/%s", two_plan);
		api_send(&r, "DELETE", path, admin.token, NULL);
		api_free(&r);
	}
	api_redis_ensure_started();
	api_user_free(&admin);
	return 0;
}

/* POST /content/:cid/download from device dev (quality unless NULL); the status. */
static long dl(api_resp *r, const api_user *u, const char *cid, const char *dev,
               const char *quality)
{
	char path[128], body[300];

	snprintf(path, sizeof path, API "/content/%s/download", cid);
	if (quality)
		snprintf(body, sizeof body, "{\"deviceId\":\"%s\",\"quality\":\"%s\"}", dev,
		         quality);
	else
		snprintf(body, sizeof body, "{\"deviceId\":\"%s\"}", dev);
	return api_send(r, "POST", path, u->token, body);
}

static long dl_id(api_resp *r, const api_user *u, long long cid, const char *dev,
                  const char *quality)
{
	char id[24];

	snprintf(id, sizeof id, "%lld", cid);
	return dl(r, u, id, dev, quality);
}

/* A 201 download; its licence id and manifest URL (malloc'd) into id / url when not NULL. */
static int dl_ok(const api_user *u, long long cid, const char *dev, char **id, char **url)
{
	api_resp r;
	int ok;

	dl_id(&r, u, cid, dev, NULL);
	EXPECT_OK(r, 201);
	ok = r.status == 201 ? 0 : -1;
	if (id)
		api_take_str(id, &r, "data.download.id");
	if (url)
		api_take_str(url, &r, "data.download.manifestUrl");
	api_free(&r);
	return ok;
}

/* Live licences of user uid in MariaDB. */
static long long live_rows(const char *uid)
{
	return api_db_ll_s("SELECT COUNT(*) FROM download_licences WHERE user_id = ? AND "
	                   "revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)",
	                   uid);
}

static long long all_rows(const char *uid)
{
	return api_db_ll_s("SELECT COUNT(*) FROM download_licences WHERE user_id = ?", uid);
}

/* The k-th active title at level <= max_level (by id). */
static long long nth_title(int max_level, int k)
{
	char sql[200];

	snprintf(sql, sizeof sql,
	         "SELECT id FROM content WHERE is_active = 1 AND access_level <= ? ORDER BY id "
	         "LIMIT 1 OFFSET %d",
	         k);
	return api_db_ll_l(sql, max_level);
}

#define EXPECT_MEDIA(url, want, what)                                                              \
	do {                                                                                       \
		long got_ = api_get_status(url);                                                   \
		EXPECT(got_ == (want), "%s: GET %.90s... expected %d, got %ld", (what), (url),     \
		       (want), got_);                                                              \
	} while (0)

/* ---------------------------------------------------------------- plans */

static void test_plans_show_max_downloads_with_the_seeded_values(void)
{
	static const struct {
		int id, max;
	} want[] = {{PLAN_FREE, 0}, {PLAN_BASIC, 0}, {PLAN_PREMIUM, 10}, {PLAN_ULTIMATE, 25}};
	api_resp r;
	char path[64];

	api_get(&r, PLANS, NULL);
	EXPECT_OK(r, 200);
	for (size_t i = 0; i < api_jlen(r.json, "data.plans"); i++) {
		char p[64];
		snprintf(p, sizeof p, "data.plans.%zu.maxDownloads", i);
		EXPECT(api_jtype(r.json, p, json_type_int),
		       "every listed plan has maxDownloads: %s", r.body);
	}
	api_free(&r);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof path, PLANS "/%d", want[i].id);
		api_get(&r, path, NULL);
		EXPECT_OK(r, 200);
		EXPECT(api_jint(r.json, "data.plan.maxDownloads") == want[i].max,
		       "plan %d: maxDownloads %d, got %s", want[i].id, want[i].max, r.body);
		EXPECT(api_jbool(r.json, "data.plan.downloadAllowed") == (want[i].max > 0),
		       "plan %d: downloadAllowed agrees with maxDownloads: %s", want[i].id, r.body);
		api_free(&r);
	}
}

static void test_subscription_status_shows_the_plans_max_downloads(void)
{
	api_user u;
	api_resp r;

	if (api_viewer(&u, "dl-status", PLAN_PREMIUM) != 0)
		return;
	api_get(&r, API "/subscriptions/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.subscription.plan.maxDownloads") == 10,
	       "a Premium subscription's plan shows maxDownloads 10: %s", r.body);
	api_free(&r);
	api_user_free(&u);
}

static void test_admin_plan_writes_accept_and_validate_max_downloads(void)
{
	static const char *const bad[] = {"-1", "1001", "\"3\"", "2.5", "true"};
	const char *plan = plan_with_two();
	char path[96], body[96];
	api_resp r;

	if (plan == NULL)
		return;
	snprintf(path, sizeof path, PLANS "/%s", plan);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(body, sizeof body, "{\"maxDownloads\":%s}", bad[i]);
		api_send(&r, "PUT", path, admin.token, body);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "maxDownloads"),
		       "maxDownloads %s: errors[] names it", bad[i]);
		api_free(&r);
	}
	EXPECT(api_db_ll_s("SELECT max_downloads FROM plans WHERE id = ?", plan) == 2,
	       "refused writes left maxDownloads at 2");
	api_send(&r, "PUT", path, admin.token, "{\"maxDownloads\":1000}");
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.plan.maxDownloads") == 1000, "PUT maxDownloads 1000: %s",
	       r.body);
	api_free(&r);
	api_send(&r, "PUT", path, admin.token, "{\"maxDownloads\":2}");
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "data.plan.maxDownloads") == 2, "PUT maxDownloads 2: %s", r.body);
	api_free(&r);
}

/* ---------------------------------------------------------------- issuing */

static void test_download_is_201_with_licence_capped_quality_and_playable_manifest(void)
{
	long long cid = api_title(2, 4);
	api_user u;
	api_resp r;
	const char *exp, *url;
	char cids[24], prefix[300], buf[1200];
	long long exp_ms, want_ms = ((long long)time(NULL) + 30LL * 86400) * 1000;

	if (api_viewer(&u, "dl-shape", PLAN_PREMIUM) != 0)
		return;
	snprintf(cids, sizeof cids, "%lld", cid);
	dl(&r, &u, cids, "tablet-1", "4K");
	EXPECT_OK(r, 201);
	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_all_digits(api_jstr(r.json, "data.download.id")), "download.id is an id: %s",
	       r.body);
	EXPECT_STR(api_jstr(r.json, "data.download.contentId"), cids);
	EXPECT_STR(api_jstr(r.json, "data.download.deviceId"), "tablet-1");
	EXPECT_STR(api_jstr(r.json, "data.download.quality"), "1080p");
	exp = api_jstr(r.json, "data.download.expiresAt");
	exp_ms = api_iso_ms(exp);
	EXPECT(exp_ms > want_ms - 120000 && exp_ms < want_ms + 120000,
	       "expiresAt is download.ttl_days (30) from now, got %s", exp ? exp : "(none)");
	url = api_jstr(r.json, "data.download.manifestUrl");
	snprintf(prefix, sizeof prefix, "%s/media/t/", api_base());
	EXPECT(url && strncmp(url, prefix, strlen(prefix)) == 0 && strstr(url, "master-2-2.m3u8"),
	       "manifestUrl is the 1080p master under %s, got %s", prefix, url ? url : "(none)");
	if (url) {
		const char *slash = strrchr(url, '/');
		EXPECT_MEDIA(url, 200, "the licence's manifest");
		snprintf(buf, sizeof buf, "%.*s/1080p/index.m3u8", (int)(slash - url), url);
		EXPECT_MEDIA(buf, 200, "the licence's 1080p variant");
		snprintf(buf, sizeof buf, "%.*s/2160p/index.m3u8", (int)(slash - url), url);
		EXPECT_MEDIA(buf, 403, "a 2160p variant with a 1080p licence");
	}
	api_free(&r);
	/* a lower quality asked is granted as asked, and its token caps the media there */
	dl(&r, &u, cids, "phone-1", "720p");
	EXPECT_OK(r, 201);
	EXPECT_STR(api_jstr(r.json, "data.download.quality"), "720p");
	url = api_jstr(r.json, "data.download.manifestUrl");
	if (url) {
		const char *slash = strrchr(url, '/');
		snprintf(buf, sizeof buf, "%.*s/1080p/index.m3u8", (int)(slash - url), url);
		EXPECT_MEDIA(buf, 403, "a 1080p variant with a 720p licence");
	}
	api_free(&r);
	api_user_free(&u);
}

static void test_same_device_and_title_renews_and_never_counts_twice(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *first = NULL, *first_exp = NULL;

	if (two_viewer(&u, "dl-renew") != 0)
		return;
	dl_id(&r, &u, cid, "tv", NULL);
	EXPECT_OK(r, 201);
	api_take_str(&first, &r, "data.download.id");
	api_take_str(&first_exp, &r, "data.download.expiresAt");
	api_free(&r);
	usleep(1100000);
	for (int i = 0; i < 3; i++) {
		dl_id(&r, &u, cid, "tv", NULL);
		EXPECT_OK(r, 201);
		EXPECT(api_streq(api_jstr(r.json, "data.download.id"), first),
		       "the same device and title renew licence %s, got %s", first ? first : "-",
		       r.body);
		EXPECT(
		    api_iso_ms(api_jstr(r.json, "data.download.expiresAt")) > api_iso_ms(first_exp),
		    "a renewal moves expiresAt past %s: %s", first_exp ? first_exp : "-", r.body);
		api_free(&r);
	}
	EXPECT(all_rows(u.id) == 1, "renewals write no second licence row, got %lld",
	       all_rows(u.id));
	api_get(&r, DOWNLOADS, u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jlen(r.json, "data.downloads") == 1 && api_jint(r.json, "count") == 1,
	       "GET /downloads lists the one licence: %s", r.body);
	api_free(&r);
	free(first);
	free(first_exp);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- refusals */

static void test_plan_without_downloads_or_title_above_level_is_403(void)
{
	api_user free_u, basic, premium;
	api_resp r;

	if (api_viewer(&free_u, "dl-free", PLAN_FREE) != 0)
		return;
	if (api_viewer(&basic, "dl-basic", PLAN_BASIC) != 0 ||
	    api_viewer(&premium, "dl-prem", PLAN_PREMIUM) != 0)
		goto out;
	dl_id(&r, &free_u, api_title(0, 1), "d", NULL);
	EXPECT_ERROR(r, 403, "DOWNLOADS_NOT_ALLOWED");
	api_free(&r);
	dl_id(&r, &basic, api_title(1, 1), "d", NULL);
	EXPECT_ERROR(r, 403, "DOWNLOADS_NOT_ALLOWED");
	api_free(&r);
	dl_id(&r, &free_u, api_title(1, 1), "d", NULL);
	EXPECT_ERROR(r, 403, "SUBSCRIPTION_REQUIRED");
	api_free(&r);
	dl_id(&r, &premium, api_title(3, 1), "d", NULL);
	EXPECT_ERROR(r, 403, "TIER_TOO_LOW");
	api_free(&r);
	EXPECT(all_rows(free_u.id) == 0 && all_rows(basic.id) == 0 && all_rows(premium.id) == 0,
	       "refused downloads write no licence");
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM devices WHERE user_id = ?", basic.id) == 0,
	       "a refused download registers no device");
	api_user_free(&premium);
out:
	api_user_free(&basic);
	api_user_free(&free_u);
}

static void test_bad_input_is_4xx_and_writes_nothing(void)
{
	long long cid = api_title(2, 1);
	char path[96];
	api_user u;
	api_resp r;

	if (api_viewer(&u, "dl-bad", PLAN_PREMIUM) != 0)
		return;
	snprintf(path, sizeof path, API "/content/%lld/download", cid);
	api_send(&r, "POST", path, u.token, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "deviceId"), "a missing deviceId is named: %s", r.body);
	api_free(&r);
	api_send(&r, "POST", path, u.token, "{\"deviceId\":\"\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	api_send(&r, "POST", path, u.token, "{\"deviceId\":\"d\",\"quality\":\"8K\"}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "quality"), "a bad quality is named: %s", r.body);
	api_free(&r);
	api_send(&r, "POST", path, u.token, "{\"deviceId\":");
	EXPECT_ERROR(r, 400, "MALFORMED_JSON");
	api_free(&r);
	dl(&r, &u, "abc", "d", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	dl(&r, &u, "99999999", "d", NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "POST", path, NULL, "{\"deviceId\":\"d\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_send(&r, "DELETE", DOWNLOADS "/abc", u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT(all_rows(u.id) == 0, "bad downloads write no licence, got %lld", all_rows(u.id));
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM devices WHERE user_id = ?", u.id) == 0,
	       "bad downloads register no device");
	api_user_free(&u);
}

static void test_new_device_beyond_plan_is_403_device_limit_for_downloads_and_streams(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char dev[16];

	if (api_viewer(&u, "dl-devices", PLAN_PREMIUM) != 0)
		return;
	for (int i = 0; i < 4; i++) {
		snprintf(dev, sizeof dev, "dev-%d", i);
		dl_ok(&u, cid, dev, NULL, NULL);
	}
	dl_id(&r, &u, cid, "dev-5", NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	EXPECT(api_jlen(r.json, "devices") == 4, "the 403 lists the 4 registered devices: %s",
	       r.body);
	api_free(&r);
	/* devices registered by downloads hold their slots for streams too */
	api_stream_start(&r, &u, cid, "dev-5", NULL, NULL);
	EXPECT_ERROR(r, 403, "DEVICE_LIMIT_REACHED");
	api_free(&r);
	EXPECT(live_rows(u.id) == 4, "4 licences, none for the refused device, got %lld",
	       live_rows(u.id));
	api_user_free(&u);
}

static void test_over_max_downloads_is_429_with_the_live_licences(void)
{
	api_user u;
	api_resp r;
	char *a = NULL, *b = NULL;

	if (two_viewer(&u, "dl-limit") != 0)
		return;
	dl_ok(&u, nth_title(2, 0), "tab", &a, NULL);
	dl_ok(&u, nth_title(2, 1), "tab", &b, NULL);
	dl_id(&r, &u, nth_title(2, 2), "tab", NULL);
	EXPECT_ERROR(r, 429, "DOWNLOAD_LIMIT_EXCEEDED");
	EXPECT(api_jlen(r.json, "downloads") == 2 &&
	           api_streq(api_jstr(r.json, "downloads.0.id"), a) &&
	           api_streq(api_jstr(r.json, "downloads.1.id"), b),
	       "the 429 lists the live licences %s, %s: %s", a ? a : "-", b ? b : "-", r.body);
	api_free(&r);
	/* a renewal at the limit is not a new licence */
	dl_id(&r, &u, nth_title(2, 1), "tab", NULL);
	EXPECT_OK(r, 201);
	api_free(&r);
	EXPECT(live_rows(u.id) == 2 && all_rows(u.id) == 2, "still 2 licences, got %lld",
	       all_rows(u.id));
	free(a);
	free(b);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- list, revoke, expiry */

static void test_revoked_licence_media_is_403_at_once_and_others_cannot_revoke(void)
{
	long long cid = api_title(2, 1);
	api_user u, other;
	api_resp r;
	char *id = NULL, *url = NULL, path[96];

	if (api_viewer(&u, "dl-revoke", PLAN_PREMIUM) != 0)
		return;
	if (api_viewer(&other, "dl-other", PLAN_PREMIUM) != 0)
		goto out_u;
	if (dl_ok(&u, cid, "laptop", &id, &url) != 0 || id == NULL || url == NULL)
		goto out;
	EXPECT_MEDIA(url, 200, "the manifest of a live licence");
	snprintf(path, sizeof path, DOWNLOADS "/%s", id);
	api_send(&r, "DELETE", path, other.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT_MEDIA(url, 200, "the manifest after another user tried to revoke it");
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT_MEDIA(url, 403, "the manifest of a revoked licence");
	api_get(&r, DOWNLOADS, u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jlen(r.json, "data.downloads") == 0, "a revoked licence is not listed: %s",
	       r.body);
	api_free(&r);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	api_send(&r, "DELETE", DOWNLOADS "/99999999", u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
out:
	free(id);
	free(url);
	api_user_free(&other);
out_u:
	api_user_free(&u);
}

/* Sets licence id's expiry (Unix seconds) in MariaDB. */
static void set_expiry(const char *id, long long exp)
{
	char sql[200], err[256];

	snprintf(sql, sizeof sql,
	         "UPDATE download_licences SET expires_at = FROM_UNIXTIME(%lld) WHERE id = %lld",
	         exp, atoll(id));
	EXPECT(api_db_script(sql, err, sizeof err) == 0, "set a licence's expiry: %s", err);
}

static void test_expired_licence_media_is_403(void)
{
	long long cid = api_title(2, 2), past = (long long)time(NULL) - 5;
	api_user u;
	api_resp r;
	char *id = NULL, *url = NULL, tok[256], buf[1200];
	sp_media_claims c;

	if (api_viewer(&u, "dl-expire", PLAN_PREMIUM) != 0 || api_db_ready() != 0)
		return;
	if (dl_ok(&u, cid, "car", &id, &url) != 0 || id == NULL || url == NULL)
		goto out;
	/* a token signed with the stack's key for the live licence: only its exp differs */
	memset(&c, 0, sizeof c);
	sp_media_licence_sid(atoll(id), c.sid, sizeof c.sid);
	c.content_id = cid;
	c.max_quality = 1;
	c.exp = (long long)time(NULL) + 600;
	sp_media_token(&c, tok, sizeof tok);
	snprintf(buf, sizeof buf, "%s/media/t/%s/%lld/720p/index.m3u8", api_base(), tok, cid);
	EXPECT_MEDIA(buf, 200, "control: a licence token signed here with a future expiry");
	c.exp = past;
	sp_media_token(&c, tok, sizeof tok);
	snprintf(buf, sizeof buf, "%s/media/t/%s/%lld/720p/index.m3u8", api_base(), tok, cid);
	EXPECT_MEDIA(buf, 403, "a licence token past its expiry (a stream's would play)");
	/* the licence itself expired: MariaDB's row decides (Redis away) */
	set_expiry(id, past);
	api_get(&r, DOWNLOADS, u.token);
	EXPECT(api_jlen(r.json, "data.downloads") == 0, "an expired licence is not listed: %s",
	       r.body);
	api_free(&r);
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	EXPECT_MEDIA(url, 403, "the manifest of an expired licence, Redis away");
	api_redis_start_and_wait();
	/* downloading it again is a new licence */
	dl_id(&r, &u, cid, "car", NULL);
	EXPECT_OK(r, 201);
	EXPECT(!api_streq(api_jstr(r.json, "data.download.id"), id),
	       "after expiry the same device and title get a new licence: %s", r.body);
	api_free(&r);
out:
	free(id);
	free(url);
	api_user_free(&u);
}

static void test_media_of_a_live_licence_is_served_without_redis_and_revoked_is_not(void)
{
	long long cid = api_title(2, 1);
	api_user u;
	api_resp r;
	char *id = NULL, *url = NULL, *id2 = NULL, *url2 = NULL, path[96];

	if (api_viewer(&u, "dl-noredis", PLAN_PREMIUM) != 0)
		return;
	if (dl_ok(&u, cid, "a", &id, &url) != 0 || dl_ok(&u, cid, "b", &id2, &url2) != 0 || !url ||
	    !url2)
		goto out;
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	EXPECT_MEDIA(url, 200, "a live licence's manifest with Redis away");
	snprintf(path, sizeof path, DOWNLOADS "/%s", id2);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	api_free(&r);
	EXPECT_MEDIA(url2, 403, "a licence revoked while Redis is away");
	api_redis_start_and_wait();
	/*
	 * A Redis that kept its data through the outage still holds the revoked
	 * licence's copy (the stack's Redis keeps nothing, so it is put back here,
	 * before the authorizer's next request): its reconnect must drop it.
	 */
	if (api_db_ready() == 0) {
		char key[SP_KEY_MAX], val[24];
		sp_key_download(key, sizeof key, atoll(id2));
		snprintf(val, sizeof val, "%lld", cid);
		EXPECT(sp_kv_set(key, val, strlen(val), 600, 0) == 1,
		       "the stale copy of the revoked licence is written to Redis");
	}
	EXPECT_MEDIA(url2, 403,
	             "a licence revoked while Redis was away, its copy kept, Redis back");
	EXPECT_MEDIA(url, 200, "the live licence, Redis back");
out:
	api_redis_ensure_started();
	free(id);
	free(url);
	free(id2);
	free(url2);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- the race */

enum { RACERS = 30 };

struct racer {
	pthread_barrier_t *go;
	const char *token;
	long long cid;
	long status;
	char code[48];
};

/* One download of its own title, released with the others. */
static void *racer_run(void *arg)
{
	struct racer *x = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	api_buf g = {NULL, 0};
	char url[256], auth[2200];
	json_object *o;

	snprintf(url, sizeof url, "%s" API "/content/%lld/download", api_base(), x->cid);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", x->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	if (c) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"deviceId\":\"racer\"}");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_buf_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	}
	pthread_barrier_wait(x->go);
	if (c && curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	o = g.data ? json_tokener_parse(g.data) : NULL;
	snprintf(x->code, sizeof x->code, "%s",
	         o && api_jstr(o, "code") ? api_jstr(o, "code") : "");
	if (o)
		json_object_put(o);
	free(g.data);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

/* RACERS downloads of RACERS titles for u at once; how many got 201 and 429. */
static void race(const api_user *u, int *ok, int *limited, int *other)
{
	pthread_t t[RACERS];
	struct racer x[RACERS];
	pthread_barrier_t go;
	int started = 0;

	*ok = *limited = *other = 0;
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		memset(&x[i], 0, sizeof x[i]);
		x[i].go = &go;
		x[i].token = u->token;
		x[i].cid = nth_title(2, i);
	}
	for (int i = 0; i < RACERS && pthread_create(&t[i], NULL, racer_run, &x[i]) == 0; i++)
		started++;
	for (int i = started; i < RACERS; i++)
		pthread_barrier_wait(&go);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	EXPECT(started == RACERS, "%d of %d race threads started", started, RACERS);
	for (int i = 0; i < started; i++) {
		if (x[i].status == 201)
			(*ok)++;
		else if (x[i].status == 429 && strcmp(x[i].code, "DOWNLOAD_LIMIT_EXCEEDED") == 0)
			(*limited)++;
		else
			(*other)++;
	}
}

static void race_leaves_exactly_two(const char *prefix, int redis_down)
{
	api_user u;
	api_resp r;
	int ok, limited, other;

	if (two_viewer(&u, prefix) != 0)
		return;
	if (nth_title(2, RACERS - 1) <= 0) {
		EXPECT(0, "%d titles at Premium or below exist", RACERS);
		goto out;
	}
	if (redis_down && api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	race(&u, &ok, &limited, &other);
	if (redis_down)
		api_redis_start_and_wait();
	EXPECT(ok == 2 && limited == RACERS - 2 && other == 0,
	       "%s: %d simultaneous downloads on a 2-download plan: %d got 201, %d got 429, %d "
	       "other (want 2/%d/0)",
	       redis_down ? "Redis stopped" : "Redis up", RACERS, ok, limited, other, RACERS - 2);
	EXPECT(live_rows(u.id) == 2 && all_rows(u.id) == 2,
	       "exactly 2 licences in MariaDB after the race, got %lld live of %lld",
	       live_rows(u.id), all_rows(u.id));
	api_get(&r, DOWNLOADS, u.token);
	EXPECT(api_jlen(r.json, "data.downloads") == 2, "GET /downloads lists 2: %s", r.body);
	api_free(&r);
out:
	api_redis_ensure_started();
	api_user_free(&u);
}

static void test_thirty_simultaneous_downloads_leave_exactly_two(void)
{
	race_leaves_exactly_two("dl-race", 0);
}

static void test_without_redis_thirty_simultaneous_downloads_leave_exactly_two(void)
{
	race_leaves_exactly_two("dl-race-nr", 1);
}

/* ---------------------------------------------------------------- enforcement */

static void test_downgrade_and_enforce_revoke_the_newest_licences_and_notify(void)
{
	api_user u;
	char *id[3] = {NULL, NULL, NULL}, *url[3] = {NULL, NULL, NULL}, *payload = NULL;
	char want[64];
	int rc;

	if (api_viewer(&u, "dl-enforce", PLAN_ULTIMATE) != 0)
		return;
	for (int i = 0; i < 3; i++) {
		dl_ok(&u, nth_title(2, 10 + i), "tab", &id[i], &url[i]);
		usleep(20000);
	}
	if (!id[2] || !url[0] || !url[2] || plan_with_two() == NULL ||
	    api_subscribe(&u, atoi(two_plan)) != 0)
		goto out;
	EXPECT_MEDIA(url[2], 200, "the newest licence before enforcement");
	rc = api_run_tool("worker", "enforce");
	EXPECT(rc == 0, "scripts/dev worker enforce exits 0, got %d", rc);
	EXPECT(api_db_ll_s("SELECT revoked_at IS NOT NULL FROM download_licences WHERE id = ?",
	                   id[2]) == 1,
	       "the newest licence %s is revoked", id[2]);
	EXPECT(live_rows(u.id) == 2, "the 2 oldest stay live, got %lld", live_rows(u.id));
	EXPECT_MEDIA(url[2], 403, "the revoked newest licence's manifest");
	EXPECT_MEDIA(url[0], 200, "the oldest licence's manifest");
	EXPECT(api_outbox_count(u.id, "download.revoked") == 1,
	       "one download.revoked event, got %lld", api_outbox_count(u.id, "download.revoked"));
	payload =
	    api_db_str_s("SELECT CONCAT(JSON_VALUE(payload, '$.count'), ' ', "
	                 "JSON_VALUE(payload, '$.downloadIds[0]'), ' ', "
	                 "JSON_LENGTH(payload, '$.downloadIds')) FROM outbox WHERE event_type = "
	                 "'download.revoked' AND user_id = ?",
	                 u.id);
	snprintf(want, sizeof want, "1 %s 1", id[2]);
	EXPECT(api_streq(payload, want),
	       "the event's count, downloadIds[0] and their number: want %s, got %s", want,
	       payload ? payload : "-");
	free(payload);
	/* the mailer renders the new event's templates */
	rc = api_run_tool("worker", "mailer");
	EXPECT(api_db_ll_s("SELECT status = 'sent' FROM outbox WHERE event_type = "
	                   "'download.revoked' AND user_id = ?",
	                   u.id) == 1,
	       "the mailer sent the download.revoked mail (exit %d)", rc);
	/* a plan without downloads: every licence goes */
	if (api_subscribe(&u, PLAN_BASIC) == 0) {
		api_run_tool("worker", "enforce");
		EXPECT(live_rows(u.id) == 0, "on Basic no licence stays live, got %lld",
		       live_rows(u.id));
		EXPECT_MEDIA(url[0], 403, "the oldest licence's manifest on Basic");
		EXPECT(api_outbox_count(u.id, "download.revoked") == 2,
		       "a second download.revoked event");
	}
out:
	for (int i = 0; i < 3; i++) {
		free(id[i]);
		free(url[i]);
	}
	api_user_free(&u);
}

static void test_expiry_by_the_lifecycle_revokes_every_licence(void)
{
	api_user u;
	char *url = NULL, sql[300], err[256];
	int rc;

	if (api_viewer(&u, "dl-expiry", PLAN_PREMIUM) != 0)
		return;
	if (dl_ok(&u, nth_title(2, 3), "tab", NULL, &url) != 0 ||
	    dl_ok(&u, nth_title(2, 4), "tab", NULL, NULL) != 0 || url == NULL)
		goto out;
	/* the period ended a minute ago and does not renew */
	snprintf(
	    sql, sizeof sql,
	    "UPDATE subscriptions SET auto_renew = 0, end_date = UTC_TIMESTAMP(3) - INTERVAL 1 "
	    "MINUTE, start_date = UTC_TIMESTAMP(3) - INTERVAL 31 DAY WHERE user_id = %lld AND "
	    "status = 'active'",
	    atoll(u.id));
	EXPECT(api_db_script(sql, err, sizeof err) == 0, "end the subscription: %s", err);
	rc = api_run_tool("worker", "lifecycle");
	EXPECT(rc == 0, "scripts/dev worker lifecycle exits 0, got %d", rc);
	EXPECT(api_db_ll_s("SELECT COUNT(*) FROM subscriptions WHERE user_id = ? AND status = "
	                   "'expired'",
	                   u.id) == 1,
	       "the subscription expired");
	EXPECT(live_rows(u.id) == 0, "at Free no licence stays live, got %lld", live_rows(u.id));
	EXPECT(api_outbox_count(u.id, "download.revoked") == 1,
	       "one download.revoked event after the expiry, got %lld",
	       api_outbox_count(u.id, "download.revoked"));
	EXPECT_MEDIA(url, 403, "a licence's manifest after the subscription expired");
out:
	free(url);
	api_user_free(&u);
}

int api_suite_downloads(void)
{
	CU_pSuite s = CU_add_suite("downloads", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_plans_show_max_downloads_with_the_seeded_values);
	ADD(test_subscription_status_shows_the_plans_max_downloads);
	ADD(test_admin_plan_writes_accept_and_validate_max_downloads);
	ADD(test_download_is_201_with_licence_capped_quality_and_playable_manifest);
	ADD(test_same_device_and_title_renews_and_never_counts_twice);
	ADD(test_plan_without_downloads_or_title_above_level_is_403);
	ADD(test_bad_input_is_4xx_and_writes_nothing);
	ADD(test_new_device_beyond_plan_is_403_device_limit_for_downloads_and_streams);
	ADD(test_over_max_downloads_is_429_with_the_live_licences);
	ADD(test_revoked_licence_media_is_403_at_once_and_others_cannot_revoke);
	ADD(test_expired_licence_media_is_403);
	ADD(test_media_of_a_live_licence_is_served_without_redis_and_revoked_is_not);
	ADD(test_thirty_simultaneous_downloads_leave_exactly_two);
	ADD(test_without_redis_thirty_simultaneous_downloads_leave_exactly_two);
	ADD(test_downgrade_and_enforce_revoke_the_newest_licences_and_notify);
	ADD(test_expiry_by_the_lifecycle_revokes_every_licence);
	return 0;
}
