/*
 * Job "progress": positions a viewer reported between two MariaDB writes
 * wait in Redis (sp_history); this job writes those of every viewer whose
 * oldest one was buffered by now, so that a viewer who stops reporting
 * and never reads their history is still on disk within a minute or so.
 */
#include "worker.h"
#include "sp_history.h"
#include "sp_kv.h"
#include "sp_log.h"

#include <stdio.h>
#include <stdlib.h>

/* At most this many viewers per run; the rest wait for the next (cron: every minute). */
#define BATCH 20000

/* KEYS: the dirty set; ARGV: the cutoff (ms), the batch size. */
static sp_kv_script due_script = {"history_due",
                                  "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], "
                                  "'LIMIT', 0, tonumber(ARGV[2]))\n",
                                  ""};

int job_progress(int64_t now_ms)
{
	char dirty[SP_KEY_MAX], cutoff[24], batch[24];
	const char *keys[1] = {dirty}, *args[2] = {cutoff, batch};
	sp_kv_result *due;
	size_t n, done = 0;
	int rc = 0;

	sp_key_progress_dirty(dirty, sizeof dirty);
	snprintf(cutoff, sizeof cutoff, "%lld", (long long)now_ms);
	snprintf(batch, sizeof batch, "%d", BATCH);
	due = sp_kv_run(&due_script, 1, keys, 2, args);
	if (due == NULL || sp_kv_failed(due)) {
		sp_kv_free(due);
		sp_error("progress: Redis unavailable");
		return 1;
	}
	n = sp_kv_count(due);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *uid = sp_kv_str_at(due, i, NULL);

		if (uid && (rc = sp_history_flush(strtoll(uid, NULL, 10))) == 0)
			done++;
	}
	sp_kv_free(due);
	if (rc != 0) {
		sp_error("progress: database unavailable after %zu of %zu viewers", done, n);
		return 1;
	}
	sp_info("progress: buffered positions of %zu viewers written", done);
	return 0;
}
