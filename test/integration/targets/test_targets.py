# One black-box suite on every deployment FAQSure supports (README "Deploy"): Apache with mod_fcgid (a
# VirtualHost, from apache-example.conf), the shared-hosting bundle in a folder with .htaccess (make dist, a user
# who is not root, MariaDB over TCP with a password, the worker run by cron), Apache with plain CGI (mod_cgi),
# nginx with spawn-fcgi (vendor-config/nginx.conf), and lighttpd (vendor-config/lighttpd.conf). Each test runs on
# each of them through HTTP only: keys and their limits, upload → ready → search → chat, streamed answers, the
# JSON errors the web server raises itself (404, 405, 413, 414), the health route.
import json
import time

import pytest

from harness import (REQUEST_ID_RE, check, eq, expect_error, expect_request_id, fresh_minute, kept_stack,
                     keep_stack, random_key, web_stack)
from hosting import HostingSite
from kb import KB_FILES

TARGETS = ("apache", "htaccess", "cgi", "nginx", "lighttpd")
WEB_SERVER = {"apache": "apache", "cgi": "apache-cgi", "nginx": "nginx", "lighttpd": "lighttpd"}
_errors = {}


def target(name):
    """The stack of a deployment, started on first use and stopped at the end of the run."""
    if name in _errors:
        raise AssertionError(f"the {name} target did not start: {_errors[name]}")
    try:
        if name != "htaccess":
            return web_stack(WEB_SERVER[name])
        site = kept_stack("htaccess")
        if site is None:
            site = HostingSite()
            keep_stack("htaccess", site)  # stopped with the run's stacks, also when it fails to start
            site.start()
        return site
    except Exception as e:
        _errors[name] = str(e)
        raise


@pytest.fixture(params=TARGETS)
def t(request):
    return target(request.param)


def json_error(r, status, code=None):
    """A JSON error of the API's shape, whoever raised it (the program or the web server)."""
    eq(r.status, status, f"status ({r.describe()})")
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"{status} is not JSON: {r.headers.get('Content-Type')!r} ({r.describe()})")
    check(isinstance(r.json, dict) and isinstance(r.json.get("error"), str) and r.json.get("message"),
          f"{status}: not an error object: {r.json!r}")
    if code:
        eq(r.json["error"], code, f"error code ({r.describe()})")


_kb = {}


def kb(t):
    """An account with the search tests' four documents on this target, uploaded once and ready."""
    if id(t) not in _kb:
        _, admin = t.docs_key("targets", unlimited=True)
        ids = {}
        for name, data in KB_FILES:
            ids[name] = t.upload_ok(admin, data, name)
        for name, doc_id in ids.items():
            # the worker decides it: a daemon at once, the hosting site's cron-run worker within its period
            doc = t.document_decided(admin, doc_id)
            eq(doc["status"], "ready", f"{name}: {doc}")
        _kb[id(t)] = (admin, ids)
    return _kb[id(t)]


def test_health_answers_without_a_key(t):
    r = t.get("/api/v1/health")
    eq(r.status, 200, f"health ({r.describe()})")
    expect_request_id(r)
    eq(r.json.get("status"), "ok", f"health {r.json!r}")
    eq(r.json.get("database"), "ok", f"health {r.json!r}")


def test_keys_are_created_checked_and_limited(t):
    _, admin = t.account_with_key("targets-keys", scope="admin", per_minute=1000, per_hour=10000)
    r = t.post("/api/v1/keys", {"name": "three a minute", "rate_limit_per_minute": 3}, key=admin)
    eq(r.status, 201, f"POST /api/v1/keys ({r.describe()})")
    location = r.headers.get("Location", "")
    # the link carries the folder the API is served under (the hosting site's /faqsure)
    eq(location, f"{getattr(t, 'prefix', '')}/api/v1/keys/{r.json['id']}", "Location of the new key")
    limited = r.json["key"]
    fresh_minute(need=20)
    for i in range(3):
        r = t.get("/api/v1/documents", key=limited)
        eq(r.status, 200, f"request {i + 1} of 3 ({r.describe()})")
        eq(r.headers.get("X-RateLimit-Limit"), "3", "X-RateLimit-Limit")
        eq(r.headers.get("X-RateLimit-Remaining"), str(2 - i), "X-RateLimit-Remaining")
    r = t.get("/api/v1/documents", key=limited)
    expect_error(r, 429, "rate_limit_exceeded")
    check(int(r.headers.get("Retry-After", "0")) >= 1, f"Retry-After {r.headers.get('Retry-After')!r}")
    expect_error(t.get("/api/v1/documents", key=random_key()), 401, "invalid_api_key")
    expect_error(t.get("/api/v1/documents"), 401, "invalid_api_key")
    r = t.get("/api/v1/documents", key=limited[:-1] + ("A" if limited[-1] != "A" else "B"))
    expect_error(r, 401, "invalid_api_key")


def test_upload_becomes_ready_and_answers_search_and_chat(t):
    key, ids = kb(t)
    r = t.post("/api/v1/search", {"query": "How long do I have to return an item?", "top_k": 3}, key=key)
    eq(r.status, 200, f"search ({r.describe()})")
    results = r.json["results"]
    check(results, f"search found nothing: {r.json!r}")
    eq(results[0]["document_id"], ids["returns-policy.txt"], f"first result {results[0]!r}")
    r = t.post("/api/v1/chat", {"message": "What is your return policy?"}, key=key)
    eq(r.status, 200, f"chat ({r.describe()})")
    body = r.json
    check(not body["fallback_triggered"], f"chat fell back: {body!r}")
    check("30 days" in body["message"], f"the answer gives the return window: {body['message']!r}")
    eq(body["sources"][0]["document_filename"], "returns-policy.txt", "the answer's source")


def test_chat_streams_server_sent_events(t):
    key, _ = kb(t)
    with t.sse("/api/v1/chat", {"message": "What is your return policy?", "stream": True}, key=key) as st:
        eq(st.status, 200, "status of the stream")
        check(st.headers.get("content-type", "").startswith("text/event-stream"),
              f"Content-Type {st.headers.get('content-type')!r}")
        events = list(st)
    names = [e.name for e in events]
    check(names and names[-1] == "done", f"the stream ends with done: {names}")
    check("delta" in names, f"the stream has delta events: {names}")
    text = "".join(e.data["content"] for e in events if e.name == "delta")
    done = events[-1].data
    eq(" ".join(text.split()), " ".join(done["message"].split()), "the deltas add up to the message")
    check("30 days" in done["message"] and not done["fallback_triggered"], f"the streamed answer {done!r}")


def test_web_server_errors_are_json(t):
    _, key = t.docs_key("targets-errors")
    json_error(t.get("/api/v1/no-such-route", key=key), 404, "not_found")
    json_error(t.get("/api/no-such-version"), 404, "not_found")
    r = t.request("DELETE", "/api/v1/health")
    json_error(r, 405, "method_not_allowed")
    # a body above what an upload may be (25 MB): refused by the web server (or the program) before it is stored
    big = b"x" * (28 * 1024 * 1024)
    r = t.request("POST", "/api/v1/documents/upload", key=key, body=big,
                  headers={"Content-Type": "multipart/form-data; boundary=zzz"}, timeout=60)
    json_error(r, 413, "file_too_large")
    # a request line longer than the web server takes: 414 (lighttpd counts the request line among the headers
    # and answers 431)
    long_url = "/api/v1/documents?q=" + "a" * 20000
    if isinstance(t, HostingSite):
        # Refused before any .htaccess is read: the host's own 414 page answers (README), not one of ours (so it
        # is not among the responses checked against the OpenAPI description: raw() records nothing).
        answer = t.raw("GET", long_url, headers={"X-API-Key": key})
        check(answer.startswith(b"HTTP/1.1 414 "), f"a 20,000-character URL: {answer[:200]!r}")
        return
    r = t.request("GET", long_url, key=key, parse_json=False)
    eq(r.status, 431 if getattr(t, "web_server", "") == "lighttpd" else 414, f"a 20,000-character URL ({r.describe()})")
    r.json = json.loads(r.body.decode())
    json_error(r, r.status)
    check(REQUEST_ID_RE.match(r.headers.get("X-Request-Id", "")) is not None or t.web_server != "apache",
          f"Apache's own 414 carries an X-Request-Id: {dict(r.headers)!r}")


def test_refused_request_with_a_large_body_still_gets_its_answer(t):
    """A request refused before its body is read (here: a wrong key) gets its JSON answer, not a reset connection:
    a CGI program reads and drops the rest of the body, which the web server writes before reading the answer."""
    body = b"x" * (3 * 1024 * 1024)
    r = t.request("POST", "/api/v1/documents/upload", key=random_key(), body=body,
                  headers={"Content-Type": "multipart/form-data; boundary=zzz"}, timeout=60)
    expect_error(r, 401, "invalid_api_key")
