/*
 * Signed webhooks: the event names an endpoint may ask for, the URL rule,
 * the sealed signing secret, the JSON body of one event and its signature.
 */
#include "sp_webhook.h"
#include "sp_json.h"
#include "sp_seal.h"
#include "sp_util.h"
#include "sp_valid.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const sp_webhook_events[] = {
    "user.registered",      "password.reset_requested", "subscription.created",
    "subscription.renewed", "subscription.cancelled",   "subscription.expiring",
    "subscription.expired", "stream.limit_exceeded",    "password.changed",
    "account.locked",       "subscription.*",
};
const size_t sp_webhook_n_events = sizeof sp_webhook_events / sizeof sp_webhook_events[0];

int sp_webhook_event_known(const char *name)
{
	return sp_enum_index(sp_webhook_events, sp_webhook_n_events, name) >= 0;
}

int sp_webhook_event_matches(const char *events_json, const char *type)
{
	json_object *a = events_json ? json_tokener_parse(events_json) : NULL;
	int hit = 0;

	if (a && json_object_is_type(a, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(a) && !hit; i++) {
			const char *e = json_object_get_string(json_object_array_get_idx(a, i));
			if (e == NULL)
				continue;
			hit = strcmp(e, type) == 0 || (strcmp(e, "subscription.*") == 0 &&
			                               strncmp(type, "subscription.", 13) == 0);
		}
	}
	if (a)
		json_object_put(a);
	return hit;
}

/* The parts curl's own parser finds in url: no user or password, an http(s) scheme, a host. */
static const char *url_parts_problem(const char *url)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	const char *why = NULL;

	if (h == NULL)
		return "could not be checked";
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		why = "must be a valid absolute http(s) URL";
	else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	         (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		why = "must be an http or https URL";
	else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		why = "must name a host";
	else if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	         curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
		why = "must not carry a user or password (the secret authenticates)";
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(h);
	return why;
}

const char *sp_webhook_url_problem(const char *url)
{
	size_t n = url ? strlen(url) : 0;

	if (n == 0)
		return "is required";
	if (n > SP_WEBHOOK_URL_MAX)
		return "must be at most 2048 characters";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return "must be printable ASCII without spaces (percent-encode the rest)";
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return "must be an http or https URL";
	return url_parts_problem(url);
}

/* The secret is bound to its row, so a sealed value cannot be moved to another webhook. */
static void secret_aad(long long id, char *aad, size_t n)
{
	snprintf(aad, n, "webhook|%lld", id);
}

int sp_webhook_seal_secret(long long id, const char *secret, char **out)
{
	unsigned char key[SP_SEAL_KEY_LEN];
	char aad[48];
	int rc;

	sp_seal_key(key);
	secret_aad(id, aad, sizeof aad);
	rc = sp_seal(key, aad, secret, strlen(secret), out);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

int sp_webhook_open_secret(long long id, const char *sealed, char **out, size_t *n)
{
	unsigned char key[SP_SEAL_KEY_LEN];
	char aad[48];
	int rc;

	sp_seal_key(key);
	secret_aad(id, aad, sizeof aad);
	rc = sp_unseal(key, aad, sealed, out, n);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

/* A payload member a receiver must never see: a sealed token, or anything named like a secret. */
static int secret_name(const char *name)
{
	static const char *const words[] = {"token", "secret", "password"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasestr(name, words[i]) != NULL)
			return 1;
	return 0;
}

/* The payload's public members (a copy), plus userId. */
static json_object *public_data(const char *payload_json, const char *user_id)
{
	json_object *p = payload_json ? json_tokener_parse(payload_json) : NULL;
	json_object *d = json_object_new_object();

	if (p && json_object_is_type(p, json_type_object)) {
		json_object_object_foreach(p, k, v)
		{
			if (!secret_name(k))
				json_object_object_add(d, k, json_object_get(v));
		}
	}
	if (p)
		json_object_put(p);
	json_object_object_add(d, "userId", sp_json_str_or_null(user_id));
	return d;
}

char *sp_webhook_body(long long outbox_id, const char *type, int64_t occurred_ms,
                      const char *payload_json, const char *user_id)
{
	json_object *o = json_object_new_object();
	char id[24], *text;

	snprintf(id, sizeof id, "%lld", outbox_id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "occurredAt", sp_json_time(occurred_ms));
	json_object_object_add(o, "data", public_data(payload_json, user_id));
	text = sp_xstrdup(sp_json_text(o));
	json_object_put(o);
	return text;
}

void sp_webhook_sign(const char *secret, size_t secret_len, long long ts, const char *body,
                     size_t body_len, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[32];
	sp_buf msg;

	sp_buf_init(&msg);
	sp_buf_addf(&msg, "%lld.", ts);
	sp_buf_add(&msg, body, body_len);
	sp_hmac_sha256(secret, secret_len, msg.data, msg.len, mac);
	sp_buf_free(&msg);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[mac[i] >> 4];
		out[2 * i + 1] = digits[mac[i] & 15];
	}
	out[64] = '\0';
}
