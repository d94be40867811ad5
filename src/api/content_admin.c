/*
 * Admin writes to the catalogue: create, partial update, deactivate. Every
 * field is validated (all failures listed), genres are kept in their child
 * table in the same transaction, and every write drops the cached pages.
 */
#include "content_json.h"
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

struct content_in {
	char title[801], description[20001], type[16], release[11], age[41], thumb[2001],
	    banner[2001], trailer[2001], director[801], producer[801], studio[801], lang[81];
	json_object *genres, *cast, *subtitles, *tags; /* cleaned copies, owned */
	long long duration;
	int level, renditions, featured, active;
	int has_title, has_description, has_type, has_release, has_age, has_thumb, has_banner,
	    has_trailer, has_director, has_producer, has_studio, has_lang, has_duration, has_level,
	    has_renditions, has_featured, has_active;
};

static void content_in_free(struct content_in *c)
{
	json_object_put(c->genres);
	json_object_put(c->cast);
	json_object_put(c->subtitles);
	json_object_put(c->tags);
}

static int v_type(sp_req *r, int required, char *out)
{
	static const char *const types[] = {"movie", "series", "documentary", "short", "trailer"};
	json_object *v;

	if (!json_object_object_get_ex(r->json, "type", &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, "type", "is required");
		return 0;
	}
	for (int i = 0; json_object_is_type(v, json_type_string) && i < 5; i++) {
		if (strcmp(json_object_get_string(v), types[i]) == 0) {
			strcpy(out, types[i]);
			return 1;
		}
	}
	sp_field_error_add(r, "type", "must be one of movie, series, documentary, short, trailer");
	return 0;
}

static int v_level(sp_req *r, int required, int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->json, "accessLevel", &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, "accessLevel", "is required");
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    (*out = sp_tier_parse(json_object_get_string(v))) < 0) {
		sp_field_error_add(r, "accessLevel",
		                   "must be one of Free, Basic, Premium, Ultimate");
		return 0;
	}
	return 1;
}

/* A calendar date "YYYY-MM-DD" (a full ISO timestamp is accepted and cut to its date). */
static int v_date(sp_req *r, int required, char *out)
{
	char buf[64];
	struct tm tm, back;
	time_t t;
	const char *end;

	if (sp_v_text(r, r->json, "releaseDate", required, 10, 30, buf, sizeof buf) != SP_V_OK)
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(buf, "%Y-%m-%d", &tm);
	if (end == NULL || (*end != '\0' && *end != 'T') || strlen(buf) < 10 || buf[4] != '-' ||
	    tm.tm_year < -100 || tm.tm_year > 300)
		goto bad;
	back = tm;
	t = timegm(&back); /* normalises its argument: 2025-02-30 becomes March 2 */
	gmtime_r(&t, &back);
	if (back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon || back.tm_year != tm.tm_year)
		goto bad;
	snprintf(out, 11, "%.10s", buf);
	return 1;
bad:
	sp_field_error_add(r, "releaseDate", "must be a date like 2025-01-08");
	return 0;
}

static int v_url(sp_req *r, const char *field, char *out, size_t n)
{
	if (sp_v_text(r, r->json, field, 0, 1, 500, out, n) != SP_V_OK)
		return 0;
	if (out[0] != '/' && strncmp(out, "https://", 8) != 0 && strncmp(out, "http://", 7) != 0) {
		sp_field_error_add(r, field, "must be a path (/...) or an http(s) URL");
		return 0;
	}
	return 1;
}

/* An array of 1..max strings of 1..maxlen characters; returns a clean copy or NULL. */
static json_object *v_strings(sp_req *r, const char *field, int required, size_t max, long maxlen)
{
	json_object *v, *out;
	size_t n;
	char msg[96];

	if (!json_object_object_get_ex(r->json, field, &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, field, "is required");
		return NULL;
	}
	snprintf(msg, sizeof msg, "must be an array of 1 to %zu strings of 1 to %ld characters",
	         max, maxlen);
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0 ||
	    n > max) {
		sp_field_error_add(r, field, msg);
		return NULL;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *s = e && json_object_is_type(e, json_type_string)
		                    ? json_object_get_string(e)
		                    : NULL;
		size_t sl = s ? (size_t)json_object_get_string_len(e) : 0;
		long chars = s ? sp_utf8_count(s, sl) : -1;
		if (s == NULL || chars < 1 || chars > maxlen || strlen(s) != sl) {
			sp_field_error_add(r, field, msg);
			json_object_put(out);
			return NULL;
		}
		json_object_array_add(out, json_object_new_string(s));
	}
	return out;
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

static int v_renditions(sp_req *r, int *out)
{
	json_object *v;
	size_t n;
	int mask = 0;

	if (!json_object_object_get_ex(r->json, "resolution", &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0 ||
	    n > 4)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		int q = e && json_object_is_type(e, json_type_string)
		            ? sp_resolution_parse(json_object_get_string(e))
		            : -1;
		if (q < 0)
			goto bad;
		mask |= 1 << q;
	}
	*out = mask;
	return 1;
bad:
	sp_field_error_add(r, "resolution", "must be an array of 480p, 720p, 1080p, 4K");
	return 0;
}

static int read_content(sp_req *r, struct content_in *c, int creating)
{
	static const char *const cast_keys[] = {"name", "role", "character"};
	static const char *const sub_keys[] = {"language", "url"};
	json_object *v;

	memset(c, 0, sizeof *c);
	c->has_title =
	    sp_v_text(r, r->json, "title", creating, 1, 200, c->title, sizeof c->title) == SP_V_OK;
	c->has_description = sp_v_text(r, r->json, "description", creating, 1, 5000, c->description,
	                               sizeof c->description) == SP_V_OK;
	c->has_type = v_type(r, creating, c->type);
	c->genres = v_strings(r, "genre", creating, 10, 50);
	c->has_level = v_level(r, creating, &c->level);
	c->has_duration =
	    sp_v_int(r, r->json, "duration", creating, 1, 10000, &c->duration) == SP_V_OK;
	c->has_release = v_date(r, creating, c->release);
	c->has_age = sp_v_text(r, r->json, "ageRating", 0, 1, 10, c->age, sizeof c->age) == SP_V_OK;
	c->has_thumb = v_url(r, "thumbnailUrl", c->thumb, sizeof c->thumb);
	c->has_banner = v_url(r, "bannerUrl", c->banner, sizeof c->banner);
	c->has_trailer = v_url(r, "trailerUrl", c->trailer, sizeof c->trailer);
	c->has_director = sp_v_text(r, r->json, "director", 0, 1, 200, c->director,
	                            sizeof c->director) == SP_V_OK;
	c->has_producer = sp_v_text(r, r->json, "producer", 0, 1, 200, c->producer,
	                            sizeof c->producer) == SP_V_OK;
	c->has_studio =
	    sp_v_text(r, r->json, "studio", 0, 1, 200, c->studio, sizeof c->studio) == SP_V_OK;
	c->has_lang =
	    sp_v_text(r, r->json, "language", 0, 2, 20, c->lang, sizeof c->lang) == SP_V_OK;
	c->has_renditions = v_renditions(r, &c->renditions);
	c->cast = v_objects(r, "cast", 50, cast_keys, 3);
	c->subtitles = v_objects(r, "subtitles", 30, sub_keys, 2);
	if (json_object_object_get_ex(r->json, "tags", &v) && v &&
	    json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0)
		c->tags = json_object_new_array();
	else
		c->tags = v_strings(r, "tags", 0, 20, 50);
	c->has_featured = sp_v_bool(r, r->json, "isFeatured", 0, &c->featured) == SP_V_OK;
	c->has_active = sp_v_bool(r, r->json, "isActive", 0, &c->active) == SP_V_OK;
	if (r->n_errors) {
		content_in_free(c);
		return sp_fail_validation(r);
	}
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
	                id) != 0) {
		sp_fail_unavailable(r);
		return -1;
	}
	if (res.nrows == 0) {
		sp_res_free(&res);
		sp_fail(r, 404, "NOT_FOUND", "Content not found");
		return -1;
	}
	data = json_object_new_object();
	json_object_object_add(data, "content", content_detail_json(&res, 0, SP_LEVEL_ULTIMATE));
	sp_res_free(&res);
	sp_ok(r, status, msg, data);
	return 0;
}

static int failed(sp_req *r, struct content_in *c)
{
	sp_db_rollback();
	content_in_free(c);
	sp_fail_unavailable(r);
	return -1;
}

int content_create(sp_req *r)
{
	struct content_in c;
	long long id;
	/* a title has every rendition up to its level unless told otherwise */
	static const int by_level[] = {1, 3, 7, 15};

	if (read_content(r, &c, 1) != 0)
		return -1;
	if (sp_db_begin() != 0 ||
	    sp_db_exec(
	        "INSERT INTO content (title, description, type, access_level, duration_min, "
	        "release_date, age_rating, thumbnail_url, banner_url, trailer_url, director, "
	        "producer, studio, language, renditions, genres, cast_members, subtitles, "
	        "tags, is_featured, is_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	        "?, ?, ?, ?, ?, ?, ?, ?)",
	        "sssilsssssssssissssii", c.title, c.description, c.type, c.level, c.duration,
	        c.release, c.has_age ? c.age : NULL, c.has_thumb ? c.thumb : NULL,
	        c.has_banner ? c.banner : NULL, c.has_trailer ? c.trailer : NULL,
	        c.has_director ? c.director : NULL, c.has_producer ? c.producer : NULL,
	        c.has_studio ? c.studio : NULL, c.has_lang ? c.lang : "en",
	        c.has_renditions ? c.renditions : by_level[c.level], sp_json_text(c.genres),
	        json_or(c.cast, "[]"), json_or(c.subtitles, "[]"), json_or(c.tags, "[]"),
	        c.has_featured ? c.featured : 0, c.has_active ? c.active : 1) != 1)
		return failed(r, &c);
	id = (long long)sp_db_insert_id();
	if (write_genres(id, c.genres) != 0 || sp_db_commit() != 0)
		return failed(r, &c);
	content_in_free(&c);
	sp_cache_drop_group(CATALOG_GROUP);
	return reply_content(r, 201, id, "Content created");
}

int content_update(sp_req *r)
{
	struct content_in c;
	long long id, n;
	sp_res res;

	if (content_path_id(r, &id) != 0 || read_content(r, &c, 0) != 0)
		return -1;
	if (sp_db_begin() != 0 ||
	    sp_db_query(&res, "SELECT id FROM content WHERE id = ? FOR UPDATE", "l", id) != 0)
		return failed(r, &c);
	n = (long long)res.nrows;
	sp_res_free(&res);
	if (n == 0) {
		sp_db_rollback();
		content_in_free(&c);
		sp_fail(r, 404, "NOT_FOUND", "Content not found");
		return -1;
	}
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
	        "isisisiiilisisisisisisisisisiiisisisisiiiil", c.has_title, c.title,
	        c.has_description, c.description, c.has_type, c.type, c.has_level, c.level,
	        c.has_duration, c.duration, c.has_release, c.release, c.has_age, c.age, c.has_thumb,
	        c.thumb, c.has_banner, c.banner, c.has_trailer, c.trailer, c.has_director,
	        c.director, c.has_producer, c.producer, c.has_studio, c.studio, c.has_lang, c.lang,
	        c.has_renditions, c.renditions, c.genres != NULL, json_or(c.genres, "[]"),
	        c.cast != NULL, json_or(c.cast, "[]"), c.subtitles != NULL,
	        json_or(c.subtitles, "[]"), c.tags != NULL, json_or(c.tags, "[]"), c.has_featured,
	        c.featured, c.has_active, c.active, id) < 0 ||
	    (c.genres && write_genres(id, c.genres) != 0) || sp_db_commit() != 0)
		return failed(r, &c);
	content_in_free(&c);
	sp_cache_drop_group(CATALOG_GROUP);
	return reply_content(r, 200, id, "Content updated");
}

int content_delete(sp_req *r)
{
	long long id, n;

	if (content_path_id(r, &id) != 0)
		return -1;
	/* deactivated, not deleted: history and analytics keep their rows */
	n = sp_db_exec("UPDATE content SET is_active = 0 WHERE id = ?", "l", id);
	if (n < 0) {
		sp_fail_unavailable(r);
		return -1;
	}
	sp_cache_drop_group(CATALOG_GROUP);
	return reply_content(r, 200, id, "Content deactivated");
}
