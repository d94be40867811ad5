/*
 * Job "sessions": stale stream sessions (no heartbeat for
 * stream.stale_seconds) leave Redis and get their MariaDB row closed. They
 * stopped counting already; this tidies the records.
 */
#include "worker.h"
#include "sp_log.h"
#include "sp_stream.h"

int job_sessions(int64_t now_ms)
{
	long closed = sp_stream_sweep(now_ms);

	if (closed < 0) {
		sp_error("sessions: could not close stale sessions");
		return 1;
	}
	sp_info("sessions: %ld stale sessions closed", closed);
	return 0;
}
