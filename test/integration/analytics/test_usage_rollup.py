# Daily usage rollups (usage_daily, usage_latency_daily): written in the transaction that writes the usage events,
# so for any account they always equal a GROUP BY over its events; unauthenticated events are not rolled up; a
# batch whose rollup fails leaves no event behind and is written whole on a later try.
import collections
import threading
import uuid

from harness import check, eq, expect_request_id, fresh_minute, sql_quote, wait_for
from probe import SPEND, need_probe
from events import wait_events

DOCS = "/api/v1/documents"
SEARCH = "/api/v1/search"


def latency_bucket(ms):
    """usage_latency_bucket (shared/account/usage.c)."""
    if ms < 1000:
        return ms
    if ms < 10000:
        return ms - ms % 10
    if ms < 100000:
        return ms - ms % 100
    return ms - ms % 1000


def daily_from_events(s, aid):
    rows = s.query(
        "SELECT DATE(created_at), COALESCE(key_id, ''), method, route, COUNT(*), SUM(status = 429),"
        " SUM(status BETWEEN 400 AND 499 AND status <> 429), SUM(status BETWEEN 500 AND 599), SUM(tokens_prompt),"
        f" SUM(tokens_completion), SUM(processing_ms) FROM usage_events WHERE account_id = {aid}"
        " GROUP BY 1, 2, 3, 4")
    return sorted(tuple(r[:4]) + tuple(int(v) for v in r[4:]) for r in rows)


def daily_rollup(s, aid):
    rows = s.query("SELECT day, key_id, method, route, requests, rate_limited, client_errors, server_errors,"
                   f" tokens_prompt, tokens_completion, ms_sum FROM usage_daily WHERE account_id = {aid}")
    return sorted(tuple(r[:4]) + tuple(int(v) for v in r[4:]) for r in rows)


def latency_from_events(s, aid):
    counts = collections.Counter()
    for day, method, route, ms in s.query("SELECT DATE(created_at), method, route, processing_ms FROM usage_events"
                                          f" WHERE account_id = {aid}"):
        counts[(day, method, route, latency_bucket(int(ms)))] += 1
    return sorted(k + (n,) for k, n in counts.items())


def latency_rollup(s, aid):
    rows = s.query(f"SELECT day, method, route, ms, n FROM usage_latency_daily WHERE account_id = {aid}")
    return sorted((d, m, r, int(ms), int(n)) for d, m, r, ms, n in rows)


def expect_rollups_match_events(s, aid, what):
    events = daily_from_events(s, aid)
    check(events, f"{what}: the account has no usage events")
    eq(daily_rollup(s, aid), events, f"{what}: usage_daily against GROUP BY over usage_events")
    eq(latency_rollup(s, aid), latency_from_events(s, aid),
       f"{what}: usage_latency_daily against the events' bucketed processing_ms")


def test_rollups_equal_the_events_grouped(s):
    need_probe()
    account = s.new_account("rollup", unlimited=True)
    aid = s.account_id(account)
    key = s.new_key(account, name="main", per_minute=10000, per_hour=1000000)
    limited = s.new_key(account, name="limited", per_minute=3)
    sent = []  # (request id, status)

    def record(r, status, what):
        eq(r.status, status, f"{what} ({r.describe()})")
        sent.append((expect_request_id(r), status))

    for i in range(3):
        record(s.get(DOCS, key=key), 200, f"GET {DOCS}")
        record(s.get(f"{DOCS}/{uuid.uuid4()}", key=key), 404, "GET of a missing document")
        record(s.post(SEARCH, {"query": ""}, key=key), 400, "an empty search")
        record(s.post(SPEND, {"tokens": 10 + i}, key=key), 200, "a spend (tokens)")
    record(s.post(SEARCH, {"query": "return policy", "top_k": 3}, key=key), 200, "a search")
    anonymous = []
    for _ in range(3):
        r = s.get(DOCS)
        eq(r.status, 401, f"GET {DOCS} without a key ({r.describe()})")
        anonymous.append(expect_request_id(r))
    fresh_minute(10)
    for i in range(6):
        record(s.get(DOCS, key=limited), 200 if i < 3 else 429, f"request {i + 1} on the 3-per-minute key")

    # Several processes flushing at once upsert the same rollup rows.
    errors = []

    def hammer():
        try:
            for _ in range(15):
                r = s.get(DOCS, key=key)
                if r.status != 200:
                    errors.append(r.describe())
                sent.append((expect_request_id(r), 200))
        except Exception as e:  # reported below, in the test's thread
            errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(errors, [], "concurrent GETs")

    wait_events(s, [rid for rid, _ in sent] + anonymous, seconds=10)
    eq(len(s.query(f"SELECT id FROM usage_events WHERE account_id = {aid}")), len(sent), "the account's events")
    statuses = collections.Counter(st for _, st in sent)
    check(statuses[429] == 3 and statuses[404] == 3 and statuses[400] == 3, f"statuses sent: {statuses}")
    expect_rollups_match_events(s, aid, "after a mix of requests")
    got = s.query(f"SELECT SUM(IF(route = {sql_quote(SPEND)}, tokens_prompt, 0)), SUM(rate_limited),"
                  f" SUM(client_errors) FROM usage_daily WHERE account_id = {aid}")
    eq(tuple(int(v) for v in got[0]), (10 + 11 + 12, 3, 6), "tokens spent, 429s and other 4xx in usage_daily")
    # The 401s have no account: their events exist, and no rollup row has no account.
    eq(s.query(f"SELECT account_id FROM usage_events WHERE request_id IN ({', '.join(map(sql_quote, anonymous))})"),
       [[None]] * 3, "account of the 401 events")
    eq(s.query("SELECT COUNT(*) FROM usage_daily WHERE account_id = 0")[0][0], "0", "usage_daily rows of account 0")


def missing_table_reports(s):
    """How many times the programs reported usage_latency_daily missing in the web server's error log."""
    return sum(p.read_bytes().count(b"usage_latency_daily' doesn't exist")
               for name in ("apache-error.log", "lighttpd-error.log") for p in s.vardir.rglob(name))


def test_failed_rollup_writes_nothing_and_is_retried(s):
    """With usage_latency_daily gone, a batch's transaction fails after its events were inserted: they must not
    appear; once the table is back, the queued events are written with their rollups, each exactly once."""
    account = s.new_account("rollup-fail")
    aid = s.account_id(account)
    key = s.new_key(account, per_minute=10000, per_hour=1000000)
    first = [expect_request_id(s.get(DOCS, key=key)) for _ in range(2)]
    wait_events(s, first)
    reports = missing_table_reports(s)
    s.sql("RENAME TABLE usage_latency_daily TO usage_latency_daily_away")
    try:
        held = []
        for _ in range(4):
            r = s.get(DOCS, key=key)
            eq(r.status, 200, f"GET {DOCS} while the rollup table is away ({r.describe()})")
            held.append(expect_request_id(r))
        # The programs try (and fail) to write them within about a second.
        wait_for(lambda: missing_table_reports(s) > reports, "a failed flush in the web server's log", seconds=5)
        rows = s.query(f"SELECT request_id FROM usage_events WHERE request_id IN ({', '.join(map(sql_quote, held))})")
        eq(rows, [], "events of a batch whose rollup failed")
    finally:
        s.sql("RENAME TABLE usage_latency_daily_away TO usage_latency_daily")
    evs = wait_events(s, held, seconds=10)
    for rid in held:
        eq(len(evs[rid]), 1, f"events of request {rid} after the retry")
    expect_rollups_match_events(s, aid, "after a failed and retried flush")
    eq(sum(n for *_, n in latency_rollup(s, aid)), 6, "requests in usage_latency_daily")
