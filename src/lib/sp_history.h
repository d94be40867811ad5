/*
 * Watch progress: where a viewer is in a title, one row per user and title
 * (watch_progress), written by PUT progress and by playback itself (a
 * heartbeat's flush, a stop), each write also appended to watch_events.
 */
#ifndef SP_HISTORY_H
#define SP_HISTORY_H

#include <stdint.h>

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
} sp_watch;

/*
 * Seconds between two progress events of one viewer and title, and at most
 * between two MariaDB writes of its position (see sp_history_report).
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
 * A position report from the viewer (PUT progress): held in Redis when
 * MariaDB was told of this title and status less than SP_HISTORY_EVERY_S
 * ago (1, out filled, the row's id and completion from that write);
 * otherwise 0 and nothing done: the caller checks what a write needs and
 * calls sp_history_record. The viewer's cached answers are dropped either
 * way.
 */
int sp_history_report(const sp_watch *w, sp_progress *out);
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
