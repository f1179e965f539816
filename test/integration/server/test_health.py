# GET /api/v1/health: no key needed, exact body, JSON content type, request id, not rate limited; it says when no
# ingestion worker runs (uploads would stay 'processing').
from harness import check, eq, expect_healthy, expect_request_id, paused_worker, wait_for

HEALTH = "/api/v1/health"


def test_health_ok_without_key(s):
    r = s.get(HEALTH)
    expect_healthy(r)
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"Content-Type: {r.headers.get('Content-Type')!r}")
    expect_request_id(r)


def test_health_is_not_rate_limited(s):
    statuses = [s.get(HEALTH).status for _ in range(80)]  # more than the default 60 per minute
    eq(set(statuses), {200}, "statuses of 80 health checks")


def test_health_says_when_no_worker_runs(s):
    """Without a worker for a while (its heartbeat aged in the database: waiting minutes is no test), health is
    200 "degraded" with worker ok false and the queue that waits; a worker that starts says it is alive at once."""
    _, key = s.account_with_key(per_minute=100)
    with paused_worker(s):
        s.sql("UPDATE workers SET last_seen = last_seen - INTERVAL 1 HOUR")
        doc = s.upload_ok(key, b"Nobody processes this while the worker is away.\n", "waiting.txt")
        r = s.get(HEALTH)
        eq(r.status, 200, f"status without a worker ({r.describe()})")
        eq((r.json["status"], r.json["database"]), ("degraded", "ok"), f"status and database: {r.json}")
        w = r.json["worker"]
        eq(w["ok"], False, f"worker ok: {w}")
        check(w["queued"] >= 1, f"the upload waits in the queue: {w}")
        check(isinstance(w["oldest_queued_seconds"], int) and w["oldest_queued_seconds"] >= 0, f"oldest: {w}")
        check(w["last_seen"] is not None, f"last_seen stays the last one known: {w}")
    # started again by paused_worker: its first heartbeat comes with its start line
    wait_for(lambda: s.get(HEALTH).json["worker"]["ok"], "health sees the worker again", 20, interval=0.3)
    s.wait_document(key, doc, "ready")
    expect_healthy(s.get(HEALTH), "health once the worker runs again")
