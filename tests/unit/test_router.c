/* Router: static and ":param" segments, 404 versus 405 with Allow. */
#include "unit.h"
#include "sp_router.h"

#include <stdlib.h>
#include <string.h>

static int h(sp_req *r)
{
	(void)r;
	return 0;
}

static const sp_route routes[] = {
    {"GET", "/auth/me", h, SP_AUTH_REQUIRED, 0, NULL, NULL, SP_NO_INPUT},
    {"POST", "/auth/login", h, SP_AUTH_NONE, 0, NULL, NULL, SP_NO_INPUT},
    {"GET", "/content/:id", h, SP_AUTH_OPTIONAL, 0, NULL, NULL, SP_NO_INPUT},
    {"PUT", "/content/:id", h, SP_AUTH_ADMIN, 0, NULL, NULL, SP_NO_INPUT},
    {"POST", "/content/:id/stream", h, SP_AUTH_REQUIRED, 0, NULL, NULL, SP_NO_INPUT},
    {"GET", "=/metrics", h, SP_AUTH_NONE, 0, NULL, NULL, SP_NO_INPUT},
};
#define N (sizeof routes / sizeof routes[0])

static enum sp_match match(const char *method, const char *path, const sp_route **out, char *allow,
                           sp_req *r)
{
	memset(r, 0, sizeof *r);
	strcpy(r->method, method);
	r->path = (char *)path;
	r->api_path = strncmp(path, "/api/v1", 7) == 0 ? path + 7 : "";
	return sp_route_match(routes, N, r, out, allow, 128);
}

static void release(sp_req *r)
{
	for (int i = 0; i < r->n_params; i++) {
		free(r->param_names[i]);
		free(r->param_values[i]);
	}
}

static void test_static_route_matches(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("GET", "/api/v1/auth/me", &out, allow, &r), SP_MATCH_OK);
	CU_ASSERT_PTR_EQUAL(out, &routes[0]);
	release(&r);
}

static void test_param_is_captured(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("POST", "/api/v1/content/42/stream", &out, allow, &r), SP_MATCH_OK);
	CU_ASSERT_PTR_EQUAL(out, &routes[4]);
	CU_ASSERT_STRING_EQUAL(sp_param(&r, "id"), "42");
	release(&r);
}

static void test_unknown_path_is_not_found(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("GET", "/api/v1/nope", &out, allow, &r), SP_MATCH_NOT_FOUND);
	CU_ASSERT_EQUAL(match("GET", "/api/v1/content", &out, allow, &r), SP_MATCH_NOT_FOUND);
	CU_ASSERT_EQUAL(match("GET", "/api/v1/content/1/stream/x", &out, allow, &r),
	                SP_MATCH_NOT_FOUND);
	CU_ASSERT_EQUAL(match("GET", "/auth/me", &out, allow, &r), SP_MATCH_NOT_FOUND);
}

static void test_wrong_method_lists_allow(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("DELETE", "/api/v1/content/7", &out, allow, &r), SP_MATCH_BAD_METHOD);
	CU_ASSERT_PTR_NOT_NULL(strstr(allow, "GET"));
	CU_ASSERT_PTR_NOT_NULL(strstr(allow, "PUT"));
	CU_ASSERT_PTR_NULL(strstr(allow, "DELETE"));
}

static void test_head_uses_get_route(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("HEAD", "/api/v1/auth/me", &out, allow, &r), SP_MATCH_OK);
}

static void test_absolute_route_outside_base(void)
{
	sp_req r;
	const sp_route *out = NULL;
	char allow[128];

	CU_ASSERT_EQUAL(match("GET", "/metrics", &out, allow, &r), SP_MATCH_OK);
	CU_ASSERT_PTR_EQUAL(out, &routes[5]);
	CU_ASSERT_EQUAL(match("GET", "/api/v1/metrics", &out, allow, &r), SP_MATCH_NOT_FOUND);
}

void suite_router(void)
{
	CU_pSuite s = CU_add_suite("router", NULL, NULL);

	ADD_TEST(s, test_static_route_matches);
	ADD_TEST(s, test_param_is_captured);
	ADD_TEST(s, test_unknown_path_is_not_found);
	ADD_TEST(s, test_wrong_method_lists_allow);
	ADD_TEST(s, test_head_uses_get_route);
	ADD_TEST(s, test_absolute_route_outside_base);
}
