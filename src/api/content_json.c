/*
 * Content rows as the contract's JSON, shared by the catalogue's read and
 * write handlers (one program, sp-content).
 */
#include "content_json.h"
#include "sp_sub.h"
#include "sp_tier.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *parse_array(const char *text)
{
	json_object *a = text ? json_tokener_parse(text) : NULL;

	if (a == NULL || !json_object_is_type(a, json_type_array)) {
		if (a)
			json_object_put(a);
		a = json_object_new_array();
	}
	return a;
}

/* DATE "2025-01-08" as the contract's timestamp form, midnight UTC. */
static json_object *date_json(const char *d)
{
	char buf[40];

	if (d == NULL || strlen(d) != 10)
		return NULL;
	snprintf(buf, sizeof buf, "%sT00:00:00.000Z", d);
	return json_object_new_string(buf);
}

json_object *content_renditions_json(int mask)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < 4; i++)
		if (mask & (1 << i))
			json_object_array_add(a, json_object_new_string(sp_resolution_name(i)));
	return a;
}

json_object *content_item_json(const sp_res *res, size_t row, int level)
{
	json_object *c = json_object_new_object();
	json_object *rating = json_object_new_object();
	int item_level = (int)sp_res_ll(res, row, CC_ACCESS_LEVEL, 0);

#define STR(col) sp_json_str_or_null(sp_res_str(res, row, col))
	json_object_object_add(c, "id", STR(CC_ID));
	json_object_object_add(c, "title", STR(CC_TITLE));
	json_object_object_add(c, "description", STR(CC_DESCRIPTION));
	json_object_object_add(c, "type", STR(CC_TYPE));
	json_object_object_add(c, "genre", parse_array(sp_res_str(res, row, CC_GENRES)));
	json_object_object_add(c, "accessLevel", json_object_new_string(sp_tier_name(item_level)));
	json_object_object_add(c, "duration",
	                       json_object_new_int((int)sp_res_ll(res, row, CC_DURATION, 0)));
	json_object_object_add(c, "releaseDate", date_json(sp_res_str(res, row, CC_RELEASE_DATE)));
	json_object_object_add(rating, "average",
	                       sp_json_money(sp_res_str(res, row, CC_RATING_AVG)));
	json_object_object_add(rating, "count",
	                       json_object_new_int64(sp_res_ll(res, row, CC_RATING_COUNT, 0)));
	json_object_object_add(c, "rating", rating);
	json_object_object_add(c, "ageRating", STR(CC_AGE_RATING));
	json_object_object_add(c, "thumbnailUrl", STR(CC_THUMBNAIL_URL));
	json_object_object_add(c, "bannerUrl", STR(CC_BANNER_URL));
	json_object_object_add(c, "trailerUrl", STR(CC_TRAILER_URL));
	json_object_object_add(c, "director", STR(CC_DIRECTOR));
	json_object_object_add(c, "language", STR(CC_LANGUAGE));
	json_object_object_add(c, "resolution",
	                       content_renditions_json((int)sp_res_ll(res, row, CC_RENDITIONS, 1)));
	json_object_object_add(c, "isFeatured",
	                       json_object_new_boolean(sp_res_ll(res, row, CC_FEATURED, 0) == 1));
	json_object_object_add(c, "views", json_object_new_int64(sp_res_ll(res, row, CC_VIEWS, 0)));
	json_object_object_add(c, "canAccess", json_object_new_boolean(item_level <= level));
	return c;
}

json_object *content_detail_json(const sp_res *res, size_t row, int level)
{
	json_object *c = content_item_json(res, row, level);

	json_object_object_add(c, "cast", parse_array(sp_res_str(res, row, CC_CAST)));
	json_object_object_add(c, "producer", STR(CC_PRODUCER));
	json_object_object_add(c, "studio", STR(CC_STUDIO));
	json_object_object_add(c, "subtitles", parse_array(sp_res_str(res, row, CC_SUBTITLES)));
	json_object_object_add(c, "tags", parse_array(sp_res_str(res, row, CC_TAGS)));
	json_object_object_add(c, "likes", json_object_new_int64(sp_res_ll(res, row, CC_LIKES, 0)));
	json_object_object_add(c, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, row, CC_ACTIVE, 0) == 1));
	json_object_object_add(c, "createdAt", sp_json_dbtime(sp_res_str(res, row, CC_CREATED_AT)));
	json_object_object_add(c, "updatedAt", sp_json_dbtime(sp_res_str(res, row, CC_UPDATED_AT)));
#undef STR
	return c;
}

int content_parse_id(sp_req *r, void *in)
{
	struct content_id_in *q = in;

	sp_v_path_id(r, "id", "Content not found", &q->id);
	return 0;
}

const char *const content_types[5] = {"movie", "series", "documentary", "short", "trailer"};

int content_type_parse(const char *s)
{
	return sp_enum_index(content_types, 5, s);
}
