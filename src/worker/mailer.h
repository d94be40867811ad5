/*
 * The mailer job's parts: a claimed outbox event, and how it becomes a
 * message (mail_event.c) or a reason not to mail it.
 */
#ifndef MAILER_H
#define MAILER_H

#include <stddef.h>
#include <stdint.h>

#include "sp_util.h"

struct mail_event {
	long long id, user_id;
	char type[64];
	char *payload; /* JSON text, owned */
	int attempt;   /* this attempt, counted from 1 */
};

enum mail_build {
	MAIL_BUILT,       /* msg and to are ready */
	MAIL_SKIP,        /* not to be mailed, ever (why says why) */
	MAIL_ERROR,       /* cannot be built now, e.g. a template problem (why) */
	MAIL_UNAVAILABLE, /* the database did not answer: give the event back untried */
};

/*
 * The message for ev as of now (the job's clock), from the user's current
 * name, address and preferences and the event's own data, into msg, and
 * the recipient's address into to.
 */
enum mail_build mail_build(const struct mail_event *ev, int64_t now, sp_buf *msg, char *to,
                           size_t ton, char *why, size_t whyn);

#endif
