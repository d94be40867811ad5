/* sp-admin gen-media: HLS test media for every title, under root. */
#ifndef GEN_MEDIA_H
#define GEN_MEDIA_H

int gen_media(const char *root);

#endif
