/*
 * sp-worker: background jobs run by cron, one file per job, each entry in
 * the table below. `sp-worker JOB [--now ISO8601]` runs one job once.
 */
#include "worker.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_program.h"
#include "sp_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const worker_job jobs[] = {
    {"sessions", "close stream sessions without a heartbeat for stream.stale_seconds",
     job_sessions},
    {"enforce", "end the oldest streams of users over their plan's limit", job_enforce},
    {"resets", "drop the sealed tokens of password resets past auth.reset_ttl", job_resets},
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
			rc = jobs[i].run(now);
			sp_db_close();
			sp_kv_close();
			return rc;
		}
	}
	return usage();
}
