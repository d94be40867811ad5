/*
 * Structured logging: one JSON object per line on stderr, written with a
 * single write(2) so lines from concurrent processes never interleave.
 */
#include "sp_log.h"
#include "sp_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static const char *prog = "sp";
static enum sp_log_level min_level = SP_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};
static int log_fd = STDERR_FILENO;
static int pid;

int sp_log_file(const char *path)
{
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void sp_log_init(const char *program, const char *level)
{
	prog = program;
	if (level == NULL)
		return;
	for (int i = 0; i < 4; i++)
		if (strcmp(level, names[i]) == 0)
			min_level = (enum sp_log_level)i;
}

const char *sp_log_program(void)
{
	return prog;
}

void sp_log(enum sp_log_level lvl, const char *msg, const char *kv)
{
	char ts[32];
	sp_buf b;

	if (lvl < min_level)
		return;
	sp_buf_init(&b);
	sp_iso8601(sp_now_ms(), ts);
	if (pid == 0)
		pid = (int)getpid();
	sp_buf_addf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"%s\",\"pid\":%d", ts,
	            names[lvl], prog, pid);
	if (msg) {
		sp_buf_adds(&b, ",\"msg\":\"");
		sp_buf_add_json_escaped(&b, msg, strlen(msg));
		sp_buf_adds(&b, "\"");
	}
	if (kv && *kv) {
		sp_buf_adds(&b, ",");
		sp_buf_adds(&b, kv);
	}
	sp_buf_adds(&b, "}\n");
	ssize_t w = write(log_fd, b.data, b.len);
	(void)w;
	sp_buf_free(&b);
}

void sp_logf(enum sp_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sp_log(lvl, msg, NULL);
}
