/*
 * MariaDB access: one connection per process, reopened after a drop, and
 * prepared statements created once per connection and reused by SQL text.
 */
#include "sp_db.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_metrics.h"
#include "sp_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysql.h>
#include <errmsg.h>

#define MAX_BIND   64
#define MAX_CACHED 128

/*
 * Prepared statements by SQL text. The text is copied: a caller may build
 * SQL in a reused buffer, so the caller's pointer alone proves nothing; it
 * only makes the usual case (a string literal) a quick match.
 */
struct cached {
	const char *key; /* the caller's pointer when prepared */
	char *sql;       /* our copy of the text */
	MYSQL_STMT *stmt;
};

static MYSQL *conn;
static struct cached cache[MAX_CACHED];
static size_t n_cached;
static unsigned last_errno;
static int last_conn_failed;
static int in_txn;
static int txn_broken; /* the connection died inside a transaction */
static int64_t last_used_ms;
static int64_t retry_after_ms;
static int connected_before; /* a later connect is a reconnect, counted */

static void drop_connection(void)
{
	for (size_t i = 0; i < n_cached; i++) {
		mysql_stmt_close(cache[i].stmt);
		free(cache[i].sql);
	}
	n_cached = 0;
	if (conn)
		mysql_close(conn);
	conn = NULL;
	if (in_txn)
		txn_broken = 1;
	in_txn = 0;
}

void sp_db_close(void)
{
	drop_connection();
}

static int is_conn_error(unsigned e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONN_HOST_ERROR ||
	       e == CR_CONNECTION_ERROR || e == CR_SERVER_LOST_EXTENDED || e == 1927 /* killed */ ||
	       e == 1053 /* shutdown in progress */ || e == CR_COMMANDS_OUT_OF_SYNC;
}

int sp_db_connect(void)
{
	unsigned int timeout = 3, rw_timeout = 10;
	const char *sock;
	int64_t now = sp_now_ms();

	if (conn)
		return 0;
	/* after a failed connect, do not hammer a server that is down */
	if (now < retry_after_ms) {
		last_conn_failed = 1;
		return -1;
	}
	conn = mysql_init(NULL);
	if (conn == NULL)
		return -1;
	mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(conn, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	sock = sp_cfg.db_socket && *sp_cfg.db_socket ? sp_cfg.db_socket : NULL;
	if (!mysql_real_connect(conn, sock ? "localhost" : sp_cfg.db_host, sp_cfg.db_user,
	                        sp_cfg.db_password, sp_cfg.db_name, (unsigned)sp_cfg.db_port, sock,
	                        0)) {
		sp_warn("mariadb connect failed (errno %u)", mysql_errno(conn));
		mysql_close(conn);
		conn = NULL;
		last_conn_failed = 1;
		retry_after_ms = now + 250;
		return -1;
	}
	last_used_ms = now;
	if (connected_before)
		sp_metrics_inc_now("sp_db_reconnects_total");
	connected_before = 1;
	return 0;
}

int sp_db_ping(void)
{
	if (sp_db_connect() != 0)
		return -1;
	if (mysql_ping(conn) != 0) {
		drop_connection();
		if (sp_db_connect() != 0 || mysql_ping(conn) != 0) {
			drop_connection();
			return -1;
		}
	}
	return 0;
}

/*
 * A connection idle for a while may have been closed by the server or by a
 * restart; check it before use so the first request afterwards succeeds.
 */
static int ensure_conn(void)
{
	int64_t now = sp_now_ms();

	if (conn && !in_txn && now - last_used_ms > 2000) {
		if (mysql_ping(conn) != 0)
			drop_connection();
	}
	if (sp_db_connect() != 0)
		return -1;
	last_used_ms = now;
	return 0;
}

static MYSQL_STMT *get_stmt(const char *sql)
{
	MYSQL_STMT *st;

	for (size_t i = 0; i < n_cached; i++)
		if (cache[i].key == sql && strcmp(cache[i].sql, sql) == 0)
			return cache[i].stmt;
	for (size_t i = 0; i < n_cached; i++)
		if (strcmp(cache[i].sql, sql) == 0)
			return cache[i].stmt;
	st = mysql_stmt_init(conn);
	if (st == NULL)
		return NULL;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		last_errno = mysql_stmt_errno(st);
		sp_error("prepare failed (errno %u): %s", last_errno, mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	if (n_cached == MAX_CACHED) {
		/* full: the oldest statement makes room (none is in use between calls) */
		mysql_stmt_close(cache[0].stmt);
		free(cache[0].sql);
		memmove(&cache[0], &cache[1], (MAX_CACHED - 1) * sizeof cache[0]);
		n_cached--;
	}
	cache[n_cached].key = sql;
	cache[n_cached].sql = sp_xstrdup(sql);
	cache[n_cached].stmt = st;
	n_cached++;
	return st;
}

struct params {
	MYSQL_BIND bind[MAX_BIND];
	long long ll[MAX_BIND];
	int iv[MAX_BIND];
	double dv[MAX_BIND];
	unsigned long len[MAX_BIND];
	my_bool null[MAX_BIND];
	int n;
};

static int bind_params(struct params *p, const char *types, va_list ap)
{
	memset(p, 0, sizeof *p);
	for (const char *t = types ? types : ""; *t; t++) {
		int i = p->n++;
		MYSQL_BIND *b;
		if (i >= MAX_BIND)
			return -1;
		b = &p->bind[i];
		switch (*t) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			b->buffer_type = MYSQL_TYPE_STRING;
			if (s == NULL) {
				p->null[i] = 1;
				b->is_null = &p->null[i];
			} else {
				b->buffer = (void *)s;
				p->len[i] = strlen(s);
				b->buffer_length = p->len[i];
				b->length = &p->len[i];
			}
			break;
		}
		case 'b': {
			const char *s = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);
			b->buffer_type = MYSQL_TYPE_STRING;
			b->buffer = (void *)s;
			p->len[i] = n;
			b->buffer_length = n;
			b->length = &p->len[i];
			break;
		}
		case 'l':
			p->ll[i] = va_arg(ap, long long);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->ll[i];
			break;
		case 'i':
			p->iv[i] = va_arg(ap, int);
			b->buffer_type = MYSQL_TYPE_LONG;
			b->buffer = &p->iv[i];
			break;
		case 'd':
			p->dv[i] = va_arg(ap, double);
			b->buffer_type = MYSQL_TYPE_DOUBLE;
			b->buffer = &p->dv[i];
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static void forget_stmt(MYSQL_STMT *st)
{
	for (size_t i = 0; i < n_cached; i++) {
		if (cache[i].stmt == st) {
			mysql_stmt_close(st);
			free(cache[i].sql);
			cache[i] = cache[--n_cached];
			return;
		}
	}
}

static int fetch_all(MYSQL_STMT *st, sp_res *res)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	MYSQL_BIND *binds = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL;
	MYSQL_FIELD *fields;
	size_t ncols, cap = 0;
	int rc = -1;
	my_bool update_max = 1;

	if (meta == NULL)
		return 0;
	ncols = mysql_num_fields(meta);
	fields = mysql_fetch_fields(meta);
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
	if (mysql_stmt_store_result(st) != 0)
		goto out;
	binds = sp_xcalloc(ncols, sizeof *binds);
	lens = sp_xcalloc(ncols, sizeof *lens);
	nulls = sp_xcalloc(ncols, sizeof *nulls);
	for (size_t c = 0; c < ncols; c++) {
		unsigned long sz = fields[c].max_length;
		if (sz < 64)
			sz = 64;
		binds[c].buffer_type = MYSQL_TYPE_STRING;
		binds[c].buffer = sp_xmalloc(sz + 1);
		binds[c].buffer_length = sz + 1;
		binds[c].length = &lens[c];
		binds[c].is_null = &nulls[c];
	}
	if (mysql_stmt_bind_result(st, binds) != 0)
		goto out;
	res->ncols = ncols;
	for (;;) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1)
			goto out;
		if (res->nrows == cap) {
			cap = cap ? cap * 2 : 8;
			res->cells = sp_xrealloc(res->cells, cap * ncols * sizeof(char *));
			res->lens = sp_xrealloc(res->lens, cap * ncols * sizeof(unsigned long));
		}
		for (size_t c = 0; c < ncols; c++) {
			size_t k = res->nrows * ncols + c;
			if (nulls[c]) {
				res->cells[k] = NULL;
				res->lens[k] = 0;
			} else {
				unsigned long l = lens[c];
				if (l >= binds[c].buffer_length)
					l = binds[c].buffer_length - 1;
				res->cells[k] = sp_xstrndup(binds[c].buffer, l);
				res->lens[k] = l;
			}
		}
		res->nrows++;
	}
	rc = 0;
out:
	if (binds)
		for (size_t c = 0; c < ncols; c++)
			free(binds[c].buffer);
	free(binds);
	free(lens);
	free(nulls);
	mysql_stmt_free_result(st);
	mysql_free_result(meta);
	return rc;
}

static int run(sp_res *res, long long *affected, const char *sql, const char *types, va_list ap)
{
	struct params p;
	MYSQL_STMT *st;
	int attempt = 0;
	int is_read = strncasecmp(sql, "SELECT", 6) == 0;

	last_errno = 0;
	last_conn_failed = 0;
	if (res)
		memset(res, 0, sizeof *res);
	if (txn_broken) {
		/* never let later statements of a lost transaction autocommit */
		last_conn_failed = 1;
		return -1;
	}
	if (bind_params(&p, types, ap) != 0) {
		sp_error("bad parameter types for statement");
		return -1;
	}
again:
	if (ensure_conn() != 0) {
		last_conn_failed = 1;
		return -1;
	}
	st = get_stmt(sql);
	if (st == NULL) {
		if (last_errno == 0 || is_conn_error(last_errno) ||
		    is_conn_error(mysql_errno(conn)))
			goto conn_lost;
		return -1;
	}
	if ((unsigned long)p.n != mysql_stmt_param_count(st)) {
		sp_error("statement wants %lu parameters, %d given", mysql_stmt_param_count(st),
		         p.n);
		return -1;
	}
	if ((p.n && mysql_stmt_bind_param(st, p.bind) != 0) || mysql_stmt_execute(st) != 0) {
		last_errno = mysql_stmt_errno(st);
		if (is_conn_error(last_errno))
			goto conn_lost;
		if (last_errno != SP_ER_DUP_ENTRY)
			sp_error("statement failed (errno %u): %s", last_errno,
			         mysql_stmt_error(st));
		mysql_stmt_reset(st);
		return -1;
	}
	if (res) {
		if (fetch_all(st, res) != 0) {
			last_errno = mysql_stmt_errno(st);
			sp_res_free(res);
			if (is_conn_error(last_errno))
				goto conn_lost;
			forget_stmt(st);
			return -1;
		}
	} else {
		if (affected)
			*affected = (long long)mysql_stmt_affected_rows(st);
		/* a statement that returned rows anyway must be drained */
		mysql_stmt_free_result(st);
	}
	return 0;

conn_lost:
	/*
	 * The connection is gone. A read outside a transaction is safe to retry
	 * once on a fresh connection; a write or a transaction is not (it may
	 * have been applied), so the caller answers 503.
	 */
	{
		int was_txn = in_txn;
		sp_warn("mariadb connection lost (errno %u)", last_errno);
		drop_connection();
		last_conn_failed = 1;
		if (is_read && !was_txn && attempt++ == 0)
			goto again;
	}
	return -1;
}

int sp_db_query(sp_res *res, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = run(res, NULL, sql, types, ap);
	va_end(ap);
	return rc;
}

long long sp_db_exec(const char *sql, const char *types, ...)
{
	va_list ap;
	long long affected = 0;
	int rc;

	va_start(ap, types);
	rc = run(NULL, &affected, sql, types, ap);
	va_end(ap);
	return rc == 0 ? affected : -1;
}

unsigned long long sp_db_insert_id(void)
{
	return conn ? mysql_insert_id(conn) : 0;
}

unsigned sp_db_errno(void)
{
	return last_errno;
}

int sp_db_conn_failed(void)
{
	return last_conn_failed;
}

int sp_db_begin(void)
{
	last_conn_failed = 0;
	txn_broken = 0;
	if (ensure_conn() != 0) {
		last_conn_failed = 1;
		return -1;
	}
	if (mysql_query(conn, "START TRANSACTION") != 0) {
		last_errno = mysql_errno(conn);
		drop_connection();
		last_conn_failed = 1;
		return -1;
	}
	in_txn = 1;
	return 0;
}

int sp_db_commit(void)
{
	if (txn_broken) {
		txn_broken = 0;
		last_conn_failed = 1;
		return -1;
	}
	if (conn == NULL || !in_txn)
		return -1;
	in_txn = 0;
	if (mysql_commit(conn) != 0) {
		last_errno = mysql_errno(conn);
		last_conn_failed = 1;
		drop_connection();
		return -1;
	}
	return 0;
}

void sp_db_rollback(void)
{
	txn_broken = 0;
	if (conn == NULL || !in_txn)
		return;
	in_txn = 0;
	if (mysql_rollback(conn) != 0)
		drop_connection();
}

int sp_db_in_transaction(void)
{
	return in_txn;
}

const char *sp_res_str(const sp_res *res, size_t row, size_t col)
{
	if (row >= res->nrows || col >= res->ncols)
		return NULL;
	return res->cells[row * res->ncols + col];
}

long long sp_res_ll(const sp_res *res, size_t row, size_t col, long long def)
{
	const char *s = sp_res_str(res, row, col);

	return s ? strtoll(s, NULL, 10) : def;
}

double sp_res_double(const sp_res *res, size_t row, size_t col, double def)
{
	const char *s = sp_res_str(res, row, col);

	return s ? strtod(s, NULL) : def;
}

void sp_res_free(sp_res *res)
{
	for (size_t i = 0; i < res->nrows * res->ncols; i++)
		free(res->cells[i]);
	free(res->cells);
	free(res->lens);
	memset(res, 0, sizeof *res);
}

int sp_db_run_script(const char *sql, char *err, size_t errlen)
{
	int status;

	/* like a statement: an idle connection is checked first (MariaDB may have restarted) */
	if (ensure_conn() != 0) {
		snprintf(err, errlen, "cannot connect to MariaDB");
		return -1;
	}
	mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_ON);
	/* migration files are trusted text shipped with the program, never input */
	if (mysql_real_query(conn, sql, strlen(sql)) != 0) {
		snprintf(err, errlen, "%s", mysql_error(conn));
		mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
		return -1;
	}
	do {
		MYSQL_RES *r = mysql_store_result(conn);
		if (r)
			mysql_free_result(r);
		status = mysql_next_result(conn);
		if (status > 0) {
			snprintf(err, errlen, "%s", mysql_error(conn));
			mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
			return -1;
		}
	} while (status == 0);
	mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
	return 0;
}
