/*
 * Content rows as the contract's JSON, shared by the catalogue's read and
 * write handlers (one program, sp-content).
 */
#ifndef CONTENT_JSON_H
#define CONTENT_JSON_H

#include <json-c/json.h>

#include "sp_db.h"
#include "sp_http.h"

/* Listing columns (alias content c), in the order content_item_json reads them. */
#define CONTENT_COLS                                                                               \
	"c.id, c.title, c.description, c.type, c.genres, c.access_level, c.duration_min, "         \
	"c.release_date, c.rating_avg, c.rating_count, c.age_rating, c.thumbnail_url, "            \
	"c.banner_url, c.trailer_url, c.director, c.language, c.renditions, c.is_featured, "       \
	"c.views"
#define CONTENT_NCOLS 19
/* Detail columns follow the listing columns. */
#define CONTENT_DETAIL_COLS                                                                        \
	CONTENT_COLS ", c.cast_members, c.producer, c.studio, c.subtitles, c.tags, c.likes, "      \
	             "c.is_active, c.created_at, c.updated_at"

#define CATALOG_GROUP "catalog"

/* A listing item; level is the caller's, for canAccess. */
json_object *content_item_json(const sp_res *res, size_t row, int level);
/* The detail object (listing fields plus cast, producer, studio, ...). */
json_object *content_detail_json(const sp_res *res, size_t row, int level);
/* Renditions bitmask (1 480p, 2 720p, 4 1080p, 8 4K) as ["480p", ...]. */
json_object *content_renditions_json(int mask);
/* A path id: digits only, else records a 400 and returns -1. */
int content_path_id(sp_req *r, long long *out);

#endif
