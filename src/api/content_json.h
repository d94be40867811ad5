/*
 * What the catalogue's files share (one program, sp-content): content rows
 * as the contract's JSON, and the inputs of its routes (declared in the
 * route table of content.c, parsed in the file that answers them).
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
/* Detail columns follow the listing columns. */
#define CONTENT_DETAIL_COLS                                                                        \
	CONTENT_COLS ", c.cast_members, c.producer, c.studio, c.subtitles, c.tags, c.likes, "      \
	             "c.is_active, c.created_at, c.updated_at, c.min_age"

/* The columns of CONTENT_COLS, then of CONTENT_DETAIL_COLS, by name. */
enum content_col {
	CC_ID,
	CC_TITLE,
	CC_DESCRIPTION,
	CC_TYPE,
	CC_GENRES,
	CC_ACCESS_LEVEL,
	CC_DURATION,
	CC_RELEASE_DATE,
	CC_RATING_AVG,
	CC_RATING_COUNT,
	CC_AGE_RATING,
	CC_THUMBNAIL_URL,
	CC_BANNER_URL,
	CC_TRAILER_URL,
	CC_DIRECTOR,
	CC_LANGUAGE,
	CC_RENDITIONS,
	CC_FEATURED,
	CC_VIEWS,
	CC_CAST, /* detail columns from here */
	CC_PRODUCER,
	CC_STUDIO,
	CC_SUBTITLES,
	CC_TAGS,
	CC_LIKES,
	CC_ACTIVE,
	CC_CREATED_AT,
	CC_UPDATED_AT,
	CC_MIN_AGE, /* the minimum viewer age of its rating (parental controls) */
};

/* The body of a title's create or update; has_* says which fields were given. */
struct content_in {
	char title[801], description[20001], type[16], release[11], age[41], thumb[2001],
	    banner[2001], trailer[2001], director[801], producer[801], studio[801], lang[81];
	json_object *genres, *cast, *subtitles,
	    *tags; /* cleaned copies, owned: content_in_release */
	long long duration;
	int level, renditions, featured, active;
	int has_title, has_description, has_type, has_release, has_age, has_thumb, has_banner,
	    has_trailer, has_director, has_producer, has_studio, has_lang, has_duration, has_level,
	    has_renditions, has_featured, has_active;
};

/* An update: the title in the path and the fields to change. */
struct content_update_in {
	long long id;
	struct content_in body;
};

/* A title named in the path. */
struct content_id_in {
	long long id;
};

/* A listing item; level is the caller's, for canAccess. */
json_object *content_item_json(const sp_res *res, size_t row, int level);
/* The detail object (listing fields plus cast, producer, studio, ...). */
json_object *content_detail_json(const sp_res *res, size_t row, int level);
/* Renditions bitmask (1 480p, 2 720p, 4 1080p, 8 4K) as ["480p", ...]. */
json_object *content_renditions_json(int mask);
/* The input of a route naming a title in its path (sp_parse_fn over struct content_id_in). */
int content_parse_id(sp_req *r, void *in);
/* "movie", "series", ... -> 0..4, else -1; names[] holds them. */
int content_type_parse(const char *s);
extern const char *const content_types[5];

#endif
