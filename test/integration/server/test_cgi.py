# Plain CGI mode: the FastCGI binaries serve one request from the environment and stdin, and exit.
import json

from harness import DOCUMENTS_FCGI, KEYS_FCGI, KEY_RE, REQUEST_ID_RE, check, eq

EMPTY = {"documents": [], "count": 0, "has_more": False, "next_cursor": None}


def parse(payload, what):
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AssertionError(f"{what}: body is not JSON: {payload[:300]!r}") from None


def common(status, headers, rc, what):
    eq(rc, 0, f"{what}: exit code")
    check("status" in headers, f"{what}: no Status header line: {headers}")
    check(headers.get("content-type", "").startswith("application/json"),
          f"{what}: Content-Type {headers.get('content-type')!r}")
    check(REQUEST_ID_RE.match(headers.get("x-request-id", "")) is not None,
          f"{what}: X-Request-Id {headers.get('x-request-id')!r}")


def test_cgi_documents_list(s):
    _, key = s.account_with_key(per_minute=50)
    status, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", "/api/v1/documents", key=key)
    common(status, headers, rc, "GET /api/v1/documents")
    eq(status, 200, f"status ({headers.get('status')}, {payload[:200]!r})")
    eq(parse(payload, "documents"), EMPTY, "body")
    eq(headers.get("x-ratelimit-limit"), "50", "X-RateLimit-Limit")
    eq(headers.get("x-ratelimit-remaining"), "49", "X-RateLimit-Remaining")


def test_cgi_no_key_401(s):
    status, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", "/api/v1/documents")
    common(status, headers, rc, "GET without a key")
    eq(status, 401, "status")
    body = parse(payload, "401")
    eq(body.get("error"), "invalid_api_key", "error")
    check(isinstance(body.get("message"), str), f"message: {body!r}")


def test_cgi_query_string_400(s):
    _, key = s.account_with_key()
    status, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", "/api/v1/documents?limit=0", key=key)
    common(status, headers, rc, "GET ?limit=0")
    eq(status, 400, f"status ({payload[:200]!r})")
    eq(parse(payload, "400").get("error"), "invalid_request", "error")


def test_cgi_post_body_from_stdin(s):
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    body = json.dumps({"name": "from-cgi", "rate_limit_per_minute": 7}).encode()
    status, headers, payload, rc = s.cgi(KEYS_FCGI, "POST", "/api/v1/keys", key=admin, body=body)
    common(status, headers, rc, "POST /api/v1/keys")
    eq(status, 201, f"status ({payload[:200]!r})")
    k = parse(payload, "201")
    check(KEY_RE.match(k.get("key", "")) is not None, f"key: {k.get('key')!r}")
    eq(k.get("rate_limit_per_minute"), 7, "rate_limit_per_minute")
    r = s.get("/api/v1/documents", key=k["key"])  # the key made through CGI works through Apache
    eq(r.status, 200, f"the CGI-created key over HTTP ({r.describe()})")


def test_cgi_unknown_route_404(s):
    _, key = s.account_with_key()
    status, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", "/api/v1/documents/x/y/z", key=key)
    common(status, headers, rc, "GET unknown route")
    eq(status, 404, f"status ({payload[:200]!r})")
    eq(parse(payload, "404").get("error"), "not_found", "error")
