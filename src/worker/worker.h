/*
 * sp-worker: background jobs run by cron, one file per job, each entry in
 * the table of main.c. A job returns 0 on success and logs what it did.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdint.h>

/*
 * How far a job's lock reaches: a whole-cluster job runs once at a time
 * anywhere; a per-host job once at a time on each host (worker.host), for
 * jobs that claim their own rows (FOR UPDATE SKIP LOCKED and a lease) so
 * that hosts share the work (mailer, webhooks).
 */
enum worker_lock { LOCK_CLUSTER, LOCK_HOST };

typedef struct worker_job {
	const char *name;
	const char *about;
	int (*run)(int64_t now_ms);
	enum worker_lock lock;
} worker_job;

int job_sessions(int64_t now_ms);
int job_enforce(int64_t now_ms);
int job_resets(int64_t now_ms);
int job_partitions(int64_t now_ms);
int job_aggregate(int64_t now_ms);
int job_progress(int64_t now_ms);
int job_mailer(int64_t now_ms);
int job_webhooks(int64_t now_ms);
int job_lifecycle(int64_t now_ms);

/*
 * Ends the user's oldest streams beyond what the plan now allows, with a
 * stream.limit_exceeded event, and revokes the newest download licences
 * beyond its maxDownloads, with a download.revoked event (enforce.c; also
 * run by lifecycle after an expiry). Streams ended, or -1 when MariaDB
 * could not tell the plan.
 */
int enforce_user(long long uid);

#endif
