/*
 * Admin writes to the catalogue: create, partial update, deactivate. Every
 * field is validated (all failures listed), genres are kept in their child
 * table in the same transaction, and every write drops the cached pages.
 */
#include "content_json.h"
#include "sp_app.h"
#include "sp_keys.h"
#include "sp_cache.h"
#include "sp_db.h"
#include "sp_tier.h"
#include "sp_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int content_create(sp_req *r);
int content_update(sp_req *r);
int content_delete(sp_req *r);

static void content_in_free(struct content_in *c)
{
	json_object_put(c->genres);
	json_object_put(c->cast);
	json_object_put(c->subtitles);
	json_object_put(c->tags);
}

static void create_in_release(void *in)
{
	content_in_free(in);
}

static void update_in_release(void *in)
{
	content_in_free(&((struct content_update_in *)in)->body);
}

/* An array of objects whose listed keys are strings (first key required). */
static json_object *v_objects(sp_req *r, const char *field, size_t max, const char *const *keys,
                              size_t nkeys)
{
	json_object *v, *out;
	size_t n;
	char msg[160];

	if (!json_object_object_get_ex(r->json, field, &v) || v == NULL)
		return NULL;
	snprintf(msg, sizeof msg, "must be an array of at most %zu objects with string %s%s%s", max,
	         keys[0], nkeys > 1 ? ", " : "", nkeys > 1 ? keys[1] : "");
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) > max) {
		sp_field_error_add(r, field, msg);
		return NULL;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i), *o = json_object_new_object();
		int ok = e && json_object_is_type(e, json_type_object);
		for (size_t k = 0; ok && k < nkeys; k++) {
			json_object *f = NULL;
			const char *s;
			if (!json_object_object_get_ex(e, keys[k], &f) || f == NULL) {
				ok = k > 0;
				json_object_object_add(o, keys[k], NULL);
				continue;
			}
			s = json_object_is_type(f, json_type_string) ? json_object_get_string(f)
			                                             : NULL;
			ok = s && *s && strlen(s) <= 500 && sp_utf8_count(s, strlen(s)) >= 0 &&
			     strlen(s) == (size_t)json_object_get_string_len(f);
			if (ok)
				json_object_object_add(o, keys[k], json_object_new_string(s));
		}
		if (!ok) {
			json_object_put(o);
			json_object_put(out);
			sp_field_error_add(r, field, msg);
			return NULL;
		}
		json_object_array_add(out, o);
	}
	return out;
}

/* The bitmask of a list of 1 to 4 renditions ("480p", ...), or -1. */
static int renditions_mask(json_object *v)
{
	size_t n;
	int mask = 0;

	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0 ||
	    n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		int q = e && json_object_is_type(e, json_type_string)
		            ? sp_resolution_parse(json_object_get_string(e))
		            : -1;
		if (q < 0)
			return -1;
		mask |= 1 << q;
	}
	return mask;
}

static int v_renditions(sp_req *r, int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->json, "resolution", &v) || v == NULL)
		return 0;
	if ((*out = renditions_mask(v)) < 0) {
		sp_field_error_add(r, "resolution", "must be an array of 480p, 720p, 1080p, 4K");
		return 0;
	}
	return 1;
}

/* The fields of a title's body; creating: the required ones must be there. */
static void parse_content(sp_req *r, struct content_in *c, int creating)
{
	static const char *const cast_keys[] = {"name", "role", "character"};
	static const char *const sub_keys[] = {"language", "url"};
	json_object *o = r->json;
	int type = -1;

	c->has_title =
	    SP_V_GIVEN(sp_v_text(r, o, "title", creating, 1, 200, c->title, sizeof c->title));
	c->has_description = SP_V_GIVEN(sp_v_text(r, o, "description", creating, 1, 5000,
	                                          c->description, sizeof c->description));
	c->has_type = SP_V_GIVEN(
	    sp_v_enum(r, o, "type", creating, content_type_parse,
	              "must be one of movie, series, documentary, short, trailer", &type));
	if (c->has_type)
		snprintf(c->type, sizeof c->type, "%s", content_types[type]);
	sp_v_strings(r, o, "genre", creating, 1, 10, 50, &c->genres);
	c->has_level =
	    SP_V_GIVEN(sp_v_enum(r, o, "accessLevel", creating, sp_tier_parse,
	                         "must be one of Free, Basic, Premium, Ultimate", &c->level));
	c->has_duration = SP_V_GIVEN(sp_v_int(r, o, "duration", creating, 1, 10000, &c->duration));
	c->has_release = SP_V_GIVEN(sp_v_date(r, o, "releaseDate", creating, c->release));
	c->has_age = SP_V_GIVEN(sp_v_text(r, o, "ageRating", 0, 1, 10, c->age, sizeof c->age));
	c->has_thumb = SP_V_GIVEN(sp_v_url(r, o, "thumbnailUrl", c->thumb, sizeof c->thumb));
	c->has_banner = SP_V_GIVEN(sp_v_url(r, o, "bannerUrl", c->banner, sizeof c->banner));
	c->has_trailer = SP_V_GIVEN(sp_v_url(r, o, "trailerUrl", c->trailer, sizeof c->trailer));
	c->has_director =
	    SP_V_GIVEN(sp_v_text(r, o, "director", 0, 1, 200, c->director, sizeof c->director));
	c->has_producer =
	    SP_V_GIVEN(sp_v_text(r, o, "producer", 0, 1, 200, c->producer, sizeof c->producer));
	c->has_studio =
	    SP_V_GIVEN(sp_v_text(r, o, "studio", 0, 1, 200, c->studio, sizeof c->studio));
	c->has_lang = SP_V_GIVEN(sp_v_text(r, o, "language", 0, 2, 20, c->lang, sizeof c->lang));
	c->has_renditions = v_renditions(r, &c->renditions);
	c->cast = v_objects(r, "cast", 50, cast_keys, 3);
	c->subtitles = v_objects(r, "subtitles", 30, sub_keys, 2);
	sp_v_strings(r, o, "tags", 0, 0, 20, 50, &c->tags);
	c->has_featured = SP_V_GIVEN(sp_v_bool(r, o, "isFeatured", 0, &c->featured));
	c->has_active = SP_V_GIVEN(sp_v_bool(r, o, "isActive", 0, &c->active));
}

int content_parse_create(sp_req *r, void *in)
{
	r->in_release = create_in_release;
	parse_content(r, in, 1);
	return 0;
}

int content_parse_update(sp_req *r, void *in)
{
	struct content_update_in *u = in;

	r->in_release = update_in_release;
	sp_v_path_id(r, "id", "Content not found", &u->id);
	parse_content(r, &u->body, 0);
	return 0;
}

static const char *json_or(json_object *o, const char *def)
{
	return o ? sp_json_text(o) : def;
}

/* Replaces the genre rows of a title with its new list (inside the transaction). */
static int write_genres(long long id, json_object *genres)
{
	if (sp_db_exec("DELETE FROM content_genres WHERE content_id = ?", "l", id) < 0)
		return -1;
	for (size_t i = 0; i < json_object_array_length(genres); i++)
		if (sp_db_exec(
		        "INSERT IGNORE INTO content_genres (content_id, genre) VALUES (?, ?)", "ls",
		        id, json_object_get_string(json_object_array_get_idx(genres, i))) < 0)
			return -1;
	return 0;
}

static int reply_content(sp_req *r, int status, long long id, const char *msg)
{
	sp_res res;
	json_object *data;

	if (sp_db_query(&res, "SELECT " CONTENT_DETAIL_COLS " FROM content c WHERE c.id = ?", "l",
	                id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Content not found");
	}
	data = json_object_new_object();
	json_object_object_add(data, "content", content_detail_json(&res, 0, SP_LEVEL_ULTIMATE));
	sp_res_free(&res);
	sp_ok(r, status, msg, data);
	return 0;
}

int content_create(sp_req *r)
{
	const struct content_in *c = r->in;
	long long id;
	/* a title has every rendition up to its level unless told otherwise */
	static const int by_level[] = {1, 3, 7, 15};

	if (sp_db_begin() != 0 ||
	    sp_db_exec(
	        "INSERT INTO content (title, description, type, access_level, duration_min, "
	        "release_date, age_rating, thumbnail_url, banner_url, trailer_url, director, "
	        "producer, studio, language, renditions, genres, cast_members, subtitles, "
	        "tags, is_featured, is_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	        "?, ?, ?, ?, ?, ?, ?, ?)",
	        "sssilsssssssssissssii", c->title, c->description, c->type, c->level, c->duration,
	        c->release, c->has_age ? c->age : NULL, c->has_thumb ? c->thumb : NULL,
	        c->has_banner ? c->banner : NULL, c->has_trailer ? c->trailer : NULL,
	        c->has_director ? c->director : NULL, c->has_producer ? c->producer : NULL,
	        c->has_studio ? c->studio : NULL, c->has_lang ? c->lang : "en",
	        c->has_renditions ? c->renditions : by_level[c->level], sp_json_text(c->genres),
	        json_or(c->cast, "[]"), json_or(c->subtitles, "[]"), json_or(c->tags, "[]"),
	        c->has_featured ? c->featured : 0, c->has_active ? c->active : 1) != 1)
		return sp_unavailable(r);
	id = (long long)sp_db_insert_id();
	if (write_genres(id, c->genres) != 0 || sp_db_commit() != 0)
		return sp_unavailable(r);
	sp_cache_drop_group(SP_GROUP_CATALOG);
	return reply_content(r, 201, id, "Content created");
}

int content_update(sp_req *r)
{
	const struct content_update_in *u = r->in;
	const struct content_in *c = &u->body;
	long long id = u->id, n;
	sp_res res;

	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM content WHERE id = ? FOR UPDATE", "l", id) != 0)
		return sp_unavailable(r);
	n = (long long)res.nrows;
	sp_res_free(&res);
	if (n == 0)
		return sp_fail(r, 404, "NOT_FOUND",
		               "Content not found"); /* rolled back on return */
	/* each column keeps its value unless the field was given */
	if (sp_db_exec(
	        "UPDATE content SET title = IF(?, ?, title), description = IF(?, ?, "
	        "description), type = IF(?, ?, type), access_level = IF(?, ?, access_level), "
	        "duration_min = IF(?, ?, duration_min), release_date = IF(?, ?, release_date), "
	        "age_rating = IF(?, ?, age_rating), thumbnail_url = IF(?, ?, thumbnail_url), "
	        "banner_url = IF(?, ?, banner_url), trailer_url = IF(?, ?, trailer_url), director "
	        "= IF(?, ?, director), producer = IF(?, ?, producer), studio = IF(?, ?, studio), "
	        "language = IF(?, ?, language), renditions = IF(?, ?, renditions), genres = IF(?, "
	        "?, genres), cast_members = IF(?, ?, cast_members), subtitles = IF(?, ?, "
	        "subtitles), tags = IF(?, ?, tags), is_featured = IF(?, ?, is_featured), "
	        "is_active = IF(?, ?, is_active) WHERE id = ?",
	        "isisisiiilisisisisisisisisisiiisisisisiiiil", c->has_title, c->title,
	        c->has_description, c->description, c->has_type, c->type, c->has_level, c->level,
	        c->has_duration, c->duration, c->has_release, c->release, c->has_age, c->age,
	        c->has_thumb, c->thumb, c->has_banner, c->banner, c->has_trailer, c->trailer,
	        c->has_director, c->director, c->has_producer, c->producer, c->has_studio,
	        c->studio, c->has_lang, c->lang, c->has_renditions, c->renditions,
	        c->genres != NULL, json_or(c->genres, "[]"), c->cast != NULL,
	        json_or(c->cast, "[]"), c->subtitles != NULL, json_or(c->subtitles, "[]"),
	        c->tags != NULL, json_or(c->tags, "[]"), c->has_featured, c->featured,
	        c->has_active, c->active, id) < 0 ||
	    (c->genres && write_genres(id, c->genres) != 0) || sp_db_commit() != 0)
		return sp_unavailable(r);
	sp_cache_drop_group(SP_GROUP_CATALOG);
	return reply_content(r, 200, id, "Content updated");
}

int content_delete(sp_req *r)
{
	const struct content_id_in *q = r->in;

	/* deactivated, not deleted: history and analytics keep their rows */
	if (sp_db_exec("UPDATE content SET is_active = 0 WHERE id = ?", "l", q->id) < 0)
		return sp_unavailable(r);
	sp_cache_drop_group(SP_GROUP_CATALOG);
	return reply_content(r, 200, q->id, "Content deactivated");
}
