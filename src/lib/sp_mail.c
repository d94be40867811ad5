/*
 * Notification mail without the network: templates filled with escaped
 * values, and RFC 5322 / MIME messages whose headers no value can break.
 */
#include "sp_mail.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- values */

void sp_mail_var(sp_mail_vars *vs, const char *name, const char *value)
{
	for (int i = 0; i < vs->n; i++) {
		if (strcmp(vs->name[i], name) == 0) {
			free(vs->value[i]);
			vs->value[i] = sp_xstrdup(value ? value : "");
			return;
		}
	}
	if (vs->n == SP_MAIL_MAX_VARS)
		return; /* a programming error; the template then names an unknown value */
	vs->name[vs->n] = sp_xstrdup(name);
	vs->value[vs->n] = sp_xstrdup(value ? value : "");
	vs->n++;
}

void sp_mail_vars_free(sp_mail_vars *vs)
{
	for (int i = 0; i < vs->n; i++) {
		free(vs->name[i]);
		OPENSSL_cleanse(vs->value[i], strlen(vs->value[i])); /* a reset link among them */
		free(vs->value[i]);
	}
	vs->n = 0;
}

static const char *var_get(const sp_mail_vars *vs, const char *name, size_t len)
{
	for (int i = 0; i < vs->n; i++)
		if (strlen(vs->name[i]) == len && memcmp(vs->name[i], name, len) == 0)
			return vs->value[i];
	return NULL;
}

static void add_escaped(sp_buf *out, const char *v, enum sp_mail_escape esc)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			sp_buf_add(out, " ", 1);
		else if (esc == SP_MAIL_HTML && *p == '&')
			sp_buf_adds(out, "&amp;");
		else if (esc == SP_MAIL_HTML && *p == '<')
			sp_buf_adds(out, "&lt;");
		else if (esc == SP_MAIL_HTML && *p == '>')
			sp_buf_adds(out, "&gt;");
		else if (esc == SP_MAIL_HTML && *p == '"')
			sp_buf_adds(out, "&quot;");
		else if (esc == SP_MAIL_HTML && *p == '\'')
			sp_buf_adds(out, "&#39;");
		else
			sp_buf_add(out, p, 1);
	}
}

/* ---------------------------------------------------------------- templates */

struct render {
	const sp_mail_vars *vs;
	enum sp_mail_escape esc;
	sp_buf *out;
	char *err;
	size_t errlen;
};

static int render_span(struct render *r, const char *p, const char *end);

/* The end of the section opened by a tag named name[0..len): its "{{/name}}", or NULL. */
static const char *section_end(const char *p, const char *end, const char *name, size_t len)
{
	char close[80];
	int n = snprintf(close, sizeof close, "{{/%.*s}}", (int)len, name);
	const char *q;

	if (n < 0 || (size_t)n >= sizeof close)
		return NULL;
	q = strstr(p, close);
	return q != NULL && q + n <= end ? q : NULL;
}

/* One tag at p ("{{"); its end into *next. 0 ok, -1 error (err set). */
static int render_tag(struct render *r, const char *p, const char *end, const char **next)
{
	const char *close = strstr(p + 2, "}}"), *name = p + 2, *v, *sec;
	size_t len;
	char kind = 0;

	if (close == NULL || close >= end) {
		snprintf(r->err, r->errlen, "template: '{{' without '}}'");
		return -1;
	}
	if (*name == '#' || *name == '^')
		kind = *name++;
	len = (size_t)(close - name);
	v = var_get(r->vs, name, len);
	if (v == NULL) {
		snprintf(r->err, r->errlen, "template: unknown placeholder {{%.*s}}",
		         (int)(len < 40 ? len : 40), name);
		return -1;
	}
	*next = close + 2;
	if (kind == 0) {
		add_escaped(r->out, v, r->esc);
		return 0;
	}
	sec = section_end(*next, end, name, len);
	if (sec == NULL) {
		snprintf(r->err, r->errlen, "template: section {{%c%.*s}} is not closed", kind,
		         (int)(len < 40 ? len : 40), name);
		return -1;
	}
	if ((kind == '#') == (*v != '\0') && render_span(r, *next, sec) != 0)
		return -1;
	*next = sec + len + 5; /* "{{/" name "}}" */
	return 0;
}

static int render_span(struct render *r, const char *p, const char *end)
{
	while (p < end) {
		const char *tag = strstr(p, "{{");

		if (tag == NULL || tag >= end) {
			sp_buf_add(r->out, p, (size_t)(end - p));
			return 0;
		}
		sp_buf_add(r->out, p, (size_t)(tag - p));
		if (tag[2] == '/') {
			snprintf(r->err, r->errlen, "template: a closing tag without its opening");
			return -1;
		}
		if (render_tag(r, tag, end, &p) != 0)
			return -1;
	}
	return 0;
}

int sp_mail_render(const char *tpl, const sp_mail_vars *vs, enum sp_mail_escape esc, sp_buf *out,
                   char *err, size_t errlen)
{
	struct render r = {vs, esc, out, err, errlen};

	return render_span(&r, tpl, tpl + strlen(tpl));
}

int sp_mail_split_subject(const char *rendered, char *subject, size_t n, const char **body)
{
	const char *eol;
	size_t len;

	if (strncmp(rendered, "Subject:", 8) != 0)
		return -1;
	rendered += 8;
	while (*rendered == ' ')
		rendered++;
	eol = rendered + strcspn(rendered, "\r\n");
	len = (size_t)(eol - rendered);
	if (len >= n)
		len = sp_utf8_cut(rendered, len, n - 1);
	memcpy(subject, rendered, len);
	subject[len] = '\0';
	if (*eol == '\r')
		eol++;
	if (*eol == '\n')
		eol++;
	if (*eol == '\r')
		eol++;
	if (*eol == '\n')
		eol++;
	*body = eol;
	return 0;
}

/* ---------------------------------------------------------------- headers */

int sp_mail_address(const char *mailbox, char *out, size_t n)
{
	const char *lt = strrchr(mailbox, '<'), *gt;
	size_t len;

	if (lt != NULL) {
		gt = strchr(lt, '>');
		if (gt == NULL)
			return -1;
		mailbox = lt + 1;
		len = (size_t)(gt - mailbox);
	} else {
		while (*mailbox == ' ')
			mailbox++;
		len = strlen(mailbox);
		while (len > 0 && mailbox[len - 1] == ' ')
			len--;
	}
	if (len == 0 || len >= n || memchr(mailbox, '@', len) == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)mailbox[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',')
			return -1;
	}
	memcpy(out, mailbox, len);
	out[len] = '\0';
	return 0;
}

static int plain_ascii(const char *s, int phrase)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			return 0;
		if (phrase && !(*p == ' ' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		                (*p >= 'A' && *p <= 'Z') || strchr("!#$%&'*+-/=?^_`{|}~", *p)))
			return 0;
	}
	return 1;
}

/* Encoded words of at most 45 bytes each (60 base64 characters), cut between characters. */
static void add_encoded_words(sp_buf *out, const char *s, size_t len)
{
	unsigned char b64[64];

	while (len > 0) {
		size_t take = sp_utf8_cut(s, len, 45);
		int n;

		if (take == 0)
			take = len < 45 ? len : 45;
		n = EVP_EncodeBlock(b64, (const unsigned char *)s, (int)take);
		sp_buf_adds(out, "=?UTF-8?B?");
		sp_buf_add(out, b64, (size_t)n);
		sp_buf_adds(out, "?=");
		s += take;
		len -= take;
		if (len > 0)
			sp_buf_adds(out,
			            "\r\n "); /* folded: the next word on a continuation line */
	}
}

void sp_mail_header_text(sp_buf *out, const char *s, int phrase)
{
	sp_buf clean;

	sp_buf_init(&clean);
	add_escaped(&clean, s ? s : "", SP_MAIL_TEXT);
	if (plain_ascii(clean.data ? clean.data : "", phrase))
		sp_buf_add(out, clean.data ? clean.data : "", clean.len);
	else
		add_encoded_words(out, clean.data, clean.len);
	sp_buf_free(&clean);
}

/* ---------------------------------------------------------------- message */

/* s with every line end made CRLF, base64 in lines of 76 characters. */
static void add_base64_body(sp_buf *out, const char *s)
{
	sp_buf crlf;
	unsigned char line[80];

	sp_buf_init(&crlf);
	for (const char *p = s; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			sp_buf_add(&crlf, "\r", 1);
		sp_buf_add(&crlf, p, 1);
	}
	for (size_t off = 0; off < crlf.len; off += 57) {
		size_t take = crlf.len - off < 57 ? crlf.len - off : 57;
		int n = EVP_EncodeBlock(line, (const unsigned char *)crlf.data + off, (int)take);
		sp_buf_add(out, line, (size_t)n);
		sp_buf_adds(out, "\r\n");
	}
	sp_buf_free(&crlf);
}

static void add_part(sp_buf *out, const char *boundary, const char *type, const char *body)
{
	sp_buf_addf(out,
	            "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\n",
	            boundary, type);
	add_base64_body(out, body ? body : "");
}

/* From: the configured sender, its name made header-safe like any other. */
static int add_from(sp_buf *out, const char *from)
{
	char addr[256];
	const char *lt = strrchr(from, '<');
	char name[256];

	if (sp_mail_address(from, addr, sizeof addr) != 0)
		return -1;
	sp_buf_adds(out, "From: ");
	if (lt != NULL && lt > from) {
		size_t len = (size_t)(lt - from);
		while (len > 0 && from[len - 1] == ' ')
			len--;
		snprintf(name, sizeof name, "%.*s", (int)len, from);
		sp_mail_header_text(out, name, 1);
		sp_buf_add(out, " ", 1);
	}
	sp_buf_addf(out, "<%s>\r\n", addr);
	return 0;
}

static void add_date_and_id(sp_buf *out, int64_t ms, const char *from_addr)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char date[64], rnd[33];
	const char *domain = strrchr(from_addr, '@');

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sp_random_hex(rnd, 16);
	sp_buf_addf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, rnd,
	            domain && domain[1] ? domain + 1 : "localhost");
}

int sp_mail_compose(const sp_mail_msg *m, sp_buf *out)
{
	char to[256], from[256], boundary[48];

	if (sp_mail_address(m->to_addr, to, sizeof to) != 0 ||
	    sp_mail_address(m->from, from, sizeof from) != 0 || strchr(m->to_addr, '<') != NULL)
		return -1;
	if (add_from(out, m->from) != 0)
		return -1;
	sp_buf_adds(out, "To: ");
	if (m->to_name && *m->to_name) {
		sp_mail_header_text(out, m->to_name, 1);
		sp_buf_add(out, " ", 1);
	}
	sp_buf_addf(out, "<%s>\r\nSubject: ", to);
	sp_mail_header_text(out, m->subject, 0);
	sp_buf_adds(out, "\r\n");
	add_date_and_id(out, m->date_ms, from);
	memcpy(boundary, "=_sp_", 5);
	sp_random_hex(boundary + 5, 16);
	sp_buf_addf(out,
	            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
	            "boundary=\"%s\"\r\n\r\n",
	            boundary);
	add_part(out, boundary, "text/plain", m->text);
	add_part(out, boundary, "text/html", m->html);
	sp_buf_addf(out, "--%s--\r\n", boundary);
	return 0;
}
