# HEAD on every GET route: the status and headers GET would give (Content-Length, X-Request-Id, X-RateLimit-*),
# no body; it counts as a request like GET does (quota, usage event).
import re

from harness import check, eq, expect_error, expect_request_id, fresh_minute, header_int, random_key
from probe import SPEND, need_probe
from events import expect_event, wait_events

DOCS = "/api/v1/documents"
KEYS = "/api/v1/keys"
HEALTH = "/api/v1/health"


def no_body(s, path, key=None):
    """HEAD over a plain socket: every byte the server sent after the headers. Returns (status, bytes after)."""
    raw = s.raw("HEAD", path, headers={"X-API-Key": key} if key else None)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    check(sep, f"HEAD {path}: no end of headers in {raw[:300]!r}")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    check(m is not None, f"HEAD {path}: status line {head[:80]!r}")
    eq(rest, b"", f"bytes after the headers of HEAD {path} (status {m.group(1).decode()})")
    return int(m.group(1))


def like_get(s, path, key=None, status=200, body_len=None):
    """GET then HEAD on the same path: same status, Content-Type, Content-Length (the GET body's length), fresh
    request ids, no body. Returns (get, head)."""
    g = s.get(path, key=key)
    h = s.head(path, key=key)
    what = f"HEAD {path}"
    eq(g.status, status, f"GET {path} ({g.describe()})")
    eq(h.status, status, f"{what} status")
    eq(h.body, b"", f"{what} body")
    eq(h.headers.get("Content-Type"), g.headers.get("Content-Type"), f"{what} Content-Type")
    check(g.headers.get("Content-Length") is not None, f"GET {path} has no Content-Length")
    eq(int(g.headers["Content-Length"]), len(g.body), f"GET {path} Content-Length vs its body")
    eq(h.headers.get("Content-Length"), g.headers.get("Content-Length"), f"{what} Content-Length")
    check(expect_request_id(h) != expect_request_id(g), f"{what} reuses the GET's request id")
    return g, h


def test_head_documents_like_get_and_counts(s):
    _, key = s.account_with_key("head", per_minute=5)
    fresh_minute(10)
    g, h = like_get(s, DOCS, key=key)
    eq(header_int(g, "X-RateLimit-Remaining", 0, 5), 4, "X-RateLimit-Remaining after GET")
    eq(header_int(h, "X-RateLimit-Remaining", 0, 5), 3, "X-RateLimit-Remaining after HEAD (a HEAD is a request)")
    eq(header_int(h, "X-RateLimit-Limit", 0, 10**9), 5, "X-RateLimit-Limit on HEAD")
    header_int(h, "X-RateLimit-Reset", 0, 60)
    eq(no_body(s, DOCS, key=key), 200, "raw HEAD status")
    eq(no_body(s, DOCS + "?limit=3&status=ready", key=key), 200, "raw HEAD with a query")
    eq(s.get(DOCS, key=key).status, 200, "the 5th request this minute")
    r = s.head(DOCS, key=key)  # the 6th
    eq(r.status, 429, f"HEAD over the limit ({r.describe()})")
    eq(r.body, b"", "body of the HEAD 429")
    header_int(r, "Retry-After", 1, 60)
    eq(header_int(r, "X-RateLimit-Remaining", 0, 5), 0, "X-RateLimit-Remaining on the HEAD 429")
    expect_request_id(r)
    events = wait_events(s, [expect_request_id(h), expect_request_id(r)])
    expect_event(events, expect_request_id(h), "the HEAD", method="HEAD", route=DOCS, status=200, error=None)
    expect_event(events, expect_request_id(r), "the HEAD 429", method="HEAD", route=DOCS, status=429,
                 error="rate_limit_exceeded")


def test_head_health_like_get(s):
    like_get(s, HEALTH)
    eq(no_body(s, HEALTH), 200, "raw HEAD /api/v1/health")


def test_head_keys_routes_like_get(s):
    account = s.new_account("head-keys")
    admin = s.new_key(account, name="admin", scope="admin")
    s.new_key(account, name="unused")  # never used: its object does not change between GET and HEAD
    unused = [k["id"] for k in s.get(KEYS, key=admin).json["keys"] if k["name"] == "unused"]
    eq(len(unused), 1, "the unused key in the list")
    like_get(s, f"{KEYS}/{unused[0]}", key=admin)
    h = s.head(KEYS, key=admin)
    eq((h.status, h.body), (200, b""), f"HEAD {KEYS}: status, body")
    header_int(h, "Content-Length", 1, 10**6)
    header_int(h, "X-RateLimit-Remaining", 0, 60)
    expect_request_id(h)


def test_head_errors_like_get(s):
    account = s.new_account("head-errors")
    admin = s.new_key(account, name="admin", scope="admin")
    plain = s.new_key(account, name="plain")
    cases = [(DOCS, None, 401), (DOCS, random_key(), 401), (DOCS + "?limit=0", plain, 400),
             (DOCS + "/nope/x", plain, 404), ("/api/v1/nope", None, 404), (KEYS, plain, 403),
             (f"{KEYS}/00000000-0000-4000-8000-000000000000", admin, 404)]
    bad = []
    for path, key, status in cases:
        try:
            like_get(s, path, key=key, status=status)
            eq(no_body(s, path, key=key), status, f"raw HEAD {path} status")
        except AssertionError as e:
            bad.append(f"HEAD {path} ({status}): {e}")
    check(not bad, "\n".join(bad))


def test_head_on_a_route_without_get_is_405(s):
    """HEAD is GET without the body; a path that has no GET (only POST/DELETE…) refuses it with 405."""
    need_probe()
    _, key = s.account_with_key("head-405")
    r = s.head(SPEND, key=key)
    eq(r.status, 405, f"HEAD {SPEND} ({r.describe()})")
    allow = {m.strip().upper() for m in (r.headers.get("Allow") or "").split(",") if m.strip()}
    eq(allow, {"POST"}, f"Allow of HEAD {SPEND}")
    eq(r.body, b"", "body of the HEAD 405")


def test_allow_lists_head_with_get(s):
    account = s.new_account("head-allow")
    admin = s.new_key(account, name="admin", scope="admin")
    for method, path in [("PUT", DOCS), ("DELETE", HEALTH), ("PATCH", KEYS),
                         ("PUT", f"{KEYS}/00000000-0000-4000-8000-000000000000")]:
        r = s.request(method, path, key=admin, body=b"{}" if method in ("PUT", "PATCH") else None)
        expect_error(r, 405, "method_not_allowed")
        allow = {m.strip().upper() for m in (r.headers.get("Allow") or "").split(",") if m.strip()}
        check({"GET", "HEAD"} <= allow, f"{method} {path}: Allow {r.headers.get('Allow')!r} should list GET and HEAD")
