/*
 * sp-admin gen-media, artwork: the demo catalogue names its posters and
 * banners as SVG files under /catalogue/ in the web root. Each missing one
 * is drawn here (a gradient whose hues come from the title, a large initial
 * and the title itself), so the web client shows real artwork without any
 * image in the repository. Files that exist are left alone, and URLs
 * outside /catalogue/, or not ending in .svg, are not touched.
 */
#include "gen_media.h"
#include "sp_db.h"
#include "sp_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int alnum(char c)
{
	return isalnum((unsigned char)c) && (unsigned char)c < 0x80;
}

/* a safe path under /catalogue/: [A-Za-z0-9_/-.] only, no "..", ends .svg */
static int artwork_path(const char *url)
{
	size_t n;

	if (url == NULL || strncmp(url, "/catalogue/", 11) != 0 || strstr(url, "..") != NULL)
		return 0;
	n = strlen(url);
	if (n < 16 || n > 200 || strcmp(url + n - 4, ".svg") != 0)
		return 0;
	for (const char *p = url; *p; p++)
		if (!(alnum(*p) || *p == '/' || *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* the title's first letter that starts a word other than an article */
static char initial(const char *title)
{
	const char *w = title;

	if (strncmp(w, "The ", 4) == 0)
		w += 4;
	else if (strncmp(w, "A ", 2) == 0)
		w += 2;
	else if (strncmp(w, "An ", 3) == 0)
		w += 3;
	return alnum(*w) ? *w : '?';
}

static unsigned hue_of(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* w x h; banner: wider, title larger */
static int draw(const char *path, const char *title, const char *type, int w, int h)
{
	unsigned hash = hue_of(title);
	unsigned h1 = hash % 360, h2 = (h1 + 40 + (hash >> 9) % 80) % 360;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
	        w, h, w, h);
	put_escaped(f, title);
	fprintf(f,
	        "\"><defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">"
	        "<stop offset=\"0\" stop-color=\"hsl(%u,55%%,32%%)\"/>"
	        "<stop offset=\"1\" stop-color=\"hsl(%u,60%%,14%%)\"/></linearGradient></defs>"
	        "<rect width=\"%d\" height=\"%d\" fill=\"url(#g)\"/>",
	        h1, h2, w, h);
	fprintf(f,
	        "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-weight=\"700\" "
	        "font-size=\"%d\" fill=\"#fff\" fill-opacity=\"0.14\">%c</text>",
	        w - h * 3 / 4, h * 9 / 10, h, initial(title));
	fprintf(f,
	        "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"%d\" "
	        "fill=\"#fff\" fill-opacity=\"0.7\" letter-spacing=\"2\">",
	        h / 12, h - h / 5 - h / 8, h / 14);
	put_escaped(f, type);
	/* a title wider than the picture (about 0.62 em a letter) is squeezed in */
	int fs = h / 9, room = w - h / 6;
	fprintf(f,
	        "</text><text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-weight=\"700\" "
	        "font-size=\"%d\" fill=\"#fff\"",
	        h / 12, h - h / 5, fs);
	if ((double)strlen(title) * 0.62 * fs > room)
		fprintf(f, " textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\"", room);
	fputc('>', f);
	put_escaped(f, title);
	fputs("</text></svg>\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

/* mkdir -p for the directories of path (which lies under an existing root) */
static int make_parents(char *path, size_t root_len)
{
	for (char *p = path + root_len + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static int one(const char *root, const char *url, const char *title, const char *type, int banner)
{
	char path[1400];
	int n;

	if (!artwork_path(url))
		return 0;
	n = snprintf(path, sizeof path, "%s%s", root, url);
	if (n < 0 || (size_t)n >= sizeof path)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	if (make_parents(path, strlen(root)) != 0)
		return -1;
	return draw(path, title, type, banner ? 1280 : 480, banner ? 400 : 270) == 0 ? 1 : -1;
}

int gen_artwork(const char *root)
{
	sp_res res;
	int made = 0;

	if (sp_db_query(&res, "SELECT title, type, thumbnail_url, banner_url FROM content", "") !=
	    0) {
		fprintf(stderr, "gen-media: cannot read the catalogue\n");
		return 1;
	}
	for (size_t i = 0; i < res.nrows; i++) {
		const char *title = sp_res_str(&res, i, 0), *type = sp_res_str(&res, i, 1);
		int a = one(root, sp_res_str(&res, i, 2), title ? title : "", type ? type : "", 0);
		int b = one(root, sp_res_str(&res, i, 3), title ? title : "", type ? type : "", 1);
		if (a < 0 || b < 0) {
			sp_res_free(&res);
			fprintf(stderr, "gen-media: cannot write artwork under %s\n", root);
			return 1;
		}
		made += a + b;
	}
	sp_res_free(&res);
	printf("gen-media: %d artwork files drawn under %s/catalogue\n", made, root);
	return 0;
}
