/*
 * Job "partitions" (being written).
 */
#include "worker.h"
#include "sp_log.h"

int job_partitions(int64_t now_ms)
{
	(void)now_ms;
	sp_error("partitions: not built yet");
	return 1;
}
