/*
 * The media the web server serves, as an outsider and as a player see it:
 * nothing under /media/ without a valid token (every file on disk is tried),
 * encoder sources out of reach, canonical title ids, ended sessions refused
 * even while Redis is down, no token in the access log, and master
 * playlists that declare what the segments really are (ffprobe).
 */
#include "api_client.h"

#include "sp_config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define API "/api/v1"

#define PLAN_ULTIMATE 4

/* ---------------------------------------------------------------- helpers */

/* The checkout the stack runs from: the directory above scripts/dev. */
static void checkout_root(char *out, size_t n)
{
	const char *dev = getenv("SP_DEV");
	char *slash;

	snprintf(out, n, "%s", dev ? dev : "scripts/dev");
	for (int i = 0; i < 2; i++) {
		slash = strrchr(out, '/');
		if (slash == NULL) {
			snprintf(out, n, ".");
			return;
		}
		*slash = '\0';
	}
	if (out[0] == '\0')
		snprintf(out, n, "/");
}

/* The media root on disk: media.dir of the stack's configuration, else <checkout>/www/media. */
static void media_root(char *out, size_t n)
{
	const char *d = api_db_ready() == 0 ? sp_conf_str("media.dir", "") : "";
	char root[900];

	if (d && d[0]) {
		snprintf(out, n, "%s", d);
		return;
	}
	checkout_root(root, sizeof root);
	snprintf(out, n, "%s/www/media", root);
}

/* The streamUrl without its last part ("<base>/media/t/<token>/<cid>") and its token. */
static int url_parts(const char *url, char *base, size_t bn, char *token, size_t tn)
{
	const char *t = strstr(url, "/media/t/"), *slash, *last = strrchr(url, '/');

	if (t == NULL || last == NULL)
		return -1;
	t += 9;
	slash = strchr(t, '/');
	if (slash == NULL || slash >= last)
		return -1;
	snprintf(base, bn, "%.*s", (int)(last - url), url);
	snprintf(token, tn, "%.*s", (int)(slash - t), t);
	return 0;
}

/* ---------------------------------------------------------------- no token, no media */

typedef struct walk {
	size_t files;
	size_t served; /* answered 200 */
	char first[1400];
} walk;

/* Every regular file below dir (rel: its path below the media root) is asked for
 * without a token, with a malformed one in the path and with one in the query. */
static void walk_dir(const char *dir, const char *rel, walk *w)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[1200], sub[700], url[1400];
		struct stat st;
		const char *forms[] = {"%s/media/%s", "%s/media/t/not-a-token/%s",
		                       "%s/media/%s?t=1.2.3.4.abc"};

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_dir(path, sub, w);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		w->files++;
		for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
			snprintf(url, sizeof url, forms[i], api_base(), sub);
			if (api_get_status(url) == 200) {
				if (w->served++ == 0)
					snprintf(w->first, sizeof w->first, "%s", url);
			}
		}
	}
	closedir(d);
}

static void test_no_file_under_the_media_root_is_served_without_a_valid_token(void)
{
	char root[1000];
	walk w;

	memset(&w, 0, sizeof w);
	media_root(root, sizeof root);
	walk_dir(root, "", &w);
	EXPECT(w.files > 100, "the media root %s holds the generated media (found %zu files)", root,
	       w.files);
	EXPECT(w.served == 0,
	       "%zu of %zu requests for files under %s without a valid token answered 200, "
	       "e.g. %s",
	       w.served, w.files * 3, root, w.first);
}

static void test_encoder_sources_are_not_served(void)
{
	const char *paths[] = {
	    "/media/_source/2160p/seg_000.ts",
	    "/media/_source/2160p/index.m3u8",
	    "/media/_source/480p/seg_000.ts",
	    "/media/t/x/_source/2160p/seg_000.ts",
	    "/media/_source/",
	    "/media/",
	};
	char root[900], path[1000];
	struct stat st;

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char url[600];
		long st_code;
		snprintf(url, sizeof url, "%s%s", api_base(), paths[i]);
		st_code = api_get_status(url);
		EXPECT(st_code != 200 && st_code != 0, "GET %s: expected a refusal, got %ld",
		       paths[i], st_code);
	}
	/* and no media sits in the web root outside /media/ (the old benchmark copy) */
	checkout_root(root, sizeof root);
	snprintf(path, sizeof path, "%s/www/bench/segment.ts", root);
	EXPECT(stat(path, &st) != 0, "%s: a media segment in the web root outside /media/", path);
}

/* ---------------------------------------------------------------- title ids */

static void test_title_id_with_leading_zero_or_sign_is_refused(void)
{
	long long cid = api_title(0, 1);
	api_user u;
	char *sid = NULL, *url = NULL, base[1024], token[256], buf[1400];
	const char *prefixes[] = {"0", "00", "+", "%2b"};

	if (api_viewer(&u, "media-ids", 0) != 0)
		return;
	if ((sid = api_stream_start_ok(&u, cid, "media-dev", "Media screen", NULL, &url)) == NULL ||
	    url == NULL || url_parts(url, base, sizeof base, token, sizeof token) != 0) {
		EXPECT(0, "a stream URL of the shape .../media/t/<token>/<id>/<file>: %s",
		       url ? url : "(none)");
		goto out;
	}
	snprintf(buf, sizeof buf, "%s/media/t/%s/%lld/480p/index.m3u8", api_base(), token, cid);
	EXPECT(api_get_status(buf) == 200, "control: %s answers 200", buf);
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		long st;
		snprintf(buf, sizeof buf, "%s/media/t/%s/%s%lld/480p/index.m3u8", api_base(), token,
		         prefixes[i], cid);
		st = api_get_status(buf);
		EXPECT(st == 403,
		       "title %s%lld with the token of title %lld: expected 403, got %ld",
		       prefixes[i], cid, cid, st);
		snprintf(buf, sizeof buf, "%s/media/%s%lld/480p/index.m3u8?t=%s", api_base(),
		         prefixes[i], cid, token);
		st = api_get_status(buf);
		EXPECT(
		    st == 403,
		    "title %s%lld (query form) with the token of title %lld: expected 403, got %ld",
		    prefixes[i], cid, cid, st);
	}
out:
	free(sid);
	free(url);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- Redis down */

static void test_ended_session_media_is_refused_while_redis_is_down(void)
{
	long long cid = api_title(0, 1);
	api_user u;
	api_resp r;
	char *sid = NULL, *url = NULL, base[1024], token[256], seg[1400], body[200];
	long st;

	if (api_viewer(&u, "media-ended", 0) != 0)
		return;
	if ((sid = api_stream_start_ok(&u, cid, "media-dev", "Media screen", NULL, &url)) == NULL ||
	    url == NULL || url_parts(url, base, sizeof base, token, sizeof token) != 0)
		goto out;
	snprintf(seg, sizeof seg, "%s/480p/seg_000.ts", base);
	EXPECT(api_get_status(seg) == 200, "control: the live session's segment answers 200");
	snprintf(body, sizeof body, "{\"sessionId\":\"%s\",\"playbackPosition\":3}", sid);
	api_send(&r, "POST", API "/stream/stop", u.token, body);
	EXPECT_OK(r, 200);
	api_free(&r);
	st = api_get_status(seg);
	EXPECT(st == 403, "the ended session's segment with Redis up: expected 403, got %ld", st);
	if (api_redis_stop() != 0) {
		EXPECT(0, "\"$SP_DEV\" stop redis failed");
		goto out;
	}
	st = api_get_status(seg);
	EXPECT(st == 403, "the ended session's segment with Redis stopped: expected 403, got %ld",
	       st);
	st = api_get_status(url);
	EXPECT(st == 403, "the ended session's master with Redis stopped: expected 403, got %ld",
	       st);
	EXPECT(api_redis_start() == 0, "\"$SP_DEV\" start redis");
out:
	api_redis_ensure_started();
	free(sid);
	free(url);
	api_user_free(&u);
}

/* Neither Redis nor MariaDB can say whether the session is live: 503, never the file. */
static void test_media_is_503_when_neither_redis_nor_mariadb_answers(void)
{
	long long cid = api_title(0, 1);
	api_user u;
	api_resp r;
	char *sid = NULL, *url = NULL, base[1024], token[256], seg[1400];
	int redis_down = 0, db_down = 0;
	long st;

	if (api_viewer(&u, "media-nobackend", 0) != 0)
		return;
	if ((sid = api_stream_start_ok(&u, cid, "media-dev", "Media screen", NULL, &url)) == NULL ||
	    url == NULL || url_parts(url, base, sizeof base, token, sizeof token) != 0)
		goto out;
	snprintf(seg, sizeof seg, "%s/480p/seg_000.ts", base);
	EXPECT(api_get_status(seg) == 200, "control: the live session's segment answers 200");
	redis_down = api_redis_stop() == 0;
	EXPECT(redis_down, "\"$SP_DEV\" stop redis");
	db_down = api_dev_service("stop", "mariadb", NULL) == 0;
	EXPECT(db_down, "\"$SP_DEV\" stop mariadb");
	if (redis_down && db_down) {
		st = api_get_status(seg);
		EXPECT(st == 503, "a segment with Redis and MariaDB stopped: expected 503, got %ld",
		       st);
	}
out:
	if (db_down)
		EXPECT(api_dev_service("start", "mariadb", NULL) == 0, "\"$SP_DEV\" start mariadb");
	api_redis_ensure_started();
	/* the programs reconnect on their next request */
	for (int i = 0; i < 50; i++) {
		api_get(&r, API "/ready", NULL);
		st = r.status;
		api_free(&r);
		if (st == 200)
			break;
		usleep(200000);
	}
	free(sid);
	free(url);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- access log */

/* The stack's access log as a string (malloc'd), or NULL. */
static char *read_access_log(void)
{
	char root[900], path[1100];
	const char *stack = getenv("SP_STACK");
	FILE *f;
	char *buf;
	long n;

	checkout_root(root, sizeof root);
	snprintf(path, sizeof path, "%s/var/%s/log/access.log", root, stack ? stack : "test");
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)(n > 0 ? n : 0) + 1);
	if (buf) {
		size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

static void test_media_token_is_not_written_to_the_access_log(void)
{
	long long cid = api_title(0, 1);
	api_user u;
	char *sid = NULL, *url = NULL, *log = NULL, base[1024], token[256], buf[1400], marker[64];
	const char *sig;

	if (api_viewer(&u, "media-log", 0) != 0)
		return;
	if ((sid = api_stream_start_ok(&u, cid, "media-dev", "Media screen", NULL, &url)) == NULL ||
	    url == NULL || url_parts(url, base, sizeof base, token, sizeof token) != 0)
		goto out;
	EXPECT(api_get_status(url) == 200, "control: the master answers 200");
	snprintf(buf, sizeof buf, "%s/480p/seg_000.ts", base);
	EXPECT(api_get_status(buf) == 200, "control: a segment answers 200");
	snprintf(buf, sizeof buf, "%s/media/%lld/480p/index.m3u8?t=%s", api_base(), cid, token);
	EXPECT(api_get_status(buf) == 200, "control: the query form answers 200");
	/* a request after them, to know when the log has caught up */
	snprintf(marker, sizeof marker, "/log-marker-%ld-%d", (long)time(NULL), (int)getpid());
	snprintf(buf, sizeof buf, "%s%s", api_base(), marker);
	api_get_status(buf);
	for (int i = 0; i < 50; i++) {
		free(log);
		log = read_access_log();
		if (log && strstr(log, marker))
			break;
		usleep(100000);
	}
	EXPECT(log && strstr(log, marker), "the access log records requests (marker %s)", marker);
	/* the signature alone is secret enough to look for; the whole token too */
	sig = strrchr(token, '.');
	EXPECT(log == NULL || strstr(log, token) == NULL, "the access log holds the media token %s",
	       token);
	EXPECT(log == NULL || sig == NULL || strstr(log, sig + 1) == NULL,
	       "the access log holds the media token's signature %s", sig ? sig + 1 : "");
out:
	free(log);
	free(sid);
	free(url);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- playlists */

/* The value of ATTR= in an #EXT-X-STREAM-INF line (quotes removed) into out; 0 found. */
static int inf_attr(const char *line, const char *attr, char *out, size_t n)
{
	char key[40];
	const char *p = line;
	size_t kl;

	snprintf(key, sizeof key, "%s=", attr);
	kl = strlen(key);
	while ((p = strstr(p, key)) != NULL) {
		if (p == line || p[-1] == ':' || p[-1] == ',') {
			p += kl;
			if (*p == '"') {
				const char *e = strchr(p + 1, '"');
				if (e == NULL)
					return -1;
				snprintf(out, n, "%.*s", (int)(e - p - 1), p + 1);
			} else {
				snprintf(out, n, "%.*s", (int)strcspn(p, ",\r\n"), p);
			}
			return 0;
		}
		p += kl;
	}
	return -1;
}

/* ffprobe's lines for a file, one per stream: "codec_name=h264|profile=...|codec_type=video|...".
 */
static int ffprobe(const char *file, char *out, size_t n)
{
	char cmd[1200];
	FILE *p;
	size_t got;

	snprintf(cmd, sizeof cmd,
	         "ffprobe -v error -show_entries "
	         "stream=codec_type,codec_name,profile,level,width,height -of compact=p=0 '%s'",
	         file);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	got = fread(out, 1, n - 1, p);
	out[got] = '\0';
	return pclose(p) == 0 ? 0 : -1;
}

/* The RFC 6381 codec names ffprobe's report stands for, and the resolution. */
static void expected_codecs(const char *probe, char *video, size_t vn, char *audio, size_t an,
                            char *res, size_t rn)
{
	static const struct {
		const char *profile, *hex;
	} avc[] = {{"Constrained Baseline", "42c0"},
	           {"Baseline", "4200"},
	           {"Main", "4d40"},
	           {"High", "6400"}};
	char copy[2048], *line, *save = NULL;

	video[0] = audio[0] = res[0] = '\0';
	snprintf(copy, sizeof copy, "%s", probe);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		static const char *const keys[6] = {"codec_type", "codec_name", "profile",
		                                    "level",      "width",      "height"};
		char f[6][64] = {{0}};
		char *p = line;
		while (p) {
			char *bar = strchr(p, '|');
			size_t l = bar ? (size_t)(bar - p) : strlen(p);
			for (int i = 0; i < 6; i++) {
				size_t kl = strlen(keys[i]);
				if (l > kl && strncmp(p, keys[i], kl) == 0 && p[kl] == '=')
					snprintf(f[i], sizeof f[i], "%.*s", (int)(l - kl - 1),
					         p + kl + 1);
			}
			p = bar ? bar + 1 : NULL;
		}
		if (strcmp(f[0], "video") == 0 && strcmp(f[1], "h264") == 0) {
			for (size_t i = 0; i < sizeof avc / sizeof avc[0]; i++)
				if (strcmp(f[2], avc[i].profile) == 0)
					snprintf(video, vn, "avc1.%s%02x", avc[i].hex, atoi(f[3]));
			snprintf(res, rn, "%sx%s", f[4], f[5]);
		} else if (strcmp(f[0], "audio") == 0 && strcmp(f[1], "aac") == 0 &&
		           strcmp(f[2], "LC") == 0) {
			snprintf(audio, an, "mp4a.40.2");
		}
	}
}

/* One variant: BANDWIDTH at least the peak segment bit rate, AVERAGE-BANDWIDTH at least
 * the average, CODECS and RESOLUTION as ffprobe reports for its first segment. */
static void check_variant(const char *base, const char *inf, const char *uri)
{
	char url[1600], dir[1600], bw[32] = "", abw[32] = "", codecs[128] = "", res[32] = "";
	char video[64], audio[64], want_res[140], probe[2048], tmp[64];
	double dur = 0, total_bits = 0, total_s = 0, peak = 0;
	api_resp pl;
	const char *p;
	int first = 1;

	inf_attr(inf, "BANDWIDTH", bw, sizeof bw);
	inf_attr(inf, "AVERAGE-BANDWIDTH", abw, sizeof abw);
	inf_attr(inf, "CODECS", codecs, sizeof codecs);
	inf_attr(inf, "RESOLUTION", res, sizeof res);
	snprintf(url, sizeof url, "%s/%s", base, uri);
	snprintf(dir, sizeof dir, "%s", url);
	*strrchr(dir, '/') = '\0';
	api_get(&pl, url, NULL);
	EXPECT(pl.status == 200, "GET %s: expected 200, got %ld", uri, pl.status);
	for (p = pl.body; p && *p;) {
		size_t l = strcspn(p, "\r\n");
		char line[256];
		snprintf(line, sizeof line, "%.*s", (int)(l < 255 ? l : 255), p);
		if (strncmp(line, "#EXTINF:", 8) == 0) {
			dur = strtod(line + 8, NULL);
		} else if (line[0] && line[0] != '#') {
			api_resp seg;
			char su[1900];
			snprintf(su, sizeof su, "%s/%s", dir, line);
			api_get(&seg, su, NULL);
			EXPECT(seg.status == 200 && dur > 0, "GET %s: 200 with a duration", su);
			if (seg.status == 200 && dur > 0) {
				total_bits += (double)seg.body_len * 8;
				total_s += dur;
				if ((double)seg.body_len * 8 / dur > peak)
					peak = (double)seg.body_len * 8 / dur;
				if (first) {
					int fd;
					snprintf(tmp, sizeof tmp, "/tmp/api-media-XXXXXX");
					fd = mkstemp(tmp);
					if (fd >= 0) {
						EXPECT(write(fd, seg.body, seg.body_len) ==
						           (ssize_t)seg.body_len,
						       "writing a segment to %s", tmp);
						close(fd);
						EXPECT(ffprobe(tmp, probe, sizeof probe) == 0,
						       "ffprobe %s (%s)", tmp, su);
						unlink(tmp);
						first = 0;
					}
				}
			}
			api_free(&seg);
			dur = 0;
		}
		p += l;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	api_free(&pl);
	EXPECT(!first && total_s > 0, "%s lists segments that could be fetched", uri);
	if (first || total_s <= 0)
		return;
	EXPECT(atol(bw) >= (long)peak,
	       "%s: BANDWIDTH=%s should be at least the peak segment bit rate %.0f", uri, bw, peak);
	EXPECT(abw[0] && atol(abw) >= (long)(total_bits / total_s) && atol(abw) <= atol(bw),
	       "%s: AVERAGE-BANDWIDTH=%s should be at least the average bit rate %.0f and at most "
	       "BANDWIDTH",
	       uri, abw[0] ? abw : "(none)", total_bits / total_s);
	expected_codecs(probe, video, sizeof video, audio, sizeof audio, want_res, sizeof want_res);
	EXPECT(video[0] != '\0', "%s: ffprobe names an H.264 profile: %s", uri, probe);
	{
		char want[160];
		snprintf(want, sizeof want, "%s%s%s", video, audio[0] ? "," : "", audio);
		EXPECT_STR(codecs, want);
	}
	EXPECT_STR(res, want_res);
}

static void test_master_playlist_declares_what_the_segments_are(void)
{
	long long cid = api_title(3, 15);
	api_user u;
	api_resp m;
	char *sid = NULL, *url = NULL, base[1024], token[256], inf[512] = "";
	const char *p;
	int variants = 0;

	if (api_viewer(&u, "media-codecs", PLAN_ULTIMATE) != 0)
		return;
	if ((sid = api_stream_start_ok(&u, cid, "media-dev", "Media screen", "4K", &url)) == NULL ||
	    url == NULL || url_parts(url, base, sizeof base, token, sizeof token) != 0)
		goto out;
	api_get(&m, url, NULL);
	EXPECT(m.status == 200, "GET the master: expected 200, got %ld", m.status);
	for (p = m.body; p && *p;) {
		size_t l = strcspn(p, "\r\n");
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(l < 511 ? l : 511), p);
		if (strncmp(line, "#EXT-X-STREAM-INF:", 18) == 0) {
			snprintf(inf, sizeof inf, "%s", line);
		} else if (line[0] && line[0] != '#' && inf[0]) {
			check_variant(base, inf, line);
			variants++;
			inf[0] = '\0';
		}
		p += l;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	EXPECT(variants == 4, "an Ultimate 4K master lists 4 renditions, got %d", variants);
	api_free(&m);
out:
	free(sid);
	free(url);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- suite */

static int suite_cleanup(void)
{
	api_redis_ensure_started();
	return 0;
}

int api_suite_media(void)
{
	CU_pSuite s = CU_add_suite("media", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "test_no_file_under_the_media_root_is_served_without_a_valid_token",
	                 test_no_file_under_the_media_root_is_served_without_a_valid_token) ||
	    !CU_add_test(s, "test_encoder_sources_are_not_served",
	                 test_encoder_sources_are_not_served) ||
	    !CU_add_test(s, "test_title_id_with_leading_zero_or_sign_is_refused",
	                 test_title_id_with_leading_zero_or_sign_is_refused) ||
	    !CU_add_test(s, "test_ended_session_media_is_refused_while_redis_is_down",
	                 test_ended_session_media_is_refused_while_redis_is_down) ||
	    !CU_add_test(s, "test_media_is_503_when_neither_redis_nor_mariadb_answers",
	                 test_media_is_503_when_neither_redis_nor_mariadb_answers) ||
	    !CU_add_test(s, "test_media_token_is_not_written_to_the_access_log",
	                 test_media_token_is_not_written_to_the_access_log) ||
	    !CU_add_test(s, "test_master_playlist_declares_what_the_segments_are",
	                 test_master_playlist_declares_what_the_segments_are))
		return -1;
	return 0;
}
