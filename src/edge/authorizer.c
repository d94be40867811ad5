/*
 * sp-media-auth: the web server's FastCGI authorizer for /media. Every
 * playlist and segment request is allowed only with a correctly signed
 * token for that title and a rendition within both the token's maximum and
 * the session's current cap (the plan in force at its last heartbeat),
 * while the session is live; the web server's static handler then sends
 * the file. A token past its expiry still works while its session is live
 * (heartbeats keep a long film playing), never for an ended session. A
 * token bound to a download licence works while the licence is live and
 * never past its expiry.
 *
 * The client asks for /media/t/<token>/<content>/<file>; the web server
 * rewrites that to /media/<content>/<file>?t=<token> (so the file is found
 * under the media root) and asks this program first, as it does for every
 * other URL below /media/ (all refused). A 200 lets the request through; a
 * 403 refuses it; a 503 says neither Redis nor MariaDB could tell whether
 * the session is live.
 */
#include "sp_app.h"
#include "sp_db.h"
#include "sp_download.h"
#include "sp_kv.h"
#include "sp_log.h"
#include "sp_media.h"
#include "sp_program.h"
#include "sp_stream.h"
#include "sp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static const char *const rendition_dirs[] = {"480p", "720p", "1080p", "2160p"};

/* The rendition a path below /media/<content>/ needs, or -1 if it is none of ours. */
/* A plain file name: letters, digits, '_', '-', '.', and not "." or "..". */
static int plain_name(const char *s)
{
	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/*
 * The rendition a path below /media/<content>/ needs, or -1 if it is not
 * exactly one of ours: "master-<max>-<default>.m3u8" or "<rendition>/<file>"
 * with a plain file name. Anything else (encoded characters, "..", extra
 * segments the web server would fold away) is refused, so the file served
 * is always the one judged here.
 */
static int needed_quality(const char *file)
{
	int max, def, used = 0;

	if (sscanf(file, "master-%1d-%1d.m3u8%n", &max, &def, &used) == 2 && used > 0 &&
	    file[used] == '\0' && max >= 0 && max <= 3 && def >= 0 && def <= max)
		return max;
	for (int q = 0; q < 4; q++) {
		size_t n = strlen(rendition_dirs[q]);
		if (strncmp(file, rendition_dirs[q], n) == 0 && file[n] == '/')
			return plain_name(file + n + 1) ? q : -1;
	}
	return -1;
}

/* Extracts t=<token> from the query string. */
static const char *query_token(const char *qs, size_t *len)
{
	const char *p = qs;

	while (p && *p) {
		if (strncmp(p, "t=", 2) == 0) {
			const char *e = strchr(p + 2, '&');
			*len = e ? (size_t)(e - p - 2) : strlen(p + 2);
			return p + 2;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return NULL;
}

/*
 * A token bound to a download licence: never past its exp (the licence's
 * expiry; unlike a stream's, it is not kept alive by anything), and only
 * while the licence is live, not revoked (Redis's copy, else MariaDB).
 * Its rendition was checked against the token, which carries the
 * licence's quality.
 */
static int licence_allows(const sp_media_claims *c, enum sp_media_check check, const char **why)
{
	int live;

	*why = "download licence expired";
	if (check != SP_MEDIA_VALID)
		return 0;
	live = sp_download_is_live(c->licence, c->content_id);
	*why = live < 0 ? "cannot tell whether the download licence is live"
	                : "download licence revoked";
	return live;
}

/*
 * The decision: 1 allow, 0 refuse (403), -1 neither Redis nor MariaDB could
 * say whether the session is live (503). The path is the original
 * (/media/t/<token>/<content>/<file>) or the rewritten one
 * (/media/<content>/<file>?t=<token>); every other path under /media/ is
 * refused, so nothing there is ever served without a valid token.
 */
static int allowed(FCGX_ParamArray env, const char **why)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", env);
	const char *qs = FCGX_GetParam("QUERY_STRING", env);
	const char *tok, *path;
	char pathbuf[512];
	size_t tlen = 0;
	sp_media_claims c;
	enum sp_media_check check;
	long long cid;
	const char *slash;
	int need, live, cap = 3;
	char *end;

	*why = "no token";
	tok = query_token(qs, &tlen);
	if (tok == NULL || uri == NULL)
		return 0;
	/* the path: the original URI (/media/t/<token>/...) or the rewritten one */
	snprintf(pathbuf, sizeof pathbuf, "%s", uri);
	if ((end = strchr(pathbuf, '?')) != NULL)
		*end = '\0';
	path = pathbuf;
	if (strncmp(path, "/media/t/", 9) == 0) {
		const char *slash = strchr(path + 9, '/');
		if (slash == NULL)
			return 0;
		path = slash; /* "/<content>/<file>" */
	} else if (strncmp(path, "/media/", 7) == 0) {
		path += 6;
	} else {
		return 0;
	}
	*why = "bad signature";
	check = sp_media_check(tok, tlen, sp_now_ms() / 1000, &c);
	if (check == SP_MEDIA_BAD)
		return 0;
	*why = "wrong title";
	/* the id as written canonically: "05" or "+5" is not title 5 */
	slash = strchr(path + 1, '/');
	if (slash == NULL || sp_parse_id(path + 1, (size_t)(slash - path - 1), &cid) != 0 ||
	    cid != c.content_id)
		return 0;
	*why = "rendition above the plan";
	need = needed_quality(slash + 1);
	if (need < 0 || need > c.max_quality)
		return 0;
	if (c.licence)
		return licence_allows(&c, check, why);
	/* the session must still be live: Redis, else MariaDB; neither answering is no answer */
	live = sp_stream_is_live(c.sid, &cap);
	*why = live < 0                    ? "cannot tell whether the session is live"
	       : check == SP_MEDIA_EXPIRED ? "token expired and session ended"
	                                   : "session ended";
	if (live <= 0)
		return live;
	/* a downgrade or an expiry since the start: the plan now in force caps it */
	*why = "rendition above the current plan";
	return need <= cap ? 1 : 0;
}

/* Writes the answer for one request: 200 lets it through, 403 refuses, 503 cannot tell. */
static void answer(FCGX_Request *fr)
{
	const char *why = "";
	int ok = allowed(fr->envp, &why);

	if (ok > 0) {
		FCGX_FPrintF(fr->out, "Status: 200 OK\r\nContent-Length: 0\r\n\r\n");
	} else if (ok < 0) {
		FCGX_FPrintF(fr->out, "Status: 503 Service Unavailable\r\nContent-Type: "
		                      "text/plain\r\nRetry-After: 5\r\nContent-Length: 20\r\n\r\n"
		                      "Service Unavailable\n");
		sp_logf(SP_LOG_WARN, "media unavailable: %s", why);
	} else {
		FCGX_FPrintF(fr->out, "Status: 403 Forbidden\r\nContent-Type: text/plain\r\n"
		                      "Content-Length: 10\r\n\r\nForbidden\n");
		sp_logf(SP_LOG_INFO, "media denied: %s", why);
	}
}

/* Starts and loops as the API programs do: SIGTERM lets the request in hand finish. */
int main(void)
{
	FCGX_Request fr;
	int rc;

	if ((rc = sp_program_start("media-auth", SP_PROGRAM_SERVER)) != 0)
		return rc;
	sp_kv_on_connect(sp_stream_resync);
	sp_kv_on_connect(sp_download_resync);
	if (sp_program_listen(&fr) != 0)
		return 1;
	while (sp_program_accept(&fr) >= 0) {
		answer(&fr);
		if (sp_app_input_consumed(&fr))
			fr.detached = 1;
		FCGX_Finish_r(&fr);
		fr.detached = 0;
	}
	sp_program_stop();
	return 0;
}
