/*
 * Test images made with libpng and libjpeg directly (independent of
 * sp_image): valid pictures, declared-size bombs, and byte-level helpers.
 */
#ifndef TEST_IMAGES_H
#define TEST_IMAGES_H

#include <stddef.h>

typedef struct ti_blob {
	unsigned char *data;
	size_t len;
} ti_blob;

enum ti_fill {
	TI_GRADIENT, /* smooth, compresses well */
	TI_NOISE,    /* pseudo-random, does not compress */
	TI_BLACK,    /* all zero: the cheapest pixels to declare in quantity */
};

/* A PNG of w x h: channels 1-4 with 8-bit samples, or 1-bit gray when bits is 1;
 * text, when not NULL, is stored in a tEXt chunk. 0 ok. */
int ti_png(ti_blob *out, unsigned w, unsigned h, int channels, int bits, enum ti_fill fill,
           const char *text);
/* A JPEG of w x h, 1 (gray) or 3 (RGB) channels; comment, when not NULL, in a COM
 * marker; progressive when asked. 0 ok. */
int ti_jpeg(ti_blob *out, unsigned w, unsigned h, int channels, enum ti_fill fill,
            const char *comment, int progressive);
/* Rewrites the size a JPEG declares in its frame header (JPEG has no checksum). 0 ok. */
int ti_jpeg_declare_size(ti_blob *b, unsigned w, unsigned h);
void ti_append(ti_blob *b, const void *p, size_t n);
void ti_free(ti_blob *b);
/* A PNG's pixels as 8-bit RGBA (malloc'd, 4 * w * h bytes), NULL when it does not decode. */
unsigned char *ti_png_rgba(const void *data, size_t len, unsigned *w, unsigned *h);
/* 1 when needle occurs in the bytes. */
int ti_contains(const void *data, size_t len, const char *needle);

#endif
