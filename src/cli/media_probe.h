/*
 * What an HLS rendition really is, for its master playlist entry: codecs,
 * resolution and bit rates measured from the encoded files with ffprobe.
 */
#ifndef MEDIA_PROBE_H
#define MEDIA_PROBE_H

#include <stddef.h>

typedef struct media_probe {
	char codecs[64]; /* "avc1.42c01e,mp4a.40.2" */
	int width, height;
	long peak_bps; /* the highest segment bit rate: BANDWIDTH */
	long avg_bps;  /* all segments' bits over their duration: AVERAGE-BANDWIDTH */
} media_probe;

/*
 * Probes the rendition in dir (index.m3u8 and its segments): the codecs of
 * the first segment from ffprobe, the bit rates from the segments' sizes and
 * the playlist's #EXTINF durations. 0 ok, -1 (with a message on stderr) if
 * ffprobe fails or reports a codec it cannot name.
 */
int media_probe_rendition(const char *dir, media_probe *out);

/* The RFC 6381 name of an H.264 stream from ffprobe's profile name and level
 * ("Constrained Baseline", 30 -> "avc1.42c01e"); -1 for an unknown profile. */
int media_avc1_codec(const char *profile, int level, char *out, size_t n);

#endif
