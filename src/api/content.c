/*
 * The content catalogue: browse with filters, sort, full-text search and
 * paging (level and parental age cap checked in SQL), details with
 * recommendations, featured and trending; pages are cached per level and
 * age cap (the scope) and dropped on any admin write.
 */
#include "content_json.h"
#include "sp_app.h"
#include "sp_cache.h"
#include "sp_metrics.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_keys.h"
#include "sp_tier.h"
#include "sp_title.h"
#include "sp_valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The listing's query, normalised (it is also the cache key). */
struct list_q {
	int type;         /* index in content_types, -1 any */
	char genre[201];  /* up to 50 characters of up to 4 bytes */
	int level_f;      /* accessLevel filter, -1 any */
	char search[256]; /* boolean-mode query built from words only, "" none */
	int has_search;
	int sort, desc, locked;
	long long page, limit;
};

/* ?limit= of the featured and trending lists. */
struct limit_in {
	long long limit;
};

static int content_list(sp_req *r);
static int content_featured(sp_req *r);
static int content_trending(sp_req *r);
static int content_details(sp_req *r);
static int parse_list(sp_req *r, void *in);
static int parse_limit(sp_req *r, void *in);
static int list_key(sp_req *r, long long uid, char *key, size_t n);
static int details_key(sp_req *r, long long uid, char *key, size_t n);
static int trending_key(sp_req *r, long long uid, char *key, size_t n);
int content_create(sp_req *r);
int content_update(sp_req *r);
int content_delete(sp_req *r);
int content_parse_create(sp_req *r, void *in);
int content_parse_update(sp_req *r, void *in);

static const sp_route routes[] = {
    {"GET", "/content", content_list, SP_AUTH_OPTIONAL, SP_NO_BODY | SP_RL_SEARCH, list_key, NULL,
     SP_INPUT(parse_list, struct list_q)},
    {"GET", "/content/featured", content_featured, SP_AUTH_OPTIONAL, SP_NO_BODY, NULL, NULL,
     SP_INPUT(parse_limit, struct limit_in)},
    {"GET", "/content/trending", content_trending, SP_AUTH_OPTIONAL, SP_NO_BODY, trending_key, NULL,
     SP_INPUT(parse_limit, struct limit_in)},
    {"GET", "/content/:id", content_details, SP_AUTH_OPTIONAL, SP_NO_BODY, details_key, NULL,
     SP_INPUT(content_parse_id, struct content_id_in)},
    {"POST", "/content", content_create, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(content_parse_create, struct content_in)},
    {"PUT", "/content/:id", content_update, SP_AUTH_ADMIN, 0, NULL, NULL,
     SP_INPUT(content_parse_update, struct content_update_in)},
    {"DELETE", "/content/:id", content_delete, SP_AUTH_ADMIN, SP_NO_BODY, NULL, NULL,
     SP_INPUT(content_parse_id, struct content_id_in)},
};

#define LIST_TTL    60
#define DETAILS_TTL 3600

/*
 * The caller's level (with its age cap) for the catalogue: anonymous callers
 * are Free without a cap. Sets *cached when it came from the gate's cache
 * (so a prefetched page, keyed by that same level and cap, may be used).
 * scope names the caller's pages (sp_level_scope).
 */
static int caller_level(sp_req *r, sp_level *l, int *cached, char scope[SP_SCOPE_MAX])
{
	*cached = 1;
	memset(l, 0, sizeof *l);
	l->age_cap = SP_AGE_NONE;
	if (r->authenticated) {
		if (sp_level_get(r, l) != 0)
			return -1;
		*cached = l->from_cache;
	}
	sp_level_scope(l, scope, SP_SCOPE_MAX);
	return 0;
}

/* A cached answer is used: counted, and also as a local one when it was the process's copy. */
static void cache_hit(sp_req *r)
{
	sp_metrics_cache_lookup("catalog", 1);
	if (r->prefetched_local)
		sp_metrics_inc("sp_cache_local_hits_total");
	sp_reply_raw(r, 200, r->prefetched);
}

/* ---------------------------------------------------------------- listing */

static const char *const sorts[] = {"releaseDate", "views", "rating", "title"};

static int sort_parse(const char *s)
{
	return sp_enum_index(sorts, 4, s);
}

/* InnoDB's default full-text stopwords: never indexed, so never required. */
static int stopword(const unsigned char *w, size_t n)
{
	static const char *const words[] = {"a",    "about", "an",  "are",  "as",   "at",   "be",
	                                    "by",   "com",   "de",  "en",   "for",  "from", "how",
	                                    "i",    "in",    "is",  "it",   "la",   "of",   "on",
	                                    "or",   "that",  "the", "this", "to",   "was",  "what",
	                                    "when", "where", "who", "will", "with", "und",  "www"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == n && strncasecmp((const char *)w, words[i], n) == 0)
			return 1;
	return 0;
}

/*
 * Turns free text into a safe boolean-mode query: words only (letters and
 * digits, any script), each required and prefix-matched ("+word*"), at most
 * eight. Operators, quotes and punctuation never reach MariaDB. Words the
 * index does not hold (shorter than its 3-character minimum, stopwords) are
 * left out rather than required, so "the kingdom" finds "The Silent Kingdom".
 */
static void search_terms(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	int terms = 0;
	const unsigned char *p = (const unsigned char *)in;

	out[0] = '\0';
	while (*p && terms < 8) {
		const unsigned char *w;
		size_t wl;
		while (*p && !(isalnum(*p) || *p >= 0x80))
			p++;
		w = p;
		while (*p && (isalnum(*p) || *p >= 0x80))
			p++;
		wl = (size_t)(p - w);
		if (wl < 3 || wl > 40 || o + wl + 4 >= outsz || stopword(w, wl))
			continue;
		out[o++] = '+';
		memcpy(out + o, w, wl);
		o += wl;
		out[o++] = '*';
		out[o++] = ' ';
		out[o] = '\0';
		terms++;
	}
	if (o > 0)
		out[o - 1] = '\0';
}

static int parse_list(sp_req *r, void *in)
{
	struct list_q *q = in;
	const char *v;

	q->type = -1;
	q->level_f = -1;
	sp_v_query_enum(r, "type", content_type_parse,
	                "must be one of movie, series, documentary, short, trailer", &q->type);
	if (sp_v_query_text(r, "genre", 1, 50, "must be 1 to 50 characters", &v) == SP_V_OK)
		snprintf(q->genre, sizeof q->genre, "%s", v);
	sp_v_query_enum(r, "accessLevel", sp_tier_parse,
	                "must be one of Free, Basic, Premium, Ultimate", &q->level_f);
	if ((v = sp_query(r, "search")) != NULL && v[0] != '\0' &&
	    sp_v_query_text(r, "search", 0, 200, "must be valid text of at most 200 characters",
	                    &v) == SP_V_OK) {
		q->has_search = 1;
		search_terms(v, q->search, sizeof q->search);
	}
	sp_v_query_enum(r, "sortBy", sort_parse, "must be one of releaseDate, views, rating, title",
	                &q->sort);
	q->desc = q->sort != 3; /* newest, most viewed, best rated first; titles A to Z */
	sp_v_query_enum(r, "order", sp_parse_order, "must be asc or desc", &q->desc);
	sp_v_query_enum(r, "includeLocked", sp_parse_bool_word, "must be true or false",
	                &q->locked);
	sp_v_query_int(r, "page", 1, 1, 100000, &q->page);
	sp_v_query_int(r, "limit", 20, 1, 100, &q->limit);
	return 0;
}

/* The normalised query as a cache key; {L} becomes the caller's scope (level and age cap). */
static void list_cache_key(const struct list_q *q, const char *level, char *key, size_t n)
{
	char h[65];
	sp_buf b;

	sp_buf_init(&b);
	sp_buf_addf(&b, "%d|%s|%d|%s|%d|%d|%d|%lld|%lld", q->type, q->genre, q->level_f,
	            q->has_search ? q->search : "-", q->sort, q->desc, q->locked, q->page,
	            q->limit);
	sp_sha256_hex(b.data, b.len, h);
	sp_buf_free(&b);
	sp_key_catalog_list(key, n, level, h);
}

static int list_key(sp_req *r, long long uid, char *key, size_t n)
{
	list_cache_key(r->in, uid ? "{L}" : "0", key, n);
	return 0;
}

/*
 * One statement per sort order and direction, with and without search:
 * ORDER BY cannot be a parameter, and every variant stays a prepared
 * statement. Optional filters are "(? IS NULL OR ...)" so one text serves.
 */
#define LIST_FROM                                                                                  \
	" FROM content c WHERE c.is_active = 1 AND (? = 1 OR c.access_level <= ?) AND c.min_age "  \
	"<= ? AND (? IS NULL OR c.type = ?) AND (? < 0 OR c.access_level = ?) AND (? IS NULL OR "  \
	"EXISTS (SELECT 1 FROM content_genres g WHERE g.content_id = c.id AND g.genre = ?))"
#define LIST_SEARCH " AND MATCH(c.title, c.description) AGAINST (? IN BOOLEAN MODE)"
#define LIST_SQL(search, order)                                                                    \
	"SELECT " CONTENT_COLS LIST_FROM search " ORDER BY " order ", c.id LIMIT ? OFFSET ?"

static const char *const list_sql[2][4][2] = {
    {{LIST_SQL("", "c.release_date ASC"), LIST_SQL("", "c.release_date DESC")},
     {LIST_SQL("", "c.views ASC"), LIST_SQL("", "c.views DESC")},
     {LIST_SQL("", "c.rating_avg ASC"), LIST_SQL("", "c.rating_avg DESC")},
     {LIST_SQL("", "c.title ASC"), LIST_SQL("", "c.title DESC")}},
    {{LIST_SQL(LIST_SEARCH, "c.release_date ASC"), LIST_SQL(LIST_SEARCH, "c.release_date DESC")},
     {LIST_SQL(LIST_SEARCH, "c.views ASC"), LIST_SQL(LIST_SEARCH, "c.views DESC")},
     {LIST_SQL(LIST_SEARCH, "c.rating_avg ASC"), LIST_SQL(LIST_SEARCH, "c.rating_avg DESC")},
     {LIST_SQL(LIST_SEARCH, "c.title ASC"), LIST_SQL(LIST_SEARCH, "c.title DESC")}},
};
static const char *const count_sql[2] = {"SELECT COUNT(*)" LIST_FROM,
                                         "SELECT COUNT(*)" LIST_FROM LIST_SEARCH};

static int content_list(sp_req *r)
{
	const struct list_q *q = r->in;
	int level, age, cached, all;
	const char *type, *genre;
	long long total;
	sp_res res;
	sp_level l;
	json_object *arr, *data, *extra, *pg;
	char key[128], scope[SP_SCOPE_MAX];

	if (caller_level(r, &l, &cached, scope) != 0)
		return sp_unavailable(r);
	level = l.level;
	age = sp_level_age_limit(&l);
	if (r->prefetched && cached) {
		cache_hit(r);
		return 0;
	}
	sp_metrics_cache_lookup("catalog", 0);
	all = q->locked;
	type = q->type >= 0 ? content_types[q->type] : NULL;
	genre = q->genre[0] ? q->genre : NULL;
	if (q->has_search && q->search[0] == '\0') {
		/* nothing searchable in the text: an empty page, no query */
		total = 0;
		memset(&res, 0, sizeof res);
	} else {
		if ((q->has_search
		         ? sp_db_query(&res, count_sql[1], "iiissiisss", all, level, age, type,
		                       type, q->level_f, q->level_f, genre, genre, q->search)
		         : sp_db_query(&res, count_sql[0], "iiissiiss", all, level, age, type, type,
		                       q->level_f, q->level_f, genre, genre)) != 0)
			return sp_unavailable(r);
		total = sp_res_ll(&res, 0, 0, 0);
		sp_res_free(&res);
		if ((q->has_search
		         ? sp_db_query(&res, list_sql[1][q->sort][q->desc], "iiissiisssll", all,
		                       level, age, type, type, q->level_f, q->level_f, genre, genre,
		                       q->search, q->limit, (q->page - 1) * q->limit)
		         : sp_db_query(&res, list_sql[0][q->sort][q->desc], "iiissiissll", all,
		                       level, age, type, type, q->level_f, q->level_f, genre, genre,
		                       q->limit, (q->page - 1) * q->limit)) != 0)
			return sp_unavailable(r);
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(arr, content_item_json(&res, i, level));
	sp_res_free(&res);
	data = json_object_new_object();
	json_object_object_add(data, "content", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	pg = json_object_new_object();
	json_object_object_add(pg, "page", json_object_new_int64(q->page));
	json_object_object_add(pg, "limit", json_object_new_int64(q->limit));
	json_object_object_add(pg, "total", json_object_new_int64(total));
	json_object_object_add(pg, "pages",
	                       json_object_new_int64((total + q->limit - 1) / q->limit));
	json_object_object_add(extra, "pagination", pg);
	sp_ok_ex(r, 200, NULL, data, extra);
	list_cache_key(q, scope, key, sizeof key);
	sp_cache_put(SP_GROUP_CATALOG, key, r->body_out.data, LIST_TTL);
	return 0;
}

/* ---------------------------------------------------------------- featured, trending */

static int parse_limit(sp_req *r, void *in)
{
	struct limit_in *q = in;

	sp_v_query_int(r, "limit", 20, 1, 50, &q->limit);
	return 0;
}

static int reply_items(sp_req *r, sp_res *res, int level)
{
	json_object *arr = json_object_new_array(), *data, *extra;

	for (size_t i = 0; i < res->nrows; i++)
		json_object_array_add(arr, content_item_json(res, i, level));
	sp_res_free(res);
	data = json_object_new_object();
	json_object_object_add(data, "content", arr);
	extra = json_object_new_object();
	json_object_object_add(extra, "count",
	                       json_object_new_int((int)json_object_array_length(arr)));
	sp_ok_ex(r, 200, NULL, data, extra);
	return 0;
}

static int content_featured(sp_req *r)
{
	const struct limit_in *q = r->in;
	int cached;
	sp_res res;
	sp_level l;
	char scope[SP_SCOPE_MAX];

	if (caller_level(r, &l, &cached, scope) != 0)
		return sp_unavailable(r);
	/* featured titles are shown at every level, each with canAccess; never above the age cap */
	if (sp_db_query(&res,
	                "SELECT " CONTENT_COLS " FROM content c WHERE c.is_active = 1 AND "
	                "c.is_featured = 1 AND c.min_age <= ? ORDER BY c.views DESC, c.id LIMIT ?",
	                "il", sp_level_age_limit(&l), q->limit) != 0)
		return sp_unavailable(r);
	return reply_items(r, &res, l.level);
}

/* The trending page of a limit as a cache key, per level like a listing page. */
static void trending_cache_key(long long limit, const char *level, char *key, size_t n)
{
	char text[32], h[65];

	snprintf(text, sizeof text, "trending|%lld", limit);
	sp_sha256_hex(text, strlen(text), h);
	sp_key_catalog_list(key, n, level, h);
}

static int trending_key(sp_req *r, long long uid, char *key, size_t n)
{
	const struct limit_in *q = r->in;

	trending_cache_key(q->limit, uid ? "{L}" : "0", key, n);
	return 0;
}

/*
 * The days of the window (today and the six before, UTC) whose views are
 * not aggregated yet, oldest first, into days[]: today always (it is never
 * aggregated), and any day the aggregate job has not done yet. The rest
 * are padded with the first, so the statement below keeps one shape.
 */
static int raw_days(char days[7][16])
{
	sp_res res;
	size_t n;

	if (sp_db_query(&res,
	                "SELECT UTC_DATE() - INTERVAL s.seq DAY AS d FROM seq_0_to_6 s LEFT JOIN "
	                "watch_aggregate_days a ON a.day = UTC_DATE() - INTERVAL s.seq DAY WHERE "
	                "a.day IS NULL ORDER BY d",
	                "") != 0)
		return -1;
	n = res.nrows;
	for (size_t i = 0; i < 7; i++)
		snprintf(days[i], sizeof days[i], "%s",
		         n ? sp_res_str(&res, i < n ? i : 0, 0) : "9999-12-31");
	sp_res_free(&res);
	return 0;
}

/*
 * Most watched in the last seven days (today and the six before, UTC): per
 * title, the views of the aggregated days (watch_daily_content, days listed
 * in watch_aggregate_days) plus the raw 'start' events of the days not
 * aggregated yet (usually today alone: a range of one day of one
 * partition), so each day counts once, from one source, and a late
 * aggregate job hides no day. Titles nobody watched in that window follow
 * by all-time views, so the list is never empty. Titles above the caller's
 * age cap are left out. The page is cached per scope for LIST_TTL like a
 * listing, so trending may trail by that much.
 */
static int content_trending(sp_req *r)
{
	const struct limit_in *q = r->in;
	int cached;
	char d[7][16], key[128], scope[SP_SCOPE_MAX];
	sp_res res;
	sp_level l;

	if (caller_level(r, &l, &cached, scope) != 0)
		return sp_unavailable(r);
	if (r->prefetched && cached) {
		cache_hit(r);
		return 0;
	}
	sp_metrics_cache_lookup("catalog", 0);
	if (raw_days(d) != 0 ||
	    sp_db_query(
	        &res,
	        "SELECT " CONTENT_COLS " FROM content c LEFT JOIN (SELECT content_id, SUM(n) AS n "
	        "FROM (SELECT d.content_id, SUM(d.views) AS n FROM watch_daily_content d JOIN "
	        "watch_aggregate_days a ON a.day = d.day WHERE d.day >= UTC_DATE() - INTERVAL 6 "
	        "DAY AND d.day < UTC_DATE() GROUP BY d.content_id UNION ALL SELECT e.content_id, "
	        "COUNT(*) FROM watch_events e WHERE e.event = 'start' AND e.created_at >= ? AND "
	        "DATE(e.created_at) IN (?, ?, ?, ?, ?, ?, ?) GROUP BY e.content_id) w GROUP BY "
	        "content_id) t ON t.content_id = c.id WHERE c.is_active = 1 AND c.min_age <= ? "
	        "ORDER BY COALESCE(t.n, 0) DESC, c.views DESC, c.id LIMIT ?",
	        "ssssssssil", d[0], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
	        sp_level_age_limit(&l), q->limit) != 0)
		return sp_unavailable(r);
	reply_items(r, &res, l.level);
	trending_cache_key(q->limit, scope, key, sizeof key);
	sp_cache_put(SP_GROUP_CATALOG, key, r->body_out.data, LIST_TTL);
	return 0;
}

/* ---------------------------------------------------------------- details */

static int details_key(sp_req *r, long long uid, char *key, size_t n)
{
	const struct content_id_in *q = r->in;

	sp_key_catalog_item(key, n, q->id, uid ? "{L}" : "0");
	return 0;
}

/* Other titles the caller may watch, sharing a genre, most viewed first. */
static json_object *recommendations(long long id, const sp_level *l)
{
	int level = l->level;
	sp_res res;
	json_object *recs;

	if (sp_db_query(&res,
	                "SELECT " CONTENT_COLS
	                " FROM content c WHERE c.is_active = 1 AND c.id <> ? "
	                "AND c.access_level <= ? AND c.min_age <= ? AND EXISTS (SELECT 1 FROM "
	                "content_genres g1 JOIN content_genres g2 ON g2.genre = g1.genre WHERE "
	                "g1.content_id = c.id AND g2.content_id = ?) ORDER BY c.views DESC, c.id "
	                "LIMIT 10",
	                "liil", id, level, sp_level_age_limit(l), id) != 0)
		return NULL;
	recs = json_object_new_array();
	for (size_t i = 0; i < res.nrows; i++)
		json_object_array_add(recs, content_item_json(&res, i, level));
	sp_res_free(&res);
	return recs;
}

static int content_details(sp_req *r)
{
	const struct content_id_in *q = r->in;
	int cached, admin = r->authenticated && strcmp(r->role, "admin") == 0;
	sp_res res;
	sp_level l;
	json_object *item, *recs, *data;
	char key[96], scope[SP_SCOPE_MAX];

	if (caller_level(r, &l, &cached, scope) != 0)
		return sp_unavailable(r);
	/* admins also see deactivated titles, so their answers are never cached */
	if (r->prefetched && cached && !admin) {
		cache_hit(r);
		return 0;
	}
	sp_metrics_cache_lookup("catalog", 0);
	if (sp_db_query(&res, "SELECT " CONTENT_DETAIL_COLS " FROM content c WHERE c.id = ?", "l",
	                q->id) != 0)
		return sp_unavailable(r);
	if (res.nrows == 0 || (!admin && sp_res_ll(&res, 0, CC_ACTIVE, 0) != 1)) {
		sp_res_free(&res);
		return sp_fail(r, 404, "NOT_FOUND", "Content not found");
	}
	/* never cached: a scope's details hold only the titles its age cap shows */
	if (sp_title_age_hidden(&l, (int)sp_res_ll(&res, 0, CC_MIN_AGE, SP_AGE_MAX))) {
		sp_res_free(&res);
		return sp_fail(r, 403, "AGE_RESTRICTED",
		               "This title is above the age limit set by parental controls");
	}
	item = content_detail_json(&res, 0, l.level);
	sp_res_free(&res);
	if ((recs = recommendations(q->id, &l)) == NULL) {
		json_object_put(item);
		return sp_unavailable(r);
	}
	data = json_object_new_object();
	json_object_object_add(data, "canAccess",
	                       json_object_get(json_object_object_get(item, "canAccess")));
	json_object_object_add(data, "content", item);
	json_object_object_add(data, "recommendations", recs);
	sp_ok(r, 200, NULL, data);
	if (!admin) {
		sp_key_catalog_item(key, sizeof key, q->id, scope);
		sp_cache_put(SP_GROUP_CATALOG, key, r->body_out.data, DETAILS_TTL);
	}
	return 0;
}

static int init(void)
{
	sp_cache_register_group(SP_GROUP_CATALOG);
	/* pages and details are also kept in this process, checked by version */
	sp_cache_local(SP_GROUP_CATALOG);
	return 0;
}

int main(int argc, char **argv)
{
	static const sp_app app = {"content", routes, sizeof routes / sizeof routes[0], init};

	return sp_app_main(&app, argc, argv);
}
