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
	int item_level = (int)sp_res_ll(res, row, 5, 0);

	json_object_object_add(c, "id", sp_json_str_or_null(sp_res_str(res, row, 0)));
	json_object_object_add(c, "title", sp_json_str_or_null(sp_res_str(res, row, 1)));
	json_object_object_add(c, "description", sp_json_str_or_null(sp_res_str(res, row, 2)));
	json_object_object_add(c, "type", sp_json_str_or_null(sp_res_str(res, row, 3)));
	json_object_object_add(c, "genre", parse_array(sp_res_str(res, row, 4)));
	json_object_object_add(c, "accessLevel", json_object_new_string(sp_tier_name(item_level)));
	json_object_object_add(c, "duration", json_object_new_int((int)sp_res_ll(res, row, 6, 0)));
	json_object_object_add(c, "releaseDate", date_json(sp_res_str(res, row, 7)));
	json_object_object_add(rating, "average", sp_json_money(sp_res_str(res, row, 8)));
	json_object_object_add(rating, "count", json_object_new_int64(sp_res_ll(res, row, 9, 0)));
	json_object_object_add(c, "rating", rating);
	json_object_object_add(c, "ageRating", sp_json_str_or_null(sp_res_str(res, row, 10)));
	json_object_object_add(c, "thumbnailUrl", sp_json_str_or_null(sp_res_str(res, row, 11)));
	json_object_object_add(c, "bannerUrl", sp_json_str_or_null(sp_res_str(res, row, 12)));
	json_object_object_add(c, "trailerUrl", sp_json_str_or_null(sp_res_str(res, row, 13)));
	json_object_object_add(c, "director", sp_json_str_or_null(sp_res_str(res, row, 14)));
	json_object_object_add(c, "language", sp_json_str_or_null(sp_res_str(res, row, 15)));
	json_object_object_add(c, "resolution",
	                       content_renditions_json((int)sp_res_ll(res, row, 16, 1)));
	json_object_object_add(c, "isFeatured",
	                       json_object_new_boolean(sp_res_ll(res, row, 17, 0) == 1));
	json_object_object_add(c, "views", json_object_new_int64(sp_res_ll(res, row, 18, 0)));
	json_object_object_add(c, "canAccess", json_object_new_boolean(item_level <= level));
	return c;
}

json_object *content_detail_json(const sp_res *res, size_t row, int level)
{
	json_object *c = content_item_json(res, row, level);
	size_t k = CONTENT_NCOLS;

	json_object_object_add(c, "cast", parse_array(sp_res_str(res, row, k + 0)));
	json_object_object_add(c, "producer", sp_json_str_or_null(sp_res_str(res, row, k + 1)));
	json_object_object_add(c, "studio", sp_json_str_or_null(sp_res_str(res, row, k + 2)));
	json_object_object_add(c, "subtitles", parse_array(sp_res_str(res, row, k + 3)));
	json_object_object_add(c, "tags", parse_array(sp_res_str(res, row, k + 4)));
	json_object_object_add(c, "likes", json_object_new_int64(sp_res_ll(res, row, k + 5, 0)));
	json_object_object_add(c, "isActive",
	                       json_object_new_boolean(sp_res_ll(res, row, k + 6, 0) == 1));
	json_object_object_add(c, "createdAt", sp_json_dbtime(sp_res_str(res, row, k + 7)));
	json_object_object_add(c, "updatedAt", sp_json_dbtime(sp_res_str(res, row, k + 8)));
	return c;
}

int content_path_id(sp_req *r, long long *out)
{
	if (sp_parse_ll(sp_param(r, "id"), 1, (long long)1 << 62, out) != 0) {
		sp_field_error_add(r, "id", "must be a positive integer id");
		return sp_fail_validation(r);
	}
	return 0;
}
