/*
 * Route matching: segment by segment, ":name" captures one non-empty segment.
 * HEAD is answered by GET routes.
 */
#include "sp_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seg_match(const char *pat, const char *path, sp_req *r, int capture)
{
	int np = 0;

	while (*pat == '/' && *path == '/') {
		const char *pe, *se;
		size_t pl, sl;

		pat++;
		path++;
		pe = strchr(pat, '/');
		se = strchr(path, '/');
		pl = pe ? (size_t)(pe - pat) : strlen(pat);
		sl = se ? (size_t)(se - path) : strlen(path);
		if (pat[0] == ':') {
			if (sl == 0 || sl > 512)
				return 0;
			if (capture && np < SP_MAX_PARAMS) {
				char *v = sp_url_decode(path, sl, 0);
				if (v == NULL)
					return 0;
				r->param_names[np] = strndup(pat + 1, pl - 1);
				r->param_values[np] = v;
				np++;
				r->n_params = np;
			}
		} else if (pl != sl || memcmp(pat, path, pl) != 0) {
			return 0;
		}
		pat += pl;
		path += sl;
	}
	return *pat == '\0' && *path == '\0';
}

static void clear_params(sp_req *r)
{
	for (int i = 0; i < r->n_params; i++) {
		free(r->param_names[i]);
		free(r->param_values[i]);
		r->param_names[i] = NULL;
		r->param_values[i] = NULL;
	}
	r->n_params = 0;
}

enum sp_match sp_route_match(const sp_route *routes, size_t n, sp_req *r, const sp_route **out,
                             char *allow, size_t allowlen)
{
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
	int path_known = 0;

	if (allow && allowlen)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *pat = routes[i].pattern;
		const char *path = r->api_path;
		if (pat[0] == '=') { /* an absolute path outside the API base, e.g. "=/metrics" */
			pat++;
			path = r->raw_path ? r->raw_path : r->path;
		}
		if (!seg_match(pat, path, r, 0))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, method) == 0) {
			clear_params(r);
			seg_match(pat, path, r, 1);
			*out = &routes[i];
			r->route = &routes[i];
			return SP_MATCH_OK;
		}
		if (allow && !strstr(allow, routes[i].method)) {
			size_t l = strlen(allow);
			snprintf(allow + l, allowlen - l, "%s%s", l ? ", " : "", routes[i].method);
		}
	}
	if (!path_known)
		return SP_MATCH_NOT_FOUND;
	if (allow && strstr(allow, "GET") && !strstr(allow, "HEAD")) {
		size_t l = strlen(allow);
		snprintf(allow + l, allowlen - l, ", HEAD");
	}
	if (allow) {
		size_t l = strlen(allow);
		snprintf(allow + l, allowlen - l, "%sOPTIONS", l ? ", " : "");
	}
	return SP_MATCH_BAD_METHOD;
}
