# GET /api/v1/health: no key needed, exact body, JSON content type, request id, not rate limited.
from harness import check, eq, expect_request_id

HEALTH = "/api/v1/health"


def test_health_ok_without_key(s):
    r = s.get(HEALTH)
    eq(r.status, 200, f"status ({r.describe()})")
    eq(r.json, {"status": "ok", "database": "ok"}, "body")
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"Content-Type: {r.headers.get('Content-Type')!r}")
    expect_request_id(r)


def test_health_is_not_rate_limited(s):
    statuses = [s.get(HEALTH).status for _ in range(80)]  # more than the default 60 per minute
    eq(set(statuses), {200}, "statuses of 80 health checks")
