# Usage events: one row per request (refused ones included) with the response's X-Request-Id, written by the
# programs within about a second (FastCGI) or before the process exits (CGI); none for the health check.
# Also: the pruning of old rate-limit counter rows, which runs on the same after-the-answer path.
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from harness import DOCUMENTS_FCGI, REQUEST_ID_RE, check, eq, expect_request_id, fresh_minute, random_key, sql_quote
from probe import SPEND, need_probe
from events import events, expect_event, wait_events

DOCS = "/api/v1/documents"


def test_one_event_per_request_with_its_request_id(s):
    account, key = s.account_with_key("usage", per_minute=3)
    kid, aid = s.key_id(key), s.account_id(account)
    some_id = str(uuid.uuid4())
    fresh_minute(15)
    script = [  # method, path, body, expected status, error, route
        ("GET", DOCS, None, 200, None, "/api/v1/documents"),
        ("GET", DOCS + "?limit=0", None, 400, "invalid_request", "/api/v1/documents"),
        ("GET", DOCS + "?limit=5", None, 200, None, "/api/v1/documents"),
        ("GET", DOCS, None, 429, "rate_limit_exceeded", "/api/v1/documents"),
        ("DELETE", f"/api/v1/keys/{some_id}", None, 429, "rate_limit_exceeded", "/api/v1/keys/{id}"),
        ("GET", DOCS + "/x/y/z", None, 404, "not_found", "(none)"),
        ("PUT", DOCS, b"{}", 405, "method_not_allowed", "(none)"),
    ]
    sent = []
    health_ids = []
    for method, path, body, status, error, route in script:
        r = s.request(method, path, key=key, body=body)
        eq(r.status, status, f"{method} {path} ({r.describe()})")
        # The key belongs to the event when the server authenticated the request (it then sends the
        # X-RateLimit-* headers); 404 and 405 are decided by the route table, before authentication.
        authenticated = r.headers.get("X-RateLimit-Limit") is not None
        check(authenticated or status in (404, 405), f"{method} {path}: no X-RateLimit-Limit on a {status}")
        sent.append((f"{method} {path} -> {status}", expect_request_id(r), method, route, status, error,
                     authenticated))
        health_ids.append(expect_request_id(s.get("/api/v1/health")))  # interleaved; must leave no event
    rids = [x[1] for x in sent]
    evs = wait_events(s, rids)
    for what, rid, method, route, status, error, authenticated in sent:
        expect_event(evs, rid, what, method=method, route=route, status=status, error=error,
                     key_id=kid if authenticated else None, account_id=aid if authenticated else None,
                     tokens_prompt=0, tokens_completion=0)
    # The key's own events are exactly the authenticated requests above (no duplicates, no extra rows).
    mine = s.query(f"SELECT request_id FROM usage_events WHERE key_id = {sql_quote(kid)} ORDER BY id")
    eq(sorted(r[0] for r in mine), sorted(x[1] for x in sent if x[6]), "request ids of the key's usage events")
    eq(events(s, health_ids), {}, "usage events of GET /api/v1/health")


def test_401_event_has_no_account_or_key(s):
    ids = []
    for key in (random_key(), None, "garbage"):
        r = s.get(DOCS, key=key)
        eq(r.status, 401, f"GET {DOCS} with key {key!r} ({r.describe()})")
        ids.append(expect_request_id(r))
    evs = wait_events(s, ids)
    for rid, what in zip(ids, ("an unknown key", "no key", "a garbage key")):
        expect_event(evs, rid, f"the 401 for {what}", account_id=None, key_id=None, status=401,
                     error="invalid_api_key", method="GET", route="/api/v1/documents")


def test_health_has_no_event(s):
    """Health checks leave nothing, even after the program has written its queue (marker requests after them)."""
    health = [expect_request_id(s.get("/api/v1/health")) for _ in range(3)]
    markers = []
    for _ in range(3):  # keys.fcgi serves /api/v1/health and /api/v1/nope alike
        r = s.get("/api/v1/nope")
        check(r.status in (401, 404), f"GET /api/v1/nope ({r.describe()})")
        markers.append(expect_request_id(r))
    wait_events(s, markers)
    eq(events(s, health), {}, "usage events of GET /api/v1/health")


def test_spend_records_tokens(s):
    need_probe()
    account = s.new_account("usage-spend", balance=100)
    key = s.new_key(account)
    kid, aid = s.key_id(key), s.account_id(account)
    spent = s.post(SPEND, {"tokens": 37}, key=key)
    eq(spent.status, 200, f"spend 37 ({spent.describe()})")
    rest = s.post(SPEND, {"tokens": 63}, key=key)
    eq(rest.status, 200, f"spend 63 ({rest.describe()})")
    refused = s.post(SPEND, {"tokens": 5}, key=key)
    eq(refused.status, 402, f"spend on an exhausted account ({refused.describe()})")
    ids = [expect_request_id(r) for r in (spent, rest, refused)]
    evs = wait_events(s, ids)
    common = dict(method="POST", route=SPEND, key_id=kid, account_id=aid, tokens_completion=0)
    expect_event(evs, ids[0], "spend 37", status=200, error=None, tokens_prompt=37, **common)
    expect_event(evs, ids[1], "spend 63", status=200, error=None, tokens_prompt=63, **common)
    expect_event(evs, ids[2], "the 402", status=402, error="insufficient_balance", tokens_prompt=0, **common)


def test_cgi_event_written_before_exit(s):
    """As plain CGI the process serves one request and exits: its event is in the database when it has exited."""
    account, key = s.account_with_key("usage-cgi")
    kid, aid = s.key_id(key), s.account_id(account)
    cases = [("/api/v1/documents", key, 200, None, kid, aid, "/api/v1/documents"),
             ("/api/v1/documents?limit=0", key, 400, "invalid_request", kid, aid, "/api/v1/documents"),
             ("/api/v1/documents", random_key(), 401, "invalid_api_key", None, None, "/api/v1/documents")]
    for uri, k, status, error, want_kid, want_aid, route in cases:
        got, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", uri, key=k)
        eq((got, rc), (status, 0), f"CGI GET {uri}: status and exit code ({payload[:200]!r})")
        rid = headers.get("x-request-id", "")
        check(REQUEST_ID_RE.match(rid) is not None, f"CGI X-Request-Id {rid!r}")
        evs = events(s, [rid])  # no polling: the process has exited, the event must already be there
        expect_event(evs, rid, f"CGI GET {uri}", status=status, error=error, key_id=want_kid, account_id=want_aid,
                     method="GET", route=route)


# ---- pruning of rate-limit counter rows ---------------------------------------------------------------------

def test_old_rate_counter_rows_are_pruned(s):
    account, key = s.account_with_key("prune")
    other = s.key_id(s.new_key(account, name="counted"))
    now = int(time.time())
    hour, minute = now - now % 3600, now - now % 60
    old_hour = hour - 2 * 86400
    rows = {("h", old_hour): "old hour", ("m", old_hour + 60): "old minute",
            ("h", hour): "current hour", ("m", minute): "current minute", ("h", hour - 3600): "previous hour"}
    values = ", ".join(f"({sql_quote(other)}, '{kind}', {start}, 7)" for kind, start in rows)
    s.sql(f"INSERT INTO rate_counters (key_id, window_kind, window_start, n) VALUES {values}")

    def present():
        got = s.query(f"SELECT window_kind, window_start, n FROM rate_counters WHERE key_id = {sql_quote(other)}")
        return {rows[(kind, int(start))]: int(n) for kind, start, n in got}

    eq(set(present()), set(rows.values()), "counter rows before the request")
    tmp = Path(tempfile.mkdtemp(prefix="faqsure-prune-", dir="/tmp"))
    try:
        conf = tmp / "faqsure.conf"
        conf.write_text(s.config_path.read_text().rstrip("\n") + "\n\n[ratelimit]\nprune_every = 1\n")
        status, _, payload, rc = s.cgi(DOCUMENTS_FCGI, "GET", DOCS, key=key,
                                       extra_env={"FAQSURE_CONFIG": str(conf)})
        eq((status, rc), (200, 0), f"CGI GET {DOCS} with prune_every = 1 ({payload[:200]!r})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    eq(present(), {"current hour": 7, "current minute": 7, "previous hour": 7},
       "counter rows after one request with prune_every = 1 (windows that ended over an hour ago pruned)")
