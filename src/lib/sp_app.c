/*
 * The FastCGI program skeleton every area shares: accept loop, the common
 * steps in one fixed order, route dispatch, access log and metrics.
 *
 * Order of a request: parse -> CORS preflight -> route lookup -> token
 * signature -> body and declared input read and parsed (nothing answered
 * yet) -> gate (rate limit + revocation + the route's prefetch and step, one
 * Redis round trip) -> 404/405 -> 401/403 -> body problem (413, 415, 400)
 * -> input problem (404 for an id never issued, 400 with the field errors)
 * -> handler -> response -> log line. docs/ARCHITECTURE.md walks through it.
 */
#include "sp_app.h"
#include "sp_auth.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_gate.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_program.h"
#include "sp_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

static const char *fcgi_param(void *io, const char *name)
{
	FCGX_Request *fr = io;

	return FCGX_GetParam(name, fr->envp);
}

static long fcgi_read(void *io, char *buf, size_t n)
{
	FCGX_Request *fr = io;

	return FCGX_GetStr(buf, (int)(n > 1 << 30 ? 1 << 30 : n), fr->in);
}

/*
 * The response is gathered here and sent as one FastCGI message by
 * fcgi_send: every record in a single write, where libfcgi's 8 KB stream
 * buffer would cost one write per 8 KB plus one for the closing records.
 */
static sp_buf out;

static void fcgi_write(void *io, const char *buf, size_t n)
{
	(void)io;
	sp_buf_add(&out, buf, n);
}

static void record_header(sp_buf *b, int type, int id, size_t len)
{
	unsigned char h[8] = {1,
	                      (unsigned char)type,
	                      (unsigned char)(id >> 8),
	                      (unsigned char)id,
	                      (unsigned char)(len >> 8),
	                      (unsigned char)len,
	                      0,
	                      0};

	sp_buf_add(b, (const char *)h, sizeof h);
}

/*
 * Writes the gathered response as FCGI_STDOUT records, the end of that
 * stream and FCGI_END_REQUEST, then marks libfcgi's output stream closed so
 * that FCGX_Finish_r adds nothing (its error stream, never written, adds
 * nothing either).
 */
static void fcgi_send(FCGX_Request *fr)
{
	enum { STDOUT_T = 6, END_T = 3, MAXREC = 65528 };
	static sp_buf msg;
	static const unsigned char end_body[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	size_t off = 0;
	const char *p;
	size_t left;

	msg.len = 0;
	while (off < out.len) {
		size_t n = out.len - off > MAXREC ? MAXREC : out.len - off;
		record_header(&msg, STDOUT_T, fr->requestId, n);
		sp_buf_add(&msg, out.data + off, n);
		off += n;
	}
	record_header(&msg, STDOUT_T, fr->requestId, 0);
	record_header(&msg, END_T, fr->requestId, sizeof end_body);
	sp_buf_add(&msg, (const char *)end_body, sizeof end_body);
	p = msg.data;
	left = msg.len;
	while (left > 0) {
		ssize_t w = write(fr->ipcFd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fr->out->FCGI_errno = w < 0 ? errno : EPIPE;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	fr->out->wasFCloseCalled = 1;
	fr->out->isClosed = 1;
	out.len = 0;
	if (msg.cap > (size_t)1 << 20) {
		/* keep the buffers for the next request, unless one was huge */
		sp_buf_free(&msg);
		sp_buf_free(&out);
	}
}

/*
 * libfcgi ends every connection with a "lingering close": shut down the
 * sending side, then wait (poll and read) until the web server closes its
 * end, so that request bytes still in flight cannot turn into a reset that
 * loses the answer. The process is meanwhile unable to take the next
 * request. When the whole request has been read (its stdin stream reached
 * its end) and nothing else is waiting on the socket, the web server has
 * nothing more to send and a plain close is safe; this says so. A request
 * whose body was left unread (e.g. refused as too large) still gets the
 * lingering close.
 */
int sp_app_input_consumed(void *io)
{
	enum { RESPONDER = 1 };
	FCGX_Request *fr = io;
	char c;
	ssize_t n;

	/* a connection the web server keeps for the next request is never closed here */
	if (fr->in == NULL || fr->keepConnection)
		return 0;
	if (!fr->in->isClosed) {
		/*
		 * A responder's stdin always ends with an empty record, so reading
		 * up to it cannot wait for long; any other role (the media
		 * authorizer) may get no stdin at all, so it is read without waiting.
		 */
		int fl = fr->role == RESPONDER ? -1 : fcntl(fr->ipcFd, F_GETFL);
		int eof;

		if (fr->role != RESPONDER &&
		    (fl < 0 || fcntl(fr->ipcFd, F_SETFL, fl | O_NONBLOCK) < 0))
			return 0;
		eof = FCGX_GetChar(fr->in) == EOF;
		if (fl >= 0)
			fcntl(fr->ipcFd, F_SETFL, fl);
		if (!eof)
			return 0;
	}
	if (FCGX_GetError(fr->in) != 0)
		return 0;
	n = recv(fr->ipcFd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Extracts the bearer token; NULL when there is none. */
static const char *bearer(sp_req *r)
{
	const char *a = r->authorization;

	if (a == NULL)
		return NULL;
	while (*a == ' ')
		a++;
	if (strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

static int preflight(sp_req *r)
{
	const char *m = sp_req_header(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");

	if (r->origin == NULL || m == NULL) {
		sp_add_header(r, "Allow", "GET, POST, PUT, DELETE, OPTIONS");
		sp_no_content(r, 204);
		return 0;
	}
	if (!sp_list_contains(sp_cfg.cors_origins, r->origin)) {
		sp_fail(r, 403, "FORBIDDEN", "Origin not allowed");
		return 0;
	}
	sp_add_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
	sp_add_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
	sp_add_header(r, "Access-Control-Max-Age", "600");
	sp_no_content(r, 204);
	return 0;
}

static void log_request(sp_req *r, double ms)
{
	char kv[2560], cut[301];
	sp_buf path;

	/* at most 300 bytes of the path, cut between characters, then escaped whole */
	sp_utf8_copy(cut, sizeof cut, r->path ? r->path : "");
	sp_buf_init(&path);
	sp_buf_add_json_escaped(&path, cut, strlen(cut));
	snprintf(kv, sizeof kv,
	         "\"request_id\":\"%s\",\"method\":\"%.16s\",\"path\":\"%s\",\"status\":%d,"
	         "\"duration_ms\":%.2f,\"ip\":\"%s\",\"user_id\":%s%s%s%s",
	         r->request_id, r->method, path.data ? path.data : "", r->status, ms, r->client_ip,
	         r->authenticated ? r->user_id_str : "null", r->error_code ? ",\"code\":\"" : "",
	         r->error_code ? r->error_code : "", r->error_code ? "\"" : "");
	sp_buf_free(&path);
	sp_log(r->status >= 500 ? SP_LOG_ERROR : SP_LOG_INFO, "request", kv);
}

/* Who the verified token says is calling. */
static void set_caller(sp_req *r, const sp_claims *c)
{
	r->authenticated = 1;
	r->user_id = c->uid;
	snprintf(r->user_id_str, sizeof r->user_id_str, "%lld", c->uid);
	snprintf(r->role, sizeof r->role, "%s", c->role);
	snprintf(r->jti, sizeof r->jti, "%s", c->jti);
	snprintf(r->sid, sizeof r->sid, "%s", c->sid);
	r->tv = c->tv;
	r->token_exp = c->exp;
}

/*
 * Reads the body and parses the route's declared input, answering nothing:
 * what is wrong waits for answer_input, after the gate and the token checks.
 */
static void load_input(const sp_route *route, sp_req *r)
{
	size_t errors;

	if (route->flags & SP_RAW_BODY)
		; /* the handler reads the body itself */
	else if (route->flags & SP_NO_BODY)
		sp_req_load_body(r, sp_cfg.max_body);
	else
		sp_req_load_json(r, sp_cfg.max_body);
	if (r->body_status != 0)
		r->in_status = r->body_status; /* answered as the body's problem */
	if (route->parse == NULL || r->body_status != 0)
		return;
	r->in = sp_xcalloc(1, route->in_size);
	errors = r->n_errors;
	if ((route->parse(r, r->in) != 0 || r->n_errors > errors) && r->in_status == 0)
		r->in_status = 400;
	/* kept apart: a 401, 403, 429 or 404 answered first must not list them */
	r->in_errors = r->errors;
	r->n_in_errors = r->n_errors;
	r->errors = NULL;
	r->n_errors = 0;
}

/* The token's verdict for the route: 0 go on, else 401 or 403 answered. */
static int check_caller(const sp_route *route, sp_req *r, const char *tok, const sp_claims *c)
{
	if (route->auth == SP_AUTH_NONE)
		return 0;
	if ((tok && c == NULL) || (!tok && route->auth != SP_AUTH_OPTIONAL)) {
		sp_add_header(r, "WWW-Authenticate", "Bearer");
		return sp_fail(r, 401, "UNAUTHORIZED",
		               tok ? "Token is invalid or expired" : "Authentication required");
	}
	if (c)
		set_caller(r, c);
	if (route->auth == SP_AUTH_ADMIN && strcmp(r->role, "admin") != 0)
		return sp_fail(r, 403, "FORBIDDEN", "Administrator role required");
	return 0;
}

/* A problem with the body, then with the input: 0 when there is none. */
static int answer_input(sp_req *r)
{
	if (sp_req_body_result(r) != 0)
		return -1;
	if (r->in_status == 404)
		return sp_fail(r, 404, "NOT_FOUND", r->in_message);
	/* the field errors come back for the 400, and for the handler to add to */
	r->errors = r->in_errors;
	r->n_errors = r->n_in_errors;
	r->in_errors = NULL;
	r->n_in_errors = 0;
	if (r->in_status != 0)
		return sp_fail_validation(r);
	return 0;
}

/*
 * The handler, then what it must leave behind: an answer, and no open
 * transaction (a failure, -1, rolls back what it began).
 */
static void run_handler(const sp_route *route, sp_req *r)
{
	int rc = route->handler(r);

	if (sp_db_in_transaction()) {
		if (rc == 0)
			sp_error("handler for %s %s left a transaction open", route->method,
			         route->pattern);
		sp_db_rollback();
	}
	if (!r->responded) {
		sp_error("handler for %s %s gave no response", route->method, route->pattern);
		sp_fail_unavailable(r);
	} else if ((rc == 0) != (r->status < 400)) {
		sp_error("handler for %s %s returned %d with status %d", route->method,
		         route->pattern, rc, r->status);
	}
}

void sp_app_handle(const sp_app *app, sp_req *r)
{
	const sp_route *route = NULL;
	enum sp_match m;
	char allow[128];
	sp_claims claims;
	const char *tok;
	int token_ok = 0;

	sp_cache_req_begin();
	if (sp_req_parse(r) != 0) {
		if (sp_gate(r, NULL, NULL, 0) == 0)
			sp_fail(r, 400, "VALIDATION_ERROR", "Malformed request path or query");
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		sp_gate(r, NULL, NULL, 1);
		r->responded = 0;
		preflight(r);
		return;
	}
	m = sp_route_match(app->routes, app->n_routes, r, &route, allow, sizeof allow);
	tok = route == NULL || route->auth != SP_AUTH_NONE ? bearer(r) : NULL;
	if (tok && sp_jwt_verify_current(tok, sp_now_ms() / 1000, &claims) == 0)
		token_ok = 1;
	if (route)
		load_input(route, r);
	if (sp_gate(r, route, token_ok ? &claims : NULL,
	            route != NULL && (route->flags & SP_RL_PEEK)) != 0)
		return;
	if (m == SP_MATCH_NOT_FOUND) {
		sp_fail(r, 404, "NOT_FOUND", "No such endpoint");
		return;
	}
	if (m == SP_MATCH_BAD_METHOD) {
		sp_add_header(r, "Allow", allow);
		sp_fail(r, 405, "METHOD_NOT_ALLOWED", "Method not allowed on this endpoint");
		return;
	}
	if (check_caller(route, r, tok, token_ok ? &claims : NULL) != 0 || answer_input(r) != 0)
		return;
	run_handler(route, r);
}

/* 503 for a handler: any open transaction is rolled back first. */
int sp_unavailable(sp_req *r)
{
	sp_db_rollback();
	return sp_fail_unavailable(r);
}

int sp_app_main(const sp_app *app, int argc, char **argv)
{
	FCGX_Request fr;
	int rc;

	(void)argc;
	(void)argv;
	if ((rc = sp_program_start(app->name, SP_PROGRAM_SERVER)) != 0)
		return rc;
	sp_kv_on_connect(sp_gate_resync); /* cache groups and streaming register their own */
	if (app->init && app->init() != 0)
		return 1;
	if (sp_program_listen(&fr) != 0)
		return 1;
	while (sp_program_accept(&fr) >= 0) {
		sp_req r;
		double ms;
		char route[160];

		sp_req_init(&r, &fr, fcgi_param, fcgi_read, fcgi_write);
		sp_app_handle(app, &r);
		sp_send(&r);
		fcgi_send(&fr);
		if (sp_app_input_consumed(&fr))
			fr.detached = 1; /* plain close: see sp_app_input_consumed */
		FCGX_Finish_r(&fr);
		fr.detached = 0;
		ms = (double)(sp_now_ms() - r.start_ms);
		log_request(&r, ms);
		if (r.route)
			snprintf(route, sizeof route, "%s %s", r.route->method, r.route->pattern);
		else
			snprintf(route, sizeof route, "%s", "unmatched");
		sp_metrics_request(route, r.status, ms);
		sp_metrics_flush(0);
		sp_req_free(&r);
	}
	sp_program_stop();
	return 0;
}
