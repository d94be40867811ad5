/*
 * Access levels and the caller's effective plan: Free < Basic < Premium <
 * Ultimate as integers, resolved once per request from the gate's cache
 * answer or MariaDB, and republished the moment a subscription changes.
 */
#ifndef SP_TIER_H
#define SP_TIER_H

#include <stdint.h>

#include <json-c/json.h>

#include "sp_http.h"

#define SP_LEVEL_FREE     0
#define SP_LEVEL_ULTIMATE 3
/* No parental age cap: controls off, or a cap of 18 (every title is at most 18). */
#define SP_AGE_NONE (-1)
#define SP_AGE_MAX  18
/* The age caps parental controls allow, in order; SP_AGE_CAPS of them. */
#define SP_AGE_CAPS 7
extern const int sp_age_caps[SP_AGE_CAPS];
/* The index of age in sp_age_caps, or -1. */
int sp_age_index(long long age);

typedef struct sp_level {
	int level;           /* 0..3 */
	long long plan_id;   /* the plan in force (the Free plan when none is bought) */
	char plan_name[201]; /* up to 50 characters of up to 4 bytes */
	int max_streams;
	int max_devices;
	int resolution;   /* 0 480p, 1 720p, 2 1080p, 3 4K */
	long long sub_id; /* 0 when no paid subscription is active */
	int64_t end_ms;   /* end of the active subscription, 0 if none */
	int age_cap;      /* parental controls' maximum age, SP_AGE_NONE when nothing is hidden */
	int from_cache;   /* set by sp_level_get: answered from the gate's cached value */
} sp_level;

const char *sp_tier_name(int level);
/* "Free".."Ultimate" (case-insensitive) -> 0..3, else -1. */
int sp_tier_parse(const char *s);
const char *sp_resolution_name(int r);
/* "480p", "720p", "1080p", "4K" (also "2160p") -> 0..3, else -1. */
int sp_resolution_parse(const char *s);

/* The caller's level: cache answer from the gate if fresh, else MariaDB (and cache it). */
int sp_level_get(sp_req *r, sp_level *out);
/* Straight from MariaDB. 0 ok, -1 unavailable. */
int sp_level_load(long long uid, sp_level *out);
/*
 * The catalogue scope of a level: the pages a caller may be shown depend on
 * the level and the age cap only. "<level digit>" without a cap (the keys
 * every account without controls shares), "<digit>a<cap>" with one.
 * SP_SCOPE_MAX bytes hold any scope.
 */
#define SP_SCOPE_MAX 8
void sp_level_scope(const sp_level *l, char *out, size_t n);
/* The scope of a cached level's text; -1 when it does not decode. */
int sp_level_scope_of(const char *cached, char *out, size_t n);
/* After a committed change: recompute from MariaDB and overwrite the cache. */
void sp_level_publish(long long uid);
/* The contract's plan summary of a level {id, name, accessLevel, ...}. */
json_object *sp_level_plan_json(const sp_level *l);

/*
 * The cached level's rendition cap as Lua, for scripts that are handed the
 * cached level (the gate's heartbeat step): level_cap(cached level, now ms)
 * -> the plan's resolution digit while the level is valid (as sp_level_get
 * judges it: no subscription, or one not past its end), else '' (unknown:
 * the caller must load the level from MariaDB).
 */
#define SP_TIER_CAP_LUA                                                                            \
	"local function level_cap(level, now)\n"                                                   \
	"  local res, sub, fin = string.match(level or '', "                                       \
	"'^L2|%d|%-?%d+|%-?%d+|%-?%d+|(%d)|(%d+)|(%-?%d+)|')\n"                                    \
	"  if not res then return '' end\n"                                                        \
	"  if sub ~= '0' and tonumber(fin) <= tonumber(now) then return '' end\n"                  \
	"  return res\n"                                                                           \
	"end\n"

/*
 * The cached level's catalogue scope as Lua, exactly as sp_level_scope
 * writes it: level_scope(cached level) -> "2", "2a13", or nil (no level).
 */
#define SP_TIER_SCOPE_LUA                                                                          \
	"local function level_scope(level)\n"                                                      \
	"  local lv, age = string.match(level or '', "                                             \
	"'^L2|(%d)|%-?%d+|%-?%d+|%-?%d+|%d|%d+|%-?%d+|(%-?%d+)|')\n"                               \
	"  if not lv then return nil end\n"                                                        \
	"  if age == '-1' then return lv end\n"                                                    \
	"  return lv .. 'a' .. age\n"                                                              \
	"end\n"

/* Serialisation of the cached form (exposed for tests): numbers and a plan name of up to 200
 * bytes fit in SP_LEVEL_TEXT_MAX. */
#define SP_LEVEL_TEXT_MAX 384
void sp_level_encode(const sp_level *l, char *out, size_t outsz);
int sp_level_decode(const char *s, sp_level *out);

#endif
