/*
 * Sending one composed message over SMTP with libcurl, as the smtp.*
 * settings say: the relay, STARTTLS, sign-in, sender and time limits.
 */
#include "sp_smtp.h"
#include "sp_config.h"
#include "sp_mail.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct upload {
	const char *p;
	size_t left;
};

static size_t read_msg(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static long use_ssl(void)
{
	if (strcmp(sp_cfg.smtp_starttls, "require") == 0)
		return (long)CURLUSESSL_ALL;
	if (strcmp(sp_cfg.smtp_starttls, "try") == 0)
		return (long)CURLUSESSL_TRY;
	return (long)CURLUSESSL_NONE;
}

/* The relay, TLS, sign-in and limits: the same for every message. */
static void set_relay(CURL *c)
{
	curl_easy_setopt(c, CURLOPT_URL, sp_cfg.smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl());
	if (sp_cfg.smtp_ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, sp_cfg.smtp_ca_file);
	if (sp_cfg.smtp_user[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, sp_cfg.smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, sp_cfg.smtp_password);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, sp_cfg.smtp_timeout);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, sp_cfg.smtp_timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

static enum sp_smtp_result classify(CURLcode rc, long code)
{
	if (rc == CURLE_OK)
		return SP_SMTP_SENT;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_OPERATION_TIMEDOUT)
		return SP_SMTP_DOWN;
	/* a refused sign-in is the relay's settings, not the recipient: try again later */
	if (rc != CURLE_LOGIN_DENIED && code >= 500 && code < 600)
		return SP_SMTP_REJECTED;
	return SP_SMTP_RETRY;
}

enum sp_smtp_result sp_smtp_send(const char *rcpt, const char *msg, size_t len, char *err,
                                 size_t errlen)
{
	char from[256], to[300], curl_err[CURL_ERROR_SIZE] = "";
	struct upload up = {msg, len};
	struct curl_slist *rcpts = NULL;
	enum sp_smtp_result res;
	CURL *c = curl_easy_init();
	CURLcode rc;
	long code = 0;

	if (c == NULL || sp_mail_address(sp_cfg.smtp_from, from, sizeof from) != 0) {
		snprintf(err, errlen, "cannot set up the SMTP client");
		curl_easy_cleanup(c);
		return SP_SMTP_RETRY;
	}
	snprintf(to, sizeof to, "<%s>", rcpt);
	rcpts = curl_slist_append(NULL, to);
	set_relay(c);
	snprintf(to, sizeof to, "<%s>", from);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, to);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_msg);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	res = classify(rc, code);
	if (res != SP_SMTP_SENT)
		snprintf(err, errlen, "%s (reply %ld)",
		         curl_err[0] ? curl_err : curl_easy_strerror(rc), code);
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(c);
	return res;
}
