/*
 * API tests of how the stack is deployed: backing services reachable by the
 * stack's own user only, a deployment without a payment provider never
 * granting a paid plan, and programs (the media authorizer too) that stop
 * with the web server. Some restart a server of the stack, some with other
 * settings.
 */
#include "api_client.h"

#include "sp_config.h"
#include "sp_db.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define API "/api/v1"

/* 1 when a Unix-domain connect to path succeeds in the calling process. */
static int unix_connects(const char *path)
{
	struct sockaddr_un a;
	int fd, ok;

	if (path == NULL || strlen(path) >= sizeof a.sun_path)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, path, strlen(path));
	ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/* The first line after the first of `redis-cli -s SOCKET args` into out. */
static int redis_cli_second_line(const char *args, char *out, size_t n)
{
	char cmd[1200], line[256];
	FILE *p;
	int i = 0;

	snprintf(cmd, sizeof cmd, "redis-cli -s '%s' %s 2>&1", sp_cfg.redis_socket, args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof line, p)) {
		if (i++ == 1) {
			size_t l = strcspn(line, "\r\n");
			if (l >= n)
				l = n - 1;
			memcpy(out, line, l);
			out[l] = '\0';
		}
	}
	return pclose(p) == 0 ? 0 : -1;
}

static void test_mariadb_and_redis_listen_on_no_tcp_port(void)
{
	char port[64];

	EXPECT(api_db_ready() == 0, "the stack's MariaDB is reachable through its socket");
	EXPECT(api_db_ll("SELECT @@skip_networking") == 1,
	       "MariaDB must run with skip_networking (no TCP listener): @@skip_networking = %lld",
	       api_db_ll("SELECT @@skip_networking"));
	EXPECT(redis_cli_second_line("CONFIG GET port", port, sizeof port) == 0 &&
	           strcmp(port, "0") == 0,
	       "Redis must listen on no TCP port: CONFIG GET port answered '%s'", port);
}

/*
 * Another local user (nobody) must not reach either server: the sockets sit
 * in the stack's 0700 directory. Meaningful only when the tests run as root,
 * which can become nobody; otherwise the directory check stands alone.
 */
static void test_other_local_users_cannot_reach_mariadb_or_redis(void)
{
	pid_t pid;
	int status = 0;

	EXPECT(sp_cfg.db_socket[0] && sp_cfg.redis_socket[0],
	       "the stack's programs use Unix sockets (db.socket '%s', redis.socket '%s')",
	       sp_cfg.db_socket, sp_cfg.redis_socket);
	EXPECT(unix_connects(sp_cfg.db_socket) && unix_connects(sp_cfg.redis_socket),
	       "the stack's own user reaches both sockets");
	if (getuid() != 0) {
		fprintf(stderr, "api: not root, cannot act as another local user; skipped\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		int reached = 0;
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		reached |= unix_connects(sp_cfg.db_socket) ? 1 : 0;
		reached |= unix_connects(sp_cfg.redis_socket) ? 2 : 0;
		_exit(reached);
	}
	EXPECT(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status),
	       "the probe as user nobody ran");
	EXPECT(WEXITSTATUS(status) != 100, "the probe could become user nobody");
	EXPECT((WEXITSTATUS(status) & 1) == 0, "user nobody connected to MariaDB's socket %s",
	       sp_cfg.db_socket);
	EXPECT((WEXITSTATUS(status) & 2) == 0, "user nobody connected to Redis's socket %s",
	       sp_cfg.redis_socket);
}

/* Restarts the web server (and with it every program) with extra settings. */
static int restart_web(const char *const *env)
{
	if (api_dev_service("stop", "web", NULL) != 0)
		return -1;
	return api_dev_service("start", "web", env);
}

static void test_paid_subscribe_without_payment_provider_is_503_and_writes_nothing(void)
{
	static const char *const none[] = {"SP_PAYMENT_PROVIDER=none", NULL};
	api_user u = {0};
	api_resp r = {0};
	long long subs, events;
	const char *txn;

	EXPECT(restart_web(none) == 0, "web server restarted with payment.provider = none");
	if (api_user_register(&u, "nopay") != 0)
		goto out;

	api_send(&r, "POST", API "/subscriptions/subscribe", u.token,
	         "{\"planId\":\"2\",\"paymentMethod\":\"card\"}");
	EXPECT_ERROR(r, 503, "SERVICE_UNAVAILABLE");
	api_free(&r);
	subs = api_db_ll_l("SELECT COUNT(*) FROM subscriptions WHERE user_id = ?", atoll(u.id));
	events = api_db_ll_l("SELECT COUNT(*) FROM outbox WHERE user_id = ? AND event_type LIKE "
	                     "'subscription.%'",
	                     atoll(u.id));
	EXPECT(subs == 0, "no subscription row written without a payment provider (%lld)", subs);
	EXPECT(events == 0, "no subscription event written without a payment provider (%lld)",
	       events);
	api_get(&r, API "/subscriptions/status", u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jnull(r.json, "data.subscription"), "still no subscription: %.300s", r.body);
	api_free(&r);

	/* a free plan needs no provider */
	api_send(&r, "POST", API "/subscriptions/subscribe", u.token,
	         "{\"planId\":\"1\",\"paymentMethod\":\"card\"}");
	EXPECT_OK(r, 201);
	txn = api_jstr(r.json, "data.subscription.paymentDetails.transactionId");
	EXPECT(txn && strncmp(txn, "free_", 5) == 0, "a free plan's transaction id: %.300s",
	       r.body);
	api_free(&r);
out:
	api_user_free(&u);
	EXPECT(restart_web(NULL) == 0, "web server restarted with the stack's settings");
}

static void test_unknown_payment_provider_is_refused_at_start(void)
{
	char cmd[1200], err[256] = "";
	FILE *p;
	const char *bin = getenv("SP_DEV");
	int rc;

	/* sp-admin loads the same settings as every program */
	EXPECT(bin != NULL, "SP_DEV is set");
	if (bin == NULL)
		return;
	snprintf(cmd, sizeof cmd,
	         "cd \"$(dirname '%s')/..\" && SP_PAYMENT_PROVIDER=free-for-all ./sp-admin migrate "
	         "--dir sql/migrations 2>&1",
	         bin);
	p = popen(cmd, "r");
	if (p == NULL)
		return;
	while (fgets(err, sizeof err, p) && strstr(err, "payment.provider") == NULL)
		;
	rc = pclose(p);
	EXPECT(rc != 0, "a program with payment.provider = free-for-all must refuse to start");
	EXPECT(strstr(err, "payment.provider") != NULL, "the refusal names the key: %s", err);
}

/* The pid in the file run/NAME next to the stack's config; 0 if none. */
static long run_pid(const char *conf, const char *name)
{
	char path[1200];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof path, "%.*s/run/%s", (int)(strrchr(conf, '/') - conf), conf, name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/*
 * The pids that start the stack's programs: lighttpd (run/lighttpd.pid),
 * whose children they are, or under Apache each program's multiwatch
 * (run/fcgi-<area>.pid). Returns how many, at most max.
 */
static size_t program_parents(const char *conf, long *out, size_t max)
{
	char dir[1200];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if ((out[0] = run_pid(conf, "lighttpd.pid")) > 0)
		n = 1;
	snprintf(dir, sizeof dir, "%.*s/run", (int)(strrchr(conf, '/') - conf), conf);
	if ((d = opendir(dir)) == NULL)
		return n;
	while ((e = readdir(d)) != NULL && n < max) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "fcgi-", 5) == 0 && l > 4 &&
		    strcmp(e->d_name + l - 4, ".pid") == 0 &&
		    (out[n] = run_pid(conf, e->d_name)) > 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * The pids of the web server's programs: the children of the processes
 * that start them (program_parents). Returns how many, at most max.
 */
static size_t web_children(pid_t *out, size_t max)
{
	char path[1200], line[512];
	const char *conf = getenv("SP_CONFIG");
	size_t n = 0, np;
	long parents[32];
	FILE *f;
	DIR *d;
	struct dirent *e;

	if (conf == NULL || strrchr(conf, '/') == NULL)
		return 0;
	np = program_parents(conf, parents, 32);
	if (np == 0 || (d = opendir("/proc")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		long ppid = 0;
		char *p;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		/* "pid (comm) state ppid": comm may hold spaces, so read after its ')' */
		if (fgets(line, sizeof line, f) && (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1)
			for (size_t i = 0; i < np; i++)
				if (ppid == parents[i]) {
					out[n++] = (pid_t)atol(e->d_name);
					break;
				}
		fclose(f);
	}
	closedir(d);
	return n;
}

/* 1 while pid runs (a zombie waiting for its reaper has stopped). */
static int running(pid_t pid)
{
	char path[64], line[512], *p;
	int alive = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof line, f) && (p = strrchr(line, ')')) != NULL)
		alive = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

/*
 * Stops the web server and waits up to 5 s for pids to end; those still
 * running then are killed (the test started them: leave nothing behind).
 * Returns how many had to be killed.
 */
static size_t stop_web_and_wait(const pid_t *pids, size_t n)
{
	size_t left = 0;

	EXPECT(api_dev_service("stop", "web", NULL) == 0, "web server stopped");
	for (int wait = 0; wait < 50; wait++) {
		left = 0;
		for (size_t i = 0; i < n; i++)
			left += running(pids[i]) ? 1 : 0;
		if (left == 0)
			break;
		usleep(100 * 1000);
	}
	for (size_t i = 0; i < n; i++)
		if (running(pids[i]))
			kill(pids[i], SIGKILL);
	return left;
}

/*
 * Stopping the web server stops its programs, even while Redis is away and
 * their request counts wait to be sent (they used to keep waiting for Redis
 * and outlive the stop).
 */
static void test_programs_stop_with_the_web_server_while_redis_is_away(void)
{
	static const char *const paths[] = {API "/health", API "/content",
	                                    API "/subscriptions/plans", API "/auth/me",
	                                    API "/stream/sessions"};
	pid_t kids[64];
	size_t n, left = 0;
	api_resp r = {0};

	n = web_children(kids, 64);
	EXPECT(n >= 5, "found the web server's programs (%zu)", n);
	EXPECT(api_dev_service("stop", "redis", NULL) == 0, "Redis stopped");
	for (int round = 0; round < 4; round++)
		for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
			api_get(&r, paths[i], NULL);
			api_free(&r);
		}
	left = stop_web_and_wait(kids, n);
	EXPECT(left == 0, "%zu of %zu programs still run 5 s after the web server stopped", left,
	       n);
	EXPECT(api_dev_service("start", "redis", NULL) == 0, "Redis started again");
	EXPECT(api_dev_service("start", "web", NULL) == 0, "web server started again");
}

/* 1 when pid runs the program named comm (as /proc/PID/comm gives it). */
static int is_program(pid_t pid, const char *comm)
{
	char path[64], line[64];
	FILE *f;
	int yes = 0;

	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof line, f))
		yes = strncmp(line, comm, strlen(comm)) == 0 && line[strlen(comm)] == '\n';
	fclose(f);
	return yes;
}

/* How many lines of the stack's log, from byte off on, hold needle. */
static int log_lines_from(long off, const char *needle)
{
	const char *path = sp_conf_str("log.file", "");
	char line[4096];
	int n = 0;
	FILE *f;

	if (*path == '\0' || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fseek(f, off, SEEK_SET) == 0)
		while (fgets(line, sizeof line, f))
			n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* The size of the stack's log now. */
static long log_size(void)
{
	const char *path = sp_conf_str("log.file", "");
	FILE *f;
	long n = 0;

	if (*path == '\0' || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	fclose(f);
	return n;
}

/*
 * The media authorizer stops on SIGTERM as the API programs do: after the
 * request in hand, promptly, through its own end ("media-auth stopping" in
 * the log) rather than being killed by the signal.
 */
static void test_media_authorizer_stops_on_sigterm_through_its_own_end(void)
{
	pid_t kids[64], auth[64];
	size_t n, m = 0, left = 0;
	api_resp r = {0};
	long off;
	int said;

	n = web_children(kids, 64);
	for (size_t i = 0; i < n; i++)
		if (is_program(kids[i], "sp-media-auth"))
			auth[m++] = kids[i];
	EXPECT(m >= 1, "found the web server's media authorizers (%zu)", m);
	/* a request it refuses: the authorizer has served one and waits for the next */
	api_get(&r, "/media/1/480p/segment_000.ts", NULL);
	EXPECT(r.status == 403, "a media request without a token is refused: %ld", r.status);
	api_free(&r);
	off = log_size();
	left = stop_web_and_wait(auth, m);
	EXPECT(left == 0, "%zu of %zu media authorizers still run 5 s after the web server stopped",
	       left, m);
	said = log_lines_from(off, "media-auth stopping");
	EXPECT(said >= (int)m, "%d of %zu media authorizers logged their own stop", said, m);
	EXPECT(api_dev_service("start", "web", NULL) == 0, "web server started again");
}

int api_suite_deploy(void)
{
	CU_pSuite s = CU_add_suite("deploy", NULL, NULL);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_mariadb_and_redis_listen_on_no_tcp_port);
	ADD(test_other_local_users_cannot_reach_mariadb_or_redis);
	ADD(test_paid_subscribe_without_payment_provider_is_503_and_writes_nothing);
	ADD(test_unknown_payment_provider_is_refused_at_start);
	ADD(test_programs_stop_with_the_web_server_while_redis_is_away);
	ADD(test_media_authorizer_stops_on_sigterm_through_its_own_end);
#undef ADD
	return 0;
}
