# Database outage: with MariaDB stopped the API answers 503 JSON quickly; when it is back the same Apache recovers.
import socket
import time

from harness import check, eq, expect_error, expect_healthy, expect_request_id

RUN_LAST = True  # stops the database; run after everything else
HEALTH = "/api/v1/health"
DOCS = "/api/v1/documents"
DOWN_BODY = {"error": "upstream_unavailable", "message": "database unavailable", "status": "unavailable",
             "database": "unavailable"}


def get_or_hang(s, path, key=None):
    """A request that must answer within 10 s; a timeout fails the test as a hang."""
    try:
        return s.get(path, key=key, timeout=10)
    except (socket.timeout, TimeoutError):
        raise AssertionError(f"GET {path} did not answer within 10 s while the database is down") from None


def poll(s, path, key=None, seconds=20):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            r = s.get(path, key=key, parse_json=False, timeout=10)
            last = r.describe()
            if r.status == 200:
                return s.get(path, key=key)
        except OSError as e:
            last = repr(e)
        time.sleep(0.5)
    raise AssertionError(f"GET {path} not 200 within {seconds} s of db-start; last: {last}")


def test_database_outage_and_recovery(s):
    _, key = s.account_with_key(per_minute=1000)
    eq(s.get(DOCS, key=key).status, 200, "before the outage")  # the programs hold a live connection now
    eq(s.get(HEALTH).status, 200, "health before the outage")
    r = s.stack_sh("db-stop", timeout=60)
    check(r.returncode == 0, f"stack.sh db-stop exited {r.returncode}: {r.stderr}")
    try:
        for _ in range(2):  # twice: the second request meets a process that already saw the failure
            h = get_or_hang(s, HEALTH)
            eq(h.status, 503, f"health while the database is down ({h.describe()})")
            eq(h.json, DOWN_BODY, "health body while down")
            expect_request_id(h)
            d = get_or_hang(s, DOCS, key=key)
            expect_error(d, 503, "upstream_unavailable")
            expect_request_id(d)
    finally:
        r = s.stack_sh("db-start", timeout=120)
        check(r.returncode == 0, f"stack.sh db-start exited {r.returncode}: {r.stderr}")
    expect_healthy(poll(s, HEALTH), "health after db-start")
    d = poll(s, DOCS, key=key)
    eq(d.json["documents"], [], "documents after db-start")
