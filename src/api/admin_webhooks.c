/*
 * Webhooks of the admin area: an admin registers a URL, a signing secret
 * and the event names it wants; the worker job `webhooks` delivers. The
 * secret is stored sealed (sp_webhook_seal_secret) and never answered.
 */
#include "admin_webhooks.h"
#include "sp_app.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_valid.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many names one webhook may list (the known ones, each once, fit easily). */
#define EVENTS_MAX 32

enum webhook_col {
	WC_ID,
	WC_URL,
	WC_EVENTS,
	WC_ACTIVE,
	WC_CREATED_AT,
	WC_LAST_STATUS,
	WC_LAST_ERROR,
	WC_LAST_ATTEMPT_AT,
	WC_FAILURES,
};

#define WEBHOOK_COLS                                                                               \
	"w.id, w.url, w.events, w.active, w.created_at, w.last_status, w.last_error, "             \
	"w.last_attempt_at, w.failures"

/* A webhook as answered: never its secret. */
static json_object *webhook_json(const sp_res *res, size_t row)
{
	json_object *w = json_object_new_object();
	json_object *events = json_tokener_parse(
	    sp_res_str(res, row, WC_EVENTS) ? sp_res_str(res, row, WC_EVENTS) : "[]");
	const char *status = sp_res_str(res, row, WC_LAST_STATUS);

	if (events == NULL || !json_object_is_type(events, json_type_array)) {
		if (events)
			json_object_put(events);
		events = json_object_new_array();
	}
	json_object_object_add(w, "id", sp_json_str_or_null(sp_res_str(res, row, WC_ID)));
	json_object_object_add(w, "url", sp_json_str_or_null(sp_res_str(res, row, WC_URL)));
	json_object_object_add(w, "events", events);
	json_object_object_add(w, "active",
	                       json_object_new_boolean(sp_res_ll(res, row, WC_ACTIVE, 0) == 1));
	json_object_object_add(w, "createdAt", sp_json_dbtime(sp_res_str(res, row, WC_CREATED_AT)));
	json_object_object_add(
	    w, "lastStatus",
	    status ? json_object_new_int((int)sp_res_ll(res, row, WC_LAST_STATUS, 0)) : NULL);
	json_object_object_add(w, "lastError",
	                       sp_json_str_or_null(sp_res_str(res, row, WC_LAST_ERROR)));
	json_object_object_add(w, "lastAttemptAt",
	                       sp_json_dbtime(sp_res_str(res, row, WC_LAST_ATTEMPT_AT)));
	json_object_object_add(w, "failures",
	                       json_object_new_int64(sp_res_ll(res, row, WC_FAILURES, 0)));
	return w;
}

/* ---------------------------------------------------------------- input */

/* A required string member, or NULL after recording why not. */
static const char *required_string(sp_req *r, const char *name)
{
	json_object *v = NULL;

	if (r->json == NULL || !json_object_object_get_ex(r->json, name, &v) || v == NULL) {
		sp_field_error_add(r, name, "is required");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		sp_field_error_add(r, name, "must be a string");
		return NULL;
	}
	/* a NUL inside the string would cut it short unseen */
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		sp_field_error_add(r, name, "must not contain NUL characters");
		return NULL;
	}
	return json_object_get_string(v);
}

static void v_url(sp_req *r, struct webhook_in *w)
{
	const char *url = required_string(r, "url");
	const char *why;

	if (url == NULL)
		return;
	if ((why = sp_webhook_url_problem(url)) != NULL) {
		sp_field_error_add(r, "url", why);
		return;
	}
	snprintf(w->url, sizeof w->url, "%s", url);
}

/* Printable ASCII, so sender and receiver cannot disagree on its bytes. */
static void v_secret(sp_req *r, struct webhook_in *w)
{
	const char *s = required_string(r, "secret");
	size_t n = s ? strlen(s) : 0;

	if (s == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			n = 0;
	}
	if (n < SP_WEBHOOK_SECRET_MIN || n > SP_WEBHOOK_SECRET_MAX) {
		sp_field_error_add(r, "secret",
		                   "must be 16 to 256 printable ASCII characters without spaces");
		return;
	}
	memcpy(w->secret, s, n + 1);
}

/* Adds name to clean unless it is there already. */
static void add_once(json_object *clean, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(clean); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(clean, i)), name) == 0)
			return;
	json_object_array_add(clean, json_object_new_string(name));
}

static void v_events(sp_req *r, struct webhook_in *w)
{
	json_object *v = NULL, *clean;
	size_t n;

	if (r->json == NULL || !json_object_object_get_ex(r->json, "events", &v) || v == NULL) {
		sp_field_error_add(r, "events", "is required");
		return;
	}
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0 ||
	    n > EVENTS_MAX) {
		sp_field_error_add(r, "events", "must be an array of 1 to 32 event names");
		return;
	}
	clean = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *name = e && json_object_is_type(e, json_type_string)
		                       ? json_object_get_string(e)
		                       : NULL;
		if (!sp_webhook_event_known(name)) {
			sp_field_error_add(r, "events",
			                   "must name events of the Notifications list (e.g. "
			                   "user.registered, password.changed) or subscription.*");
			json_object_put(clean);
			return;
		}
		add_once(clean, name);
	}
	w->events = sp_xstrdup(sp_json_text(clean));
	json_object_put(clean);
}

static void webhook_in_release(void *in)
{
	struct webhook_in *w = in;

	free(w->events);
	OPENSSL_cleanse(w->secret, sizeof w->secret);
}

int webhooks_parse_create(sp_req *r, void *in)
{
	struct webhook_in *w = in;

	r->in_release = webhook_in_release;
	v_url(r, w);
	v_secret(r, w);
	v_events(r, w);
	return 0;
}

int webhooks_parse_id(sp_req *r, void *in)
{
	struct webhook_id_in *q = in;

	sp_v_path_id(r, "id", "Webhook not found", &q->id);
	return 0;
}

/* ---------------------------------------------------------------- handlers */

/*
 * The row first (its id binds the sealed secret), then the sealed secret,
 * in one transaction: a webhook never exists without its secret. Its
 * cursor starts at the newest outbox event, so it gets only later ones.
 */
static int insert_webhook(const struct webhook_in *w, long long *id)
{
	char *sealed = NULL;
	long long n;

	if (sp_db_begin() != 0)
		return -1;
	if (sp_db_exec("INSERT INTO webhooks (url, secret_sealed, events, cursor_outbox_id) "
	               "SELECT ?, '', ?, COALESCE(MAX(id), 0) FROM outbox",
	               "ss", w->url, w->events) != 1)
		goto fail;
	*id = (long long)sp_db_insert_id();
	if (sp_webhook_seal_secret(*id, w->secret, &sealed) != 0)
		goto fail;
	n = sp_db_exec("UPDATE webhooks SET secret_sealed = ? WHERE id = ?", "sl", sealed, *id);
	free(sealed);
	if (n != 1 || sp_db_commit() != 0)
		goto fail;
	return 0;
fail:
	sp_db_rollback();
	return -1;
}

int webhooks_create(sp_req *r)
{
	long long id = 0;
	sp_res res;
	json_object *data;

	if (insert_webhook(r->in, &id) != 0)
		return sp_unavailable(r);
	if (sp_db_query(&res, "SELECT " WEBHOOK_COLS " FROM webhooks w WHERE w.id = ?", "l", id) !=
	    0)
		return sp_unavailable(r);
	if (res.nrows == 0) { /* deleted at once by another admin */
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Webhook not found");
	}
	data = json_object_new_object();
	json_object_object_add(data, "webhook", webhook_json(&res, 0));
	sp_res_free(&res);
	sp_ok(r, 201, "Webhook created", data);
	return 0;
}

int webhooks_list(sp_req *r)
{
	sp_res res;
	json_object *arr, *data, *extra;

	if (sp_db_query(&res, "SELECT " WEBHOOK_COLS " FROM webhooks w ORDER BY w.id", "") != 0)
		return sp_unavailable(r);
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, webhook_json(&res, i));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "webhooks", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

/* Its deliveries go with it (ON DELETE CASCADE): nothing more is sent to it. */
int webhooks_delete(sp_req *r)
{
	const struct webhook_id_in *q = r->in;
	long long n = sp_db_exec("DELETE FROM webhooks WHERE id = ?", "l", q->id);
	json_object *data;
	char id[24];

	if (n < 0)
		return sp_unavailable(r);
	if (n == 0)
		return sp_fail(r, 404, "NOT_FOUND", "Webhook not found");
	snprintf(id, sizeof id, "%lld", q->id);
	data = json_object_new_object();
	json_object_object_add(data, "id", json_object_new_string(id));
	sp_ok(r, 200, "Webhook deleted", data);
	return 0;
}
