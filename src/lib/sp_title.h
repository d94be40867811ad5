/*
 * What a request naming a title needs of it before anything else: whether
 * it exists and is active, its level, renditions and length, cached with the
 * catalogue (dropped by any content write); and the tier rule that says
 * whether the caller may watch it.
 */
#ifndef SP_TITLE_H
#define SP_TITLE_H

#include "sp_http.h"
#include "sp_tier.h"

#include <stddef.h>

typedef struct sp_title {
	int level;         /* 0 Free .. 3 Ultimate */
	int renditions;    /* bitmask: 1 480p, 2 720p, 4 1080p, 8 4K */
	long long seconds; /* its length */
	int min_age;       /* the minimum viewer age of its rating (content.min_age) */
} sp_title;

/* The facts as cached, "level|renditions|seconds|min_age" (48 bytes are enough). */
void sp_title_text(const sp_title *t, char *out, size_t n);
/* The cache key to prefetch in the gate's round trip (a route's prefetch hook). */
void sp_title_key(long long content_id, char *key, size_t n);
/*
 * 1 found (t filled), 0 no such active title, -1 MariaDB down. Reads what
 * the gate prefetched when it can; a miss is read from MariaDB and cached,
 * an absent title too, so junk ids cannot hammer MariaDB.
 */
int sp_title_get(sp_req *r, long long content_id, sp_title *t);
/*
 * The rule for every request that plays or keeps a title (stream start,
 * progress writes, downloads): 0 when a caller at l may have title t; else
 * -1 with the 403 answered. Checked in this order: the parental age cap
 * first (AGE_RESTRICTED: the title is hidden from this account altogether,
 * so no plan is offered for it), then the level (SUBSCRIPTION_REQUIRED at
 * Free, TIER_TOO_LOW above it). A new rule reads a new field of t or l.
 */
int sp_title_deny(sp_req *r, const sp_level *l, const sp_title *t);
/*
 * The whole check of a request about one title: the title (404 NOT_FOUND
 * when there is no such active title), the caller's level, then
 * sp_title_deny. 0 allowed, t and l filled; -1 answered (404, 403, 503).
 */
int sp_title_admit(sp_req *r, long long content_id, sp_title *t, sp_level *l);
/* 1 when the age cap of l hides a title of min_age (the listings' "c.min_age <= ?"). */
int sp_title_age_hidden(const sp_level *l, int min_age);
/* The value for "c.min_age <= ?": the cap, or SP_AGE_MAX when there is none. */
int sp_level_age_limit(const sp_level *l);

#endif
