/*
 * The watch-history area (being written).
 */
#include "sp_app.h"

static const sp_route routes[] = {
    {"GET", "/watch-history/stats", NULL, SP_AUTH_REQUIRED, SP_NO_BODY, NULL, NULL, SP_NO_INPUT},
};

int main(int argc, char **argv)
{
	static const sp_app app = {"history", routes, 0, NULL};

	return sp_app_main(&app, argc, argv);
}
