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
} sp_title;

/* The facts as cached, "level|renditions|seconds" (48 bytes are enough). */
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
 * 0 when a caller at l may watch a title at content_level; else -1 with
 * the 403 answered: SUBSCRIPTION_REQUIRED at Free, TIER_TOO_LOW above it.
 */
int sp_title_deny(sp_req *r, const sp_level *l, int content_level);

#endif
