/*
 * The transactional outbox: an event row written in the same MariaDB
 * transaction as the change that causes it, mailed later by the worker.
 */
#include "sp_outbox.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sp_outbox_add(const char *event_type, long long user_id, json_object *payload)
{
	long long rc;

	if (payload == NULL)
		payload = json_object_new_object();
	rc = sp_db_exec("INSERT INTO outbox (event_type, user_id, payload) VALUES (?, ?, ?)", "sls",
	                event_type, user_id, sp_json_text(payload));
	json_object_put(payload);
	return rc == 1 ? 0 : -1;
}

/* The sealed token is bound to its event type and user, so it cannot be moved to another row. */
static void token_aad(const char *event_type, long long user_id, char *aad, size_t n)
{
	snprintf(aad, n, "outbox|%s|%lld", event_type, user_id);
}

int sp_outbox_seal_token(json_object *payload, const char *event_type, long long user_id,
                         const char *token)
{
	unsigned char key[SP_SEAL_KEY_LEN];
	char aad[128], *sealed = NULL;
	int rc;

	sp_seal_key(key);
	token_aad(event_type, user_id, aad, sizeof aad);
	rc = sp_seal(key, aad, token, strlen(token), &sealed);
	OPENSSL_cleanse(key, sizeof key);
	if (rc != 0)
		return -1;
	json_object_object_add(payload, "sealedToken", json_object_new_string(sealed));
	free(sealed);
	return 0;
}

int sp_outbox_open_token(const char *payload, const char *event_type, long long user_id, char *out,
                         size_t n)
{
	unsigned char key[SP_SEAL_KEY_LEN];
	char aad[128], *plain = NULL;
	json_object *p = payload ? json_tokener_parse(payload) : NULL, *v = NULL;
	size_t len = 0;
	int rc = -1;

	if (p && json_object_object_get_ex(p, "sealedToken", &v) &&
	    json_object_is_type(v, json_type_string)) {
		sp_seal_key(key);
		token_aad(event_type, user_id, aad, sizeof aad);
		if (sp_unseal(key, aad, json_object_get_string(v), &plain, &len) == 0 && len < n &&
		    strlen(plain) == len) {
			memcpy(out, plain, len + 1);
			rc = 0;
		}
		OPENSSL_cleanse(key, sizeof key);
		if (plain) {
			OPENSSL_cleanse(plain, len);
			free(plain);
		}
	}
	if (p)
		json_object_put(p);
	return rc;
}

long long sp_outbox_drop_tokens(const char *event_type, long long user_id,
                                const char *created_before)
{
	return sp_db_exec("UPDATE outbox SET payload = JSON_REMOVE(payload, '$.sealedToken') "
	                  "WHERE event_type = ? AND JSON_CONTAINS_PATH(payload, 'one', "
	                  "'$.sealedToken') AND (? = 0 OR user_id = ?) AND (? IS NULL OR "
	                  "created_at < ?)",
	                  "sllss", event_type, user_id, user_id, created_before, created_before);
}
