/*
 * MariaDB access: one connection per process, reopened after a drop, and
 * prepared statements created once per connection and reused by SQL text.
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <stddef.h>

/*
 * Parameter types for sp_db_query/sp_db_exec, one letter per '?':
 *   s  const char *          (NULL binds SQL NULL)
 *   b  const char *, size_t  binary / length-delimited text
 *   l  long long
 *   i  int
 *   d  double
 */

typedef struct sp_res {
	size_t nrows, ncols;
	char **cells; /* nrows*ncols, NULL for SQL NULL */
	unsigned long *lens;
} sp_res;

/* Runs a SELECT and materializes every row as text. 0 ok, -1 error. */
int sp_db_query(sp_res *res, const char *sql, const char *types, ...);
/* Runs a statement; returns affected rows (>= 0) or -1. */
long long sp_db_exec(const char *sql, const char *types, ...);
unsigned long long sp_db_insert_id(void);
/* The server error number of the last failure (e.g. 1062 duplicate key), 0 if none. */
unsigned sp_db_errno(void);
/* True when the last failure was the connection (503) rather than the statement. */
int sp_db_conn_failed(void);

int sp_db_begin(void);
int sp_db_commit(void);
/* Rolls back the open transaction, if any (a no-op without one). */
void sp_db_rollback(void);
/* 1 while a transaction begun by sp_db_begin is open. */
int sp_db_in_transaction(void);

const char *sp_res_str(const sp_res *res, size_t row, size_t col);
long long sp_res_ll(const sp_res *res, size_t row, size_t col, long long def);
double sp_res_double(const sp_res *res, size_t row, size_t col, double def);
void sp_res_free(sp_res *res);

/* Connects if needed; 0 when a connection is up. */
int sp_db_connect(void);
/* A round trip to the server; 0 when it answers. */
int sp_db_ping(void);
/* Runs SQL text that carries no input (migrations); multi-statement allowed. */
int sp_db_run_script(const char *sql, char *err, size_t errlen);
void sp_db_close(void);

#define SP_ER_DUP_ENTRY         1062
#define SP_ER_NO_REFERENCED_ROW 1452

#endif
