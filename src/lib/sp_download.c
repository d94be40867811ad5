/*
 * Offline download licences: admission, listing and revocation in MariaDB
 * under the user's row lock, and the Redis copy the media authorizer reads.
 */
#include "sp_download.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_kv.h"
#include "sp_stream.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- reading licences */

#define LICENCE_COLS                                                                               \
	"id, user_id, content_id, device_id, quality, "                                            \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000, "                          \
	"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', expires_at) DIV 1000"
enum licence_col { LC_ID, LC_USER, LC_CONTENT, LC_DEVICE, LC_QUALITY, LC_CREATED, LC_EXPIRES };

/* A licence is live while neither revoked nor expired. */
#define LIVE_WHERE "user_id = ? AND revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)"

static void licence_from_row(const sp_res *res, size_t i, sp_licence *d)
{
	memset(d, 0, sizeof *d);
	d->id = sp_res_ll(res, i, LC_ID, 0);
	d->user_id = sp_res_ll(res, i, LC_USER, 0);
	d->content_id = sp_res_ll(res, i, LC_CONTENT, 0);
	snprintf(d->device_id, sizeof d->device_id, "%s",
	         sp_res_str(res, i, LC_DEVICE) ? sp_res_str(res, i, LC_DEVICE) : "");
	d->quality = (int)sp_res_ll(res, i, LC_QUALITY, 0);
	d->created_ms = sp_res_ll(res, i, LC_CREATED, 0);
	d->expires_ms = sp_res_ll(res, i, LC_EXPIRES, 0);
}

static int live_rows(long long uid, const char *order, sp_licence **out, size_t *n)
{
	sp_res res;
	int rc =
	    strcmp(order, "newest") == 0
	        ? sp_db_query(&res,
	                      "SELECT " LICENCE_COLS " FROM download_licences WHERE " LIVE_WHERE
	                      " ORDER BY created_at DESC, id DESC",
	                      "l", uid)
	        : sp_db_query(&res,
	                      "SELECT " LICENCE_COLS " FROM download_licences WHERE " LIVE_WHERE
	                      " ORDER BY created_at, id",
	                      "l", uid);

	if (rc != 0)
		return -1;
	*out = sp_xcalloc(res.nrows ? res.nrows : 1, sizeof **out);
	for (size_t i = 0; i < res.nrows; i++)
		licence_from_row(&res, i, &(*out)[i]);
	*n = res.nrows;
	sp_res_free(&res);
	return 0;
}

int sp_download_list(long long uid, sp_licence **out, size_t *n)
{
	return live_rows(uid, "oldest", out, n);
}

int sp_download_allowance(long long plan_id)
{
	sp_res res;
	int max = 0;

	if (sp_db_query(&res,
	                "SELECT IF(download_allowed = 1, max_downloads, 0) FROM plans WHERE id = ?",
	                "l", plan_id) != 0)
		return -1;
	if (res.nrows == 1)
		max = (int)sp_res_ll(&res, 0, 0, 0);
	sp_res_free(&res);
	return max;
}

/* ---------------------------------------------------------------- the Redis copy */

/* "<content>" while the licence is live: the key lives exactly until it expires. */
static void copy_put(const sp_licence *d)
{
	char key[SP_KEY_MAX], val[24];
	long ttl = (long)((d->expires_ms - sp_now_ms() + 999) / 1000);
	int len = snprintf(val, sizeof val, "%lld", d->content_id);

	sp_key_download(key, sizeof key, d->id);
	if (ttl > 0)
		sp_kv_set(key, val, (size_t)len, ttl, 0);
}

/* Whether the copy names this title: 1 yes, 0 no copy (or another title), -1 no answer. */
static sp_kv_script live_script = {"download_live",
                                   "local v = redis.call('GET', KEYS[1])\n"
                                   "if v and v == ARGV[1] then return 1 end\n"
                                   "return 0\n",
                                   ""};

static int copy_live(long long id, long long content_id)
{
	char key[SP_KEY_MAX], cid[24];
	sp_kv_result *res;
	long long v;

	sp_key_download(key, sizeof key, id);
	snprintf(cid, sizeof cid, "%lld", content_id);
	const char *keys[] = {key};
	const char *args[] = {cid};
	res = sp_kv_run(&live_script, 1, keys, 1, args);
	v = sp_kv_failed(res) ? -1 : sp_kv_int(res, -1);
	sp_kv_free(res);
	return (int)v;
}

static void copy_drop(long long id)
{
	char key[SP_KEY_MAX];

	sp_key_download(key, sizeof key, id);
	sp_kv_del(key, NULL);
}

void sp_download_forget(json_object *ids)
{
	size_t n = ids ? json_object_array_length(ids) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(ids, i);
		long long id = json_object_is_type(v, json_type_string)
		                   ? atoll(json_object_get_string(v))
		                   : (long long)json_object_get_int64(v);
		if (id > 0)
			copy_drop(id);
	}
}

/*
 * Redis first: a copy is written only by admission (before its commit, under
 * the row lock) and deleted by revocation (after its commit), so a copy
 * means live. No copy (never written while Redis was away, or revoked) or
 * no answer: MariaDB's row decides.
 */
int sp_download_is_live(long long id, long long content_id)
{
	sp_res res;
	int live;

	if (copy_live(id, content_id) == 1)
		return 1;
	if (sp_db_query(&res,
	                "SELECT 1 FROM download_licences WHERE id = ? AND content_id = ? AND "
	                "revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)",
	                "ll", id, content_id) != 0)
		return -1;
	live = res.nrows == 1;
	sp_res_free(&res);
	return live;
}

/*
 * A revocation whose delete found Redis away leaves a copy that may come
 * back with it: every (re)connect deletes the copies of licences revoked
 * and not yet expired (only those could still be read as live).
 */
void sp_download_resync(void)
{
	sp_res res;

	if (sp_db_query(&res,
	                "SELECT id FROM download_licences WHERE revoked_at IS NOT NULL AND "
	                "expires_at > UTC_TIMESTAMP(3)",
	                "") != 0)
		return;
	for (size_t i = 0; i < res.nrows; i++)
		copy_drop(sp_res_ll(&res, i, 0, 0));
	sp_res_free(&res);
}

/* ---------------------------------------------------------------- admission */

static int lock_user(long long uid)
{
	sp_res res;

	if (sp_db_query(&res, "SELECT id FROM users WHERE id = ? FOR UPDATE", "l", uid) != 0)
		return -1;
	sp_res_free(&res);
	return 0;
}

/* The device's live licence for the title among live, or NULL. */
static const sp_licence *same_licence(const sp_licence *live, size_t n, const sp_licence *d)
{
	for (size_t i = 0; i < n; i++)
		if (live[i].content_id == d->content_id &&
		    strcmp(live[i].device_id, d->device_id) == 0)
			return &live[i];
	return NULL;
}

/* Renews (d->id set) or inserts d, valid download.ttl_days from now. 0 ok. */
static int write_licence(sp_licence *d)
{
	char now[32], exp[32];
	int64_t now_ms = sp_now_ms();

	/* whole seconds: the media token's exp is the same instant */
	d->expires_ms = (now_ms / 1000 + sp_cfg.download_ttl_days * 86400) * 1000;
	sp_db_time(now_ms, now);
	sp_db_time(d->expires_ms, exp);
	if (d->id)
		return sp_db_exec("UPDATE download_licences SET expires_at = ?, renewed_at = ?, "
		                  "quality = ? WHERE id = ?",
		                  "ssil", exp, now, d->quality, d->id) == 1
		           ? 0
		           : -1;
	if (sp_db_exec("INSERT INTO download_licences (user_id, content_id, device_id, quality, "
	               "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
	               "llsiss", d->user_id, d->content_id, d->device_id, d->quality, now,
	               exp) != 1)
		return -1;
	d->id = (long long)sp_db_insert_id();
	d->created_ms = now_ms;
	return 0;
}

/* Inside the transaction: what the plan, the device rule and the count say. */
static enum sp_download_rc locked_admit(const sp_level *l, const sp_download_device *dev,
                                        sp_licence *d, int *max, sp_licence **live, size_t *n_live)
{
	const sp_licence *same;
	sp_licence *cur = NULL;
	size_t n = 0;
	int dev_ok;
	enum sp_download_rc rc = SP_DOWNLOAD_ERROR;

	if (lock_user(d->user_id) != 0 || (*max = sp_download_allowance(l->plan_id)) < 0)
		return SP_DOWNLOAD_ERROR;
	if (*max == 0)
		return SP_DOWNLOAD_NOT_ALLOWED;
	dev_ok = sp_stream_device_claim(l, d->user_id, dev->id, dev->name, dev->type);
	if (dev_ok <= 0)
		return dev_ok == 0 ? SP_DOWNLOAD_DEVICE_LIMIT : SP_DOWNLOAD_ERROR;
	if (live_rows(d->user_id, "oldest", &cur, &n) != 0)
		return SP_DOWNLOAD_ERROR;
	same = same_licence(cur, n, d);
	if (same) {
		d->id = same->id;
		d->created_ms = same->created_ms;
		rc = write_licence(d) == 0 ? SP_DOWNLOAD_RENEWED : SP_DOWNLOAD_ERROR;
	} else if ((long long)n >= *max) {
		*live = cur;
		*n_live = n;
		return SP_DOWNLOAD_LIMIT;
	} else {
		rc = write_licence(d) == 0 ? SP_DOWNLOAD_ISSUED : SP_DOWNLOAD_ERROR;
	}
	free(cur);
	return rc;
}

/*
 * One transaction under the user's row lock, whether Redis is up or not:
 * every admission of a user waits for the one before, so the count is
 * exact. The Redis copy is written before the commit, while the lock is
 * held, so a revocation (which takes the same lock and deletes the copy
 * after its own commit) can never be overtaken by it.
 */
enum sp_download_rc sp_download_admit(const sp_level *l, const sp_download_device *dev,
                                      sp_licence *d, int *max, sp_licence **live, size_t *n_live)
{
	enum sp_download_rc rc;

	*live = NULL;
	*n_live = 0;
	*max = 0;
	d->id = 0;
	if (sp_db_begin() != 0)
		return SP_DOWNLOAD_ERROR;
	rc = locked_admit(l, dev, d, max, live, n_live);
	if (rc != SP_DOWNLOAD_ISSUED && rc != SP_DOWNLOAD_RENEWED) {
		sp_db_rollback();
		return rc;
	}
	copy_put(d);
	if (sp_db_commit() != 0) {
		sp_db_rollback();
		copy_drop(d->id);
		return SP_DOWNLOAD_ERROR;
	}
	/* a new device may have been registered: Redis's device set is read again */
	sp_stream_forget_devices(d->user_id);
	return rc;
}

/* ---------------------------------------------------------------- revocation */

int sp_download_revoke(long long uid, long long id)
{
	long long n;

	if (sp_db_begin() != 0 || lock_user(uid) != 0)
		goto fail;
	n = sp_db_exec("UPDATE download_licences SET revoked_at = UTC_TIMESTAMP(3), revoke_reason "
	               "= 'deleted' WHERE id = ? AND " LIVE_WHERE,
	               "ll", id, uid);
	if (n < 0 || sp_db_commit() != 0)
		goto fail;
	if (n == 1)
		copy_drop(id);
	return n == 1 ? 1 : 0;
fail:
	sp_db_rollback();
	return -1;
}

int sp_download_trim(long long uid, int max, json_object *ids)
{
	sp_licence *cur = NULL;
	size_t n = 0, keep = max > 0 ? (size_t)max : 0;
	int revoked = 0;

	if (lock_user(uid) != 0 || live_rows(uid, "newest", &cur, &n) != 0)
		return -1;
	/* newest first: the oldest max licences are kept */
	for (size_t i = 0; i + keep < n; i++) {
		char id[24];
		if (sp_db_exec("UPDATE download_licences SET revoked_at = UTC_TIMESTAMP(3), "
		               "revoke_reason = 'plan' WHERE id = ? AND revoked_at IS NULL",
		               "l", cur[i].id) < 0) {
			revoked = -1;
			break;
		}
		snprintf(id, sizeof id, "%lld", cur[i].id);
		json_object_array_add(ids, json_object_new_string(id));
		revoked++;
	}
	free(cur);
	return revoked;
}
