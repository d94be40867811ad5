/*
 * /content: the catalogue as each level sees it (checked against MariaDB),
 * filters, full-text search, sorting and paging, what bad or hostile query
 * input gets, details with recommendations, featured and trending, admin
 * writes and their validation, cache invalidation on write, and the search
 * rate limit. Expectations are computed from the content tables, not from
 * seed numbers.
 */
#include "api_client.h"

#include "sp_db.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CONTENT "/api/v1/content"

/* ids are collected into sets of at most this many items */
#define MAX_ITEMS 4096

static const char *const level_names[] = {"Free", "Basic", "Premium", "Ultimate"};
static const char *const type_names[] = {"movie", "series", "documentary", "short", "trailer"};

/* ---------------------------------------------------------------- small helpers */

static int level_index(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static int type_index(const char *s)
{
	for (int i = 0; s && i < 5; i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}

static int is_num(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v &&
	       (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double));
}

static double jdbl(json_object *o, const char *path)
{
	json_object *v = api_jget(o, path);

	return v ? json_object_get_double(v) : -1.0;
}

static int str_or_null(json_object *o, const char *path)
{
	return api_jnull(o, path) || api_jtype(o, path, json_type_string);
}

/* "2025-01-08T00:00:00.000Z": a date at midnight UTC in the contract's form */
static int is_iso_date_midnight(const char *s)
{
	static const char pat[] = "dddd-dd-ddT00:00:00.000Z";

	if (s == NULL || strlen(s) != sizeof pat - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return 1;
}

static long long item_id(json_object *it)
{
	const char *id = api_jstr(it, "id");

	return api_all_digits(id) ? atoll(id) : -1;
}

/* A tag unique to this run, letters and digits only (one full-text word). */
static const char *run_tag(void)
{
	static char tag[32];

	if (tag[0] == '\0')
		snprintf(tag, sizeof tag, "Zqv%05u%03u", (unsigned)(time(NULL) % 100000),
		         (unsigned)(getpid() % 1000));
	return tag;
}

/* ---------------------------------------------------------------- database */

typedef union {
	long long l;
	const char *s;
} qarg;

/*
 * First cell of a query, -1 on error or no row. SQL must be a literal (the
 * library caches prepared statements by their text's address); parameters
 * typed by types: 'l' long long, 's' string.
 */
static long long q(const char *sql, const char *types, ...)
{
	qarg a[4];
	size_t n = strlen(types);
	va_list ap;
	sp_res res;
	int rc;
	long long v = -1;

	memset(a, 0, sizeof a);
	if (n > 4)
		return -1;
	va_start(ap, types);
	for (size_t i = 0; i < n; i++) {
		if (types[i] == 'l')
			a[i].l = va_arg(ap, long long);
		else
			a[i].s = va_arg(ap, const char *);
	}
	va_end(ap);
	if (api_db_ready() != 0)
		return -1;
	if (strcmp(types, "") == 0)
		rc = sp_db_query(&res, sql, "");
	else if (strcmp(types, "l") == 0)
		rc = sp_db_query(&res, sql, "l", a[0].l);
	else if (strcmp(types, "s") == 0)
		rc = sp_db_query(&res, sql, "s", a[0].s);
	else if (strcmp(types, "ll") == 0)
		rc = sp_db_query(&res, sql, "ll", a[0].l, a[1].l);
	else if (strcmp(types, "ls") == 0)
		rc = sp_db_query(&res, sql, "ls", a[0].l, a[1].s);
	else if (strcmp(types, "ss") == 0)
		rc = sp_db_query(&res, sql, "ss", a[0].s, a[1].s);
	else if (strcmp(types, "lll") == 0)
		rc = sp_db_query(&res, sql, "lll", a[0].l, a[1].l, a[2].l);
	else if (strcmp(types, "sss") == 0)
		rc = sp_db_query(&res, sql, "sss", a[0].s, a[1].s, a[2].s);
	else if (strcmp(types, "llss") == 0)
		rc = sp_db_query(&res, sql, "llss", a[0].l, a[1].l, a[2].s, a[3].s);
	else
		return -1;
	if (rc != 0)
		return -1;
	if (res.nrows > 0)
		v = sp_res_ll(&res, 0, 0, -1);
	sp_res_free(&res);
	return v;
}

static long long db_exec_ll(const char *sql, long long a, long long b)
{
	if (api_db_ready() != 0)
		return -1;
	return sp_db_exec(sql, "ll", a, b);
}

/* The level a user's active subscription gives (0 Free when none). */
static int db_user_level(const char *email)
{
	return (int)api_db_ll_s(
	    "SELECT COALESCE(MAX(p.access_level), 0) FROM users u LEFT JOIN subscriptions s ON "
	    "s.user_id = u.id AND s.status = 'active' AND s.end_date > UTC_TIMESTAMP(3) LEFT JOIN "
	    "plans p ON p.id = s.plan_id WHERE u.email = ?",
	    email);
}

/* Active titles a caller at level may watch. */
static long long db_visible(int level)
{
	return q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND access_level <= ?", "l",
	         (long long)level);
}

/* PCRE for "a word starting with w" as the full-text prefix search matches it. */
static void word_re(const char *w, char *out, size_t n)
{
	snprintf(out, n, "(^|[^[:alnum:]])%s", w);
}

/* First cell of a query without parameters as a malloc'd string (NULL if none). */
static char *qstr(const char *sql)
{
	sp_res res;
	char *v = NULL;

	if (api_db_ready() != 0 || sp_db_query(&res, sql, "") != 0)
		return NULL;
	if (res.nrows > 0 && sp_res_str(&res, 0, 0))
		v = strdup(sp_res_str(&res, 0, 0));
	sp_res_free(&res);
	return v;
}

/* MariaDB's own comparison of two titles in the column's collation (<0, 0, >0). */
static int db_title_cmp(const char *a, const char *b, int *ok)
{
	sp_res res;
	int v = 0;

	*ok = 0;
	if (api_db_ready() != 0 ||
	    sp_db_query(&res,
	                "SELECT STRCMP(CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci, "
	                "CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci)",
	                "ss", a, b) != 0)
		return 0;
	if (res.nrows > 0) {
		v = (int)sp_res_ll(&res, 0, 0, 0);
		*ok = 1;
	}
	sp_res_free(&res);
	return v;
}

/* ---------------------------------------------------------------- callers */

static const char *const demo_emails[] = {"free@demo.local", "basic@demo.local",
                                          "premium@demo.local", "ultimate@demo.local"};
static char *demo_tok[4];
static int demo_tried[4];
static char *admin_tok;
static int admin_tried;

static char *sign_in(const char *email, const char *password)
{
	api_resp r;
	char *tok = NULL;

	api_login(&r, email, password);
	EXPECT(r.status == 200, "sign-in of %s: expected 200, got %ld %.300s", email, r.status,
	       r.body);
	if (r.status == 200)
		api_take_str(&tok, &r, "data.token");
	api_free(&r);
	return tok;
}

/* Token of a seeded demo user (0 free .. 3 ultimate), NULL when sign-in failed. */
static const char *demo(int i)
{
	if (!demo_tried[i]) {
		demo_tried[i] = 1;
		demo_tok[i] = sign_in(demo_emails[i], "Demo12345");
	}
	return demo_tok[i];
}

static const char *admin(void)
{
	const char *e = getenv("SP_ADMIN_EMAIL"), *p = getenv("SP_ADMIN_PASSWORD");

	if (!admin_tried) {
		admin_tried = 1;
		EXPECT(e && *e && p && *p, "SP_ADMIN_EMAIL and SP_ADMIN_PASSWORD must be set");
		if (e && *e && p && *p)
			admin_tok = sign_in(e, p);
	}
	return admin_tok;
}

/* ---------------------------------------------------------------- listings */

/* Checks one listing item's fields and types. */
static void check_item(json_object *it, const char *where)
{
	const char *s = json_object_to_json_string(it);
	json_object *g = api_jget(it, "genre"), *res = api_jget(it, "resolution");
	int ok_g = g && json_object_is_type(g, json_type_array), ok_res;

	EXPECT(api_all_digits(api_jstr(it, "id")), "%s: item id should be a numeric string: %.300s",
	       where, s);
	EXPECT(api_jstr(it, "title") && *api_jstr(it, "title"), "%s: item title: %.300s", where, s);
	EXPECT(api_jtype(it, "description", json_type_string), "%s: item description: %.300s",
	       where, s);
	EXPECT(type_index(api_jstr(it, "type")) >= 0, "%s: item type: %.300s", where, s);
	for (size_t i = 0; ok_g && i < json_object_array_length(g); i++)
		ok_g = json_object_is_type(json_object_array_get_idx(g, i), json_type_string);
	EXPECT(ok_g, "%s: item genre should be an array of strings: %.300s", where, s);
	EXPECT(level_index(api_jstr(it, "accessLevel")) >= 0, "%s: item accessLevel: %.300s", where,
	       s);
	EXPECT(api_jtype(it, "duration", json_type_int) && api_jint(it, "duration") >= 0,
	       "%s: item duration (minutes): %.300s", where, s);
	EXPECT(is_iso_date_midnight(api_jstr(it, "releaseDate")),
	       "%s: item releaseDate should be \"YYYY-MM-DDT00:00:00.000Z\", got %s", where,
	       api_jstr(it, "releaseDate") ? api_jstr(it, "releaseDate") : "(absent)");
	EXPECT(is_num(it, "rating.average") && api_jtype(it, "rating.count", json_type_int),
	       "%s: item rating {average, count}: %.300s", where, s);
	EXPECT(
	    str_or_null(it, "ageRating") && str_or_null(it, "thumbnailUrl") &&
	        str_or_null(it, "bannerUrl") && str_or_null(it, "trailerUrl") &&
	        str_or_null(it, "director") && str_or_null(it, "language"),
	    "%s: item ageRating, thumbnailUrl, bannerUrl, trailerUrl, director, language: %.300s",
	    where, s);
	ok_res = res && json_object_is_type(res, json_type_array);
	for (size_t i = 0; ok_res && i < json_object_array_length(res); i++) {
		const char *q = json_object_get_string(json_object_array_get_idx(res, i));
		ok_res = api_streq(q, "480p") || api_streq(q, "720p") || api_streq(q, "1080p") ||
		         api_streq(q, "4K");
	}
	EXPECT(ok_res, "%s: item resolution should be an array of 480p/720p/1080p/4K: %.300s",
	       where, s);
	EXPECT(api_jbool(it, "isFeatured") >= 0, "%s: item isFeatured boolean: %.300s", where, s);
	EXPECT(api_jtype(it, "views", json_type_int) && api_jint(it, "views") >= 0,
	       "%s: item views: %.300s", where, s);
	EXPECT(api_jbool(it, "canAccess") >= 0, "%s: item canAccess boolean: %.300s", where, s);
}

/* Checks the paged list envelope; returns data.content (owned by r) or NULL. */
static json_object *check_list(const api_resp *r)
{
	json_object *arr = api_jget(r->json, "data.content");
	long long count = api_jint(r->json, "count"), total = api_jint(r->json, "pagination.total");
	long long limit = api_jint(r->json, "pagination.limit"),
	          pages = api_jint(r->json, "pagination.pages");
	long long page = api_jint(r->json, "pagination.page");

	api_check_ok(r, 200, __FILE__, __LINE__);
	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		EXPECT(0, "%s %.200s: data.content should be an array", r->method, r->path);
		return NULL;
	}
	EXPECT(count == (long long)json_object_array_length(arr),
	       "%s %.200s: count %lld should equal the items in the page (%zu)", r->method, r->path,
	       count, json_object_array_length(arr));
	EXPECT(page >= 1 && limit >= 1 && total >= 0,
	       "%s %.200s: pagination {page, limit, total, pages} should be integers: page %lld "
	       "limit %lld total %lld",
	       r->method, r->path, page, limit, total);
	if (limit >= 1)
		EXPECT(pages == (total + limit - 1) / limit,
		       "%s %.200s: pagination.pages should be ceil(total/limit) = %lld, got %lld",
		       r->method, r->path, (total + limit - 1) / limit, pages);
	EXPECT((long long)json_object_array_length(arr) <= limit,
	       "%s %.200s: %zu items in a page of limit %lld", r->method, r->path,
	       json_object_array_length(arr), limit);
	return arr;
}

static long long list_total(const api_resp *r)
{
	return api_jint(r->json, "pagination.total");
}

struct idset {
	int n;
	long long total;
	long long id[MAX_ITEMS];
	int level[MAX_ITEMS];
	int can[MAX_ITEMS];
	char type[MAX_ITEMS][16];
};

static struct idset *idset_new(void)
{
	return calloc(1, sizeof(struct idset));
}

static int idset_has(const struct idset *s, long long id)
{
	for (int i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return 1;
	return 0;
}

/*
 * Every page of GET /content?query (limit 100) into s; checks that pages
 * agree on the total, hold no duplicate and add up to it. Returns the total,
 * -1 when a page failed.
 */
static long long list_all(const char *query, const char *token, struct idset *s)
{
	char path[2048];
	long long pages = 1;

	s->n = 0;
	s->total = -1;
	for (long long page = 1; page <= pages && page <= 60; page++) {
		api_resp r;
		json_object *arr;

		snprintf(path, sizeof path, CONTENT "?%s%slimit=100&page=%lld", query,
		         *query ? "&" : "", page);
		api_get(&r, path, token);
		arr = check_list(&r);
		if (arr == NULL) {
			api_free(&r);
			return -1;
		}
		if (page == 1) {
			s->total = list_total(&r);
			pages = api_jint(r.json, "pagination.pages");
		} else {
			EXPECT(list_total(&r) == s->total,
			       "GET %s: total changed between pages: %lld then %lld", path,
			       s->total, list_total(&r));
		}
		for (size_t i = 0; i < json_object_array_length(arr) && s->n < MAX_ITEMS; i++) {
			json_object *it = json_object_array_get_idx(arr, i);
			long long id = item_id(it);
			EXPECT(!idset_has(s, id), "GET %s: item %lld listed twice across pages",
			       path, id);
			s->id[s->n] = id;
			s->level[s->n] = level_index(api_jstr(it, "accessLevel"));
			s->can[s->n] = api_jbool(it, "canAccess");
			snprintf(s->type[s->n], sizeof s->type[0], "%s",
			         api_jstr(it, "type") ? api_jstr(it, "type") : "");
			s->n++;
		}
		api_free(&r);
	}
	EXPECT(s->n == s->total,
	       "GET " CONTENT "?%s: pages hold %d items, pagination.total says %lld", query, s->n,
	       s->total);
	return s->total;
}

/* GET path and check the list envelope; returns data.content (the caller frees r). */
static json_object *get_list(api_resp *r, const char *path, const char *token)
{
	api_get(r, path, token);
	return check_list(r);
}

/* The index of id in a content array, -1 when absent. */
static int index_of(json_object *arr, long long id)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (item_id(json_object_array_get_idx(arr, i)) == id)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- admin writes */

static long long created[64];
static int n_created;

/* Creates a title as admin (201 expected); returns its id or -1. */
static long long create_title(const char *title, const char *description, const char *genre,
                              const char *level, const char *release)
{
	api_resp r;
	char body[4096];
	long long id = -1;
	const char *tok = admin();

	if (tok == NULL)
		return -1;
	snprintf(
	    body, sizeof body,
	    "{\"title\":\"%s\",\"description\":\"%s\",\"type\":\"movie\","
	    "\"genre\":[\"Drama\",\"%s\"],\"accessLevel\":\"%s\",\"duration\":95,"
	    "\"releaseDate\":\"%s\",\"ageRating\":\"PG\",\"thumbnailUrl\":\"/media/thumbs/x.jpg\","
	    "\"director\":\"Test Director\",\"producer\":\"Test Producer\","
	    "\"studio\":\"Test Studio\",\"language\":\"en\",\"resolution\":[\"480p\"],"
	    "\"cast\":[{\"name\":\"Ada Test\",\"role\":\"Actor\",\"character\":\"Lead\"}],"
	    "\"subtitles\":[{\"language\":\"en\",\"url\":\"/media/subtitles/x/en.vtt\"}],"
	    "\"tags\":[\"test\"],\"isFeatured\":false}",
	    title, description, genre, level, release);
	api_send(&r, "POST", CONTENT, tok, body);
	EXPECT_OK(r, 201);
	if (r.status == 201) {
		id = api_all_digits(api_jstr(r.json, "data.content.id"))
		         ? atoll(api_jstr(r.json, "data.content.id"))
		         : -1;
		EXPECT(id > 0,
		       "POST " CONTENT ": data.content.id should be a numeric string: %.300s",
		       r.body);
		if (id > 0 && n_created < (int)(sizeof created / sizeof created[0]))
			created[n_created++] = id;
	}
	api_free(&r);
	return id;
}

/* A create that should have failed but answered 201: remember it for cleanup. */
static void remember_if_created(const api_resp *r)
{
	const char *id = api_jstr(r->json, "data.content.id");

	if (r->status == 201 && api_all_digits(id) &&
	    n_created < (int)(sizeof created / sizeof created[0]))
		created[n_created++] = atoll(id);
}

static long deactivate(long long id)
{
	api_resp r;
	char path[128];
	long st;

	snprintf(path, sizeof path, CONTENT "/%lld", id);
	api_send(&r, "DELETE", path, admin(), NULL);
	st = r.status;
	api_free(&r);
	return st;
}

/* ================================================================ seed */

static void test_seed_has_at_least_60_titles_over_every_type_and_level(void)
{
	long long all = q("SELECT COUNT(*) FROM content WHERE is_active = 1", "");

	EXPECT(all >= 60, "active titles in the catalogue: expected >= 60, got %lld", all);
	for (int t = 0; t < 5; t++) {
		long long n = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND type = ?",
		                "s", type_names[t]);
		EXPECT(n > 0, "active titles of type %s: expected > 0, got %lld", type_names[t], n);
	}
	for (int l = 0; l < 4; l++) {
		long long n =
		    q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND access_level = ?", "l",
		      (long long)l);
		EXPECT(n > 0, "active titles at level %s: expected > 0, got %lld", level_names[l],
		       n);
	}
	EXPECT(q("SELECT COUNT(DISTINCT genre) FROM content_genres", "") >= 3,
	       "the catalogue should span several genres");
	EXPECT(q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND is_featured = 1", "") >= 2,
	       "several titles should be featured");
	for (int i = 0; i < 4; i++)
		EXPECT(db_user_level(demo_emails[i]) == i,
		       "demo user %s should be at level %s (active subscription), DB says %d",
		       demo_emails[i], level_names[i], db_user_level(demo_emails[i]));
}

/* gen-media draws the artwork the seed names; the web server serves it */
static void test_seeded_artwork_is_served_as_svg(void)
{
	api_resp r, img;
	json_object *first;
	const char *urls[2];

	api_get(&r, "/api/v1/content?limit=1", NULL);
	EXPECT_OK(r, 200);
	first = json_object_array_get_idx(api_jget(r.json, "data.content"), 0);
	urls[0] = api_jstr(first, "thumbnailUrl");
	urls[1] = api_jstr(first, "bannerUrl");
	for (int i = 0; i < 2; i++) {
		EXPECT(urls[i] && strncmp(urls[i], "/catalogue/", 11) == 0,
		       "seeded artwork should lie under /catalogue/, got %s",
		       urls[i] ? urls[i] : "null");
		if (!urls[i])
			continue;
		api_get(&img, urls[i], NULL);
		EXPECT_STATUS(img, 200);
		EXPECT_HEADER(img, "Content-Type", "image/svg+xml");
		EXPECT(img.body && strncmp(img.body, "<svg ", 5) == 0,
		       "%s should be an SVG picture", urls[i]);
		api_free(&img);
	}
	api_free(&r);
}

/* ================================================================ listing by level */

static void test_list_returns_paged_envelope_and_item_fields(void)
{
	api_resp r;
	json_object *arr = get_list(&r, CONTENT "?limit=5", NULL);
	long long total = list_total(&r);

	EXPECT_COMMON_HEADERS(r);
	EXPECT(api_jint(r.json, "pagination.page") == 1 &&
	           api_jint(r.json, "pagination.limit") == 5,
	       "GET " CONTENT "?limit=5: pagination should echo page 1, limit 5: %.300s", r.body);
	EXPECT(total == db_visible(0),
	       "anonymous total %lld should equal the active Free titles %lld", total,
	       db_visible(0));
	EXPECT(arr && json_object_array_length(arr) == (size_t)(total < 5 ? total : 5),
	       "GET " CONTENT "?limit=5: expected %lld items", total < 5 ? total : 5);
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		long long id = item_id(it);
		char *rel = api_db_str_l(
		    "SELECT DATE_FORMAT(release_date, '%Y-%m-%dT00:00:00.000Z') FROM content WHERE "
		    "id = ?",
		    id);
		char *title = api_db_str_l("SELECT title FROM content WHERE id = ?", id);
		char *type = api_db_str_l("SELECT type FROM content WHERE id = ?", id);

		check_item(it, "GET " CONTENT "?limit=5");
		EXPECT_STR(api_jstr(it, "title"), title);
		EXPECT_STR(api_jstr(it, "type"), type);
		EXPECT_STR(api_jstr(it, "releaseDate"), rel);
		EXPECT(level_index(api_jstr(it, "accessLevel")) ==
		           api_db_ll_l("SELECT access_level FROM content WHERE id = ?", id),
		       "item %lld accessLevel %s differs from the database", id,
		       api_jstr(it, "accessLevel"));
		EXPECT(api_jint(it, "duration") ==
		           api_db_ll_l("SELECT duration_min FROM content WHERE id = ?", id),
		       "item %lld duration differs from the database", id);
		EXPECT(api_jint(it, "views") ==
		           api_db_ll_l("SELECT views FROM content WHERE id = ?", id),
		       "item %lld views differ from the database", id);
		EXPECT(api_jint(it, "rating.count") ==
		           api_db_ll_l("SELECT rating_count FROM content WHERE id = ?", id),
		       "item %lld rating.count differs from the database", id);
		EXPECT(
		    (long long)(jdbl(it, "rating.average") * 10 + 0.5) ==
		        api_db_ll_l("SELECT ROUND(rating_avg * 10) FROM content WHERE id = ?", id),
		    "item %lld rating.average %.1f differs from the database", id,
		    jdbl(it, "rating.average"));
		EXPECT(api_jbool(it, "isFeatured") ==
		           api_db_ll_l("SELECT is_featured FROM content WHERE id = ?", id),
		       "item %lld isFeatured differs from the database", id);
		EXPECT(
		    (long long)json_object_array_length(api_jget(it, "genre")) ==
		        api_db_ll_l("SELECT COUNT(*) FROM content_genres WHERE content_id = ?", id),
		    "item %lld genre[] should list its %lld genres", id,
		    api_db_ll_l("SELECT COUNT(*) FROM content_genres WHERE content_id = ?", id));
		EXPECT(api_jbool(it, "canAccess") == 1,
		       "anonymous listing item %lld: canAccess true", id);
		free(rel);
		free(title);
		free(type);
	}
	api_free(&r);
}

static void test_list_defaults_to_page_1_limit_20(void)
{
	api_resp r;
	json_object *arr = get_list(&r, CONTENT, NULL);
	long long total = list_total(&r);

	EXPECT(api_jint(r.json, "pagination.page") == 1 &&
	           api_jint(r.json, "pagination.limit") == 20,
	       "GET " CONTENT ": default page 1, limit 20: %.200s", r.body);
	EXPECT(arr && (long long)json_object_array_length(arr) == (total < 20 ? total : 20),
	       "GET " CONTENT ": expected %lld items in the first page", total < 20 ? total : 20);
	api_free(&r);
}

/* Every page the caller gets matches the active titles at its level, item by item. */
static void check_level_listing(const char *who, const char *token, int level)
{
	struct idset *s = idset_new();
	long long want = db_visible(level);
	int above = 0, not_visible = 0;
	long long first_bad = -1;

	list_all("", token, s);
	EXPECT(s->total == want,
	       "GET " CONTENT " as %s (level %s): total %lld, the database has %lld active titles "
	       "at or below that level",
	       who, level_names[level], s->total, want);
	for (int i = 0; i < s->n; i++) {
		if (s->level[i] > level || s->level[i] < 0)
			above++;
		if (s->can[i] != 1)
			above++;
		if (q("SELECT COUNT(*) FROM content WHERE id = ? AND is_active = 1 AND "
		      "access_level <= ?",
		      "ll", s->id[i], (long long)level) != 1) {
			not_visible++;
			if (first_bad < 0)
				first_bad = s->id[i];
		}
	}
	EXPECT(above == 0, "GET " CONTENT " as %s: %d items above level %s or with canAccess false",
	       who, above, level_names[level]);
	EXPECT(not_visible == 0,
	       "GET " CONTENT " as %s: %d items are inactive or above the level in the database "
	       "(first %lld)",
	       who, not_visible, first_bad);
	free(s);
}

static void test_list_anonymous_sees_only_free_titles(void)
{
	check_level_listing("anonymous", NULL, 0);
}

static void test_list_basic_user_sees_free_and_basic_only(void)
{
	const char *tok = demo(1);
	struct idset *s;
	int basic = 0;

	if (tok == NULL)
		return;
	EXPECT(db_user_level(demo_emails[1]) == 1, "basic@demo.local should be at Basic");
	check_level_listing("basic@demo.local", tok, 1);
	s = idset_new();
	list_all("", tok, s);
	for (int i = 0; i < s->n; i++)
		basic += s->level[i] == 1;
	EXPECT(basic ==
	           q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND access_level = 1", ""),
	       "basic user's listing should hold every active Basic title: %d listed", basic);
	free(s);
}

static void test_list_each_level_total_matches_database(void)
{
	for (int i = 0; i < 4; i++) {
		const char *tok = demo(i);
		int level = db_user_level(demo_emails[i]);
		if (tok == NULL || level < 0)
			continue;
		check_level_listing(demo_emails[i], tok, level);
	}
	/* Ultimate sees every active title */
	if (demo(3)) {
		api_resp r;
		get_list(&r, CONTENT "?limit=1", demo(3));
		EXPECT(list_total(&r) == q("SELECT COUNT(*) FROM content WHERE is_active = 1", ""),
		       "ultimate@demo.local: total %lld should be every active title",
		       list_total(&r));
		api_free(&r);
	}
}

static void test_include_locked_lists_everything_with_correct_can_access(void)
{
	const char *who[] = {"anonymous", "basic@demo.local"};
	const char *tok[] = {NULL, demo(1)};
	int lvl[] = {0, 1};
	long long all = q("SELECT COUNT(*) FROM content WHERE is_active = 1", "");

	for (int k = 0; k < 2; k++) {
		struct idset *s = idset_new();
		int wrong = 0, locked = 0, open = 0;

		if (k == 1 && tok[1] == NULL) {
			free(s);
			continue;
		}
		list_all("includeLocked=true", tok[k], s);
		EXPECT(s->total == all,
		       "GET " CONTENT
		       "?includeLocked=true as %s: total %lld, expected every active "
		       "title (%lld)",
		       who[k], s->total, all);
		for (int i = 0; i < s->n; i++) {
			long long dl =
			    q("SELECT access_level FROM content WHERE id = ?", "l", s->id[i]);
			int want = dl <= lvl[k];
			if (s->can[i] != want || s->level[i] != dl) {
				if (wrong++ == 0)
					EXPECT(0,
					       "includeLocked as %s: item %lld (level %lld) "
					       "canAccess %d, "
					       "expected %d",
					       who[k], s->id[i], dl, s->can[i], want);
			}
			locked += s->can[i] == 0;
			open += s->can[i] == 1;
		}
		EXPECT(wrong == 0,
		       "includeLocked as %s: %d items with a wrong canAccess/accessLevel", who[k],
		       wrong);
		EXPECT(locked == all - db_visible(lvl[k]) && open == db_visible(lvl[k]),
		       "includeLocked as %s: %d locked and %d open, expected %lld and %lld", who[k],
		       locked, open, all - db_visible(lvl[k]), db_visible(lvl[k]));
		free(s);
	}
	/* includeLocked=false is the default */
	{
		api_resp r;
		get_list(&r, CONTENT "?includeLocked=false&limit=1", NULL);
		EXPECT(list_total(&r) == db_visible(0),
		       "includeLocked=false as anonymous: total %lld, expected %lld",
		       list_total(&r), db_visible(0));
		api_free(&r);
	}
}

/* ================================================================ filters */

static void test_filter_by_type_matches_database(void)
{
	const char *tok = demo(2);
	int level = db_user_level(demo_emails[2]);

	for (int t = 0; t < 5; t++) {
		char qs[64];
		struct idset *s = idset_new();
		long long want = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND "
		                   "access_level <= ? AND type = ?",
		                   "ls", (long long)level, type_names[t]);
		int wrong = 0;

		snprintf(qs, sizeof qs, "type=%s", type_names[t]);
		list_all(qs, tok, s);
		EXPECT(s->total == want, "GET " CONTENT "?%s as premium: total %lld, database %lld",
		       qs, s->total, want);
		for (int i = 0; i < s->n; i++)
			wrong += strcmp(s->type[i], type_names[t]) != 0 || s->level[i] > level;
		EXPECT(wrong == 0, "GET " CONTENT "?%s: %d items of another type or above Premium",
		       qs, wrong);
		free(s);
		/* anonymous, every level */
		snprintf(qs, sizeof qs, "type=%s&includeLocked=true", type_names[t]);
		s = idset_new();
		list_all(qs, NULL, s);
		want = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND type = ?", "s",
		         type_names[t]);
		EXPECT(s->total == want, "GET " CONTENT "?%s: total %lld, database %lld", qs,
		       s->total, want);
		free(s);
	}
}

/* The genre carried by most active titles (malloc'd). */
static char *common_genre(void)
{
	return api_db_str_l("SELECT g.genre FROM content_genres g JOIN content c ON c.id = "
	                    "g.content_id WHERE c.is_active = 1 AND c.access_level <= ? GROUP BY "
	                    "g.genre ORDER BY COUNT(*) DESC, g.genre LIMIT 1",
	                    3);
}

static int array_has_ci(json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (strcasecmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
			return 1;
	return 0;
}

static void test_filter_by_genre_is_case_insensitive_exact_name(void)
{
	char *genre = common_genre();
	char lower[64], upper[64], enc[200], path[400];
	const char *variants[3];
	long long want_all, want_free;

	EXPECT(genre != NULL, "no genre in content_genres");
	if (genre == NULL)
		return;
	snprintf(lower, sizeof lower, "%s", genre);
	snprintf(upper, sizeof upper, "%s", genre);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	variants[0] = genre;
	variants[1] = lower;
	variants[2] = upper;
	want_all = q("SELECT COUNT(DISTINCT c.id) FROM content c JOIN content_genres g ON "
	             "g.content_id = c.id WHERE c.is_active = 1 AND g.genre = ?",
	             "s", genre);
	want_free = q("SELECT COUNT(DISTINCT c.id) FROM content c JOIN content_genres g ON "
	              "g.content_id = c.id WHERE c.is_active = 1 AND c.access_level = 0 AND "
	              "g.genre = ?",
	              "s", genre);
	for (int v = 0; v < 3; v++) {
		api_resp r;
		json_object *arr;
		int wrong = 0;

		api_pct_encode(variants[v], "-.~", enc, sizeof enc);
		snprintf(path, sizeof path, CONTENT "?genre=%s&includeLocked=true&limit=100", enc);
		arr = get_list(&r, path, NULL);
		EXPECT(list_total(&r) == want_all, "GET %s: total %lld, database %lld (genre %s)",
		       path, list_total(&r), want_all, genre);
		for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
			wrong += !array_has_ci(api_jget(json_object_array_get_idx(arr, i), "genre"),
			                       genre);
		EXPECT(wrong == 0, "GET %s: %d items without genre %s", path, wrong, genre);
		api_free(&r);

		snprintf(path, sizeof path, CONTENT "?genre=%s&limit=1", enc);
		get_list(&r, path, NULL);
		EXPECT(list_total(&r) == want_free,
		       "GET %s as anonymous: total %lld, database %lld", path, list_total(&r),
		       want_free);
		api_free(&r);
	}
	/* exact name, not a substring */
	{
		api_resp r;
		char part[64];
		snprintf(part, sizeof part, "%.*s",
		         (int)(strlen(genre) > 3 ? strlen(genre) - 1 : 1), genre);
		if (q("SELECT COUNT(*) FROM content_genres WHERE genre = ?", "s", part) == 0) {
			api_pct_encode(part, "-.~", enc, sizeof enc);
			snprintf(path, sizeof path, CONTENT "?genre=%s&includeLocked=true", enc);
			get_list(&r, path, NULL);
			EXPECT(
			    list_total(&r) == 0,
			    "GET %s: a genre that is only a prefix of \"%s\" should match nothing, "
			    "total %lld",
			    path, genre, list_total(&r));
			api_free(&r);
		}
	}
	free(genre);
}

static void test_filter_by_access_level_matches_database(void)
{
	const char *tok = demo(3);

	for (int l = 0; l < 4; l++) {
		char qs[64], path[128];
		struct idset *s = idset_new();
		long long want = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND "
		                   "access_level = ?",
		                   "l", (long long)l);
		int wrong = 0;
		api_resp r;

		snprintf(qs, sizeof qs, "accessLevel=%s", level_names[l]);
		if (tok) {
			list_all(qs, tok, s);
			EXPECT(s->total == want,
			       "GET " CONTENT "?%s as ultimate: total %lld, database %lld", qs,
			       s->total, want);
			for (int i = 0; i < s->n; i++)
				wrong += s->level[i] != l;
			EXPECT(wrong == 0, "GET " CONTENT "?%s: %d items at another level", qs,
			       wrong);
		}
		free(s);
		/* anonymous without includeLocked: only what Free may watch */
		snprintf(path, sizeof path, CONTENT "?%s&limit=1", qs);
		get_list(&r, path, NULL);
		EXPECT(list_total(&r) == (l == 0 ? want : 0),
		       "GET %s as anonymous: total %lld, expected %lld", path, list_total(&r),
		       l == 0 ? want : 0);
		api_free(&r);
		/* anonymous with includeLocked: all of that level, canAccess only for Free */
		snprintf(path, sizeof path, CONTENT "?%s&includeLocked=true&limit=100", qs);
		{
			json_object *arr = get_list(&r, path, NULL);
			int bad = 0;
			EXPECT(list_total(&r) == want, "GET %s: total %lld, database %lld", path,
			       list_total(&r), want);
			for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
				bad += api_jbool(json_object_array_get_idx(arr, i), "canAccess") !=
				       (l == 0);
			EXPECT(bad == 0, "GET %s: %d items with canAccess other than %s", path, bad,
			       l == 0 ? "true" : "false");
			api_free(&r);
		}
	}
}

static void test_filters_combined_match_database(void)
{
	char *genre = common_genre();
	const char *tok = demo(2);
	int level = db_user_level(demo_emails[2]);
	char enc[200], path[512];

	if (genre == NULL || tok == NULL) {
		EXPECT(genre != NULL, "no genre in content_genres");
		free(genre);
		return;
	}
	api_pct_encode(genre, "-.~", enc, sizeof enc);
	for (int t = 0; t < 5; t++) {
		for (int l = 0; l < 4; l++) {
			api_resp r;
			json_object *arr;
			int wrong = 0;
			long long want = q(
			    "SELECT COUNT(*) FROM content c WHERE c.is_active = 1 AND "
			    "c.access_level = "
			    "? AND c.access_level <= ? AND EXISTS (SELECT 1 FROM content_genres g "
			    "WHERE g.content_id = c.id AND g.genre = ?) AND c.type = ?",
			    "llss", (long long)l, (long long)level, genre, type_names[t]);

			snprintf(path, sizeof path,
			         CONTENT "?type=%s&genre=%s&accessLevel=%s&limit=100",
			         type_names[t], enc, level_names[l]);
			arr = get_list(&r, path, tok);
			EXPECT(list_total(&r) == want,
			       "GET %s as premium: total %lld, database %lld", path, list_total(&r),
			       want);
			for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
				json_object *it = json_object_array_get_idx(arr, i);
				wrong += !api_streq(api_jstr(it, "type"), type_names[t]) ||
				         !api_streq(api_jstr(it, "accessLevel"), level_names[l]) ||
				         !array_has_ci(api_jget(it, "genre"), genre);
			}
			EXPECT(wrong == 0, "GET %s: %d items not matching every filter", path,
			       wrong);
			api_free(&r);
		}
	}
	free(genre);
}

/* ================================================================ search */

/* A word (>= 6 letters) from the title of an active Free title that few titles share. */
static int pick_title_word(char *word, size_t n, long long *id_out)
{
	sp_res res;
	long long best = -1;

	word[0] = '\0';
	if (api_db_ready() != 0 ||
	    sp_db_query(&res,
	                "SELECT id, title FROM content WHERE is_active = 1 AND access_level = 0 "
	                "ORDER BY id LIMIT 30",
	                "") != 0)
		return -1;
	for (size_t row = 0; row < res.nrows; row++) {
		const char *t = sp_res_str(&res, row, 1);
		char w[64], re[128];
		while (t && *t) {
			size_t l = 0;
			while (*t && !isalpha((unsigned char)*t))
				t++;
			while (t[l] && isalpha((unsigned char)t[l]))
				l++;
			if (l >= 6 && l < sizeof w) {
				long long c;
				snprintf(w, sizeof w, "%.*s", (int)l, t);
				word_re(w, re, sizeof re);
				c = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND "
				      "CONCAT_WS(' ', title, description) REGEXP ?",
				      "s", re);
				if (c >= 1 && (best < 0 || c < best)) {
					best = c;
					snprintf(word, n, "%s", w);
					*id_out = sp_res_ll(&res, row, 0, -1);
				}
			}
			t += l;
		}
	}
	sp_res_free(&res);
	return best > 0 ? 0 : -1;
}

/* A word (>= 6 letters) of an active Free title's description found in no title. */
static int pick_description_word(char *word, size_t n, long long *id_out)
{
	sp_res res;
	long long best = -1;

	word[0] = '\0';
	if (api_db_ready() != 0 ||
	    sp_db_query(&res,
	                "SELECT id, description FROM content WHERE is_active = 1 AND "
	                "access_level = 0 ORDER BY id LIMIT 30",
	                "") != 0)
		return -1;
	for (size_t row = 0; row < res.nrows; row++) {
		const char *t = sp_res_str(&res, row, 1);
		char w[64], re[128];
		while (t && *t) {
			size_t l = 0;
			while (*t && !isalpha((unsigned char)*t))
				t++;
			while (t[l] && isalpha((unsigned char)t[l]))
				l++;
			if (l >= 6 && l < sizeof w) {
				long long in_titles, c;
				snprintf(w, sizeof w, "%.*s", (int)l, t);
				word_re(w, re, sizeof re);
				in_titles =
				    q("SELECT COUNT(*) FROM content WHERE title REGEXP ?", "s", re);
				c = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND "
				      "description REGEXP ?",
				      "s", re);
				if (in_titles == 0 && c >= 2 && (best < 0 || c < best)) {
					best = c;
					snprintf(word, n, "%s", w);
					*id_out = sp_res_ll(&res, row, 0, -1);
				}
			}
			t += l;
		}
	}
	sp_res_free(&res);
	return best > 0 ? 0 : -1;
}

/* Checks ?search=word (anonymous, all levels and Free only) against the database. */
static void check_search_word(const char *word, long long must_have, const char *what)
{
	char re[128], path[512], enc[200];
	long long want_all, want_free;
	struct idset *s = idset_new();
	api_resp r;

	word_re(word, re, sizeof re);
	want_all = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND CONCAT_WS(' ', title, "
	             "description) REGEXP ?",
	             "s", re);
	want_free = q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND access_level = 0 AND "
	              "CONCAT_WS(' ', title, description) REGEXP ?",
	              "s", re);
	api_pct_encode(word, "-.~", enc, sizeof enc);
	snprintf(path, sizeof path, "search=%s&includeLocked=true", enc);
	list_all(path, NULL, s);
	EXPECT(s->total == want_all,
	       "GET " CONTENT "?%s (%s): total %lld, database has %lld titles with that word", path,
	       what, s->total, want_all);
	EXPECT(idset_has(s, must_have), "GET " CONTENT "?%s (%s): title %lld should be found", path,
	       what, must_have);
	for (int i = 0; i < s->n; i++) {
		long long hit = q("SELECT COUNT(*) FROM content WHERE id = ? AND "
		                  "CONCAT_WS(' ', title, description) REGEXP ?",
		                  "ls", s->id[i], re);
		EXPECT(hit == 1, "GET " CONTENT "?%s: item %lld does not contain \"%s\"", path,
		       s->id[i], word);
	}
	free(s);
	snprintf(path, sizeof path, CONTENT "?search=%s&limit=100", enc);
	get_list(&r, path, NULL);
	EXPECT(list_total(&r) == want_free, "GET %s as anonymous: total %lld, database %lld", path,
	       list_total(&r), want_free);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
}

static void test_search_finds_title_by_distinctive_title_word(void)
{
	char word[64], lower[64];
	long long id = -1;

	EXPECT(pick_title_word(word, sizeof word, &id) == 0,
	       "no title word of 6+ letters among active Free titles");
	if (id < 0)
		return;
	check_search_word(word, id, "title word");
	/* case does not matter */
	snprintf(lower, sizeof lower, "%s", word);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	check_search_word(lower, id, "title word, lower case");
}

static void test_search_finds_title_by_description_word(void)
{
	char word[64];
	long long id = -1;

	EXPECT(pick_description_word(word, sizeof word, &id) == 0,
	       "no description-only word of 6+ letters among active Free titles");
	if (id < 0)
		return;
	check_search_word(word, id, "description word");
}

static void test_search_combined_with_filters_matches_database(void)
{
	char word[64], re[128], enc[200], path[512];
	long long id = -1;
	char *type, *genre;

	if (pick_description_word(word, sizeof word, &id) != 0) {
		EXPECT(0, "no description-only word of 6+ letters among active Free titles");
		return;
	}
	word_re(word, re, sizeof re);
	type = api_db_str_l("SELECT type FROM content WHERE id = ?", id);
	genre = api_db_str_l("SELECT genre FROM content_genres WHERE content_id = ? ORDER BY genre "
	                     "LIMIT 1",
	                     id);
	if (type && genre) {
		api_resp r;
		json_object *arr;
		char genc[120];
		long long want =
		    q("SELECT COUNT(*) FROM content c WHERE c.is_active = 1 AND c.access_level = 0 "
		      "AND "
		      "c.type = ? AND EXISTS (SELECT 1 FROM content_genres g WHERE g.content_id = "
		      "c.id AND g.genre = ?) AND CONCAT_WS(' ', c.title, c.description) REGEXP ?",
		      "sss", type, genre, re);

		api_pct_encode(word, "-.~", enc, sizeof enc);
		api_pct_encode(genre, "-.~", genc, sizeof genc);
		snprintf(path, sizeof path,
		         CONTENT
		         "?search=%s&type=%s&genre=%s&accessLevel=Free&sortBy=title&limit=100",
		         enc, type, genc);
		arr = get_list(&r, path, NULL);
		EXPECT(list_total(&r) == want, "GET %s: total %lld, database %lld", path,
		       list_total(&r), want);
		EXPECT(index_of(arr, id) >= 0, "GET %s: title %lld should be found", path, id);
		api_free(&r);
		/* a filter that excludes the title leaves it out */
		snprintf(path, sizeof path,
		         CONTENT "?search=%s&type=%s&includeLocked=true&limit=100", enc,
		         strcmp(type, "trailer") == 0 ? "movie" : "trailer");
		arr = get_list(&r, path, NULL);
		EXPECT(index_of(arr, id) < 0, "GET %s: title %lld (a %s) should not be listed",
		       path, id, type);
		api_free(&r);
	}
	EXPECT(type && genre, "title %lld has no type or genre", id);
	free(type);
	free(genre);
}

/* ================================================================ paging */

static void test_paging_totals_pages_and_page_beyond_end(void)
{
	const int limit = 7;
	long long all = q("SELECT COUNT(*) FROM content WHERE is_active = 1", "");
	long long pages = (all + limit - 1) / limit, seen = 0;
	struct idset *s = idset_new();
	char path[256];

	for (long long p = 1; p <= pages && p <= 100; p++) {
		api_resp r;
		json_object *arr;

		snprintf(path, sizeof path, CONTENT "?includeLocked=true&limit=%d&page=%lld", limit,
		         p);
		arr = get_list(&r, path, NULL);
		EXPECT(
		    list_total(&r) == all && api_jint(r.json, "pagination.pages") == pages &&
		        api_jint(r.json, "pagination.page") == p &&
		        api_jint(r.json, "pagination.limit") == limit,
		    "GET %s: pagination should be {page %lld, limit %d, total %lld, pages %lld}: "
		    "%.200s",
		    path, p, limit, all, pages, r.body);
		EXPECT(arr && (long long)json_object_array_length(arr) ==
		                  (p < pages ? limit : all - (long long)limit * (pages - 1)),
		       "GET %s: %zu items on page %lld of %lld", path,
		       arr ? json_object_array_length(arr) : 0, p, pages);
		for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
			long long id = item_id(json_object_array_get_idx(arr, i));
			EXPECT(!idset_has(s, id), "GET %s: item %lld already on an earlier page",
			       path, id);
			if (s->n < MAX_ITEMS)
				s->id[s->n++] = id;
			seen++;
		}
		api_free(&r);
	}
	EXPECT(seen == all, "pages of %d hold %lld items in all, expected %lld", limit, seen, all);
	/* beyond the end: an empty page with the right total */
	{
		api_resp r;
		json_object *arr;
		snprintf(path, sizeof path, CONTENT "?includeLocked=true&limit=%d&page=%lld", limit,
		         pages + 1);
		arr = get_list(&r, path, NULL);
		EXPECT(arr && json_object_array_length(arr) == 0 && api_jint(r.json, "count") == 0,
		       "GET %s: expected an empty page: %.200s", path, r.body);
		EXPECT(list_total(&r) == all && api_jint(r.json, "pagination.pages") == pages,
		       "GET %s: total %lld / pages %lld, expected %lld / %lld", path,
		       list_total(&r), api_jint(r.json, "pagination.pages"), all, pages);
		api_free(&r);
		snprintf(path, sizeof path, CONTENT "?limit=100&page=999");
		arr = get_list(&r, path, NULL);
		EXPECT(arr && json_object_array_length(arr) == 0 && list_total(&r) == db_visible(0),
		       "GET %s: expected no items and total %lld: %.200s", path, db_visible(0),
		       r.body);
		api_free(&r);
	}
	free(s);
}

/* ================================================================ sorting */

/* <0, 0, >0 comparing two items on a sort field; *ok 0 when it cannot tell */
static int cmp_field(json_object *a, json_object *b, const char *field, int *ok)
{
	*ok = 1;
	if (strcmp(field, "releaseDate") == 0) {
		const char *x = api_jstr(a, "releaseDate"), *y = api_jstr(b, "releaseDate");
		if (!x || !y) {
			*ok = 0;
			return 0;
		}
		return strcmp(x, y);
	}
	if (strcmp(field, "views") == 0) {
		long long x = api_jint(a, "views"), y = api_jint(b, "views");
		return x < y ? -1 : x > y;
	}
	if (strcmp(field, "rating") == 0) {
		double x = jdbl(a, "rating.average"), y = jdbl(b, "rating.average");
		return x < y ? -1 : x > y;
	}
	{
		const char *x = api_jstr(a, "title"), *y = api_jstr(b, "title");
		if (!x || !y) {
			*ok = 0;
			return 0;
		}
		return db_title_cmp(x, y, ok);
	}
}

/* Checks that path lists its items in order on field; *first and *last point into r. */
static void check_sorted(const char *path, const char *field, int desc, json_object **first,
                         json_object **last, api_resp *r)
{
	json_object *arr = get_list(r, path, NULL);
	size_t n = arr ? json_object_array_length(arr) : 0;
	int bad = 0;

	*first = *last = NULL;
	EXPECT(n >= 2, "GET %s: expected at least two items to check the order", path);
	for (size_t i = 1; i < n; i++) {
		json_object *a = json_object_array_get_idx(arr, i - 1);
		json_object *b = json_object_array_get_idx(arr, i);
		int ok, c = cmp_field(a, b, field, &ok);
		if (!ok || (desc ? c < 0 : c > 0)) {
			if (bad++ == 0)
				EXPECT(0,
				       "GET %s: items %zu and %zu are out of %s order on %s: "
				       "%.200s / %.200s",
				       path, i - 1, i, desc ? "descending" : "ascending", field,
				       json_object_to_json_string(a),
				       json_object_to_json_string(b));
		}
	}
	if (n > 0) {
		*first = json_object_array_get_idx(arr, 0);
		*last = json_object_array_get_idx(arr, n - 1);
	}
}

static void test_sort_by_each_field_both_ways_is_monotone(void)
{
	static const char *const fields[] = {"releaseDate", "views", "rating", "title"};
#define ACTIVE " FROM content WHERE is_active = 1"
	static const char *const minq[] = {
	    "SELECT DATE_FORMAT(MIN(release_date), '%Y-%m-%dT00:00:00.000Z')" ACTIVE,
	    "SELECT MIN(views)" ACTIVE, "SELECT ROUND(MIN(rating_avg) * 10)" ACTIVE,
	    "SELECT MIN(title)" ACTIVE};
	static const char *const maxq[] = {
	    "SELECT DATE_FORMAT(MAX(release_date), '%Y-%m-%dT00:00:00.000Z')" ACTIVE,
	    "SELECT MAX(views)" ACTIVE, "SELECT ROUND(MAX(rating_avg) * 10)" ACTIVE,
	    "SELECT MAX(title)" ACTIVE};
#undef ACTIVE
	long long all = q("SELECT COUNT(*) FROM content WHERE is_active = 1", "");

	for (int f = 0; f < 4; f++) {
		for (int desc = 0; desc < 2; desc++) {
			char path[256];
			api_resp r;
			json_object *first, *last;
			const char *sql = desc ? maxq[f] : minq[f];

			snprintf(path, sizeof path,
			         CONTENT "?includeLocked=true&limit=100&sortBy=%s&order=%s",
			         fields[f], desc ? "desc" : "asc");
			check_sorted(path, fields[f], desc, &first, &last, &r);
			/* with the whole catalogue on one page, the first item is the extreme */
			if (first && all <= 100) {
				if (f == 0) {
					char *want = qstr(sql);
					EXPECT_STR(api_jstr(first, "releaseDate"), want);
					free(want);
				} else if (f == 1) {
					EXPECT(api_jint(first, "views") == api_db_ll(sql),
					       "GET %s: first item's views %lld, expected %lld",
					       path, api_jint(first, "views"), api_db_ll(sql));
				} else if (f == 2) {
					EXPECT((long long)(jdbl(first, "rating.average") * 10 +
					                   0.5) == api_db_ll(sql),
					       "GET %s: first item's rating %.1f, expected %.1f",
					       path, jdbl(first, "rating.average"),
					       api_db_ll(sql) / 10.0);
				} else {
					char *want = qstr(sql);
					int ok,
					    c = want ? db_title_cmp(api_jstr(first, "title")
					                                ? api_jstr(first, "title")
					                                : "",
					                            want, &ok)
					             : 1;
					EXPECT(want && ok && c == 0,
					       "GET %s: first title \"%s\", expected \"%s\"", path,
					       api_jstr(first, "title") ? api_jstr(first, "title")
					                                : "(none)",
					       want ? want : "(none)");
					free(want);
				}
			}
			api_free(&r);
		}
	}
}

static void test_sort_defaults_release_date_desc_and_title_asc(void)
{
	api_resp r;
	json_object *first, *last;
	int ok;

	check_sorted(CONTENT "?includeLocked=true&limit=100", "releaseDate", 1, &first, &last, &r);
	EXPECT(first && last && cmp_field(first, last, "releaseDate", &ok) > 0,
	       "default order should be newest first");
	api_free(&r);
	check_sorted(CONTENT "?includeLocked=true&limit=100&sortBy=releaseDate", "releaseDate", 1,
	             &first, &last, &r);
	api_free(&r);
	check_sorted(CONTENT "?includeLocked=true&limit=100&sortBy=title", "title", 0, &first,
	             &last, &r);
	EXPECT(first && last && cmp_field(first, last, "title", &ok) < 0,
	       "sortBy=title without order should be A to Z");
	api_free(&r);
	check_sorted(CONTENT "?includeLocked=true&limit=100&sortBy=views", "views", 1, &first,
	             &last, &r);
	api_free(&r);
}

/* ================================================================ bad input */

static void test_bad_query_parameters_are_400_naming_the_field(void)
{
	static const struct {
		const char *q, *field;
	} cases[] = {
	    {"limit=0", "limit"},
	    {"limit=101", "limit"},
	    {"limit=abc", "limit"},
	    {"page=-1", "page"},
	    {"page=0", "page"},
	    {"page=abc", "page"},
	    {"sortBy=password", "sortBy"},
	    {"order=sideways", "order"},
	    {"type=cartoon", "type"},
	    {"accessLevel=Gold", "accessLevel"},
	    {"includeLocked=maybe", "includeLocked"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_resp r;
		char path[256];

		snprintf(path, sizeof path, CONTENT "?%s", cases[i].q);
		api_get(&r, path, NULL);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, cases[i].field),
		       "GET %s: errors[] should name %s: %.300s", path, cases[i].field, r.body);
		if (i == 0)
			EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
	/* every bad field at once */
	{
		api_resp r;
		char fields[256];
		const char *path = CONTENT "?limit=0&page=abc&sortBy=password&order=sideways&type="
		                           "cartoon&accessLevel=Gold&includeLocked=maybe";
		static const char *const all[] = {"limit", "page",        "sortBy",       "order",
		                                  "type",  "accessLevel", "includeLocked"};

		api_get(&r, path, NULL);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			EXPECT(api_has_error_field(&r, all[i]),
			       "GET %s: errors[] should list every bad field, %s missing (got %s)",
			       path, all[i], fields);
		api_free(&r);
	}
	/* the same with a token */
	if (demo(1)) {
		api_resp r;
		api_get(&r, CONTENT "?limit=101", demo(1));
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "limit"),
		       "limit=101 as a user: errors[] names limit");
		api_free(&r);
	}
}

static void test_search_longer_than_200_characters_is_400(void)
{
	static const size_t lens[] = {201, 10240};
	char *q = malloc(10240 + 64);

	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		api_resp r;
		int n = snprintf(q, 64, CONTENT "?search=");

		memset(q + n, 'a', lens[k]);
		q[n + lens[k]] = '\0';
		api_get(&r, q, NULL);
		EXPECT(r.status == 400,
		       "GET " CONTENT "?search=<%zu x a>: expected 400, got %ld %.200s", lens[k],
		       r.status, r.body);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, "search"),
		       "GET " CONTENT "?search=<%zu chars>: errors[] should name search: %.200s",
		       lens[k], r.body);
		api_free(&r);
	}
	/* 200 characters is still fine */
	{
		api_resp r;
		int n = snprintf(q, 64, CONTENT "?search=");
		memset(q + n, 'b', 200);
		q[n + 200] = '\0';
		api_get(&r, q, NULL);
		EXPECT(r.status == 200,
		       "GET " CONTENT "?search=<200 x b>: expected 200, got %ld %.200s", r.status,
		       r.body);
		api_free(&r);
	}
	free(q);
}

/* No SQL, engine or library text in a body. */
static int leaks_internals(const char *b)
{
	static const char *const bad[] = {
	    "SELECT ",      "MATCH(",    "AGAINST", "SQL syntax", "SQLSTATE",
	    "sqlstate",     "mysql",     "MySQL",   "MariaDB",    "content_genres",
	    "access_level", "is_active", ".c:"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (strstr(b, bad[i]))
			return 1;
	return 0;
}

/* %00, %FF, %C0: a value that is not UTF-8 text once decoded */
static int is_raw_bytes(const char *enc)
{
	return strstr(enc, "%00") || strstr(enc, "%FF") || strstr(enc, "%C0");
}

static void test_hostile_search_text_is_never_500_nor_leaks_sql(void)
{
	/* raw query-string values (already URL-encoded) */
	static const struct {
		const char *q, *what;
		int not_everything; /* a 200 must not list the whole catalogue */
	} cases[] = {
	    {"%25", "%", 1},
	    {"%25%25", "%%", 1},
	    {"_", "_", 1},
	    {"%27", "'", 1},
	    {"%22", "\"", 1},
	    {"%27)%20OR%201%3D1%20--", "') OR 1=1 --", 1},
	    {"%27%20OR%20%271%27%3D%271", "' OR '1'='1", 1},
	    {"x%27%3B%20DROP%20TABLE%20content%3B%20--", "x'; DROP TABLE content; --", 1},
	    {"%2B", "+", 1},
	    {"-", "-", 1},
	    {"*", "*", 1},
	    {"%22%22", "\"\"", 1},
	    {"(", "(", 1},
	    {")", ")", 1},
	    {"~", "~", 1},
	    {"%3C", "<", 1},
	    {"%3E", ">", 1},
	    {"%2B-*%22()~%3C%3E%40", "+-*\"()~<>@", 1},
	    {"%2Ba%20-b%20*c%20%22d%20(e)%20~f%20%3Cg%20%3Eh", "boolean operators mixed", 0},
	    {"%22unterminated", "\"unterminated", 0},
	    {"*signal", "*signal", 0},
	    {"%5C", "\\", 1},
	    {"%FF%FE", "bytes FF FE", 1},
	    {"abc%FF%FEdef", "word with bytes FF FE", 0},
	    {"%C0%AF", "overlong UTF-8", 1},
	    {"%00", "NUL", 1},
	};
	long long all_free = db_visible(0);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_resp r;
		char path[256], ex[300];

		snprintf(path, sizeof path, CONTENT "?search=%s", cases[i].q);
		api_get(&r, path, NULL);
		EXPECT(r.status == 200 || r.status == 400,
		       "GET %s (search %s): expected 200 or 400, got %ld %s", path, cases[i].what,
		       r.status, api_excerpt(&r, ex, sizeof ex));
		EXPECT(!leaks_internals(r.body), "GET %s (search %s): body leaks internals: %s",
		       path, cases[i].what, api_excerpt(&r, ex, sizeof ex));
		if (r.status == 200) {
			json_object *arr = check_list(&r);
			int above = 0;
			for (size_t k = 0; arr && k < json_object_array_length(arr); k++)
				above += !api_streq(
				    api_jstr(json_object_array_get_idx(arr, k), "accessLevel"),
				    "Free");
			EXPECT(above == 0, "GET %s: anonymous search listed %d titles above Free",
			       path, above);
			EXPECT(list_total(&r) >= 0 && list_total(&r) <= all_free,
			       "GET %s: total %lld outside 0..%lld", path, list_total(&r),
			       all_free);
			if (cases[i].not_everything && all_free > 0)
				EXPECT(
				    list_total(&r) < all_free,
				    "GET %s (search %s): matched the whole catalogue (%lld titles)",
				    path, cases[i].what, list_total(&r));
		} else if (r.status == 400 && !is_raw_bytes(cases[i].q)) {
			/* bytes that are not UTF-8 text have their own test below */
			EXPECT_ERROR(r, 400, NULL);
		}
		api_free(&r);
	}
	/* operators and quotes around a real word still find it */
	{
		char word[64], path[256];
		long long id = -1;
		if (pick_title_word(word, sizeof word, &id) == 0) {
			/* "word", +word, word*, (word), 'word', ~word, <word> */
			static const char *const pre[] = {"%22", "%2B", "", "(", "%27", "~", "%3C"};
			static const char *const post[] = {"%22", "", "*", ")", "%27", "", "%3E"};
			for (size_t k = 0; k < sizeof pre / sizeof pre[0]; k++) {
				char v[128];
				api_resp r;
				json_object *arr;
				snprintf(v, sizeof v, "%s%s%s", pre[k], word, post[k]);
				snprintf(path, sizeof path, CONTENT "?search=%s&limit=100", v);
				api_get(&r, path, NULL);
				EXPECT(r.status == 200, "GET %s: expected 200, got %ld %.200s",
				       path, r.status, r.body);
				arr = r.status == 200 ? check_list(&r) : NULL;
				EXPECT(index_of(arr, id) >= 0,
				       "GET %s: title %lld should still be found", path, id);
				api_free(&r);
			}
		}
	}
}

static void test_search_with_invalid_bytes_gets_json_error_with_security_headers(void)
{
	static const char *const cases[] = {"%FF%FE", "abc%FF%FEdef", "%C0%AF", "%00"};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_resp r;
		char path[128], ex[300];

		snprintf(path, sizeof path, CONTENT "?search=%s", cases[i]);
		api_get(&r, path, NULL);
		EXPECT(r.status == 200 || r.status == 400,
		       "GET %s: expected 200 or 400, got %ld %s", path, r.status,
		       api_excerpt(&r, ex, sizeof ex));
		if (r.status == 400)
			EXPECT_ERROR(r, 400, NULL);
		else
			check_list(&r);
		EXPECT_COMMON_HEADERS(r);
		api_free(&r);
	}
}

/* ================================================================ details */

/* The lowest id of an active title at level (with a genre when asked), -1 if none. */
static long long db_pick(int level, int with_genre)
{
	return with_genre ? q("SELECT id FROM content c WHERE c.is_active = 1 AND c.access_level = "
	                      "? AND EXISTS (SELECT 1 FROM content_genres g WHERE g.content_id = "
	                      "c.id) ORDER BY id LIMIT 1",
	                      "l", (long long)level)
	                  : q("SELECT id FROM content c WHERE c.is_active = 1 AND c.access_level = "
	                      "? ORDER BY id LIMIT 1",
	                      "l", (long long)level);
}

static void check_details_shape(const api_resp *r, long long id)
{
	json_object *c = api_jget(r->json, "data.content");
	json_object *cast = api_jget(c, "cast"), *subs = api_jget(c, "subtitles");
	json_object *tags = api_jget(c, "tags");
	int ok_cast = cast && json_object_is_type(cast, json_type_array);
	int ok_subs = subs && json_object_is_type(subs, json_type_array);
	char where[300];
	char *producer = api_db_str_l("SELECT producer FROM content WHERE id = ?", id);
	char *studio = api_db_str_l("SELECT studio FROM content WHERE id = ?", id);
	char *title = api_db_str_l("SELECT title FROM content WHERE id = ?", id);

	snprintf(where, sizeof where, "%s %s", r->method, r->path);
	api_check_ok(r, 200, __FILE__, __LINE__);
	if (c == NULL) {
		EXPECT(0, "%s: data.content missing: %.300s", where, r->body);
		goto out;
	}
	check_item(c, where);
	EXPECT(item_id(c) == id, "%s: content.id %lld, expected %lld", where, item_id(c), id);
	EXPECT_STR(api_jstr(c, "title"), title);
	for (size_t i = 0; ok_cast && i < json_object_array_length(cast); i++) {
		json_object *m = json_object_array_get_idx(cast, i);
		ok_cast = api_jtype(m, "name", json_type_string) && str_or_null(m, "role") &&
		          str_or_null(m, "character");
	}
	EXPECT(ok_cast, "%s: content.cast[] should be {name, role, character}: %.300s", where,
	       cast ? json_object_to_json_string(cast) : "(absent)");
	EXPECT((long long)(cast ? json_object_array_length(cast) : 0) ==
	           api_db_ll_l("SELECT JSON_LENGTH(cast_members) FROM content WHERE id = ?", id),
	       "%s: content.cast should hold every cast member", where);
	for (size_t i = 0; ok_subs && i < json_object_array_length(subs); i++) {
		json_object *m = json_object_array_get_idx(subs, i);
		ok_subs = api_jtype(m, "language", json_type_string) &&
		          api_jtype(m, "url", json_type_string);
	}
	EXPECT(ok_subs, "%s: content.subtitles[] should be {language, url}: %.300s", where,
	       subs ? json_object_to_json_string(subs) : "(absent)");
	EXPECT(tags && json_object_is_type(tags, json_type_array),
	       "%s: content.tags should be an array", where);
	EXPECT(api_jtype(c, "likes", json_type_int) &&
	           api_jint(c, "likes") ==
	               api_db_ll_l("SELECT likes FROM content WHERE id = ?", id),
	       "%s: content.likes should be the database's %lld", where,
	       api_db_ll_l("SELECT likes FROM content WHERE id = ?", id));
	EXPECT(producer ? api_streq(api_jstr(c, "producer"), producer) : api_jnull(c, "producer"),
	       "%s: content.producer \"%s\", database \"%s\"", where,
	       api_jstr(c, "producer") ? api_jstr(c, "producer") : "(null)",
	       producer ? producer : "(null)");
	EXPECT(studio ? api_streq(api_jstr(c, "studio"), studio) : api_jnull(c, "studio"),
	       "%s: content.studio \"%s\", database \"%s\"", where,
	       api_jstr(c, "studio") ? api_jstr(c, "studio") : "(null)",
	       studio ? studio : "(null)");
	EXPECT(api_jbool(r->json, "data.canAccess") >= 0, "%s: data.canAccess boolean", where);
	EXPECT(api_jtype(r->json, "data.recommendations", json_type_array),
	       "%s: data.recommendations should be an array", where);
out:
	free(producer);
	free(studio);
	free(title);
}

static void test_details_returns_content_with_cast_subtitles_tags_likes(void)
{
	long long id =
	    q("SELECT id FROM content c WHERE c.is_active = 1 AND c.access_level = 0 AND "
	      "JSON_LENGTH(c.cast_members) > 0 AND JSON_LENGTH(c.subtitles) > 0 ORDER BY "
	      "id LIMIT 1",
	      "");
	char path[128];
	api_resp r;

	EXPECT(id > 0, "no active Free title with cast and subtitles");
	if (id <= 0)
		return;
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	api_get(&r, path, NULL);
	check_details_shape(&r, id);
	EXPECT(api_jbool(r.json, "data.canAccess") == 1 &&
	           api_jbool(r.json, "data.content.canAccess") == 1,
	       "GET %s as anonymous: a Free title should have canAccess true", path);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	/* the same for a signed-in user */
	if (demo(2)) {
		api_get(&r, path, demo(2));
		check_details_shape(&r, id);
		EXPECT(api_jbool(r.json, "data.canAccess") == 1,
		       "GET %s as premium: canAccess true", path);
		api_free(&r);
	}
}

static void test_details_of_locked_title_is_200_with_can_access_false(void)
{
	long long id = db_pick(3, 0);
	char path[128];
	struct {
		const char *who;
		const char *tok;
		int want;
	} callers[] = {{"anonymous", NULL, 0},
	               {"free@demo.local", demo(0), 0},
	               {"basic@demo.local", demo(1), 0},
	               {"premium@demo.local", demo(2), 0},
	               {"ultimate@demo.local", demo(3), 1}};

	EXPECT(id > 0, "no active Ultimate title");
	if (id <= 0)
		return;
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	for (size_t i = 0; i < sizeof callers / sizeof callers[0]; i++) {
		api_resp r;
		if (i > 0 && callers[i].tok == NULL)
			continue;
		api_get(&r, path, callers[i].tok);
		check_details_shape(&r, id);
		EXPECT(api_jbool(r.json, "data.canAccess") == callers[i].want &&
		           api_jbool(r.json, "data.content.canAccess") == callers[i].want,
		       "GET %s (Ultimate title) as %s: canAccess should be %s: %.200s", path,
		       callers[i].who, callers[i].want ? "true" : "false", r.body);
		EXPECT_STR(api_jstr(r.json, "data.content.accessLevel"), "Ultimate");
		api_free(&r);
	}
}

/* Recommendations of id for a caller at level obey every rule. */
static void check_recommendations(long long id, const char *who, const char *tok, int level)
{
	char path[128];
	api_resp r;
	json_object *recs;
	long long prev = -1, eligible, top;
	int n;

	snprintf(path, sizeof path, CONTENT "/%lld", id);
	api_get(&r, path, tok);
	EXPECT_OK(r, 200);
	recs = api_jget(r.json, "data.recommendations");
	n = recs && json_object_is_type(recs, json_type_array) ? (int)json_object_array_length(recs)
	                                                       : -1;
	EXPECT(n >= 0, "GET %s as %s: data.recommendations should be an array", path, who);
	for (int i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(recs, (size_t)i);
		long long rid = item_id(it), views = api_jint(it, "views");
		long long lvl = q("SELECT access_level FROM content WHERE id = ?", "l", rid);
		long long shared =
		    q("SELECT COUNT(*) FROM content_genres g1 JOIN content_genres g2 ON "
		      "g2.genre = g1.genre WHERE g1.content_id = ? AND g2.content_id = ?",
		      "ll", rid, id);

		check_item(it, path);
		EXPECT(rid != id, "GET %s as %s: the title recommends itself", path, who);
		EXPECT(lvl >= 0 && lvl <= level,
		       "GET %s as %s: recommendation %lld is at level %lld, above the caller's %s",
		       path, who, rid, lvl, level_names[level]);
		EXPECT(q("SELECT is_active FROM content WHERE id = ?", "l", rid) == 1,
		       "GET %s as %s: recommendation %lld is inactive", path, who, rid);
		EXPECT(shared > 0, "GET %s as %s: recommendation %lld shares no genre with %lld",
		       path, who, rid, id);
		EXPECT(api_jbool(it, "canAccess") == 1,
		       "GET %s as %s: recommendation %lld canAccess true", path, who, rid);
		EXPECT(
		    prev < 0 || views <= prev,
		    "GET %s as %s: recommendations should be most viewed first (%lld after %lld)",
		    path, who, views, prev);
		prev = views;
	}
	eligible = q("SELECT COUNT(*) FROM content c WHERE c.is_active = 1 AND c.id <> ? AND "
	             "c.access_level <= ? AND EXISTS (SELECT 1 FROM content_genres g1 JOIN "
	             "content_genres g2 ON g2.genre = g1.genre WHERE g1.content_id = c.id AND "
	             "g2.content_id = ?)",
	             "lll", id, (long long)level, id);
	top = q("SELECT MAX(c.views) FROM content c WHERE c.is_active = 1 AND c.id <> ? AND "
	        "c.access_level <= ? AND EXISTS (SELECT 1 FROM content_genres g1 JOIN "
	        "content_genres g2 ON g2.genre = g1.genre WHERE g1.content_id = c.id AND "
	        "g2.content_id = ?)",
	        "lll", id, (long long)level, id);
	EXPECT(eligible == 0 || n > 0,
	       "GET %s as %s: %lld titles qualify as recommendations but none was given", path, who,
	       eligible);
	if (n > 0)
		EXPECT(
		    api_jint(json_object_array_get_idx(recs, 0), "views") == top,
		    "GET %s as %s: the first recommendation should be the most viewed qualifying "
		    "title (%lld views), got %lld",
		    path, who, top, api_jint(json_object_array_get_idx(recs, 0), "views"));
	api_free(&r);
}

static void test_recommendations_share_a_genre_stay_within_level_most_viewed_first(void)
{
	for (int l = 0; l < 4; l++) {
		long long id = db_pick(l, 1);

		EXPECT(id > 0, "no active title at level %s with a genre", level_names[l]);
		if (id <= 0)
			continue;
		check_recommendations(id, "anonymous", NULL, 0);
		if (demo(1))
			check_recommendations(id, "basic@demo.local", demo(1), 1);
		if (demo(3))
			check_recommendations(id, "ultimate@demo.local", demo(3), 3);
	}
}

/* Ids are opaque: one the service never issued names nothing, whatever its shape. */
static void test_details_never_issued_and_unknown_ids_are_404(void)
{
	static const char *const bad[] = {"abc", "12abc", "-5", "1.5", "%27%20OR%201%3D1"};
	long long unknown = q("SELECT COALESCE(MAX(id), 0) + 1000 FROM content", "");
	char path[128];
	api_resp r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(path, sizeof path, CONTENT "/%s", bad[i]);
		api_get(&r, path, NULL);
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		EXPECT(!leaks_internals(r.body), "GET %s: body leaks internals: %.200s", path,
		       r.body);
		api_free(&r);
	}
	snprintf(path, sizeof path, CONTENT "/%lld", unknown);
	api_get(&r, path, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	if (demo(3)) {
		api_get(&r, path, demo(3));
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
}

/* ================================================================ featured, trending */

static void test_featured_lists_only_featured_titles(void)
{
	api_resp r;
	json_object *arr;
	long long featured =
	    q("SELECT COUNT(*) FROM content WHERE is_active = 1 AND is_featured = 1", "");
	int bad = 0, bad_access = 0;

	api_get(&r, CONTENT "/featured", NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	arr = api_jget(r.json, "data.content");
	EXPECT(arr && json_object_is_type(arr, json_type_array),
	       "GET " CONTENT "/featured: data.content should be an array: %.200s", r.body);
	EXPECT(arr && api_jint(r.json, "count") == (long long)json_object_array_length(arr),
	       "GET " CONTENT "/featured: count should equal the items listed");
	EXPECT(arr && (long long)json_object_array_length(arr) == (featured < 20 ? featured : 20),
	       "GET " CONTENT "/featured: %zu items, the database has %lld featured active titles",
	       arr ? json_object_array_length(arr) : 0, featured);
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		long long id = item_id(it);
		long long lvl = q("SELECT access_level FROM content WHERE id = ?", "l", id);
		check_item(it, "GET " CONTENT "/featured");
		if (api_jbool(it, "isFeatured") != 1 ||
		    q("SELECT COUNT(*) FROM content WHERE id = ? "
		      "AND is_featured = 1 AND is_active = 1",
		      "l", id) != 1)
			bad++;
		if (api_jbool(it, "canAccess") != (lvl == 0))
			bad_access++;
	}
	EXPECT(bad == 0, "GET " CONTENT "/featured: %d items that are not featured active titles",
	       bad);
	EXPECT(bad_access == 0,
	       "GET " CONTENT "/featured as anonymous: %d items with a wrong "
	       "canAccess",
	       bad_access);
	api_free(&r);
}

/* watch_events rows of this run carry this user id, removed afterwards */
static long long sentinel_user(void)
{
	return 4000000000LL + (long long)(getpid() % 100000);
}

static int add_events(long long content_id, int n, int days_ago)
{
	if (api_db_ready() != 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (sp_db_exec("INSERT INTO watch_events (user_id, content_id, event, created_at) "
		               "VALUES (?, ?, 'start', UTC_TIMESTAMP(3) - INTERVAL ? DAY)",
		               "lll", sentinel_user(), content_id, (long long)days_ago) != 1)
			return -1;
	return 0;
}

static void test_trending_ranks_by_starts_in_last_7_days(void)
{
	long long top =
	    q("SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM watch_events "
	      "WHERE event = 'start' AND created_at > UTC_TIMESTAMP(3) - INTERVAL 7 DAY "
	      "GROUP BY content_id) t",
	      "");
	/* two little-watched active titles, so views alone would not put them first */
	long long a =
	    q("SELECT id FROM content WHERE is_active = 1 ORDER BY views, id LIMIT 1", "");
	long long b = q("SELECT id FROM content WHERE is_active = 1 ORDER BY views, id LIMIT 1 "
	                "OFFSET 1",
	                "");
	long long n = top + 5;
	api_resp r;
	json_object *arr;

	EXPECT(top >= 0 && a > 0 && b > 0, "cannot read watch_events / content");
	if (top < 0 || a <= 0 || b <= 0)
		return;
	/* a: n recent starts; b: n-1 recent and many older than 7 days */
	EXPECT(add_events(a, (int)n, 0) == 0, "cannot insert watch_events");
	EXPECT(add_events(b, (int)n - 1, 0) == 0, "cannot insert watch_events");
	EXPECT(add_events(b, (int)(3 * n), 8) == 0, "cannot insert watch_events");
	/* events written in MariaDB by hand: the cached page (LIST_TTL) goes as after a write */
	EXPECT(api_run_tool("admin", "drop-cache catalog") == 0, "sp-admin drop-cache catalog");

	api_get(&r, CONTENT "/trending", NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	arr = api_jget(r.json, "data.content");
	EXPECT(arr && json_object_is_type(arr, json_type_array) &&
	           api_jint(r.json, "count") == (long long)json_object_array_length(arr),
	       "GET " CONTENT "/trending: {count, data {content[]}}: %.200s", r.body);
	EXPECT(index_of(arr, a) == 0,
	       "GET " CONTENT "/trending: title %lld with %lld starts this week should be first, "
	       "found at %d",
	       a, n, index_of(arr, a));
	EXPECT(index_of(arr, b) == 1,
	       "GET " CONTENT
	       "/trending: title %lld (%lld starts this week, %lld older than 7 days) "
	       "should be second, found at %d: older starts must not count",
	       b, n - 1, 3 * n, index_of(arr, b));
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		check_item(json_object_array_get_idx(arr, i), "GET " CONTENT "/trending");
	api_free(&r);
	db_exec_ll("DELETE FROM watch_events WHERE user_id = ? AND content_id >= ?",
	           sentinel_user(), 0);
}

/* ================================================================ admin writes */

static void test_admin_create_returns_201_and_title_is_served(void)
{
	char title[128], desc[256], genre[64], path[256];
	long long id;
	api_resp r;

	snprintf(title, sizeof title, "Create %s Title", run_tag());
	snprintf(desc, sizeof desc, "A test title set in %sville for the create test.", run_tag());
	snprintf(genre, sizeof genre, "G%s", run_tag());
	id = create_title(title, desc, genre, "Basic", "2001-02-03");
	if (id <= 0)
		return;
	/* as stored */
	{
		char *t = api_db_str_l("SELECT title FROM content WHERE id = ?", id);
		EXPECT_STR(t, title);
		free(t);
	}
	EXPECT(api_db_ll_l("SELECT access_level FROM content WHERE id = ?", id) == 1,
	       "created title should be stored at level 1 (Basic)");
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM content_genres WHERE content_id = ?", id) == 2,
	       "created title should have two content_genres rows");
	EXPECT(api_db_ll_l("SELECT is_active FROM content WHERE id = ?", id) == 1,
	       "created title should be active");
	/* details as basic */
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	if (demo(1)) {
		api_get(&r, path, demo(1));
		check_details_shape(&r, id);
		EXPECT_STR(api_jstr(r.json, "data.content.title"), title);
		EXPECT_STR(api_jstr(r.json, "data.content.releaseDate"),
		           "2001-02-03T00:00:00.000Z");
		EXPECT_STR(api_jstr(r.json, "data.content.accessLevel"), "Basic");
		EXPECT_STR(api_jstr(r.json, "data.content.cast.0.name"), "Ada Test");
		EXPECT_STR(api_jstr(r.json, "data.content.subtitles.0.language"), "en");
		EXPECT_STR(api_jstr(r.json, "data.content.tags.0"), "test");
		EXPECT(api_jbool(r.json, "data.canAccess") == 1,
		       "basic user canAccess a Basic title");
		api_free(&r);
	}
	/* in a listing by its genre */
	snprintf(path, sizeof path, CONTENT "?genre=%s", genre);
	if (demo(1)) {
		json_object *arr = get_list(&r, path, demo(1));
		EXPECT(index_of(arr, id) >= 0 && list_total(&r) == 1,
		       "GET %s as basic: the new title should be the one match: %.200s", path,
		       r.body);
		api_free(&r);
	}
	/* anonymous callers do not list a Basic title */
	{
		get_list(&r, path, NULL);
		EXPECT(list_total(&r) == 0, "GET %s as anonymous: a Basic title is not listed",
		       path);
		api_free(&r);
	}
	EXPECT(deactivate(id) == 200, "DELETE " CONTENT "/%lld: expected 200", id);
}

static void test_admin_create_response_has_created_fields(void)
{
	char body[2048], title[128];
	api_resp r;

	if (admin() == NULL)
		return;
	snprintf(title, sizeof title, "Shape %s", run_tag());
	snprintf(body, sizeof body,
	         "{\"title\":\"%s\",\"description\":\"Shape test.\",\"type\":\"documentary\","
	         "\"genre\":[\"Documentary\"],\"accessLevel\":\"Premium\",\"duration\":42,"
	         "\"releaseDate\":\"2024-02-29\",\"resolution\":[\"480p\",\"720p\"]}",
	         title);
	api_send(&r, "POST", CONTENT, admin(), body);
	EXPECT_OK(r, 201);
	EXPECT_COMMON_HEADERS(r);
	if (r.status == 201) {
		json_object *c = api_jget(r.json, "data.content");
		long long id = item_id(c);
		check_item(c, "POST " CONTENT);
		EXPECT_STR(api_jstr(c, "title"), title);
		EXPECT_STR(api_jstr(c, "type"), "documentary");
		EXPECT_STR(api_jstr(c, "accessLevel"), "Premium");
		EXPECT(api_jint(c, "duration") == 42, "created duration 42");
		EXPECT_STR(api_jstr(c, "releaseDate"), "2024-02-29T00:00:00.000Z");
		EXPECT_STR(api_jstr(c, "genre.0"), "Documentary");
		EXPECT_STR(api_jstr(c, "resolution.1"), "720p");
		EXPECT(api_jbool(c, "isFeatured") == 0 && api_jint(c, "views") == 0,
		       "a new title is not featured and has 0 views: %.300s", r.body);
		if (id > 0 && n_created < (int)(sizeof created / sizeof created[0]))
			created[n_created++] = id;
		if (id > 0)
			EXPECT(deactivate(id) == 200, "DELETE " CONTENT "/%lld: expected 200", id);
	}
	api_free(&r);
}

static void test_admin_update_is_partial(void)
{
	char title[128], desc[256], genre[64], body[512], path[128], newt[160];
	long long id;
	api_resp r;
	char *before_desc;

	snprintf(title, sizeof title, "Update %s Before", run_tag());
	snprintf(desc, sizeof desc, "Partial update test for %s.", run_tag());
	snprintf(genre, sizeof genre, "U%s", run_tag());
	id = create_title(title, desc, genre, "Free", "1999-09-09");
	if (id <= 0)
		return;
	before_desc = api_db_str_l("SELECT description FROM content WHERE id = ?", id);
	snprintf(newt, sizeof newt, "Update %s After", run_tag());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", newt);
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	api_send(&r, "PUT", path, admin(), body);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	EXPECT_STR(api_jstr(r.json, "data.content.title"), newt);
	EXPECT_STR(api_jstr(r.json, "data.content.description"), desc);
	EXPECT_STR(api_jstr(r.json, "data.content.accessLevel"), "Free");
	EXPECT_STR(api_jstr(r.json, "data.content.releaseDate"), "1999-09-09T00:00:00.000Z");
	EXPECT_STR(api_jstr(r.json, "data.content.genre.1"), genre);
	EXPECT_STR(api_jstr(r.json, "data.content.director"), "Test Director");
	api_free(&r);
	{
		char *t = api_db_str_l("SELECT title FROM content WHERE id = ?", id);
		char *d = api_db_str_l("SELECT description FROM content WHERE id = ?", id);
		EXPECT_STR(t, newt);
		EXPECT_STR(d, before_desc);
		free(t);
		free(d);
	}
	EXPECT(api_db_ll_l("SELECT COUNT(*) FROM content_genres WHERE content_id = ?", id) == 2,
	       "a partial update without genre keeps both content_genres rows");
	/* several fields, genre replaced */
	snprintf(body, sizeof body,
	         "{\"accessLevel\":\"Premium\",\"duration\":77,\"genre\":[\"Horror\"],"
	         "\"isFeatured\":true}");
	api_send(&r, "PUT", path, admin(), body);
	EXPECT_OK(r, 200);
	EXPECT_STR(api_jstr(r.json, "data.content.title"), newt);
	EXPECT_STR(api_jstr(r.json, "data.content.accessLevel"), "Premium");
	EXPECT(api_jint(r.json, "data.content.duration") == 77, "updated duration 77: %.200s",
	       r.body);
	EXPECT(api_jbool(r.json, "data.content.isFeatured") == 1, "updated isFeatured true");
	api_free(&r);
	EXPECT(
	    api_db_ll_l("SELECT access_level FROM content WHERE id = ?", id) == 2 &&
	        api_db_ll_l("SELECT COUNT(*) FROM content_genres WHERE content_id = ?", id) == 1 &&
	        q("SELECT COUNT(*) FROM content_genres WHERE content_id = ? AND genre = 'Horror'",
	          "l", id) == 1,
	    "the update should be stored: level 2 and the single genre Horror");
	/* unknown id */
	{
		char p2[128];
		snprintf(p2, sizeof p2, CONTENT "/%lld",
		         q("SELECT COALESCE(MAX(id), 0) + 1000 FROM content", ""));
		api_send(&r, "PUT", p2, admin(), "{\"title\":\"Nobody\"}");
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
		api_send(&r, "PUT", CONTENT "/abc", admin(), "{\"title\":\"Nobody\"}");
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
	free(before_desc);
	EXPECT(deactivate(id) == 200, "DELETE " CONTENT "/%lld: expected 200", id);
}

static void test_admin_delete_deactivates_title(void)
{
	char title[128], desc[256], genre[64], path[256];
	long long id;
	api_resp r;

	snprintf(title, sizeof title, "Delete %s Title", run_tag());
	snprintf(desc, sizeof desc, "Deactivation test for %s.", run_tag());
	snprintf(genre, sizeof genre, "D%s", run_tag());
	id = create_title(title, desc, genre, "Free", "2002-02-02");
	if (id <= 0)
		return;
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	api_send(&r, "DELETE", path, admin(), NULL);
	EXPECT_OK(r, 200);
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	EXPECT(api_db_ll_l("SELECT is_active FROM content WHERE id = ?", id) == 0,
	       "DELETE should deactivate (is_active 0), not remove the row");
	/* 404 for anonymous and users, 200 for admin */
	api_get(&r, path, NULL);
	EXPECT_ERROR(r, 404, "NOT_FOUND");
	api_free(&r);
	for (int i = 0; i < 4; i++) {
		if (demo(i) == NULL)
			continue;
		api_get(&r, path, demo(i));
		EXPECT_ERROR(r, 404, "NOT_FOUND");
		api_free(&r);
	}
	api_get(&r, path, admin());
	EXPECT_OK(r, 200);
	EXPECT(item_id(api_jget(r.json, "data.content")) == id,
	       "GET %s as admin: the deactivated title should be returned: %.200s", path, r.body);
	api_free(&r);
	/* absent from every listing */
	{
		char q[256];
		snprintf(q, sizeof q, CONTENT "?genre=%s&includeLocked=true", genre);
		get_list(&r, q, NULL);
		EXPECT(list_total(&r) == 0, "GET %s: a deactivated title should not be listed", q);
		api_free(&r);
		if (demo(3)) {
			get_list(&r, q, demo(3));
			EXPECT(list_total(&r) == 0, "GET %s as ultimate: deactivated title listed",
			       q);
			api_free(&r);
		}
		snprintf(q, sizeof q, CONTENT "?search=%s&includeLocked=true", run_tag());
		{
			json_object *arr = get_list(&r, q, NULL);
			EXPECT(index_of(arr, id) < 0,
			       "GET %s: a deactivated title should not be found", q);
			api_free(&r);
		}
	}
}

static void test_admin_writes_need_admin_token(void)
{
	long long id = db_pick(0, 0);
	long long rows = q("SELECT COUNT(*) FROM content", "");
	char path[128], *title = NULL;
	const char *body = "{\"title\":\"Hijacked\",\"description\":\"x\",\"type\":\"movie\","
	                   "\"genre\":[\"Drama\"],\"accessLevel\":\"Free\",\"duration\":1,"
	                   "\"releaseDate\":\"2020-01-01\"}";
	api_resp r;

	if (id <= 0) {
		EXPECT(0, "no active Free title");
		return;
	}
	title = api_db_str_l("SELECT title FROM content WHERE id = ?", id);
	snprintf(path, sizeof path, CONTENT "/%lld", id);
	/* no token: 401 */
	api_send(&r, "POST", CONTENT, NULL, body);
	remember_if_created(&r);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	EXPECT_COMMON_HEADERS(r);
	api_free(&r);
	api_send(&r, "PUT", path, NULL, "{\"title\":\"Hijacked\"}");
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	api_send(&r, "DELETE", path, NULL, NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	/* a garbage token: 401 */
	api_send(&r, "DELETE", path, "not.a.token", NULL);
	EXPECT_ERROR(r, 401, "UNAUTHORIZED");
	api_free(&r);
	/* users of every level: 403 */
	for (int i = 0; i < 4; i++) {
		if (demo(i) == NULL)
			continue;
		api_send(&r, "POST", CONTENT, demo(i), body);
		remember_if_created(&r);
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		api_free(&r);
		api_send(&r, "PUT", path, demo(i), "{\"title\":\"Hijacked\"}");
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		api_free(&r);
		api_send(&r, "DELETE", path, demo(i), NULL);
		EXPECT_ERROR(r, 403, "FORBIDDEN");
		api_free(&r);
	}
	EXPECT(q("SELECT COUNT(*) FROM content", "") == rows, "content rows changed: %lld -> %lld",
	       rows, q("SELECT COUNT(*) FROM content", ""));
	{
		char *now = api_db_str_l("SELECT title FROM content WHERE id = ?", id);
		EXPECT_STR(now, title);
		free(now);
	}
	EXPECT(api_db_ll_l("SELECT is_active FROM content WHERE id = ?", id) == 1,
	       "title %lld should still be active", id);
	free(title);
}

static void test_admin_validation_lists_every_bad_field_and_writes_nothing(void)
{
	long long rows = q("SELECT COUNT(*) FROM content", "");
	long long grows = q("SELECT COUNT(*) FROM content_genres", "");
	char fields[512];
	api_resp r;
	static const char *const want[] = {"title",       "type",  "accessLevel", "duration",
	                                   "releaseDate", "genre", "resolution"};
	static const char *const dates[] = {"2025-13-01", "yesterday", "2025-02-30", "2025-00-10",
	                                    "2023-02-29", "25-01-01",  "2025/01/01", ""};
	static const struct {
		const char *frag, *field;
	} singles[] = {
	    {"\"accessLevel\":\"Diamond\"", "accessLevel"},
	    {"\"accessLevel\":4", "accessLevel"},
	    {"\"duration\":-1", "duration"},
	    {"\"duration\":\"90\"", "duration"},
	    {"\"type\":\"cartoon\"", "type"},
	    {"\"genre\":\"Drama\"", "genre"},
	    {"\"genre\":{\"name\":\"Drama\"}", "genre"},
	    {"\"resolution\":[\"480p\",\"8K\"]", "resolution"},
	    {"\"resolution\":\"4K\"", "resolution"},
	    {"\"title\":\"\"", "title"},
	};
	const char *base = "\"description\":\"Validation test.\",\"type\":\"movie\","
	                   "\"genre\":[\"Drama\"],\"accessLevel\":\"Free\",\"duration\":90,"
	                   "\"releaseDate\":\"2020-01-01\"";

	if (admin() == NULL)
		return;
	api_send(&r, "POST", CONTENT, admin(),
	         "{\"description\":\"No title.\",\"type\":\"cartoon\",\"accessLevel\":\"Gold\","
	         "\"duration\":-5,\"releaseDate\":\"2025-13-01\",\"genre\":\"Drama\","
	         "\"resolution\":[\"8K\"]}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	EXPECT_COMMON_HEADERS(r);
	api_error_fields(&r, fields, sizeof fields);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		EXPECT(api_has_error_field(&r, want[i]),
		       "POST " CONTENT " with seven bad fields: errors[] should name %s, got [%s]",
		       want[i], fields);
	api_free(&r);

	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		char body[1024];
		snprintf(body, sizeof body,
		         "{\"title\":\"Bad date %s\",\"description\":\"x\",\"type\":\"movie\","
		         "\"genre\":[\"Drama\"],\"accessLevel\":\"Free\",\"duration\":90,"
		         "\"releaseDate\":\"%s\"}",
		         run_tag(), dates[i]);
		api_send(&r, "POST", CONTENT, admin(), body);
		remember_if_created(&r);
		EXPECT(r.status == 400,
		       "POST " CONTENT " releaseDate \"%s\": expected 400, got %ld", dates[i],
		       r.status);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		EXPECT(api_streq(fields, "releaseDate"),
		       "POST " CONTENT
		       " releaseDate \"%s\": errors[] should be [releaseDate], got [%s]",
		       dates[i], fields);
		api_free(&r);
	}
	for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
		char body[1024];
		/* the later key wins in the body; put the bad one last */
		snprintf(body, sizeof body, "{\"title\":\"Bad %s\",%s,%s}", run_tag(), base,
		         singles[i].frag);
		api_send(&r, "POST", CONTENT, admin(), body);
		remember_if_created(&r);
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		EXPECT(api_has_error_field(&r, singles[i].field),
		       "POST " CONTENT " with %s: errors[] should name %s: %.200s", singles[i].frag,
		       singles[i].field, r.body);
		api_free(&r);
	}
	/* required fields of a create */
	api_send(&r, "POST", CONTENT, admin(), "{}");
	EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
	api_error_fields(&r, fields, sizeof fields);
	{
		static const char *const req[] = {"title",       "type",     "genre",
		                                  "accessLevel", "duration", "releaseDate"};
		for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
			EXPECT(api_has_error_field(&r, req[i]),
			       "POST " CONTENT " {}: errors[] should name %s, got [%s]", req[i],
			       fields);
	}
	api_free(&r);
	EXPECT(q("SELECT COUNT(*) FROM content", "") == rows &&
	           q("SELECT COUNT(*) FROM content_genres", "") == grows,
	       "nothing may be written on a 400: content %lld -> %lld, content_genres %lld -> %lld",
	       rows, q("SELECT COUNT(*) FROM content", ""), grows,
	       q("SELECT COUNT(*) FROM content_genres", ""));

	/* an update with bad fields changes nothing */
	{
		long long id = db_pick(0, 0);
		char path[128], *before = api_db_str_l("SELECT CONCAT_WS('|', title, type, "
		                                       "duration_min, release_date, access_level, "
		                                       "updated_at) FROM content WHERE id = ?",
		                                       id);
		char *after;
		snprintf(path, sizeof path, CONTENT "/%lld", id);
		api_send(&r, "PUT", path, admin(),
		         "{\"title\":\"Should not stick\",\"type\":\"cartoon\",\"duration\":-1,"
		         "\"releaseDate\":\"2025-02-30\",\"resolution\":[\"8K\"]}");
		EXPECT_ERROR(r, 400, "VALIDATION_ERROR");
		api_error_fields(&r, fields, sizeof fields);
		EXPECT(api_has_error_field(&r, "type") && api_has_error_field(&r, "duration") &&
		           api_has_error_field(&r, "releaseDate") &&
		           api_has_error_field(&r, "resolution") &&
		           !api_has_error_field(&r, "title"),
		       "PUT %s: errors[] should be type, duration, releaseDate, resolution: [%s]",
		       path, fields);
		api_free(&r);
		after =
		    api_db_str_l("SELECT CONCAT_WS('|', title, type, duration_min, release_date, "
		                 "access_level, updated_at) FROM content WHERE id = ?",
		                 id);
		EXPECT(before && after && strcmp(before, after) == 0,
		       "PUT %s with bad fields changed the row: %s -> %s", path,
		       before ? before : "?", after ? after : "?");
		free(before);
		free(after);
	}
	EXPECT(q("SELECT COUNT(*) FROM content", "") == rows, "content rows changed on 400");
}

/* The cache and rate-limit tests mean nothing without Redis: say so when it is down. */
static int redis_is_up(const char *why)
{
	api_resp r;
	int up;

	api_redis_ensure_started();
	api_get(&r, "/api/v1/ready", NULL);
	up = api_streq(api_jstr(r.json, "data.redis"), "up");
	EXPECT(up, "%s needs Redis up; GET /api/v1/ready says %ld %.200s", why, r.status, r.body);
	api_free(&r);
	return up;
}

/* ================================================================ cache */

/*
 * SPREAD requests at once, released together by a barrier, so that the web
 * server hands them to several content processes (it gives a request to
 * the process with the fewest open ones): each process's own copy of the
 * answer is then filled, or checked.
 */
enum { SPREAD = 8 };

struct spread_req {
	pthread_barrier_t *go;
	const char *path, *tok;
	long long id;
	int details;
	char ip[32];  /* a fresh client address, made before the threads start */
	char *title;  /* the title of id in the answer, NULL when absent */
	api_resp out; /* status and body */
};

static void *spread_run(void *arg)
{
	struct spread_req *x = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], auth[2200], xff[64];
	json_object *o, *arr;

	snprintf(url, sizeof url, "%s%s", api_base(), x->path);
	snprintf(xff, sizeof xff, "X-Forwarded-For: %s", x->ip);
	h = curl_slist_append(h, xff);
	if (x->tok) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", x->tok);
		h = curl_slist_append(h, auth);
	}
	if (c) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->out);
	}
	pthread_barrier_wait(x->go);
	if (c && curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->out.status);
	o = x->out.body ? json_tokener_parse(x->out.body) : NULL;
	if (o && x->details) {
		if (item_id(api_jget(o, "data.content")) == x->id &&
		    api_jstr(o, "data.content.title"))
			x->title = strdup(api_jstr(o, "data.content.title"));
	} else if (o && (arr = api_jget(o, "data.content")) != NULL &&
	           json_object_is_type(arr, json_type_array)) {
		int i = index_of(arr, x->id);
		if (i >= 0 && api_jstr(json_object_array_get_idx(arr, (size_t)i), "title"))
			x->title =
			    strdup(api_jstr(json_object_array_get_idx(arr, (size_t)i), "title"));
	}
	json_object_put(o);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

/*
 * GET path as tok SPREAD times at once; expects every answer to be 200 and
 * to show id titled want (NULL: to not show it). Returns how many did not.
 */
static int spread_expect(const char *path, const char *tok, const char *who, long long id,
                         int details, const char *want, const char *when)
{
	pthread_t t[SPREAD];
	struct spread_req x[SPREAD];
	pthread_barrier_t go;
	int bad = 0;

	memset(x, 0, sizeof x);
	pthread_barrier_init(&go, NULL, SPREAD);
	for (int i = 0; i < SPREAD; i++) {
		x[i] = (struct spread_req){
		    .go = &go, .path = path, .tok = tok, .id = id, .details = details};
		api_fresh_ip(x[i].ip, sizeof x[i].ip);
		if (pthread_create(&t[i], NULL, spread_run, &x[i]) != 0) {
			/* a partial barrier never opens: run the rest here, one by one */
			fprintf(stderr, "pthread_create failed\n");
			abort();
		}
	}
	for (int i = 0; i < SPREAD; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < SPREAD; i++) {
		int ok = x[i].out.status == 200 &&
		         (want ? api_streq(x[i].title, want) : x[i].title == NULL);
		if (!ok && bad++ == 0)
			EXPECT(0,
			       "GET %s as %s %s (%d at once): expected 200 %s \"%s\", got %ld "
			       "with \"%s\"",
			       path, who, when, SPREAD, want ? "with" : "without",
			       want ? want : "the title", x[i].out.status,
			       x[i].title ? x[i].title : "(absent)");
		free(x[i].title);
		free(x[i].out.body);
	}
	return bad;
}

static void test_admin_edit_is_visible_at_once_despite_cache(void)
{
	char title[128], desc[256], genre[64], newt[160], body[256];
	char details[128], by_genre[256], newest[256], put[128];
	const char *callers[2];
	const char *names[2] = {"anonymous", "basic@demo.local"};
	long long id;

	if (!redis_is_up("the catalogue cache test"))
		return;
	snprintf(title, sizeof title, "Cache %s Before", run_tag());
	snprintf(desc, sizeof desc, "Cache invalidation test for %s.", run_tag());
	snprintf(genre, sizeof genre, "C%s", run_tag());
	id = create_title(title, desc, genre, "Free", "2099-12-31");
	if (id <= 0)
		return;
	callers[0] = NULL;
	callers[1] = demo(1);
	snprintf(details, sizeof details, CONTENT "/%lld", id);
	snprintf(by_genre, sizeof by_genre, CONTENT "?genre=%s", genre);
	snprintf(newest, sizeof newest, CONTENT "?limit=100&sortBy=releaseDate&order=desc");
	/*
	 * Twice, SPREAD at once: the answers are then in Redis and in the own
	 * copies of the content processes that served them.
	 */
	for (int k = 0; k < 2; k++) {
		for (int c = 0; c < 2; c++) {
			if (c == 1 && callers[1] == NULL)
				continue;
			spread_expect(details, callers[c], names[c], id, 1, title,
			              "before the edit");
			spread_expect(by_genre, callers[c], names[c], id, 0, title,
			              "before the edit");
			spread_expect(newest, callers[c], names[c], id, 0, title,
			              "before the edit");
		}
	}
	/* the edit, made by one of those processes */
	snprintf(newt, sizeof newt, "Cache %s After", run_tag());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", newt);
	snprintf(put, sizeof put, CONTENT "/%lld", id);
	{
		api_resp r;
		api_send(&r, "PUT", put, admin(), body);
		EXPECT_OK(r, 200);
		api_free(&r);
	}
	/* every process must show it at once, not only the one that made the write */
	for (int c = 0; c < 2; c++) {
		if (c == 1 && callers[1] == NULL)
			continue;
		spread_expect(details, callers[c], names[c], id, 1, newt, "right after PUT title");
		spread_expect(by_genre, callers[c], names[c], id, 0, newt, "right after PUT title");
		spread_expect(newest, callers[c], names[c], id, 0, newt, "right after PUT title");
	}
	/* cached again after the edit; a deactivation drops it from lists at once */
	EXPECT(deactivate(id) == 200, "DELETE %s: expected 200", put);
	for (int c = 0; c < 2; c++) {
		api_resp r;
		if (c == 1 && callers[1] == NULL)
			continue;
		spread_expect(by_genre, callers[c], names[c], id, 0, NULL, "right after DELETE");
		spread_expect(newest, callers[c], names[c], id, 0, NULL, "right after DELETE");
		for (int k = 0; k < 4; k++) {
			api_get(&r, details, callers[c]);
			EXPECT_ERROR(r, 404, "NOT_FOUND");
			api_free(&r);
		}
	}
}

/* ================================================================ rate limit */

static void test_search_rate_limit_is_20_per_minute_per_ip(void)
{
	char xff[64], ip[32];
	const char *hdrs[2];
	long long now = (long long)time(NULL);
	int blocked_early = -1;

	if (!redis_is_up("the search rate-limit test"))
		return;
	/* the limit counts in fixed 60 s windows: start early in one */
	if (now % 60 > 45)
		sleep((unsigned)(61 - now % 60));
	snprintf(ip, sizeof ip, "100.%u.%u.%u", 64 + (unsigned)rand() % 64, (unsigned)rand() % 256,
	         1 + (unsigned)rand() % 254);
	snprintf(xff, sizeof xff, "X-Forwarded-For: %s", ip);
	hdrs[0] = xff;
	hdrs[1] = NULL;
	for (int i = 1; i <= 20; i++) {
		api_resp r;
		api_req q = {.method = "GET", .path = CONTENT "?search=x", .headers = hdrs};
		api_do(&r, &q);
		if (r.status != 200 && blocked_early < 0) {
			blocked_early = i;
			EXPECT(0,
			       "GET " CONTENT "?search=x #%d from %s: expected 200, got %ld %.200s",
			       i, ip, r.status, r.body);
		}
		api_free(&r);
	}
	{
		api_resp r;
		api_req q = {.method = "GET", .path = CONTENT "?search=x", .headers = hdrs};
		const char *ra;
		api_do(&r, &q);
		EXPECT_ERROR(r, 429, "RATE_LIMITED");
		EXPECT_COMMON_HEADERS(r);
		ra = api_hdr(&r, "Retry-After");
		EXPECT(api_all_digits(ra) && atol(ra) >= 1 && atol(ra) <= 61,
		       "21st search from %s: Retry-After should be 1..61 seconds, got %s", ip,
		       ra ? ra : "(absent)");
		api_free(&r);
	}
	/* the same address without search is not held by that rule */
	{
		api_resp r;
		api_req q = {.method = "GET", .path = CONTENT "?limit=1", .headers = hdrs};
		api_do(&r, &q);
		EXPECT(r.status == 200,
		       "GET " CONTENT
		       "?limit=1 from %s after its search limit: expected 200, got %ld "
		       "%.200s",
		       ip, r.status, r.body);
		api_free(&r);
		q.path = CONTENT "/featured";
		api_do(&r, &q);
		EXPECT(r.status == 200, "GET " CONTENT "/featured from %s: expected 200, got %ld",
		       ip, r.status);
		api_free(&r);
	}
	/* another address may still search */
	{
		api_resp r;
		api_get(&r, CONTENT "?search=x", NULL);
		EXPECT(r.status == 200,
		       "GET " CONTENT "?search=x from a fresh address: expected 200, "
		       "got %ld",
		       r.status);
		api_free(&r);
	}
}

/* ================================================================ registry */

static int suite_cleanup(void)
{
	/* leave no title of this run active and no synthetic watch events */
	for (int i = 0; i < n_created; i++)
		if (api_db_ll_l("SELECT is_active FROM content WHERE id = ?", created[i]) == 1 &&
		    admin_tok)
			(void)deactivate(created[i]);
	db_exec_ll("DELETE FROM watch_events WHERE user_id = ? AND content_id >= ?",
	           sentinel_user(), 0);
	for (int i = 0; i < 4; i++) {
		free(demo_tok[i]);
		demo_tok[i] = NULL;
	}
	free(admin_tok);
	admin_tok = NULL;
	return 0;
}

int api_suite_content(void)
{
	CU_pSuite s = CU_add_suite("content", NULL, suite_cleanup);

	if (s == NULL)
		return -1;
#define ADD(t)                                                                                     \
	if (CU_add_test(s, #t, t) == NULL)                                                         \
		return -1;
	ADD(test_seed_has_at_least_60_titles_over_every_type_and_level);
	ADD(test_seeded_artwork_is_served_as_svg);
	ADD(test_list_returns_paged_envelope_and_item_fields);
	ADD(test_list_defaults_to_page_1_limit_20);
	ADD(test_list_anonymous_sees_only_free_titles);
	ADD(test_list_basic_user_sees_free_and_basic_only);
	ADD(test_list_each_level_total_matches_database);
	ADD(test_include_locked_lists_everything_with_correct_can_access);
	ADD(test_filter_by_type_matches_database);
	ADD(test_filter_by_genre_is_case_insensitive_exact_name);
	ADD(test_filter_by_access_level_matches_database);
	ADD(test_filters_combined_match_database);
	ADD(test_search_finds_title_by_distinctive_title_word);
	ADD(test_search_finds_title_by_description_word);
	ADD(test_search_combined_with_filters_matches_database);
	ADD(test_paging_totals_pages_and_page_beyond_end);
	ADD(test_sort_by_each_field_both_ways_is_monotone);
	ADD(test_sort_defaults_release_date_desc_and_title_asc);
	ADD(test_bad_query_parameters_are_400_naming_the_field);
	ADD(test_search_longer_than_200_characters_is_400);
	ADD(test_hostile_search_text_is_never_500_nor_leaks_sql);
	ADD(test_search_with_invalid_bytes_gets_json_error_with_security_headers);
	ADD(test_details_returns_content_with_cast_subtitles_tags_likes);
	ADD(test_details_of_locked_title_is_200_with_can_access_false);
	ADD(test_recommendations_share_a_genre_stay_within_level_most_viewed_first);
	ADD(test_details_never_issued_and_unknown_ids_are_404);
	ADD(test_featured_lists_only_featured_titles);
	ADD(test_trending_ranks_by_starts_in_last_7_days);
	ADD(test_admin_create_returns_201_and_title_is_served);
	ADD(test_admin_create_response_has_created_fields);
	ADD(test_admin_update_is_partial);
	ADD(test_admin_delete_deactivates_title);
	ADD(test_admin_writes_need_admin_token);
	ADD(test_admin_validation_lists_every_bad_field_and_writes_nothing);
	ADD(test_admin_edit_is_visible_at_once_despite_cache);
	ADD(test_search_rate_limit_is_20_per_minute_per_ip);
#undef ADD
	return 0;
}
