/* sp-admin gen-media: HLS test media for every title, under root (the web
 * server's media directory), encoded once into src (outside the web root). */
#ifndef GEN_MEDIA_H
#define GEN_MEDIA_H

int gen_media(const char *root, const char *src);

/* the SVG posters and banners the catalogue names under /catalogue/ in the
 * web root, each drawn once (existing files are kept) */
int gen_artwork(const char *root);

#endif
