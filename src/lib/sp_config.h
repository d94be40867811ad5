/*
 * Configuration: conf/streaming.conf ("section.key = value") overridden by
 * SP_SECTION_KEY environment variables, validated once at start into sp_cfg.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>

typedef struct sp_rate_rule {
	long limit;
	long window; /* seconds */
} sp_rate_rule;

typedef struct sp_settings {
	size_t max_body;
	char *trusted_proxies; /* comma-separated exact addresses */
	char *public_url;

	char *db_host, *db_socket, *db_user, *db_password, *db_name;
	int db_port;

	char *redis_host, *redis_socket, *redis_prefix;
	int redis_port;
	int redis_timeout_ms;

	char *jwt_secret;
	long jwt_access_ttl, jwt_refresh_ttl;
	char *jwt_issuer;
	char *jwt_audience;

	int max_failed_logins;
	long lockout_seconds;
	long reset_ttl;
	sp_rate_rule reset_limit; /* reset mails per address and window */
	int bcrypt_cost;

	sp_rate_rule rl_anonymous, rl_authenticated, rl_auth, rl_stream, rl_search;

	char *cors_origins; /* comma-separated exact origins */
	long stream_stale_seconds;
	long stream_token_ttl;  /* seconds a media URL stays valid */
	long download_ttl_days; /* days an offline download licence stays valid */
	/* the mailer (sp-worker mailer) */
	char *smtp_url;           /* smtp:// or smtps:// relay */
	char *smtp_starttls;      /* require | try | off (smtp:// only) */
	char *smtp_user;          /* empty: no authentication */
	char *smtp_password;      /* a secret: never logged */
	char *smtp_ca_file;       /* PEM CA bundle to verify the relay by; "" the system's */
	char *smtp_from;          /* "Name <address>" or a bare address */
	long smtp_timeout;        /* seconds: connect, and the whole of one message */
	long mail_backoff;        /* seconds before the first retry, doubling after */
	long mail_backoff_max;    /* the longest wait between two attempts */
	long mail_max_attempts;   /* attempts before an event is parked as failed */
	char *mail_templates_dir; /* <event>.txt and <event>.html */
	char *worker_host;        /* names this host in per-host job locks; "" = gethostname() */
	char *payment_provider; /* none (paid plans answer 503) | builtin (approves, no money moves)
	                         */
	char *payment_decline_methods; /* the builtin provider declines these (tests only) */
	char *log_level;
	long cache_ttl;            /* seconds for per-user caches (token version, profile) */
	long cache_local_bytes;    /* bound of a program's process-local catalogue copies, 0 off */
	long history_warm_days;    /* watch events older than this move to the archive */
	long history_months_ahead; /* monthly watch-event partitions kept ready ahead */
	/* webhook deliveries (sp-worker webhooks) */
	long webhooks_connect_timeout_ms, webhooks_timeout_ms; /* per POST */
	long webhooks_max_attempts;        /* then the delivery is parked as failed */
	long webhooks_backoff_seconds;     /* wait after the first failure, doubled after each */
	long webhooks_backoff_max_seconds; /* the longest wait between two attempts */
	long webhooks_batch;               /* deliveries one run attempts at most */
	long lifecycle_expiring_days; /* the "expiring" notice this many days before end_date */
	long
	    lifecycle_renew_grace_hours; /* a renewal the provider cannot take is retried so long */
} sp_settings;

extern sp_settings sp_cfg;

/* Reads the file (NULL: $SP_CONFIG, else the built-in path) without validating. */
int sp_conf_load(const char *path, char *err, size_t errlen);
/* The raw value of "section.key": environment first, then file; NULL if unset. */
const char *sp_conf_get(const char *key);
/* Typed getters: on a bad value they write an error naming the key and return -1. */
int sp_conf_long(const char *key, long def, long min, long max, long *out, char *err,
                 size_t errlen);
int sp_conf_rate(const char *key, const char *def, sp_rate_rule *out, char *err, size_t errlen);
const char *sp_conf_str(const char *key, const char *def);

/* Loads and validates every known key into sp_cfg. */
int sp_settings_load(const char *path, char *err, size_t errlen);
/* True if item appears in the comma-separated list (exact, whitespace trimmed). */
int sp_list_contains(const char *list, const char *item);
void sp_conf_free(void);
/* Frees the strings held by sp_cfg. */
void sp_settings_free(void);

#endif
