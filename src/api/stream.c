/*
 * The streaming area: start a session (tier, device and concurrent-stream
 * limits, exactly), heartbeat, stop, list and end sessions, and the signed
 * HLS master playlist URL the player opens; and offline download licences
 * (their handlers in downloads.c), which share the device rules.
 */
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_download.h"
#include "sp_history.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_media.h"
#include "sp_stream.h"
#include "sp_tier.h"
#include "sp_title.h"
#include "sp_user.h"
#include "sp_valid.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a start asks for: the title (path), the device and a quality (body). */
struct start_in {
	long long content_id; /* first, as in struct download_in: content_meta_key reads both */
	char device_id[129], device_name[401], device_type[129];
	int quality; /* -1: the best the plan allows */
};

/* A heartbeat or a stop: the session and where playback is. */
struct session_in {
	char sid[33];
	long long position; /* 0 when not given */
	int has_position;
};

static int stream_start(sp_req *r);
static int stream_heartbeat(sp_req *r);
static int stream_stop(sp_req *r);
static int stream_sessions(sp_req *r);
static int stream_end(sp_req *r);
static int parse_start(sp_req *r, void *in);
static int parse_session_body(sp_req *r, void *in);
static int parse_session_path(sp_req *r, void *in);
static int content_meta_key(sp_req *r, long long uid, char *key, size_t n);
static int heartbeat_step(sp_req *r, long long uid, sp_step *s);

static const sp_route routes[] = {
    /* the heartbeat runs inside the gate's round trip (one Redis call per beat) */
    {"POST", "/content/stream/heartbeat", stream_heartbeat, SP_AUTH_REQUIRED, 0, NULL,
     heartbeat_step, SP_INPUT(parse_session_body, struct session_in)},
    {"POST", "/content/:id/stream", stream_start, SP_AUTH_REQUIRED, SP_RL_STREAM, content_meta_key,
     NULL, SP_INPUT(parse_start, struct start_in)},
    {"POST", "/stream/stop", stream_stop, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_session_body, struct session_in)},
    {"GET", "/stream/sessions", stream_sessions, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_NO_INPUT},
    {"DELETE", "/stream/sessions/:sessionId", stream_end, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_INPUT(parse_session_path, struct session_in)},
    /* offline downloads (downloads.c): a licence per device and title, its media token */
    {"POST", "/content/:id/download", download_start, SP_AUTH_REQUIRED, 0, content_meta_key, NULL,
     SP_INPUT(download_parse, struct download_in)},
    {"GET", "/downloads", download_list, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"DELETE", "/downloads/:id", download_revoke, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_INPUT(download_parse_id, struct licence_in)},
};

static json_object *session_json(const sp_session *s)
{
	json_object *o = json_object_new_object();
	char cid[24];

	snprintf(cid, sizeof cid, "%lld", s->content_id);
	json_object_object_add(o, "sessionId", json_object_new_string(s->id));
	json_object_object_add(o, "contentId", json_object_new_string(cid));
	json_object_object_add(o, "deviceId", json_object_new_string(s->device_id));
	json_object_object_add(o, "deviceName", json_object_new_string(s->device_name));
	json_object_object_add(o, "deviceType", json_object_new_string(s->device_type));
	json_object_object_add(o, "quality",
	                       json_object_new_string(sp_resolution_name(s->quality)));
	json_object_object_add(o, "startedAt", sp_json_time(s->started_ms));
	json_object_object_add(o, "lastHeartbeat", sp_json_time(s->last_ms));
	json_object_object_add(o, "playbackPosition", json_object_new_int64(s->position));
	return o;
}

/* ---------------------------------------------------------------- input */

void stream_v_device(sp_req *r, const char *field, char *out, size_t n)
{
	if (sp_v_text(r, r->json, field, 1, 1, 128, out, n) == SP_V_OK && out[0] == '\x01')
		sp_field_error_add(r, field, "must be printable text");
}

static int parse_start(sp_req *r, void *in)
{
	struct start_in *q = in;
	char qtext[16];

	sp_v_path_id(r, "id", "Content not found", &q->content_id);
	stream_v_device(r, "deviceId", q->device_id, sizeof q->device_id);
	sp_v_text(r, r->json, "deviceName", 1, 1, 100, q->device_name, sizeof q->device_name);
	if (sp_v_text(r, r->json, "deviceType", 0, 1, 32, q->device_type, sizeof q->device_type) !=
	    SP_V_OK)
		snprintf(q->device_type, sizeof q->device_type, "unknown");
	q->quality = -1;
	if (sp_v_text(r, r->json, "quality", 0, 1, 8, qtext, sizeof qtext) == SP_V_OK &&
	    (q->quality = sp_resolution_parse(qtext)) < 0)
		sp_field_error_add(r, "quality", "must be one of 480p, 720p, 1080p, 4K");
	return 0;
}

/* {sessionId, playbackPosition?} of a heartbeat or a stop (position 0 when absent). */
static int parse_session_body(sp_req *r, void *in)
{
	struct session_in *q = in;
	json_object *o;
	const char *v = NULL;

	if (json_object_object_get_ex(r->json, "sessionId", &o) && o &&
	    json_object_is_type(o, json_type_string))
		v = json_object_get_string(o);
	if (v == NULL)
		sp_field_error_add(r, "sessionId", "is required");
	else if (!sp_valid_session_id(v))
		sp_field_error_add(r, "sessionId", "must be a session id");
	else
		snprintf(q->sid, sizeof q->sid, "%s", v);
	if (json_object_object_get_ex(r->json, "playbackPosition", &o) && o) {
		if (sp_json_number_ll(o, 0, 10000000, &q->position) != 0)
			sp_field_error_add(r, "playbackPosition",
			                   "must be seconds from 0 to 10000000");
		q->has_position = 1;
	}
	return 0;
}

/* A session named in the path: an id the service never issued is no session. */
static int parse_session_path(sp_req *r, void *in)
{
	struct session_in *q = in;
	const char *sid = sp_param(r, "sessionId");

	if (!sp_valid_session_id(sid))
		sp_input_not_found(r, "No such session");
	else
		snprintf(q->sid, sizeof q->sid, "%s", sid);
	q->position = -1; /* not known */
	return 0;
}

/* ---------------------------------------------------------------- start */

/*
 * The title's level and renditions, fetched in the gate's round trip
 * (sp_title); a start's and a download's input both open with the title.
 */
static int content_meta_key(sp_req *r, long long uid, char *key, size_t n)
{
	const long long *content_id = r->in;

	(void)uid;
	sp_title_key(*content_id, key, n);
	return 0;
}

/*
 * The smallest active plan with more screens than max, for the 429's upgrade
 * action. Kept 30 s per process: a suggestion may trail an admin's plan edit
 * by that much, and the limit path stays free of MariaDB.
 */
struct upgrade {
	int max, found;
	int64_t at;
	char id[24], name[64];
	long long streams;
};

/* The remembered answer for max, or NULL. */
static const struct upgrade *upgrade_memo(struct upgrade *memo, size_t n, int max, int64_t now)
{
	for (size_t i = 0; i < n; i++)
		if (memo[i].at && memo[i].max == max && now - memo[i].at < 30000)
			return &memo[i];
	return NULL;
}

/* 1 found (id, name, streams set), 0 none, -1 database down. */
static int upgrade_plan(int max, char *id, size_t idn, char *name, size_t nn, long long *streams)
{
	enum { ID, NAME, STREAMS };
	static struct upgrade memo[8];
	static size_t next;
	int64_t now = sp_now_ms();
	const struct upgrade *u = upgrade_memo(memo, 8, max, now);
	sp_res res;

	if (u == NULL) {
		struct upgrade *m = &memo[next++ % 8];
		if (sp_db_query(&res,
		                "SELECT id, name, max_streams FROM plans WHERE is_active = 1 AND "
		                "max_streams > ? ORDER BY max_streams, price, id LIMIT 1",
		                "i", max) != 0)
			return -1;
		m->max = max;
		m->at = now;
		m->found = res.nrows == 1;
		if (m->found) {
			snprintf(m->id, sizeof m->id, "%s", sp_res_str(&res, 0, ID));
			snprintf(m->name, sizeof m->name, "%s", sp_res_str(&res, 0, NAME));
			m->streams = sp_res_ll(&res, 0, STREAMS, 0);
		}
		sp_res_free(&res);
		u = m;
	}
	if (!u->found)
		return 0;
	snprintf(id, idn, "%s", u->id);
	snprintf(name, nn, "%s", u->name);
	*streams = u->streams;
	return 1;
}

/* 403 with the registered devices, so the player can offer to free one. */
int stream_device_limit(sp_req *r, const sp_level *l)
{
	json_object *arr = NULL, *extra = json_object_new_object();
	char msg[96];

	if (sp_user_devices(r->user_id, &arr) != 0)
		arr = json_object_new_array();
	json_object_object_add(extra, "devices", arr);
	json_object_object_add(extra, "maxDevicesAllowed", json_object_new_int(l->max_devices));
	snprintf(msg, sizeof msg, "Maximum %d device%s allowed; remove one to use a new device",
	         l->max_devices, l->max_devices == 1 ? "" : "s");
	return sp_fail_ex(r, 403, "DEVICE_LIMIT_REACHED", msg, extra);
}

/* 429 listing the live sessions and what the viewer can do about it. */
static int concurrent_limit(sp_req *r, const sp_level *l, sp_session *live, size_t n)
{
	json_object *devs = json_object_new_array(), *acts = json_object_new_array();
	json_object *extra = json_object_new_object();
	char msg[96];

	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_new_object(), *a = json_object_new_object();
		char label[160];
		json_object_object_add(d, "sessionId", json_object_new_string(live[i].id));
		json_object_object_add(d, "deviceName",
		                       json_object_new_string(live[i].device_name));
		json_object_object_add(d, "deviceId", json_object_new_string(live[i].device_id));
		json_object_object_add(d, "startedAt", sp_json_time(live[i].started_ms));
		json_object_array_add(devs, d);
		snprintf(label, sizeof label, "Stop watching on %s", live[i].device_name);
		json_object_object_add(a, "label", json_object_new_string(label));
		json_object_object_add(a, "action", json_object_new_string("terminate_session"));
		json_object_object_add(a, "sessionId", json_object_new_string(live[i].id));
		json_object_array_add(acts, a);
	}
	/* the smallest active plan that allows more screens, if there is one */
	{
		char pid[24], pname[64], label[160];
		long long streams;
		if (upgrade_plan(l->max_streams, pid, sizeof pid, pname, sizeof pname, &streams) ==
		    1) {
			json_object *a = json_object_new_object();
			snprintf(label, sizeof label, "Upgrade to %s for %lld screens", pname,
			         streams);
			json_object_object_add(a, "label", json_object_new_string(label));
			json_object_object_add(a, "action", json_object_new_string("upgrade"));
			json_object_object_add(a, "planId", json_object_new_string(pid));
			json_object_array_add(acts, a);
		}
	}
	json_object_object_add(extra, "activeDevices", devs);
	json_object_object_add(extra, "actions", acts);
	json_object_object_add(extra, "maxConcurrentStreams", json_object_new_int(l->max_streams));
	snprintf(msg, sizeof msg, "Maximum %d concurrent streams allowed", l->max_streams);
	return sp_fail_ex(r, 429, "CONCURRENT_LIMIT_EXCEEDED", msg, extra);
}

/* (the result is also the playlist's default) */
int stream_pick_quality(int renditions, int plan_best, int asked, int *top)
{
	int granted;

	renditions |= 1; /* every title has 480p */
	*top = plan_best;
	while (*top > 0 && !(renditions & (1 << *top)))
		(*top)--;
	granted = asked < 0 || asked > *top ? *top : asked;
	while (granted > 0 && !(renditions & (1 << granted)))
		granted--;
	return granted;
}

/* Admits s against the plan's limits: 0, or the 403/429/503 answered. */
static int admit(sp_req *r, const sp_level *l, sp_session *s, char replaced[33], int *current)
{
	sp_session *live = NULL;
	size_t n_live = 0;
	int rc;

	/* a user's Redis state is rebuilt after an outage on reconnect (sp_stream_resync) */
	switch (sp_stream_start(l, s, 0, replaced, current, &live, &n_live)) {
	case SP_START_OK:
		return 0;
	case SP_START_DEVICE_LIMIT:
		return stream_device_limit(r, l);
	case SP_START_LIMIT:
		rc = concurrent_limit(r, l, live, n_live);
		free(live);
		return rc;
	default:
		return sp_unavailable(r);
	}
}

/* The 200: a signed playlist URL for the session, valid stream.token_ttl seconds. */
static void reply_started(sp_req *r, const sp_level *l, const sp_session *s, int top, int current,
                          const char *replaced)
{
	sp_media_claims mc;
	char token[192], url[512];
	int64_t exp_ms = sp_now_ms() + sp_cfg.stream_token_ttl * 1000;
	long long beat = sp_cfg.stream_stale_seconds / 4 > 0 ? sp_cfg.stream_stale_seconds / 4 : 1;
	json_object *data = json_object_new_object();

	memset(&mc, 0, sizeof mc);
	snprintf(mc.sid, sizeof mc.sid, "%s", s->id);
	mc.content_id = s->content_id;
	mc.max_quality = top;
	mc.exp = exp_ms / 1000;
	sp_media_token(&mc, token, sizeof token);
	snprintf(url, sizeof url, "%s/media/t/%s/%lld/master-%d-%d.m3u8", sp_cfg.public_url, token,
	         s->content_id, top, s->quality);
	json_object_object_add(data, "streamUrl", json_object_new_string(url));
	json_object_object_add(data, "sessionId", json_object_new_string(s->id));
	json_object_object_add(data, "sessionToken", json_object_new_string(token));
	json_object_object_add(data, "expiresAt", sp_json_time((exp_ms / 1000) * 1000));
	json_object_object_add(data, "quality",
	                       json_object_new_string(sp_resolution_name(s->quality)));
	json_object_object_add(data, "maxConcurrentStreams", json_object_new_int(l->max_streams));
	json_object_object_add(data, "currentStreams", json_object_new_int(current));
	json_object_object_add(data, "heartbeatInterval", json_object_new_int64(beat));
	if (replaced[0])
		json_object_object_add(data, "replacedSessionId", json_object_new_string(replaced));
	sp_ok(r, 200, "Stream started", data);
}

static int stream_start(sp_req *r)
{
	const struct start_in *q = r->in;
	int top, current = 0;
	sp_title t;
	sp_level l;
	sp_session s;
	char replaced[33];

	if (sp_title_admit(r, q->content_id, &t, &l) != 0)
		return -1;
	memset(&s, 0, sizeof s);
	sp_random_hex(s.id, 16);
	s.user_id = r->user_id;
	s.content_id = q->content_id;
	snprintf(s.device_id, sizeof s.device_id, "%s", q->device_id);
	/* the session keeps 100 and 32 bytes: cut whole characters, never inside one */
	sp_utf8_copy(s.device_name, sizeof s.device_name, q->device_name);
	sp_utf8_copy(s.device_type, sizeof s.device_type, q->device_type);
	s.quality = stream_pick_quality(t.renditions, l.resolution, q->quality, &top);
	s.max_quality = l.resolution; /* moved by each heartbeat to the plan then in force */
	if (admit(r, &l, &s, replaced, &current) != 0)
		return -1;
	/* (the device was registered with the session) the counters and the watch event */
	sp_db_exec("INSERT INTO watch_events (user_id, content_id, event) VALUES (?, ?, 'start')",
	           "ll", r->user_id, s.content_id);
	sp_db_exec("UPDATE content SET views = views + 1 WHERE id = ?", "l", s.content_id);
	sp_user_caches_drop(r->user_id); /* the status document lists devices */
	reply_started(r, &l, &s, top, current, replaced);
	return 0;
}

/* ---------------------------------------------------------------- heartbeat, stop */

static int session_gone(sp_req *r, enum sp_session_rc rc)
{
	if (rc == SP_SESSION_ENDED)
		return sp_fail(r, 410, "SESSION_ENDED", "This session has ended; stop playback");
	if (rc == SP_SESSION_NOT_FOUND)
		return sp_fail(r, 404, "NOT_FOUND", "No such session");
	return sp_unavailable(r);
}

/* The gate's step for a heartbeat (its input is good). */
static int heartbeat_step(sp_req *r, long long uid, sp_step *s)
{
	const struct session_in *q = r->in;

	sp_stream_hb_step(uid, q->sid, (long)q->position, s);
	return 0;
}

/*
 * Where playback is becomes the viewer's watch progress (and a watch
 * event). Best effort: the answer about the session does not wait on it,
 * and the next flush or the stop writes it again.
 */
static void record_playback(sp_req *r, long long cid, const char *event)
{
	const struct session_in *q = r->in;
	sp_title t;
	sp_progress p;

	if (cid <= 0 || !q->has_position || sp_title_get(r, cid, &t) != 1)
		return;
	/* a stop is always an event: it closes the viewing for the aggregates */
	sp_watch w = {.user_id = r->user_id,
	              .content_id = cid,
	              .watched = q->position,
	              .total = t.seconds,
	              .session_id = q->sid,
	              .quality = -1,
	              .event = event,
	              .always_event = strcmp(event, "stop") == 0};
	if (sp_history_record(&w, &p) < 0)
		sp_warn("stream: progress of session %s not recorded (MariaDB)", q->sid);
}

/*
 * A heartbeat moves the session in Redis (in the gate's round trip); every
 * quarter of stream.stale_seconds it is also due in MariaDB, and then its
 * position is flushed to watch progress: a crash loses at most that much.
 * It also caps the session at the plan in force now (a downgrade or an
 * expiry reaches the media within one heartbeat): the gate's step took the
 * cap from the cached level; when that level was missing or past its end
 * it comes from MariaDB here (sp_level_get) and is set after the step.
 */
static int stream_heartbeat(sp_req *r)
{
	const struct session_in *q = r->in;
	enum sp_session_rc rc;
	long long due = 0;
	int cap = -1, capped = 0;
	json_object *data;
	sp_level l;

	if (sp_level_get(r, &l) == 0) {
		cap = l.resolution;
		capped = l.from_cache;
	}
	if (r->step_done) {
		due = r->step_value;
		rc = sp_stream_hb_finish(r->user_id, q->sid, (long)q->position, r->step_status, due,
		                         cap, capped);
	} else {
		rc = sp_stream_heartbeat(r->user_id, q->sid, (long)q->position, cap, &due);
	}
	if (rc != SP_SESSION_OK)
		return session_gone(r, rc);
	record_playback(r, due, "progress");
	data = json_object_new_object();
	json_object_object_add(data, "sessionId", json_object_new_string(q->sid));
	json_object_object_add(data, "status", json_object_new_string("active"));
	json_object_object_add(data, "playbackPosition", json_object_new_int64(q->position));
	sp_ok(r, 200, NULL, data);
	return 0;
}

/* Ends the session; a stop's position becomes watch progress before the answer. */
static int end_session(sp_req *r, const struct session_in *q, const char *reason)
{
	long long cid = 0, pos = q->has_position ? q->position : -1;
	enum sp_session_rc rc = sp_stream_stop(r->user_id, q->sid, (long)pos, reason, &cid);
	json_object *data;

	if (rc == SP_SESSION_NOT_FOUND || rc == SP_SESSION_ERROR)
		return session_gone(r, rc);
	if (rc == SP_SESSION_OK)
		record_playback(r, cid, "stop");
	data = json_object_new_object();
	json_object_object_add(data, "sessionId", json_object_new_string(q->sid));
	json_object_object_add(data, "status", json_object_new_string("ended"));
	json_object_object_add(data, "playbackPosition",
	                       pos >= 0 ? json_object_new_int64(pos) : NULL);
	sp_ok(r, 200, rc == SP_SESSION_OK ? "Stream stopped" : "Stream had already ended", data);
	return 0;
}

static int stream_stop(sp_req *r)
{
	return end_session(r, r->in, "stopped");
}

static int stream_end(sp_req *r)
{
	return end_session(r, r->in, "terminated");
}

static int stream_sessions(sp_req *r)
{
	sp_session *live = NULL;
	size_t n = 0;
	json_object *arr, *data, *extra;

	if (sp_stream_list(r->user_id, &live, &n) != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, session_json(&live[i]));
	free(live);
	data = json_object_new_object();
	json_object_object_add(data, "sessions", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count", json_object_new_int((int)n));
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

static int init(void)
{
	sp_kv_on_connect(sp_stream_resync);
	sp_kv_on_connect(sp_download_resync);
	sp_cache_register_group(SP_GROUP_CATALOG);
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"stream", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
