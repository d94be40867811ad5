/*
 * Watch progress: where a viewer is in a title, one row per user and title
 * (watch_progress), written by PUT progress and by playback itself (a
 * heartbeat's flush, a stop), each write also appended to watch_events.
 */
#ifndef SP_HISTORY_H
#define SP_HISTORY_H

#include <stdint.h>

#include "sp_router.h"

/* What a position makes of a title: see sp_watch_status_of. */
enum sp_watch_status {
	SP_WATCH_STARTED,
	SP_WATCH_PAUSED,
	SP_WATCH_COMPLETED,
};

/* A position report. */
typedef struct sp_watch {
	long long user_id, content_id;
	long long watched;                  /* seconds; capped at total */
	long long total;                    /* seconds; -1: the title's length */
	const char *session_id, *device_id; /* NULL: keep what the row has */
	int quality;                        /* 0 480p .. 3 4K; -1: keep */
	const char *event;                  /* "progress" or "stop" (the watch event) */
	int always_event;                   /* append the event even if one was recent */
	/*
	 * A report of the viewer's own (PUT): "<title facts>\n<level>", exactly
	 * as the gate read them (sp_title, sp_tier), and when that level stops
	 * holding (its subscription's end, 0 never). Later reports with the same
	 * facts and level may then be held (sp_history_step). NULL: playback.
	 */
	const char *checked;
	int64_t checked_until_ms;
} sp_watch;

/*
 * Seconds between two progress events of one viewer and title, and at most
 * between two MariaDB writes of its position (see sp_history_step).
 */
#define SP_HISTORY_EVERY_S 60
#define SP_HISTORY_EVERY   "60" /* the same, for SQL text */

/* The row after a write. */
typedef struct sp_progress {
	long long id, watched, total;
	int percent; /* 0..100, rounded down */
	enum sp_watch_status status;
	int completed_now;    /* this write finished the title */
	int event_due;        /* this write appended a watch event */
	int64_t completed_ms; /* when it was last finished, 0 never */
	int64_t at_ms;        /* this write */
} sp_progress;

/*
 * Records w: one upsert of the progress row (its status, and completedAt
 * when it reaches 90 %) and, when the status changed, a minute passed
 * since the last one or w->always_event says so, one watch event
 * ('complete' when this write finished the title). 1 written (out filled), 0 no such title or a
 * total of 0, -1 MariaDB failed.
 */
int sp_history_record(const sp_watch *w, sp_progress *out);
/* started below 5 % of total, completed from 90 %, paused in between (total > 0). */
enum sp_watch_status sp_watch_status_of(long long watched, long long total);
/*
 * The gate step of a viewer's report (PUT progress): wp below, which holds
 * the position in Redis when the title's mark lives (MariaDB was told of it
 * less than SP_HISTORY_EVERY_S ago) with the same status, and the title's
 * facts and the viewer's level the gate just read are the ones that write
 * was checked with, and a named session is one Redis knows as the
 * viewer's: every check the write passed would pass again. It then drops
 * the viewer's cached answers and answers {"HELD", "<row id>|<completed
 * ms>"}; otherwise {"DUE"} and nothing is done.
 * KEYS: mark, buffer, dirty set, generation, catalogue version, session.
 * ARGV: title, viewer, status, position, now (ms), session named (1/0), the answers' names.
 */
void sp_history_step(const sp_watch *w, sp_step *s);
#define SP_HISTORY_WP_LUA                                                                          \
	"local function wp(title, level, kmark, kbuf, kdirty, kgen, kver, ksess, cid, uid, "       \
	"status,\n"                                                                                \
	"                  value, now, sess, n1, n2, n3)\n"                                        \
	"  local m = redis.call('GET', kmark)\n"                                                   \
	"  if not m or title == '' or level == '' then return {'DUE'} end\n"                       \
	"  local st, id, done, t, l = string.match(m, "                                            \
	"'^(%a+)\\n(%d+)\\n(%d+)\\n([^\\n]*)\\n(.*)$')\n"                                          \
	"  if st ~= status or t ~= title or l ~= level then return {'DUE'} end\n"                  \
	"  if sess == '1' and redis.call('HGET', ksess, 'u') ~= uid then return {'DUE'} end\n"     \
	"  redis.call('HSET', kbuf, cid, value)\n"                                                 \
	"  redis.call('ZADD', kdirty, 'NX', now, uid)\n"                                           \
	"  gen_drop(kgen, kver, {n1, n2, n3})\n"                                                   \
	"  return {'HELD', id .. '|' .. done}\n"                                                   \
	"end\n"
/*
 * After the gate: 1 when the step held the report (status and value its
 * answer, r->step_*), out filled as sp_history_record would; else 0.
 */
int sp_history_held(const char *status, const char *value, const sp_watch *w, sp_progress *out);
/*
 * Writes the viewer's buffered positions to MariaDB, each unless its row
 * changed status or was written later meanwhile, or is gone. Called before
 * anything reads the viewer's watch_progress rows. 0 ok (also when Redis is
 * away), -1 MariaDB failed (what was written is settled).
 */
int sp_history_flush(long long uid);
/* Removes the title from the viewer's history: 1 removed, 0 was not there, -1 MariaDB failed. */
int sp_history_forget(long long uid, long long content_id);
/* The cached answers' names (sp_key_history). */
#define SP_HISTORY_CW     "cw"
#define SP_HISTORY_RECENT "recent"
#define SP_HISTORY_STATS  "stats"

/* "started", "paused", "completed". */
const char *sp_watch_status_name(enum sp_watch_status s);
/* watched as a whole percentage of total, 0..100. */
int sp_watch_percent(long long watched, long long total);

#endif
