/*
 * API tests of the jobs suite (filled in with the watch-history work).
 */
#include "api_client.h"

int api_suite_jobs(void)
{
	return CU_add_suite("jobs", NULL, NULL) == NULL ? -1 : 0;
}
