/*
 * The per-request gate: rate limits, token revocation, token version and one
 * prefetched cache value, answered by a single Redis round trip.
 */
#ifndef SP_GATE_H
#define SP_GATE_H

#include "sp_auth.h"
#include "sp_http.h"
#include "sp_router.h"

/*
 * Counts r against its rate-limit rules and, when claims is non-NULL,
 * checks that the token is still good. Returns 0 to go on; otherwise the
 * response (429, 401 or 503) has been set. With peek set nothing is counted
 * (preflight). Redis down: limits fail open, token checks use MariaDB.
 */
int sp_gate(sp_req *r, const sp_route *route, const sp_claims *claims, int peek);

/*
 * After Redis (re)connects: replays into Redis what the gate reads (the
 * revocation marks, and the token version, cached documents and level of
 * users changed within a cache lifetime). Registered by sp_app_main.
 */
void sp_gate_resync(void);

/* Prefetch of the caller's own "<kind>:<uid>" documents. */
int sp_prefetch_me(sp_req *r, long long uid, char *key, size_t n);
int sp_prefetch_sub(sp_req *r, long long uid, char *key, size_t n);

#endif
