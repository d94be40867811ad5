/*
 * Cache-aside helpers over Redis: values with a TTL, grouped so that one
 * write can drop every cached page of a group (e.g. all plan listings),
 * whose callers count hits and misses with sp_metrics_cache_lookup.
 *
 * One group per program may also be kept as process-local copies. Every
 * drop of a group gives it a new version (a Redis key); the gate reads that
 * version in its round trip and answers "your copy is current" instead of
 * sending the value again. A copy is only ever used under the version it
 * was read or filled under, and never past the Redis value's own expiry.
 */
#ifndef SP_CACHE_H
#define SP_CACHE_H

#include <stddef.h>

#include "sp_metrics.h" /* lookups are counted with sp_metrics_cache_lookup */

/*
 * Stores key (a name: sp_kv adds the prefix) in group with a TTL; best effort. A key may
 * hold "{V}", the group's version: such a key is stored only when the gate
 * read that group's version in this request, under that version, so a
 * value can never be found under a later version. Whenever the gate read
 * the group's version in this request, the value is stored only if that
 * version is still current (a page read before a concurrent write cannot
 * come back after the write's drop); for the program's local group it is
 * then kept in the process as well.
 */
void sp_cache_put(const char *group, const char *key, const char *value, long ttl);
/*
 * Lua defining newver(verkey, seqkey): gives a group a new version, unique
 * even across a Redis restart that lost the old one (time plus a counter).
 */
#define SP_CACHE_VER_LUA                                                                           \
	"local function newver(vk, sk)\n"                                                          \
	"  local t = redis.call('TIME')\n"                                                         \
	"  local v = t[1] .. '.' .. t[2] .. '.' .. redis.call('INCR', sk)\n"                       \
	"  redis.call('SET', vk, v)\n"                                                             \
	"  return v\n"                                                                             \
	"end\n"
/*
 * Entries of one owner (e.g. a viewer's watch history) that every write of
 * the owner drops at once, without the cache-aside race: a reader takes
 * the owner's generation before it reads MariaDB and stores its value only
 * if the generation is unchanged; a writer, after its commit, bumps the
 * generation and deletes the entries. A value read before a write can
 * therefore never be stored after it. Their names carry "{V}", the
 * version of group (e.g. the catalogue, when they name titles): a drop of
 * the group leaves them unreachable, and they are stored only under the
 * version the gate read in this request, if it is still current.
 *
 * sp_cache_gen_read: the generation into out (made if missing); -1 when
 * Redis is unreachable (then store nothing).
 */
int sp_cache_gen_read(const char *genkey, char *out, size_t n);
void sp_cache_gen_put(const char *group, const char *genkey, const char *gen, const char *key,
                      const char *value, long ttl);
/* Bumps genkey and deletes the n (<= 4) keys under group's current version; 0 ok, -1 Redis
 * unreachable. */
int sp_cache_gen_drop(const char *genkey, const char *group, const char *const *keys, size_t n);
/*
 * The same drop inside a larger script: gen_drop(genkey, group version key,
 * names), the names as sp_cache_gen_name gives them ("{V}" still in them,
 * filled there with the group's current version).
 */
#define SP_CACHE_GEN_TTL "86400" /* a generation outlives any entry it guards */
#define SP_CACHE_GEN_DROP_LUA                                                                      \
	"local function gen_drop(kgen, kver, names)\n"                                             \
	"  redis.call('INCR', kgen)\n"                                                             \
	"  redis.call('EXPIRE', kgen, " SP_CACHE_GEN_TTL ")\n"                                     \
	"  local ver = redis.call('GET', kver)\n"                                                  \
	"  if not ver then return end\n"                                                           \
	"  for _, name in ipairs(names) do\n"                                                      \
	"    redis.call('DEL', (string.gsub(name, '{V}', function() return ver end)))\n"           \
	"  end\n"                                                                                  \
	"end\n"
/* key's full name as a script argument for gen_drop (the prefix added). */
void sp_cache_gen_name(const char *key, char *out, size_t n);

/* Drops every key stored in group and gives the group a new version; 0 ok, -1 Redis unreachable. */
int sp_cache_drop_group(const char *group);

/*
 * Registers a group this program caches; every registered group is dropped
 * after Redis reconnects (sp_cache_resync, registered with sp_kv_on_connect
 * here), since a drop may have been missed while it was away.
 */
void sp_cache_register_group(const char *group);
void sp_cache_resync(void);

/*
 * Process-local copies (used by the gate). sp_cache_local enables them for
 * one group of this program, bounded by cache.local_bytes.
 */
void sp_cache_local(const char *group);
/* The local group, or NULL when local copies are off. */
const char *sp_cache_local_group(void);
/* The group version the copies belong to ("" none yet). */
const char *sp_cache_local_version(void);
/* A live copy of key (its name, as in sp_cache_put once "{V}" is filled), or NULL; *len its length.
 */
const char *sp_cache_local_get(const char *key, size_t *len);
/*
 * The gate read group's version ver for this request: puts of the group in
 * this request are checked against it, and for the local group copies of
 * any other version are dropped.
 */
void sp_cache_seen(const char *group, const char *ver, size_t len);
/* Keeps a copy of key (its name) valid for ttl_ms, if this request read the copies' version. */
void sp_cache_local_store(const char *key, const char *val, size_t len, long long ttl_ms);
/* Forgets the version seen by the previous request. */
void sp_cache_req_begin(void);
/* Drops every local copy (tests). */
void sp_cache_local_clear(void);

#endif
