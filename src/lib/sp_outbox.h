/*
 * The transactional outbox: an event row written in the same MariaDB
 * transaction as the change that causes it, mailed later by the worker.
 */
#ifndef SP_OUTBOX_H
#define SP_OUTBOX_H

#include <json-c/json.h>
#include <stddef.h>

/* Inserts a pending event; call inside the caller's transaction. Takes payload. 0 ok. */
int sp_outbox_add(const char *event_type, long long user_id, json_object *payload);

/*
 * A secret the mailer must send (a reset link's token) never sits in an
 * event in clear: it is stored sealed as payload.sealedToken, bound to the
 * event type and user, and dropped once it can no longer be of use.
 */
/* Adds token, sealed for (event_type, user_id), to payload. 0 ok. */
int sp_outbox_seal_token(json_object *payload, const char *event_type, long long user_id,
                         const char *token);
/*
 * For the mailer: the token of an event's payload (JSON text) into out.
 * 0 ok; -1 when there is none (dropped), or it was altered or moved to
 * another event type or user.
 */
int sp_outbox_open_token(const char *payload, const char *event_type, long long user_id, char *out,
                         size_t n);
/*
 * Drops the sealed tokens of event_type: the user's (user_id > 0), or those
 * of events created before created_before (a DATETIME text; NULL: any age).
 * Rows changed, or -1 if the database is unavailable.
 */
long long sp_outbox_drop_tokens(const char *event_type, long long user_id,
                                const char *created_before);

#endif
