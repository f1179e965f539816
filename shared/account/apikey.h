/* API keys: generation (faqsure_sk_ or faqsure_pk_ + 43 base62 characters = 256 bits from getrandom), storage as
 * SHA-256 plus a display prefix, lookup for authentication, listing, edits and revocation. The secret is never
 * stored or logged. A publishable key (faqsure_pk_) is for a browser page: it lists the origins it may be used
 * from (exact "scheme://host[:port]" strings) and may only chat (web/app.c enforces both). */
#ifndef FAQSURE_APIKEY_H
#define FAQSURE_APIKEY_H

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "core/db.h"

#define APIKEY_TAG "faqsure_sk_"
#define APIKEY_PUBLISHABLE_TAG "faqsure_pk_"
#define APIKEY_TAG_LEN 11
#define APIKEY_RANDOM_LEN 43
#define APIKEY_LEN (APIKEY_TAG_LEN + APIKEY_RANDOM_LEN)
#define APIKEY_PREFIX_LEN (APIKEY_TAG_LEN + 6)
#define APIKEY_NAME_MAX 100
#define APIKEY_MAX_PER_MINUTE 1000000LL
#define APIKEY_MAX_PER_HOUR 100000000LL
#define APIKEY_MAX_ORIGINS 20
#define APIKEY_ORIGIN_MAX 200 /* characters of one origin */
/* The origins of a key as one space-separated string, NUL included. */
#define APIKEY_ORIGINS_SIZE (APIKEY_MAX_ORIGINS * (APIKEY_ORIGIN_MAX + 1))

struct apikey_spec {
	long long account_id;
	const char *name;
	long long per_minute;
	long long per_hour;
	time_t expires_at; /* 0 = never */
	const char *scope; /* "default" or "admin" */
	int publishable;
	const char *origins; /* publishable: canonical origins, space-separated (apikey_origins_parse) */
	const char *agent_id; /* publishable: the agent answering on it; NULL = the account's default */
};

/* What authentication needs to know about a presented key. A process may remember it (struct apikey_cache):
 * the rate-limit statement of each request finds the key only while it is usable and still at the remembered
 * revision (edits raise it), so neither a revocation nor an edit goes unnoticed. */
struct apikey_auth {
	char id[37];
	long long account_id;
	int admin;
	int publishable;
	long long per_minute;
	long long per_hour;
	long long revision;
	char agent_id[37]; /* publishable: "" = the account's default agent */
	char origins[APIKEY_ORIGINS_SIZE]; /* publishable: space-separated */
};

/* An edit (PATCH): only the fields whose set_* flag is on change. */
struct apikey_patch {
	const char *name;
	long long per_minute, per_hour; /* 0 = unchanged */
	int set_expiry;
	time_t expires_at; /* with set_expiry: 0 = never */
	int set_origins;
	const char *origins; /* canonical, space-separated */
	int set_agent;
	const char *agent_id; /* NULL = the default agent */
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
/* Checks a presented key's form (either kind) and hashes it: FS_EAUTH when it is missing or cannot be a key. */
int apikey_hash(const char *secret, unsigned char hash[32], struct fs_error *e);
/* Finds a usable key by hash: FS_EAUTH for an unknown, expired or revoked one, or one of a disabled account
 * ("account is disabled"), saying which. */
int apikey_authenticate(struct db *db, const unsigned char hash[32], struct apikey_auth *out, struct fs_error *e);
/* Records that the key was used now (people see it with minute precision). 0 also when other processes kept
 * marking it at the same moment (their mark stands); a negative code when the database is unavailable. */
int apikey_mark_used(struct db *db, const char *id, struct fs_error *e);

struct apikey_cache_entry *apikey_cache_find(struct apikey_cache *c, const unsigned char hash[32]);
struct apikey_cache_entry *apikey_cache_put(struct apikey_cache *c, const unsigned char hash[32],
					    const struct apikey_auth *auth);
void apikey_cache_drop(struct apikey_cache *c, const unsigned char hash[32]);
/* Revokes a key by id or display prefix; account_id > 0 restricts it to that account (else FS_ENOTFOUND).
 * The revoked key's id goes to id_out when not NULL. */
int apikey_revoke(struct db *db, long long account_id, const char *id_or_prefix, char id_out[37],
		  struct fs_error *e);

/* Applies an edit to a key of the account and raises its revision: FS_ENOTFOUND for an unknown id or another
 * account's, FS_ECONFLICT for a revoked key, FS_EINVAL for origins or an agent on a secret key. */
int apikey_update(struct db *db, long long account_id, const char *id, const struct apikey_patch *p,
		  struct fs_error *e);

/* Checks a JSON array of origins (1 to APIKEY_MAX_ORIGINS strings "http(s)://host[:port]", no path; a default
 * port and one trailing slash are dropped, scheme and host lower-cased) and writes them space-separated into
 * out[APIKEY_ORIGINS_SIZE]. FS_EINVAL names the field and the bad entry. */
int apikey_origins_parse(const json_t *list, const char *field, char *out, struct fs_error *e);
/* The next origin of a list separated by spaces or commas, from *cursor on: its start, with its length in *n and
 * *cursor moved past it; NULL at the end. */
const char *apikey_origins_next(const char **cursor, size_t *n);
/* 1 when origin is one of the list (spaces or commas between), exactly. */
int apikey_origin_listed(const char *list, const char *origin);
/* Whether some usable publishable key lists origin (a preflight carries no key): *known 0 or 1. */
int apikey_origin_known(struct db *db, const char *origin, int *known, struct fs_error *e);

/* One page of an account's keys, newest first, as key objects (never the secret). cursor may be NULL;
 * *next_cursor gets a malloc'd cursor when more follow, else NULL. */
int apikey_list(struct db *db, long long account_id, long long limit, const char *cursor, json_t **keys,
		char **next_cursor, struct fs_error *e);
/* One key object by id within an account; FS_ENOTFOUND otherwise. */
int apikey_get(struct db *db, long long account_id, const char *id, json_t **key, struct fs_error *e);

#endif
