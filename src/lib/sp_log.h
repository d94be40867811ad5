/*
 * Structured logging: one JSON object per line on stderr (the web server's
 * error log for FastCGI programs). Never pass a secret or a password here.
 */
#ifndef SP_LOG_H
#define SP_LOG_H

enum sp_log_level { SP_LOG_DEBUG, SP_LOG_INFO, SP_LOG_WARN, SP_LOG_ERROR };

void sp_log_init(const char *program, const char *level);
/*
 * Sends log lines to path (opened O_APPEND, so rotation by copytruncate and
 * concurrent writers are safe) instead of stderr; NULL or "" keeps stderr.
 */
int sp_log_file(const char *path);
/* msg is free text; kv is an optional pre-built JSON fragment ("\"k\":1,...") or NULL. */
void sp_log(enum sp_log_level lvl, const char *msg, const char *kv);
void sp_logf(enum sp_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sp_log_program(void);

#define sp_warn(...)  sp_logf(SP_LOG_WARN, __VA_ARGS__)
#define sp_error(...) sp_logf(SP_LOG_ERROR, __VA_ARGS__)
#define sp_info(...)  sp_logf(SP_LOG_INFO, __VA_ARGS__)

#endif
