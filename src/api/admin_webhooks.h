/*
 * The webhook routes of the admin program: register, list and delete the
 * endpoints the worker job `webhooks` POSTs outbox events to.
 */
#ifndef ADMIN_WEBHOOKS_H
#define ADMIN_WEBHOOKS_H

#include "sp_router.h"
#include "sp_webhook.h"

/* POST /admin/webhooks: the checked fields; events is the clean JSON array text (malloc'd). */
struct webhook_in {
	char url[SP_WEBHOOK_URL_MAX + 1];
	char secret[SP_WEBHOOK_SECRET_MAX + 1];
	char *events;
};

/* DELETE /admin/webhooks/:id */
struct webhook_id_in {
	long long id;
};

int webhooks_parse_create(sp_req *r, void *in);
int webhooks_parse_id(sp_req *r, void *in);

int webhooks_create(sp_req *r);
int webhooks_list(sp_req *r);
int webhooks_delete(sp_req *r);

#endif
