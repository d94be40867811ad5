/*
 * Job "enforce": a user with more live streams than the plan now allows
 * (after a downgrade or an expiry) loses the oldest ones, then gets a
 * stream.limit_exceeded event telling how many were ended.
 */
#include "worker.h"
#include "sp_db.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_stream.h"
#include "sp_tier.h"

int enforce_user(long long uid)
{
	sp_level l;
	int n;
	json_object *ev;

	if (sp_level_load(uid, &l) != 0)
		return -1;
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
	/* candidates: users with more than one live session (every plan allows one) */
	if (sp_db_query(
	        &res,
	        "SELECT user_id, COUNT(*) FROM stream_sessions WHERE ended_at IS NULL GROUP BY "
	        "user_id HAVING COUNT(*) > 1",
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
