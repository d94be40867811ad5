/*
 * Measures an encoded HLS rendition so its master playlist entry says what
 * the files are (codecs, resolution, peak and average bit rate), not what
 * the encoder was asked for.
 */
#include "media_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* profile_idc and constraint flags as x264 and ffmpeg's encoders write them */
static const struct {
	const char *name;
	const char *idc_flags;
} avc_profiles[] = {
    {"Constrained Baseline", "42c0"},
    {"Baseline", "4200"},
    {"Main", "4d40"},
    {"Extended", "5800"},
    {"High", "6400"},
    {"High 10", "6e00"},
    {"High 4:2:2", "7a00"},
    {"High 4:4:4 Predictive", "f400"},
};

int media_avc1_codec(const char *profile, int level, char *out, size_t n)
{
	if (level <= 0 || level > 255)
		return -1;
	for (size_t i = 0; i < sizeof avc_profiles / sizeof avc_profiles[0]; i++)
		if (strcasecmp(profile, avc_profiles[i].name) == 0) {
			snprintf(out, n, "avc1.%s%02x", avc_profiles[i].idc_flags, level);
			return 0;
		}
	return -1;
}

/* The AAC object type of ffprobe's profile name, as mp4a.40.<type>. */
static int mp4a_codec(const char *profile, char *out, size_t n)
{
	int aot = strcasecmp(profile, "LC") == 0         ? 2
	          : strcasecmp(profile, "HE-AAC") == 0   ? 5
	          : strcasecmp(profile, "HE-AACv2") == 0 ? 29
	          : strcasecmp(profile, "Main") == 0     ? 1
	          : strcasecmp(profile, "LTP") == 0      ? 4
	                                                 : 0;

	if (aot == 0)
		return -1;
	snprintf(out, n, "mp4a.40.%d", aot);
	return 0;
}

/* Runs ffprobe on one file; one line per stream into buf,
 * "codec_name=h264|profile=Constrained Baseline|codec_type=video|width=854|...". 0 ok. */
static int ffprobe_streams(const char *file, char *buf, size_t n)
{
	int fd[2], status;
	size_t len = 0;
	ssize_t got;
	pid_t pid;

	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		char *argv[] = {"ffprobe",
		                "-v",
		                "error",
		                "-show_entries",
		                "stream=codec_type,codec_name,profile,level,width,height",
		                "-of",
		                "compact=p=0",
		                (char *)file,
		                NULL};
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while (len + 1 < n && (got = read(fd[0], buf + len, n - 1 - len)) > 0)
		len += (size_t)got;
	buf[len] = '\0';
	close(fd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* Codecs and resolution of one segment from ffprobe. */
static int probe_codecs(const char *seg, media_probe *out)
{
	char buf[2048], video[32] = "", audio[32] = "";
	char *line, *save = NULL;

	if (ffprobe_streams(seg, buf, sizeof buf) != 0) {
		fprintf(stderr, "gen-media: ffprobe failed on %s (is ffmpeg installed?)\n", seg);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* f: codec_type, codec_name, profile, level, width, height */
		static const char *const keys[6] = {"codec_type", "codec_name", "profile",
		                                    "level",      "width",      "height"};
		char f[6][64] = {{0}};
		char *p = line;
		while (p) {
			char *bar = strchr(p, '|');
			size_t l = bar ? (size_t)(bar - p) : strcspn(p, "\r");
			for (int i = 0; i < 6; i++) {
				size_t kl = strlen(keys[i]);
				if (l > kl && strncmp(p, keys[i], kl) == 0 && p[kl] == '=')
					snprintf(f[i], sizeof f[i], "%.*s", (int)(l - kl - 1),
					         p + kl + 1);
			}
			p = bar ? bar + 1 : NULL;
		}
		if (strcmp(f[0], "video") == 0 && video[0] == '\0') {
			if (strcmp(f[1], "h264") != 0 ||
			    media_avc1_codec(f[2], atoi(f[3]), video, sizeof video) != 0) {
				fprintf(stderr, "gen-media: %s: cannot name video codec %s %s\n",
				        seg, f[1], f[2]);
				return -1;
			}
			out->width = atoi(f[4]);
			out->height = atoi(f[5]);
		} else if (strcmp(f[0], "audio") == 0 && audio[0] == '\0') {
			if (strcmp(f[1], "aac") != 0 ||
			    mp4a_codec(f[2], audio, sizeof audio) != 0) {
				fprintf(stderr, "gen-media: %s: cannot name audio codec %s %s\n",
				        seg, f[1], f[2]);
				return -1;
			}
		}
	}
	if (video[0] == '\0' || out->width <= 0 || out->height <= 0) {
		fprintf(stderr, "gen-media: %s: no video stream\n", seg);
		return -1;
	}
	snprintf(out->codecs, sizeof out->codecs, "%s%s%s", video, audio[0] ? "," : "", audio);
	return 0;
}

int media_probe_rendition(const char *dir, media_probe *out)
{
	char path[1200], line[512], first[1200] = "";
	double dur = 0, total_s = 0, total_bits = 0, peak = 0;
	FILE *f;

	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, "%s/index.m3u8", dir);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "gen-media: cannot read %s\n", path);
		return -1;
	}
	/* each segment: its #EXTINF duration, then its URI (relative to the playlist) */
	while (fgets(line, sizeof line, f)) {
		struct stat st;
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "#EXTINF:", 8) == 0) {
			dur = strtod(line + 8, NULL);
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, line);
		if (stat(path, &st) != 0 || dur <= 0) {
			fprintf(stderr, "gen-media: %s: missing or without a duration\n", path);
			fclose(f);
			return -1;
		}
		if (first[0] == '\0')
			snprintf(first, sizeof first, "%s", path);
		total_bits += (double)st.st_size * 8;
		total_s += dur;
		if ((double)st.st_size * 8 / dur > peak)
			peak = (double)st.st_size * 8 / dur;
		dur = 0;
	}
	fclose(f);
	if (first[0] == '\0' || total_s <= 0) {
		fprintf(stderr, "gen-media: %s/index.m3u8 lists no segment\n", dir);
		return -1;
	}
	/* rounded up: the declared rate is never below a measured one */
	out->peak_bps = (long)peak + 1;
	out->avg_bps = (long)(total_bits / total_s) + 1;
	return probe_codecs(first, out);
}
