/*
 * Test images made with libpng and libjpeg directly (independent of
 * sp_image): valid pictures, declared-size bombs, and byte-level helpers.
 */
#include "test_images.h"

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

void ti_append(ti_blob *b, const void *p, size_t n)
{
	unsigned char *nd = realloc(b->data, b->len + n + 1);

	if (nd == NULL)
		abort();
	b->data = nd;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void ti_free(ti_blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

int ti_contains(const void *data, size_t len, const char *needle)
{
	return memmem(data, len, needle, strlen(needle)) != NULL;
}

static void fill_row(unsigned char *row, size_t n, unsigned y, enum ti_fill fill, uint32_t *rnd)
{
	for (size_t i = 0; i < n; i++) {
		if (fill == TI_BLACK) {
			row[i] = 0;
		} else if (fill == TI_NOISE) {
			*rnd ^= *rnd << 13;
			*rnd ^= *rnd >> 17;
			*rnd ^= *rnd << 5;
			row[i] = (unsigned char)*rnd;
		} else {
			row[i] = (unsigned char)(i * 3 + y * 5);
		}
	}
}

static void png_out(png_structp png, png_bytep p, size_t n)
{
	ti_append(png_get_io_ptr(png), p, n);
}

static void png_nop(png_structp png)
{
	(void)png;
}

static const int png_types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};

int ti_png(ti_blob *out, unsigned w, unsigned h, int channels, int bits, enum ti_fill fill,
           const char *text)
{
	size_t rowbytes = bits == 1 ? (w + 7) / 8 : (size_t)w * (size_t)channels;
	unsigned char *row = malloc(rowbytes);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	uint32_t rnd = 2463534242u;

	memset(out, 0, sizeof *out);
	if (row == NULL || info == NULL || channels < 1 || channels > 4) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		ti_free(out);
		return -1;
	}
	png_set_write_fn(png, out, png_out, png_nop);
	png_set_IHDR(png, info, w, h, bits, png_types[channels], PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (text) {
		png_text t;
		memset(&t, 0, sizeof t);
		t.compression = PNG_TEXT_COMPRESSION_NONE;
		t.key = "Comment";
		t.text = (char *)text;
		png_set_text(png, info, &t, 1);
	}
	png_write_info(png, info);
	for (unsigned y = 0; y < h; y++) {
		fill_row(row, rowbytes, y, fill, &rnd);
		png_write_row(png, row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	return 0;
}

int ti_jpeg(ti_blob *out, unsigned w, unsigned h, int channels, enum ti_fill fill,
            const char *comment, int progressive)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char *buf = NULL, *row = malloc((size_t)w * (size_t)channels);
	unsigned long size = 0;
	uint32_t rnd = 88172645u;

	memset(out, 0, sizeof *out);
	if (row == NULL || (channels != 1 && channels != 3)) {
		free(row);
		return -1;
	}
	/* the default error handler exits: test images are always well formed */
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &buf, &size);
	c.image_width = w;
	c.image_height = h;
	c.input_components = channels;
	c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	if (comment)
		jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)comment, (unsigned)strlen(comment));
	while (c.next_scanline < h) {
		JSAMPROW rows[1] = {row};
		fill_row(row, (size_t)w * (size_t)channels, c.next_scanline, fill, &rnd);
		jpeg_write_scanlines(&c, rows, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	ti_append(out, buf, size);
	free(buf);
	free(row);
	return 0;
}

int ti_jpeg_declare_size(ti_blob *b, unsigned w, unsigned h)
{
	/* markers from SOI on: FF xx, then a 2-byte length, until a frame header SOFn */
	for (size_t i = 2; i + 9 < b->len;) {
		unsigned char m = b->data[i + 1];
		size_t seg = ((size_t)b->data[i + 2] << 8) | b->data[i + 3];
		if (b->data[i] != 0xff)
			return -1;
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
			b->data[i + 5] = (unsigned char)(h >> 8);
			b->data[i + 6] = (unsigned char)h;
			b->data[i + 7] = (unsigned char)(w >> 8);
			b->data[i + 8] = (unsigned char)w;
			return 0;
		}
		i += 2 + seg;
	}
	return -1;
}

unsigned char *ti_png_rgba(const void *data, size_t len, unsigned *w, unsigned *h)
{
	png_image img;
	unsigned char *px;

	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		return NULL;
	img.format = PNG_FORMAT_RGBA;
	px = malloc(PNG_IMAGE_SIZE(img));
	if (px == NULL || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
		png_image_free(&img);
		free(px);
		return NULL;
	}
	*w = img.width;
	*h = img.height;
	return px;
}
