/*
 * Job "aggregate" (being written).
 */
#include "worker.h"
#include "sp_log.h"

int job_aggregate(int64_t now_ms)
{
	(void)now_ms;
	sp_error("aggregate: not built yet");
	return 1;
}
