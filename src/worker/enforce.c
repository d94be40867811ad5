/*
 * Job "enforce": a user with more live streams than the plan now allows
 * (after a downgrade or an expiry) loses the oldest ones, then gets a
 * stream.limit_exceeded event telling how many were ended; a user with
 * more live download licences than the plan allows loses the newest ones,
 * with a download.revoked event in the same transaction.
 */
#include "worker.h"
#include "sp_db.h"
#include "sp_download.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_stream.h"
#include "sp_tier.h"

/*
 * Revokes the licences beyond the plan's maxDownloads (0 without
 * downloads), newest first, and records download.revoked in the same
 * transaction; the Redis copies go after the commit. Revoked, or -1.
 */
static int enforce_downloads(long long uid, const sp_level *l)
{
	int max = sp_download_allowance(l->plan_id), n;
	json_object *ids, *ev;

	if (max < 0 || sp_db_begin() != 0)
		return -1;
	ids = json_object_new_array();
	n = sp_download_trim(uid, max, ids);
	if (n > 0) {
		ev = json_object_new_object();
		json_object_object_add(ev, "count", json_object_new_int(n));
		json_object_object_add(ev, "downloadIds", json_object_get(ids));
		json_object_object_add(ev, "maxDownloads", json_object_new_int(max));
		json_object_object_add(ev, "plan", json_object_new_string(l->plan_name));
		if (sp_outbox_add("download.revoked", uid, ev) != 0)
			n = -1;
	}
	if (n < 0 || sp_db_commit() != 0) {
		sp_db_rollback();
		json_object_put(ids);
		return -1;
	}
	sp_download_forget(ids);
	json_object_put(ids);
	return n;
}

int enforce_user(long long uid)
{
	sp_level l;
	int n;
	json_object *ev;

	if (sp_level_load(uid, &l) != 0)
		return -1;
	if (enforce_downloads(uid, &l) < 0)
		sp_warn("enforce: downloads of user %lld not checked (MariaDB)", uid);
	n = sp_stream_trim(uid, l.max_streams, "limit");
	if (n <= 0)
		return n;
	ev = json_object_new_object();
	json_object_object_add(ev, "endedSessions", json_object_new_int(n));
	json_object_object_add(ev, "maxConcurrentStreams", json_object_new_int(l.max_streams));
	json_object_object_add(ev, "plan", json_object_new_string(l.plan_name));
	sp_outbox_add("stream.limit_exceeded", uid, ev);
	return n;
}

int job_enforce(int64_t now_ms)
{
	sp_res res;
	int users = 0, ended = 0;

	(void)now_ms;
	/*
	 * candidates: users with more than one live session (every plan allows
	 * one), and users holding live download licences (a plan may allow none)
	 */
	if (sp_db_query(
	        &res,
	        "SELECT user_id FROM stream_sessions WHERE ended_at IS NULL GROUP BY user_id "
	        "HAVING COUNT(*) > 1 UNION SELECT DISTINCT user_id FROM download_licences WHERE "
	        "revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)",
	        "") != 0) {
		sp_error("enforce: database unavailable");
		return 1;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		int n = enforce_user(sp_res_ll(&res, i, 0, 0));
		if (n <= 0)
			continue;
		users++;
		ended += n;
	}
	sp_res_free(&res);
	sp_info("enforce: %d streams ended for %d users over their limit", ended, users);
	return 0;
}
