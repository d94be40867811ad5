/* sp-admin gen-media: HLS test media for every title, under root (the web
 * server's media directory), encoded once into src (outside the web root). */
#ifndef GEN_MEDIA_H
#define GEN_MEDIA_H

int gen_media(const char *root, const char *src);

#endif
