/*
 * Cache-aside helpers over Redis: values with a TTL, grouped so that one
 * write can drop every cached page of a group (e.g. all plan listings),
 * with hits and misses counted for /metrics.
 */
#include "sp_cache.h"
#include "sp_kv.h"
#include "sp_metrics.h"

#include <stdio.h>

/*
 * The value and its membership of the group's key set are written together,
 * so a group drop can never miss a key that was just filled.
 */
static sp_kv_script put_script = {"cache_put",
                                  "redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))\n"
                                  "redis.call('SADD', KEYS[2], KEYS[1])\n"
                                  "redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]) + 60)\n"
                                  "return 1\n",
                                  ""};

static sp_kv_script drop_script = {"cache_drop",
                                   "local keys = redis.call('SMEMBERS', KEYS[1])\n"
                                   "for i = 1, #keys do redis.call('DEL', keys[i]) end\n"
                                   "redis.call('DEL', KEYS[1])\n"
                                   "return #keys\n",
                                   ""};

void sp_cache_put(const char *group, const char *key, const char *value, long ttl)
{
	char k[256], g[128], t[24];
	const char *argv[4];
	redisReply *rep;

	sp_kv_key(k, sizeof k, "%s", key);
	sp_kv_key(g, sizeof g, "%s:keys", group);
	snprintf(t, sizeof t, "%ld", ttl);
	argv[0] = k;
	argv[1] = g;
	argv[2] = value;
	argv[3] = t;
	rep = sp_kv_eval(&put_script, 2, 4, argv, NULL);
	if (rep)
		freeReplyObject(rep);
}

int sp_cache_drop_group(const char *group)
{
	char g[128];
	const char *argv[1];
	redisReply *rep;

	sp_kv_key(g, sizeof g, "%s:keys", group);
	argv[0] = g;
	rep = sp_kv_eval(&drop_script, 1, 1, argv, NULL);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

void sp_cache_count(const char *cache, int hit)
{
	char name[128];

	snprintf(name, sizeof name, "sp_cache_%s_total{cache=\"%s\"}", hit ? "hits" : "misses",
	         cache);
	sp_metrics_inc(name);
}

static const char *groups[8];
static int n_groups;

void sp_cache_register_group(const char *group)
{
	if (n_groups < 8)
		groups[n_groups++] = group;
}

void sp_cache_resync(void)
{
	for (int i = 0; i < n_groups; i++)
		sp_cache_drop_group(groups[i]);
}
