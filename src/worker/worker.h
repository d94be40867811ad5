/*
 * sp-worker: background jobs run by cron, one file per job, each entry in
 * the table of main.c. A job returns 0 on success and logs what it did.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdint.h>

typedef struct worker_job {
	const char *name;
	const char *about;
	int (*run)(int64_t now_ms);
} worker_job;

int job_sessions(int64_t now_ms);
int job_enforce(int64_t now_ms);
int job_resets(int64_t now_ms);
int job_partitions(int64_t now_ms);
int job_aggregate(int64_t now_ms);
int job_progress(int64_t now_ms);
int job_webhooks(int64_t now_ms);

#endif
