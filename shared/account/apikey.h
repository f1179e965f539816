/* API keys: generation (faqsure_sk_ + 43 base62 characters = 256 bits from getrandom), storage as SHA-256 plus
 * a display prefix, lookup for authentication, listing and revocation. The secret is never stored or logged. */
#ifndef FAQSURE_APIKEY_H
#define FAQSURE_APIKEY_H

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "core/db.h"

#define APIKEY_TAG "faqsure_sk_"
#define APIKEY_TAG_LEN 11
#define APIKEY_RANDOM_LEN 43
#define APIKEY_LEN (APIKEY_TAG_LEN + APIKEY_RANDOM_LEN)
#define APIKEY_PREFIX_LEN (APIKEY_TAG_LEN + 6)
#define APIKEY_NAME_MAX 100
#define APIKEY_MAX_PER_MINUTE 1000000LL
#define APIKEY_MAX_PER_HOUR 100000000LL

struct apikey_spec {
	long long account_id;
	const char *name;
	long long per_minute;
	long long per_hour;
	time_t expires_at; /* 0 = never */
	const char *scope; /* "default" or "admin" */
};

/* What authentication needs to know about a presented key. None of it changes during a key's life, so a
 * process may remember it (struct apikey_cache); only validity (revocation, expiry) must be asked anew. */
struct apikey_auth {
	char id[37];
	long long account_id;
	int admin;
	long long per_minute;
	long long per_hour;
};

#define APIKEY_CACHE_SIZE 64

struct apikey_cache_entry {
	unsigned char hash[32];
	struct apikey_auth auth;
	double marked_ms; /* when this process last wrote last_used_at; 0 = never */
	int used;
};

/* A process's memory of keys it has authenticated, keyed by the SHA-256 of the secret. */
struct apikey_cache {
	struct apikey_cache_entry entries[APIKEY_CACHE_SIZE];
	size_t next; /* the slot to reuse when all are taken */
};

/* Creates a key; writes the secret (shown once) into secret[APIKEY_LEN + 1] and its id into id[37]. */
int apikey_create(struct db *db, const struct apikey_spec *spec, char *secret, char id[37], struct fs_error *e);
/* Checks a presented secret's form and hashes it: FS_EAUTH when it is missing or cannot be a key. */
int apikey_hash(const char *secret, unsigned char hash[32], struct fs_error *e);
/* Finds a usable key by hash: FS_EAUTH for an unknown, expired or revoked one, or one of a disabled account
 * ("account is disabled"), saying which. */
int apikey_authenticate(struct db *db, const unsigned char hash[32], struct apikey_auth *out, struct fs_error *e);
/* Records that the key was used now (people see it with minute precision). */
int apikey_mark_used(struct db *db, const char *id, struct fs_error *e);

struct apikey_cache_entry *apikey_cache_find(struct apikey_cache *c, const unsigned char hash[32]);
struct apikey_cache_entry *apikey_cache_put(struct apikey_cache *c, const unsigned char hash[32],
					    const struct apikey_auth *auth);
void apikey_cache_drop(struct apikey_cache *c, const unsigned char hash[32]);
/* Revokes a key by id or display prefix; account_id > 0 restricts it to that account (else FS_ENOTFOUND).
 * The revoked key's id goes to id_out when not NULL. */
int apikey_revoke(struct db *db, long long account_id, const char *id_or_prefix, char id_out[37],
		  struct fs_error *e);

/* One page of an account's keys, newest first, as key objects (never the secret). cursor may be NULL;
 * *next_cursor gets a malloc'd cursor when more follow, else NULL. */
int apikey_list(struct db *db, long long account_id, long long limit, const char *cursor, json_t **keys,
		char **next_cursor, struct fs_error *e);
/* One key object by id within an account; FS_ENOTFOUND otherwise. */
int apikey_get(struct db *db, long long account_id, const char *id, json_t **key, struct fs_error *e);

#endif
