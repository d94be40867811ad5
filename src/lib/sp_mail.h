/*
 * Notification mail without the network: templates filled with escaped
 * values, and RFC 5322 / MIME messages whose headers no value can break.
 */
#ifndef SP_MAIL_H
#define SP_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "sp_util.h"

#define SP_MAIL_MAX_VARS 24

/* Named values for a template, each a copy owned by the set. */
typedef struct sp_mail_vars {
	char *name[SP_MAIL_MAX_VARS];
	char *value[SP_MAIL_MAX_VARS];
	int n;
} sp_mail_vars;

/* Sets name to a copy of value (NULL: ""); a later set of the same name wins. */
void sp_mail_var(sp_mail_vars *vs, const char *name, const char *value);
void sp_mail_vars_free(sp_mail_vars *vs);

enum sp_mail_escape {
	SP_MAIL_TEXT, /* control characters in a value become spaces */
	SP_MAIL_HTML, /* the same, and & < > " ' become entities */
};

/*
 * Fills template tpl into out: {{name}} is the value, escaped as esc says;
 * {{#name}}...{{/name}} is kept only when the value is not empty and
 * {{^name}}...{{/name}} only when it is (not nested in themselves). A name
 * the set lacks, or a section left open, is an error: -1 with err set.
 */
int sp_mail_render(const char *tpl, const sp_mail_vars *vs, enum sp_mail_escape esc, sp_buf *out,
                   char *err, size_t errlen);

/*
 * Splits a rendered text template into its first line, which must read
 * "Subject: ...", and the body after it (a blank line after the subject is
 * skipped). 0 ok; -1 when the first line is not a subject.
 */
int sp_mail_split_subject(const char *rendered, char *subject, size_t n, const char **body);

/* The address of "Name <address>" or of a bare address into out. 0 ok, -1 none found. */
int sp_mail_address(const char *mailbox, char *out, size_t n);

/*
 * Appends s as a header value: control characters (CR and LF included)
 * become spaces, so nothing can start a new header; text that is not plain
 * printable ASCII is written as RFC 2047 encoded words (UTF-8, base64, each
 * at most 75 characters, folded onto continuation lines). With phrase set
 * (a display name) ASCII with characters outside letters, digits, space and
 * !#$%&'*+-/=?^_`{|}~ is encoded too.
 */
void sp_mail_header_text(sp_buf *out, const char *s, int phrase);

typedef struct sp_mail_msg {
	const char *from;    /* the sender, "Name <address>" or an address */
	const char *to_name; /* the recipient's display name (any text), or NULL */
	const char *to_addr; /* the recipient's address */
	const char *subject; /* any UTF-8 text */
	const char *text;    /* the plain-text part */
	const char *html;    /* the HTML part */
	int64_t date_ms;     /* Date: */
} sp_mail_msg;

/*
 * The whole message into out: From, To, Subject, Date, Message-ID,
 * MIME-Version and a multipart/alternative body (text, then HTML; UTF-8,
 * base64), CRLF line ends throughout. 0 ok; -1 when an address is unusable
 * (empty, or holding characters no address may: space, control, <, >, ").
 */
int sp_mail_compose(const sp_mail_msg *m, sp_buf *out);

#endif
