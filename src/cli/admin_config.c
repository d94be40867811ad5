/*
 * sp-admin check-config and config-reference: every key of the table with
 * its effective value, where it comes from and whether it is valid; and the
 * markdown reference docs/OPERATIONS.md carries.
 */
#include "admin_cmds.h"
#include "sp_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What check-config shows of a value: secrets only as set or not, and their length. */
static void shown_value(const sp_conf_key *k, char *out, size_t n)
{
	const char *v = sp_conf_get(k->name);

	if (k->secret) {
		if (v == NULL || v[0] == '\0')
			snprintf(out, n, "(not set)");
		else
			snprintf(out, n, "(set, %zu bytes)", strlen(v));
		return;
	}
	if (v == NULL || (v[0] == '\0' && (k->type == SP_CT_INT || k->type == SP_CT_DURATION ||
	                                   k->type == SP_CT_RATE)))
		v = k->def;
	if (v[0] == '\0')
		snprintf(out, n, "(empty)");
	else if (strlen(v) > 40)
		snprintf(out, n, "%.37s...", v);
	else
		snprintf(out, n, "%s", v);
}

static void print_unknown(const char *key, const char *path, int line, void *arg)
{
	(void)arg;
	printf("warning: %s:%d: unknown key '%s' (ignored by the programs)\n", path, line, key);
}

/* One line per key; returns how many are invalid. */
static int print_keys(void)
{
	char value[64], source[1100], err[512];
	int bad = 0;

	printf("%-30s %-30s %-7s %s\n", "KEY", "VALUE", "CHECK", "SOURCE");
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		const sp_conf_key *k = &sp_conf_keys[i];
		int rc = sp_conf_key_check(k, NULL, err, sizeof err);

		shown_value(k, value, sizeof value);
		sp_conf_source(k->name, source, sizeof source);
		printf("%-30s %-30s %-7s %s\n", k->name, value, rc == 0 ? "ok" : "INVALID", source);
		if (rc != 0)
			printf("    %s\n", err);
		bad += rc != 0;
	}
	return bad;
}

/*
 * `check-config [--strict] [FILE]`: FILE, else $SP_CONFIG, else the
 * installed path. Exit 1 when a value is invalid (or, with --strict, when
 * the file holds a key the table does not know), 0 otherwise.
 */
int cmd_check_config(int argc, char **argv)
{
	const char *path = NULL;
	char err[1200];
	int strict = 0, bad;
	size_t unknown;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--strict") == 0)
			strict = 1;
		else
			path = argv[i];
	}
	/* a file named here must exist; only the installed default may be absent */
	if (path != NULL && access(path, R_OK) != 0) {
		fprintf(stderr, "check-config: cannot read %s\n", path);
		return 1;
	}
	if (sp_conf_load(path, err, sizeof err) != 0) {
		fprintf(stderr, "check-config: %s\n", err);
		return 1;
	}
	printf("config file: %s\n",
	       sp_conf_file()[0] ? sp_conf_file() : "(none: defaults and the environment)");
	bad = print_keys();
	unknown = sp_conf_each_unknown(print_unknown, NULL);
	printf("check-config: %zu keys, %d invalid, %zu unknown\n", sp_conf_nkeys, bad, unknown);
	if (bad > 0) {
		fprintf(stderr, "check-config: %d invalid value%s; the programs refuse to start\n",
		        bad, bad == 1 ? "" : "s");
		return 1;
	}
	if (strict && unknown > 0) {
		fprintf(stderr, "check-config: unknown keys (--strict)\n");
		return 1;
	}
	return 0;
}

int cmd_config_reference(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	sp_conf_reference(stdout);
	return 0;
}
