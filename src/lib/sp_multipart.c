/*
 * multipart/form-data parsing over a body already read into memory (and so
 * already bounded): finds one named part without copying it.
 */
#include "sp_multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *memmem_s(const char *h, size_t hl, const char *n, size_t nl)
{
	return memmem(h, hl, n, nl);
}

/* Extracts a parameter (boundary=, name=, filename=) from a header value. */
static int header_param(const char *v, size_t vlen, const char *param, char *out, size_t outsz)
{
	size_t pl = strlen(param);

	for (size_t i = 0; i + pl < vlen; i++) {
		if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    strncasecmp(v + i, param, pl) == 0 && v[i + pl] == '=') {
			const char *p = v + i + pl + 1, *end = v + vlen;
			size_t j = 0;
			if (p < end && *p == '"') {
				p++;
				while (p < end && *p != '"' && j + 1 < outsz)
					out[j++] = *p++;
				if (p >= end || *p != '"')
					return -1;
			} else {
				while (p < end && *p != ';' && *p != ' ' && *p != '\r' &&
				       j + 1 < outsz)
					out[j++] = *p++;
			}
			out[j] = '\0';
			return j > 0 ? 0 : -1;
		}
	}
	return -1;
}

enum sp_mp_result sp_multipart_find(const char *content_type, const char *body, size_t len,
                                    const char *name, sp_part *out)
{
	char boundary[80], delim[84];
	size_t dl;
	const char *p, *end = body + len;

	memset(out, 0, sizeof *out);
	if (content_type == NULL || strncasecmp(content_type, "multipart/form-data", 19) != 0)
		return SP_MP_NOT_MULTIPART;
	if (header_param(content_type, strlen(content_type), "boundary", boundary,
	                 sizeof boundary) != 0 ||
	    strlen(boundary) > 70)
		return SP_MP_NO_BOUNDARY;
	dl = (size_t)snprintf(delim, sizeof delim, "--%s", boundary);

	/* the first delimiter may be preceded by a preamble */
	p = memmem_s(body, len, delim, dl);
	if (p == NULL)
		return SP_MP_MALFORMED;
	for (;;) {
		const char *hdr_end, *next, *h;
		char pname[128] = "";
		int is_named = 0;

		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return SP_MP_NO_PART; /* closing delimiter: no such part */
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return SP_MP_MALFORMED;
		p += 2;
		hdr_end = memmem_s(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (hdr_end == NULL || hdr_end - p > 8192)
			return SP_MP_MALFORMED;
		/* the part's body runs to the next CRLF + delimiter */
		{
			char cd[90];
			size_t cl = (size_t)snprintf(cd, sizeof cd, "\r\n%s", delim);
			next = memmem_s(hdr_end + 4, (size_t)(end - hdr_end - 4), cd, cl);
			if (next == NULL)
				return SP_MP_MALFORMED; /* truncated */
		}
		for (h = p; h < hdr_end;) {
			const char *eol = memmem_s(h, (size_t)(hdr_end - h), "\r\n", 2);
			size_t hl = eol ? (size_t)(eol - h) : (size_t)(hdr_end - h);
			if (hl > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0) {
				if (header_param(h + 20, hl - 20, "name", pname, sizeof pname) ==
				        0 &&
				    strcmp(pname, name) == 0)
					is_named = 1;
				header_param(h + 20, hl - 20, "filename", out->filename,
				             sizeof out->filename);
			} else if (hl > 13 && strncasecmp(h, "Content-Type:", 13) == 0) {
				const char *v = h + 13;
				while (*v == ' ' && v < h + hl)
					v++;
				snprintf(out->content_type, sizeof out->content_type, "%.*s",
				         (int)(h + hl - v), v);
			}
			h += hl + 2;
		}
		if (is_named) {
			out->data = hdr_end + 4;
			out->len = (size_t)(next - out->data);
			return SP_MP_OK;
		}
		memset(out, 0, sizeof *out);
		p = next + 2; /* at the delimiter */
	}
}
