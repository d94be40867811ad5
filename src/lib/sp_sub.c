/*
 * Subscription documents shared by the areas that show them (auth's
 * current-subscription summary, the subscriptions area).
 */
#include "sp_sub.h"
#include "sp_json.h"
#include "sp_tier.h"

#include <stdlib.h>
#include <string.h>

json_object *sp_sub_json(const sp_res *res, size_t row, size_t c)
{
	json_object *s = json_object_new_object();
	json_object *plan = json_object_new_object();
	json_object *pay = json_object_new_object();
	const char *status = sp_res_str(res, row, c + 1);
	int active = status && strcmp(status, "active") == 0;

	json_object_object_add(s, "id", sp_json_str_or_null(sp_res_str(res, row, c + 0)));
	json_object_object_add(plan, "id", sp_json_str_or_null(sp_res_str(res, row, c + 13)));
	json_object_object_add(plan, "name", sp_json_str_or_null(sp_res_str(res, row, c + 14)));
	json_object_object_add(
	    plan, "accessLevel",
	    json_object_new_string(sp_tier_name((int)sp_res_ll(res, row, c + 15, 0))));
	json_object_object_add(plan, "price", sp_json_money(sp_res_str(res, row, c + 16)));
	json_object_object_add(plan, "maxConcurrentStreams",
	                       json_object_new_int((int)sp_res_ll(res, row, c + 17, 1)));
	json_object_object_add(plan, "maxDevicesAllowed",
	                       json_object_new_int((int)sp_res_ll(res, row, c + 18, 1)));
	json_object_object_add(
	    plan, "resolution",
	    json_object_new_string(sp_resolution_name((int)sp_res_ll(res, row, c + 19, 0))));
	json_object_object_add(plan, "maxDownloads",
	                       json_object_new_int((int)sp_res_ll(res, row, c + 22, 0)));
	json_object_object_add(s, "plan", plan);
	json_object_object_add(s, "status", sp_json_str_or_null(status));
	json_object_object_add(s, "startDate", sp_json_dbtime(sp_res_str(res, row, c + 2)));
	json_object_object_add(s, "endDate", sp_json_dbtime(sp_res_str(res, row, c + 3)));
	json_object_object_add(
	    s, "daysRemaining",
	    json_object_new_int(active ? (int)sp_res_ll(res, row, c + 20, 0) : 0));
	json_object_object_add(s, "autoRenew",
	                       json_object_new_boolean(sp_res_ll(res, row, c + 4, 0) == 1));
	json_object_object_add(pay, "transactionId",
	                       sp_json_str_or_null(sp_res_str(res, row, c + 5)));
	json_object_object_add(pay, "amount", sp_json_money(sp_res_str(res, row, c + 6)));
	json_object_object_add(pay, "currency", sp_json_str_or_null(sp_res_str(res, row, c + 7)));
	json_object_object_add(pay, "paymentMethod",
	                       sp_json_str_or_null(sp_res_str(res, row, c + 8)));
	json_object_object_add(pay, "paymentDate", sp_json_dbtime(sp_res_str(res, row, c + 9)));
	json_object_object_add(s, "paymentDetails", pay);
	if (sp_res_str(res, row, c + 10)) {
		json_object *cd = json_object_new_object();
		json_object_object_add(cd, "cancelledAt",
		                       sp_json_dbtime(sp_res_str(res, row, c + 10)));
		json_object_object_add(cd, "reason",
		                       sp_json_str_or_null(sp_res_str(res, row, c + 11)));
		json_object_object_add(s, "cancellationDetails", cd);
	} else {
		json_object_object_add(s, "cancellationDetails", NULL);
	}
	json_object_object_add(s, "endedAt", sp_json_dbtime(sp_res_str(res, row, c + 21)));
	json_object_object_add(s, "createdAt", sp_json_dbtime(sp_res_str(res, row, c + 12)));
	return s;
}

int sp_sub_current(long long uid, json_object **out)
{
	sp_res res;

	*out = NULL;
	if (sp_db_query(&res,
	                "SELECT " SP_SUB_COLS
	                " FROM subscriptions s JOIN plans p ON p.id = s.plan_id "
	                "WHERE s.user_id = ? AND s.status = 'active' AND s.end_date > "
	                "UTC_TIMESTAMP(3) ORDER BY s.start_date DESC LIMIT 1",
	                "l", uid) != 0)
		return -1;
	if (res.nrows == 1)
		*out = sp_sub_json(&res, 0, 0);
	sp_res_free(&res);
	return 0;
}
