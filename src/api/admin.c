/*
 * The admin area (/api/v1/admin/...): every route needs the admin role
 * (anyone else 403, no token 401). Each resource of the area keeps its
 * handlers in its own file (admin_webhooks.c, admin_metrics.c,
 * admin_analytics.c, admin_users.c); this table lists them all.
 */
#include "admin_analytics.h"
#include "admin_metrics.h"
#include "admin_users.h"
#include "admin_webhooks.h"
#include "sp_app.h"

static const sp_route routes[] = {
    {"POST", "/admin/webhooks", webhooks_create, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(webhooks_parse_create, struct webhook_in)},
    {"GET", "/admin/webhooks", webhooks_list, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"DELETE", "/admin/webhooks/:id", webhooks_delete, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL,
     SP_INPUT(webhooks_parse_id, struct webhook_id_in)},
    {"GET", "/admin/metrics", admin_metrics, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"GET", "/admin/analytics/content", admin_analytics_content, SP_AUTH_ADMIN, SP_NO_BODY, NULL,
     NULL, SP_INPUT(analytics_parse, struct analytics_in)},
    {"GET", "/admin/users", admin_users_list, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL,
     SP_INPUT(users_parse_list, struct users_list_in)},
    {"PUT", "/admin/users/:id", admin_users_update, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(users_parse_update, struct users_update_in)},
};

int main(int argc, char **argv)
{
	static const sp_app app = {"admin", routes, sizeof routes / sizeof routes[0], NULL};

	return sp_app_main(&app, argc, argv);
}
