/* INI configuration: a table of known settings drives defaults, parsing and validation. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "core/banned.h"

enum setting_type { SET_STR, SET_INT, SET_REAL, SET_BOOL };

struct setting {
	const char *section;
	const char *key;
	enum setting_type type;
	size_t offset;
	const char *def_str;
	long long def_int, min, max;
	double def_real, rmin, rmax;
};

#define STR(sec, k, field, def) { sec, k, SET_STR, offsetof(struct config, field), def, 0, 0, 0, 0, 0, 0 }
#define INT(sec, k, field, def, lo, hi) { sec, k, SET_INT, offsetof(struct config, field), NULL, def, lo, hi, 0, 0, 0 }
#define BOOL(sec, k, field, def) { sec, k, SET_BOOL, offsetof(struct config, field), NULL, def, 0, 1, 0, 0, 0 }
#define REAL(sec, k, field, def, lo, hi) { sec, k, SET_REAL, offsetof(struct config, field), NULL, 0, 0, 0, def, lo, hi }

/* Where `make install` puts the data files (the sentence model); the build passes its PREFIX. */
#ifndef FAQSURE_SHAREDIR
#define FAQSURE_SHAREDIR "/usr/local/share/faqsure"
#endif
/* The sentence model's file name (embed/use_lite.h USE_MODEL_FILE), given by the build so that core needs no
 * header of the embedders; a unit test checks that the two agree. */
#ifndef FAQSURE_SENTENCE_MODEL_FILE
#define FAQSURE_SENTENCE_MODEL_FILE "use-lite-v2.bin"
#endif

static const struct setting settings[] = {
	STR("database", "host", db_host, ""),
	INT("database", "port", db_port, 3306, 1, 65535),
	STR("database", "socket", db_socket, ""),
	STR("database", "user", db_user, "faqsure"),
	STR("database", "password", db_password, ""),
	STR("database", "name", db_name, "faqsure"),
	INT("database", "connect_timeout", db_connect_timeout, 3, 1, 300),
	INT("database", "read_timeout", db_read_timeout, 30, 1, 3600),
	INT("database", "write_timeout", db_write_timeout, 30, 1, 3600),
	INT("http", "max_body_bytes", http_max_body_bytes, 1048576, 1024, 1073741824),
	STR("http", "base_path", http_base_path, ""),
	INT("keys", "default_per_minute", keys_default_per_minute, 60, 1, 1000000),
	INT("keys", "default_per_hour", keys_default_per_hour, 1000, 1, 100000000),
	INT("ratelimit", "prune_every", ratelimit_prune_every, 1000, 1, 100000000),
	INT("upload", "max_bytes", upload_max_bytes, 25000000, 1024, 1073741824),
	INT("extract", "max_pages", extract_max_pages, 2000, 1, 1000000),
	INT("extract", "max_text_bytes", extract_max_text_bytes, 20971520, 1024, 1073741824),
	INT("extract", "max_unzipped_bytes", extract_max_unzipped_bytes, 104857600, 1024, 4294967296LL),
	INT("extract", "max_zip_entries", extract_max_zip_entries, 10000, 1, 1000000),
	INT("extract", "max_xml_depth", extract_max_xml_depth, 256, 8, 10000),
	INT("chunk", "target_chars", chunk_target_chars, 1000, 100, 100000),
	INT("chunk", "max_chars", chunk_max_chars, 1500, 100, 200000),
	INT("chunk", "overlap_chars", chunk_overlap_chars, 150, 0, 10000),
	STR("embedder", "backend", embedder_backend, "builtin"),
	STR("embedder", "url", embedder_url, ""),
	STR("embedder", "api_key", embedder_api_key, ""),
	STR("embedder", "model", embedder_model, ""),
	INT("embedder", "dimensions", embedder_dimensions, 0, 0, 65535),
	INT("embedder", "batch_size", embedder_batch_size, 64, 1, 2048),
	INT("embedder", "timeout_ms", embedder_timeout_ms, 30000, 100, 600000),
	INT("embedder", "max_retries", embedder_max_retries, 3, 0, 10),
	STR("vector", "backend", vector_backend, "embedded"),
	STR("vector", "index_dir", vector_index_dir, "/var/cache/faqsure/vectors"),
	STR("vector", "qdrant_url", qdrant_url, "http://127.0.0.1:6333"),
	STR("vector", "qdrant_api_key", qdrant_api_key, ""),
	STR("vector", "qdrant_collection", qdrant_collection, "faqsure"),
	INT("vector", "qdrant_timeout_ms", qdrant_timeout_ms, 5000, 100, 600000),
	INT("vector", "qdrant_batch_points", qdrant_batch_points, 256, 1, 10000),
	INT("vector", "qdrant_max_retries", qdrant_max_retries, 2, 0, 10),
	INT("search", "feedback_passages", search_feedback_passages, 3, 0, 20),
	REAL("search", "feedback_weight", search_feedback_weight, 1.0, 0.0, 10.0),
	REAL("search", "score_cosine_weight", search_score_cosine_weight, 1.0, 0.0, 100.0),
	REAL("search", "score_coverage_weight", search_score_coverage_weight, 0.4, 0.0, 100.0),
	REAL("search", "score_midpoint", search_score_midpoint, 0.5, -100.0, 100.0),
	REAL("search", "score_slope", search_score_slope, 6.0, 0.01, 1000.0),
	STR("answerer", "backend", answerer_backend, "builtin"),
	STR("answerer", "url", answerer_url, ""),
	STR("answerer", "api_key", answerer_api_key, ""),
	STR("answerer", "model", answerer_model, ""),
	INT("answerer", "timeout_ms", answerer_timeout_ms, 60000, 100, 600000),
	INT("answerer", "max_retries", answerer_max_retries, 2, 0, 10),
	STR("answerer", "sentence_model", answerer_sentence_model, FAQSURE_SHAREDIR "/" FAQSURE_SENTENCE_MODEL_FILE),
	INT("chat", "max_message_chars", chat_max_message_chars, 4000, 1, 100000),
	STR("cors", "allowed_origins", cors_allowed_origins, ""),
	INT("widget", "visitor_per_minute", widget_visitor_per_minute, 10, 1, 1000000),
	INT("widget", "visitor_per_hour", widget_visitor_per_hour, 100, 1, 100000000),
	BOOL("widget", "trust_forwarded_for", widget_trust_forwarded_for, 0),
	INT("worker", "lease_seconds", worker_lease_seconds, 300, 5, 86400),
	INT("worker", "poll_ms", worker_poll_ms, 1000, 10, 60000),
	INT("worker", "sentence_seconds", worker_sentence_seconds, 5, 0, 86400),
	STR("worker", "log_file", worker_log_file, ""),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **str_field(struct config *c, const struct setting *s)
{
	return (char **)((char *)c + s->offset);
}

static double *real_field(struct config *c, const struct setting *s)
{
	return (double *)((char *)c + s->offset);
}

static long long *int_field(struct config *c, const struct setting *s)
{
	return (long long *)((char *)c + s->offset);
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (settings[i].type == SET_STR)
			*str_field(c, &settings[i]) = xstrdup(settings[i].def_str);
		else if (settings[i].type == SET_REAL)
			*real_field(c, &settings[i]) = settings[i].def_real;
		else
			*int_field(c, &settings[i]) = settings[i].def_int;
	}
}

void config_release(struct config *c)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == SET_STR)
			free(*str_field(c, &settings[i]));
	free(c->path);
	memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int known_section(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, name))
			return 1;
	return 0;
}

static int set_value(struct config *c, const char *name, int line, const char *section, const char *key,
		     char *value, struct fs_error *e)
{
	const struct setting *s = NULL;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section) && !strcmp(settings[i].key, key))
			s = &settings[i];
	if (!s)
		return fs_fail(e, FS_EINVAL, "%s:%d: unknown setting '%s' in section [%s]", name, line, key, section);
	/* A value in double or single quotes is taken without them (a password with spaces or a leading '#');
	 * nothing inside is special. */
	size_t n = strlen(value);
	if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
		value[n - 1] = '\0';
		value++;
	}
	if (s->type == SET_STR) {
		char **f = str_field(c, s);
		free(*f);
		*f = xstrdup(value);
		return 0;
	}
	if (s->type == SET_REAL) {
		char *end;
		errno = 0;
		double d = strtod(value, &end);
		if (!*value || *end || errno || !(d >= s->rmin && d <= s->rmax))
			return fs_fail(e, FS_EINVAL, "%s:%d: %s.%s must be a number from %g to %g, not '%s'", name, line,
				       section, key, s->rmin, s->rmax, value);
		*real_field(c, s) = d;
		return 0;
	}
	if (s->type == SET_BOOL) {
		static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
		for (size_t i = 0; i < 4; i++) {
			if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
				*int_field(c, s) = !strcasecmp(value, yes[i]);
				return 0;
			}
		}
		return fs_fail(e, FS_EINVAL, "%s:%d: %s.%s must be true or false, not '%s'", name, line, section, key,
			       value);
	}
	long long v;
	if (util_parse_ll(value, s->min, s->max, &v) < 0)
		return fs_fail(e, FS_EINVAL, "%s:%d: %s.%s must be an integer from %lld to %lld, not '%s'", name, line,
			       section, key, s->min, s->max, value);
	*int_field(c, s) = v;
	return 0;
}

int config_parse(struct config *c, const char *name, const char *text, struct fs_error *e)
{
	char *copy = xstrdup(text), *p = copy, section[64] = "";
	int line = 0, rc = 0;
	while (p && *p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		char *s = trim(p);
		p = nl ? nl + 1 : NULL;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || *trim(end + 1)) {
				rc = fs_fail(e, FS_EINVAL, "%s:%d: malformed section header '%s'", name, line, s);
				goto out;
			}
			*end = '\0';
			char *sec = trim(s + 1);
			if (!known_section(sec)) {
				rc = fs_fail(e, FS_EINVAL, "%s:%d: unknown section [%s]", name, line, sec);
				goto out;
			}
			snprintf(section, sizeof(section), "%s", sec);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = fs_fail(e, FS_EINVAL, "%s:%d: expected 'key = value', got '%s'", name, line, s);
			goto out;
		}
		if (!section[0]) {
			rc = fs_fail(e, FS_EINVAL, "%s:%d: setting outside a [section]", name, line);
			goto out;
		}
		*eq = '\0';
		rc = set_value(c, name, line, section, trim(s), trim(eq + 1), e);
		if (rc < 0)
			goto out;
	}
out:
	free(copy);
	return rc;
}

/* A file or folder named by a relative path in the configuration (sentence_model = ../share/use-lite-v2.bin,
 * index_dir = ../var/vectors) is found from the configuration file's folder, not from wherever the program was
 * started: a bundle can be moved as a whole. */
static int resolve_relative(struct config *c, const char *conf_path, struct fs_error *e)
{
	char **paths[] = { &c->answerer_sentence_model, &c->vector_index_dir };
	const char *slash = strrchr(conf_path, '/');
	size_t dirlen = slash ? (size_t)(slash - conf_path) : 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *v = *paths[i];
		if (!v || !v[0] || v[0] == '/')
			continue;
		char full[PATH_MAX];
		int len = slash ? snprintf(full, sizeof(full), "%.*s/%s", (int)dirlen, conf_path, v)
				: snprintf(full, sizeof(full), "%s", v);
		if (len < 0 || (size_t)len >= sizeof(full))
			return fs_fail(e, FS_EINVAL, "%s: the path '%s' is too long", conf_path, v);
		free(v);
		*paths[i] = xstrdup(full);
	}
	return 0;
}

/* [database] host: one server or several, separated by commas, each as name, name:port or [address]:port (an
 * IPv6 address may also stand bare, without a port); a server without a port has [database] port. */
static int parse_db_hosts(struct config *c, const char *conf_path, struct fs_error *e)
{
	const char *p = c->db_host ? c->db_host : "";
	c->db_nhosts = 0;
	while (*p) {
		const char *end = strchr(p, ','), *stop;
		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (stop = end; stop > p && (stop[-1] == ' ' || stop[-1] == '\t'); stop--)
			;
		char entry[300], *name = entry, *port = NULL, *bad = NULL;
		size_t len = (size_t)(stop - p);
		if (len == 0 || len >= sizeof(entry)) {
			bad = "";
		} else {
			memcpy(entry, p, len);
			entry[len] = '\0';
			char *colon = strchr(entry, ':');
			if (entry[0] == '[') { /* [address] or [address]:port */
				char *close = strchr(entry, ']');
				if (!close || (close[1] && close[1] != ':') || close == entry + 1)
					bad = entry;
				else {
					*close = '\0';
					name = entry + 1;
					port = close[1] ? close + 2 : NULL;
				}
			} else if (colon && !strchr(colon + 1, ':')) { /* name:port (two or more colons: a bare address) */
				*colon = '\0';
				port = colon + 1;
			}
		}
		long long n = c->db_port;
		if (!bad && port) {
			char *tail;
			errno = 0;
			n = strtoll(port, &tail, 10);
			if (errno || tail == port || *tail || n < 1 || n > 65535)
				bad = entry;
		}
		if (bad || !name[0] || strlen(name) >= sizeof(c->db_hosts[0].name))
			return fs_fail(e, FS_EINVAL,
				       "%s: database.host: '%.*s' is not a server (name, name:port or [address]:port, several"
				       " separated by commas)",
				       conf_path, (int)(stop - p), p);
		if (c->db_nhosts == CONFIG_DB_HOSTS_MAX)
			return fs_fail(e, FS_EINVAL, "%s: database.host: at most %d servers", conf_path, CONFIG_DB_HOSTS_MAX);
		struct config_db_host *h = &c->db_hosts[c->db_nhosts++];
		snprintf(h->name, sizeof(h->name), "%s", name);
		h->port = (int)n;
		p = *end ? end + 1 : end;
	}
	return 0;
}

int config_load(struct config *c, const char *path, int must_exist, struct fs_error *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return fs_fail(e, FS_EINVAL, "%s: cannot read configuration: %s", path, strerror(errno));
	}
	struct buf text;
	buf_init(&text, 1 << 20);
	char chunk[4096];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_add(&text, chunk, n) < 0) {
			rc = fs_fail(e, FS_EINVAL, "%s: configuration file larger than 1 MiB", path);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = fs_fail(e, FS_EINVAL, "%s: read error", path);
		goto out;
	}
	rc = config_parse(c, path, buf_str(&text), e);
	if (rc == 0) {
		free(c->path);
		c->path = xstrdup(path);
		rc = resolve_relative(c, path, e);
		if (rc == 0)
			rc = parse_db_hosts(c, path, e);
	}
out:
	fclose(f);
	buf_release(&text);
	return rc;
}

int config_bundle_path(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0'; /* the program's folder */
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0'; /* the bundle: the folder above */
	int len = snprintf(out, size, "%s/%s", exe[0] ? exe : "", CONFIG_BUNDLE_PATH);
	if (len < 0 || (size_t)len >= size || access(out, F_OK) != 0)
		return -1;
	return 0;
}

int config_load_env(struct config *c, struct fs_error *e)
{
	config_init(c);
	const char *path = getenv("FAQSURE_CONFIG");
	if (path && *path)
		return config_load(c, path, 1, e);
	char bundled[PATH_MAX];
	if (config_bundle_path(bundled, sizeof(bundled)) == 0)
		return config_load(c, bundled, 1, e);
	return config_load(c, CONFIG_DEFAULT_PATH, 0, e);
}
