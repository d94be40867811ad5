/*
 * Offline download licences: one device may keep one title for
 * download.ttl_days. MariaDB holds every licence and decides admission
 * under the user's row lock; Redis holds a copy of each live one for the
 * media authorizer, deleted when the licence is revoked.
 */
#ifndef SP_DOWNLOAD_H
#define SP_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sp_tier.h"

typedef struct sp_licence {
	long long id;
	long long user_id;
	long long content_id;
	char device_id[129];
	int quality;        /* 0 480p .. 3 4K: the most its media token may fetch */
	int64_t created_ms; /* first issued */
	int64_t expires_ms;
} sp_licence;

/* A device that asks for a licence, as the device rules of streaming register it. */
typedef struct sp_download_device {
	const char *id;
	const char *name; /* NULL: keep a known device's, name a new one by its id */
	const char *type; /* NULL likewise */
} sp_download_device;

enum sp_download_rc {
	SP_DOWNLOAD_ISSUED,       /* a new licence */
	SP_DOWNLOAD_RENEWED,      /* the device's live licence for the title, new expiry */
	SP_DOWNLOAD_NOT_ALLOWED,  /* the plan allows no downloads */
	SP_DOWNLOAD_DEVICE_LIMIT, /* a new device beyond maxDevicesAllowed */
	SP_DOWNLOAD_LIMIT,        /* maxDownloads live licences held: *live lists them */
	SP_DOWNLOAD_ERROR,        /* MariaDB failed: 503 */
};

/*
 * Admits d (user, content, device id and quality filled in) for the plan
 * of l, in one MariaDB transaction under the user's row lock: the plan's
 * downloadAllowed and maxDownloads (read from the plan row), the device
 * rule of streaming, then the live licences are counted; the same device
 * and title renew their live licence (same id) and never count twice.
 * Fills d's id, created_ms and expires_ms on ISSUED and RENEWED; *max is
 * the plan's maxDownloads; on LIMIT *live / *n_live hold the live
 * licences, oldest first (free with free()).
 */
enum sp_download_rc sp_download_admit(const sp_level *l, const sp_download_device *dev,
                                      sp_licence *d, int *max, sp_licence **live, size_t *n_live);
/* The user's live licences, oldest first (free with free()). 0 ok, -1 MariaDB down. */
int sp_download_list(long long uid, sp_licence **out, size_t *n);
/* Revokes the user's live licence id: 1 revoked, 0 none such (or another user's), -1 down. */
int sp_download_revoke(long long uid, long long id);
/*
 * Revokes the user's newest live licences beyond max (the plan now in
 * force), inside the caller's transaction, taking the user's row lock;
 * their ids are added to ids. After the commit call sp_download_forget
 * with the same ids. The number revoked, or -1 on a database error.
 */
int sp_download_trim(long long uid, int max, json_object *ids);
/* Deletes the Redis copies of the licence ids (a JSON array of strings or integers). */
void sp_download_forget(json_object *ids);
/* The plan's allowance: maxDownloads, 0 when downloadAllowed is false; -1 MariaDB down. */
int sp_download_allowance(long long plan_id);
/*
 * For the media authorizer: 1 when licence id is live for content_id,
 * 0 not (revoked, expired, another title), -1 neither Redis nor MariaDB
 * answered. Redis's copy first; without it MariaDB's row decides.
 */
int sp_download_is_live(long long id, long long content_id);
/* After Redis (re)connects: deletes the copies of licences revoked while it was away. */
void sp_download_resync(void);

#endif
