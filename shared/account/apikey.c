/* API keys: create, authenticate, list, revoke. */
#include "account/apikey.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/page.h"
#include "core/util.h"
#include "core/banned.h"

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
/* The columns every key object is built from, in this order. */
#define KEY_COLUMNS                                                                                           \
	"id, name, prefix, scope, per_minute, per_hour, " ISO("expires_at") ", " ISO("last_used_at") ", "      \
	ISO("revoked_at") ", " ISO("created_at") ", UNIX_TIMESTAMP(created_at), kind, agent_id, " ORIGINS
/* A key's origins, space-separated, for a row of api_keys (no alias: page_select names the table bare). */
#define ORIGINS                                                                                               \
	"(SELECT GROUP_CONCAT(o.origin ORDER BY o.origin SEPARATOR ' ') FROM api_key_origins o"               \
	" WHERE o.key_id = api_keys.id)"

const char *apikey_origins_next(const char **cursor, size_t *n)
{
	const char *p = *cursor;
	if (!p)
		return NULL;
	p += strspn(p, " ,");
	if (!*p)
		return NULL;
	*n = strcspn(p, " ,");
	*cursor = p + *n;
	return p;
}

/* Replaces a key's origin rows with the space-separated list (inside the caller's transaction). */
static int store_origins(struct db *db, const char *id, const char *origins, struct fs_error *e)
{
	int rc = db_exec(db, NULL, e, "DELETE FROM api_key_origins WHERE key_id = ?", "s", id);
	const char *p, *cursor = origins;
	size_t n;
	while (rc == 0 && (p = apikey_origins_next(&cursor, &n))) {
		char one[APIKEY_ORIGIN_MAX + 1];
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		rc = db_exec(db, NULL, e, "INSERT IGNORE INTO api_key_origins (origin, key_id) VALUES (?, ?)", "ss", one,
			     id);
	}
	return rc;
}

struct create {
	const struct apikey_spec *spec;
	const char *id, *prefix;
	const unsigned char *hash;
};

static int create_once(struct db *db, void *arg, struct fs_error *e)
{
	struct create *c = arg;
	const struct apikey_spec *spec = c->spec;
	char expires[21];
	if (spec->expires_at)
		util_format_time(spec->expires_at, expires);
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	rc = db_exec(db, NULL, e,
		     "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, scope, kind, agent_id, per_minute,"
		     " per_hour, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, STR_TO_DATE(?, '%Y-%m-%dT%H:%i:%sZ'))",
		     "sissbsssiis", c->id, spec->account_id, spec->name, c->prefix, c->hash, (size_t)32, spec->scope,
		     spec->publishable ? "publishable" : "secret", spec->publishable ? spec->agent_id : NULL,
		     spec->per_minute, spec->per_hour, spec->expires_at ? expires : NULL);
	if (rc == 0 && spec->publishable)
		rc = store_origins(db, c->id, spec->origins, e);
	if (rc < 0) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db, e);
}

int apikey_create(struct db *db, const struct apikey_spec *spec, char *secret, char id[37], struct fs_error *e)
{
	unsigned char hash[32];
	char prefix[APIKEY_PREFIX_LEN + 1];
	memcpy(secret, spec->publishable ? APIKEY_PUBLISHABLE_TAG : APIKEY_TAG, APIKEY_TAG_LEN);
	util_base62(secret + APIKEY_TAG_LEN, APIKEY_RANDOM_LEN);
	memcpy(prefix, secret, APIKEY_PREFIX_LEN);
	prefix[APIKEY_PREFIX_LEN] = '\0';
	util_sha256(secret, APIKEY_LEN, hash);
	util_uuid(id);
	struct create c = { spec, id, prefix, hash };
	int rc = db_retry(db, create_once, &c, e);
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int apikey_hash(const char *secret, unsigned char hash[32], struct fs_error *e)
{
	if (!secret || strlen(secret) != APIKEY_LEN ||
	    (strncmp(secret, APIKEY_TAG, APIKEY_TAG_LEN) && strncmp(secret, APIKEY_PUBLISHABLE_TAG, APIKEY_TAG_LEN)))
		return fs_fail(e, FS_EAUTH, secret && *secret ? "API key is not valid" : "API key is missing");
	util_sha256(secret, APIKEY_LEN, hash);
	return 0;
}

int apikey_authenticate(struct db *db, const unsigned char hash[32], struct apikey_auth *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT id, account_id, scope, per_minute, per_hour, key_hash,"
			 " expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(), revoked_at IS NOT NULL,"
			 " kind = 'publishable', revision, agent_id, " ORIGINS ","
			 " (SELECT a.state <> 'active' FROM accounts a WHERE a.id = api_keys.account_id)"
			 " FROM api_keys WHERE key_hash = ?",
			 "b", hash, (size_t)32);
	if (rc < 0)
		return rc;
	if (r.nrows != 1 || r.lens[5] != 32 || CRYPTO_memcmp(db_cell(&r, 0, 5), hash, 32) != 0)
		rc = fs_fail(e, FS_EAUTH, "API key is not valid");
	else if (db_cell_ll(&r, 0, 7, 0))
		rc = fs_fail(e, FS_EAUTH, "API key has been revoked");
	else if (db_cell_ll(&r, 0, 6, 0))
		rc = fs_fail(e, FS_EAUTH, "API key has expired");
	else if (db_cell_ll(&r, 0, 12, 0))
		rc = fs_fail(e, FS_EAUTH, "account is disabled");
	if (rc == 0) {
		snprintf(out->id, sizeof(out->id), "%s", db_cell(&r, 0, 0));
		out->account_id = db_cell_ll(&r, 0, 1, 0);
		out->admin = !strcmp(db_cell(&r, 0, 2), "admin");
		out->per_minute = db_cell_ll(&r, 0, 3, 0);
		out->per_hour = db_cell_ll(&r, 0, 4, 0);
		out->publishable = db_cell_ll(&r, 0, 8, 0) != 0;
		out->revision = db_cell_ll(&r, 0, 9, 0);
		snprintf(out->agent_id, sizeof(out->agent_id), "%s", db_cell(&r, 0, 10) ? db_cell(&r, 0, 10) : "");
		snprintf(out->origins, sizeof(out->origins), "%s", db_cell(&r, 0, 11) ? db_cell(&r, 0, 11) : "");
	}
	db_res_release(&r);
	return rc;
}

static int mark_used_once(struct db *db, void *arg, struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP() WHERE id = ?", "s",
		       (const char *)arg);
}

int apikey_mark_used(struct db *db, const char *id, struct fs_error *e)
{
	/* Every process marks a key it has not marked for a minute: on Galera, processes on several nodes doing so
	 * at once conflict on the key's row (1213), as InnoDB would only make them wait on one server. The request,
	 * already counted in the rate limit, is never failed for this bookkeeping: when others keep winning the row,
	 * one of their marks stands for this one. */
	int rc = db_retry(db, mark_used_once, (void *)id, e);
	if (rc == FS_ERETRY) {
		if (e)
			fs_error_clear(e);
		rc = 0;
	}
	return rc;
}

struct apikey_cache_entry *apikey_cache_find(struct apikey_cache *c, const unsigned char hash[32])
{
	for (size_t i = 0; i < APIKEY_CACHE_SIZE; i++)
		if (c->entries[i].used && !memcmp(c->entries[i].hash, hash, 32))
			return &c->entries[i];
	return NULL;
}

struct apikey_cache_entry *apikey_cache_put(struct apikey_cache *c, const unsigned char hash[32],
					    const struct apikey_auth *auth)
{
	struct apikey_cache_entry *slot = apikey_cache_find(c, hash);
	for (size_t i = 0; !slot && i < APIKEY_CACHE_SIZE; i++)
		if (!c->entries[i].used)
			slot = &c->entries[i];
	if (!slot) {
		slot = &c->entries[c->next];
		c->next = (c->next + 1) % APIKEY_CACHE_SIZE;
	}
	memcpy(slot->hash, hash, 32);
	slot->auth = *auth;
	slot->marked_ms = 0;
	slot->used = 1;
	return slot;
}

void apikey_cache_drop(struct apikey_cache *c, const unsigned char hash[32])
{
	struct apikey_cache_entry *slot = apikey_cache_find(c, hash);
	if (slot)
		memset(slot, 0, sizeof(*slot));
}

int apikey_revoke(struct db *db, long long account_id, const char *id_or_prefix, char id_out[37],
		  struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT id, account_id FROM api_keys WHERE id = ? OR prefix = ?", "ss",
			 id_or_prefix, id_or_prefix);
	if (rc < 0)
		return rc;
	if (r.nrows == 0 || (account_id > 0 && db_cell_ll(&r, 0, 1, 0) != account_id)) {
		rc = fs_fail(e, FS_ENOTFOUND, "no API key '%s'", id_or_prefix);
		goto out;
	}
	if (r.nrows > 1) {
		rc = fs_fail(e, FS_EINVAL, "'%s' matches %zu keys; give the key's id", id_or_prefix, r.nrows);
		goto out;
	}
	rc = db_exec(db, NULL, e, "UPDATE api_keys SET revoked_at = UTC_TIMESTAMP() WHERE id = ? AND revoked_at IS NULL",
		     "s", db_cell(&r, 0, 0));
	if (rc == 0 && id_out)
		snprintf(id_out, 37, "%s", db_cell(&r, 0, 0));
out:
	db_res_release(&r);
	return rc;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *origins_array(const char *list)
{
	json_t *a = json_array();
	const char *p, *cursor = list;
	size_t n;
	while ((p = apikey_origins_next(&cursor, &n)))
		json_array_append_new(a, json_stringn(p, n));
	return a;
}

static json_t *key_object(const struct db_res *r, size_t i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:b, s:o, s:o, s:o, s:o}", "id",
			 db_cell(r, i, 0), "name", db_cell(r, i, 1), "prefix", db_cell(r, i, 2), "type",
			 db_cell(r, i, 11), "scope", db_cell(r, i, 3), "rate_limit_per_minute",
			 (json_int_t)db_cell_ll(r, i, 4, 0), "rate_limit_per_hour", (json_int_t)db_cell_ll(r, i, 5, 0),
			 "expires_at", str_or_null(db_cell(r, i, 6)), "last_used_at", str_or_null(db_cell(r, i, 7)),
			 "revoked", db_cell(r, i, 8) != NULL, "revoked_at", str_or_null(db_cell(r, i, 8)),
			 "created_at", json_string(db_cell(r, i, 9)), "allowed_origins",
			 origins_array(db_cell(r, i, 13)), "agent_id", str_or_null(db_cell(r, i, 12)));
}

int apikey_list(struct db *db, long long account_id, long long limit, const char *cursor, json_t **keys,
		char **next_cursor, struct fs_error *e)
{
	struct db_res r;
	int rc = page_select(db, &r, KEY_COLUMNS, "api_keys", account_id, limit, cursor, 0, e);
	*next_cursor = NULL;
	if (rc < 0)
		return rc;
	*keys = json_array();
	for (size_t i = 0; i < page_shown(&r, limit); i++)
		json_array_append_new(*keys, key_object(&r, i));
	*next_cursor = page_next(&r, limit, 10);
	db_res_release(&r);
	return 0;
}

int apikey_get(struct db *db, long long account_id, const char *id, json_t **key, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ? AND account_id = ?", "si", id,
			 account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no API key '%s'", id);
	else
		*key = key_object(&r, 0);
	db_res_release(&r);
	return rc;
}

/* ---- edits ---- */

struct update {
	long long account_id;
	const char *id;
	const struct apikey_patch *p;
};

static int update_once(struct db *db, void *arg, struct fs_error *e)
{
	struct update *u = arg;
	const struct apikey_patch *p = u->p;
	struct db_res r;
	char expires[21];
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	rc = db_exec(db, &r, e,
		     "SELECT kind = 'publishable', revoked_at IS NOT NULL FROM api_keys WHERE id = ? AND account_id = ?"
		     " FOR UPDATE", "si", u->id, u->account_id);
	if (rc < 0)
		goto fail;
	int publishable = r.nrows ? db_cell_ll(&r, 0, 0, 0) != 0 : 0, revoked = r.nrows ? db_cell_ll(&r, 0, 1, 0) : 0;
	size_t found = r.nrows;
	db_res_release(&r);
	if (!found)
		rc = fs_fail(e, FS_ENOTFOUND, "no API key '%s'", u->id);
	else if (revoked)
		rc = fs_fail(e, FS_ECONFLICT, "this key is revoked and cannot be changed; create a new one");
	else if (!publishable && p->set_origins)
		rc = fs_fail(e, FS_EINVAL, "allowed_origins applies only to a publishable key");
	else if (!publishable && p->set_agent)
		rc = fs_fail(e, FS_EINVAL, "agent_id applies only to a publishable key");
	if (rc < 0)
		goto fail;
	if (p->set_expiry && p->expires_at)
		util_format_time(p->expires_at, expires);
	/* Each field keeps its value unless the patch gives one (a NULL parameter with its flag off). */
	rc = db_exec(db, NULL, e,
		     "UPDATE api_keys SET name = COALESCE(?, name), per_minute = IF(? > 0, ?, per_minute),"
		     " per_hour = IF(? > 0, ?, per_hour),"
		     " expires_at = IF(?, STR_TO_DATE(?, '%Y-%m-%dT%H:%i:%sZ'), expires_at),"
		     " agent_id = IF(?, ?, agent_id), revision = revision + 1 WHERE id = ?",
		     "siiiiisiss", p->name, p->per_minute, p->per_minute, p->per_hour, p->per_hour,
		     (long long)p->set_expiry, p->set_expiry && p->expires_at ? expires : NULL, (long long)p->set_agent,
		     p->agent_id, u->id);
	if (rc == 0 && p->set_origins)
		rc = store_origins(db, u->id, p->origins, e);
	if (rc < 0)
		goto fail;
	return db_commit(db, e);
fail:
	db_rollback(db);
	return rc;
}

int apikey_update(struct db *db, long long account_id, const char *id, const struct apikey_patch *p,
		  struct fs_error *e)
{
	struct update u = { account_id, id, p };
	return db_retry(db, update_once, &u, e);
}

/* ---- origins ---- */

/* Canonical form of one origin into out[APIKEY_ORIGIN_MAX + 1]: 0, or -1 when it is not an origin. */
static int origin_canonical(const char *in, char *out)
{
	size_t n = strlen(in), scheme;
	if (n > 0 && in[n - 1] == '/')
		n--;
	if (n > APIKEY_ORIGIN_MAX)
		return -1;
	if (n > 7 && !strncasecmp(in, "http://", 7))
		scheme = 7;
	else if (n > 8 && !strncasecmp(in, "https://", 8))
		scheme = 8;
	else
		return -1;
	size_t i = scheme, host_end, port_start = 0;
	if (in[i] == '[') { /* an IPv6 literal */
		const char *close = memchr(in + i, ']', n - i);
		if (!close || close == in + i + 1)
			return -1;
		for (const char *c = in + i + 1; c < close; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return -1;
		i = (size_t)(close - in) + 1;
	} else {
		size_t start = i;
		while (i < n && (isalnum((unsigned char)in[i]) || in[i] == '-' || in[i] == '.'))
			i++;
		if (i == start || in[start] == '.' || in[start] == '-' || in[i - 1] == '.')
			return -1;
	}
	host_end = i;
	if (i < n && in[i] == ':') {
		port_start = ++i;
		while (i < n && isdigit((unsigned char)in[i]))
			i++;
		if (i == port_start || i - port_start > 5 || atol(in + port_start) < 1 || atol(in + port_start) > 65535)
			return -1;
	}
	if (i != n) /* a path, a query, a user name, a space … */
		return -1;
	size_t o = 0;
	for (size_t k = 0; k < host_end; k++)
		out[o++] = (char)tolower((unsigned char)in[k]);
	if (port_start) {
		long port = atol(in + port_start);
		if (!((scheme == 7 && port == 80) || (scheme == 8 && port == 443)))
			o += (size_t)snprintf(out + o, APIKEY_ORIGIN_MAX + 1 - o, ":%ld", port);
	}
	out[o] = '\0';
	return 0;
}

int apikey_origins_parse(const json_t *list, const char *field, char *out, struct fs_error *e)
{
	size_t i, len = 0;
	json_t *v;
	out[0] = '\0';
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > APIKEY_MAX_ORIGINS)
		return fs_fail(e, FS_EINVAL, "%s must be a list of 1 to %d origins such as \"https://www.example.com\"",
			       field, APIKEY_MAX_ORIGINS);
	json_array_foreach(list, i, v) {
		char one[APIKEY_ORIGIN_MAX + 1];
		const char *text = json_string_value(v);
		if (!text || origin_canonical(text, one) < 0)
			return fs_fail(e, FS_EINVAL,
				       "%s[%zu] is not an origin: give scheme://host[:port] with no path, such as"
				       " \"https://www.example.com\" (\"*\" is not accepted)", field, i);
		if (apikey_origin_listed(out, one))
			continue;
		len += (size_t)snprintf(out + len, APIKEY_ORIGINS_SIZE - len, "%s%s", len ? " " : "", one);
	}
	return 0;
}

int apikey_origin_listed(const char *list, const char *origin)
{
	size_t n = strlen(origin), m;
	const char *p, *cursor = list;
	while (n && (p = apikey_origins_next(&cursor, &m)))
		if (m == n && !memcmp(p, origin, n))
			return 1;
	return 0;
}

int apikey_origin_known(struct db *db, const char *origin, int *known, struct fs_error *e)
{
	struct db_res r;
	*known = 0;
	if (strlen(origin) > APIKEY_ORIGIN_MAX)
		return 0;
	int rc = db_exec(db, &r, e,
			 "SELECT 1 FROM api_key_origins o JOIN api_keys k ON k.id = o.key_id WHERE o.origin = ?"
			 " AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > UTC_TIMESTAMP()) LIMIT 1",
			 "s", origin);
	if (rc < 0)
		return rc;
	*known = r.nrows > 0;
	db_res_release(&r);
	return 0;
}
