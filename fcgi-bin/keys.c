/* keys.fcgi — the account's settings as an API: its keys (/api/v1/keys, the "Settings → API Keys" page) and its
 * agents (/api/v1/agents), what the chat widget shows (/api/v1/widget), the health check, the API's OpenAPI
 * description (/api/v1/openapi.json), and the JSON 404 for any /api path no other program serves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account/apikey.h"
#include "chat/agent.h"
#include "core/jfield.h"
#include "core/util.h"
#include "ingest/heartbeat.h"
#include "web/app.h"
#include "openapi_json.h" /* generated from shared/web/openapi.json */
#include "core/banned.h"

/* The key's agent (a publishable key's agent_id): NULL (the default agent) or an agent of the account. */
static int read_agent(struct request *req, json_t *body, const char **agent_id, struct fs_error *e)
{
	json_t *v = json_object_get(body, "agent_id");
	struct agent a;
	*agent_id = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !util_is_uuid(json_string_value(v)))
		return fs_fail(e, FS_EINVAL, "agent_id must be an agent's id (a UUID) or null");
	int rc = agent_load(req->db, req->key.account_id, json_string_value(v), &a, e);
	if (rc == FS_ENOTFOUND)
		return fs_fail(e, FS_EINVAL, "agent_id: no agent '%s' in this account", json_string_value(v));
	if (rc < 0)
		return rc;
	agent_release(&a);
	*agent_id = json_string_value(v);
	return 0;
}

/* expires_at: absent (0), null (1, never), or a future time (1 with *when). */
static int read_expiry(json_t *body, int *given, time_t *when, struct fs_error *e)
{
	json_t *v = json_object_get(body, "expires_at");
	const char *text = NULL;
	*given = 0;
	*when = 0;
	if (!v)
		return 0;
	*given = 1;
	if (json_is_null(v))
		return 0;
	int rc = jfield_text(body, "expires_at", 1, 64, &text, e);
	if (rc < 0)
		return rc;
	if (util_parse_time(text, when) < 0)
		return fs_fail(e, FS_EINVAL, "expires_at must be a date (YYYY-MM-DD) or an ISO 8601 date-time");
	if (*when <= time(NULL))
		return fs_fail(e, FS_EINVAL, "expires_at must be in the future");
	return 0;
}

static int create_key(struct request *req, struct fs_error *e)
{
	json_t *body, *key = NULL;
	const char *name = NULL, *scope = "default", *type = "secret";
	char origins[APIKEY_ORIGINS_SIZE] = "";
	int expiry_given;
	struct apikey_spec spec = {
		.account_id = req->key.account_id,
		.per_minute = req->cfg->keys_default_per_minute,
		.per_hour = req->cfg->keys_default_per_hour,
	};
	char secret[APIKEY_LEN + 1], id[37];
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	if ((rc = jfield_text(body, "name", 1, APIKEY_NAME_MAX, &name, e)) < 0)
		goto out;
	if (rc == 0) {
		rc = fs_fail(e, FS_EINVAL, "name is required: a string of 1 to %d characters", APIKEY_NAME_MAX);
		goto out;
	}
	if ((rc = jfield_int(body, "rate_limit_per_minute", 1, APIKEY_MAX_PER_MINUTE, &spec.per_minute, e)) < 0 ||
	    (rc = jfield_int(body, "rate_limit_per_hour", 1, APIKEY_MAX_PER_HOUR, &spec.per_hour, e)) < 0 ||
	    (rc = read_expiry(body, &expiry_given, &spec.expires_at, e)) < 0 ||
	    (rc = jfield_text(body, "scope", 1, 16, &scope, e)) < 0 ||
	    (rc = jfield_text(body, "type", 1, 16, &type, e)) < 0)
		goto out;
	if (strcmp(scope, "default") && strcmp(scope, "admin")) {
		rc = fs_fail(e, FS_EINVAL, "scope must be \"default\" or \"admin\"");
		goto out;
	}
	if (strcmp(type, "secret") && strcmp(type, "publishable")) {
		rc = fs_fail(e, FS_EINVAL, "type must be \"secret\" or \"publishable\"");
		goto out;
	}
	spec.publishable = !strcmp(type, "publishable");
	json_t *listed = json_object_get(body, "allowed_origins");
	if (spec.publishable) {
		if (!strcmp(scope, "admin")) {
			rc = fs_fail(e, FS_EINVAL, "a publishable key cannot have the admin scope");
			goto out;
		}
		if (!listed || json_is_null(listed)) {
			rc = fs_fail(e, FS_EINVAL, "allowed_origins is required for a publishable key: the origins of the"
						   " pages that use it, such as [\"https://www.example.com\"]");
			goto out;
		}
		if ((rc = apikey_origins_parse(listed, "allowed_origins", origins, e)) < 0 ||
		    (rc = read_agent(req, body, &spec.agent_id, e)) < 0)
			goto out;
	} else if ((listed && !json_is_null(listed)) ||
		   (json_object_get(body, "agent_id") && !json_is_null(json_object_get(body, "agent_id")))) {
		rc = fs_fail(e, FS_EINVAL, "%s applies only to a publishable key (\"type\": \"publishable\")",
			     listed && !json_is_null(listed) ? "allowed_origins" : "agent_id");
		goto out;
	}
	spec.name = name;
	spec.scope = scope;
	spec.origins = origins;
	if ((rc = apikey_create(req->db, &spec, secret, id, e)) < 0 ||
	    (rc = apikey_get(req->db, req->key.account_id, id, &key, e)) < 0)
		goto out;
	json_object_set_new(key, "key", json_string(secret));
	char location[64];
	snprintf(location, sizeof(location), "/api/v1/keys/%s", id);
	req_location(req, location);
	rc = req_reply(req, 201, key);
out:
	json_decref(body);
	return rc;
}

static int list_keys(struct request *req, struct fs_error *e)
{
	return req_list(req, "keys", apikey_list, e);
}

static int get_key(struct request *req, struct fs_error *e)
{
	json_t *key;
	if (!util_is_uuid(req->params[0]))
		return fs_fail(e, FS_ENOTFOUND, "no API key '%s'", req->params[0]);
	int rc = apikey_get(req->db, req->key.account_id, req->params[0], &key, e);
	return rc < 0 ? rc : req_reply(req, 200, key);
}

static int revoke_key(struct request *req, struct fs_error *e)
{
	json_t *key;
	const char *id = req->params[0];
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no API key '%s'", id);
	int rc = apikey_get(req->db, req->key.account_id, id, &key, e); /* 404 for another account's key */
	if (rc < 0)
		return rc;
	json_decref(key);
	if ((rc = apikey_revoke(req->db, req->key.account_id, id, NULL, e)) < 0 ||
	    (rc = apikey_get(req->db, req->key.account_id, id, &key, e)) < 0)
		return rc;
	return req_reply(req, 200, key);
}

static int update_key(struct request *req, struct fs_error *e)
{
	json_t *body, *key;
	const char *id = req->params[0];
	char origins[APIKEY_ORIGINS_SIZE] = "";
	struct apikey_patch p = { 0 };
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no API key '%s'", id);
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	static const char *const read_only[] = { "id", "prefix", "type", "scope", "key", "revoked", "revoked_at",
						 "created_at", "last_used_at" };
	for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
		if (json_object_get(body, read_only[i])) {
			rc = fs_fail(e, FS_EINVAL, "%s cannot be changed%s", read_only[i],
				     !strcmp(read_only[i], "type") || !strcmp(read_only[i], "scope")
					     ? ": revoke the key and create a new one" : "");
			goto out;
		}
	}
	if ((rc = jfield_text(body, "name", 1, APIKEY_NAME_MAX, &p.name, e)) < 0 ||
	    (rc = jfield_int(body, "rate_limit_per_minute", 1, APIKEY_MAX_PER_MINUTE, &p.per_minute, e)) < 0 ||
	    (rc = jfield_int(body, "rate_limit_per_hour", 1, APIKEY_MAX_PER_HOUR, &p.per_hour, e)) < 0 ||
	    (rc = read_expiry(body, &p.set_expiry, &p.expires_at, e)) < 0)
		goto out;
	if (json_is_null(json_object_get(body, "name"))) {
		rc = fs_fail(e, FS_EINVAL, "name must be a string of 1 to %d characters", APIKEY_NAME_MAX);
		goto out;
	}
	if (json_object_get(body, "allowed_origins")) {
		p.set_origins = 1;
		p.origins = origins;
		if ((rc = apikey_origins_parse(json_object_get(body, "allowed_origins"), "allowed_origins", origins, e)) < 0)
			goto out;
	}
	if (json_object_get(body, "agent_id")) {
		p.set_agent = 1;
		if ((rc = read_agent(req, body, &p.agent_id, e)) < 0)
			goto out;
	}
	if ((rc = apikey_update(req->db, req->key.account_id, id, &p, e)) < 0 ||
	    (rc = apikey_get(req->db, req->key.account_id, id, &key, e)) < 0)
		goto out;
	rc = req_reply(req, 200, key);
out:
	json_decref(body);
	return rc;
}

/* What a chat widget shows before the first question: the agent answering on the key. */
static int widget(struct request *req, struct fs_error *e)
{
	struct agent a;
	int rc = req->key.agent_id[0] ? agent_load(req->db, req->key.account_id, req->key.agent_id, &a, e)
				      : agent_default(req->db, req->key.account_id, &a, e);
	if (rc == FS_ENOTFOUND) /* the key's agent was deleted since: the default answers */
		rc = agent_default(req->db, req->key.account_id, &a, e);
	if (rc < 0)
		return rc;
	json_t *out = json_pack("{s:{s:s, s:s, s:s}}", "agent", "id", a.id, "name", a.name, "welcome_message",
				a.welcome_message);
	agent_release(&a);
	return req_reply(req, 200, out);
}

/* Agents are knowledge-base settings like documents, not credentials: any key of the account manages them. */
static int create_agent(struct request *req, struct fs_error *e)
{
	json_t *body, *agent;
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	rc = agent_create(req->db, req->key.account_id, body, &agent, e);
	json_decref(body);
	if (rc < 0)
		return rc;
	char location[64];
	snprintf(location, sizeof(location), "/api/v1/agents/%s", json_string_value(json_object_get(agent, "id")));
	req_location(req, location);
	return req_reply(req, 201, agent);
}

static int list_agents(struct request *req, struct fs_error *e)
{
	return req_list(req, "agents", agent_list, e);
}

static int get_agent(struct request *req, struct fs_error *e)
{
	struct agent a;
	int rc = agent_load(req->db, req->key.account_id, req->params[0], &a, e);
	if (rc < 0)
		return rc;
	json_t *agent = agent_json(&a);
	agent_release(&a);
	return req_reply(req, 200, agent);
}

static int update_agent(struct request *req, struct fs_error *e)
{
	json_t *body, *agent;
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	rc = agent_update(req->db, req->key.account_id, req->params[0], body, &agent, e);
	json_decref(body);
	return rc < 0 ? rc : req_reply(req, 200, agent);
}

static int delete_agent(struct request *req, struct fs_error *e)
{
	int rc = agent_delete(req->db, req->key.account_id, req->params[0], e);
	return rc < 0 ? rc : req_reply(req, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

static int health(struct request *req, struct fs_error *e)
{
	if (db_ping(req->db, e) < 0) {
		req_reply(req, 503, json_pack("{s:s, s:s, s:s, s:s}", "error", "upstream_unavailable", "message",
					      "database unavailable", "status", "unavailable", "database", "unavailable"));
		return 0;
	}
	/* The API serves without a worker, but uploads stay 'processing': "degraded", still 200 (a load balancer
	 * should keep sending requests here). */
	json_t *worker;
	int rc = heartbeat_status(req->db, &worker, e);
	if (rc < 0)
		return rc;
	int ok = json_is_true(json_object_get(worker, "ok"));
	return req_reply(req, 200, json_pack("{s:s, s:s, s:o}", "status", ok ? "ok" : "degraded", "database", "ok",
					       "worker", worker));
}

/* The API's OpenAPI description, built in. Its server URL becomes the prefix this request came in on + /api/v1,
 * so the document's paths resolve wherever the API is mounted. The same for every caller: cacheable. */
static int openapi(struct request *req, struct fs_error *e)
{
	json_error_t jerr;
	json_t *doc = json_loads(openapi_json, 0, &jerr);
	if (!doc)
		return fs_fail(e, FS_EINTERNAL, "the built-in OpenAPI description is not JSON: %s (line %d)", jerr.text,
			       jerr.line);
	struct buf url;
	buf_init(&url, BUF_NO_LIMIT);
	buf_addf(&url, "%s/api/v1", req->base);
	json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", buf_str(&url)));
	buf_release(&url);
	req->cache_control = "public, max-age=3600";
	return req_reply(req, 200, doc);
}

static const struct route routes[] = {
	{ "POST", "/api/v1/keys", create_key, ROUTE_ADMIN },
	{ "GET", "/api/v1/keys", list_keys, ROUTE_ADMIN },
	{ "GET", "/api/v1/keys/{id}", get_key, ROUTE_ADMIN },
	{ "PATCH", "/api/v1/keys/{id}", update_key, ROUTE_ADMIN },
	{ "DELETE", "/api/v1/keys/{id}", revoke_key, ROUTE_ADMIN },
	{ "GET", "/api/v1/widget", widget, ROUTE_VISITOR },
	{ "POST", "/api/v1/agents", create_agent, 0 },
	{ "GET", "/api/v1/agents", list_agents, 0 },
	{ "GET", "/api/v1/agents/{id}", get_agent, 0 },
	{ "PATCH", "/api/v1/agents/{id}", update_agent, 0 },
	{ "DELETE", "/api/v1/agents/{id}", delete_agent, 0 },
	{ "GET", "/api/v1/health", health, ROUTE_PUBLIC | ROUTE_NO_USAGE },
	{ "GET", "/api/v1/openapi.json", openapi, ROUTE_PUBLIC | ROUTE_NO_USAGE },
};

int main(void)
{
	static const struct app_program program = { "keys", routes, sizeof(routes) / sizeof(routes[0]), NULL,
						    NULL };
	return app_run(&program);
}
