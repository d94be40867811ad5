/*
 * The start every program shares (signals, log, settings, log file) and the
 * FastCGI accept loop of the API programs and the media authorizer.
 */
#include "sp_program.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static const char *program = "";

/*
 * SIGTERM (the web server or the service manager stopping the program), or
 * SIGUSR1 (multiwatch's graceful stop, which it sends its processes when it
 * is stopped itself): the request in hand is finished, then the loop leaves.
 * SA_RESTART keeps the request's own reads and writes from failing with
 * EINTR; the wait below
 * polls, which a signal always interrupts, and libfcgi's accept is told
 * through FCGX_ShutdownPending.
 */
static volatile sig_atomic_t stopping;

static void on_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

static void catch_sigterm(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigterm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * A key the table does not know is a typo or a retired key: the program
 * starts on the defaults and says so (sp-admin check-config --strict makes
 * it an error for deployment checks).
 */
static void warn_unknown(const char *key, const char *path, int line, void *arg)
{
	int tool = *(const int *)arg;

	if (tool)
		fprintf(stderr, "config: warning: %s:%d: unknown key '%s' ignored\n", path, line,
		        key);
	else
		sp_warn("config: %s:%d: unknown key '%s' ignored", path, line, key);
}

int sp_program_start(const char *name, enum sp_program_kind kind)
{
	char err[512];
	int tool = kind == SP_PROGRAM_TOOL;

	program = name;
	if (kind == SP_PROGRAM_SERVER) {
		signal(SIGPIPE, SIG_IGN);
		/* before FCGX_Init, which installs its own only over the default */
		catch_sigterm();
	}
	sp_log_init(name, kind == SP_PROGRAM_SERVER ? getenv("SP_LOG_LEVEL")
	                  : kind == SP_PROGRAM_JOB  ? "info"
	                                            : "warn");
	if (sp_settings_load(NULL, err, sizeof err) != 0) {
		if (kind != SP_PROGRAM_TOOL) {
			sp_log(SP_LOG_ERROR, err, NULL);
			return 78;
		}
		if (strstr(err, "jwt.secret") == NULL) {
			fprintf(stderr, "%s\n", err);
			return 78;
		}
	}
	if (kind != SP_PROGRAM_SERVER) {
		sp_conf_each_unknown(warn_unknown, &tool);
		return 0;
	}
	sp_log_init(name, sp_cfg.log_level);
	if (sp_log_file(sp_conf_str("log.file", "")) != 0)
		sp_warn("cannot open log.file; logging to stderr");
	sp_conf_each_unknown(warn_unknown, &tool);
	return 0;
}

int sp_program_stopping(void)
{
	return stopping;
}

int sp_program_listen(FCGX_Request *fr)
{
	if (FCGX_Init() != 0)
		return -1;
	FCGX_InitRequest(fr, 0, 0);
	/*
	 * Processes sharing one socket (spawn-fcgi with multiwatch) are all
	 * woken by a connection only one of them gets: accept must not block
	 * the others, who go back to waiting (and to their flushes and stop
	 * signals). Accepted connections do not inherit O_NONBLOCK.
	 */
	if (!FCGX_IsCGI()) {
		int fl = fcntl(0, F_GETFL);
		if (fl >= 0)
			fcntl(0, F_SETFL, fl | O_NONBLOCK);
	}
	sp_info("%s ready", program);
	return 0;
}

/*
 * Waits for a connection on the listening socket (FastCGI's fd 0) and sends
 * pending counts when their flush falls due, so an idle process's counts
 * reach /metrics within about a second instead of waiting for its next
 * request. No single wait exceeds a second, so a SIGTERM that lands just
 * before one is still seen promptly. -1: stop.
 */
static int wait_for_request(void)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};

	while (!stopping) {
		long due = sp_metrics_due_in_ms();
		int n = poll(&p, 1, due >= 0 && due < 1000 ? (int)due : 1000);

		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return 0; /* not a socket we can poll: accept decides */
		if (n == 0)
			sp_metrics_flush(0); /* Redis away: the counts wait for the next turn */
	}
	return -1;
}

int sp_program_accept(FCGX_Request *fr)
{
	for (;;) {
		int rc;

		if (wait_for_request() < 0)
			return -1;
		rc = FCGX_Accept_r(fr);
		if (rc >= 0)
			return 0;
		/* another process took the connection: wait again */
		if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR)
			return -1;
	}
}

void sp_program_stop(void)
{
	sp_info("%s stopping", program);
	sp_metrics_flush(1);
	sp_db_close();
	sp_kv_close();
}
