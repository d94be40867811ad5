/*
 * sp-admin gen-media: real HLS test media made with ffmpeg. One short,
 * low-bitrate source per rendition is encoded once (H.264 + AAC in MPEG-TS,
 * which browsers play through MSE) into a source directory outside the web
 * root, then each title gets the renditions its level allows as hard links,
 * plus one master playlist per (highest allowed, default) pair so a
 * session's URL lists only what its plan may play. The playlists declare
 * what ffprobe measures in the files (codecs, resolution, bit rates).
 */
#include "gen_media.h"
#include "media_probe.h"
#include "sp_db.h"
#include "sp_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

static const struct {
	const char *name; /* directory and playlist name */
	int w, h;
	const char *vbit;
} renditions[4] = {
    {"480p", 854, 480, "350k"},
    {"720p", 1280, 720, "700k"},
    {"1080p", 1920, 1080, "1300k"},
    {"2160p", 3840, 2160, "2800k"},
};

/* snprintf for paths: -1 instead of a silently cut path. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Encodes the shared source of one rendition unless it is already there. */
static int encode(const char *src, int q)
{
	char dir[1024], playlist[1100], seg[1100], size[32], lavfi[128], gop[8];
	struct stat st;

	if (pathf(dir, sizeof dir, "%s/%s", src, renditions[q].name) != 0)
		return -1;
	if (pathf(playlist, sizeof playlist, "%s/index.m3u8", dir) != 0)
		return -1;
	if (stat(playlist, &st) == 0)
		return 0;
	if (sp_mkdirs(dir) != 0)
		return -1;
	if (pathf(seg, sizeof seg, "%s/seg_%%03d.ts", dir) != 0)
		return -1;
	snprintf(size, sizeof size, "%dx%d", renditions[q].w, renditions[q].h);
	snprintf(lavfi, sizeof lavfi, "testsrc2=size=%s:rate=25", size);
	snprintf(gop, sizeof gop, "%d", 50);
	char *argv[] = {"ffmpeg",
	                "-loglevel",
	                "error",
	                "-y",
	                "-f",
	                "lavfi",
	                "-i",
	                lavfi,
	                "-f",
	                "lavfi",
	                "-i",
	                "sine=frequency=440:sample_rate=44100",
	                "-t",
	                "6",
	                "-c:v",
	                "libx264",
	                "-preset",
	                "ultrafast",
	                "-profile:v",
	                "baseline",
	                "-pix_fmt",
	                "yuv420p",
	                "-b:v",
	                (char *)renditions[q].vbit,
	                "-maxrate",
	                (char *)renditions[q].vbit,
	                "-bufsize",
	                (char *)renditions[q].vbit,
	                "-g",
	                gop,
	                "-keyint_min",
	                gop,
	                "-sc_threshold",
	                "0",
	                "-c:a",
	                "aac",
	                "-b:a",
	                "64k",
	                "-f",
	                "hls",
	                "-hls_time",
	                "2",
	                "-hls_playlist_type",
	                "vod",
	                "-hls_segment_filename",
	                seg,
	                playlist,
	                NULL};
	printf("gen-media: encoding %s\n", renditions[q].name);
	fflush(stdout);
	return run(argv);
}

/* Hard-links (or copies) every file of the source rendition into the title's directory. */
static int link_rendition(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int rc = 0;

	if (d == NULL || sp_mkdirs(dst) != 0) {
		if (d)
			closedir(d);
		return -1;
	}
	while ((e = readdir(d)) != NULL && rc == 0) {
		char from[1400], to[1400];
		if (e->d_name[0] == '.')
			continue;
		if (pathf(from, sizeof from, "%s/%s", src, e->d_name) != 0 ||
		    pathf(to, sizeof to, "%s/%s", dst, e->d_name) != 0) {
			rc = -1;
			break;
		}
		unlink(to);
		if (link(from, to) != 0) {
			char *argv[] = {"cp", from, to, NULL};
			rc = run(argv);
		}
	}
	closedir(d);
	return rc;
}

/* master-<max>-<default>.m3u8: renditions 0..max the title has, the default first,
 * each described as probed. */
static int write_master(const char *dir, int mask, int max, int def, const media_probe probes[4])
{
	char path[1100];
	FILE *f;

	if (pathf(path, sizeof path, "%s/master-%d-%d.m3u8", dir, max, def) != 0)
		return -1;
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "#EXTM3U\n#EXT-X-VERSION:3\n");
	for (int pass = 0; pass < 2; pass++) {
		for (int q = 0; q <= max; q++) {
			if (!(mask & (1 << q)) || (pass == 0) != (q == def))
				continue;
			fprintf(f,
			        "#EXT-X-STREAM-INF:BANDWIDTH=%ld,AVERAGE-BANDWIDTH=%ld,"
			        "RESOLUTION=%dx%d,CODECS=\"%s\",NAME=\"%s\"\n%s/index.m3u8\n",
			        probes[q].peak_bps, probes[q].avg_bps, probes[q].width,
			        probes[q].height, probes[q].codecs, renditions[q].name,
			        renditions[q].name);
		}
	}
	return fclose(f) == 0 ? 0 : -1;
}

int gen_media(const char *root, const char *src)
{
	char old[1100];
	media_probe probes[4];
	struct stat st;
	sp_res res;
	int made = 0;

	if (src == NULL || src[0] == '\0') {
		fprintf(stderr, "gen-media: no source directory (--source or media.source_dir)\n");
		return 1;
	}
	for (int q = 0; q < 4; q++) {
		if (encode(src, q) != 0) {
			fprintf(stderr, "gen-media: ffmpeg failed for %s (is ffmpeg installed?)\n",
			        renditions[q].name);
			return 1;
		}
		char dir[1100];
		if (pathf(dir, sizeof dir, "%s/%s", src, renditions[q].name) != 0 ||
		    media_probe_rendition(dir, &probes[q]) != 0)
			return 1;
	}
	/* sources kept in the web root by earlier versions are taken out of it */
	if (pathf(old, sizeof old, "%s/_source", root) == 0 && stat(old, &st) == 0) {
		char *argv[] = {"rm", "-rf", "--", old, NULL};
		if (run(argv) != 0)
			fprintf(stderr, "gen-media: cannot remove %s\n", old);
		else
			printf("gen-media: removed the old sources under %s\n", old);
	}
	/* and so is the old benchmark copy beside the media (dev and test stacks now
	 * serve the source's segment at /bench/segment.ts) */
	if (pathf(old, sizeof old, "%s/../bench/segment.ts", root) == 0 && unlink(old) == 0 &&
	    pathf(old, sizeof old, "%s/../bench", root) == 0)
		rmdir(old);
	if (sp_db_query(&res, "SELECT id, renditions FROM content", "") != 0) {
		fprintf(stderr, "gen-media: cannot read the catalogue\n");
		return 1;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		long long id = sp_res_ll(&res, i, 0, 0);
		int mask = (int)sp_res_ll(&res, i, 1, 1) | 1; /* every title has 480p */
		char dir[1100];

		if (pathf(dir, sizeof dir, "%s/%lld", root, id) != 0)
			goto fail;
		for (int q = 0; q < 4; q++) {
			char from[1100], to[1200];
			if (!(mask & (1 << q)))
				continue;
			if (pathf(from, sizeof from, "%s/%s", src, renditions[q].name) != 0 ||
			    pathf(to, sizeof to, "%s/%s", dir, renditions[q].name) != 0 ||
			    link_rendition(from, to) != 0)
				goto fail;
		}
		for (int max = 0; max < 4; max++)
			for (int def = 0; def <= max; def++)
				if ((mask & (1 << def)) &&
				    write_master(dir, mask, max, def, probes) != 0)
					goto fail;
		made++;
	}
	sp_res_free(&res);
	printf("gen-media: media ready for %d titles under %s\n", made, root);
	return 0;
fail:
	sp_res_free(&res);
	fprintf(stderr, "gen-media: cannot write under %s\n", root);
	return 1;
}
