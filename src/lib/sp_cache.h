/*
 * Cache-aside helpers over Redis: values with a TTL, grouped so that one
 * write can drop every cached page of a group (e.g. all plan listings),
 * with hits and misses counted for /metrics.
 */
#ifndef SP_CACHE_H
#define SP_CACHE_H

/* Stores key (without prefix) in group with a TTL; best effort. */
void sp_cache_put(const char *group, const char *key, const char *value, long ttl);
/* Drops every key stored in group; 0 ok, -1 Redis unreachable. */
int sp_cache_drop_group(const char *group);
/* Counts a lookup for the hit ratio. */
void sp_cache_count(const char *cache, int hit);

/*
 * Registers a group this program caches; every registered group is dropped
 * after Redis reconnects, since a drop may have been missed while it was away.
 */
void sp_cache_register_group(const char *group);
void sp_cache_resync(void);

#endif
