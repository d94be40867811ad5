/*
 * sp-worker: background jobs run by cron, one file per job, each entry in
 * the table below. `sp-worker JOB [--now ISO8601]` runs one job once.
 */
#include "worker.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_program.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const worker_job jobs[] = {
    {"sessions", "close stream sessions without a heartbeat for stream.stale_seconds", job_sessions,
     LOCK_CLUSTER},
    {"enforce",
     "end the oldest streams and revoke the newest downloads of users over their plan's limits",
     job_enforce, LOCK_CLUSTER},
    {"resets",
     "drop the sealed tokens of password resets past auth.reset_ttl, and retired signing keys",
     job_resets, LOCK_CLUSTER},
    {"partitions", "keep monthly watch-event partitions ahead; archive those past warm_days",
     job_partitions, LOCK_CLUSTER},
    {"aggregate", "recompute the daily watch aggregates of yesterday (and of missed days before)",
     job_aggregate, LOCK_CLUSTER},
    {"progress", "write the watch positions buffered in Redis to MariaDB", job_progress,
     LOCK_CLUSTER},
    {"mailer", "mail the due outbox events over SMTP (retries with back-off)", job_mailer,
     LOCK_HOST},
    {"webhooks", "POST new outbox events to the webhooks that want them; retry failures",
     job_webhooks, LOCK_HOST},
    {"lifecycle", "subscriptions: expiring notices, renewals at endDate, expiries", job_lifecycle,
     LOCK_CLUSTER},
};

static int usage(void)
{
	fprintf(stderr, "usage: sp-worker JOB [--now 2025-01-08T10:30:00Z]\njobs:\n");
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++)
		fprintf(stderr, "  %-10s %s\n", jobs[i].name, jobs[i].about);
	return 64;
}

/* "2025-01-08T10:30:00Z" or with milliseconds; UTC. */
static int parse_now(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if (*p != 'Z' && *p != '\0')
		return -1;
	*out = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/* worker.host, else the system's host name. */
static void host_name(char host[65])
{
	memset(host, 0, 65);
	if (sp_cfg.worker_host[0])
		snprintf(host, 65, "%s", sp_cfg.worker_host);
	else if (gethostname(host, 64) != 0)
		snprintf(host, 65, "localhost");
}

/* The job's lock name: "streaming.worker.JOB", and "@HOST" for a per-host job. */
static void lock_name(const worker_job *job, char *out, size_t n)
{
	char host[65] = "";

	if (job->lock == LOCK_HOST)
		host_name(host);
	snprintf(out, n, "streaming.worker.%s%s%.64s", job->name, host[0] ? "@" : "", host);
}

/*
 * The last run of each job on each host, kept in job_runs for sp-admin
 * status: started when the lock is taken, finished with the exit status
 * (a run killed midway stays without one). Best effort: a run is never
 * refused for want of its record.
 */
static void record_run(const worker_job *job, int finished, int rc)
{
	char host[65];

	host_name(host);
	if (!finished)
		(void)sp_db_exec("INSERT INTO job_runs (job, host, started_at) VALUES (?, ?, "
		                 "UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE started_at = "
		                 "VALUES(started_at), finished_at = NULL, exit_code = NULL",
		                 "ss", job->name, host);
	else
		(void)sp_db_exec(
		    "UPDATE job_runs SET finished_at = UTC_TIMESTAMP(3), exit_code = ? "
		    "WHERE job = ? AND host = ?",
		    "lss", (long long)rc, job->name, host);
}

/*
 * Runs a job under a MariaDB named lock, so two runs of one job never
 * overlap: anywhere, or on one host for a per-host job. The server drops
 * the lock with the connection, so a run killed at any point never leaves
 * it held.
 */
static int run_locked(const worker_job *job, int64_t now)
{
	char name[96];
	sp_res res;
	int held, rc;

	lock_name(job, name, sizeof name);
	if (sp_db_query(&res, "SELECT GET_LOCK(?, 0)", "s", name) != 0) {
		sp_error("%s: MariaDB unreachable; not run", job->name);
		return 1;
	}
	held = res.nrows == 1 && sp_res_ll(&res, 0, 0, 0) == 1;
	sp_res_free(&res);
	if (!held) {
		sp_info("%s: another run holds the lock; this one does nothing", job->name);
		return 0;
	}
	record_run(job, 0, 0);
	rc = job->run(now);
	record_run(job, 1, rc);
	if (sp_db_query(&res, "SELECT RELEASE_LOCK(?)", "s", name) == 0)
		sp_res_free(&res);
	return rc;
}

int main(int argc, char **argv)
{
	int64_t now = sp_now_ms();
	int rc;

	if (argc < 2)
		return usage();
	if (argc >= 4 && strcmp(argv[2], "--now") == 0 && parse_now(argv[3], &now) != 0) {
		fprintf(stderr, "sp-worker: --now wants an ISO 8601 UTC time\n");
		return 64;
	}
	if ((rc = sp_program_start("worker", SP_PROGRAM_JOB)) != 0)
		return rc;
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
		if (strcmp(jobs[i].name, argv[1]) == 0) {
			rc = run_locked(&jobs[i], now);
			/* the job's counts (mail, webhook outcomes) go to /metrics before exit */
			sp_metrics_flush(1);
			sp_db_close();
			sp_kv_close();
			return rc;
		}
	}
	return usage();
}
