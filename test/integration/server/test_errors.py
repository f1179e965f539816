# Every error is JSON: unknown routes, wrong methods, bad bodies, oversized bodies, and what Apache itself answers.
from harness import check, eq, expect_error, expect_healthy, expect_request_id, fresh_minute, random_key, stack

KEYS = "/api/v1/keys"
DOCS = "/api/v1/documents"
MIB = 1024 * 1024


def expect_json_error(resp, what):
    """Any 4xx/5xx that is a JSON error object with error and message strings, the JSON content type and an id."""
    try:
        check(400 <= resp.status < 600, f"expected an error status, got {resp.describe()}")
        check(isinstance(resp.json, dict), f"body is not an object: {resp.json!r}")
        check(isinstance(resp.json.get("error"), str) and isinstance(resp.json.get("message"), str),
              f"body lacks error/message strings: {resp.json!r}")
        check(resp.headers.get("Content-Type", "").startswith("application/json"),
              f"Content-Type: {resp.headers.get('Content-Type')!r}")
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None


def admin_key():
    s = stack()
    account = s.new_account()
    return s, s.new_key(account, name="admin", scope="admin", per_minute=1000)


def test_unknown_paths_are_json_404():
    s, key = admin_key()
    bad = []
    for path in ["/api/v1/nope", "/api/v1/documentsx", "/api/v1/keys/a/b", "/api/v1/health/extra", "/api/v1",
                 "/api/v1/", "/api/v2/documents", "/api/", "/api/v1/chat/nothing-here"]:
        try:
            r = s.get(path, key=key)
            expect_error(r, 404, "not_found")
            expect_request_id(r)
            check(r.headers.get("Content-Type", "").startswith("application/json"),
                  f"Content-Type: {r.headers.get('Content-Type')!r}")
        except AssertionError as e:
            bad.append(f"GET {path}: {e}")
    check(not bad, "\n".join(bad))


def test_unknown_path_without_key_is_json(s):
    r = s.get("/api/v1/nope")
    check(r.status in (401, 404), f"status: {r.describe()}")
    expect_json_error(r, "GET /api/v1/nope without a key")


def test_wrong_method_405_with_allow():
    s, key = admin_key()
    bad = []
    for method, path, must_allow in [("PUT", DOCS, {"GET"}), ("DELETE", DOCS, {"GET"}),
                                     ("POST", "/api/v1/health", {"GET"}), ("DELETE", KEYS, {"GET", "POST"}),
                                     ("PATCH", KEYS, {"GET", "POST"}),
                                     ("PUT", f"{KEYS}/00000000-0000-4000-8000-000000000000", {"GET", "DELETE"}),
                                     ("POST", f"{KEYS}/00000000-0000-4000-8000-000000000000", {"GET", "DELETE"})]:
        try:
            r = s.request(method, path, key=key, body=b"{}" if method in ("PUT", "POST", "PATCH") else None)
            expect_error(r, 405, "method_not_allowed")
            allow = r.headers.get("Allow")
            check(allow is not None, "no Allow header")
            methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
            check(must_allow <= methods, f"Allow {allow!r} should list {sorted(must_allow)}")
            check(method not in methods, f"Allow {allow!r} lists the refused method")
            expect_request_id(r)
        except AssertionError as e:
            bad.append(f"{method} {path}: {e}")
    check(not bad, "\n".join(bad))


def test_malformed_json_400():
    s, key = admin_key()
    bad = []
    for body in [b'{"name": ', b"not json", b"[1, 2]", b'"a string"', b"", b'{"name": "x"} trailing',
                 b'{"name": "\xff\xfe"}', b"[" * 100000 + b"]" * 100000, b'{"name": "a\x00b"}']:
        try:
            r = s.post(KEYS, body, key=key)
            expect_error(r, 400, "invalid_request")
        except AssertionError as e:
            bad.append(f"body {body[:30]!r}: {e}")
    check(not bad, "\n".join(bad))
    r = s.get(KEYS, key=key)
    eq(len(r.json["keys"]), 1, "keys created by malformed bodies")


def test_body_over_limit_413():
    s, key = admin_key()
    body = b'{"name": "big", "pad": "' + b"x" * MIB + b'"}'
    r = s.post(KEYS, body, key=key, timeout=30)
    expect_error(r, 413, "file_too_large")
    expect_request_id(r)


def test_body_of_exactly_one_mib_is_read():
    s, key = admin_key()
    head, tail = b'{"name": "exactly-1MiB", "pad": "', b'"}'
    body = head + b"x" * (MIB - len(head) - len(tail)) + tail
    eq(len(body), MIB, "body size")
    r = s.post(KEYS, body, key=key, timeout=30)
    eq(r.status, 201, f"status for a body of exactly 1 MiB ({r.describe()})")
    eq(r.json["name"], "exactly-1MiB", "name")


def test_request_ids_are_fresh_on_every_response(s):
    _, key = s.account_with_key(per_minute=1)
    fresh_minute(10)
    responses = [s.get("/api/v1/health"), s.get("/api/v1/health"), s.get(DOCS), s.get(DOCS, key=random_key()),
                 s.get(DOCS, key=key), s.get(DOCS, key=key), s.get("/api/v1/nope", key=key),
                 s.get(DOCS + "?limit=0", key=key)]
    eq([r.status for r in responses][:6], [200, 200, 401, 401, 200, 429], "statuses")
    ids = [expect_request_id(r) for r in responses]
    eq(len(set(ids)), len(ids), f"distinct request ids among {ids}")


def test_web_server_answers_are_json(s):
    """Requests that Apache refuses itself (before our program runs) still get JSON."""
    bad = []
    cases = [
        ("GET", "/api/v1/../../../../etc/passwd", {}),
        ("GET", "/api/v1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", {}),
        ("GET", "/api/v1/documents%2f..%2f..%2fkeys", {}),
        ("GET", "/api/v1/%00", {}),
        ("GET", "/api/v1/documents?" + "q=" + "a" * 9000, {}),
        ("GET", "/api/v1/" + "a" * 9000, {}),
        ("GET", DOCS, {"X-API-Key": "faqsure_sk_" + "x" * 9000}),
        ("GET", DOCS, {f"X-Filler-{i}": "y" for i in range(120)}),
        ("TRACE", "/api/v1/health", {}),
    ]
    for method, path, headers in cases:
        what = f"{method} {path[:60]}{'...' if len(path) > 60 else ''} ({len(headers)} extra headers)"
        try:
            r = s.request(method, path, headers=headers)
            expect_json_error(r, what)
            check(b"root:" not in r.body, f"{what}: looks like /etc/passwd")
        except AssertionError as e:
            bad.append(str(e) if str(e).startswith(what) else f"{what}: {e}")
    check(not bad, f"{len(bad)} of {len(cases)} not JSON errors:\n" + "\n".join(bad))


def test_web_server_answers_carry_request_id(s):
    """API.md: every response carries X-Request-Id, so also the ones Apache writes itself."""
    bad = []
    for method, path, headers in [("GET", "/api/v1/" + "a" * 9000, {}), ("GET", "/api/v1/../../../../etc/passwd", {}),
                                  ("GET", DOCS, {"X-API-Key": "faqsure_sk_" + "x" * 9000}),
                                  ("TRACE", "/api/v1/health", {}), ("GET", "/api/v1/%00", {})]:
        r = s.request(method, path, headers=headers)
        try:
            expect_request_id(r)
        except AssertionError as e:
            bad.append(f"{method} {path[:40]} -> {r.status}: {e}")
    check(not bad, f"{len(bad)} of 5 without a request id:\n" + "\n".join(bad))


def test_path_normalisation_still_routes(s):
    r = s.get("/api/v1/documents/../health")
    expect_healthy(r, "/api/v1/documents/../health")
