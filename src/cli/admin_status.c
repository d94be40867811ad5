/*
 * sp-admin status: what an operator looks at first — MariaDB and Redis
 * reachable, the outbox backlog, live sessions, the watch-history
 * partitions, the last run of each worker job and the signing keys.
 */
#include "admin_cmds.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_stream.h"
#include "sp_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void add_services(json_object *st)
{
	sp_res res;
	int db = sp_db_query(&res, "SELECT 1", "") == 0;
	json_object *o = json_object_new_object();

	if (db)
		sp_res_free(&res);
	json_object_object_add(o, "mariadb", json_object_new_boolean(db));
	sp_kv_quiet(1);
	json_object_object_add(o, "redis", json_object_new_boolean(sp_kv_ping() == 0));
	json_object_object_add(st, "services", o);
}

/* Pending and failed counts and the oldest of each, for the outbox and webhook deliveries. */
static void add_backlog(json_object *st, const char *name, const char *table)
{
	json_object *o = json_object_new_object();
	char *sql = sp_xasprintf("SELECT status, COUNT(*), TIMESTAMPDIFF(SECOND, MIN(created_at), "
	                         "UTC_TIMESTAMP(3)) FROM %s WHERE status IN ('pending', 'failed') "
	                         "GROUP BY status",
	                         table);
	sp_res res;

	/* table is one of two names written below, never input */
	for (int i = 0; i < 2; i++) {
		json_object *s = json_object_new_object();

		json_object_object_add(s, "count", json_object_new_int64(0));
		json_object_object_add(s, "oldestAgeSeconds", NULL);
		json_object_object_add(o, i == 0 ? "pending" : "failed", s);
	}
	if (sp_db_query(&res, sql, "") == 0) {
		for (size_t i = 0; i < res.nrows; i++) {
			json_object *s;

			if (!json_object_object_get_ex(o, sp_res_str(&res, i, 0), &s))
				continue;
			json_object_object_add(s, "count",
			                       json_object_new_int64(sp_res_ll(&res, i, 1, 0)));
			json_object_object_add(s, "oldestAgeSeconds",
			                       json_object_new_int64(sp_res_ll(&res, i, 2, 0)));
		}
		sp_res_free(&res);
	} else {
		json_object_put(o);
		o = NULL;
	}
	free(sql);
	json_object_object_add(st, name, o);
}

/* The rule of /metrics' sp_stream_sessions_live: sp_stream_live_summary. */
static void add_live(json_object *st)
{
	sp_streamer top[1];
	long long sessions, users;
	size_t n;
	json_object *o = NULL;

	if (sp_stream_live_summary(&sessions, &users, top, 1, &n) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "sessions", json_object_new_int64(sessions));
		json_object_object_add(o, "users", json_object_new_int64(users));
	}
	json_object_object_add(st, "liveSessions", o);
}

/* Every partitioned table's partitions in order, each with its range [from, to). */
static void add_partitions(json_object *st)
{
	json_object *arr = NULL;
	sp_res res;

	if (sp_db_query(
	        &res,
	        "SELECT TABLE_NAME, PARTITION_NAME, REPLACE(PARTITION_DESCRIPTION, '''', ''), "
	        "TABLE_ROWS FROM "
	        "information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND "
	        "PARTITION_NAME IS NOT NULL ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION",
	        "") == 0) {
		arr = json_object_new_array();
		for (size_t i = 0; i < res.nrows; i++) {
			json_object *p = json_object_new_object();
			int first =
			    i == 0 || strcmp(sp_res_str(&res, i, 0) ? sp_res_str(&res, i, 0) : "",
			                     sp_res_str(&res, i - 1, 0) ? sp_res_str(&res, i - 1, 0)
			                                                : "") != 0;

			json_object_object_add(p, "table", jstr(sp_res_str(&res, i, 0)));
			json_object_object_add(p, "partition", jstr(sp_res_str(&res, i, 1)));
			json_object_object_add(p, "from",
			                       first ? NULL : jstr(sp_res_str(&res, i - 1, 2)));
			json_object_object_add(p, "to", jstr(sp_res_str(&res, i, 2)));
			json_object_object_add(p, "rowsEstimate",
			                       json_object_new_int64(sp_res_ll(&res, i, 3, 0)));
			json_object_array_add(arr, p);
		}
		sp_res_free(&res);
	}
	json_object_object_add(st, "partitions", arr);
}

/* Rows of sql (no parameters) as objects named by cols; NULL when MariaDB cannot answer. */
static json_object *rows(const char *sql, const char *const *cols, size_t ncols)
{
	json_object *arr;
	sp_res res;

	if (sp_db_query(&res, sql, "") != 0)
		return NULL;
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++) {
		json_object *o = json_object_new_object();

		for (size_t c = 0; c < ncols && c < res.ncols; c++) {
			const char *v = sp_res_str(&res, i, c);

			/* the one number among the texts */
			json_object_object_add(o, cols[c],
			                       v && strcmp(cols[c], "exitCode") == 0
			                           ? json_object_new_int64(sp_res_ll(&res, i, c, 0))
			                           : jstr(v));
		}
		json_object_array_add(arr, o);
	}
	sp_res_free(&res);
	return arr;
}

static void add_jobs_and_keys(json_object *st)
{
	static const char *const job_cols[] = {"job",        "host",     "startedAt",
	                                       "finishedAt", "exitCode", "state"};
	static const char *const key_cols[] = {"kid", "createdAt", "retireAt", "state"};

	json_object_object_add(
	    st, "jobs",
	    rows("SELECT job, host, DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ'), "
	         "DATE_FORMAT(finished_at, '%Y-%m-%dT%H:%i:%sZ'), exit_code, CASE WHEN finished_at "
	         "IS NULL THEN 'running or killed' WHEN exit_code = 0 THEN 'ok' ELSE 'failed' END "
	         "FROM job_runs ORDER BY job, host",
	         job_cols, 6));
	json_object_object_add(
	    st, "signingKeys",
	    rows(
	        "SELECT kid, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'), DATE_FORMAT(retire_at, "
	        "'%Y-%m-%dT%H:%i:%sZ'), CASE WHEN retire_at IS NULL THEN 'signing' WHEN retire_at "
	        "> "
	        "UTC_TIMESTAMP(3) THEN 'verifying until retireAt' ELSE 'retired' END FROM jwt_keys "
	        "ORDER BY created_at, kid",
	        key_cols, 4));
}

static const char *s_or(json_object *o, const char *key, const char *def)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return def;
	return json_object_get_string(v);
}

/* "N pending (oldest Ss)" without the parenthesis when there is none. */
static void print_count(json_object *o, const char *what)
{
	const char *age = s_or(o, "oldestAgeSeconds", NULL);

	printf("%s %s", s_or(o, "count", "0"), what);
	if (age != NULL)
		printf(" (oldest %ss)", age);
}

static void print_backlog(json_object *st, const char *name, const char *label)
{
	json_object *o, *p = NULL, *f = NULL;

	if (!json_object_object_get_ex(st, name, &o) || o == NULL) {
		printf("%-18s unknown (MariaDB unavailable)\n", label);
		return;
	}
	json_object_object_get_ex(o, "pending", &p);
	json_object_object_get_ex(o, "failed", &f);
	printf("%-18s ", label);
	print_count(p, "pending");
	printf(", ");
	print_count(f, "failed");
	printf("\n");
}

static void print_list(json_object *st, const char *name, const char *title,
                       const char *const *cols, size_t ncols)
{
	json_object *arr;

	printf("%s:\n", title);
	if (!json_object_object_get_ex(st, name, &arr) || arr == NULL) {
		printf("  unknown (MariaDB unavailable)\n");
		return;
	}
	if (json_object_array_length(arr) == 0)
		printf("  (none)\n");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		printf(" ");
		for (size_t c = 0; c < ncols; c++)
			printf(" %s=%s", cols[c], s_or(o, cols[c], "-"));
		printf("\n");
	}
}

static void print_human(json_object *st)
{
	static const char *const part_cols[] = {"table", "partition", "from", "to", "rowsEstimate"};
	static const char *const job_cols[] = {"job", "host", "startedAt", "finishedAt", "state"};
	static const char *const key_cols[] = {"kid", "createdAt", "retireAt", "state"};
	json_object *svc, *live;

	json_object_object_get_ex(st, "services", &svc);
	printf("%-18s %s\n", "MariaDB",
	       json_object_get_boolean(json_object_object_get(svc, "mariadb")) ? "reachable"
	                                                                       : "UNREACHABLE");
	printf("%-18s %s\n", "Redis",
	       json_object_get_boolean(json_object_object_get(svc, "redis")) ? "reachable"
	                                                                     : "UNREACHABLE");
	print_backlog(st, "outbox", "outbox");
	print_backlog(st, "webhookDeliveries", "webhook deliveries");
	json_object_object_get_ex(st, "liveSessions", &live);
	if (live)
		printf("%-18s %s sessions, %s users\n", "live streams", s_or(live, "sessions", "0"),
		       s_or(live, "users", "0"));
	else
		printf("%-18s unknown (MariaDB unavailable)\n", "live streams");
	print_list(st, "partitions", "partitions", part_cols, 5);
	print_list(st, "jobs", "worker jobs (last run)", job_cols, 5);
	print_list(st, "signingKeys", "signing keys (an empty ring: jwt.secret signs, kid 0)",
	           key_cols, 4);
}

/* `status [--json]`: exit 0 when MariaDB and Redis answer, 1 when either does not. */
int cmd_status(int argc, char **argv)
{
	json_object *st = json_object_new_object(), *svc;
	int json = argc > 0 && strcmp(argv[0], "--json") == 0, rc;

	add_services(st);
	add_backlog(st, "outbox", "outbox");
	add_backlog(st, "webhookDeliveries", "webhook_deliveries");
	add_live(st);
	add_partitions(st);
	add_jobs_and_keys(st);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
		                   st, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_human(st);
	json_object_object_get_ex(st, "services", &svc);
	rc = json_object_get_boolean(json_object_object_get(svc, "mariadb")) &&
	             json_object_get_boolean(json_object_object_get(svc, "redis"))
	         ? 0
	         : 1;
	json_object_put(st);
	sp_kv_close();
	return rc;
}
