# GET /api/v1/documents (empty list, parameter validation) and the token balance (402) through the probe program.
import uuid

from harness import check, eq, expect_error, header_int
from probe import need_probe, spend

DOCS = "/api/v1/documents"
EMPTY = {"documents": [], "count": 0, "has_more": False, "next_cursor": None}


def test_new_account_has_no_documents(s):
    _, key = s.account_with_key()
    r = s.get(DOCS, key=key)
    eq(r.status, 200, f"status ({r.describe()})")
    eq(r.json, EMPTY, "body")
    for q in ["limit=1", "limit=100", "status=ready", "status=processing", "status=failed", "limit=5&status=ready"]:
        r = s.get(f"{DOCS}?{q}", key=key)
        eq(r.status, 200, f"?{q} ({r.describe()})")
        eq(r.json, EMPTY, f"body for ?{q}")


def test_bad_list_parameters(s):
    _, key = s.account_with_key(per_minute=100)
    bad = []
    for q, field in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
                     ("limit=1.5", "limit"), ("limit=99999999999999999999", "limit"),
                     ("cursor=garbage", "cursor"), ("cursor=%00%01", "cursor"),
                     ("cursor=" + "A" * 200, "cursor"), ("status=bogus", "status"), ("status=READY", "status")]:
        try:
            r = s.get(f"{DOCS}?{q}", key=key)
            expect_error(r, 400, "invalid_request", field)
            header_int(r, "X-RateLimit-Remaining", 0, 100)  # an authenticated response
        except AssertionError as e:
            bad.append(f"?{q}: {e}")
    check(not bad, "\n".join(bad))


def test_unknown_document_is_404(s):
    _, key = s.account_with_key()
    expect_error(s.get(f"{DOCS}/{uuid.uuid4()}", key=key), 404, "not_found")


# ---- token balance, through the test-only probe program (POST /api/v1/probe/spend {"tokens": N}) -------------


def test_balance_runs_out_402_and_topup(s):
    need_probe()
    account = s.new_account(balance=10)
    key = s.new_key(account)
    r = spend(s, key, 10)
    eq(r.status, 200, f"spending the whole balance ({r.describe()})")
    eq(r.json, {"spent": 10, "balance": 0}, "probe answer")
    r = spend(s, key, 1)
    expect_error(r, 402, "insufficient_balance")
    for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        header_int(r, h, 0, 10**9)  # an authenticated response
    r = s.get(DOCS, key=key)
    eq(r.status, 200, f"GET documents on an exhausted account ({r.describe()})")
    s.ctl("account", "topup", account, 5)
    r = spend(s, key, 1)
    eq(r.status, 200, f"spend after topup ({r.describe()})")
    eq(r.json, {"spent": 1, "balance": 4}, "probe answer after topup")


def test_a_spend_the_balance_cannot_cover_is_402(s):
    """A balance never goes below zero: a request that would take more than is left is a 402 and takes nothing."""
    need_probe()
    account = s.new_account(balance=3)
    key = s.new_key(account)
    r = spend(s, key, 5)
    body = expect_error(r, 402, "insufficient_balance")
    check("5 tokens" in body["message"] and "3 are available" in body["message"], f"402 message {body['message']!r}")
    eq(s.balance(account), 3, "balance after a refused spend")
    r = spend(s, key, 3)
    eq((r.status, r.json), (200, {"spent": 3, "balance": 0}), f"spending exactly the balance ({r.describe()})")
    expect_error(spend(s, key, 1), 402, "insufficient_balance")
    s.ctl("account", "topup", account, 1)
    eq(spend(s, key, 1).status, 200, "spend with balance 1")


def test_a_balance_below_zero_is_exhausted_not_unlimited(s):
    """A balance an earlier version left below zero (-1 here) is exhausted, not unlimited; top-ups raise it, and a
    correction may not take a balance below zero."""
    need_probe()
    account = s.new_account(balance=2)
    key = s.new_key(account)
    s.sql(f"UPDATE accounts SET balance = -1 WHERE id = {s.account_id(account)}")
    expect_error(spend(s, key, 1), 402, "insufficient_balance")
    out = s.ctl("account", "topup", account, 0)
    check("-1" in out.stdout and "unlimited" not in out.stdout, f"topup at -1: {out.stdout!r}")
    r = s.ctl("account", "topup", account, -1, check_rc=False)
    check(r.returncode != 0 and "below zero" in r.stderr, f"a correction below zero: {r.returncode} {r.stderr!r}")
    eq(s.balance(account), -1, "balance after the refused correction")
    s.ctl("account", "topup", account, 1)  # to 0: still exhausted
    expect_error(spend(s, key, 1), 402, "insufficient_balance")
    s.ctl("account", "topup", account, 1)
    eq(spend(s, key, 1).status, 200, "spend with balance 1")


def test_zero_balance_account_402(s):
    need_probe()
    account = s.new_account(balance=0)
    key = s.new_key(account)
    expect_error(spend(s, key, 1), 402, "insufficient_balance")


def test_unlimited_accounts_never_402(s):
    need_probe()
    for account in (s.new_account(unlimited=True), s.new_account()):  # unlimited is the default
        key = s.new_key(account)
        for n in (1000000, 1000000, 1):
            r = spend(s, key, n)
            eq(r.status, 200, f"spend {n} on an unlimited account ({r.describe()})")
            eq(r.json, {"spent": n, "balance": None}, "probe answer")


def test_402_needs_a_valid_key_first(s):
    need_probe()
    expect_error(spend(s, "faqsure_sk_" + "x" * 43, 1), 401, "invalid_api_key")
