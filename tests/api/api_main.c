/*
 * Black-box API tests against a running stack (scripts/dev test-up or the
 * stack scripts/dev test starts). Environment: SP_TEST_BASE, SP_CONFIG,
 * SP_DEV, SP_STACK=test, SP_ADMIN_EMAIL, SP_ADMIN_PASSWORD.
 * Ends with "api: N passed, M failed" (tests) and exits non-zero on failure.
 */
#include "api_client.h"

#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void on_signal(int sig)
{
	/* never leave the stack without Redis */
	api_redis_ensure_started();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(void)
{
	unsigned run, failed;

	/* keep CUnit's lines and the failure details (stderr) in order in a log */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (api_init() != 0) {
		fprintf(stderr, "api: cannot initialise libcurl\n");
		printf("api: 0 passed, 1 failed\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);
	fprintf(stderr, "api: testing %s\n", api_base());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (api_suite_auth() != 0 || api_suite_http() != 0 || api_suite_plans() != 0 ||
	    api_suite_subscriptions() != 0 || api_suite_users() != 0 || api_suite_content() != 0 ||
	    api_suite_stream() != 0 || api_suite_media() != 0 || api_suite_deploy() != 0 ||
	    api_suite_history() != 0 || api_suite_jobs() != 0 || api_suite_mail() != 0 ||
	    api_suite_webhooks() != 0 || api_suite_lifecycle() != 0 || api_suite_downloads() != 0 ||
	    api_suite_parental() != 0 || api_suite_admin() != 0 || api_suite_ops() != 0) {
		fprintf(stderr, "api: cannot register suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		printf("api: 0 passed, 1 failed\n");
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	/*
	 * SP_API_SUITE=name runs one suite, and with SP_API_TEST=name one test
	 * of it, SP_API_REPEAT times (by hand); everything otherwise.
	 */
	if (getenv("SP_API_SUITE") && CU_get_suite(getenv("SP_API_SUITE"))) {
		CU_pSuite s = CU_get_suite(getenv("SP_API_SUITE"));
		const char *t = getenv("SP_API_TEST");
		int times = getenv("SP_API_REPEAT") ? atoi(getenv("SP_API_REPEAT")) : 1;
		if (t && CU_get_test(s, t)) {
			for (int i = 0; i < times; i++)
				CU_basic_run_test(s, CU_get_test(s, t));
		} else {
			CU_basic_run_suite(s);
		}
	} else
		CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	api_free_kept();
	api_cleanup();
	printf("\napi: %u passed, %u failed\n", run - failed, failed);
	return failed ? 1 : 0;
}
