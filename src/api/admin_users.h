/*
 * The user routes of the admin area: list accounts (paged, searched by the
 * start of name or e-mail) and change one (role, active, login lockout).
 */
#ifndef ADMIN_USERS_H
#define ADMIN_USERS_H

#include "sp_router.h"

/* GET /admin/users: page, limit and the search text ("" none). */
struct users_list_in {
	long long page, limit;
	char search[101];
};

/* PUT /admin/users/:id: role "" or "user"/"admin"; active -1 unchanged; unlock 0/1. */
struct users_update_in {
	long long id;
	char role[8];
	int active;
	int unlock;
};

int users_parse_list(sp_req *r, void *in);
int users_parse_update(sp_req *r, void *in);

int admin_users_list(sp_req *r);
int admin_users_update(sp_req *r);

#endif
