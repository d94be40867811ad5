/* Mail without the network: templates escape values, headers cannot be broken by them. */
#include "unit.h"
#include "sp_mail.h"

#include <stdlib.h>
#include <string.h>

/* Renders tpl with name and plan set; the output (malloc'd), or NULL on an error. */
static char *render(const char *tpl, enum sp_mail_escape esc, const char *name, const char *plan)
{
	sp_mail_vars vs = {.n = 0};
	char err[128];
	sp_buf out;
	char *s = NULL;

	sp_buf_init(&out);
	sp_mail_var(&vs, "name", name);
	sp_mail_var(&vs, "plan", plan);
	if (sp_mail_render(tpl, &vs, esc, &out, err, sizeof err) == 0)
		s = strdup(out.data ? out.data : "");
	sp_buf_free(&out);
	sp_mail_vars_free(&vs);
	return s;
}

static void test_render_fills_and_escapes_values(void)
{
	char *t = render("Hi {{name}}!", SP_MAIL_TEXT, "A\r\nBcc: x", "");
	char *h = render("<p>{{name}}</p>", SP_MAIL_HTML, "<b>\"O'Hara\" & co</b>", "");

	CU_ASSERT_STRING_EQUAL(t, "Hi A  Bcc: x!");
	CU_ASSERT_STRING_EQUAL(h, "<p>&lt;b&gt;&quot;O&#39;Hara&quot; &amp; co&lt;/b&gt;</p>");
	free(t);
	free(h);
}

static void test_render_sections_follow_emptiness(void)
{
	const char *tpl = "{{#plan}}on {{plan}}{{/plan}}{{^plan}}no plan{{/plan}}.";
	char *a = render(tpl, SP_MAIL_TEXT, "x", "Basic"), *b = render(tpl, SP_MAIL_TEXT, "x", "");

	CU_ASSERT_STRING_EQUAL(a, "on Basic.");
	CU_ASSERT_STRING_EQUAL(b, "no plan.");
	free(a);
	free(b);
}

static void test_render_refuses_unknown_placeholders_and_open_sections(void)
{
	CU_ASSERT_PTR_NULL(render("{{nmae}}", SP_MAIL_TEXT, "x", ""));
	CU_ASSERT_PTR_NULL(render("{{#plan}} never closed", SP_MAIL_TEXT, "x", "y"));
	CU_ASSERT_PTR_NULL(render("{{/plan}}", SP_MAIL_TEXT, "x", "y"));
	CU_ASSERT_PTR_NULL(render("{{name", SP_MAIL_TEXT, "x", "y"));
}

static void test_subject_line_is_split_from_the_body(void)
{
	char subject[64];
	const char *body = NULL;

	CU_ASSERT_EQUAL(
	    sp_mail_split_subject("Subject: Hello\n\nBody\n", subject, sizeof subject, &body), 0);
	CU_ASSERT_STRING_EQUAL(subject, "Hello");
	CU_ASSERT_STRING_EQUAL(body, "Body\n");
	CU_ASSERT_EQUAL(sp_mail_split_subject("Hello\n\nBody", subject, sizeof subject, &body), -1);
}

static char *header(const char *s, int phrase)
{
	sp_buf b;
	char *out;

	sp_buf_init(&b);
	sp_mail_header_text(&b, s, phrase);
	out = strdup(b.data ? b.data : "");
	sp_buf_free(&b);
	return out;
}

static void test_header_text_is_plain_or_rfc2047(void)
{
	char *plain = header("Your plan", 0), *inj = header("a\r\nBcc: x@y", 0);
	char *utf8 = header("Zo\xc3\xab", 1), *quoted = header("Doe, John", 1);

	CU_ASSERT_STRING_EQUAL(plain, "Your plan");
	CU_ASSERT_STRING_EQUAL(inj, "a  Bcc: x@y"); /* one line: no new header */
	CU_ASSERT_STRING_EQUAL(utf8, "=?UTF-8?B?Wm/Dqw==?=");
	CU_ASSERT_STRING_EQUAL(quoted, "=?UTF-8?B?RG9lLCBKb2hu?="); /* a comma would split To: */
	free(plain);
	free(inj);
	free(utf8);
	free(quoted);
}

static void test_long_header_text_folds_into_short_encoded_words(void)
{
	char name[301], *h;
	const char *line;

	for (int i = 0; i < 100; i++)
		memcpy(name + 3 * i, "\xc3\xab\x21", 3); /* "ë!" a hundred times */
	name[300] = '\0';
	h = header(name, 0);
	line = h;
	while (line) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		CU_ASSERT(len <= 76);
		line = eol ? eol + 2 : NULL;
		if (line)
			CU_ASSERT_EQUAL(*line, ' '); /* a continuation line */
	}
	free(h);
}

static void test_address_is_taken_from_a_mailbox(void)
{
	char a[64];

	CU_ASSERT_EQUAL(sp_mail_address("Streaming <no-reply@example.com>", a, sizeof a), 0);
	CU_ASSERT_STRING_EQUAL(a, "no-reply@example.com");
	CU_ASSERT_EQUAL(sp_mail_address("x@example.com", a, sizeof a), 0);
	CU_ASSERT_EQUAL(sp_mail_address("x@example.com>\r\nBcc: y@z", a, sizeof a), -1);
	CU_ASSERT_EQUAL(sp_mail_address("no address", a, sizeof a), -1);
}

static void test_compose_writes_the_headers_and_both_parts(void)
{
	sp_mail_msg m = {"Streaming <no-reply@example.com>",
	                 "Eve\r\nBcc: v@example.com",
	                 "eve@example.com",
	                 "Hi \xc3\xab",
	                 "text",
	                 "<p>html</p>",
	                 0};
	sp_buf b;

	sp_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sp_mail_compose(&m, &b), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "From: Streaming <no-reply@example.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\r\nTo: =?UTF-8?B?"));
	CU_ASSERT_PTR_NULL(strstr(b.data, "\r\nBcc:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\r\nSubject: =?UTF-8?B?SGkgw6s=?=\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\r\nMessage-ID: <"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "@example.com>\r\nMIME-Version: 1.0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "Content-Type: multipart/alternative; boundary="));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "Content-Type: text/plain; charset=UTF-8\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "dGV4dA==\r\n")); /* "text" */
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "Content-Type: text/html; charset=UTF-8\r\n"));
	sp_buf_free(&b);
	m.to_addr = "eve@example.com>\r\nBcc: v@example.com";
	sp_buf_init(&b);
	CU_ASSERT_EQUAL(sp_mail_compose(&m, &b), -1);
	sp_buf_free(&b);
}

void suite_mail(void)
{
	CU_pSuite s = CU_add_suite("mail", NULL, NULL);

	ADD_TEST(s, test_render_fills_and_escapes_values);
	ADD_TEST(s, test_render_sections_follow_emptiness);
	ADD_TEST(s, test_render_refuses_unknown_placeholders_and_open_sections);
	ADD_TEST(s, test_subject_line_is_split_from_the_body);
	ADD_TEST(s, test_header_text_is_plain_or_rfc2047);
	ADD_TEST(s, test_long_header_text_folds_into_short_encoded_words);
	ADD_TEST(s, test_address_is_taken_from_a_mailbox);
	ADD_TEST(s, test_compose_writes_the_headers_and_both_parts);
}
