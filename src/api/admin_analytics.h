/*
 * GET /admin/analytics/content: the daily watch aggregates per title that
 * the worker job "aggregate" writes, for a range of days, paged.
 */
#ifndef ADMIN_ANALYTICS_H
#define ADMIN_ANALYTICS_H

#include "sp_router.h"

/* The checked query: from..to (inclusive, "YYYY-MM-DD"), page and limit. */
struct analytics_in {
	char from[11];
	char to[11];
	long long page, limit;
};

int analytics_parse(sp_req *r, void *in);
int admin_analytics_content(sp_req *r);

#endif
