# Keys for browsers and edits of keys: publishable keys (faqsure_pk_) with their allowed origins, what they may and
# may not call, the visitor token of their conversations, per-visitor limits, CORS preflights, PATCH
# /api/v1/keys/{id} taking effect at once, and the small things a browser client trips over (Authorization:
# Bearer, a byte order mark).
import json
import re
import shutil

from harness import KEYS_FCGI, check, eq, expect_error, fresh_minute, header_int, stack

KEYS = "/api/v1/keys"
CHAT = "/api/v1/chat"
WIDGET = "/api/v1/widget"
SITE = "http://shop.example.test:8443"
OTHER_SITE = "http://elsewhere.example.test"
PK_RE = re.compile(r"^faqsure_pk_[0-9A-Za-z]{43}$")
TOKEN_RE = re.compile(r"^fv_[0-9A-Za-z]{43}$")


def admin_account():
    s = stack()
    account = s.new_account()
    return s, account, s.new_key(account, name="admin", scope="admin")


def publishable(s, admin, origins=(SITE,), **fields):
    r = s.post(KEYS, {"name": "widget", "type": "publishable", "allowed_origins": list(origins), **fields}, key=admin)
    eq(r.status, 201, f"creating a publishable key ({r.describe()})")
    return r.json


def from_site(origin=SITE, token=None):
    h = {"Origin": origin}
    if token:
        h["X-Visitor-Token"] = token
    return h


def test_publishable_key_is_made_and_described():
    s, _, admin = admin_account()
    k = publishable(s, admin, origins=("https://WWW.Example.test:443/", "http://localhost:8081", "http://localhost:8081"))
    check(PK_RE.match(k["key"]) is not None, f"key: {k['key']!r}")
    eq(k["prefix"], k["key"][:17], "prefix")
    eq((k["type"], k["scope"], k["agent_id"]), ("publishable", "default", None), "type, scope, agent_id")
    eq(k["allowed_origins"], ["http://localhost:8081", "https://www.example.test"],
       "origins: lower-cased, default port and trailing slash dropped, duplicates once, sorted")
    listed = [x for x in s.get(KEYS, key=admin).json["keys"] if x["id"] == k["id"]][0]
    eq((listed["type"], listed["allowed_origins"]), ("publishable", k["allowed_origins"]), "the listed key")
    secret = s.post(KEYS, {"name": "server"}, key=admin).json
    eq((secret["type"], secret["allowed_origins"], secret["agent_id"]), ("secret", [], None), "a secret key")


def test_publishable_key_validation():
    s, _, admin = admin_account()
    cases = [
        ({"name": "w", "type": "publishable"}, "allowed_origins"),
        ({"name": "w", "type": "publishable", "allowed_origins": []}, "allowed_origins"),
        ({"name": "w", "type": "publishable", "allowed_origins": ["*"]}, "allowed_origins[0]"),
        ({"name": "w", "type": "publishable", "allowed_origins": [SITE, "https://a.test/path"]}, "allowed_origins[1]"),
        ({"name": "w", "type": "publishable", "allowed_origins": ["ftp://a.test"]}, "allowed_origins[0]"),
        ({"name": "w", "type": "publishable", "allowed_origins": ["https://a.test:99999"]}, "allowed_origins[0]"),
        ({"name": "w", "type": "publishable", "allowed_origins": "https://a.test"}, "allowed_origins"),
        ({"name": "w", "type": "publishable", "allowed_origins": [f"https://h{i}.test" for i in range(21)]},
         "allowed_origins"),
        ({"name": "w", "type": "publishable", "allowed_origins": [SITE], "scope": "admin"}, "admin"),
        ({"name": "w", "type": "publishable", "allowed_origins": [SITE],
          "agent_id": "00000000-0000-4000-8000-000000000000"}, "agent_id"),
        ({"name": "w", "type": "public"}, "type"),
        ({"name": "w", "allowed_origins": [SITE]}, "allowed_origins"),
    ]
    for body, field in cases:
        expect_error(s.post(KEYS, body, key=admin), 400, "invalid_request", field)


def test_publishable_key_needs_its_origin():
    s, _, admin = admin_account()
    pk = publishable(s, admin)["key"]
    body = expect_error(s.get(WIDGET, key=pk), 403, "forbidden")
    check("allowed_origins" in body["message"], f"the refusal says why: {body['message']!r}")
    r = s.get(WIDGET, key=pk, headers=from_site(OTHER_SITE))
    body = expect_error(r, 403, "forbidden", OTHER_SITE)
    r = s.get(WIDGET, key=pk, headers=from_site())
    eq(r.status, 200, f"from its origin ({r.describe()})")
    eq(r.headers.get("Access-Control-Allow-Origin"), SITE, "the exact origin, never *")
    check("Origin" in (r.headers.get("Vary") or ""), f"Vary: {r.headers.get('Vary')!r}")
    check("X-RateLimit-Remaining" in (r.headers.get("Access-Control-Expose-Headers") or ""),
          f"exposed headers: {r.headers.get('Access-Control-Expose-Headers')!r}")
    a = r.json["agent"]
    eq((a["name"], a["welcome_message"]), ("Default", "Hi! Ask me anything about our documentation."),
       "the widget's agent")


def test_publishable_key_may_only_chat():
    s, account, admin = admin_account()
    pk = publishable(s, admin)["key"]
    h = from_site()
    for method, path, body in [("GET", "/api/v1/documents", None), ("POST", "/api/v1/search", {"query": "x"}),
                               ("GET", KEYS, None), ("GET", "/api/v1/chat/conversations", None),
                               ("GET", "/api/v1/analytics/dashboard", None), ("GET", "/api/v1/agents", None),
                               ("POST", KEYS, {"name": "x"})]:
        r = s.request(method, path, key=pk, body=body, headers=h)
        expect_error(r, 403, "forbidden", "publishable")
    r = s.post("/api/v1/documents/upload", b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\""
               b"\r\n\r\nhello\r\n--b--\r\n", key=pk, headers={**h, "Content-Type": "multipart/form-data; boundary=b"})
    expect_error(r, 403, "forbidden")
    eq(s.get("/api/v1/documents", key=admin).json["count"], 0, "nothing was uploaded")
    for field, value in [("agent_id", "00000000-0000-4000-8000-000000000000"), ("use_rag", False), ("top_k", 3),
                         ("similarity_threshold", 0.1), ("use_hybrid", False)]:
        expect_error(s.post(CHAT, {"message": "hello", field: value}, key=pk, headers=h), 400, "invalid_request", field)


def test_visitor_token_owns_the_conversation():
    s, _, admin = admin_account()
    pk = publishable(s, admin)["key"]
    r = s.post(CHAT, {"message": "What are your opening hours?"}, key=pk, headers=from_site())
    eq(r.status, 200, f"first question ({r.describe()})")
    token, conv = r.json.get("visitor_token"), r.json["conversation_id"]
    check(TOKEN_RE.match(token or "") is not None, f"visitor_token: {token!r}")
    follow = {"message": "And on Sundays?", "conversation_id": conv}
    expect_error(s.post(CHAT, follow, key=pk, headers=from_site()), 404, "not_found")
    other = s.post(CHAT, {"message": "Hello?"}, key=pk, headers=from_site()).json
    check(other["visitor_token"] != token, "each new conversation has its own token")
    expect_error(s.post(CHAT, follow, key=pk, headers=from_site(token=other["visitor_token"])), 404, "not_found")
    r = s.post(CHAT, follow, key=pk, headers=from_site(token=token))
    eq(r.status, 200, f"the follow-up with the token ({r.describe()})")
    eq(r.json["conversation_id"], conv, "the same conversation")
    check("visitor_token" not in r.json, "a continued conversation gets no new token")
    path = f"/api/v1/chat/conversations/{conv}"
    expect_error(s.get(path, key=pk, headers=from_site()), 404, "not_found")
    expect_error(s.get(path, key=pk, headers=from_site(token=other["visitor_token"])), 404, "not_found")
    r = s.get(path, key=pk, headers=from_site(token=token))
    eq(r.status, 200, f"reading it with the token ({r.describe()})")
    eq([m["role"] for m in r.json["messages"]], ["user", "assistant"] * 2, "both turns")
    eq(r.json["visitor"], True, "a visitor's conversation")
    answer = r.json["messages"][-1]["id"]
    fb = f"/api/v1/chat/messages/{answer}/feedback"
    expect_error(s.post(fb, {"rating": "down"}, key=pk, headers=from_site(token=other["visitor_token"])), 404,
                 "not_found")
    r = s.post(fb, {"rating": "down", "comment": "closed on Sundays?"}, key=pk, headers=from_site(token=token))
    eq(r.status, 200, f"feedback with the token ({r.describe()})")
    # The account's own (secret) key sees the visitor's conversation and the feedback.
    r = s.get(path, key=admin)
    eq((r.status, r.json["messages"][-1]["feedback"]["rating"]), (200, "down"), "the account sees it")
    down = s.get("/api/v1/chat/conversations?downvoted=true", key=admin).json["conversations"]
    eq([c["id"] for c in down], [conv], "the down-voted filter")


def test_conversation_filters():
    s, _, admin = admin_account()
    plain = s.post(CHAT, {"message": "anything at all"}, key=admin).json
    listed = s.get("/api/v1/chat/conversations", key=admin).json["conversations"]
    eq([c["id"] for c in listed], [plain["conversation_id"]], "unfiltered")
    fell_back = [c["id"] for c in s.get("/api/v1/chat/conversations?fallbacks=true", key=admin).json["conversations"]]
    eq(fell_back, [plain["conversation_id"]] if plain["fallback_triggered"] else [], "fallbacks=true")
    eq(s.get("/api/v1/chat/conversations?downvoted=true", key=admin).json["conversations"], [], "none rated down")
    expect_error(s.get("/api/v1/chat/conversations?fallbacks=yes", key=admin), 400, "invalid_request", "fallbacks")


def test_preflight_answers_only_known_origins():
    s, _, admin = admin_account()
    k = publishable(s, admin, origins=("http://preflight.example.test",))
    pre = {"Origin": "http://preflight.example.test", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "x-api-key, content-type"}
    r = s.request("OPTIONS", CHAT, headers=pre, parse_json=False)
    eq(r.status, 204, f"preflight from a listed origin ({r.describe()})")
    eq(r.headers.get("Access-Control-Allow-Origin"), "http://preflight.example.test", "allowed origin")
    check("POST" in r.headers.get("Access-Control-Allow-Methods", ""), f"methods: {dict(r.headers)}")
    allowed = r.headers.get("Access-Control-Allow-Headers", "").lower()
    check("x-api-key" in allowed and "content-type" in allowed and "x-visitor-token" in allowed,
          f"allowed headers: {allowed!r}")
    header_int(r, "Access-Control-Max-Age", 1, 86400)
    eq(r.body, b"", "a 204 has no body")
    r = s.request("OPTIONS", CHAT, headers={**pre, "Origin": "http://unknown.example.test"})
    expect_error(r, 403, "forbidden", "unknown.example.test")
    check("Access-Control-Allow-Origin" not in r.headers, "no CORS headers for an unknown origin")
    r = s.request("OPTIONS", "/api/v1/no-such-route", headers=pre)
    expect_error(r, 404, "not_found")
    r = s.request("OPTIONS", "/api/v1/documents", parse_json=False)
    eq(r.status, 204, f"a plain OPTIONS ({r.describe()})")
    check("GET" in r.headers.get("Allow", ""), f"Allow: {r.headers.get('Allow')!r}")
    s.delete(f"{KEYS}/{k['id']}", key=admin)
    r = s.request("OPTIONS", CHAT, headers=pre)
    expect_error(r, 403, "forbidden")


def test_secret_key_gets_no_cors_by_default():
    s, _, admin = admin_account()
    r = s.get("/api/v1/documents", key=admin, headers={"Origin": "http://page.example.test"})
    eq(r.status, 200, f"a secret key from a page ({r.describe()})")
    check("Access-Control-Allow-Origin" not in r.headers, "no CORS for a secret key unless configured")


def test_bad_key_from_a_known_origin_can_be_read():
    s, _, admin = admin_account()
    publishable(s, admin, origins=("http://reader.example.test",))
    r = s.get(WIDGET, key="faqsure_pk_" + "x" * 43, headers={"Origin": "http://reader.example.test"})
    expect_error(r, 401, "invalid_api_key")
    eq(r.headers.get("Access-Control-Allow-Origin"), "http://reader.example.test", "a page can read the 401")


def test_per_visitor_limit():
    s, _, admin = admin_account()
    k = publishable(s, admin, rate_limit_per_minute=1000)
    fresh_minute(6)
    codes = [s.get(WIDGET, key=k["key"], headers=from_site()).status for _ in range(11)]
    eq(codes, [200] * 10 + [429], "the default 10 requests per minute per visitor")
    r = s.get(WIDGET, key=k["key"], headers=from_site())
    body = expect_error(r, 429, "rate_limit_exceeded", "per visitor")
    header_int(r, "Retry-After", 1, 60)
    eq(r.headers.get("Access-Control-Allow-Origin"), SITE, "the page can read the 429")
    eq((body["limit_per_minute"], body["limit_per_hour"]), (10, 100), "the visitor limits")
    used = s.get(f"{KEYS}/{k['id']}", key=admin)
    eq(used.status, 200, "the key is still fine")


def test_patch_key_takes_effect_at_once():
    s, _, admin = admin_account()
    k = s.post(KEYS, {"name": "server", "rate_limit_per_minute": 100}, key=admin).json
    fresh_minute(6)
    eq(s.get("/api/v1/documents", key=k["key"]).status, 200, "the key works")
    r = s.request("PATCH", f"{KEYS}/{k['id']}", key=admin, body={"name": "renamed", "rate_limit_per_minute": 1,
                                                                 "rate_limit_per_hour": 500,
                                                                 "expires_at": "2099-01-01"})
    eq(r.status, 200, f"PATCH ({r.describe()})")
    eq((r.json["name"], r.json["rate_limit_per_minute"], r.json["rate_limit_per_hour"], r.json["expires_at"]),
       ("renamed", 1, 500, "2099-01-01T00:00:00Z"), "the edited key")
    r = s.get("/api/v1/documents", key=k["key"])
    expect_error(r, 429, "rate_limit_exceeded", "1 requests per minute")
    r = s.request("PATCH", f"{KEYS}/{k['id']}", key=admin, body={"rate_limit_per_minute": 100, "expires_at": None})
    eq((r.status, r.json["expires_at"]), (200, None), "expiry cleared")
    eq(s.get("/api/v1/documents", key=k["key"]).status, 200, "the raised limit holds at once")
    for body, field in [({"type": "publishable"}, "type"), ({"scope": "admin"}, "scope"), ({"name": ""}, "name"),
                        ({"name": None}, "name"), ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
                        ({"expires_at": "2001-01-01"}, "expires_at"), ({"allowed_origins": [SITE]}, "allowed_origins")]:
        expect_error(s.request("PATCH", f"{KEYS}/{k['id']}", key=admin, body=body), 400, "invalid_request", field)
    s.delete(f"{KEYS}/{k['id']}", key=admin)
    expect_error(s.request("PATCH", f"{KEYS}/{k['id']}", key=admin, body={"name": "x"}), 409, "conflict")
    expect_error(s.request("PATCH", f"{KEYS}/00000000-0000-4000-8000-000000000000", key=admin, body={"name": "x"}),
                 404, "not_found")
    other_s, other_account, other_admin = admin_account()
    expect_error(s.request("PATCH", f"{KEYS}/{k['id']}", key=other_admin, body={"name": "x"}), 404, "not_found")


def test_patch_origins_and_agent_of_a_publishable_key():
    s, _, admin = admin_account()
    k = publishable(s, admin)
    eq(s.get(WIDGET, key=k["key"], headers=from_site()).status, 200, "from the first origin")
    agent = s.post("/api/v1/agents", {"name": "Helper", "welcome_message": "Ask me about the shop."}, key=admin).json
    r = s.request("PATCH", f"{KEYS}/{k['id']}", key=admin, body={"allowed_origins": [OTHER_SITE],
                                                                 "agent_id": agent["id"]})
    eq((r.status, r.json["allowed_origins"], r.json["agent_id"]), (200, [OTHER_SITE], agent["id"]), "edited")
    expect_error(s.get(WIDGET, key=k["key"], headers=from_site()), 403, "forbidden")
    r = s.get(WIDGET, key=k["key"], headers=from_site(OTHER_SITE))
    eq((r.status, r.json["agent"]["name"], r.json["agent"]["welcome_message"]),
       (200, "Helper", "Ask me about the shop."), "the new origin and agent")
    r = s.post(CHAT, {"message": "hello"}, key=k["key"], headers=from_site(OTHER_SITE))
    eq((r.status, r.json.get("agent_id")), (200, agent["id"]), "the key's agent answers")


def test_bearer_and_byte_order_mark():
    s, _, admin = admin_account()
    r = s.get("/api/v1/documents", headers={"Authorization": f"Bearer {admin}"})
    expect_error(r, 401, "invalid_api_key", "X-API-Key")
    r = s.post("/api/v1/agents", b"\xef\xbb\xbf" + b'{"name": "with a BOM"}', key=admin)
    eq((r.status, r.json.get("name")), (201, "with a BOM"), f"a JSON body after a byte order mark ({r.describe()})")


def test_configured_cors_for_secret_keys_and_forwarded_addresses():
    """[cors] allowed_origins and [widget] settings, run as CGI with a configuration of their own."""
    s, _, admin = admin_account()
    k = publishable(s, admin, rate_limit_per_minute=1000)
    conf = s.config_copy("[cors]\nallowed_origins = https://admin.example.test, https://ops.example.test\n"
                         "[widget]\nvisitor_per_minute = 2\ntrust_forwarded_for = true\n")
    try:
        def cgi(path, key, **env):
            status, headers, body, _ = s.cgi(KEYS_FCGI, "GET", path, key=key,
                                             extra_env={"FAQSURE_CONFIG": str(conf), **env})
            return status, headers, json.loads(body)
        status, headers, _ = cgi(KEYS, admin, HTTP_ORIGIN="https://ops.example.test")
        eq((status, headers.get("access-control-allow-origin")), (200, "https://ops.example.test"),
           "a secret key from a configured origin")
        status, headers, _ = cgi(KEYS, admin, HTTP_ORIGIN="https://other.example.test")
        eq((status, headers.get("access-control-allow-origin")), (200, None), "from an origin not configured")
        fresh_minute(6)
        site = {"HTTP_ORIGIN": SITE}
        # Two visitors behind one proxy: the last X-Forwarded-For entry (the proxy's own) tells them apart.
        a = [cgi(WIDGET, k["key"], HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1", **site)[0] for _ in range(3)]
        b = [cgi(WIDGET, k["key"], HTTP_X_FORWARDED_FOR="198.51.100.2", **site)[0] for _ in range(2)]
        eq((a, b), ([200, 200, 429], [200, 200]), "each forwarded address has its own 2 per minute")
        status, _, body = cgi(WIDGET, k["key"], HTTP_X_FORWARDED_FOR="198.51.100.2", **site)
        eq(status, 429, "the second visitor's third request")
        check("per visitor" in body["message"], f"the visitor limit is named: {body['message']!r}")
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)
