/*
 * Configuration: conf/streaming.conf ("section.key = value") overridden by
 * SP_SECTION_KEY environment variables, validated once at start into sp_cfg.
 */
#include "sp_config.h"
#include "sp_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SP_DEFAULT_CONFIG
#define SP_DEFAULT_CONFIG "/etc/streaming/streaming.conf"
#endif
#ifndef SP_DEFAULT_MAIL_DIR
#define SP_DEFAULT_MAIL_DIR "conf/mail"
#endif

sp_settings sp_cfg;

struct entry {
	char *key;
	char *value;
};

static struct entry *entries;
static size_t n_entries;

void sp_conf_free(void)
{
	for (size_t i = 0; i < n_entries; i++) {
		free(entries[i].key);
		free(entries[i].value);
	}
	free(entries);
	entries = NULL;
	n_entries = 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void set_entry(const char *key, const char *value)
{
	for (size_t i = 0; i < n_entries; i++) {
		if (strcmp(entries[i].key, key) == 0) {
			free(entries[i].value);
			entries[i].value = sp_xstrdup(value);
			return;
		}
	}
	entries = sp_xrealloc(entries, (n_entries + 1) * sizeof *entries);
	entries[n_entries].key = sp_xstrdup(key);
	entries[n_entries].value = sp_xstrdup(value);
	n_entries++;
}

int sp_conf_load(const char *path, char *err, size_t errlen)
{
	char line[4096];
	FILE *f;
	int lineno = 0;

	sp_conf_free();
	if (path == NULL)
		path = getenv("SP_CONFIG");
	if (path == NULL || *path == '\0')
		path = SP_DEFAULT_CONFIG;
	f = fopen(path, "r");
	if (f == NULL) {
		/* No file is fine when everything comes from the environment. */
		if (errno == ENOENT && getenv("SP_CONFIG") == NULL)
			return 0;
		snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *s, *eq, *key, *val;

		lineno++;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "config: %s:%d: expected 'section.key = value'", path,
			         lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (strchr(key, '.') == NULL) {
			snprintf(err, errlen, "config: %s:%d: key '%s' has no section", path,
			         lineno, key);
			fclose(f);
			return -1;
		}
		set_entry(key, val);
	}
	fclose(f);
	return 0;
}

const char *sp_conf_get(const char *key)
{
	char env[128];
	size_t j = 0;
	const char *v;

	memcpy(env, "SP_", 3);
	j = 3;
	for (const char *p = key; *p && j < sizeof env - 1; p++)
		env[j++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
	env[j] = '\0';
	v = getenv(env);
	if (v != NULL)
		return v;
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].key, key) == 0)
			return entries[i].value;
	return NULL;
}

const char *sp_conf_str(const char *key, const char *def)
{
	const char *v = sp_conf_get(key);

	return v ? v : def;
}

int sp_conf_long(const char *key, long def, long min, long max, long *out, char *err, size_t errlen)
{
	const char *v = sp_conf_get(key);
	long long x;

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	if (sp_parse_ll(v, min, max, &x) != 0) {
		snprintf(err, errlen, "config: %s must be an integer from %ld to %ld (got '%.40s')",
		         key, min, max, v);
		return -1;
	}
	*out = (long)x;
	return 0;
}

int sp_conf_rate(const char *key, const char *def, sp_rate_rule *out, char *err, size_t errlen)
{
	const char *v = sp_conf_get(key);
	char buf[64];
	char *slash;
	long long count, secs;

	if (v == NULL || *v == '\0')
		v = def;
	snprintf(buf, sizeof buf, "%s", v);
	slash = strchr(buf, '/');
	if (slash == NULL)
		goto bad;
	*slash = '\0';
	if (sp_parse_ll(trim(buf), 1, 1000000000, &count) != 0 ||
	    sp_parse_ll(trim(slash + 1), 1, 86400 * 31, &secs) != 0)
		goto bad;
	out->limit = (long)count;
	out->window = (long)secs;
	return 0;
bad:
	snprintf(err, errlen,
	         "config: %s must be written COUNT/SECONDS, e.g. 100/900 (got '%.40s')", key, v);
	return -1;
}

int sp_list_contains(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	if (list == NULL || n == 0)
		return 0;
	while (*p) {
		const char *e;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && memcmp(p, item, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

void sp_settings_free(void)
{
	sp_settings *c = &sp_cfg;
	char **strs[] = {&c->trusted_proxies,  &c->public_url,
	                 &c->db_host,          &c->db_socket,
	                 &c->db_user,          &c->db_password,
	                 &c->db_name,          &c->redis_host,
	                 &c->redis_socket,     &c->redis_prefix,
	                 &c->jwt_secret,       &c->jwt_issuer,
	                 &c->jwt_audience,     &c->cors_origins,
	                 &c->smtp_url,         &c->log_level,
	                 &c->payment_provider, &c->smtp_starttls,
	                 &c->smtp_user,        &c->smtp_password,
	                 &c->smtp_from,        &c->mail_templates_dir,
	                 &c->worker_host,      &c->payment_decline_methods,
	                 &c->smtp_ca_file};

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

static char *dupconf(const char *key, const char *def)
{
	return sp_xstrdup(sp_conf_str(key, def));
}

/* The free-text settings (each a copy, freed by sp_settings_free). */
static void load_strings(sp_settings *c)
{
	c->trusted_proxies = dupconf("http.trusted_proxies", "");
	c->public_url = dupconf("http.public_url", "http://127.0.0.1:8080");
	c->db_host = dupconf("db.host", "127.0.0.1");
	c->db_socket = dupconf("db.socket", "");
	c->db_user = dupconf("db.user", "streaming");
	c->db_password = dupconf("db.password", "");
	c->db_name = dupconf("db.name", "streaming");
	c->redis_host = dupconf("redis.host", "127.0.0.1");
	c->redis_socket = dupconf("redis.socket", "");
	c->redis_prefix = dupconf("redis.prefix", "sp:");
	c->jwt_secret = dupconf("jwt.secret", "");
	c->jwt_issuer = dupconf("jwt.issuer", "streaming");
	c->jwt_audience = dupconf("jwt.audience", "streaming-api");
	c->cors_origins = dupconf("cors.allowed_origins", "");
	c->smtp_url = dupconf("smtp.url", "smtp://127.0.0.1:25");
	c->smtp_starttls = dupconf("smtp.starttls", "try");
	c->smtp_user = dupconf("smtp.user", "");
	c->smtp_password = dupconf("smtp.password", "");
	c->smtp_ca_file = dupconf("smtp.ca_file", "");
	c->smtp_from = dupconf("smtp.from", "Streaming <no-reply@localhost>");
	c->mail_templates_dir = dupconf("mail.templates_dir", SP_DEFAULT_MAIL_DIR);
	c->payment_provider = dupconf("payment.provider", "none");
	c->worker_host = dupconf("worker.host", "");
	c->payment_decline_methods = dupconf("payment.decline_methods", "");
	c->log_level = dupconf("log.level", "info");
}

/* The numbers and rate rules, each within its bounds; -1 names the bad key in err. */
static int load_numbers(sp_settings *c, char *err, size_t errlen)
{
	long v;

#define LONG(key, def, min, max, dst)                                                              \
	do {                                                                                       \
		if (sp_conf_long(key, def, min, max, &v, err, errlen) != 0)                        \
			return -1;                                                                 \
		dst = v;                                                                           \
	} while (0)
#define RATE(key, def, dst)                                                                        \
	do {                                                                                       \
		if (sp_conf_rate(key, def, &dst, err, errlen) != 0)                                \
			return -1;                                                                 \
	} while (0)
	LONG("http.max_body", 1048576, 1024, 1073741824L, c->max_body);
	LONG("db.port", 3306, 1, 65535, c->db_port);
	LONG("redis.port", 6379, 1, 65535, c->redis_port);
	LONG("redis.timeout_ms", 500, 10, 60000, c->redis_timeout_ms);
	LONG("jwt.access_ttl", 900, 1, 86400 * 7, c->jwt_access_ttl);
	LONG("jwt.refresh_ttl", 604800, 60, 86400 * 365, c->jwt_refresh_ttl);
	LONG("auth.max_failed_logins", 5, 1, 1000, c->max_failed_logins);
	LONG("auth.lockout_seconds", 900, 1, 86400 * 30, c->lockout_seconds);
	LONG("auth.reset_ttl", 3600, 60, 86400 * 7, c->reset_ttl);
	RATE("auth.reset_limit", "3/3600", c->reset_limit);
	LONG("bcrypt.cost", 12, 4, 31, c->bcrypt_cost);
	RATE("ratelimit.anonymous", "100/900", c->rl_anonymous);
	RATE("ratelimit.authenticated", "500/900", c->rl_authenticated);
	RATE("ratelimit.auth", "5/900", c->rl_auth);
	RATE("ratelimit.stream", "10/60", c->rl_stream);
	RATE("ratelimit.search", "20/60", c->rl_search);
	LONG("stream.stale_seconds", 120, 1, 86400, c->stream_stale_seconds);
	LONG("stream.token_ttl", 14400, 1, 86400 * 7, c->stream_token_ttl);
	LONG("download.ttl_days", 30, 1, 365, c->download_ttl_days);
	LONG("cache.user_ttl", 300, 1, 86400, c->cache_ttl);
	LONG("cache.local_bytes", 8388608, 0, 1073741824, c->cache_local_bytes);
	LONG("history.warm_days", 180, 31, 36500, c->history_warm_days);
	LONG("history.months_ahead", 3, 1, 24, c->history_months_ahead);
	LONG("smtp.timeout_seconds", 30, 1, 600, c->smtp_timeout);
	LONG("mail.backoff_seconds", 60, 1, 86400, c->mail_backoff);
	LONG("mail.backoff_max_seconds", 3600, 1, 86400 * 7, c->mail_backoff_max);
	LONG("mail.max_attempts", 8, 1, 100, c->mail_max_attempts);
	LONG("webhooks.connect_timeout_ms", 3000, 100, 60000, c->webhooks_connect_timeout_ms);
	LONG("webhooks.timeout_ms", 10000, 100, 120000, c->webhooks_timeout_ms);
	LONG("webhooks.max_attempts", 8, 1, 100, c->webhooks_max_attempts);
	LONG("webhooks.backoff_seconds", 30, 1, 86400, c->webhooks_backoff_seconds);
	LONG("webhooks.backoff_max_seconds", 3600, 1, 86400 * 7, c->webhooks_backoff_max_seconds);
	LONG("webhooks.batch", 200, 1, 100000, c->webhooks_batch);
	LONG("lifecycle.expiring_days", 3, 1, 365, c->lifecycle_expiring_days);
	LONG("lifecycle.renew_grace_hours", 24, 0, 24 * 30, c->lifecycle_renew_grace_hours);
#undef LONG
#undef RATE
	return 0;
}

/* A secret that may be left empty (derived from jwt.secret) but is never short. */
static int optional_secret(const char *key, char *err, size_t errlen)
{
	const char *v = sp_conf_str(key, "");

	if (v[0] != '\0' && strlen(v) < 32) {
		snprintf(err, errlen,
		         "config: %s must be at least 32 bytes (or empty, to derive it from "
		         "jwt.secret)",
		         key);
		return -1;
	}
	return 0;
}

/* The mailer's relay and sender: a URL libcurl speaks SMTP to, a header-safe sender. */
static int check_smtp(const sp_settings *c, char *err, size_t errlen)
{
	const char *host;

	if (strncmp(c->smtp_url, "smtp://", 7) != 0 && strncmp(c->smtp_url, "smtps://", 8) != 0) {
		snprintf(err, errlen, "config: smtp.url must start with smtp:// or smtps://");
		return -1;
	}
	host = strstr(c->smtp_url, "://") + 3;
	if (memchr(host, '@', strcspn(host, "/?#")) != NULL) {
		snprintf(err, errlen,
		         "config: smtp.url must not hold credentials; set smtp.user and "
		         "smtp.password");
		return -1;
	}
	if (!sp_list_contains("require,try,off", c->smtp_starttls)) {
		snprintf(err, errlen, "config: smtp.starttls must be require, try or off");
		return -1;
	}
	if (strpbrk(c->smtp_from, "\r\n") != NULL || strchr(c->smtp_from, '@') == NULL) {
		snprintf(
		    err, errlen,
		    "config: smtp.from must be an address, optionally 'Name <address>', on one "
		    "line");
		return -1;
	}
	return 0;
}

/* What must hold across settings before any program starts on them. */
static int check_settings(const sp_settings *c, char *err, size_t errlen)
{
	if (optional_secret("media.secret", err, errlen) != 0 ||
	    optional_secret("outbox.seal_key", err, errlen) != 0 || check_smtp(c, err, errlen) != 0)
		return -1;
	/* the names sp_payment_provider_named() knows */
	if (!sp_list_contains("none,builtin",
	                      c->payment_provider[0] ? c->payment_provider : "none")) {
		snprintf(err, errlen, "config: payment.provider must be none or builtin");
		return -1;
	}
	if (c->jwt_issuer[0] == '\0' || c->jwt_audience[0] == '\0') {
		snprintf(err, errlen, "config: jwt.issuer and jwt.audience must not be empty");
		return -1;
	}
	if (strlen(c->jwt_secret) < 32) {
		snprintf(err, errlen,
		         "config: jwt.secret must be at least 32 bytes (set it in the config file "
		         "or SP_JWT_SECRET)");
		return -1;
	}
	return 0;
}

int sp_settings_load(const char *path, char *err, size_t errlen)
{
	if (sp_conf_load(path, err, errlen) != 0)
		return -1;
	sp_settings_free();
	memset(&sp_cfg, 0, sizeof sp_cfg);
	load_strings(&sp_cfg);
	if (load_numbers(&sp_cfg, err, errlen) != 0)
		return -1;
	return check_settings(&sp_cfg, err, errlen);
}
