/*
 * sp-admin: the operator's tool. `sp-admin COMMAND [ARGS]` runs one
 * command of the table at the end of this file (migrations, administrators,
 * demo data, test media, switching accounts off and on).
 */
#include "admin_cmds.h"
#include "gen_media.h"
#include "sp_auth.h"
#include "sp_cache.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_program.h"
#include "sp_user.h"
#include "sp_util.h"
#include "sp_valid.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SP_DEFAULT_SQL_DIR
#define SP_DEFAULT_SQL_DIR "sql"
#endif

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	sp_buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return NULL;
	}
	sp_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		sp_buf_add(&b, chunk, n);
	fclose(f);
	return b.data ? b.data : sp_xstrdup("");
}

/*
 * Applies every NNNN_name.sql not yet recorded in schema_migrations, in
 * name order, recording each with its SHA-256 so a second run does nothing
 * and an edited, already-applied file is reported.
 */
static int migrate(const char *dir)
{
	char err[512];
	DIR *d;
	struct dirent *e;
	char **files = NULL;
	size_t n = 0;
	int rc = 0, applied = 0;

	if (sp_db_run_script("CREATE TABLE IF NOT EXISTS schema_migrations ("
	                     "name VARCHAR(255) NOT NULL PRIMARY KEY, checksum CHAR(64) NOT NULL, "
	                     "applied_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3)) "
	                     "ENGINE=InnoDB",
	                     err, sizeof err) != 0) {
		fprintf(stderr, "migrate: %s\n", err);
		return 1;
	}
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "migrate: cannot open %s\n", dir);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0) {
			files = sp_xrealloc(files, (n + 1) * sizeof *files);
			files[n++] = sp_xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(files, n, sizeof *files, cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = sp_xasprintf("%s/%s", dir, files[i]);
		char *sql = slurp(path, err, sizeof err);
		char sum[65];
		sp_res res;

		if (sql == NULL) {
			fprintf(stderr, "migrate: %s\n", err);
			rc = 1;
		} else if (sp_db_query(&res,
		                       "SELECT checksum FROM schema_migrations WHERE name = ?", "s",
		                       files[i]) != 0) {
			fprintf(stderr, "migrate: cannot read schema_migrations\n");
			rc = 1;
		} else {
			sp_sha256_hex(sql, strlen(sql), sum);
			if (res.nrows == 1) {
				if (strcmp(sp_res_str(&res, 0, 0), sum) != 0)
					fprintf(
					    stderr,
					    "migrate: warning: %s changed after it was applied\n",
					    files[i]);
			} else if (sp_db_run_script(sql, err, sizeof err) != 0) {
				fprintf(stderr, "migrate: %s failed: %s\n", files[i], err);
				rc = 1;
			} else if (sp_db_exec(
			               "INSERT INTO schema_migrations (name, checksum) VALUES "
			               "(?, ?)",
			               "ss", files[i], sum) != 1) {
				fprintf(stderr, "migrate: cannot record %s\n", files[i]);
				rc = 1;
			} else {
				printf("applied %s\n", files[i]);
				applied++;
			}
			sp_res_free(&res);
		}
		free(sql);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	if (rc == 0)
		printf("migrations up to date (%d applied now)\n", applied);
	return rc;
}

/*
 * Makes EMAIL an administrator with the password in SP_ADMIN_PASSWORD: a new
 * account, or an existing one promoted, switched on and given that password
 * the way a password change does it (older sessions end now).
 */
static int create_admin(const char *email, const char *name)
{
	const char *pw = getenv("SP_ADMIN_PASSWORD");
	char hash[128], lower[255];
	const char *why;
	sp_res res;
	long long uid;
	size_t i;

	if (pw == NULL || *pw == '\0') {
		fprintf(stderr, "create-admin: set SP_ADMIN_PASSWORD\n");
		return 64;
	}
	for (i = 0; email[i] && i < sizeof lower - 1; i++)
		lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
	lower[i] = '\0';
	if (!sp_valid_email(lower)) {
		fprintf(stderr, "create-admin: invalid e-mail address\n");
		return 64;
	}
	if ((why = sp_password_problem(pw, strlen(pw))) != NULL) {
		fprintf(stderr, "create-admin: password %s\n", why);
		return 64;
	}
	if (sp_user_hash_password(pw, hash, sizeof hash) != 0)
		return 1;
	if (sp_db_begin() != 0 ||
	    sp_db_exec("INSERT INTO users (name, email, password_hash, role) VALUES (?, ?, ?, "
	               "'admin') ON DUPLICATE KEY UPDATE role = 'admin', is_active = 1",
	               "sss", name, lower, hash) < 0 ||
	    sp_db_query(&res, "SELECT id FROM users WHERE email = ?", "s", lower) != 0)
		goto fail;
	uid = res.nrows == 1 ? sp_res_ll(&res, 0, 0, 0) : 0;
	sp_res_free(&res);
	/*
	 * Silent: the operator sets this password at the console and hands it
	 * over; a "your password was changed" mail, all a new account would get
	 * from it, tells nobody anything.
	 */
	if (uid <= 0 || sp_user_set_password(uid, hash, SP_PASSWORD_SILENT) != 0 ||
	    sp_db_commit() != 0)
		goto fail;
	sp_user_password_published(uid);
	sp_kv_close();
	printf("admin %s ready\n", lower);
	return 0;
fail:
	sp_db_rollback();
	fprintf(stderr, "create-admin: database error\n");
	return 1;
}

/* Through sp_user_set_active, the one path that switches an account off or on. */
static int set_active(const char *email, int active)
{
	const char *what = active ? "activate-user" : "deactivate-user";
	sp_res res;
	long long uid;
	int rc;

	if (sp_db_query(&res, "SELECT id FROM users WHERE email = ?", "s", email) != 0) {
		fprintf(stderr, "%s: database error\n", what);
		return 1;
	}
	uid = res.nrows == 1 ? sp_res_ll(&res, 0, 0, 0) : 0;
	sp_res_free(&res);
	rc = uid > 0 ? sp_user_set_active(uid, active) : 1;
	sp_kv_close();
	if (rc == 1) {
		fprintf(stderr, "%s: no account with that e-mail address\n", what);
		return 65;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: database error\n", what);
		return 1;
	}
	printf("%s %s\n", email, active ? "activated" : "deactivated; its sessions have ended");
	return 0;
}

/*
 * Demo accounts, one per plan, each with an active subscription bought
 * through the same tables the API uses. Existing accounts are left alone.
 */
/* Demo catalogues seeded before the artwork was drawn named .jpg files that
 * never existed; they now name the SVG pictures gen-media draws. Only the
 * demo's own pattern is touched. */
static int demo_artwork_svg(void)
{
	long long n = sp_db_exec(
	    "UPDATE content SET thumbnail_url = CONCAT(LEFT(thumbnail_url, "
	    "CHAR_LENGTH(thumbnail_url) - 4), '.svg'), banner_url = CONCAT(LEFT(banner_url, "
	    "CHAR_LENGTH(banner_url) - 4), '.svg') WHERE thumbnail_url REGEXP "
	    "'^/catalogue/thumbs/[0-9]+[.]jpg$' AND banner_url REGEXP "
	    "'^/catalogue/banners/[0-9]+[.]jpg$'",
	    "");

	if (n < 0) {
		fprintf(stderr, "seed: cannot update the demo artwork\n");
		return 1;
	}
	if (n > 0) {
		printf("catalogue: %lld demo titles now name their SVG artwork\n", n);
		/* cached pages and details still name the old files */
		if (sp_cache_drop_group(SP_GROUP_CATALOG) != 0)
			fprintf(stderr, "seed: Redis unreachable; cached pages keep the old "
			                "artwork URLs until they expire\n");
	}
	return 0;
}

static int seed_content(const char *sql_dir)
{
	char err[512];
	char *path, *sql;
	sp_res res;
	long long n;

	if (sp_db_query(&res, "SELECT COUNT(*) FROM content", "") != 0)
		return 1;
	n = sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	if (n > 0) {
		printf("catalogue: %lld titles present, not seeded\n", n);
		return demo_artwork_svg();
	}
	path = sp_xasprintf("%s/seed/demo_content.sql", sql_dir);
	sql = slurp(path, err, sizeof err);
	free(path);
	if (sql == NULL) {
		fprintf(stderr, "seed: %s\n", err);
		return 1;
	}
	if (sp_db_run_script(sql, err, sizeof err) != 0) {
		fprintf(stderr, "seed: demo catalogue failed: %s\n", err);
		free(sql);
		return 1;
	}
	free(sql);
	printf("catalogue: demo titles seeded\n");
	return 0;
}

static int seed(const char *sql_dir)
{
	static const struct {
		const char *email, *name, *plan;
	} demo[] = {
	    {"free@demo.local", "Fiona Free", NULL},
	    {"basic@demo.local", "Bruno Basic", "Basic"},
	    {"premium@demo.local", "Priya Premium", "Premium"},
	    {"ultimate@demo.local", "Umar Ultimate", "Ultimate"},
	};
	const char *pw = getenv("SP_DEMO_PASSWORD");
	char hash[128];
	int created = 0;

	if (pw == NULL || *pw == '\0')
		pw = "Demo12345";
	if (sp_password_problem(pw, strlen(pw)) != NULL) {
		fprintf(stderr, "seed: SP_DEMO_PASSWORD does not meet the password rules\n");
		return 64;
	}
	if (sp_password_hash(pw, sp_cfg.bcrypt_cost, hash, sizeof hash) != 0)
		return 1;
	for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++) {
		long long n, uid;
		char txn[40], rnd[17];

		n = sp_db_exec(
		    "INSERT IGNORE INTO users (name, email, password_hash) VALUES (?, ?, ?)", "sss",
		    demo[i].name, demo[i].email, hash);
		if (n < 0)
			return 1;
		if (n == 0)
			continue;
		uid = (long long)sp_db_insert_id();
		created++;
		if (demo[i].plan == NULL)
			continue;
		sp_random_hex(rnd, 8);
		snprintf(txn, sizeof txn, "seed_%s", rnd);
		if (sp_db_exec(
		        "INSERT INTO subscriptions (user_id, plan_id, status, start_date, "
		        "end_date, auto_renew, transaction_id, amount, currency, payment_method, "
		        "payment_date) SELECT ?, id, 'active', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) "
		        "+ INTERVAL validity_days DAY, 1, ?, price, currency, 'card', "
		        "UTC_TIMESTAMP(3) FROM plans WHERE name = ?",
		        "lss", uid, txn, demo[i].plan) != 1)
			return 1;
	}
	printf("demo users: %d created (password %s)\n", created,
	       getenv("SP_DEMO_PASSWORD") ? "from SP_DEMO_PASSWORD" : "Demo12345");
	return seed_content(sql_dir);
}

/* ---------------------------------------------------------------- commands */

/* Each command gets the arguments after its name. */
static int cmd_migrate(int argc, char **argv)
{
	const char *dir = SP_DEFAULT_SQL_DIR "/migrations";

	/* --dir names the migrations directory itself */
	if (argc >= 2 && strcmp(argv[0], "--dir") == 0)
		dir = argv[1];
	return migrate(dir);
}

static int cmd_create_admin(int argc, char **argv)
{
	return create_admin(argv[0], argc >= 2 ? argv[1] : "Administrator");
}

static int cmd_seed(int argc, char **argv)
{
	return seed(argc >= 2 && strcmp(argv[0], "--sql-dir") == 0 ? argv[1] : SP_DEFAULT_SQL_DIR);
}

/* SRC must lie outside the web root */
static int cmd_gen_media(int argc, char **argv)
{
	const char *dir = sp_conf_str("media.dir", "www/media");
	const char *src = sp_conf_str("media.source_dir", "");

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
			src = argv[++i];
		else
			dir = argv[i];
	}
	if (gen_media(dir, src) != 0)
		return 1;
	/* the artwork lives in the web root, the media directory's parent */
	char root[1024];
	const char *slash = strrchr(dir, '/');
	int n = slash ? snprintf(root, sizeof root, "%.*s", (int)(slash - dir), dir)
	              : snprintf(root, sizeof root, ".");
	if (n < 0 || (size_t)n >= sizeof root)
		return 1;
	return gen_artwork(root[0] ? root : "/");
}

static int cmd_deactivate_user(int argc, char **argv)
{
	(void)argc;
	return set_active(argv[0], 0);
}

static int cmd_activate_user(int argc, char **argv)
{
	(void)argc;
	return set_active(argv[0], 1);
}

/*
 * Drops a cache group (catalog, plans): what a content or plan write
 * through the API does, for changes made in MariaDB by hand.
 */
static int cmd_drop_cache(int argc, char **argv)
{
	const char *group = argc > 0 ? argv[0] : SP_GROUP_CATALOG;

	if (strcmp(group, SP_GROUP_CATALOG) != 0 && strcmp(group, SP_GROUP_PLANS) != 0) {
		fprintf(stderr, "drop-cache: GROUP is %s or %s\n", SP_GROUP_CATALOG,
		        SP_GROUP_PLANS);
		return 64;
	}
	if (sp_cache_drop_group(group) != 0) {
		fprintf(stderr, "drop-cache: Redis unreachable\n");
		return 1;
	}
	printf("dropped the %s cache\n", group);
	return 0;
}

/*
 * A new access-token signing key with a new kid. The keys signing until
 * now keep verifying for jwt.access_ttl (the longest a token they signed
 * lives) plus jwt.keyring_refresh_seconds (the longest a process keeps
 * signing with them before it re-reads the ring) plus a minute of clock
 * skew between hosts; keys already past that are dropped now.
 */
static int cmd_rotate_jwt_key(int argc, char **argv)
{
	char kid[SP_KID_MAX];
	long long retire = sp_cfg.jwt_access_ttl + sp_cfg.jwt_keyring_refresh + 60;

	(void)argc;
	(void)argv;
	if (sp_cfg.jwt_secret == NULL || strlen(sp_cfg.jwt_secret) < 32) {
		fprintf(stderr,
		        "rotate-jwt-key: jwt.secret must be set (ring keys derive from it)\n");
		return 78;
	}
	if (sp_jwt_keyring_rotate(retire, kid) != 0) {
		fprintf(stderr, "rotate-jwt-key: database error; nothing changed\n");
		return 1;
	}
	printf("signing key %s now signs new tokens (every process within %lds);\n"
	       "the previous keys verify for %llds more, then retire\n",
	       kid, sp_cfg.jwt_keyring_refresh, retire);
	return 0;
}

typedef struct admin_cmd {
	const char *name;
	const char *args; /* the synopsis usage shows */
	const char *about;
	int min_args, max_args; /* how many may follow the name; max -1: any */
	int (*run)(int argc, char **argv);
	int raw; /* 1: runs on the configuration as it is, without sp_program_start */
} admin_cmd;

static const admin_cmd cmds[] = {
    {"migrate", "[--dir DIR]", "apply the migrations not applied yet, each once", 0, -1,
     cmd_migrate, 0},
    {"create-admin", "EMAIL [NAME]",
     "make or reset an administrator (password from SP_ADMIN_PASSWORD)", 1, -1, cmd_create_admin,
     0},
    {"seed", "[--sql-dir DIR]",
     "demo users and catalogue when missing (password from SP_DEMO_PASSWORD)", 0, -1, cmd_seed, 0},
    {"gen-media", "[DIR] [--source SRC]",
     "HLS test media for every title; sources encoded once into SRC, outside the web root", 0, -1,
     cmd_gen_media, 0},
    {"deactivate-user", "EMAIL", "switch an account off (its sessions end at once)", 1, 1,
     cmd_deactivate_user, 0},
    {"activate-user", "EMAIL", "switch an account on again", 1, 1, cmd_activate_user, 0},
    {"drop-cache", "[catalog|plans]",
     "drop a cache group, after changing content or plans in MariaDB by hand", 0, 1, cmd_drop_cache,
     0},
    {"check-config", "[--strict] [FILE]",
     "every key: effective value, source, validity; exit 1 when one is invalid", 0, 2,
     cmd_check_config, 1},
    {"config-reference", "", "the configuration reference (markdown) from the key table", 0, 0,
     cmd_config_reference, 1},
    {"status", "[--json]",
     "MariaDB/Redis reachable, backlogs, live streams, partitions, job runs, keys", 0, 1,
     cmd_status, 0},
    {"rotate-jwt-key", "", "a new access-token signing key; the old one retires after the TTL", 0,
     0, cmd_rotate_jwt_key, 0},
};

static int usage(void)
{
	fprintf(stderr, "usage: sp-admin COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char synopsis[64];

		snprintf(synopsis, sizeof synopsis, "%s %s", cmds[i].name, cmds[i].args);
		fprintf(stderr, "  %-31s %s\n", synopsis, cmds[i].about);
	}
	return 64;
}

/* The command named name that takes n arguments, or NULL. */
static const admin_cmd *find_cmd(const char *name, int n)
{
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return n >= cmds[i].min_args &&
			               (cmds[i].max_args < 0 || n <= cmds[i].max_args)
			           ? &cmds[i]
			           : NULL;
	return NULL;
}

int main(int argc, char **argv)
{
	const admin_cmd *cmd;
	int rc;

	if (argc < 2)
		return usage();
	cmd = find_cmd(argv[1], argc - 2);
	if (cmd == NULL)
		return usage();
	if (!cmd->raw && (rc = sp_program_start("sp-admin", SP_PROGRAM_TOOL)) != 0)
		return rc;
	rc = cmd->run(argc - 2, argv + 2);
	sp_db_close();
	return rc;
}
