/*
 * Sending one composed message over SMTP with libcurl, as the smtp.*
 * settings say: the relay, STARTTLS, sign-in, sender and time limits.
 */
#ifndef SP_SMTP_H
#define SP_SMTP_H

#include <stddef.h>

enum sp_smtp_result {
	SP_SMTP_SENT,     /* the relay accepted the message */
	SP_SMTP_RETRY,    /* a temporary failure (4xx, a dropped connection, a bad sign-in) */
	SP_SMTP_REJECTED, /* a permanent refusal (5xx) of this recipient or message */
	SP_SMTP_DOWN,     /* no relay to talk to (refused, unresolvable, timed out) */
};

/*
 * Sends msg[0..len) to rcpt (an address) from smtp.from's address. err gets
 * what went wrong, libcurl's words and the relay's reply code, never the
 * settings' secrets. Never waits longer than smtp.timeout_seconds.
 */
enum sp_smtp_result sp_smtp_send(const char *rcpt, const char *msg, size_t len, char *err,
                                 size_t errlen);

#endif
