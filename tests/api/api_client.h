/*
 * The API tests' HTTP client and shared helpers: one request with method,
 * path, headers and body; the status, headers and parsed JSON back; checks
 * that report the request and what came back when they fail; JSON and time
 * helpers; users, subscriptions and stream starts; direct reads of MariaDB
 * through libsp; and the stack's Redis, worker and sp-admin.
 */
#ifndef API_CLIENT_H
#define API_CLIENT_H

#include <stddef.h>

#include <CUnit/CUnit.h>
#include <json-c/json.h>

#define API_MAX_HEADERS 64

typedef struct api_header {
	char *name;
	char *value;
} api_header;

typedef struct api_resp {
	long status;     /* 0 when the transfer failed */
	char method[16]; /* what was asked, for failure messages */
	char path[256];
	char *body; /* always NUL-terminated */
	size_t body_len;
	api_header headers[API_MAX_HEADERS];
	int n_headers;
	json_object *json; /* parsed body, NULL when it is not JSON */
	char curl_error[256];
} api_resp;

/* A request. headers: NULL-terminated "Name: value" lines. Unless the caller
 * passes its own, the client adds a fresh "X-Forwarded-For: 198.18.x.y" and,
 * for a body, "Content-Type: application/json". "Name:" removes a header. */
typedef struct api_req {
	const char *method;
	const char *path;  /* "/api/v1/..." or an absolute URL */
	const char *token; /* Authorization: Bearer token, when not NULL */
	const char *const *headers;
	const char *body;  /* NULL: no body */
	size_t body_len;   /* 0: strlen(body) */
	const char *iface; /* local source address (CURLOPT_INTERFACE) */
	int no_xff;        /* 1: send no X-Forwarded-For at all */
	int no_length;     /* 1: a POST/PUT without a body sends no Content-Length */
} api_req;

/* Global setup from the environment; 0 when SP_TEST_BASE is usable. */
int api_init(void);
void api_cleanup(void);
const char *api_base(void);

/* Performs the request; resp is always filled (status 0 on transport error). */
long api_do(api_resp *resp, const api_req *req);
/* Shorthands. */
long api_get(api_resp *resp, const char *path, const char *token);
long api_send(api_resp *resp, const char *method, const char *path, const char *token,
              const char *json_body);
void api_free(api_resp *resp);
/* GET path (or absolute URL) without a token; the status only. */
long api_get_status(const char *path);

/* A new fake client address "198.18.x.y" (one per call) into out (>= 32 bytes). */
void api_fresh_ip(char *out, size_t n);
/* libcurl write callback appending to an api_resp's body (ud), for requests made by hand. */
size_t api_on_body(char *p, size_t sz, size_t nm, void *ud);

/* A growing byte buffer, NUL-terminated once written to. */
typedef struct api_buf {
	char *data;
	size_t len;
} api_buf;
/* libcurl write callback appending to an api_buf (ud), for requests made by hand. */
size_t api_buf_write(char *p, size_t sz, size_t nm, void *ud);

/* The value of a response header (case-insensitive name), NULL if absent. */
const char *api_hdr(const api_resp *r, const char *name);
/* JSON at a dotted path ("data.user.email"; "errors.0.field"), NULL if absent. */
json_object *api_jget(json_object *o, const char *path);
const char *api_jstr(json_object *o, const char *path);
/* 1 when the path exists and holds JSON null. */
int api_jnull(json_object *o, const char *path);
/* The set of errors[].field values as "a,b,c" (in order) into out. */
void api_error_fields(const api_resp *r, char *out, size_t n);
/* 1 when errors[] names field. */
int api_has_error_field(const api_resp *r, const char *field);

/* The value at path as an integer; -1 when absent or not a JSON integer. */
long long api_jint(json_object *o, const char *path);
/* 1 true, 0 false, -1 when absent or not a JSON boolean. */
int api_jbool(json_object *o, const char *path);
/* The length of the array at path; 0 when absent or not an array. */
size_t api_jlen(json_object *o, const char *path);
/* 1 when path exists and holds JSON of type t. */
int api_jtype(json_object *o, const char *path, json_type t);
/* 1 when s is one or more ASCII digits and nothing else. */
int api_all_digits(const char *s);
/* 1 when s is an ISO time with milliseconds, "2025-01-08T10:30:00.000Z". */
int api_is_iso_ms(const char *s);
/* That ISO time as Unix milliseconds; -1 when s is not of that shape. */
long long api_iso_ms(const char *s);
/* The start of r's body with control bytes as '.', for failure messages; returns out. */
const char *api_excerpt(const api_resp *r, char *out, size_t n);

/* ---------------------------------------------------------------- time */

/* Monotonic clock in seconds. */
double api_now_s(void);
/* Sleeps s seconds (nothing when s <= 0). */
void api_sleep_s(double s);

/* Records a CUnit assertion with a formatted message (copied). */
void api_assert(int ok, int line, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks with the request and the response in the failure message. */
void api_check_status(const api_resp *r, long want, const char *file, int line);
/* status, JSON error envelope {success:false, code, message, errors[]} and code. */
void api_check_error(const api_resp *r, long want, const char *code, const char *file, int line);
/* status and success envelope {success:true, data:{...}}. */
void api_check_ok(const api_resp *r, long want, const char *file, int line);
void api_check_header(const api_resp *r, const char *name, const char *want, const char *file,
                      int line);
/* The contract's security and rate-limit headers, and no versioned Server banner. */
void api_check_common_headers(const api_resp *r, const char *file, int line);

#define EXPECT_STATUS(r, st)         api_check_status(&(r), (st), __FILE__, __LINE__)
#define EXPECT_ERROR(r, st, code)    api_check_error(&(r), (st), (code), __FILE__, __LINE__)
#define EXPECT_OK(r, st)             api_check_ok(&(r), (st), __FILE__, __LINE__)
#define EXPECT_HEADER(r, name, want) api_check_header(&(r), (name), (want), __FILE__, __LINE__)
#define EXPECT_COMMON_HEADERS(r)     api_check_common_headers(&(r), __FILE__, __LINE__)
#define EXPECT(cond, ...)            api_assert((cond) ? 1 : 0, __LINE__, __FILE__, __VA_ARGS__)
#define EXPECT_STR(got, want)        api_check_str((got), (want), #got, __FILE__, __LINE__)

void api_check_str(const char *got, const char *want, const char *what, const char *file, int line);
int api_streq(const char *a, const char *b);
/* Frees the failure messages kept for CUnit (after CU_cleanup_registry). */
void api_free_kept(void);

/* ---------------------------------------------------------------- users */

typedef struct api_user {
	char name[64];
	char email[128];
	char password[80];
	char id[24];
	char *token;   /* access token of the last sign-in (malloc'd) */
	char *refresh; /* its refresh token (malloc'd) */
} api_user;

/* A unique e-mail "prefix-RUN-N@example.com" into out. */
void api_unique_email(char *out, size_t n, const char *prefix);
/* POST /auth/login with this e-mail and password; the status. */
long api_login(api_resp *r, const char *email, const char *password);
/* Registers a fresh user (201 expected); 0 ok. Fills id, token, refresh. */
int api_user_register(api_user *u, const char *prefix);
/* Signs in again (200 expected); replaces token and refresh. 0 ok. */
int api_user_login(api_user *u);
void api_user_free(api_user *u);
/* Signs in the stack's admin (SP_ADMIN_EMAIL / SP_ADMIN_PASSWORD); 0 ok. Fills
 * email, password, id, token and refresh. */
int api_admin_login(api_user *u);
/* Replaces *dst with a copy of the string at path in r's JSON (NULL if absent). */
void api_take_str(char **dst, const api_resp *r, const char *path);
/* Percent-encodes in into out, all but ASCII letters, digits and the characters in keep. */
void api_pct_encode(const char *in, const char *keep, char *out, size_t n);
/* A unique short token "tag-RUN-N" (the local part of api_unique_email) into out. */
void api_unique_token(char *out, size_t n, const char *tag);
/* Subscribes u to plan (seeded id) with a card, expecting 201; 0 ok. */
int api_subscribe(const api_user *u, int plan);
/* Registers a fresh user and subscribes it to plan, unless plan is 0 or 1 (Free); 0 ok. */
int api_viewer(api_user *u, const char *prefix, int plan);

/* ---------------------------------------------------------------- streaming */

/* The first active title at level (0 Free .. 3 Ultimate) whose renditions include need
 * (expected to exist; 1 when none). */
long long api_title(int level, int need);
/* POST /content/:id/stream from device dev, named name (NULL: "Screen <dev>"), type tv,
 * with quality unless NULL; the status. */
long api_stream_start(api_resp *r, const api_user *u, long long cid, const char *dev,
                      const char *name, const char *quality);
/* api_stream_start expecting 200; the session id (malloc'd) or NULL, and the streamUrl
 * into *url when url is not NULL. */
char *api_stream_start_ok(const api_user *u, long long cid, const char *dev, const char *name,
                          const char *quality, char **url);

/* ---------------------------------------------------------------- database */

/* 0 when MariaDB is reachable with the stack's settings (SP_CONFIG). */
int api_db_ready(void);
/* First cell of a query with one string / one integer / no parameter; -1 on error or no row. */
long long api_db_ll_s(const char *sql, const char *s);
long long api_db_ll_l(const char *sql, long long v);
long long api_db_ll(const char *sql);
/* First cell as a malloc'd string (NULL on error, no row or SQL NULL). */
char *api_db_str_s(const char *sql, const char *s);
char *api_db_str_l(const char *sql, long long v);
/* Rows in the outbox for user uid with event type type; -1 on error. */
long long api_outbox_count(const char *uid, const char *type);
/* Runs SQL text that cannot be prepared (DDL such as CREATE TRIGGER; several
 * statements allowed) with the stack's database user; 0 ok, else err is set. */
int api_db_script(const char *sql, char *err, size_t errlen);

/* ---------------------------------------------------------------- stack */

/* "$SP_DEV" stop|start redis (SP_STACK=test in the environment); 0 ok. */
int api_redis_stop(void);
int api_redis_start(void);
/* Restarts Redis if a test stopped it and did not bring it back. */
void api_redis_ensure_started(void);
/* The "redis" state GET /ready reports ("up", "down"; "?" when it did not answer 200). */
const char *api_ready_redis(void);
/* Starts Redis and waits until /ready reports it up, plus the programs' one-second
 * reconnect pause; failures are recorded. */
void api_redis_start_and_wait(void);
/* "$SP_DEV" worker ARGS when tool is "worker", else the stack's sp-admin ARGS; the
 * exit status as system() returns it, -1 when SP_DEV is unusable. */
int api_run_tool(const char *tool, const char *args);
/* Runs a shell command made from fmt; its exit status (-1 when it did not exit). */
int api_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * "$SP_DEV" worker JOB [--now NOW] with extra environment env ("A=1 B=2",
 * or NULL), its log lines (stderr) into *log (malloc'd, "" when none); the
 * exit status.
 */
int api_run_worker(const char *env, const char *job, const char *now, char **log);
/* "$SP_DEV" stop|start redis|mariadb|web, with extra environment assignments
 * ("SP_SECTION_KEY=value" strings that outlive the call, NULL-terminated, or
 * NULL) for that command only; 0 ok. */
int api_dev_service(const char *action, const char *service, const char *const *env);

/* Suites. */
int api_suite_auth(void);
int api_suite_http(void);
int api_suite_plans(void);
int api_suite_subscriptions(void);
int api_suite_users(void);
int api_suite_content(void);
int api_suite_stream(void);
int api_suite_media(void);
int api_suite_deploy(void);
int api_suite_history(void);
int api_suite_jobs(void);
int api_suite_mail(void);
int api_suite_webhooks(void);
int api_suite_lifecycle(void);
int api_suite_downloads(void);
int api_suite_parental(void);
int api_suite_admin(void);
int api_suite_ops(void);

#endif
