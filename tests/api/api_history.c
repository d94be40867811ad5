/*
 * API tests of the history suite (filled in with the watch-history work).
 */
#include "api_client.h"

int api_suite_history(void)
{
	return CU_add_suite("history", NULL, NULL) == NULL ? -1 : 0;
}
