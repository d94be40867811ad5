/*
 * Access levels and the caller's effective plan: Free < Basic < Premium <
 * Ultimate as integers, resolved once per request from the gate's cache
 * answer or MariaDB, and republished the moment a subscription changes.
 */
#include "sp_tier.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *tiers[] = {"Free", "Basic", "Premium", "Ultimate"};
static const char *resolutions[] = {"480p", "720p", "1080p", "4K"};

const char *sp_tier_name(int level)
{
	return level >= 0 && level <= 3 ? tiers[level] : "Free";
}

int sp_tier_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcasecmp(s, tiers[i]) == 0)
			return i;
	return -1;
}

const char *sp_resolution_name(int r)
{
	return r >= 0 && r <= 3 ? resolutions[r] : "480p";
}

int sp_resolution_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcasecmp(s, resolutions[i]) == 0)
			return i;
	if (s && strcasecmp(s, "2160p") == 0)
		return 3;
	return -1;
}

const int sp_age_caps[SP_AGE_CAPS] = {0, 7, 10, 13, 14, 17, 18};

int sp_age_index(long long age)
{
	for (int i = 0; i < SP_AGE_CAPS; i++)
		if (sp_age_caps[i] == age)
			return i;
	return -1;
}

/*
 * Version prefix so a format change never misreads an old cache entry (L1
 * had no age cap: such an entry is read again from MariaDB). The plan name
 * comes last since it may hold '|'.
 */
void sp_level_encode(const sp_level *l, char *out, size_t outsz)
{
	snprintf(out, outsz, "L2|%d|%lld|%d|%d|%d|%lld|%lld|%d|%s", l->level, l->plan_id,
	         l->max_streams, l->max_devices, l->resolution, l->sub_id, (long long)l->end_ms,
	         l->age_cap, l->plan_name);
}

void sp_level_scope(const sp_level *l, char *out, size_t n)
{
	if (l->age_cap == SP_AGE_NONE)
		snprintf(out, n, "%d", l->level);
	else
		snprintf(out, n, "%da%d", l->level, l->age_cap);
}

int sp_level_scope_of(const char *cached, char *out, size_t n)
{
	sp_level l;

	if (sp_level_decode(cached, &l) != 0)
		return -1;
	sp_level_scope(&l, out, n);
	return 0;
}

int sp_level_decode(const char *s, sp_level *out)
{
	long long end = 0;
	int n = 0;

	memset(out, 0, sizeof *out);
	if (s == NULL || strncmp(s, "L2|", 3) != 0)
		return -1;
	if (sscanf(s + 3, "%d|%lld|%d|%d|%d|%lld|%lld|%d|%n", &out->level, &out->plan_id,
	           &out->max_streams, &out->max_devices, &out->resolution, &out->sub_id, &end,
	           &out->age_cap, &n) != 8 ||
	    n == 0)
		return -1;
	out->end_ms = end;
	sp_utf8_copy(out->plan_name, sizeof out->plan_name, s + 3 + n);
	if (out->level < 0 || out->level > 3 || out->resolution < 0 || out->resolution > 3 ||
	    (out->age_cap != SP_AGE_NONE &&
	     (sp_age_index(out->age_cap) < 0 || out->age_cap >= SP_AGE_MAX)))
		return -1;
	return 0;
}

/*
 * The user's parental age cap as a column of the level's query: SP_AGE_NONE
 * (-1) when controls are off or allow every title (18).
 */
#define AGE_CAP_COL                                                                                \
	"COALESCE((SELECT IF(pc.enabled = 1 AND pc.max_age < 18, pc.max_age, -1) FROM "            \
	"parental_controls pc WHERE pc.user_id = ?), -1)"

/* The columns of both level queries, in order. */
enum level_col {
	LC_SUB,
	LC_PLAN,
	LC_NAME,
	LC_LEVEL,
	LC_STREAMS,
	LC_DEVICES,
	LC_RES,
	LC_END,
	LC_AGE
};

static void level_from_row(const sp_res *res, sp_level *out)
{
	out->sub_id = sp_res_ll(res, 0, LC_SUB, 0);
	out->plan_id = sp_res_ll(res, 0, LC_PLAN, 0);
	sp_utf8_copy(out->plan_name, sizeof out->plan_name,
	             sp_res_str(res, 0, LC_NAME) ? sp_res_str(res, 0, LC_NAME) : "");
	out->level = (int)sp_res_ll(res, 0, LC_LEVEL, 0);
	out->max_streams = (int)sp_res_ll(res, 0, LC_STREAMS, 1);
	out->max_devices = (int)sp_res_ll(res, 0, LC_DEVICES, 1);
	out->resolution = (int)sp_res_ll(res, 0, LC_RES, 0);
	out->end_ms = sp_res_str(res, 0, LC_END) ? sp_parse_db_time(sp_res_str(res, 0, LC_END)) : 0;
	out->age_cap = (int)sp_res_ll(res, 0, LC_AGE, SP_AGE_NONE);
}

/* No Free plan configured at all: the most restrictive defaults, and the age cap alone. */
static int level_without_plan(long long uid, sp_level *out)
{
	sp_res res;

	out->level = 0;
	out->max_streams = 1;
	out->max_devices = 1;
	out->resolution = 0;
	snprintf(out->plan_name, sizeof out->plan_name, "Free");
	if (sp_db_query(&res, "SELECT " AGE_CAP_COL, "l", uid) != 0)
		return -1;
	out->age_cap = (int)sp_res_ll(&res, 0, 0, SP_AGE_NONE);
	sp_res_free(&res);
	return 0;
}

int sp_level_load(long long uid, sp_level *out)
{
	sp_res res;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->age_cap = SP_AGE_NONE;
	/* a paid (or any bought) subscription still inside its dates wins */
	if (sp_db_query(&res,
	                "SELECT s.id, p.id, p.name, p.access_level, p.max_streams, p.max_devices, "
	                "p.resolution, s.end_date, " AGE_CAP_COL " FROM subscriptions s JOIN plans "
	                "p ON p.id = s.plan_id WHERE s.user_id = ? AND s.status = 'active' AND "
	                "s.end_date > UTC_TIMESTAMP(3) ORDER BY s.start_date DESC LIMIT 1",
	                "ll", uid, uid) != 0)
		return -1;
	if (res.nrows == 0) {
		sp_res_free(&res);
		/* no subscription: the Free plan's limits (the active one at level 0 first) */
		if (sp_db_query(&res,
		                "SELECT 0, id, name, access_level, max_streams, max_devices, "
		                "resolution, NULL, " AGE_CAP_COL
		                " FROM plans WHERE access_level = 0 "
		                "ORDER BY is_active DESC, price, display_order LIMIT 1",
		                "l", uid) != 0)
			return -1;
	}
	if (res.nrows == 0)
		rc = level_without_plan(uid, out);
	else
		level_from_row(&res, out);
	if (out->sub_id == 0)
		out->level = SP_LEVEL_FREE;
	if (sp_age_index(out->age_cap) < 0)
		out->age_cap = SP_AGE_NONE;
	sp_res_free(&res);
	return rc;
}

static void cache_level(long long uid, const sp_level *l, int only_if_absent)
{
	char key[SP_KEY_MAX], val[SP_LEVEL_TEXT_MAX];

	sp_key_level(key, sizeof key, uid);
	sp_level_encode(l, val, sizeof val);
	sp_kv_set(key, val, strlen(val), sp_cfg.cache_ttl, only_if_absent ? SP_KV_NX : 0);
}

int sp_level_get(sp_req *r, sp_level *out)
{
	if (r->level_cached && sp_level_decode(r->level_cached, out) == 0) {
		/* a subscription that ended since it was cached no longer counts */
		if (out->sub_id == 0 || out->end_ms > sp_now_ms()) {
			out->from_cache = 1;
			sp_metrics_cache_lookup("level", 1);
			return 0;
		}
	}
	sp_metrics_cache_lookup("level", 0);
	if (sp_level_load(r->user_id, out) != 0)
		return -1;
	cache_level(r->user_id, out, 1);
	return 0;
}

void sp_level_publish(long long uid)
{
	sp_level l;

	if (sp_level_load(uid, &l) == 0) {
		cache_level(uid, &l, 0);
	} else {
		/* cannot recompute: at least never serve the old value */
		char key[SP_KEY_MAX];
		sp_key_level(key, sizeof key, uid);
		sp_kv_del(key, NULL);
	}
}

json_object *sp_level_plan_json(const sp_level *l)
{
	json_object *p = json_object_new_object();
	char id[24];

	snprintf(id, sizeof id, "%lld", l->plan_id);
	json_object_object_add(p, "id", l->plan_id ? json_object_new_string(id) : NULL);
	json_object_object_add(p, "name", json_object_new_string(l->plan_name));
	json_object_object_add(p, "accessLevel", json_object_new_string(sp_tier_name(l->level)));
	json_object_object_add(p, "maxConcurrentStreams", json_object_new_int(l->max_streams));
	json_object_object_add(p, "maxDevicesAllowed", json_object_new_int(l->max_devices));
	json_object_object_add(p, "resolution",
	                       json_object_new_string(sp_resolution_name(l->resolution)));
	return p;
}
