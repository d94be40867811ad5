/*
 * Job "resets": a password-reset event keeps its sealed token only while
 * the link can work (auth.reset_ttl); after that the token is dropped from
 * the outbox, so no copy outlives its use. Access-token signing keys past
 * their retirement (sp-admin rotate-jwt-key) are dropped here too.
 */
#include "worker.h"
#include "sp_auth.h"
#include "sp_config.h"
#include "sp_log.h"
#include "sp_outbox.h"
#include "sp_util.h"

int job_resets(int64_t now_ms)
{
	char cutoff[32];
	long long n;

	sp_db_time(now_ms - (int64_t)sp_cfg.reset_ttl * 1000, cutoff);
	n = sp_outbox_drop_tokens("password.reset_requested", 0, cutoff);
	if (n < 0) {
		sp_error("resets: database unavailable");
		return 1;
	}
	sp_info("resets: %lld expired reset tokens dropped from the outbox", n);
	n = sp_jwt_keyring_prune();
	if (n < 0) {
		sp_error("resets: cannot prune the signing keys");
		return 1;
	}
	if (n > 0)
		sp_info("resets: %lld retired signing keys dropped", n);
	return 0;
}
