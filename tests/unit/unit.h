/* Unit test suites: CUnit, no servers. Each file registers one suite. */
#ifndef UNIT_H
#define UNIT_H

#include <CUnit/CUnit.h>

void suite_config(void);
void suite_router(void);
void suite_valid(void);
void suite_jwt(void);
void suite_bcrypt(void);
void suite_envelope(void);
void suite_util(void);
void suite_tier(void);
void suite_history(void);
void suite_multipart(void);
void suite_image(void);
void suite_media(void);
void suite_cache(void);
void suite_payment(void);
void suite_seal(void);
void suite_client_key(void);
void suite_gate(void);
void suite_mail(void);
void suite_webhook(void);
void suite_parental(void);

#define ADD_TEST(s, fn) CU_add_test(s, #fn, fn)

#endif
