/*
 * Offline downloads, part of the stream program (its route table in
 * stream.c): a licence per device and title, with a media token bound to
 * it; the caller's live licences; revoking one.
 */
#include "sp_app.h"
#include "sp_config.h"
#include "sp_download.h"
#include "sp_media.h"
#include "sp_tier.h"
#include "sp_title.h"
#include "sp_user.h"
#include "sp_valid.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- input */

int download_parse(sp_req *r, void *in)
{
	struct download_in *q = in;
	char qtext[16];

	sp_v_path_id(r, "id", "Content not found", &q->content_id);
	stream_v_device(r, "deviceId", q->device_id, sizeof q->device_id);
	/* optional here: a device first met by a download is named by its id */
	q->has_name = SP_V_GIVEN(
	    sp_v_text(r, r->json, "deviceName", 0, 1, 100, q->device_name, sizeof q->device_name));
	q->has_type = SP_V_GIVEN(
	    sp_v_text(r, r->json, "deviceType", 0, 1, 32, q->device_type, sizeof q->device_type));
	q->quality = -1;
	if (sp_v_text(r, r->json, "quality", 0, 1, 8, qtext, sizeof qtext) == SP_V_OK &&
	    (q->quality = sp_resolution_parse(qtext)) < 0)
		sp_field_error_add(r, "quality", "must be one of 480p, 720p, 1080p, 4K");
	return 0;
}

/* A licence named in the path: an id the service never issued is no licence. */
int download_parse_id(sp_req *r, void *in)
{
	struct licence_in *q = in;

	sp_v_path_id(r, "id", "Download not found", &q->id);
	return 0;
}

/* ---------------------------------------------------------------- documents */

/* The licence's media URL: the master playlist up to its quality, token bound to it. */
static void manifest_url(const sp_licence *d, char *url, size_t n)
{
	sp_media_claims mc;
	char token[192];

	memset(&mc, 0, sizeof mc);
	sp_media_licence_sid(d->id, mc.sid, sizeof mc.sid);
	mc.content_id = d->content_id;
	mc.max_quality = d->quality;
	mc.exp = d->expires_ms / 1000; /* never outlives the licence */
	sp_media_token(&mc, token, sizeof token);
	snprintf(url, n, "%s/media/t/%s/%lld/master-%d-%d.m3u8", sp_cfg.public_url, token,
	         d->content_id, d->quality, d->quality);
}

static json_object *licence_json(const sp_licence *d, int with_url)
{
	json_object *o = json_object_new_object();
	char id[24], cid[24], url[512];

	snprintf(id, sizeof id, "%lld", d->id);
	snprintf(cid, sizeof cid, "%lld", d->content_id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "contentId", json_object_new_string(cid));
	json_object_object_add(o, "deviceId", json_object_new_string(d->device_id));
	json_object_object_add(o, "quality",
	                       json_object_new_string(sp_resolution_name(d->quality)));
	json_object_object_add(o, "createdAt", sp_json_time(d->created_ms));
	json_object_object_add(o, "expiresAt", sp_json_time(d->expires_ms));
	if (with_url) {
		manifest_url(d, url, sizeof url);
		json_object_object_add(o, "manifestUrl", json_object_new_string(url));
	}
	return o;
}

/* 429 with the live licences, so the player can offer to delete one. */
static int download_limit(sp_req *r, int max, sp_licence *live, size_t n)
{
	json_object *arr = json_object_new_array(), *extra = json_object_new_object();
	char msg[96];

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, licence_json(&live[i], 0));
	json_object_object_add(extra, "downloads", arr);
	json_object_object_add(extra, "maxDownloads", json_object_new_int(max));
	snprintf(msg, sizeof msg, "Maximum %d downloads allowed; delete one to download another",
	         max);
	return sp_fail_ex(r, 429, "DOWNLOAD_LIMIT_EXCEEDED", msg, extra);
}

/* ---------------------------------------------------------------- handlers */

/* Admits the licence and answers: 201 for a new one or a renewal, else the refusal. */
static int admit(sp_req *r, const sp_level *l, sp_licence *d)
{
	const struct download_in *q = r->in;
	sp_download_device dev = {q->device_id, q->has_name ? q->device_name : NULL,
	                          q->has_type ? q->device_type : NULL};
	sp_licence *live = NULL;
	size_t n = 0;
	int max, rc;
	json_object *data;

	switch (sp_download_admit(l, &dev, d, &max, &live, &n)) {
	case SP_DOWNLOAD_ISSUED:
	case SP_DOWNLOAD_RENEWED:
		break;
	case SP_DOWNLOAD_NOT_ALLOWED:
		return sp_fail(r, 403, "DOWNLOADS_NOT_ALLOWED",
		               "Your plan does not include offline downloads");
	case SP_DOWNLOAD_DEVICE_LIMIT:
		return stream_device_limit(r, l);
	case SP_DOWNLOAD_LIMIT:
		rc = download_limit(r, max, live, n);
		free(live);
		return rc;
	default:
		return sp_unavailable(r);
	}
	sp_user_caches_drop(r->user_id); /* the status document lists devices */
	data = json_object_new_object();
	json_object_object_add(data, "download", licence_json(d, 1));
	json_object_object_add(data, "maxDownloads", json_object_new_int(max));
	sp_ok(r, 201, "Download licensed", data);
	return 0;
}

int download_start(sp_req *r)
{
	const struct download_in *q = r->in;
	int top;
	sp_title t;
	sp_level l;
	sp_licence d;

	/* the same title rule as a stream start */
	if (sp_title_admit(r, q->content_id, &t, &l) != 0)
		return -1;
	memset(&d, 0, sizeof d);
	d.user_id = r->user_id;
	d.content_id = q->content_id;
	snprintf(d.device_id, sizeof d.device_id, "%s", q->device_id);
	d.quality = stream_pick_quality(t.renditions, l.resolution, q->quality, &top);
	return admit(r, &l, &d);
}

int download_list(sp_req *r)
{
	sp_licence *live = NULL;
	size_t n = 0;
	json_object *arr, *data, *extra;

	if (sp_download_list(r->user_id, &live, &n) != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, licence_json(&live[i], 1));
	free(live);
	data = json_object_new_object();
	json_object_object_add(data, "downloads", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count", json_object_new_int((int)n));
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

int download_revoke(sp_req *r)
{
	const struct licence_in *q = r->in;
	json_object *data;
	char id[24];

	switch (sp_download_revoke(r->user_id, q->id)) {
	case -1:
		return sp_unavailable(r);
	case 0:
		return sp_fail(r, 404, "NOT_FOUND", "Download not found");
	}
	snprintf(id, sizeof id, "%lld", q->id);
	data = json_object_new_object();
	json_object_object_add(data, "id", json_object_new_string(id));
	json_object_object_add(data, "status", json_object_new_string("revoked"));
	sp_ok(r, 200, "Download revoked", data);
	return 0;
}
