/*
 * Configuration: conf/streaming.conf ("section.key = value") overridden by
 * SP_SECTION_KEY environment variables, validated once at start into sp_cfg.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

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
	long jwt_keyring_refresh; /* seconds between two reads of the signing-key ring */

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

/* ------------------------------------------------------- the key table */

enum sp_conf_type {
	SP_CT_INT,      /* an integer within [min, max], unit optional */
	SP_CT_DURATION, /* an integer count of unit (ms, seconds, hours, days) */
	SP_CT_RATE,     /* COUNT/SECONDS */
	SP_CT_STRING,   /* free text; min > 0: at least min bytes */
	SP_CT_PATH,
	SP_CT_URL,
	SP_CT_LIST, /* comma-separated */
	SP_CT_ENUM  /* one of unit's comma-separated names */
};

/* Where sp_settings keeps a key's value; NONE: read with sp_conf_str where used. */
enum sp_conf_store { SP_CS_NONE, SP_CS_STR, SP_CS_INT, SP_CS_LONG, SP_CS_SIZE, SP_CS_RATE };

typedef struct sp_conf_key {
	const char *name; /* "section.key" */
	enum sp_conf_type type;
	const char *def; /* the default, as it would be written in the file */
	long min, max;
	const char *unit; /* SP_CT_ENUM: the choices */
	int secret;       /* the value is never shown, only whether it is set and its length */
	size_t off;
	enum sp_conf_store store;
	int (*check)(const struct sp_conf_key *k, const char *v, char *err, size_t errlen);
	const char *about;
} sp_conf_key;

extern const sp_conf_key sp_conf_keys[];
extern const size_t sp_conf_nkeys;

const sp_conf_key *sp_conf_key_named(const char *name);
/* Checks k's effective value; stores it into c unless c is NULL. 0 ok, -1 with err. */
int sp_conf_key_check(const sp_conf_key *k, sp_settings *c, char *err, size_t errlen);
/* The key's type in words ("int 1..65535", "duration 1..600 seconds", ...). */
void sp_conf_key_type(const sp_conf_key *k, char *out, size_t n);
/* The markdown table of every key (docs/OPERATIONS.md, sp-admin config-reference). */
void sp_conf_reference(FILE *out);
/* Where key's value comes from: "env SP_X", "file PATH:LINE" or "default". */
void sp_conf_source(const char *key, char *out, size_t n);
/* The file sp_conf_load read, "" when none. */
const char *sp_conf_file(void);
/* SP_SECTION_KEY for "section.key". */
void sp_conf_env_name(const char *key, char *out, size_t n);
/*
 * Calls fn for every key in the file that the table does not know (a typo or
 * a retired key: the programs ignore it and warn). Returns how many.
 */
size_t sp_conf_each_unknown(void (*fn)(const char *key, const char *path, int line, void *arg),
                            void *arg);

/* ------------------------------------------------------- loading */

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
