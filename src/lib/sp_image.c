/*
 * Uploaded images: a PNG or JPEG is decoded in full by libpng / libjpeg and
 * written out afresh, so only its pixels survive (no metadata, no trailing bytes).
 */
#include "sp_image.h"
#include "sp_util.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* Quality of the stored JPEG: close to the upload, not much larger. */
#define JPEG_QUALITY 90
/* A progressive JPEG with more scans than this is refused (each scan costs a full pass). */
#define JPEG_MAX_SCANS 100
/* What libjpeg may allocate for its own buffers (progressive coefficients), over our pixels. */
#define JPEG_MAX_MEMORY (128L * 1024 * 1024)
/* The largest ancillary chunk libpng will hold; we keep none of them anyway. */
#define PNG_MAX_CHUNK (256L * 1024)

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};

/* Decoded pixels: rows of width * channels 8-bit samples, one block. */
typedef struct pixels {
	unsigned width, height, channels;
	unsigned char *data;
	unsigned char **rows;
} pixels;

static int size_allowed(unsigned long w, unsigned long h)
{
	return w > 0 && h > 0 && w <= SP_IMAGE_MAX_SIDE && h <= SP_IMAGE_MAX_SIDE &&
	       w * h <= SP_IMAGE_MAX_PIXELS;
}

/* Allocates the pixel block for a size already checked by size_allowed; -1 if out of memory. */
static int pixels_alloc(pixels *px, unsigned w, unsigned h, unsigned channels)
{
	size_t stride = (size_t)w * channels;

	px->width = w;
	px->height = h;
	px->channels = channels;
	px->data = malloc(stride * h);
	px->rows = malloc(sizeof *px->rows * h);
	if (px->data == NULL || px->rows == NULL)
		return -1;
	for (unsigned y = 0; y < h; y++)
		px->rows[y] = px->data + stride * y;
	return 0;
}

static void pixels_free(pixels *px)
{
	free(px->data);
	free(px->rows);
	memset(px, 0, sizeof *px);
}

/* ---------------------------------------------------------------- PNG */

/*
 * libpng reports errors through png_error, which must not return: ours
 * jumps back to the setjmp in png_decode / png_encode. Warnings (a bad
 * ancillary chunk, which is dropped anyway) are not worth a log line.
 */
static void png_on_error(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

typedef struct png_src {
	const unsigned char *p;
	size_t len, off;
} png_src;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
	png_src *src = png_get_io_ptr(png);

	if (n > src->len - src->off)
		png_error(png, "truncated");
	memcpy(out, src->p + src->off, n);
	src->off += n;
}

static void png_write_mem(png_structp png, png_bytep p, size_t n)
{
	sp_buf_add(png_get_io_ptr(png), p, n);
}

static void png_flush_mem(png_structp png)
{
	(void)png;
}

/* The size in the IHDR, which the format puts first, right after the signature. */
static int png_declared_size(const unsigned char *p, size_t len, unsigned long *w, unsigned long *h)
{
	if (len < 24 || memcmp(p + 12, "IHDR", 4) != 0)
		return -1;
	*w = (unsigned long)p[16] << 24 | (unsigned long)p[17] << 16 | p[18] << 8 | p[19];
	*h = (unsigned long)p[20] << 24 | (unsigned long)p[21] << 16 | p[22] << 8 | p[23];
	return 0;
}

/* Everything png_decode does between its setjmp and the end; png_error jumps out. */
static enum sp_image_result png_decode_steps(png_structp png, png_infop info, pixels *px)
{
	png_uint_32 w, h;

	/* only IHDR, PLTE, tRNS, IDAT and IEND are read; every other chunk is skipped unparsed */
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	png_set_user_limits(png, SP_IMAGE_MAX_SIDE, SP_IMAGE_MAX_SIDE);
	png_set_chunk_malloc_max(png, PNG_MAX_CHUNK);
	png_read_info(png, info);
	w = png_get_image_width(png, info);
	h = png_get_image_height(png, info);
	if (!size_allowed(w, h))
		return SP_IMAGE_TOO_BIG;
	/* to 8-bit gray, gray+alpha, RGB or RGBA: palettes and tRNS expanded, 16 bits scaled */
	png_set_expand(png);
	png_set_scale_16(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_bit_depth(png, info) != 8 ||
	    png_get_rowbytes(png, info) != (size_t)w * png_get_channels(png, info))
		return SP_IMAGE_MALFORMED;
	if (pixels_alloc(px, w, h, png_get_channels(png, info)) != 0)
		return SP_IMAGE_NO_MEMORY;
	png_read_image(png, px->rows);
	/* the chunks after the pixels, up to IEND, with their checksums */
	png_read_end(png, NULL);
	return SP_IMAGE_OK;
}

static enum sp_image_result png_decode(const unsigned char *data, size_t len, pixels *px)
{
	png_src src = {data, len, 0};
	png_structp png;
	png_infop info;
	enum sp_image_result rc;
	unsigned long w, h;

	if (png_declared_size(data, len, &w, &h) == 0 && !size_allowed(w, h))
		return SP_IMAGE_TOO_BIG;
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error, png_on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (info == NULL) {
		png_destroy_read_struct(&png, NULL, NULL);
		return SP_IMAGE_NO_MEMORY;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		pixels_free(px);
		return SP_IMAGE_MALFORMED;
	}
	png_set_read_fn(png, &src, png_read_mem);
	rc = png_decode_steps(png, info, px);
	png_destroy_read_struct(&png, &info, NULL);
	if (rc != SP_IMAGE_OK)
		pixels_free(px);
	return rc;
}

static int png_encode(const pixels *px, sp_buf *out)
{
	static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
	                            PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
	png_structp png;
	png_infop info;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error, png_on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (info == NULL) {
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	png_set_write_fn(png, out, png_write_mem, png_flush_mem);
	png_set_IHDR(png, info, px->width, px->height, 8, types[px->channels], PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	png_write_image(png, px->rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

/* ---------------------------------------------------------------- JPEG */

/*
 * libjpeg's error manager: error_exit must not return, so it jumps back to
 * the setjmp in jpeg_decode / jpeg_encode. A warning means corrupt or missing
 * data that libjpeg would paper over (grey blocks): for an upload it is an error.
 */
typedef struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
} jpeg_fail;

static void jpeg_on_error(j_common_ptr cinfo)
{
	longjmp(((jpeg_fail *)cinfo->err)->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
	if (level < 0)
		longjmp(((jpeg_fail *)cinfo->err)->jmp, 1);
}

static void jpeg_quiet(j_common_ptr cinfo)
{
	(void)cinfo;
}

/* Called between input passes: stops a progressive file made of endless scans. */
static void jpeg_on_progress(j_common_ptr cinfo)
{
	if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS)
		longjmp(((jpeg_fail *)cinfo->err)->jmp, 1);
}

static void jpeg_errors(jpeg_fail *fail)
{
	jpeg_std_error(&fail->mgr);
	fail->mgr.error_exit = jpeg_on_error;
	fail->mgr.emit_message = jpeg_on_message;
	fail->mgr.output_message = jpeg_quiet;
}

/* Everything jpeg_decode does between its setjmp and the end; errors jump out. */
static enum sp_image_result jpeg_decode_steps(j_decompress_ptr d, const unsigned char *data,
                                              size_t len, pixels *px)
{
	d->mem->max_memory_to_use = JPEG_MAX_MEMORY;
	jpeg_mem_src(d, data, (unsigned long)len);
	/* the header alone: the size is known before anything is decoded */
	jpeg_read_header(d, TRUE);
	if (!size_allowed(d->image_width, d->image_height))
		return SP_IMAGE_TOO_BIG;
	d->out_color_space = d->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(d);
	if (d->output_width != d->image_width || d->output_height != d->image_height ||
	    (d->output_components != 1 && d->output_components != 3))
		return SP_IMAGE_MALFORMED;
	if (pixels_alloc(px, d->output_width, d->output_height, d->output_components) != 0)
		return SP_IMAGE_NO_MEMORY;
	while (d->output_scanline < d->output_height)
		if (jpeg_read_scanlines(d, &px->rows[d->output_scanline], 1) != 1)
			return SP_IMAGE_MALFORMED;
	/* reads on to the end-of-image marker */
	jpeg_finish_decompress(d);
	return SP_IMAGE_OK;
}

static enum sp_image_result jpeg_decode(const unsigned char *data, size_t len, pixels *px)
{
	struct jpeg_decompress_struct d;
	struct jpeg_progress_mgr progress = {.progress_monitor = jpeg_on_progress};
	jpeg_fail fail;
	enum sp_image_result rc;

	jpeg_errors(&fail);
	d.err = &fail.mgr;
	if (setjmp(fail.jmp)) {
		jpeg_destroy_decompress(&d);
		pixels_free(px);
		return SP_IMAGE_MALFORMED;
	}
	jpeg_create_decompress(&d);
	d.progress = &progress;
	rc = jpeg_decode_steps(&d, data, len, px);
	jpeg_destroy_decompress(&d);
	if (rc != SP_IMAGE_OK)
		pixels_free(px);
	return rc;
}

/* A libjpeg destination appending to an sp_buf through a small staging block. */
typedef struct jpeg_dest {
	struct jpeg_destination_mgr pub;
	sp_buf *out;
	JOCTET block[16384];
} jpeg_dest;

static void jpeg_dest_init(j_compress_ptr c)
{
	jpeg_dest *dst = (jpeg_dest *)c->dest;

	dst->pub.next_output_byte = dst->block;
	dst->pub.free_in_buffer = sizeof dst->block;
}

static boolean jpeg_dest_empty(j_compress_ptr c)
{
	jpeg_dest *dst = (jpeg_dest *)c->dest;

	/* called when the block is full, whatever free_in_buffer says */
	sp_buf_add(dst->out, dst->block, sizeof dst->block);
	jpeg_dest_init(c);
	return TRUE;
}

static void jpeg_dest_term(j_compress_ptr c)
{
	jpeg_dest *dst = (jpeg_dest *)c->dest;

	sp_buf_add(dst->out, dst->block, sizeof dst->block - dst->pub.free_in_buffer);
}

static int jpeg_encode(const pixels *px, sp_buf *out)
{
	struct jpeg_compress_struct c;
	jpeg_dest *dst = sp_xcalloc(1, sizeof *dst);
	jpeg_fail fail;

	dst->pub.init_destination = jpeg_dest_init;
	dst->pub.empty_output_buffer = jpeg_dest_empty;
	dst->pub.term_destination = jpeg_dest_term;
	dst->out = out;
	jpeg_errors(&fail);
	c.err = &fail.mgr;
	if (setjmp(fail.jmp)) {
		jpeg_destroy_compress(&c);
		free(dst);
		return -1;
	}
	jpeg_create_compress(&c);
	c.dest = &dst->pub;
	c.image_width = px->width;
	c.image_height = px->height;
	c.input_components = (int)px->channels;
	c.in_color_space = px->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, JPEG_QUALITY, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height)
		jpeg_write_scanlines(&c, &px->rows[c.next_scanline], 1);
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(dst);
	return 0;
}

/* ---------------------------------------------------------------- API */

enum sp_image_result sp_image_reencode(const void *data, size_t len, sp_image *out)
{
	const unsigned char *p = data;
	enum sp_image_result rc;
	pixels px = {0};
	sp_buf buf;
	int enc;

	memset(out, 0, sizeof *out);
	/* the signature picks the decoder, never the file name or the declared type */
	if (len >= sizeof png_sig && memcmp(p, png_sig, sizeof png_sig) == 0) {
		out->type = SP_IMAGE_PNG;
		rc = png_decode(p, len, &px);
	} else if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
		out->type = SP_IMAGE_JPEG;
		rc = jpeg_decode(p, len, &px);
	} else {
		return SP_IMAGE_NOT_IMAGE;
	}
	if (rc != SP_IMAGE_OK) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	sp_buf_init(&buf);
	enc = out->type == SP_IMAGE_PNG ? png_encode(&px, &buf) : jpeg_encode(&px, &buf);
	if (enc != 0) {
		/* our own pixels did not encode: only an allocation inside the library can fail */
		sp_buf_free(&buf);
		pixels_free(&px);
		memset(out, 0, sizeof *out);
		return SP_IMAGE_NO_MEMORY;
	}
	out->width = px.width;
	out->height = px.height;
	out->data = (unsigned char *)buf.data;
	out->len = buf.len;
	pixels_free(&px);
	return SP_IMAGE_OK;
}

void sp_image_free(sp_image *img)
{
	free(img->data);
	memset(img, 0, sizeof *img);
}

const char *sp_image_ext(enum sp_image_type type)
{
	return type == SP_IMAGE_PNG ? "png" : "jpg";
}

const char *sp_image_problem(enum sp_image_result rc)
{
	switch (rc) {
	case SP_IMAGE_NOT_IMAGE:
		return "must be a JPEG or PNG image";
	case SP_IMAGE_TOO_BIG:
		return "must be at most 4096 pixels wide and high and 12 megapixels (4096x3072)";
	case SP_IMAGE_NO_MEMORY:
		return "could not be decoded for lack of memory";
	default:
		return "must be a complete, well-formed JPEG or PNG image (8-bit grayscale or "
		       "color)";
	}
}
