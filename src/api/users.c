/*
 * The users area: profile and preferences, the profile picture (multipart,
 * decoded and stored re-encoded, served by the web server), registered devices.
 */
#include "sp_app.h"
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_image.h"
#include "sp_log.h"
#include "sp_multipart.h"
#include "sp_parental.h"
#include "sp_stream.h"
#include "sp_tier.h"
#include "sp_user.h"
#include "sp_valid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* PUT /users/profile: what was given of each field (SP_V_*), and its value. */
struct profile_in {
	char name[401], bio[2001], phone[24];
	int rc_name, rc_bio, rc_phone;
	json_object *prefs; /* the body's preferences (owned by the body), or NULL */
};

/* DELETE /users/devices/:deviceId */
struct device_in {
	char id[129];
};

/* PUT /users/parental-controls: each field's SP_V_* result, and its value. */
struct parental_in {
	int rc_enabled, rc_max_age, rc_pin;
	int enabled;
	long long max_age;
	char pin[8];
};

/* POST /users/parental-controls/reset-pin */
struct reset_pin_in {
	const char *password; /* points into the body */
	char new_pin[8];
};

static int users_profile(sp_req *r);
static int users_picture(sp_req *r);
static int users_devices(sp_req *r);
static int users_device_delete(sp_req *r);
static int parse_profile(sp_req *r, void *in);
static int parse_device(sp_req *r, void *in);
static int parental_get(sp_req *r);
static int parental_put(sp_req *r);
static int parental_reset_pin(sp_req *r);
static int parse_parental(sp_req *r, void *in);
static int parse_reset_pin(sp_req *r, void *in);

static const sp_route routes[] = {
    {"PUT", "/users/profile", users_profile, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_profile, struct profile_in)},
    {"POST", "/users/profile-picture", users_picture, SP_AUTH_REQUIRED, SP_RAW_BODY, NULL, NULL,
     SP_NO_INPUT},
    {"GET", "/users/devices", users_devices, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
    {"DELETE", "/users/devices/:deviceId", users_device_delete, SP_AUTH_REQUIRED, SP_NO_BODY, NULL,
     NULL, SP_INPUT(parse_device, struct device_in)},
    {"GET", "/users/parental-controls", parental_get, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL,
     SP_NO_INPUT},
    {"PUT", "/users/parental-controls", parental_put, SP_AUTH_REQUIRED, 0, NULL, NULL,
     SP_INPUT(parse_parental, struct parental_in)},
    {"POST", "/users/parental-controls/reset-pin", parental_reset_pin, SP_AUTH_REQUIRED, 0, NULL,
     NULL, SP_INPUT(parse_reset_pin, struct reset_pin_in)},
};

#define PICTURE_MAX (5L * 1024 * 1024)
/* room for the multipart headers and delimiters around a 5 MB picture */
#define PICTURE_BODY_MAX (PICTURE_MAX + 64 * 1024)

static int reply_user(sp_req *r, const char *msg)
{
	json_object *user = NULL, *data;
	int rc = sp_user_fetch(r->user_id, &user);

	if (rc < 0)
		return sp_unavailable(r);
	if (rc > 0)
		return sp_fail(r, 404, "NOT_FOUND", "Account not found");
	data = json_object_new_object();
	json_object_object_add(data, "user", user);
	sp_ok(r, 200, msg, data);
	return 0;
}

/* ---------------------------------------------------------------- profile */

/*
 * Merges the given preferences over the stored ones, validating each key;
 * returns the merged object (caller frees) or NULL after recording errors.
 */
static json_object *merge_preferences(sp_req *r, json_object *in, const char *stored)
{
	json_object *out = sp_user_preferences(stored), *v, *n, *cur;

	if (!json_object_is_type(in, json_type_object)) {
		sp_field_error_add(r, "preferences", "must be an object");
		json_object_put(out);
		return NULL;
	}
	if (json_object_object_get_ex(in, "genres", &v)) {
		size_t len = v && json_object_is_type(v, json_type_array)
		                 ? json_object_array_length(v)
		                 : 999;
		json_object *g = json_object_new_array();
		if (len > 20)
			sp_field_error_add(r, "preferences.genres",
			                   "must be an array of at most 20 genre names");
		for (size_t i = 0; len <= 20 && i < len; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			const char *s = e && json_object_is_type(e, json_type_string)
			                    ? json_object_get_string(e)
			                    : NULL;
			size_t sl = s ? (size_t)json_object_get_string_len(e) : 0;
			long chars = s ? sp_utf8_count(s, sl) : -1;
			if (s == NULL || chars < 1 || chars > 50 || strlen(s) != sl) {
				sp_field_error_add(r, "preferences.genres",
				                   "must hold 1-50 character names");
				break;
			}
			json_object_array_add(g, json_object_new_string(s));
		}
		json_object_object_add(out, "genres", g);
	}
	if (json_object_object_get_ex(in, "language", &v)) {
		const char *s =
		    v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		size_t len = strlen(s), ok = len >= 2 && len <= 10;
		for (size_t i = 0; ok && i < len; i++)
			ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			     s[i] == '-';
		if (!ok)
			sp_field_error_add(r, "preferences.language",
			                   "must be a language tag such as en or pt-BR");
		else
			json_object_object_add(out, "language", json_object_new_string(s));
	}
	if (json_object_object_get_ex(in, "notifications", &n)) {
		static const char *keys[] = {"email", "expiry", "newContent"};
		if (n == NULL || !json_object_is_type(n, json_type_object)) {
			sp_field_error_add(r, "preferences.notifications", "must be an object");
		} else {
			json_object_object_get_ex(out, "notifications", &cur);
			for (size_t i = 0; i < 3; i++) {
				char field[64];
				if (!json_object_object_get_ex(n, keys[i], &v))
					continue;
				snprintf(field, sizeof field, "preferences.notifications.%s",
				         keys[i]);
				if (v == NULL || !json_object_is_type(v, json_type_boolean))
					sp_field_error_add(r, field, "must be true or false");
				else
					json_object_object_add(
					    cur, keys[i],
					    json_object_new_boolean(json_object_get_boolean(v)));
			}
		}
	}
	if (r->n_errors) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

static int parse_profile(sp_req *r, void *in)
{
	struct profile_in *q = in;
	int has_prefs;

	q->rc_name = sp_v_text(r, r->json, "name", 0, 2, 100, q->name, sizeof q->name);
	if (q->rc_name == SP_V_NULL)
		sp_field_error_add(r, "name", "cannot be removed");
	q->rc_bio = sp_v_text(r, r->json, "bio", 0, 0, 500, q->bio, sizeof q->bio);
	q->rc_phone = sp_v_phone(r, r->json, "phone", q->phone, sizeof q->phone);
	has_prefs = json_object_object_get_ex(r->json, "preferences", &q->prefs);
	if (has_prefs && !json_object_is_type(q->prefs, json_type_object))
		sp_field_error_add(r, "preferences", "must be an object");
	if (r->n_errors == 0 && q->rc_name == SP_V_ABSENT && q->rc_bio == SP_V_ABSENT &&
	    q->rc_phone == SP_V_ABSENT && !has_prefs)
		sp_field_error_add(r, "body", "give at least one of name, bio, phone, preferences");
	if (!has_prefs)
		q->prefs = NULL;
	return 0;
}

/* The stored preferences with the body's merged in (checked against them), or NULL. */
static int new_preferences(sp_req *r, json_object *given, json_object **out)
{
	sp_res res;

	*out = NULL;
	if (given == NULL)
		return 0;
	if (sp_db_query(&res, "SELECT preferences FROM users WHERE id = ?", "l", r->user_id) != 0)
		return sp_unavailable(r);
	*out = merge_preferences(r, given, res.nrows ? sp_res_str(&res, 0, 0) : NULL);
	sp_res_free(&res);
	return *out ? 0 : sp_fail_validation(r);
}

static int users_profile(sp_req *r)
{
	const struct profile_in *q = r->in;
	json_object *prefs;
	long long n;

	if (new_preferences(r, q->prefs, &prefs) != 0)
		return -1;
	/* each column keeps its value unless given; null clears bio and phone */
	n = sp_db_exec("UPDATE users SET name = IF(?, ?, name), bio = IF(?, ?, bio), phone = IF(?, "
	               "?, phone), preferences = IF(?, ?, preferences) WHERE id = ?",
	               "isisisisl", q->rc_name == SP_V_OK, q->name, q->rc_bio != SP_V_ABSENT,
	               q->rc_bio == SP_V_OK && q->bio[0] ? q->bio : NULL,
	               q->rc_phone != SP_V_ABSENT, q->rc_phone == SP_V_OK ? q->phone : NULL,
	               prefs != NULL, prefs ? sp_json_text(prefs) : NULL, r->user_id);
	if (prefs)
		json_object_put(prefs);
	if (n < 0)
		return sp_unavailable(r);
	sp_user_caches_drop(r->user_id);
	return reply_user(r, "Profile updated");
}

/* ---------------------------------------------------------------- picture */

/* Writes the file under a temporary name and renames it, so readers never see half. */
static int store_file(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[1024], dst[1024];
	int fd;
	size_t off = 0;

	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 || rename(tmp, dst) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Removes a previous picture, only ever a plain file name inside our directory. */
static void remove_old(const char *dir, const char *url)
{
	const char *base = url ? strrchr(url, '/') : NULL;
	char path[600];

	if (base == NULL || base[1] == '\0' || base[1] == '.' || strchr(base + 1, '\\'))
		return;
	snprintf(path, sizeof path, "%s%s", dir, base);
	unlink(path);
}

/* Stores the re-encoded picture, points the profile at it and drops the previous one. */
static int picture_save(sp_req *r, const sp_image *img)
{
	char dir[512], name[96], url[256], rnd[17], path[1024];
	const char *root = sp_conf_str("uploads.dir", "www/uploads");
	const char *prefix = sp_conf_str("uploads.url", "/uploads");
	sp_res res;
	char *old = NULL;
	json_object *data;

	snprintf(dir, sizeof dir, "%s/avatars", root);
	sp_random_hex(rnd, 8);
	snprintf(name, sizeof name, "%lld-%s.%s", r->user_id, rnd, sp_image_ext(img->type));
	snprintf(url, sizeof url, "%s/avatars/%s", prefix, name);
	if (sp_mkdirs(dir) != 0 || store_file(dir, name, (const char *)img->data, img->len) != 0) {
		sp_error("cannot store profile picture in %s", dir);
		return sp_unavailable(r);
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (sp_db_query(&res, "SELECT picture_path FROM users WHERE id = ?", "l", r->user_id) !=
	    0) {
		unlink(path);
		return sp_unavailable(r);
	}
	old = res.nrows && sp_res_str(&res, 0, 0) ? sp_xstrdup(sp_res_str(&res, 0, 0)) : NULL;
	sp_res_free(&res);
	if (sp_db_exec("UPDATE users SET picture_path = ? WHERE id = ?", "sl", url, r->user_id) <
	    0) {
		unlink(path);
		free(old);
		return sp_unavailable(r);
	}
	if (old)
		remove_old(dir, old);
	free(old);
	sp_user_caches_drop(r->user_id);
	data = json_object_new_object();
	json_object_object_add(data, "pictureUrl", json_object_new_string(url));
	sp_ok(r, 200, "Profile picture updated", data);
	return 0;
}

static int users_picture(sp_req *r)
{
	sp_part part;
	sp_image img;
	int rc;

	if (r->content_type == NULL ||
	    strncasecmp(r->content_type, "multipart/form-data", 19) != 0) {
		return sp_fail(r, 415, "UNSUPPORTED_MEDIA_TYPE",
		               "Content-Type must be multipart/form-data with a 'picture' part");
	}
	if (sp_req_load_body(r, PICTURE_BODY_MAX) != 0)
		return sp_req_body_result(r);
	rc = sp_multipart_find(r->content_type, r->body, r->body_len, "picture", &part);
	if (rc == SP_MP_NO_PART) {
		sp_field_error_add(r, "picture", "is required (a JPEG or PNG file part)");
		return sp_fail_validation(r);
	}
	if (rc != SP_MP_OK) {
		sp_field_error_add(r, "picture",
		                   rc == SP_MP_NO_BOUNDARY
		                       ? "multipart body has no boundary"
		                       : "multipart body is malformed or truncated");
		return sp_fail_validation(r);
	}
	if ((long)part.len > PICTURE_MAX)
		return sp_fail(r, 413, "PAYLOAD_TOO_LARGE", "The picture is larger than 5 MB");
	/* decoded in full and written out again: only the pixels of the upload are ever stored */
	rc = sp_image_reencode(part.data, part.len, &img);
	if (rc == SP_IMAGE_NO_MEMORY) {
		sp_error("profile picture: out of memory decoding %zu bytes", part.len);
		return sp_unavailable(r);
	}
	if (rc != SP_IMAGE_OK) {
		sp_field_error_add(r, "picture", sp_image_problem(rc));
		return sp_fail_validation(r);
	}
	rc = picture_save(r, &img);
	sp_image_free(&img);
	return rc;
}

/* ---------------------------------------------------------------- devices */

static int users_devices(sp_req *r)
{
	json_object *arr, *data, *extra;

	if (sp_user_devices(r->user_id, &arr) != 0)
		return sp_unavailable(r);
	data = json_object_new_object();
	json_object_object_add(data, "devices", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

/* A device id is at most 128 characters: a longer one names no device. */
static int parse_device(sp_req *r, void *in)
{
	struct device_in *q = in;
	const char *id = sp_param(r, "deviceId");

	if (id == NULL || strlen(id) >= sizeof q->id)
		sp_input_not_found(r, "No such device");
	else
		snprintf(q->id, sizeof q->id, "%s", id);
	return 0;
}

static int users_device_delete(sp_req *r)
{
	const struct device_in *q = r->in;
	long long n;

	n = sp_db_exec("DELETE FROM devices WHERE user_id = ? AND device_id = ?", "ls", r->user_id,
	               q->id);
	if (n < 0)
		return sp_unavailable(r);
	if (n == 0)
		return sp_fail(r, 404, "NOT_FOUND", "No such device");
	sp_user_caches_drop(r->user_id);
	sp_stream_forget_devices(r->user_id);
	sp_ok(r, 200, "Device removed; its slot is free", NULL);
	return 0;
}

/* ---------------------------------------------------------------- parental controls */

/* A PIN field: a string of 4 to 6 digits, copied into out (8 bytes). */
static int v_pin(sp_req *r, const char *field, int required, char *out)
{
	json_object *v;

	if (r->json == NULL || !json_object_object_get_ex(r->json, field, &v) || v == NULL) {
		if (required)
			sp_field_error_add(r, field, "is required");
		return required ? SP_V_INVALID : SP_V_ABSENT;
	}
	if (!json_object_is_type(v, json_type_string) || !sp_pin_valid(json_object_get_string(v))) {
		sp_field_error_add(r, field, "must be a string of 4 to 6 digits");
		return SP_V_INVALID;
	}
	snprintf(out, 8, "%s", json_object_get_string(v));
	return SP_V_OK;
}

static int parse_parental(sp_req *r, void *in)
{
	struct parental_in *q = in;

	q->rc_enabled = sp_v_bool(r, r->json, "enabled", 0, &q->enabled);
	q->rc_max_age = sp_v_int(r, r->json, "maxAge", 0, 0, SP_AGE_MAX, &q->max_age);
	if (q->rc_max_age == SP_V_OK && sp_age_index(q->max_age) < 0) {
		sp_field_error_add(r, "maxAge", "must be one of 0, 7, 10, 13, 14, 17, 18");
		q->rc_max_age = SP_V_INVALID;
	}
	q->rc_pin = v_pin(r, "pin", 0, q->pin);
	return 0;
}

static int parse_reset_pin(sp_req *r, void *in)
{
	struct reset_pin_in *q = in;

	sp_v_password(r, r->json, "password", 0, &q->password);
	v_pin(r, "newPin", 1, q->new_pin);
	return 0;
}

/* 200 with the account's controls as they now are. */
static int reply_parental(sp_req *r, const char *msg)
{
	sp_parental p;
	json_object *data;

	if (sp_parental_get(r->user_id, &p) != 0)
		return sp_unavailable(r);
	data = json_object_new_object();
	json_object_object_add(data, "parentalControls", sp_parental_json(&p));
	sp_ok(r, 200, msg, data);
	return 0;
}

static int parental_get(sp_req *r)
{
	return reply_parental(r, NULL);
}

/* 429 PIN_LOCKED with Retry-After. */
static int pin_locked(sp_req *r, long long secs)
{
	char ra[24], msg[128];

	snprintf(ra, sizeof ra, "%lld", secs > 0 ? secs : 1);
	sp_add_header(r, "Retry-After", ra);
	snprintf(msg, sizeof msg,
	         "Too many wrong PINs: parental controls are locked; try again in %lld s", secs);
	return sp_fail(r, 429, "PIN_LOCKED", msg);
}

/* The first setting needs all three fields: 1 when it may go on, else the 400 is answered. */
static int first_use_complete(sp_req *r, const struct parental_in *q)
{
	if (q->rc_enabled != SP_V_OK)
		sp_field_error_add(r, "enabled",
		                   "is required when parental controls are first set");
	if (q->rc_max_age != SP_V_OK)
		sp_field_error_add(r, "maxAge", "is required when parental controls are first set");
	if (q->rc_pin != SP_V_OK)
		sp_field_error_add(r, "pin", "is required when parental controls are first set");
	if (r->n_errors == 0)
		return 1;
	sp_fail_validation(r);
	return 0;
}

/* A later change: the stored PIN must come with it (checked under the lockout). */
static int parental_change(sp_req *r, const struct parental_in *q, const sp_parental *p)
{
	if (p->locked_s > 0)
		return pin_locked(r, p->locked_s);
	if (q->rc_pin != SP_V_OK)
		return sp_fail(r, 403, "INVALID_PIN", "The parental controls PIN is required");
	switch (sp_parental_check_pin(r->user_id, p->pin_hash, q->pin)) {
	case SP_PIN_ERROR:
		return sp_unavailable(r);
	case SP_PIN_LOCKED:
		return pin_locked(r, sp_parental_locked_for(r->user_id));
	case SP_PIN_WRONG:
		return sp_fail(r, 403, "INVALID_PIN", "The parental controls PIN is wrong");
	case SP_PIN_OK:
		break;
	}
	if (sp_parental_update(r->user_id, q->rc_enabled == SP_V_OK ? q->enabled : -1,
	                       q->rc_max_age == SP_V_OK ? (int)q->max_age : -1) != 0)
		return sp_unavailable(r);
	sp_parental_published(r->user_id);
	return reply_parental(r, "Parental controls updated");
}

static int parental_put(sp_req *r)
{
	const struct parental_in *q = r->in;
	sp_parental p;
	char hash[128];

	if (sp_parental_get(r->user_id, &p) != 0)
		return sp_unavailable(r);
	if (p.pin_set)
		return parental_change(r, q, &p);
	if (!first_use_complete(r, q))
		return -1;
	if (sp_user_hash_password(q->pin, hash, sizeof hash) != 0)
		return sp_unavailable(r);
	switch (sp_parental_create(r->user_id, q->enabled, (int)q->max_age, hash)) {
	case -1:
		return sp_unavailable(r);
	case 0:
		/* a concurrent first setting won: this one is a change, checked by its PIN */
		if (sp_parental_get(r->user_id, &p) != 0)
			return sp_unavailable(r);
		return parental_change(r, q, &p);
	}
	sp_parental_published(r->user_id);
	return reply_parental(r, "Parental controls set");
}

/* 403 ACCOUNT_LOCKED, as a sign-in would answer. */
static int account_locked(sp_req *r)
{
	return sp_fail(r, 403, "ACCOUNT_LOCKED",
	               "Account is locked after repeated wrong passwords; try again later");
}

/*
 * The account password replaces a forgotten PIN. It is checked as a
 * sign-in checks it (bcrypt, constant time) and counted against the same
 * lockout (auth.max_failed_logins), so reset-pin is no way around it.
 */
static int parental_reset_pin(sp_req *r)
{
	const struct reset_pin_in *q = r->in;
	sp_res res;
	char email[256], hash[128];
	int ok, rc;

	if (sp_db_query(&res,
	                "SELECT email, password_hash, locked_until > UTC_TIMESTAMP(3) FROM users "
	                "WHERE id = ?",
	                "l", r->user_id) != 0)
		return sp_unavailable(r);
	if (res.nrows != 1) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Account not found");
	}
	snprintf(email, sizeof email, "%s", sp_res_str(&res, 0, 0));
	rc = sp_res_ll(&res, 0, 2, 0) == 1 ? 0 : sp_user_reserve_attempt(r->user_id);
	if (rc <= 0) {
		sp_res_free(&res);
		return rc < 0 ? sp_unavailable(r) : account_locked(r);
	}
	ok = sp_password_verify(q->password, sp_res_str(&res, 0, 1));
	sp_res_free(&res);
	if (!ok) {
		if (sp_user_record_failure(r->user_id, email) != 0)
			return sp_unavailable(r);
		sp_field_error_add(r, "password", "is incorrect");
		return sp_fail_validation(r);
	}
	if (sp_db_exec("UPDATE users SET failed_logins = 0 WHERE id = ?", "l", r->user_id) < 0 ||
	    sp_user_hash_password(q->new_pin, hash, sizeof hash) != 0 ||
	    sp_parental_reset_pin(r->user_id, hash) < 0)
		return sp_unavailable(r);
	sp_parental_published(r->user_id);
	return reply_parental(r, "Parental controls PIN replaced");
}

int main(int argc, char **argv)
{
	static const sp_app app = {"users", routes, sizeof routes / sizeof routes[0], NULL};

	return sp_app_main(&app, argc, argv);
}
