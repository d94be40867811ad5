/*
 * multipart/form-data parsing over a body already read into memory (and so
 * already bounded): finds one named part without copying it.
 */
#ifndef SP_MULTIPART_H
#define SP_MULTIPART_H

#include <stddef.h>

typedef struct sp_part {
	const char *data;
	size_t len;
	char filename[256];
	char content_type[128];
} sp_part;

enum sp_mp_result {
	SP_MP_OK,
	SP_MP_NOT_MULTIPART, /* content type is not multipart/form-data */
	SP_MP_NO_BOUNDARY,
	SP_MP_MALFORMED, /* truncated part, missing headers or closing delimiter */
	SP_MP_NO_PART,   /* well formed, but no part with that name */
};

enum sp_mp_result sp_multipart_find(const char *content_type, const char *body, size_t len,
                                    const char *name, sp_part *out);

#endif
