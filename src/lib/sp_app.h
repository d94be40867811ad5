/*
 * The FastCGI program skeleton every area shares: accept loop, the common
 * steps in one fixed order, route dispatch, access log and metrics.
 */
#ifndef SP_APP_H
#define SP_APP_H

#include <stddef.h>

#include "sp_router.h"

typedef struct sp_app {
	const char *name;
	const sp_route *routes;
	size_t n_routes;
	/* optional: runs once after configuration is loaded; non-zero aborts start */
	int (*init)(void);
} sp_app;

/*
 * Starts as sp_program_start says (exits 78 naming a bad key), then serves
 * requests until SIGTERM, which lets the request in hand finish.
 */
int sp_app_main(const sp_app *app, int argc, char **argv);

/* One request through the common steps and the table (also used by tests). */
void sp_app_handle(const sp_app *app, sp_req *r);

/*
 * A backing service failed: rolls back the open transaction, if any, and
 * answers 503 SERVICE_UNAVAILABLE with Retry-After; returns -1. The one
 * way a handler reports an outage.
 */
int sp_unavailable(sp_req *r);

/*
 * For an FCGX_Request whose answer is written: 1 when the whole request was
 * read and nothing more waits on the socket, so the connection may be
 * closed plainly (set fr.detached before FCGX_Finish_r) instead of libfcgi's
 * lingering close, which keeps the process until the web server closes.
 */
int sp_app_input_consumed(void *fcgx_request);

#endif
