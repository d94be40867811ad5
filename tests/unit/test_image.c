/*
 * Uploaded images: only whole, well-formed PNGs and JPEGs within the size
 * bounds come out, re-encoded, with nothing of the upload but its pixels.
 */
#include "unit.h"
#include "sp_image.h"
#include "test_images.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char png_iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
static const char html[] = "<html><script>alert(document.cookie)</script></html>";

/* 1 when the bytes end exactly where a PNG (IEND) or JPEG (EOI) ends. */
static int ends_cleanly(const sp_image *img)
{
	if (img->type == SP_IMAGE_PNG)
		return img->len > sizeof png_iend && memcmp(img->data + img->len - sizeof png_iend,
		                                            png_iend, sizeof png_iend) == 0;
	return img->len > 4 && img->data[img->len - 2] == 0xff && img->data[img->len - 1] == 0xd9;
}

static enum sp_image_result reencode_blob(const ti_blob *b, sp_image *out)
{
	return sp_image_reencode(b->data, b->len, out);
}

static void test_png_keeps_its_pixels_and_comes_out_as_png(void)
{
	for (int channels = 1; channels <= 4; channels++) {
		ti_blob in;
		sp_image out;
		unsigned char *a, *b;
		unsigned aw = 0, ah = 0, bw = 0, bh = 0;

		CU_ASSERT_EQUAL_FATAL(ti_png(&in, 7, 5, channels, 8, TI_GRADIENT, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(reencode_blob(&in, &out), SP_IMAGE_OK);
		CU_ASSERT_EQUAL(out.type, SP_IMAGE_PNG);
		CU_ASSERT_STRING_EQUAL(sp_image_ext(out.type), "png");
		CU_ASSERT(out.width == 7 && out.height == 5);
		a = ti_png_rgba(in.data, in.len, &aw, &ah);
		b = ti_png_rgba(out.data, out.len, &bw, &bh);
		CU_ASSERT_FATAL(a != NULL && b != NULL);
		CU_ASSERT(aw == bw && ah == bh);
		CU_ASSERT(memcmp(a, b, (size_t)aw * ah * 4) == 0);
		CU_ASSERT(ends_cleanly(&out));
		free(a);
		free(b);
		sp_image_free(&out);
		ti_free(&in);
	}
}

static void test_jpeg_is_decoded_and_comes_out_as_jpeg(void)
{
	const struct {
		int channels, progressive;
	} cases[] = {{3, 0}, {1, 0}, {3, 1}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ti_blob in;
		sp_image out, again;

		CU_ASSERT_EQUAL_FATAL(ti_jpeg(&in, 33, 17, cases[i].channels, TI_GRADIENT, NULL,
		                              cases[i].progressive),
		                      0);
		CU_ASSERT_EQUAL_FATAL(reencode_blob(&in, &out), SP_IMAGE_OK);
		CU_ASSERT_EQUAL(out.type, SP_IMAGE_JPEG);
		CU_ASSERT_STRING_EQUAL(sp_image_ext(out.type), "jpg");
		CU_ASSERT(out.width == 33 && out.height == 17);
		CU_ASSERT(ends_cleanly(&out));
		/* what is stored is itself a valid JPEG of the same size */
		CU_ASSERT_EQUAL_FATAL(sp_image_reencode(out.data, out.len, &again), SP_IMAGE_OK);
		CU_ASSERT(again.type == SP_IMAGE_JPEG && again.width == 33 && again.height == 17);
		sp_image_free(&again);
		sp_image_free(&out);
		ti_free(&in);
	}
}

static void test_signature_followed_by_junk_is_malformed(void)
{
	static const unsigned char png_junk[] = "\x89PNG\r\n\x1a\n<html><body>not a picture";
	static const unsigned char jpeg_junk[] = "\xff\xd8\xff\xe0<svg onload=alert(1)></svg>";
	sp_image out;

	CU_ASSERT_EQUAL(sp_image_reencode(png_junk, sizeof png_junk - 1, &out), SP_IMAGE_MALFORMED);
	CU_ASSERT_PTR_NULL(out.data);
	CU_ASSERT_EQUAL(sp_image_reencode(jpeg_junk, sizeof jpeg_junk - 1, &out),
	                SP_IMAGE_MALFORMED);
	CU_ASSERT_PTR_NULL(out.data);
	/* the bare signatures */
	CU_ASSERT_EQUAL(sp_image_reencode(png_junk, 8, &out), SP_IMAGE_MALFORMED);
	CU_ASSERT_EQUAL(sp_image_reencode(jpeg_junk, 3, &out), SP_IMAGE_MALFORMED);
}

static void test_truncated_image_is_malformed(void)
{
	ti_blob png, jpeg;
	sp_image out;

	CU_ASSERT_EQUAL_FATAL(ti_png(&png, 40, 30, 3, 8, TI_NOISE, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg(&jpeg, 40, 30, 3, TI_NOISE, NULL, 0), 0);
	/* cut inside the header, inside the pixel data, and just before the end marker */
	const size_t png_cuts[] = {20, 40, png.len / 2, png.len - sizeof png_iend};
	const size_t jpeg_cuts[] = {20, jpeg.len / 2, jpeg.len - 2};
	for (size_t i = 0; i < sizeof png_cuts / sizeof png_cuts[0]; i++) {
		CU_ASSERT_EQUAL(sp_image_reencode(png.data, png_cuts[i], &out), SP_IMAGE_MALFORMED);
		CU_ASSERT_PTR_NULL(out.data);
	}
	for (size_t i = 0; i < sizeof jpeg_cuts / sizeof jpeg_cuts[0]; i++) {
		CU_ASSERT_EQUAL(sp_image_reencode(jpeg.data, jpeg_cuts[i], &out),
		                SP_IMAGE_MALFORMED);
		CU_ASSERT_PTR_NULL(out.data);
	}
	ti_free(&png);
	ti_free(&jpeg);
}

static void test_corrupt_pixel_data_is_malformed(void)
{
	ti_blob png, jpeg;
	sp_image out;

	CU_ASSERT_EQUAL_FATAL(ti_png(&png, 40, 30, 3, 8, TI_NOISE, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg(&jpeg, 40, 30, 3, TI_NOISE, NULL, 0), 0);
	/* a flipped byte in the middle: the PNG's CRC fails, the JPEG's entropy data breaks */
	png.data[png.len / 2] ^= 0x55;
	memset(jpeg.data + jpeg.len / 2, 0xff, 8);
	CU_ASSERT_EQUAL(reencode_blob(&png, &out), SP_IMAGE_MALFORMED);
	CU_ASSERT_EQUAL(reencode_blob(&jpeg, &out), SP_IMAGE_MALFORMED);
	ti_free(&png);
	ti_free(&jpeg);
}

static void test_png_declaring_huge_dimensions_is_refused(void)
{
	ti_blob tall, wide, many;
	sp_image out;

	/* a few kilobytes each, which would decode to far more than the bounds allow */
	CU_ASSERT_EQUAL_FATAL(ti_png(&tall, 1, 100000, 1, 1, TI_BLACK, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ti_png(&wide, SP_IMAGE_MAX_SIDE + 1, 1, 1, 1, TI_BLACK, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(
	    ti_png(&many, SP_IMAGE_MAX_SIDE, SP_IMAGE_MAX_SIDE, 1, 1, TI_BLACK, NULL), 0);
	CU_ASSERT_EQUAL(reencode_blob(&tall, &out), SP_IMAGE_TOO_BIG);
	CU_ASSERT_EQUAL(reencode_blob(&wide, &out), SP_IMAGE_TOO_BIG);
	CU_ASSERT_EQUAL(reencode_blob(&many, &out), SP_IMAGE_TOO_BIG);
	CU_ASSERT_PTR_NULL(out.data);
	ti_free(&tall);
	ti_free(&wide);
	ti_free(&many);
}

static void test_jpeg_declaring_huge_dimensions_is_refused(void)
{
	ti_blob in;
	sp_image out;

	CU_ASSERT_EQUAL_FATAL(ti_jpeg(&in, 16, 16, 3, TI_GRADIENT, NULL, 1), 0);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg_declare_size(&in, 60000, 60000), 0);
	CU_ASSERT_EQUAL(reencode_blob(&in, &out), SP_IMAGE_TOO_BIG);
	CU_ASSERT_PTR_NULL(out.data);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg_declare_size(&in, 4000, 4000), 0);
	CU_ASSERT_EQUAL(reencode_blob(&in, &out), SP_IMAGE_TOO_BIG);
	ti_free(&in);
}

static void test_polyglot_keeps_nothing_after_the_image(void)
{
	ti_blob png, jpeg;
	sp_image out;

	CU_ASSERT_EQUAL_FATAL(ti_png(&png, 8, 8, 3, 8, TI_GRADIENT, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg(&jpeg, 8, 8, 3, TI_GRADIENT, NULL, 0), 0);
	ti_append(&png, html, sizeof html - 1);
	ti_append(&jpeg, html, sizeof html - 1);

	CU_ASSERT_EQUAL_FATAL(reencode_blob(&png, &out), SP_IMAGE_OK);
	CU_ASSERT(ends_cleanly(&out));
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "<html"));
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "script"));
	sp_image_free(&out);

	CU_ASSERT_EQUAL_FATAL(reencode_blob(&jpeg, &out), SP_IMAGE_OK);
	CU_ASSERT(ends_cleanly(&out));
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "<html"));
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "script"));
	sp_image_free(&out);
	ti_free(&png);
	ti_free(&jpeg);
}

static void test_metadata_inside_the_image_is_dropped(void)
{
	ti_blob png, jpeg;
	sp_image out;

	CU_ASSERT_EQUAL_FATAL(ti_png(&png, 8, 8, 4, 8, TI_GRADIENT, html), 0);
	CU_ASSERT_EQUAL_FATAL(ti_jpeg(&jpeg, 8, 8, 3, TI_GRADIENT, html, 0), 0);
	CU_ASSERT_FATAL(ti_contains(png.data, png.len, "<script>"));
	CU_ASSERT_FATAL(ti_contains(jpeg.data, jpeg.len, "<script>"));

	CU_ASSERT_EQUAL_FATAL(reencode_blob(&png, &out), SP_IMAGE_OK);
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "script"));
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "tEXt"));
	sp_image_free(&out);
	CU_ASSERT_EQUAL_FATAL(reencode_blob(&jpeg, &out), SP_IMAGE_OK);
	CU_ASSERT_FALSE(ti_contains(out.data, out.len, "script"));
	sp_image_free(&out);
	ti_free(&png);
	ti_free(&jpeg);
}

static void test_other_bytes_are_not_an_image(void)
{
	static const char gif[] = "GIF89a\x01\x00\x01\x00";
	static const char text[] = "just some text";
	sp_image out;

	CU_ASSERT_EQUAL(sp_image_reencode(gif, sizeof gif - 1, &out), SP_IMAGE_NOT_IMAGE);
	CU_ASSERT_EQUAL(sp_image_reencode(text, sizeof text - 1, &out), SP_IMAGE_NOT_IMAGE);
	CU_ASSERT_EQUAL(sp_image_reencode("", 0, &out), SP_IMAGE_NOT_IMAGE);
	CU_ASSERT_PTR_NULL(out.data);
}

void suite_image(void)
{
	CU_pSuite s = CU_add_suite("image", NULL, NULL);

	ADD_TEST(s, test_png_keeps_its_pixels_and_comes_out_as_png);
	ADD_TEST(s, test_jpeg_is_decoded_and_comes_out_as_jpeg);
	ADD_TEST(s, test_signature_followed_by_junk_is_malformed);
	ADD_TEST(s, test_truncated_image_is_malformed);
	ADD_TEST(s, test_corrupt_pixel_data_is_malformed);
	ADD_TEST(s, test_png_declaring_huge_dimensions_is_refused);
	ADD_TEST(s, test_jpeg_declaring_huge_dimensions_is_refused);
	ADD_TEST(s, test_polyglot_keeps_nothing_after_the_image);
	ADD_TEST(s, test_metadata_inside_the_image_is_dropped);
	ADD_TEST(s, test_other_bytes_are_not_an_image);
}
