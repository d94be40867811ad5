/* Runs every unit suite and ends with "N passed, N failed" (tests, not asserts). */
#include "unit.h"

#include <CUnit/Basic.h>
#include <stdio.h>

int main(void)
{
	unsigned run, failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite_util();
	suite_config();
	suite_router();
	suite_valid();
	suite_jwt();
	suite_bcrypt();
	suite_envelope();
	suite_tier();
	suite_history();
	suite_multipart();
	suite_image();
	suite_media();
	suite_cache();
	suite_payment();
	suite_seal();
	suite_client_key();
	suite_gate();
	suite_mail();
	suite_webhook();
	suite_parental();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	printf("\nunit: %u passed, %u failed\n", run - failed, failed);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
