/* The configuration: one INI file (path from FAQSURE_CONFIG, default /etc/faqsure/faqsure.conf). Every setting
 * has a default; an unknown section or key or a bad value is an error naming file:line. */
#ifndef FAQSURE_CONFIG_H
#define FAQSURE_CONFIG_H

#include <stddef.h>

#include "core/err.h"

#define CONFIG_DEFAULT_PATH "/etc/faqsure/faqsure.conf"
/* A bundle (make dist) keeps its configuration beside its programs: BUNDLE/etc/faqsure.conf, where the programs
 * are BUNDLE/fcgi-bin/ and BUNDLE/bin/. */
#define CONFIG_BUNDLE_PATH "etc/faqsure.conf"

/* One server of [database] host, which may list several (db.c connects to the first that answers). */
#define CONFIG_DB_HOSTS_MAX 8
struct config_db_host {
	char name[256];
	int port;
};

struct config {
	char *path; /* the file read, or NULL when only defaults are in force */

	/* [database] */
	char *db_host;
	struct config_db_host db_hosts[CONFIG_DB_HOSTS_MAX]; /* db_host read: name, name:port or [address]:port, */
	int db_nhosts;                                       /* separated by commas; 0 when db_host is empty */
	long long db_port;
	char *db_socket;
	char *db_user;
	char *db_password;
	char *db_name;
	long long db_connect_timeout;
	long long db_read_timeout;
	long long db_write_timeout;

	/* [http] */
	long long http_max_body_bytes;
	char *http_base_path; /* the URL path the API is served under ("/faqsure"), or "" to take what precedes /api */

	/* [keys] */
	long long keys_default_per_minute;
	long long keys_default_per_hour;

	/* [ratelimit] */
	long long ratelimit_prune_every;

	/* [upload] */
	long long upload_max_bytes;

	/* [extract] */
	long long extract_max_pages;
	long long extract_max_text_bytes;
	long long extract_max_unzipped_bytes;
	long long extract_max_zip_entries;
	long long extract_max_xml_depth;

	/* [chunk] */
	long long chunk_target_chars;
	long long chunk_max_chars;
	long long chunk_overlap_chars;

	/* [embedder] */
	char *embedder_backend;
	char *embedder_url;          /* openai: base URL, e.g. http://127.0.0.1:11434/v1 */
	char *embedder_api_key;      /* openai: sent as Authorization: Bearer (never logged) */
	char *embedder_model;        /* openai: the model name sent upstream */
	long long embedder_dimensions; /* openai: expected vector size; 0 = whatever the first answer has */
	long long embedder_batch_size;
	long long embedder_timeout_ms;
	long long embedder_max_retries;

	/* [vector] */
	char *vector_backend;        /* embedded | qdrant */
	char *vector_index_dir;      /* embedded: the folder of the machine's index files ("" = each process its own) */
	char *qdrant_url;
	char *qdrant_api_key;
	char *qdrant_collection;
	long long qdrant_timeout_ms;
	long long qdrant_batch_points;
	long long qdrant_max_retries;

	/* [search] */
	long long search_feedback_passages; /* pseudo-relevance feedback: best passages added to the query vector */
	double search_feedback_weight;
	double search_score_cosine_weight;  /* similarity_score = 1 / (1 + exp(-slope * (x - midpoint))),  */
	double search_score_coverage_weight; /* x = cosine_weight * cosine + coverage_weight * coverage */
	double search_score_midpoint;
	double search_score_slope;

	/* [answerer] */
	char *answerer_backend;      /* builtin | openai: for agents that do not name one */
	char *answerer_url;          /* openai: base URL, e.g. http://127.0.0.1:11434/v1 */
	char *answerer_api_key;      /* openai: sent as Authorization: Bearer (never logged) */
	char *answerer_model;        /* openai: the model for agents that do not name one */
	long long answerer_timeout_ms;  /* openai: one upstream request, a streamed one included */
	long long answerer_max_retries;
	char *answerer_sentence_model; /* builtin: the sentence model file (use_lite.h), for agreement in meaning */

	/* [chat] */
	long long chat_max_message_chars;

	/* [cors] */
	char *cors_allowed_origins;  /* origins (comma or space separated) whose pages may call with a secret key */

	/* [widget] (publishable keys) */
	long long widget_visitor_per_minute; /* per client address and key, on top of the key's limits */
	long long widget_visitor_per_hour;
	long long widget_trust_forwarded_for; /* the client address is X-Forwarded-For's last, not REMOTE_ADDR */

	/* [worker] */
	long long worker_lease_seconds;
	long long worker_poll_ms;
	long long worker_sentence_seconds; /* worker --once: time for sentence vectors after the queue */
	char *worker_log_file; /* the worker's lines go there (appended; reopened on SIGHUP), else to stderr */
};

/* Sets every default. */
void config_init(struct config *c);
/* Reads path over the defaults. A missing file is an error only when must_exist. A relative path in it (e.g.
 * [answerer] sentence_model) is taken from the file's folder. */
int config_load(struct config *c, const char *path, int must_exist, struct fs_error *e);
/* config_init + config_load of FAQSURE_CONFIG (must exist), else of the bundle's configuration when the program
 * runs from a bundle (config_bundle_path), else of the default path (may be absent). */
int config_load_env(struct config *c, struct fs_error *e);
/* The bundle's configuration: CONFIG_BUNDLE_PATH in the folder above the running program's own, when that file
 * exists (0), else -1. */
int config_bundle_path(char *out, size_t size);
/* Parses INI text as if it came from file name (for tests and fuzzing). */
int config_parse(struct config *c, const char *name, const char *text, struct fs_error *e);
void config_release(struct config *c);

#endif
