/*
 * Signed webhooks: the event names an endpoint may ask for, the URL rule,
 * the sealed signing secret, the JSON body of one event and its signature.
 * The admin program and the worker job `webhooks` share these.
 */
#ifndef SP_WEBHOOK_H
#define SP_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define SP_WEBHOOK_URL_MAX    2048
#define SP_WEBHOOK_SECRET_MIN 16
#define SP_WEBHOOK_SECRET_MAX 256

/* The names a webhook may list: the Notifications events, then "subscription.*". */
extern const char *const sp_webhook_events[];
extern const size_t sp_webhook_n_events;

/* 1 when name is one of sp_webhook_events. */
int sp_webhook_event_known(const char *name);
/* 1 when an outbox event of type matches a webhook's names (JSON array text). */
int sp_webhook_event_matches(const char *events_json, const char *type);

/*
 * NULL when url may be a webhook's: an absolute http(s) URL with a host, of
 * printable ASCII only, at most SP_WEBHOOK_URL_MAX bytes, without user or
 * password; else why not (for the field error).
 */
const char *sp_webhook_url_problem(const char *url);

/* Seals a webhook's secret for the row id into *out (malloc'd). 0 ok. */
int sp_webhook_seal_secret(long long id, const char *secret, char **out);
/* Opens it into *out (malloc'd, NUL-terminated, *n bytes); -1 altered or moved. */
int sp_webhook_open_secret(long long id, const char *sealed, char **out, size_t *n);

/*
 * The body POSTed for one outbox event: {"id", "type", "occurredAt", "data"},
 * data being the event's payload (JSON object text) without any member
 * whose name holds "token", "secret" or "password" (the sealed reset token),
 * plus "userId" (NULL: none). Malloc'd.
 */
char *sp_webhook_body(long long outbox_id, const char *type, int64_t occurred_ms,
                      const char *payload_json, const char *user_id);

/* hex HMAC-SHA256 with secret over "<ts>.<body>", the X-Signature value after "sha256=". */
void sp_webhook_sign(const char *secret, size_t secret_len, long long ts, const char *body,
                     size_t body_len, char out[65]);

#endif
