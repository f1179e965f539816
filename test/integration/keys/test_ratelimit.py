# Rate limits: the seed's 429 body, Retry-After, X-RateLimit-* headers, refused requests use no quota, concurrency.
import threading

from harness import check, eq, expect_request_id, fresh_minute, header_int, next_minute

DOCS = "/api/v1/documents"


def body_429(per_minute, per_hour, which):
    limit = per_minute if which == "minute" else per_hour
    return {"error": "rate_limit_exceeded", "message": f"{limit} requests per {which} limit exceeded",
            "limit_per_minute": per_minute, "limit_per_hour": per_hour}


def test_per_minute_limit_seed_body(s):
    _, key = s.account_with_key(per_minute=5)
    fresh_minute(10)
    for i in range(1, 6):
        r = s.get(DOCS, key=key)
        eq(r.status, 200, f"request {i} ({r.describe()})")
    r = s.get(DOCS, key=key)
    eq(r.status, 429, f"request 6 ({r.describe()})")
    eq(r.json, body_429(5, 1000, "minute"), "429 body")
    header_int(r, "Retry-After", 1, 60)
    eq(header_int(r, "X-RateLimit-Remaining", 0, 5), 0, "X-RateLimit-Remaining on the 429")
    eq(header_int(r, "X-RateLimit-Limit", 0, 10**9), 5, "X-RateLimit-Limit on the 429")
    header_int(r, "X-RateLimit-Reset", 0, 60)
    expect_request_id(r)
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"Content-Type of the 429: {r.headers.get('Content-Type')!r}")


def test_remaining_counts_down_and_never_negative(s):
    _, key = s.account_with_key(per_minute=4)
    fresh_minute(10)
    seen = []
    for i in range(7):
        r = s.get(DOCS, key=key)
        eq(r.status, 200 if i < 4 else 429, f"status of request {i + 1} ({r.describe()})")
        eq(header_int(r, "X-RateLimit-Limit", 0, 10**9), 4, "X-RateLimit-Limit")
        seen.append(header_int(r, "X-RateLimit-Remaining", 0, 4))
        header_int(r, "X-RateLimit-Reset", 0, 60)
    eq(seen, [3, 2, 1, 0, 0, 0, 0], "X-RateLimit-Remaining over 7 requests")


def test_per_hour_limit(s):
    _, key = s.account_with_key(per_minute=100, per_hour=3)
    fresh_minute(10)
    for i in range(1, 4):
        r = s.get(DOCS, key=key)
        eq(r.status, 200, f"request {i} ({r.describe()})")
    for i in (4, 5):
        r = s.get(DOCS, key=key)
        eq(r.status, 429, f"request {i} ({r.describe()})")
        eq(r.json, body_429(100, 3, "hour"), "429 body for the hourly limit")
        header_int(r, "Retry-After", 1, 3600)
        eq(header_int(r, "X-RateLimit-Remaining", 0, 100), 0, "X-RateLimit-Remaining")
        eq(header_int(r, "X-RateLimit-Limit", 0, 10**9), 100, "X-RateLimit-Limit (the per-minute limit)")


def test_limits_shared_across_programs(s):
    """documents.fcgi and keys.fcgi are different programs; one key's quota is one quota."""
    account = s.new_account()
    key = s.new_key(account, per_minute=4, scope="admin")
    fresh_minute(10)
    for i, path in enumerate([DOCS, "/api/v1/keys", DOCS, "/api/v1/keys"]):
        r = s.get(path, key=key)
        eq(r.status, 200, f"GET {path} ({r.describe()})")
        eq(header_int(r, "X-RateLimit-Remaining", 0, 4), 3 - i, f"X-RateLimit-Remaining after GET {path}")
    for path in (DOCS, "/api/v1/keys"):
        r = s.get(path, key=key)
        eq(r.status, 429, f"GET {path} after the quota ({r.describe()})")


def test_refused_requests_use_no_quota_and_minute_resets(s):
    """2/minute, 4/hour: 2 ok + 3 refused; in the next minute 2 more are admitted (the refusals used none of the
    hour), then the hourly limit answers."""
    _, key = s.account_with_key(per_minute=2, per_hour=4)
    fresh_minute(10)
    statuses = [s.get(DOCS, key=key).status for _ in range(5)]
    eq(statuses, [200, 200, 429, 429, 429], "statuses in the first minute")
    next_minute()
    r1, r2, r3 = (s.get(DOCS, key=key) for _ in range(3))
    eq(r1.status, 200, f"first request of the next minute ({r1.describe()})")
    eq(r2.status, 200, f"second request of the next minute ({r2.describe()})")
    eq(r3.status, 429, f"third request of the next minute ({r3.describe()})")
    # Both windows are used up now; the message names the one that was hit first in the check.
    check(r3.json.get("message") in ("2 requests per minute limit exceeded", "4 requests per hour limit exceeded"),
          f"429 message: {r3.json!r}")


def test_40_concurrent_requests_limit_10(s):
    _, key = s.account_with_key(per_minute=10)
    fresh_minute(20)
    barrier = threading.Barrier(40)
    results = [None] * 40

    def worker(i):
        try:
            barrier.wait(timeout=10)
            r = s.get(DOCS, key=key, timeout=30)
            results[i] = (r.status, r.json)
        except Exception as e:  # recorded and reported below
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = [res[0] if res else "no answer" for res in results]
    counts = {st: statuses.count(st) for st in set(statuses)}
    odd = sorted({repr(body)[:200] for st, body in results if st not in (200, 429)})
    eq(counts, {200: 10, 429: 30}, f"status counts of 40 concurrent requests (other answers: {odd})")
    for st, body in results:
        if st == 429:
            eq(body, body_429(10, 1000, "minute"), "429 body")
