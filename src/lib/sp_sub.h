/*
 * Subscription documents shared by the areas that show them (auth's
 * current-subscription summary, the subscriptions area).
 */
#ifndef SP_SUB_H
#define SP_SUB_H

#include <json-c/json.h>

#include "sp_db.h"

/* Columns read by sp_sub_json, in order; alias subscriptions s, plans p. */
#define SP_SUB_COLS                                                                                \
	"s.id, s.status, s.start_date, s.end_date, s.auto_renew, s.transaction_id, s.amount, "     \
	"s.currency, s.payment_method, s.payment_date, s.cancelled_at, s.cancel_reason, "          \
	"s.created_at, p.id, p.name, p.access_level, p.price, p.max_streams, p.max_devices, "      \
	"p.resolution, GREATEST(0, CEIL(TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3), s.end_date) / "    \
	"86400)), s.ended_at, IF(p.download_allowed = 1, p.max_downloads, 0)"
#define SP_SUB_NCOLS 23

json_object *sp_sub_json(const sp_res *res, size_t row, size_t col0);
/*
 * The user's subscription in force (active and not past its end), or NULL
 * in *out when there is none. 0 ok, -1 database unavailable.
 */
int sp_sub_current(long long uid, json_object **out);

#endif
