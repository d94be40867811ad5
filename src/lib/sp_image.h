/*
 * Uploaded images: a PNG or JPEG is decoded in full by libpng / libjpeg and
 * written out afresh, so only its pixels survive (no metadata, no trailing bytes).
 */
#ifndef SP_IMAGE_H
#define SP_IMAGE_H

#include <stddef.h>

/* Bounds checked on the declared size, before any pixel is decoded. */
#define SP_IMAGE_MAX_SIDE   4096u
#define SP_IMAGE_MAX_PIXELS (4096u * 3072u)

enum sp_image_type {
	SP_IMAGE_PNG = 1,
	SP_IMAGE_JPEG,
};

enum sp_image_result {
	SP_IMAGE_OK,
	SP_IMAGE_NOT_IMAGE, /* neither a PNG nor a JPEG signature */
	SP_IMAGE_MALFORMED, /* the signature, but not a complete image the decoder accepts */
	SP_IMAGE_TOO_BIG,   /* declared dimensions above the bounds */
	SP_IMAGE_NO_MEMORY, /* the pixels could not be allocated */
};

/* A re-encoded image: the same type as the upload, 8 bits per sample. */
typedef struct sp_image {
	enum sp_image_type type;
	unsigned width, height;
	unsigned char *data; /* the new file */
	size_t len;
} sp_image;

/*
 * Decodes data (a whole PNG or JPEG, checked to its end) and encodes its
 * pixels again into out: PNG stays PNG (lossless), JPEG stays JPEG (quality
 * 90). out is filled only on SP_IMAGE_OK; free it with sp_image_free.
 */
enum sp_image_result sp_image_reencode(const void *data, size_t len, sp_image *out);
void sp_image_free(sp_image *img);
/* File extension for a type: "png" or "jpg". */
const char *sp_image_ext(enum sp_image_type type);
/* What is wrong with an upload, for a field error ("must be ..."). */
const char *sp_image_problem(enum sp_image_result rc);

#endif
