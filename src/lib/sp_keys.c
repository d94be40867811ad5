/*
 * The Redis key names of sp_keys.h: every shape written once.
 */
#include "sp_keys.h"

#include <stdio.h>

void sp_key_me(char *out, size_t n, long long uid)
{
	snprintf(out, n, "me:%lld", uid);
}

void sp_key_history(char *out, size_t n, long long uid, const char *answer)
{
	snprintf(out, n, SP_GROUP_CATALOG ":{V}:wh:%lld:%s", uid, answer);
}

void sp_key_history_gen(char *out, size_t n, long long uid)
{
	snprintf(out, n, "wh:%lld:gen", uid);
}

void sp_key_progress_mark(char *out, size_t n, long long uid, long long content_id)
{
	snprintf(out, n, "wp:%lld:%lld", uid, content_id);
}

void sp_key_progress_buffer(char *out, size_t n, long long uid)
{
	snprintf(out, n, "wpb:%lld", uid);
}

void sp_key_progress_dirty(char *out, size_t n)
{
	snprintf(out, n, "wpb:dirty");
}

void sp_key_sub(char *out, size_t n, long long uid)
{
	snprintf(out, n, "sub:%lld", uid);
}

void sp_key_level(char *out, size_t n, long long uid)
{
	snprintf(out, n, "lvl:%lld", uid);
}

void sp_key_token_version(char *out, size_t n, long long uid)
{
	snprintf(out, n, "tv:%lld", uid);
}

void sp_key_deny_jti(char *out, size_t n, const char *jti)
{
	snprintf(out, n, "deny:jti:%s", jti);
}

void sp_key_deny_chain(char *out, size_t n, const char *sid)
{
	snprintf(out, n, "deny:sid:%s", sid);
}

void sp_key_rate(char *out, size_t n, const char *rule, const char *subject, long long window)
{
	snprintf(out, n, "rl:%s:%s:%lld", rule, subject, window);
}

void sp_key_subject_user(char *out, size_t n, long long uid)
{
	snprintf(out, n, "u:%lld", uid);
}

void sp_key_subject_client(char *out, size_t n, const char *client_key)
{
	snprintf(out, n, "ip:%s", client_key);
}

void sp_key_stream_user(char *out, size_t n, long long uid)
{
	snprintf(out, n, "ss:u:%lld", uid);
}

void sp_key_stream_session(char *out, size_t n, const char *sid)
{
	snprintf(out, n, SP_KEY_STREAM_SESSION_PREFIX "%s", sid);
}

void sp_key_stream_devices(char *out, size_t n, long long uid)
{
	snprintf(out, n, "ss:dev:%lld", uid);
}

void sp_key_download(char *out, size_t n, long long licence_id)
{
	snprintf(out, n, "dl:%lld", licence_id);
}

void sp_key_group_version(char *out, size_t n, const char *group)
{
	snprintf(out, n, "%s:ver", group);
}

void sp_key_group_counter(char *out, size_t n, const char *group)
{
	snprintf(out, n, "%s:seq", group);
}

void sp_key_group_members(char *out, size_t n, const char *group)
{
	snprintf(out, n, "%s:keys", group);
}

void sp_key_catalog_list(char *out, size_t n, const char *level, const char *query_hash)
{
	snprintf(out, n, SP_GROUP_CATALOG ":{V}:list:%s:%.32s", level, query_hash);
}

void sp_key_catalog_item(char *out, size_t n, long long content_id, const char *level)
{
	snprintf(out, n, SP_GROUP_CATALOG ":{V}:item:%lld:%s", content_id, level);
}

void sp_key_catalog_meta(char *out, size_t n, long long content_id)
{
	snprintf(out, n, SP_GROUP_CATALOG ":{V}:meta:%lld", content_id);
}

void sp_key_plans_list(char *out, size_t n, int level, int sort, int desc)
{
	snprintf(out, n, SP_GROUP_PLANS ":list:%d:%d:%d", level, sort, desc);
}

void sp_key_metrics_batch(char *out, size_t n, const char *process)
{
	snprintf(out, n, "metrics:batch:%s", process);
}
