/*
 * /users: the profile and merged preferences (seen by /auth/me on the next
 * request), the profile picture (multipart, decoded in full and stored
 * re-encoded, served by the web server, replaced by the next one), and the
 * user's devices.
 */
#include "api_client.h"

#include "sp_config.h"
#include "sp_db.h"
#include "sp_image.h"
#include "test_images.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define API     "/api/v1"
#define PROFILE API "/users/profile"
#define PICTURE API "/users/profile-picture"
#define DEVICES API "/users/devices"

/* ---------------------------------------------------------------- helpers */

/* The profile columns of a user as one string, to see that nothing changed. */
static char *profile_row(const char *uid)
{
	return api_db_str_l("SELECT CONCAT_WS('|', name, COALESCE(bio, '-'), COALESCE(phone, '-'), "
	                    "COALESCE(preferences, '-'), COALESCE(picture_path, '-'), updated_at) "
	                    "FROM users WHERE id = ?",
	                    atoll(uid));
}

/* 1 when errors[] names want, or a dotted field that ends with ".want". */
static int names_field(const api_resp *r, const char *want)
{
	json_object *errs = api_jget(r->json, "errors");
	size_t wl = strlen(want);

	for (size_t i = 0; errs && json_object_is_type(errs, json_type_array) &&
	                   i < json_object_array_length(errs);
	     i++) {
		const char *f = api_jstr(json_object_array_get_idx(errs, i), "field");
		size_t fl = f ? strlen(f) : 0;
		if (f && (strcmp(f, want) == 0 ||
		          (fl > wl && f[fl - wl - 1] == '.' && strcmp(f + fl - wl, want) == 0)))
			return 1;
	}
	return 0;
}

static void me(api_resp *r, const char *token)
{
	api_get(r, API "/auth/me", token);
	EXPECT_OK(*r, 200);
}

/* ---------------------------------------------------------------- profile */

static void test_profile_update_returns_the_user_and_me_shows_it_next(void)
{
	api_user u;
	api_resp r;
	json_object *user;

	if (api_user_register(&u, "profile") != 0)
		return;
	/* /auth/me is cached before the change */
	for (int i = 0; i < 2; i++) {
		me(&r, u.token);
		EXPECT_STR(api_jstr(r.json, "data.user.name"), u.name);
		api_free(&r);
	}
	api_send(
	    &r, "PUT", PROFILE, u.token,
	    "{\"name\":\"Grace Hopper\",\"bio\":\"Writes compilers\",\"phone\":\"+14155550123\"}");
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	user = api_jget(r.json, "data.user");
	EXPECT_STR(api_jstr(user, "id"), u.id);
	EXPECT_STR(api_jstr(user, "email"), u.email);
	EXPECT_STR(api_jstr(user, "name"), "Grace Hopper");
	EXPECT_STR(api_jstr(user, "bio"), "Writes compilers");
	EXPECT_STR(api_jstr(user, "phone"), "+14155550123");
	EXPECT(api_jget(user, "preferences") != NULL, "user.preferences present: %.300s", r.body);
	EXPECT(strstr(r.body, "$2b$") == NULL, "no password hash in the answer");
	api_free(&r);
	for (int i = 0; i < 2; i++) {
		me(&r, u.token);
		EXPECT(api_streq(api_jstr(r.json, "data.user.name"), "Grace Hopper") &&
		           api_streq(api_jstr(r.json, "data.user.bio"), "Writes compilers") &&
		           api_streq(api_jstr(r.json, "data.user.phone"), "+14155550123"),
		       "/auth/me right after the update (call %d) should show it: %.400s", i + 1,
		       r.body);
		api_free(&r);
	}
	/* only what is sent changes */
	api_send(&r, "PUT", PROFILE, u.token, "{\"name\":\"Grace B. Hopper\"}");
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.user.name"), "Grace B. Hopper");
	EXPECT_STR(api_jstr(r.json, "data.user.bio"), "Writes compilers");
	EXPECT_STR(api_jstr(r.json, "data.user.phone"), "+14155550123");
	api_free(&r);
	/* null clears the bio */
	api_send(&r, "PUT", PROFILE, u.token, "{\"bio\":null}");
	EXPECT_OK(r, 200);
	EXPECT(api_jnull(r.json, "data.user.bio"), "bio null clears it: %.300s", r.body);
	EXPECT_STR(api_jstr(r.json, "data.user.name"), "Grace B. Hopper");
	api_free(&r);
	me(&r, u.token);
	EXPECT(api_jnull(r.json, "data.user.bio"), "/auth/me shows the cleared bio: %.300s",
	       r.body);
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM users WHERE id = ? AND bio IS NULL",
	                   atoll(u.id)) == 1,
	       "users.bio should be NULL");
	api_send(&r, "PUT", PROFILE, NULL, "{\"name\":\"Nobody Here\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_user_free(&u);
}

static void test_profile_preferences_are_merged(void)
{
	api_user u;
	api_resp r;
	json_object *p;

	if (api_user_register(&u, "prefs") != 0)
		return;
	me(&r, u.token);
	api_free(&r);
	api_send(&r, "PUT", PROFILE, u.token,
	         "{\"preferences\":{\"genres\":[\"Drama\",\"Comedy\"],\"language\":\"pt-BR\"}}");
	EXPECT_OK(r, 200);
	p = api_jget(r.json, "data.user.preferences");
	EXPECT(api_jlen(p, "genres") == 2 && api_streq(api_jstr(p, "genres.0"), "Drama") &&
	           api_streq(api_jstr(p, "genres.1"), "Comedy"),
	       "genres as sent: %.400s", r.body);
	EXPECT_STR(api_jstr(p, "language"), "pt-BR");
	EXPECT(api_jbool(p, "notifications.email") == 1 &&
	           api_jbool(p, "notifications.expiry") == 1 &&
	           api_jbool(p, "notifications.newContent") == 1,
	       "notifications keep their (true) defaults: %.400s", r.body);
	api_free(&r);

	api_send(&r, "PUT", PROFILE, u.token,
	         "{\"preferences\":{\"notifications\":{\"email\":false}}}");
	EXPECT_OK(r, 200);
	p = api_jget(r.json, "data.user.preferences");
	EXPECT(api_jlen(p, "genres") == 2 && api_streq(api_jstr(p, "language"), "pt-BR"),
	       "genres and language are kept when only notifications are sent: %.400s", r.body);
	EXPECT(api_jbool(p, "notifications.email") == 0, "notifications.email false: %.400s",
	       r.body);
	EXPECT(api_jbool(p, "notifications.expiry") == 1 &&
	           api_jbool(p, "notifications.newContent") == 1,
	       "the other notification keys keep their values: %.400s", r.body);
	api_free(&r);

	api_send(&r, "PUT", PROFILE, u.token,
	         "{\"preferences\":{\"genres\":[],\"notifications\":{\"newContent\":false}}}");
	EXPECT_OK(r, 200);
	p = api_jget(r.json, "data.user.preferences");
	EXPECT(api_jget(p, "genres") && api_jlen(p, "genres") == 0, "genres emptied: %.400s",
	       r.body);
	EXPECT(api_jbool(p, "notifications.email") == 0 &&
	           api_jbool(p, "notifications.newContent") == 0 &&
	           api_jbool(p, "notifications.expiry") == 1 &&
	           api_streq(api_jstr(p, "language"), "pt-BR"),
	       "merged: email false, newContent false, expiry true, language pt-BR: %.400s",
	       r.body);
	api_free(&r);

	/* /auth/me shows the merged preferences on the next request */
	me(&r, u.token);
	p = api_jget(r.json, "data.user.preferences");
	EXPECT(api_jbool(p, "notifications.email") == 0 &&
	           api_jbool(p, "notifications.newContent") == 0 &&
	           api_streq(api_jstr(p, "language"), "pt-BR") && api_jlen(p, "genres") == 0,
	       "/auth/me should show the merged preferences: %.400s", r.body);
	api_free(&r);
	api_user_free(&u);
}

static void test_profile_rejects_bad_input_naming_the_field(void)
{
	char name101[128], bio501[600], genre51[64], genres21[512], body[1024];
	api_user u;
	api_resp r;
	char *before, *after;
	struct {
		const char *body, *field;
	} cases[12];
	int n = 0;

	memset(name101, 'n', 101);
	name101[101] = '\0';
	memset(bio501, 'b', 501);
	bio501[501] = '\0';
	memset(genre51, 'g', 51);
	genre51[51] = '\0';
	{
		size_t used = (size_t)snprintf(genres21, sizeof genres21, "[");
		for (int i = 0; i < 21; i++)
			used += (size_t)snprintf(genres21 + used, sizeof genres21 - used,
			                         "%s\"G%d\"", i ? "," : "", i);
		snprintf(genres21 + used, sizeof genres21 - used, "]");
	}
	if (api_user_register(&u, "profile-bad") != 0)
		return;
	cases[n].body = "{\"name\":\"A\"}";
	cases[n++].field = "name";
	cases[n].body = NULL; /* 101-character name */
	cases[n++].field = "name";
	cases[n].body = NULL; /* 501-character bio */
	cases[n++].field = "bio";
	cases[n].body = "{\"phone\":\"abc\"}";
	cases[n++].field = "phone";
	cases[n].body = "{\"preferences\":{\"genres\":\"Drama\"}}";
	cases[n++].field = "genres";
	cases[n].body = NULL; /* 21 genres */
	cases[n++].field = "genres";
	cases[n].body = NULL; /* a 51-character genre */
	cases[n++].field = "genres";
	cases[n].body = "{\"preferences\":{\"language\":\"x\"}}";
	cases[n++].field = "language";
	cases[n].body = "{\"preferences\":{\"notifications\":{\"email\":\"yes\"}}}";
	cases[n++].field = "notifications.email";
	cases[n].body = "{\"preferences\":\"dark mode\"}";
	cases[n++].field = "preferences";
	cases[n].body = "{\"name\":42}";
	cases[n++].field = "name";

	before = profile_row(u.id);
	for (int k = 0; k < n; k++) {
		const char *b = cases[k].body;
		if (b == NULL) {
			if (k == 1)
				snprintf(body, sizeof body, "{\"name\":\"%s\"}", name101);
			else if (k == 2)
				snprintf(body, sizeof body, "{\"bio\":\"%s\"}", bio501);
			else if (k == 5)
				snprintf(body, sizeof body, "{\"preferences\":{\"genres\":%s}}",
				         genres21);
			else
				snprintf(body, sizeof body,
				         "{\"preferences\":{\"genres\":[\"%s\"]}}", genre51);
			b = body;
		}
		api_send(&r, "PUT", PROFILE, u.token, b);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(names_field(&r, cases[k].field), "%.80s...: errors should name %s: %.300s",
		       b, cases[k].field, r.body);
		api_free(&r);
	}
	/* several at once: all listed */
	snprintf(body, sizeof body, "{\"name\":\"A\",\"bio\":\"%s\",\"phone\":\"abc\"}", bio501);
	api_send(&r, "PUT", PROFILE, u.token, body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(names_field(&r, "name") && names_field(&r, "bio") && names_field(&r, "phone"),
	       "errors should name name, bio and phone: %.400s", r.body);
	api_free(&r);
	/* a good field next to a bad one is not written either */
	api_send(&r, "PUT", PROFILE, u.token,
	         "{\"name\":\"Valid Name\",\"preferences\":{\"language\":\"x\"}}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed on a 400: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	free(before);
	free(after);
	me(&r, u.token);
	EXPECT_STR(api_jstr(r.json, "data.user.name"), u.name);
	api_free(&r);
	api_user_free(&u);
}

static void test_profile_empty_body_is_400(void)
{
	api_user u;
	api_resp r;
	char *before, *after;
	static const char *const text[] = {"Content-Type: text/plain", NULL};
	api_req q;

	if (api_user_register(&u, "profile-empty") != 0)
		return;
	before = profile_row(u.id);
	api_send(&r, "PUT", PROFILE, u.token, "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "PUT", PROFILE, u.token, "{\"unknown\":1}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	api_send(&r, "PUT", PROFILE, u.token, "{\"name\":");
	EXPECT_ERROR(r, 400, "MALFORMED_JSON");
	api_free(&r);
	memset(&q, 0, sizeof q);
	q.method = "PUT";
	q.path = PROFILE;
	q.token = u.token;
	q.headers = text;
	q.body = "{\"name\":\"Plain Text\"}";
	api_do(&r, &q);
	EXPECT_ERROR(r, 415, NULL);
	api_free(&r);
	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	free(before);
	free(after);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- picture */

/* A real 1x1 PNG (transparent black). */
static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static const unsigned char gif_small[] = {
    'G',  'I',  'F',  '8',  '9',  'a',  0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

/* What a polyglot carries after (or inside) a valid image. */
static const char html_tail[] = "<html><script>alert(document.cookie)</script></html>";

#define BOUNDARY "----apitestBoundary7MA4YWxkTrZu0gW"

/* A multipart/form-data body with one file part; closed: add the closing delimiter. */
static api_buf mp_body(const char *field, const char *filename, const char *ctype, const void *data,
                       size_t len, int closed)
{
	char head[512], tail[128];
	int hl = snprintf(head, sizeof head,
	                  "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; "
	                  "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
	                  field, filename, ctype);
	int tl = closed ? snprintf(tail, sizeof tail, "\r\n--" BOUNDARY "--\r\n") : 0;
	api_buf b;

	b.len = (size_t)hl + len + (size_t)tl;
	b.data = malloc(b.len + 1);
	memcpy(b.data, head, (size_t)hl);
	memcpy(b.data + hl, data, len);
	if (tl)
		memcpy(b.data + (size_t)hl + len, tail, (size_t)tl);
	b.data[b.len] = '\0';
	return b;
}

static long upload_ct(api_resp *r, const char *token, const char *content_type, const api_buf *b)
{
	char ct[256];
	const char *hs[2] = {ct, NULL};
	api_req q;

	snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
	memset(&q, 0, sizeof q);
	q.method = "POST";
	q.path = PICTURE;
	q.token = token;
	q.headers = hs;
	q.body = b->data;
	q.body_len = b->len;
	return api_do(r, &q);
}

static long upload(api_resp *r, const char *token, const api_buf *b)
{
	return upload_ct(r, token, "multipart/form-data; boundary=" BOUNDARY, b);
}

/* Uploads bytes as "picture"; the pictureUrl into url. 0 on 200. */
static int upload_ok(const api_user *u, const char *filename, const char *ctype, const void *data,
                     size_t len, char *url, size_t n)
{
	api_buf b = mp_body("picture", filename, ctype, data, len, 1);
	api_resp r;
	const char *got;
	int rc;

	upload(&r, u->token, &b);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	got = api_jstr(r.json, "data.pictureUrl");
	EXPECT(got && got[0] == '/', "data.pictureUrl should be a path on the web server: %.300s",
	       r.body);
	snprintf(url, n, "%s", got ? got : "");
	rc = r.status == 200 && got ? 0 : -1;
	api_free(&r);
	free(b.data);
	return rc;
}

/* Uploads bytes that must be refused: 400 VALIDATION_ERROR naming picture. */
static void upload_refused(const api_user *u, const char *what, const void *data, size_t len)
{
	api_buf b = mp_body("picture", "upload.png", "image/png", data, len, 1);
	api_resp r;

	upload(&r, u->token, &b);
	EXPECT(r.status == 400, "%s: expected 400, got %ld %.300s", what, r.status, r.body);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "picture"), "%s: errors should name picture: %.300s", what,
	       r.body);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	free(b.data);
}

/* GET base + url into body (caller frees); the status. */
static long fetch_body(const char *url, ti_blob *body)
{
	char abs[1024];
	api_resp r;
	long st;

	snprintf(abs, sizeof abs, "%s%s", api_base(), url);
	api_get(&r, abs, NULL);
	st = r.status;
	memset(body, 0, sizeof *body);
	ti_append(body, r.body, r.body_len);
	api_free(&r);
	return st;
}

/*
 * The served file at url is a whole picture of the uploaded one's type and
 * size (a PNG with the very same pixels), with nothing of html_tail in it and
 * no byte after its end marker.
 */
static void expect_served_picture(const char *url, const ti_blob *uploaded)
{
	static const unsigned char iend[] = {0,   0,   0,    0,    'I',  'E',
	                                     'N', 'D', 0xae, 0x42, 0x60, 0x82};
	ti_blob got;
	sp_image want, served;
	long st = fetch_body(url, &got);
	int ok;

	EXPECT(st == 200, "GET %s should answer 200, got %ld", url, st);
	if (st != 200 || sp_image_reencode(uploaded->data, uploaded->len, &want) != SP_IMAGE_OK) {
		ti_free(&got);
		return;
	}
	ok = sp_image_reencode(got.data, got.len, &served) == SP_IMAGE_OK;
	EXPECT(ok, "GET %s should serve a picture that decodes (%zu bytes)", url, got.len);
	if (ok) {
		EXPECT(served.type == want.type && served.width == want.width &&
		           served.height == want.height,
		       "GET %s: a %ux%u %s, uploaded a %ux%u %s", url, served.width, served.height,
		       sp_image_ext(served.type), want.width, want.height, sp_image_ext(want.type));
		sp_image_free(&served);
	}
	EXPECT(!ti_contains(got.data, got.len, "<html") &&
	           !ti_contains(got.data, got.len, "script"),
	       "GET %s: the served picture still carries the upload's HTML", url);
	if (want.type == SP_IMAGE_PNG) {
		unsigned aw = 0, ah = 0, bw = 0, bh = 0;
		unsigned char *a = ti_png_rgba(uploaded->data, uploaded->len, &aw, &ah);
		unsigned char *b = ti_png_rgba(got.data, got.len, &bw, &bh);
		EXPECT(a && b && aw == bw && ah == bh && memcmp(a, b, (size_t)aw * ah * 4) == 0,
		       "GET %s should serve the uploaded PNG's pixels", url);
		EXPECT(got.len > sizeof iend &&
		           memcmp(got.data + got.len - sizeof iend, iend, sizeof iend) == 0,
		       "GET %s: the served PNG should end with its IEND chunk", url);
		free(a);
		free(b);
	} else {
		EXPECT(got.len > 2 && got.data[got.len - 2] == 0xff &&
		           got.data[got.len - 1] == 0xd9,
		       "GET %s: the served JPEG should end with its EOI marker", url);
	}
	sp_image_free(&want);
	ti_free(&got);
}

/* Files of this user under the uploads directory (finished or temporary). */
static int stored_files(const char *uid)
{
	char dir[1024], pre[64], tmp[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (api_db_ready() != 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/avatars", sp_conf_str("uploads.dir", "www/uploads"));
	snprintf(pre, sizeof pre, "%s-", uid);
	snprintf(tmp, sizeof tmp, ".%s-", uid);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, pre, strlen(pre)) == 0 ||
		    strncmp(e->d_name, tmp, strlen(tmp)) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_profile_picture_png_and_jpeg_are_stored_and_served(void)
{
	char url[512];
	api_user u;
	api_resp r;
	ti_blob png, jpeg;
	char *stored;

	if (api_user_register(&u, "picture") != 0)
		return;
	if (ti_png(&png, 24, 16, 4, 8, TI_GRADIENT, NULL) != 0 ||
	    ti_jpeg(&jpeg, 40, 30, 3, TI_GRADIENT, NULL, 0) != 0) {
		EXPECT(0, "cannot make the test pictures");
		api_user_free(&u);
		return;
	}
	me(&r, u.token); /* cached before the change */
	api_free(&r);
	if (upload_ok(&u, "me.png", "image/png", png.data, png.len, url, sizeof url) == 0) {
		expect_served_picture(url, &png);
		stored = api_db_str_l("SELECT picture_path FROM users WHERE id = ?", atoll(u.id));
		EXPECT(api_streq(stored, url), "users.picture_path %s, pictureUrl %s",
		       stored ? stored : "(null)", url);
		free(stored);
		me(&r, u.token);
		EXPECT(api_streq(api_jstr(r.json, "data.user.profilePicture"), url),
		       "/auth/me right after the upload should show profilePicture %s: %.300s", url,
		       r.body);
		api_free(&r);
	}
	/* a JPEG too (the name and declared type do not matter, the bytes do) */
	if (upload_ok(&u, "photo.bin", "application/octet-stream", jpeg.data, jpeg.len, url,
	              sizeof url) == 0) {
		EXPECT(strstr(url, ".jpg") != NULL, "a JPEG is stored as .jpg: %s", url);
		expect_served_picture(url, &jpeg);
	}
	ti_free(&png);
	ti_free(&jpeg);
	api_user_free(&u);
}

/* Uploads the way an ordinary client does: libcurl's mime API picks the boundary. */
static void test_profile_picture_upload_from_libcurl_mime_is_accepted(void)
{
	char url[1024], auth[1200], xff[64], ip[32], pic[512];
	const ti_blob png = {(unsigned char *)png_1x1, sizeof png_1x1};
	api_user u;
	CURL *c;
	curl_mime *mime;
	curl_mimepart *part;
	struct curl_slist *hl = NULL;
	api_buf out = {NULL, 0};
	long status = 0;
	json_object *j;
	const char *got;

	if (api_user_register(&u, "picture-mime") != 0)
		return;
	c = curl_easy_init();
	if (c == NULL) {
		api_user_free(&u);
		return;
	}
	snprintf(url, sizeof url, "%s%s", api_base(), PICTURE);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", u.token);
	api_fresh_ip(ip, sizeof ip);
	snprintf(xff, sizeof xff, "X-Forwarded-For: %s", ip);
	hl = curl_slist_append(hl, auth);
	hl = curl_slist_append(hl, xff);
	hl = curl_slist_append(hl, "Expect:");
	mime = curl_mime_init(c);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "picture");
	curl_mime_filename(part, "avatar.png");
	curl_mime_type(part, "image/png");
	curl_mime_data(part, (const char *)png_1x1, sizeof png_1x1);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	j = out.data ? json_tokener_parse(out.data) : NULL;
	got = api_jstr(j, "data.pictureUrl");
	EXPECT(status == 200 && got && got[0] == '/',
	       "POST %s with libcurl's multipart: expected 200 {pictureUrl}, got %ld %.300s",
	       PICTURE, status, out.data ? out.data : "");
	snprintf(pic, sizeof pic, "%s", got ? got : "");
	if (got)
		expect_served_picture(pic, &png);
	if (j)
		json_object_put(j);
	free(out.data);
	curl_mime_free(mime);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	api_user_free(&u);
}

static void test_profile_picture_second_upload_replaces_the_first(void)
{
	char first[512], second[512];
	api_user u;
	api_resp r;
	ti_blob jpeg;

	if (api_user_register(&u, "picture-replace") != 0)
		return;
	if (ti_jpeg(&jpeg, 20, 20, 3, TI_GRADIENT, NULL, 0) != 0 ||
	    upload_ok(&u, "a.png", "image/png", png_1x1, sizeof png_1x1, first, sizeof first) !=
	        0 ||
	    upload_ok(&u, "b.jpg", "image/jpeg", jpeg.data, jpeg.len, second, sizeof second) != 0) {
		ti_free(&jpeg);
		api_user_free(&u);
		return;
	}
	EXPECT(strcmp(first, second) != 0, "the second upload gets a new URL (%s)", second);
	expect_served_picture(second, &jpeg);
	EXPECT(api_get_status(first) == 404, "the replaced picture %s should be gone (404)", first);
	me(&r, u.token);
	EXPECT_STR(api_jstr(r.json, "data.user.profilePicture"), second);
	api_free(&r);
	ti_free(&jpeg);
	api_user_free(&u);
}

static void test_profile_picture_rejects_what_is_not_a_jpeg_or_png(void)
{
	static const char text[] = "hello, this is just a text file\n";
	const ti_blob png = {(unsigned char *)png_1x1, sizeof png_1x1};
	char url[512];
	api_user u;
	api_resp r;
	api_buf b;
	char *before, *after;

	if (api_user_register(&u, "picture-bad") != 0)
		return;
	if (upload_ok(&u, "keep.png", "image/png", png_1x1, sizeof png_1x1, url, sizeof url) != 0) {
		api_user_free(&u);
		return;
	}
	before = profile_row(u.id);

	b = mp_body("picture", "fake.png", "image/png", gif_small, sizeof gif_small, 1);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "picture"), "a GIF named .png: errors should name picture");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	free(b.data);

	b = mp_body("picture", "notes.jpg", "image/jpeg", text, sizeof text - 1, 1);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "picture"), "a text file: errors should name picture");
	api_free(&r);
	free(b.data);

	b = mp_body("picture", "empty.png", "image/png", "", 0, 1);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	free(b.data);

	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed on a 400: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	free(before);
	free(after);
	expect_served_picture(url, &png);
	api_user_free(&u);
}

/* Bytes that start like a picture but are not one: 400, no file, no profile change. */
static void test_profile_picture_with_junk_after_the_signature_is_400_and_nothing_is_stored(void)
{
	static const char png_html[] = "\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>";
	static const char jpeg_svg[] = "\xff\xd8\xff\xe0<svg xmlns='http://www.w3.org/2000/svg' "
	                               "onload='alert(1)'/>";
	api_user u;
	ti_blob png;
	char *before, *after;

	if (api_user_register(&u, "picture-junk") != 0)
		return;
	if (ti_png(&png, 32, 32, 3, 8, TI_NOISE, NULL) != 0) {
		api_user_free(&u);
		return;
	}
	before = profile_row(u.id);
	EXPECT(stored_files(u.id) == 0, "a new user has no stored picture");

	upload_refused(&u, "a PNG signature followed by HTML", png_html, sizeof png_html - 1);
	upload_refused(&u, "a JPEG signature followed by SVG", jpeg_svg, sizeof jpeg_svg - 1);
	upload_refused(&u, "a PNG cut in half", png.data, png.len / 2);

	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed on a 400: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM users WHERE id = ? AND picture_path IS NULL",
	                   atoll(u.id)) == 1,
	       "no picture recorded for a refused upload");
	EXPECT(stored_files(u.id) == 0,
	       "a refused upload leaves no file under uploads.dir/avatars");
	free(before);
	free(after);
	ti_free(&png);
	api_user_free(&u);
}

/* A valid picture with HTML inside and after it: what is served is only the picture. */
static void test_profile_picture_is_served_re_encoded_without_appended_bytes(void)
{
	char url[512];
	api_user u;
	ti_blob png, jpeg;

	if (api_user_register(&u, "picture-polyglot") != 0)
		return;
	if (ti_png(&png, 16, 16, 3, 8, TI_GRADIENT, html_tail) != 0 ||
	    ti_jpeg(&jpeg, 16, 16, 3, TI_GRADIENT, html_tail, 0) != 0) {
		api_user_free(&u);
		return;
	}
	ti_append(&png, html_tail, sizeof html_tail - 1);
	ti_append(&jpeg, html_tail, sizeof html_tail - 1);
	if (upload_ok(&u, "poly.png", "image/png", png.data, png.len, url, sizeof url) == 0)
		expect_served_picture(url, &png);
	if (upload_ok(&u, "poly.jpg", "image/jpeg", jpeg.data, jpeg.len, url, sizeof url) == 0)
		expect_served_picture(url, &jpeg);
	ti_free(&png);
	ti_free(&jpeg);
	api_user_free(&u);
}

/* Small files that declare more pixels than the bounds: refused before decoding. */
static void test_profile_picture_declaring_huge_dimensions_is_refused(void)
{
	api_user u;
	ti_blob png, jpeg;
	char *before, *after;

	if (api_user_register(&u, "picture-bomb") != 0)
		return;
	/* 20000 x 20000: some 60 KB of PNG that would decode to 400 MB */
	if (ti_png(&png, 20000, 20000, 1, 1, TI_BLACK, NULL) != 0 ||
	    ti_jpeg(&jpeg, 16, 16, 3, TI_GRADIENT, NULL, 0) != 0 ||
	    ti_jpeg_declare_size(&jpeg, 60000, 60000) != 0) {
		api_user_free(&u);
		return;
	}
	before = profile_row(u.id);
	upload_refused(&u, "a 20000x20000 PNG", png.data, png.len);
	upload_refused(&u, "a JPEG declaring 60000x60000", jpeg.data, jpeg.len);
	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed on a 400: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	EXPECT(stored_files(u.id) == 0,
	       "a refused upload leaves no file under uploads.dir/avatars");
	free(before);
	free(after);
	ti_free(&png);
	ti_free(&jpeg);
	api_user_free(&u);
}

static void test_profile_picture_over_5_mb_is_413_and_under_is_accepted(void)
{
	const size_t big = 6u * 1024 * 1024;
	unsigned char *data = malloc(big);
	char url[512];
	api_user u;
	api_resp r;
	api_buf b;
	ti_blob noisy;

	if (data == NULL || api_user_register(&u, "picture-big") != 0) {
		free(data);
		return;
	}
	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 31u + 7u);
	memcpy(data, png_1x1, 8);
	/* never "\r\n--" inside the data */
	for (size_t i = 8; i < big; i++)
		if (data[i] == '\r')
			data[i] = 'r';

	b = mp_body("picture", "huge.png", "image/png", data, big, 1);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 413, "PAYLOAD_TOO_LARGE");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	free(b.data);
	free(data);
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM users WHERE id = ? AND picture_path IS NULL",
	                   atoll(u.id)) == 1,
	       "no picture stored for a 413");

	/* above the 1 MiB JSON cap, under 5 MB: accepted (1024x768 of noise, about 2.4 MB) */
	if (ti_png(&noisy, 1024, 768, 3, 8, TI_NOISE, NULL) == 0) {
		EXPECT(noisy.len > 1024 * 1024 && noisy.len < 5000000, "the test PNG is %zu bytes",
		       noisy.len);
		if (upload_ok(&u, "big.png", "image/png", noisy.data, noisy.len, url, sizeof url) ==
		    0)
			expect_served_picture(url, &noisy);
		ti_free(&noisy);
	}
	api_user_free(&u);
}

static void test_profile_picture_rejects_malformed_multipart(void)
{
	api_user u;
	api_resp r;
	api_buf b;
	char *before, *after;

	if (api_user_register(&u, "picture-mp") != 0)
		return;
	before = profile_row(u.id);

	/* no boundary in the Content-Type */
	b = mp_body("picture", "a.png", "image/png", png_1x1, sizeof png_1x1, 1);
	upload_ct(&r, u.token, "multipart/form-data", &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	/* a boundary that is not in the body */
	upload_ct(&r, u.token, "multipart/form-data; boundary=somethingElse", &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	/* JSON is not an upload */
	upload_ct(&r, u.token, "application/json", &b);
	EXPECT_ERROR(r, 415, NULL);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	free(b.data);

	/* a truncated part: no closing delimiter */
	b = mp_body("picture", "a.png", "image/png", png_1x1, sizeof png_1x1, 0);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_free(&r);
	free(b.data);

	/* the file under another field name */
	b = mp_body("avatar", "a.png", "image/png", png_1x1, sizeof png_1x1, 1);
	upload(&r, u.token, &b);
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT(api_has_error_field(&r, "picture"), "errors should name picture: %.300s", r.body);
	api_free(&r);

	/* no token */
	upload(&r, NULL, &b);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	free(b.data);

	after = profile_row(u.id);
	EXPECT(before && api_streq(before, after), "the profile changed: %s -> %s",
	       before ? before : "(none)", after ? after : "(none)");
	free(before);
	free(after);
	api_user_free(&u);
}

/* ---------------------------------------------------------------- devices */

static int add_device(const char *uid, const char *dev, const char *name, const char *type,
                      int minutes_ago)
{
	if (api_db_ready() != 0)
		return -1;
	return sp_db_exec("INSERT INTO devices (user_id, device_id, device_name, device_type, "
	                  "last_used) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3) - INTERVAL ? MINUTE)",
	                  "lsssi", atoll(uid), dev, name, type, minutes_ago) == 1
	           ? 0
	           : -1;
}

static long long device_rows(const char *uid, const char *dev)
{
	sp_res res;
	long long n = -1;

	if (api_db_ready() != 0 ||
	    sp_db_query(&res, "SELECT COUNT(*) FROM devices WHERE user_id = ? AND device_id = ?",
	                "ls", atoll(uid), dev) != 0)
		return -1;
	n = sp_res_ll(&res, 0, 0, -1);
	sp_res_free(&res);
	return n;
}

static int lists_device(const api_resp *r, const char *dev)
{
	json_object *d = api_jget(r->json, "data.devices");

	for (size_t i = 0;
	     d && json_object_is_type(d, json_type_array) && i < json_object_array_length(d); i++)
		if (api_streq(api_jstr(json_object_array_get_idx(d, i), "deviceId"), dev))
			return 1;
	return 0;
}

static void test_devices_list_the_users_devices(void)
{
	char d1[64], d2[64], path[160];
	api_user u;
	api_resp r;
	json_object *d;

	if (api_user_register(&u, "devices") != 0)
		return;
	api_get(&r, DEVICES, u.token);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_jint(r.json, "count") == 0 && api_jget(r.json, "data.devices") &&
	           api_jlen(r.json, "data.devices") == 0,
	       "a new user has no devices: %.300s", r.body);
	api_free(&r);

	api_unique_token(d1, sizeof d1, "tv");
	api_unique_token(d2, sizeof d2, "phone");
	EXPECT(add_device(u.id, d1, "Living room TV", "tv", 60) == 0 &&
	           add_device(u.id, d2, "Pixel", "mobile", 1) == 0,
	       "cannot insert device rows");
	api_get(&r, DEVICES, u.token);
	EXPECT_OK(r, 200);
	EXPECT(api_jint(r.json, "count") == 2 && api_jlen(r.json, "data.devices") == 2,
	       "two devices: %.400s", r.body);
	d = api_jget(r.json, "data.devices");
	for (size_t i = 0; i < api_jlen(r.json, "data.devices"); i++) {
		json_object *e = json_object_array_get_idx(d, i);
		const char *id = api_jstr(e, "deviceId");
		EXPECT(api_is_iso_ms(api_jstr(e, "lastUsed")),
		       "device %zu lastUsed ISO time: %.300s", i, r.body);
		if (api_streq(id, d1)) {
			EXPECT_STR(api_jstr(e, "deviceName"), "Living room TV");
			EXPECT_STR(api_jstr(e, "deviceType"), "tv");
		} else if (api_streq(id, d2)) {
			EXPECT_STR(api_jstr(e, "deviceName"), "Pixel");
			EXPECT_STR(api_jstr(e, "deviceType"), "mobile");
		} else {
			EXPECT(0, "unexpected device %s", id ? id : "(no id)");
		}
	}
	api_free(&r);

	/* delete one: 200, gone from the list and the table */
	snprintf(path, sizeof path, DEVICES "/%s", d1);
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(device_rows(u.id, d1) == 0, "the devices row of %s should be gone", d1);
	api_get(&r, DEVICES, u.token);
	EXPECT(api_jint(r.json, "count") == 1 && !lists_device(&r, d1) && lists_device(&r, d2),
	       "after the delete only %s is listed: %.400s", d2, r.body);
	api_free(&r);
	/* again: 404 */
	api_send(&r, "DELETE", path, u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "DELETE", DEVICES "/no-such-device", u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);

	api_get(&r, DEVICES, NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	snprintf(path, sizeof path, DEVICES "/%s", d2);
	api_send(&r, "DELETE", path, NULL, NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	EXPECT(device_rows(u.id, d2) == 1, "the device survives an unauthenticated DELETE");
	api_user_free(&u);
}

static void test_devices_of_another_user_cannot_be_deleted(void)
{
	char theirs[64], path[160];
	api_user me_u, other;
	api_resp r;

	memset(&other, 0, sizeof other);
	if (api_user_register(&me_u, "devices-mine") != 0 ||
	    api_user_register(&other, "devices-theirs") != 0) {
		api_user_free(&me_u);
		api_user_free(&other);
		return;
	}
	api_unique_token(theirs, sizeof theirs, "their-tv");
	EXPECT(add_device(other.id, theirs, "Their TV", "tv", 5) == 0, "cannot insert a device");
	snprintf(path, sizeof path, DEVICES "/%s", theirs);
	api_send(&r, "DELETE", path, me_u.token, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	EXPECT(device_rows(other.id, theirs) == 1, "the other user's device must be untouched");
	api_get(&r, DEVICES, me_u.token);
	EXPECT(api_jint(r.json, "count") == 0 && !lists_device(&r, theirs),
	       "another user's device is not listed to me: %.300s", r.body);
	api_free(&r);
	api_get(&r, DEVICES, other.token);
	EXPECT(api_jint(r.json, "count") == 1 && lists_device(&r, theirs),
	       "the owner still sees the device: %.300s", r.body);
	api_free(&r);
	api_user_free(&me_u);
	api_user_free(&other);
}

static void test_device_with_any_accepted_id_can_be_deleted_by_its_encoded_id(void)
{
	/* stream start accepts any 1-128 character deviceId */
	static const char *ids[] = {
	    "Pixel 7 Pro", "Ger\xc3\xa4t-\xc3\xbc", "tv/living-room", "a?b#c&d=e",
	    "100%-sure",   "dot.dash-under_score~", "remote.inc"};
	api_user u;

	if (api_user_register(&u, "devices-enc") != 0)
		return;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char enc[512], path[640];
		api_resp r;
		int listed;

		EXPECT(add_device(u.id, ids[i], "Odd id", "tv", 1) == 0, "cannot insert device %s",
		       ids[i]);
		api_get(&r, DEVICES, u.token);
		listed = lists_device(&r, ids[i]);
		EXPECT(listed, "GET %s should list deviceId \"%s\" as stored: %.300s", DEVICES,
		       ids[i], r.body);
		api_free(&r);
		api_pct_encode(ids[i], "-_.~", enc, sizeof enc);
		snprintf(path, sizeof path, DEVICES "/%s", enc);
		api_send(&r, "DELETE", path, u.token, NULL);
		EXPECT(r.status == 200,
		       "DELETE %s (deviceId \"%s\") should answer 200, got %ld %.300s", path,
		       ids[i], r.status, r.body);
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
		EXPECT(device_rows(u.id, ids[i]) == 0,
		       "device \"%s\" should be gone after DELETE %s", ids[i], path);
	}
	api_user_free(&u);
}

static void test_every_users_response_carries_the_common_headers(void)
{
	api_user u;
	struct {
		const char *method, *path, *body;
		int auth;
		long status;
	} calls[] = {
	    {"PUT", PROFILE, "{\"name\":\"Header Check\"}", 1, 200},
	    {"PUT", PROFILE, "{}", 1, 400},
	    {"PUT", PROFILE, "{\"name\":\"Header Check\"}", 0, 401},
	    {"GET", DEVICES, NULL, 1, 200},
	    {"GET", DEVICES, NULL, 0, 401},
	    {"DELETE", DEVICES "/no-such-device", NULL, 1, 404},
	    {"POST", PICTURE, "{\"picture\":\"x\"}", 1, 415},
	    {"GET", PROFILE, NULL, 1, 405},
	};

	if (api_user_register(&u, "users-headers") != 0)
		return;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		api_resp r;
		api_send(&r, calls[i].method, calls[i].path, calls[i].auth ? u.token : NULL,
		         calls[i].body);
		EXPECT_STATUS(r, calls[i].status);
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	api_user_free(&u);
}

/* ---------------------------------------------------------------- registry */

int api_suite_users(void)
{
	CU_pSuite s = CU_add_suite("users", NULL, NULL);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_profile_update_returns_the_user_and_me_shows_it_next);
	ADD(test_profile_preferences_are_merged);
	ADD(test_profile_rejects_bad_input_naming_the_field);
	ADD(test_profile_empty_body_is_400);
	ADD(test_profile_picture_png_and_jpeg_are_stored_and_served);
	ADD(test_profile_picture_upload_from_libcurl_mime_is_accepted);
	ADD(test_profile_picture_second_upload_replaces_the_first);
	ADD(test_profile_picture_rejects_what_is_not_a_jpeg_or_png);
	ADD(test_profile_picture_with_junk_after_the_signature_is_400_and_nothing_is_stored);
	ADD(test_profile_picture_is_served_re_encoded_without_appended_bytes);
	ADD(test_profile_picture_declaring_huge_dimensions_is_refused);
	ADD(test_profile_picture_over_5_mb_is_413_and_under_is_accepted);
	ADD(test_profile_picture_rejects_malformed_multipart);
	ADD(test_devices_list_the_users_devices);
	ADD(test_devices_of_another_user_cannot_be_deleted);
	ADD(test_device_with_any_accepted_id_can_be_deleted_by_its_encoded_id);
	ADD(test_every_users_response_carries_the_common_headers);
#undef ADD
	return 0;
}
