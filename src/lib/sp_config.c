/*
 * Configuration: conf/streaming.conf ("section.key = value") overridden by
 * SP_SECTION_KEY environment variables, validated once at start into sp_cfg.
 */
#include "sp_config.h"
#include "sp_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SP_DEFAULT_CONFIG
#define SP_DEFAULT_CONFIG "/etc/streaming/streaming.conf"
#endif

sp_settings sp_cfg;

struct entry {
	char *key;
	char *value;
	int line; /* in conf_path */
};

static struct entry *entries;
static size_t n_entries;
static char conf_path[1024]; /* the file read, "" when none */

void sp_conf_free(void)
{
	for (size_t i = 0; i < n_entries; i++) {
		free(entries[i].key);
		free(entries[i].value);
	}
	free(entries);
	entries = NULL;
	n_entries = 0;
	conf_path[0] = '\0';
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A key written twice: the last line wins. */
static void set_entry(const char *key, const char *value, int line)
{
	for (size_t i = 0; i < n_entries; i++) {
		if (strcmp(entries[i].key, key) == 0) {
			free(entries[i].value);
			entries[i].value = sp_xstrdup(value);
			entries[i].line = line;
			return;
		}
	}
	entries = sp_xrealloc(entries, (n_entries + 1) * sizeof *entries);
	entries[n_entries].key = sp_xstrdup(key);
	entries[n_entries].value = sp_xstrdup(value);
	entries[n_entries].line = line;
	n_entries++;
}

int sp_conf_load(const char *path, char *err, size_t errlen)
{
	char line[4096];
	FILE *f;
	int lineno = 0;

	sp_conf_free();
	if (path == NULL)
		path = getenv("SP_CONFIG");
	if (path == NULL || *path == '\0')
		path = SP_DEFAULT_CONFIG;
	f = fopen(path, "r");
	if (f == NULL) {
		/* No file is fine when everything comes from the environment. */
		if (errno == ENOENT && getenv("SP_CONFIG") == NULL)
			return 0;
		snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *s, *eq, *key, *val;

		lineno++;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "config: %s:%d: expected 'section.key = value'", path,
			         lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (strchr(key, '.') == NULL) {
			snprintf(err, errlen, "config: %s:%d: key '%s' has no section", path,
			         lineno, key);
			fclose(f);
			return -1;
		}
		set_entry(key, val, lineno);
	}
	fclose(f);
	snprintf(conf_path, sizeof conf_path, "%s", path);
	return 0;
}

void sp_conf_env_name(const char *key, char *out, size_t n)
{
	size_t j = 0;

	for (const char *p = "SP_"; *p && j + 1 < n; p++)
		out[j++] = *p;
	for (const char *p = key; *p && j + 1 < n; p++)
		out[j++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
	if (n > 0)
		out[j] = '\0';
}

static const struct entry *file_entry(const char *key)
{
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].key, key) == 0)
			return &entries[i];
	return NULL;
}

const char *sp_conf_get(const char *key)
{
	char env[128];
	const struct entry *e;
	const char *v;

	sp_conf_env_name(key, env, sizeof env);
	v = getenv(env);
	if (v != NULL)
		return v;
	e = file_entry(key);
	return e ? e->value : NULL;
}

const char *sp_conf_file(void)
{
	return conf_path;
}

void sp_conf_source(const char *key, char *out, size_t n)
{
	char env[128];
	const struct entry *e;

	sp_conf_env_name(key, env, sizeof env);
	if (getenv(env) != NULL)
		snprintf(out, n, "env %s", env);
	else if ((e = file_entry(key)) != NULL)
		snprintf(out, n, "file %s:%d", conf_path, e->line);
	else
		snprintf(out, n, "default");
}

size_t sp_conf_each_unknown(void (*fn)(const char *key, const char *path, int line, void *arg),
                            void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < n_entries; i++) {
		if (sp_conf_key_named(entries[i].key) != NULL)
			continue;
		n++;
		if (fn != NULL)
			fn(entries[i].key, conf_path, entries[i].line, arg);
	}
	return n;
}

const char *sp_conf_str(const char *key, const char *def)
{
	const char *v = sp_conf_get(key);

	return v ? v : def;
}

int sp_conf_long(const char *key, long def, long min, long max, long *out, char *err, size_t errlen)
{
	const char *v = sp_conf_get(key);
	long long x;

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	if (sp_parse_ll(v, min, max, &x) != 0) {
		snprintf(err, errlen, "config: %s must be an integer from %ld to %ld (got '%.40s')",
		         key, min, max, v);
		return -1;
	}
	*out = (long)x;
	return 0;
}

int sp_conf_rate(const char *key, const char *def, sp_rate_rule *out, char *err, size_t errlen)
{
	const char *v = sp_conf_get(key);
	char buf[64];
	char *slash;
	long long count, secs;

	if (v == NULL || *v == '\0')
		v = def;
	snprintf(buf, sizeof buf, "%s", v);
	slash = strchr(buf, '/');
	if (slash == NULL)
		goto bad;
	*slash = '\0';
	if (sp_parse_ll(trim(buf), 1, 1000000000, &count) != 0 ||
	    sp_parse_ll(trim(slash + 1), 1, 86400 * 31, &secs) != 0)
		goto bad;
	out->limit = (long)count;
	out->window = (long)secs;
	return 0;
bad:
	snprintf(err, errlen,
	         "config: %s must be written COUNT/SECONDS, e.g. 100/900 (got '%.40s')", key, v);
	return -1;
}

int sp_list_contains(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	if (list == NULL || n == 0)
		return 0;
	while (*p) {
		const char *e;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && memcmp(p, item, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

void sp_settings_free(void)
{
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		if (sp_conf_keys[i].store == SP_CS_STR) {
			char **p = (char **)((char *)&sp_cfg + sp_conf_keys[i].off);

			free(*p);
			*p = NULL;
		}
	}
}

/*
 * Every key of the table, checked and kept in sp_cfg. The first failing
 * key's message is returned, except that a missing jwt.secret is reported
 * only when nothing else fails: a tool may run without it
 * (sp_program_start), but not with another key wrong.
 */
int sp_settings_load(const char *path, char *err, size_t errlen)
{
	char one[512], secret[512] = "";
	int rc = 0;

	if (sp_conf_load(path, err, errlen) != 0)
		return -1;
	sp_settings_free();
	memset(&sp_cfg, 0, sizeof sp_cfg);
	for (size_t i = 0; i < sp_conf_nkeys; i++) {
		const sp_conf_key *k = &sp_conf_keys[i];

		if (sp_conf_key_check(k, &sp_cfg, one, sizeof one) == 0)
			continue;
		if (strcmp(k->name, "jwt.secret") == 0) {
			snprintf(secret, sizeof secret, "%s", one);
		} else if (rc == 0) {
			snprintf(err, errlen, "%s", one);
			rc = -1;
		}
	}
	if (rc == 0 && secret[0] != '\0') {
		snprintf(err, errlen, "%s", secret);
		rc = -1;
	}
	return rc;
}
