/*
 * The transactional outbox: an event row written in the same MariaDB
 * transaction as the change that causes it, mailed later by the worker.
 */
#include "sp_outbox.h"
#include "sp_db.h"
#include "sp_http.h"

int sp_outbox_add(const char *event_type, long long user_id, json_object *payload)
{
	long long rc;

	if (payload == NULL)
		payload = json_object_new_object();
	rc = sp_db_exec("INSERT INTO outbox (event_type, user_id, payload) VALUES (?, ?, ?)", "sls",
	                event_type, user_id, sp_json_text(payload));
	json_object_put(payload);
	return rc == 1 ? 0 : -1;
}
