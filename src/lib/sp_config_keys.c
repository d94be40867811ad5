/*
 * The configuration key table: every key the programs read, with its type,
 * bounds, default, secrecy and meaning. Loading, validation, `sp-admin
 * check-config` and the reference in docs/OPERATIONS.md all come from it.
 */
#include "sp_config.h"
#include "sp_util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SP_DEFAULT_MAIL_DIR
#define SP_DEFAULT_MAIL_DIR "conf/mail"
#endif

#define OFF(f) offsetof(sp_settings, f)
#define NONE   0, SP_CS_NONE
#define STR(f) OFF(f), SP_CS_STR
#define INT(f) OFF(f), SP_CS_INT
#define LNG(f) OFF(f), SP_CS_LONG
#define SIZ(f) OFF(f), SP_CS_SIZE
#define RAT(f) OFF(f), SP_CS_RATE

static int check_optional_secret(const sp_conf_key *k, const char *v, char *err, size_t errlen);
static int check_jwt_secret(const sp_conf_key *k, const char *v, char *err, size_t errlen);
static int check_not_empty(const sp_conf_key *k, const char *v, char *err, size_t errlen);
static int check_choice(const sp_conf_key *k, const char *v, char *err, size_t errlen);
static int check_smtp_url(const sp_conf_key *k, const char *v, char *err, size_t errlen);
static int check_smtp_from(const sp_conf_key *k, const char *v, char *err, size_t errlen);

/* name, type, default, min, max, unit or choices, secret, where it is kept, check, about */
const sp_conf_key sp_conf_keys[] = {
    {"http.max_body", SP_CT_INT, "1048576", 1024, 1073741824L, "bytes", 0, SIZ(max_body), NULL,
     "request bodies above this get 413 PAYLOAD_TOO_LARGE, unread"},
    {"http.trusted_proxies", SP_CT_LIST, "", 0, 0, NULL, 0, STR(trusted_proxies), NULL,
     "peers whose X-Forwarded-For is believed (comma-separated exact addresses)"},
    {"http.public_url", SP_CT_URL, "http://127.0.0.1:8080", 0, 0, NULL, 0, STR(public_url), NULL,
     "the site's address as users reach it (links in mails)"},
    {"http.port", SP_CT_INT, "8080", 1, 65535, NULL, 0, NONE, NULL,
     "the web server's port in the configuration scripts/dev writes; the programs ignore it"},
    {"db.host", SP_CT_STRING, "127.0.0.1", 0, 0, NULL, 0, STR(db_host), NULL,
     "MariaDB host (db.socket wins when set)"},
    {"db.port", SP_CT_INT, "3306", 1, 65535, NULL, 0, INT(db_port), NULL, "MariaDB TCP port"},
    {"db.socket", SP_CT_PATH, "", 0, 0, NULL, 0, STR(db_socket), NULL,
     "MariaDB Unix socket; empty: host and port"},
    {"db.user", SP_CT_STRING, "streaming", 0, 0, NULL, 0, STR(db_user), NULL, "MariaDB user"},
    {"db.password", SP_CT_STRING, "", 0, 0, NULL, 1, STR(db_password), NULL, "MariaDB password"},
    {"db.name", SP_CT_STRING, "streaming", 0, 0, NULL, 0, STR(db_name), NULL, "MariaDB database"},
    {"redis.host", SP_CT_STRING, "127.0.0.1", 0, 0, NULL, 0, STR(redis_host), NULL,
     "Redis host (redis.socket wins when set)"},
    {"redis.port", SP_CT_INT, "6379", 1, 65535, NULL, 0, INT(redis_port), NULL, "Redis TCP port"},
    {"redis.socket", SP_CT_PATH, "", 0, 0, NULL, 0, STR(redis_socket), NULL,
     "Redis Unix socket; empty: host and port"},
    {"redis.prefix", SP_CT_STRING, "sp:", 0, 0, NULL, 0, STR(redis_prefix), NULL,
     "prefix of every Redis key"},
    {"redis.timeout_ms", SP_CT_DURATION, "500", 10, 60000, "ms", 0, INT(redis_timeout_ms), NULL,
     "connect and command timeout"},
    {"jwt.secret", SP_CT_STRING, "", 32, 0, NULL, 1, STR(jwt_secret), check_jwt_secret,
     "HS256 key (>= 32 bytes) of access tokens while no keyring exists; media.secret and "
     "outbox.seal_key derive from it"},
    {"jwt.access_ttl", SP_CT_DURATION, "900", 1, 86400 * 7, "seconds", 0, LNG(jwt_access_ttl), NULL,
     "lifetime of an access token"},
    {"jwt.refresh_ttl", SP_CT_DURATION, "604800", 60, 86400 * 365, "seconds", 0,
     LNG(jwt_refresh_ttl), NULL, "lifetime of a refresh chain"},
    {"jwt.issuer", SP_CT_STRING, "streaming", 0, 0, NULL, 0, STR(jwt_issuer), check_not_empty,
     "iss written into access tokens and required of every token"},
    {"jwt.audience", SP_CT_STRING, "streaming-api", 0, 0, NULL, 0, STR(jwt_audience),
     check_not_empty, "aud written into access tokens and required of every token"},
    {"jwt.keyring_refresh_seconds", SP_CT_DURATION, "30", 1, 3600, "seconds", 0,
     LNG(jwt_keyring_refresh), NULL,
     "how often each process re-reads the signing-key ring (sp-admin rotate-jwt-key)"},
    {"auth.max_failed_logins", SP_CT_INT, "5", 1, 1000, NULL, 0, INT(max_failed_logins), NULL,
     "failed logins before an account is locked"},
    {"auth.lockout_seconds", SP_CT_DURATION, "900", 1, 86400 * 30, "seconds", 0,
     LNG(lockout_seconds), NULL, "how long a locked account stays locked"},
    {"auth.reset_ttl", SP_CT_DURATION, "3600", 60, 86400 * 7, "seconds", 0, LNG(reset_ttl), NULL,
     "how long a password-reset link works"},
    {"auth.reset_limit", SP_CT_RATE, "3/3600", 0, 0, NULL, 0, RAT(reset_limit), NULL,
     "reset links per e-mail address"},
    {"bcrypt.cost", SP_CT_INT, "12", 4, 31, NULL, 0, INT(bcrypt_cost), NULL,
     "bcrypt work factor of new password hashes"},
    {"ratelimit.anonymous", SP_CT_RATE, "100/900", 0, 0, NULL, 0, RAT(rl_anonymous), NULL,
     "requests per client address without a token"},
    {"ratelimit.authenticated", SP_CT_RATE, "500/900", 0, 0, NULL, 0, RAT(rl_authenticated), NULL,
     "requests per signed-in user"},
    {"ratelimit.auth", SP_CT_RATE, "5/900", 0, 0, NULL, 0, RAT(rl_auth), NULL,
     "login, register and reset requests per client address"},
    {"ratelimit.stream", SP_CT_RATE, "10/60", 0, 0, NULL, 0, RAT(rl_stream), NULL,
     "stream starts per user"},
    {"ratelimit.search", SP_CT_RATE, "20/60", 0, 0, NULL, 0, RAT(rl_search), NULL,
     "catalogue searches per client"},
    {"cors.allowed_origins", SP_CT_LIST, "", 0, 0, NULL, 0, STR(cors_origins), NULL,
     "exact origins allowed by CORS, comma-separated"},
    {"stream.stale_seconds", SP_CT_DURATION, "120", 1, 86400, "seconds", 0,
     LNG(stream_stale_seconds), NULL, "a stream session without a heartbeat this long ends"},
    {"stream.token_ttl", SP_CT_DURATION, "14400", 1, 86400 * 7, "seconds", 0, LNG(stream_token_ttl),
     NULL, "how long a signed media URL is valid on its own"},
    {"download.ttl_days", SP_CT_DURATION, "30", 1, 365, "days", 0, LNG(download_ttl_days), NULL,
     "how long an offline download licence stays valid"},
    {"media.secret", SP_CT_STRING, "", 32, 0, NULL, 1, NONE, check_optional_secret,
     "key of media URL signatures (>= 32 bytes); empty: derived from jwt.secret"},
    {"media.dir", SP_CT_PATH, "www/media", 0, 0, NULL, 0, NONE, NULL,
     "the web server's media directory (sp-admin gen-media writes there)"},
    {"media.source_dir", SP_CT_PATH, "", 0, 0, NULL, 0, NONE, NULL,
     "encoded media sources, outside the web root (sp-admin gen-media)"},
    {"smtp.url", SP_CT_URL, "smtp://127.0.0.1:25", 0, 0, NULL, 0, STR(smtp_url), check_smtp_url,
     "the mail relay, smtp:// or smtps://, without credentials"},
    {"smtp.starttls", SP_CT_ENUM, "try", 0, 0, "require,try,off", 0, STR(smtp_starttls),
     check_choice, "STARTTLS on an smtp:// relay"},
    {"smtp.user", SP_CT_STRING, "", 0, 0, NULL, 0, STR(smtp_user), NULL,
     "relay login; empty: no authentication"},
    {"smtp.password", SP_CT_STRING, "", 0, 0, NULL, 1, STR(smtp_password), NULL, "relay password"},
    {"smtp.ca_file", SP_CT_PATH, "", 0, 0, NULL, 0, STR(smtp_ca_file), NULL,
     "PEM CAs the relay's certificate must chain to; empty: the system's"},
    {"smtp.from", SP_CT_STRING, "Streaming <no-reply@localhost>", 0, 0, NULL, 0, STR(smtp_from),
     check_smtp_from, "the sender: an address, or a name with the address in angle brackets"},
    {"smtp.timeout_seconds", SP_CT_DURATION, "30", 1, 600, "seconds", 0, LNG(smtp_timeout), NULL,
     "limit on connecting, and on the whole of one message"},
    {"mail.backoff_seconds", SP_CT_DURATION, "60", 1, 86400, "seconds", 0, LNG(mail_backoff), NULL,
     "wait before the first retry of a failed mail, doubled after each"},
    {"mail.backoff_max_seconds", SP_CT_DURATION, "3600", 1, 86400 * 7, "seconds", 0,
     LNG(mail_backoff_max), NULL, "the longest wait between two attempts"},
    {"mail.max_attempts", SP_CT_INT, "8", 1, 100, NULL, 0, LNG(mail_max_attempts), NULL,
     "attempts before a mail is parked as failed"},
    {"mail.templates_dir", SP_CT_PATH, SP_DEFAULT_MAIL_DIR, 0, 0, NULL, 0, STR(mail_templates_dir),
     NULL, "EVENT.txt (first line \"Subject: ...\") and EVENT.html per event type"},
    {"worker.host", SP_CT_STRING, "", 0, 0, NULL, 0, STR(worker_host), NULL,
     "names this host in per-host job locks; empty: the system's host name"},
    {"payment.provider", SP_CT_ENUM, "none", 0, 0, "none,builtin", 0, STR(payment_provider),
     check_choice, "who takes the money (builtin: demos and tests, no money moves)"},
    {"payment.decline_methods", SP_CT_LIST, "", 0, 0, NULL, 0, STR(payment_decline_methods), NULL,
     "tests only: methods the builtin provider declines"},
    {"lifecycle.expiring_days", SP_CT_DURATION, "3", 1, 365, "days", 0,
     LNG(lifecycle_expiring_days), NULL, "the \"expiring\" notice this long before endDate"},
    {"lifecycle.renew_grace_hours", SP_CT_DURATION, "24", 0, 24 * 30, "hours", 0,
     LNG(lifecycle_renew_grace_hours), NULL,
     "how long a renewal the provider cannot take is retried"},
    {"outbox.seal_key", SP_CT_STRING, "", 32, 0, NULL, 1, NONE, check_optional_secret,
     "seals secrets outbox events hold (>= 32 bytes); empty: derived from jwt.secret"},
    {"webhooks.connect_timeout_ms", SP_CT_DURATION, "3000", 100, 60000, "ms", 0,
     LNG(webhooks_connect_timeout_ms), NULL, "connect limit of one webhook POST"},
    {"webhooks.timeout_ms", SP_CT_DURATION, "10000", 100, 120000, "ms", 0, LNG(webhooks_timeout_ms),
     NULL, "the whole of one webhook POST"},
    {"webhooks.max_attempts", SP_CT_INT, "8", 1, 100, NULL, 0, LNG(webhooks_max_attempts), NULL,
     "attempts before a delivery is parked as failed"},
    {"webhooks.backoff_seconds", SP_CT_DURATION, "30", 1, 86400, "seconds", 0,
     LNG(webhooks_backoff_seconds), NULL, "wait after the first failure, doubled after each"},
    {"webhooks.backoff_max_seconds", SP_CT_DURATION, "3600", 1, 86400 * 7, "seconds", 0,
     LNG(webhooks_backoff_max_seconds), NULL, "the longest wait between two attempts"},
    {"webhooks.batch", SP_CT_INT, "200", 1, 100000, NULL, 0, LNG(webhooks_batch), NULL,
     "deliveries one run attempts at most"},
    {"uploads.dir", SP_CT_PATH, "www/uploads", 0, 0, NULL, 0, NONE, NULL,
     "where profile pictures are written"},
    {"uploads.url", SP_CT_STRING, "/uploads", 0, 0, NULL, 0, NONE, NULL,
     "where the web server serves uploads.dir"},
    {"cache.user_ttl", SP_CT_DURATION, "300", 1, 86400, "seconds", 0, LNG(cache_ttl), NULL,
     "per-user caches in Redis (token version, profile)"},
    {"cache.local_bytes", SP_CT_INT, "8388608", 0, 1073741824, "bytes", 0, LNG(cache_local_bytes),
     NULL, "catalogue pages each content process keeps, 0 off"},
    {"history.warm_days", SP_CT_DURATION, "180", 31, 36500, "days", 0, LNG(history_warm_days), NULL,
     "watch events older than this move to the archive"},
    {"history.months_ahead", SP_CT_INT, "3", 1, 24, NULL, 0, LNG(history_months_ahead), NULL,
     "monthly watch-event partitions kept ready ahead"},
    {"metrics.allow", SP_CT_LIST, "127.0.0.1,::1", 0, 0, NULL, 0, NONE, NULL,
     "addresses allowed to read /metrics"},
    {"log.level", SP_CT_STRING, "info", 0, 0, NULL, 0, STR(log_level), NULL,
     "debug, info, warn or error"},
    {"log.file", SP_CT_PATH, "", 0, 0, NULL, 0, NONE, NULL,
     "one JSON line per request and error; empty: stderr"},
};

const size_t sp_conf_nkeys = sizeof sp_conf_keys / sizeof sp_conf_keys[0];

const sp_conf_key *sp_conf_key_named(const char *name)
{
	for (size_t i = 0; i < sp_conf_nkeys; i++)
		if (strcmp(sp_conf_keys[i].name, name) == 0)
			return &sp_conf_keys[i];
	return NULL;
}

/* ------------------------------------------------------------- the checks */

/* A secret that may be left empty (derived from jwt.secret) but is never short. */
static int check_optional_secret(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	if (v[0] != '\0' && strlen(v) < (size_t)k->min) {
		snprintf(err, errlen,
		         "config: %s must be at least %ld bytes (or empty, to derive it from "
		         "jwt.secret)",
		         k->name, k->min);
		return -1;
	}
	return 0;
}

static int check_jwt_secret(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	if (strlen(v) < (size_t)k->min) {
		snprintf(err, errlen,
		         "config: jwt.secret must be at least %ld bytes (set it in the config file "
		         "or SP_JWT_SECRET)",
		         k->min);
		return -1;
	}
	return 0;
}

static int check_not_empty(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	(void)k;
	if (v[0] == '\0') {
		snprintf(err, errlen, "config: jwt.issuer and jwt.audience must not be empty");
		return -1;
	}
	return 0;
}

/* One of k->unit's comma-separated names; an empty payment.provider means none. */
static int check_choice(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	char list[128];
	char *last;

	if (strcmp(k->name, "payment.provider") == 0 && v[0] == '\0')
		v = k->def;
	if (sp_list_contains(k->unit, v))
		return 0;
	/* "a,b,c" reads "a, b or c" */
	snprintf(list, sizeof list, "%s", k->unit);
	last = strrchr(list, ',');
	if (last != NULL)
		*last = '\0';
	snprintf(err, errlen, "config: %s must be ", k->name);
	for (char *p = list; *p; p++) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, *p == ',' ? ", " : "%c", *p);
	}
	if (last != NULL) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, " or %s", last + 1);
	}
	return -1;
}

/* A URL libcurl speaks SMTP to, with the credentials kept out of it. */
static int check_smtp_url(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	const char *host;

	(void)k;
	if (strncmp(v, "smtp://", 7) != 0 && strncmp(v, "smtps://", 8) != 0) {
		snprintf(err, errlen, "config: smtp.url must start with smtp:// or smtps://");
		return -1;
	}
	host = strstr(v, "://") + 3;
	if (memchr(host, '@', strcspn(host, "/?#")) != NULL) {
		snprintf(err, errlen,
		         "config: smtp.url must not hold credentials; set smtp.user and "
		         "smtp.password");
		return -1;
	}
	return 0;
}

/* A header-safe sender. */
static int check_smtp_from(const sp_conf_key *k, const char *v, char *err, size_t errlen)
{
	(void)k;
	if (strpbrk(v, "\r\n") != NULL || strchr(v, '@') == NULL) {
		snprintf(
		    err, errlen,
		    "config: smtp.from must be an address, optionally 'Name <address>', on one "
		    "line");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------ checking one key */

/* Keeps a checked value in c at k's place. */
static void store(const sp_conf_key *k, sp_settings *c, const char *s, long n,
                  const sp_rate_rule *rr)
{
	char *dst = (char *)c + k->off;

	switch (k->store) {
	case SP_CS_STR:
		free(*(char **)dst);
		*(char **)dst = sp_xstrdup(s);
		break;
	case SP_CS_INT:
		*(int *)dst = (int)n;
		break;
	case SP_CS_LONG:
		*(long *)dst = n;
		break;
	case SP_CS_SIZE:
		*(size_t *)dst = (size_t)n;
		break;
	case SP_CS_RATE:
		*(sp_rate_rule *)dst = *rr;
		break;
	case SP_CS_NONE:
		break;
	}
}

/*
 * A number or rate out of bounds is not kept; a text is kept even when its
 * check fails, so a tool that may run without jwt.secret still finds "".
 */
int sp_conf_key_check(const sp_conf_key *k, sp_settings *c, char *err, size_t errlen)
{
	const char *v = sp_conf_get(k->name);
	long n = 0;
	sp_rate_rule rr = {0, 0};
	int rc = 0;

	switch (k->type) {
	case SP_CT_INT:
	case SP_CT_DURATION:
		if (sp_conf_long(k->name, strtol(k->def, NULL, 10), k->min, k->max, &n, err,
		                 errlen) != 0)
			return -1;
		break;
	case SP_CT_RATE:
		if (sp_conf_rate(k->name, k->def, &rr, err, errlen) != 0)
			return -1;
		break;
	default:
		if (v == NULL)
			v = k->def;
		if (k->check != NULL)
			rc = k->check(k, v, err, errlen);
	}
	if (c != NULL)
		store(k, c, v, n, &rr);
	return rc;
}

/* ------------------------------------------------------- the reference */

/* "int 1..65535 (bytes)", "duration, seconds (1..604800)", "rate COUNT/SECONDS", ... */
void sp_conf_key_type(const sp_conf_key *k, char *out, size_t n)
{
	switch (k->type) {
	case SP_CT_INT:
		snprintf(out, n, "int %ld..%ld%s%s", k->min, k->max, k->unit ? " " : "",
		         k->unit ? k->unit : "");
		break;
	case SP_CT_DURATION:
		snprintf(out, n, "duration %ld..%ld %s", k->min, k->max, k->unit);
		break;
	case SP_CT_RATE:
		snprintf(out, n, "rate COUNT/SECONDS");
		break;
	case SP_CT_ENUM:
		snprintf(out, n, "one of %s", k->unit);
		break;
	case SP_CT_LIST:
		snprintf(out, n, "comma list");
		break;
	case SP_CT_PATH:
		snprintf(out, n, "path");
		break;
	case SP_CT_URL:
		snprintf(out, n, "URL");
		break;
	default:
		snprintf(out, n, k->min > 0 ? "string >= %ld bytes" : "string", k->min);
	}
}

/* The default as the reference shows it: install paths by name, not by this build's prefix. */
static const char *shown_default(const sp_conf_key *k)
{
	if (strcmp(k->name, "mail.templates_dir") == 0)
		return "PKGDATADIR/mail";
	return k->def;
}

void sp_conf_reference(FILE *out)
{
	char type[96];

	fprintf(out, "| Key | Type | Default | Secret | Meaning |\n");
	fprintf(out, "|---|---|---|---|---|\n");
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		const sp_conf_key *k = &sp_conf_keys[i];

		sp_conf_key_type(k, type, sizeof type);
		fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", k->name, type,
		        shown_default(k)[0] ? "`" : "",
		        shown_default(k)[0] ? shown_default(k) : "(empty)",
		        shown_default(k)[0] ? "`" : "", k->secret ? "yes" : "", k->about);
	}
}
