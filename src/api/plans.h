/*
 * The plan routes of the subscriptions program: their handlers and the
 * inputs their route table entries declare.
 */
#ifndef PLANS_H
#define PLANS_H

#include "sp_router.h"

/* GET /subscriptions/plans: sort 1 price, 2 name, 3 displayOrder. */
struct plans_list_in {
	int level; /* -1: all */
	int sort;
	int desc;
};

/* A plan named in the path. */
struct plan_id_in {
	long long id;
};

/* Every plan field an admin may send; has_* say which were given. */
struct plan_in {
	char name[201], description[4001], currency[4], price[24];
	char *features; /* JSON text, malloc'd (released with the request) */
	long long validity, devices, streams, order, downloads;
	int level, resolution, download, ads, popular, active;
	int has_name, has_description, has_currency, has_price, has_features, has_validity,
	    has_devices, has_streams, has_order, has_level, has_resolution, has_download, has_ads,
	    has_popular, has_active, has_downloads;
};

/* PUT /subscriptions/plans/:planId: the plan and the fields to change. */
struct plan_update_in {
	long long id;
	struct plan_in body;
};

int plans_parse_list(sp_req *r, void *in);
int plans_parse_id(sp_req *r, void *in);
int plans_parse_create(sp_req *r, void *in);
int plans_parse_update(sp_req *r, void *in);
int plans_list_key(sp_req *r, long long uid, char *key, size_t n);

int plans_list(sp_req *r);
int plans_get(sp_req *r);
int plans_create(sp_req *r);
int plans_update(sp_req *r);
int plans_delete(sp_req *r);

/* Registers the plans' cache group (program start). */
void plans_init(void);

#endif
