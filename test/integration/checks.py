# Assertions that print both values, waiting without fixed sleeps, and small values tests make (names, keys,
# times, SQL literals).
import datetime
import re
import secrets
import string
import time
import uuid

import pytest

KEY_RE = re.compile(r"^faqsure_sk_[A-Za-z0-9]{43}$")
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Raised when a prerequisite of a test is truly absent: the test is reported as skipped (pytest's skip).
SkipTest = pytest.skip.Exception

def eq(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def expect_error(resp, status, code, field=None):
    """Asserts an error response: status, {"error": code, "message": str}, the message naming field if given."""
    body = resp.json
    eq(resp.status, status, f"status ({resp.describe()})")
    check(isinstance(body, dict), f"error body is not an object: {body!r}")
    eq(body.get("error"), code, f"error code ({resp.describe()})")
    check(isinstance(body.get("message"), str) and body["message"],
          f"error message missing or not a non-empty string: {body!r}")
    if field is not None:
        check(field in body["message"], f"message should name {field!r}: {body['message']!r}")
    return body


def expect_healthy(resp, what="health"):
    """GET /api/v1/health of a stack whose database and worker run: 200, status and database "ok", and the worker
    part with its exact keys (API.md), seen alive."""
    eq(resp.status, 200, f"{what}: status ({resp.describe()})")
    body = resp.json
    check(isinstance(body, dict), f"{what}: not an object: {body!r}")
    eq(sorted(body), ["database", "status", "worker"], f"{what}: keys")
    eq((body["status"], body["database"]), ("ok", "ok"), f"{what}: status and database")
    w = body["worker"]
    eq(sorted(w), ["last_seen", "ok", "oldest_queued_seconds", "queued"], f"{what}: worker keys")
    eq(w["ok"], True, f"{what}: worker ok ({w})")
    check(isinstance(w["last_seen"], str) and TIME_RE.match(w["last_seen"]), f"{what}: last_seen {w}")
    check(isinstance(w["queued"], int) and w["queued"] >= 0, f"{what}: queued {w}")
    check(w["oldest_queued_seconds"] is None if w["queued"] == 0 else isinstance(w["oldest_queued_seconds"], int),
          f"{what}: oldest_queued_seconds {w}")
    return body


def header_int(resp, name, lo, hi):
    value = resp.headers.get(name)
    check(value is not None, f"missing {name} header ({resp.describe()})")
    check(re.fullmatch(r"-?\d+", value.strip()) is not None, f"{name} is not an integer: {value!r}")
    n = int(value)
    check(lo <= n <= hi, f"{name} = {n}, expected {lo}..{hi}")
    return n


def expect_request_id(resp):
    rid = resp.headers.get("X-Request-Id")
    check(rid is not None, f"missing X-Request-Id ({resp.describe()})")
    check(REQUEST_ID_RE.match(rid) is not None, f"X-Request-Id is not 32 hex characters: {rid!r}")
    return rid


# ---------------------------------------------------------------------------------------------------------------
# HTTP

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_minute(need=10.0):
    """Makes sure at least `need` seconds remain in the current UTC calendar minute (sleeps into the next one)."""
    now = time.time()
    left = 60 - (now % 60)
    if left < need:
        time.sleep(left + 0.5)


def next_minute():
    """Sleeps until just after the start of the next UTC calendar minute."""
    now = time.time()
    time.sleep(60 - (now % 60) + 0.5)


def wait_for(fn, what, seconds=5.0, interval=0.1):
    """Polls fn() until it returns something truthy (returned) or `seconds` pass (fails with `what` and the last
    value). For things the server does asynchronously (usage events), never a fixed sleep."""
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value or time.time() >= deadline:
            break
        time.sleep(interval)
    check(value, f"{what} (after {seconds} s; last: {value!r})")
    return value


def sql_quote(value):
    """A SQL string literal (for the test's own values: ids, names)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def random_key():
    alphabet = string.ascii_letters + string.digits
    return "faqsure_sk_" + "".join(secrets.choice(alphabet) for _ in range(43))


def name_cases(most):
    """(body, field) cases of a name the server must refuse (a key's, an agent's: 1 to most characters)."""
    return [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * (most + 1)}, "name"), ({"name": 5}, "name"),
            ({"name": None}, "name")]
