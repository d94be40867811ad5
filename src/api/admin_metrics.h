/*
 * GET /admin/metrics: the operator's overview of the service right now
 * (live streams, who streams most, cache hit ratio, subscriptions, revenue).
 */
#ifndef ADMIN_METRICS_H
#define ADMIN_METRICS_H

#include "sp_router.h"

int admin_metrics(sp_req *r);

#endif
