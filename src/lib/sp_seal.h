/*
 * Sealed secrets: AES-256-GCM, so a value kept for a later reader (a reset
 * link's token waiting for the mailer) is unreadable and tamper-evident at rest.
 */
#ifndef SP_SEAL_H
#define SP_SEAL_H

#include <stddef.h>

#define SP_SEAL_KEY_LEN 32
/* The longest sealed text sp_unseal reads. */
#define SP_SEAL_MAX 4096

/* The key: derived from outbox.seal_key when set (>= 32 bytes), else from jwt.secret. */
void sp_seal_key(unsigned char key[SP_SEAL_KEY_LEN]);
/*
 * Seals n bytes of plain, bound to aad (which must be given again to open
 * it), as "v1.<hex of nonce | ciphertext | tag>" into *out (malloc'd). 0 ok.
 */
int sp_seal(const unsigned char key[SP_SEAL_KEY_LEN], const char *aad, const void *plain, size_t n,
            char **out);
/*
 * Opens a sealed value into *out (malloc'd, NUL-terminated; *n its length
 * when n is not NULL). -1, with *out NULL, when it is malformed, too long,
 * altered, or sealed with another key or aad.
 */
int sp_unseal(const unsigned char key[SP_SEAL_KEY_LEN], const char *aad, const char *sealed,
              char **out, size_t *n);

#endif
