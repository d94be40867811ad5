/*
 * A title's level and renditions for the request path, and the tier rule.
 */
#include "sp_title.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_metrics.h"

#include <stdio.h>

void sp_title_key(long long content_id, char *key, size_t n)
{
	sp_key_catalog_meta(key, n, content_id);
}

void sp_title_text(const sp_title *t, char *out, size_t n)
{
	snprintf(out, n, "%d|%d|%lld|%d", t->level, t->renditions, t->seconds, t->min_age);
}

int sp_title_get(sp_req *r, long long content_id, sp_title *t)
{
	sp_res res;
	char key[64], val[48];

	/* "level|renditions|seconds|min_age"; anything else (an older shape) is read again */
	if (r->prefetched && sscanf(r->prefetched, "%d|%d|%lld|%d", &t->level, &t->renditions,
	                            &t->seconds, &t->min_age) == 4) {
		sp_metrics_cache_lookup("catalog", 1);
		return t->level >= 0;
	}
	sp_metrics_cache_lookup("catalog", 0);
	if (sp_db_query(
	        &res,
	        "SELECT access_level, renditions, duration_min * 60, min_age FROM content WHERE "
	        "id = ? AND is_active = 1",
	        "l", content_id) != 0)
		return -1;
	/* a missing title is cached too (-1) */
	t->level = res.nrows ? (int)sp_res_ll(&res, 0, 0, 0) : -1;
	t->renditions = res.nrows ? (int)sp_res_ll(&res, 0, 1, 1) : 0;
	t->seconds = res.nrows ? sp_res_ll(&res, 0, 2, 0) : 0;
	t->min_age = res.nrows ? (int)sp_res_ll(&res, 0, 3, SP_AGE_MAX) : SP_AGE_MAX;
	sp_res_free(&res);
	sp_title_key(content_id, key, sizeof key);
	sp_title_text(t, val, sizeof val);
	sp_cache_put(SP_GROUP_CATALOG, key, val, 3600);
	return t->level >= 0;
}

int sp_title_age_hidden(const sp_level *l, int min_age)
{
	return l->age_cap != SP_AGE_NONE && min_age > l->age_cap;
}

int sp_level_age_limit(const sp_level *l)
{
	return l->age_cap == SP_AGE_NONE ? SP_AGE_MAX : l->age_cap;
}

int sp_title_admit(sp_req *r, long long content_id, sp_title *t, sp_level *l)
{
	switch (sp_title_get(r, content_id, t)) {
	case -1:
		return sp_fail_unavailable(r);
	case 0:
		return sp_fail(r, 404, "NOT_FOUND", "Content not found");
	}
	if (sp_level_get(r, l) != 0)
		return sp_fail_unavailable(r);
	return sp_title_deny(r, l, t);
}

int sp_title_deny(sp_req *r, const sp_level *l, const sp_title *t)
{
	char msg[128];

	if (sp_title_age_hidden(l, t->min_age))
		return sp_fail(r, 403, "AGE_RESTRICTED",
		               "This title is above the age limit set by parental controls");
	if (t->level <= l->level)
		return 0;
	snprintf(msg, sizeof msg, "This title needs the %s plan or higher", sp_tier_name(t->level));
	return sp_fail(r, 403, l->level == SP_LEVEL_FREE ? "SUBSCRIPTION_REQUIRED" : "TIER_TOO_LOW",
	               msg);
}
