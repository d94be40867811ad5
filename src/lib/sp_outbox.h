/*
 * The transactional outbox: an event row written in the same MariaDB
 * transaction as the change that causes it, mailed later by the worker.
 */
#ifndef SP_OUTBOX_H
#define SP_OUTBOX_H

#include <json-c/json.h>

/* Inserts a pending event; call inside the caller's transaction. Takes payload. 0 ok. */
int sp_outbox_add(const char *event_type, long long user_id, json_object *payload);

#endif
