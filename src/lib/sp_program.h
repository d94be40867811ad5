/*
 * The start every program shares (signals, log, settings, log file) and the
 * FastCGI accept loop of the long-running ones: SIGTERM finishes the
 * request in hand, idle time sends pending counts.
 */
#ifndef SP_PROGRAM_H
#define SP_PROGRAM_H

struct FCGX_Request;

/* What kind of program starts: decides signals, log level and log destination. */
enum sp_program_kind {
	/*
	 * A FastCGI program the web server runs: SIGPIPE ignored, SIGTERM
	 * graceful, the level and log.file from the settings (SP_LOG_LEVEL
	 * until they are read).
	 */
	SP_PROGRAM_SERVER,
	/* A cron job: logs at info to stderr, which cron keeps. */
	SP_PROGRAM_JOB,
	/*
	 * The operator's tool: only warnings, plain error text, and no
	 * jwt.secret needed (it signs nothing, and migrates before one exists).
	 */
	SP_PROGRAM_TOOL,
};

/*
 * Starts program name: signals and log as its kind says, then the settings.
 * 0 ready; otherwise the exit code to return (78 when a setting is bad,
 * after logging the message that names the key).
 */
int sp_program_start(const char *name, enum sp_program_kind kind);

/* 1 once SIGTERM arrived (only an SP_PROGRAM_SERVER catches it). */
int sp_program_stopping(void);

/* FCGX_Init and fr ready for sp_program_accept; logs "<name> ready". 0 ok, -1 failed. */
int sp_program_listen(struct FCGX_Request *fr);

/*
 * Waits for the next request (sending pending counts while idle) and
 * accepts it into fr, finishing the previous one. -1: SIGTERM arrived or
 * the listening socket failed; leave the loop and call sp_program_stop.
 */
int sp_program_accept(struct FCGX_Request *fr);

/* The end of a server: logs "<name> stopping", sends the last counts, closes MariaDB and Redis. */
void sp_program_stop(void);

#endif
