/* API keys: create, authenticate, list, revoke. */
#include "account/apikey.h"

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
	ISO("revoked_at") ", " ISO("created_at") ", UNIX_TIMESTAMP(created_at)"

static void random_base62(char *out, size_t n)
{
	static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char pool[64];
	size_t used = sizeof(pool), i = 0;
	while (i < n) {
		if (used == sizeof(pool)) {
			util_random(pool, sizeof(pool));
			used = 0;
		}
		unsigned char c = pool[used++];
		if (c < 248) /* 248 = 4 * 62: keeps every character equally likely */
			out[i++] = alphabet[c % 62];
	}
	out[n] = '\0';
}

int apikey_create(struct db *db, const struct apikey_spec *spec, char *secret, char id[37], struct fs_error *e)
{
	unsigned char hash[32];
	char prefix[APIKEY_PREFIX_LEN + 1], expires[21];
	memcpy(secret, APIKEY_TAG, APIKEY_TAG_LEN);
	random_base62(secret + APIKEY_TAG_LEN, APIKEY_RANDOM_LEN);
	memcpy(prefix, secret, APIKEY_PREFIX_LEN);
	prefix[APIKEY_PREFIX_LEN] = '\0';
	util_sha256(secret, APIKEY_LEN, hash);
	util_uuid(id);
	if (spec->expires_at)
		util_format_time(spec->expires_at, expires);
	int rc = db_exec(db, NULL, e,
			 "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, scope, per_minute, per_hour,"
			 " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, STR_TO_DATE(?, '%Y-%m-%dT%H:%i:%sZ'))",
			 "sissbsiis", id, spec->account_id, spec->name, prefix, hash, sizeof(hash), spec->scope,
			 spec->per_minute, spec->per_hour, spec->expires_at ? expires : NULL);
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int apikey_hash(const char *secret, unsigned char hash[32], struct fs_error *e)
{
	if (!secret || strlen(secret) != APIKEY_LEN || strncmp(secret, APIKEY_TAG, APIKEY_TAG_LEN) != 0)
		return fs_fail(e, FS_EAUTH, secret && *secret ? "API key is not valid" : "API key is missing");
	util_sha256(secret, APIKEY_LEN, hash);
	return 0;
}

int apikey_authenticate(struct db *db, const unsigned char hash[32], struct apikey_auth *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT k.id, k.account_id, k.scope, k.per_minute, k.per_hour, k.key_hash,"
			 " k.expires_at IS NOT NULL AND k.expires_at <= UTC_TIMESTAMP(), k.revoked_at IS NOT NULL,"
			 " (SELECT a.state <> 'active' FROM accounts a WHERE a.id = k.account_id)"
			 " FROM api_keys k WHERE k.key_hash = ?",
			 "b", hash, (size_t)32);
	if (rc < 0)
		return rc;
	if (r.nrows != 1 || r.lens[5] != 32 || CRYPTO_memcmp(db_cell(&r, 0, 5), hash, 32) != 0)
		rc = fs_fail(e, FS_EAUTH, "API key is not valid");
	else if (db_cell_ll(&r, 0, 7, 0))
		rc = fs_fail(e, FS_EAUTH, "API key has been revoked");
	else if (db_cell_ll(&r, 0, 6, 0))
		rc = fs_fail(e, FS_EAUTH, "API key has expired");
	else if (db_cell_ll(&r, 0, 8, 0))
		rc = fs_fail(e, FS_EAUTH, "account is disabled");
	if (rc == 0) {
		snprintf(out->id, sizeof(out->id), "%s", db_cell(&r, 0, 0));
		out->account_id = db_cell_ll(&r, 0, 1, 0);
		out->admin = !strcmp(db_cell(&r, 0, 2), "admin");
		out->per_minute = db_cell_ll(&r, 0, 3, 0);
		out->per_hour = db_cell_ll(&r, 0, 4, 0);
	}
	db_res_release(&r);
	return rc;
}

int apikey_mark_used(struct db *db, const char *id, struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP() WHERE id = ?", "s", id);
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

static json_t *key_object(const struct db_res *r, size_t i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:b, s:o, s:o}", "id", db_cell(r, i, 0), "name",
			 db_cell(r, i, 1), "prefix", db_cell(r, i, 2), "scope", db_cell(r, i, 3),
			 "rate_limit_per_minute", (json_int_t)db_cell_ll(r, i, 4, 0), "rate_limit_per_hour",
			 (json_int_t)db_cell_ll(r, i, 5, 0), "expires_at", str_or_null(db_cell(r, i, 6)),
			 "last_used_at", str_or_null(db_cell(r, i, 7)), "revoked", db_cell(r, i, 8) != NULL,
			 "revoked_at", str_or_null(db_cell(r, i, 8)), "created_at", json_string(db_cell(r, i, 9)));
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
