/*
 * Keeping Redis's live sessions in step with MariaDB's record: rebuilding a
 * user's Redis state from MariaDB (after an outage, an overruled admission
 * or a session Redis missed), loading device sets, and the worker's trim
 * and sweep. Each step here uses both stores; the stores' own code is in
 * sp_stream_kv.c and sp_stream_db.c.
 */
#include "sp_stream_impl.h"
#include "sp_log.h"

#include <stdlib.h>

int sp_stream_rebuild_user(long long uid)
{
	sp_session *live = NULL;
	size_t n = 0;
	int rc;

	if (sp_stream_db_live(uid, 0, &live, &n) != 0)
		return -1;
	rc = sp_stream_kv_replace_user(uid, live, n);
	free(live);
	return rc;
}

void sp_stream_repair(long long uid)
{
	if (sp_stream_rebuild_user(uid) != 0)
		sp_stream_db_mark_resync(uid);
}

void sp_stream_resync_user(long long uid)
{
	if (sp_stream_rebuild_user(uid) == 0)
		sp_stream_db_resync_done(uid);
}

int sp_stream_load_devices(long long uid)
{
	sp_stream_device *dev = NULL;
	size_t n = 0;
	int rc;

	if (sp_stream_db_devices(uid, &dev, &n) != 0)
		return -1;
	rc = sp_stream_kv_put_devices(uid, dev, n);
	free(dev);
	return rc;
}

/* A Redis without the boot marker lost (or never had) the live sessions: reload them all. */
static void reload_all(void)
{
	long long *uids = NULL;
	size_t n = 0;

	if (sp_stream_db_live_users(&uids, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		sp_stream_rebuild_user(uids[i]);
	free(uids);
	sp_info("stream sessions reloaded into Redis");
}

void sp_stream_resync(void)
{
	long long *uids = NULL;
	size_t n = 0;
	int fresh = sp_stream_kv_mark_boot();

	if (fresh < 0)
		return;
	if (fresh)
		reload_all();
	/* users whose sessions changed in MariaDB alone while Redis was away */
	if (sp_stream_db_resync_users(&uids, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		sp_stream_resync_user(uids[i]);
	free(uids);
}

int sp_stream_trim(long long uid, int max, const char *reason)
{
	sp_session *live = NULL;
	size_t n = 0;
	int ended = 0;

	if (sp_stream_list(uid, &live, &n) != 0)
		return -1;
	/* the oldest go first; the newest keep playing */
	for (size_t i = 0; n > (size_t)max && i < n - (size_t)max; i++) {
		long long cid;
		if (sp_stream_stop(uid, live[i].id, live[i].position, reason, &cid) ==
		    SP_SESSION_OK)
			ended++;
	}
	free(live);
	return ended;
}

long sp_stream_sweep(int64_t now_ms)
{
	sp_stream_kv_sweep(now_ms);
	return sp_stream_db_close_stale(now_ms);
}
