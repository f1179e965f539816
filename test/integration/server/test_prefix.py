# The API under a path prefix (a folder of a site on shared hosting: https://example.com/faqsure/api/v1/…): found
# from the path itself, or fixed by [http] base_path; links it returns (Location) carry the prefix. Run as CGI,
# the way a host without FastCGI runs it.
import json
import shutil

from harness import KEYS_FCGI, check, eq, stack


def call(s, method, uri, key=None, body=None, conf=None):
    env = {"FAQSURE_CONFIG": str(conf)} if conf else None
    status, headers, payload, _ = s.cgi(KEYS_FCGI, method, uri, key=key,
                                        body=json.dumps(body).encode() if body is not None else b"", extra_env=env)
    return status, headers, json.loads(payload) if payload.strip() else None


def test_prefix_taken_from_the_path():
    s = stack()
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    status, _, body = call(s, "GET", "/faqsure/api/v1/health")
    eq((status, body.get("status")), (200, "ok"), "health under a folder")
    status, headers, body = call(s, "POST", "/shop/help/faqsure/api/v1/keys?x=1", key=admin, body={"name": "deep"})
    eq(status, 201, f"create under a two-level folder: {body}")
    eq(headers.get("location"), f"/shop/help/faqsure/api/v1/keys/{body['id']}", "Location keeps the prefix")
    status, headers, body = call(s, "POST", "/api/v1/agents", key=admin, body={"name": "rooted"})
    eq((status, headers.get("location")), (201, f"/api/v1/agents/{body['id']}"), "no prefix at the root")
    status, _, body = call(s, "GET", "/faqsure/api/v1/nothing-here", key=admin)
    eq((status, body.get("error")), (404, "not_found"), "an unknown route under the prefix")
    status, _, body = call(s, "GET", "/faqsure/apiary/v1/health")
    eq(status, 404, "a segment that only starts with api is not the API")


def test_configured_base_path():
    s = stack()
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    conf = s.config_copy("[http]\nbase_path = /kb/\n")
    try:
        status, _, body = call(s, "GET", "/kb/api/v1/health", conf=conf)
        eq((status, body.get("status")), (200, "ok"), "health under the configured base path")
        status, headers, body = call(s, "POST", "/kb/api/v1/keys", key=admin, body={"name": "based"}, conf=conf)
        eq((status, headers.get("location")), (201, f"/kb/api/v1/keys/{body['id']}"), "Location under base_path")
        status, _, body = call(s, "GET", "/other/api/v1/health", conf=conf)
        eq(status, 404, "a path outside the configured base path")
        check(body is not None and body.get("error") == "not_found", f"a JSON 404: {body}")
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)
