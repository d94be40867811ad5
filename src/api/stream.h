/*
 * What the stream program's files share: the device and quality rules of
 * a start, which a download applies too, and the download routes' handlers
 * and inputs that stream.c's route table lists.
 */
#ifndef STREAM_H
#define STREAM_H

#include "sp_router.h"
#include "sp_tier.h"

/* POST /content/:id/download: the title, the device and a quality. */
struct download_in {
	long long content_id; /* first, as in stream.c's start_in (the prefetch hook reads it) */
	char device_id[129], device_name[401], device_type[129];
	int has_name, has_type;
	int quality; /* -1: the best the plan allows */
};

/* DELETE /downloads/:id */
struct licence_in {
	long long id;
};

/* The 403 DEVICE_LIMIT_REACHED with the registered devices[]. Returns -1. */
int stream_device_limit(sp_req *r, const sp_level *l);
/*
 * top: the best rendition the title has within the plan; the result: what
 * was asked (-1 none), capped at top, one the title has.
 */
int stream_pick_quality(int renditions, int plan_best, int asked, int *top);
/* A device id field: 1-128 printable characters. */
void stream_v_device(sp_req *r, const char *field, char *out, size_t n);

int download_parse(sp_req *r, void *in);
int download_parse_id(sp_req *r, void *in);
int download_start(sp_req *r);
int download_list(sp_req *r);
int download_revoke(sp_req *r);

#endif
