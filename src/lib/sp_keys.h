/*
 * Every Redis key the service uses, named once. A function here writes the
 * key's name without the deployment's prefix (redis.prefix); sp_kv adds
 * that, so callers never format a key themselves. Who writes and who reads
 * each key is listed in docs/ARCHITECTURE.md ("Redis keys").
 *
 * Names a cache group holds may carry two placeholders the gate fills in
 * its round trip: "{V}" the group's version and "{L}" the caller's level
 * digit (see sp_cache.h and sp_gate.c).
 */
#ifndef SP_KEYS_H
#define SP_KEYS_H

#include <stddef.h>

/* Room for any name below (and for it with the prefix). */
#define SP_KEY_MAX 192

/* Cache groups: each is dropped as a whole by one write (sp_cache_drop_group). */
#define SP_GROUP_CATALOG "catalog" /* pages, details and stream metadata of titles */
#define SP_GROUP_PLANS   "plans"   /* plan listings */

/* ---- per user, written through by whoever changes the row */
void sp_key_me(char *out, size_t n, long long uid);    /* GET /auth/me document */
void sp_key_sub(char *out, size_t n, long long uid);   /* GET /subscriptions/current document */
void sp_key_level(char *out, size_t n, long long uid); /* effective plan (sp_tier's encoding) */
void sp_key_token_version(char *out, size_t n, long long uid);

/* ---- token revocation marks (sp_auth), read by the gate */
void sp_key_deny_jti(char *out, size_t n, const char *jti);
void sp_key_deny_chain(char *out, size_t n, const char *sid);

/* ---- fixed-window rate counters: rule name, subject ("u:<id>", "ip:<addr>"), window number */
void sp_key_rate(char *out, size_t n, const char *rule, const char *subject, long long window);
/* The subjects: a signed-in user, or a client address (sp_client_key's form). */
void sp_key_subject_user(char *out, size_t n, long long uid);
void sp_key_subject_client(char *out, size_t n, const char *client_key);

/* ---- streaming sessions (sp_stream) */
void sp_key_stream_user(char *out, size_t n, long long uid);      /* zset: live session ids */
void sp_key_stream_session(char *out, size_t n, const char *sid); /* hash: one session */
void sp_key_stream_devices(char *out, size_t n, long long uid);   /* set: registered devices */
/* The session keys' common start (scripts append the id), and the pattern of every user set. */
#define SP_KEY_STREAM_SESSION_PREFIX "ss:s:"
#define SP_KEY_STREAM_USER_PATTERN   "ss:u:*"
#define SP_KEY_STREAM_BOOT           "ss:boot" /* set once loaded; absent after a Redis restart */

/* ---- offline download licences (sp_download): a live licence's copy, "<user>|<content>",
 * living until the licence expires; deleted when it is revoked */
void sp_key_download(char *out, size_t n, long long licence_id);

/* ---- cache groups (sp_cache) */
void sp_key_group_version(char *out, size_t n, const char *group);
void sp_key_group_counter(char *out, size_t n, const char *group);
void sp_key_group_members(char *out, size_t n, const char *group);

/* ---- catalogue entries (group SP_GROUP_CATALOG); level is a scope (sp_level_scope: "2",
 * "2a13") or "{L}" */
void sp_key_catalog_list(char *out, size_t n, const char *level, const char *query_hash);
void sp_key_catalog_item(char *out, size_t n, long long content_id, const char *level);
void sp_key_catalog_meta(char *out, size_t n, long long content_id);

/* ---- one viewer's watch history answers, versioned with the catalogue (they name
 * titles), dropped with the generation bumped by every write (sp_cache_gen_*) */
void sp_key_history(char *out, size_t n, long long uid, const char *answer); /* "cw", ... */
void sp_key_history_gen(char *out, size_t n, long long uid);
/* ---- progress held for MariaDB (sp_history): the title's last write ("status|id|completed"),
 * living one event interval; a viewer's buffered positions (hash: title -> position); the
 * viewers with buffered positions (zset, scored by the first one's time in ms) */
void sp_key_progress_mark(char *out, size_t n, long long uid, long long content_id);
void sp_key_progress_buffer(char *out, size_t n, long long uid);
void sp_key_progress_dirty(char *out, size_t n);

/* ---- plan listings (group SP_GROUP_PLANS) */
void sp_key_plans_list(char *out, size_t n, int level, int sort, int desc);

/* ---- metrics (sp_metrics) */
#define SP_KEY_METRICS "metrics" /* hash: every series' total */
void sp_key_metrics_batch(char *out, size_t n, const char *process);

#endif
