# Accounts disabled and enabled with faqsurectl: a disabled account's keys are refused (401 "account is disabled")
# on every route and in every process from the next request on, and work again once it is enabled.
from harness import check, eq, expect_error
from chatting import CHAT, SEED_CHAT

DOCS = "/api/v1/documents"
KEYS = "/api/v1/keys"
SEARCH = "/api/v1/search"
DASHBOARD = "/api/v1/analytics/dashboard"
AGENTS = "/api/v1/agents"


def every_route(s, key):
    """One request of each program (documents, keys, search, chat, analytics) and a few more: [(what, response)]."""
    return [
        ("GET documents", s.get(DOCS, key=key)),
        ("POST upload", s.upload(key, b"a text that is never stored\n", "never.txt")),
        ("GET keys", s.get(KEYS, key=key)),
        ("GET agents", s.get(AGENTS, key=key)),
        ("POST search", s.post(SEARCH, {"query": "return policy"}, key=key)),
        ("POST chat", s.post(CHAT, SEED_CHAT, key=key)),
        ("GET conversations", s.get("/api/v1/chat/conversations", key=key)),
        ("GET dashboard", s.get(DASHBOARD, key=key)),
    ]


def test_disabled_account_is_refused_everywhere_at_once_and_enabled_again(s):
    account = s.new_account("state")
    admin = s.new_key(account, name="admin", scope="admin", per_minute=10000)
    plain = s.new_key(account, name="plain", per_minute=10000)
    revoked = s.new_key(account, name="revoked", per_minute=10000)
    s.ctl("key", "revoke", revoked[:17])
    other_account, other = s.account_with_key("state-other", per_minute=10000)
    # every program's processes know the keys (authentication results are kept per process)
    for _ in range(4):
        for what, r in every_route(s, admin) + every_route(s, plain)[:1]:
            check(r.status < 500 and r.status != 401, f"{what} before disabling ({r.describe()})")
    docs_before = s.account_docs(account)
    out = s.ctl("account", "disable", account).stdout
    check("disabled" in out, f"account disable says what it did: {out!r}")
    for _ in range(4):  # many requests: whatever process takes them
        for key in (admin, plain):
            for what, r in every_route(s, key):
                body = expect_error(r, 401, "invalid_api_key")
                eq(body["message"], "account is disabled", f"{what}: the 401 message")
    expect_error(s.get(DOCS, key=revoked), 401, "invalid_api_key")
    eq(s.get(DOCS, key=other).status, 200, "another account's key while this one is disabled")
    line = [ln for ln in s.ctl("account", "list").stdout.splitlines() if account in ln.split()]
    check(line and line[0].split()[-1] == "disabled", f"account list shows the state: {line!r}")
    check("already disabled" in s.ctl("account", "disable", account).stdout, "disabling twice says so")
    eq(s.account_docs(account), docs_before, "uploads refused while disabled stored nothing")

    out = s.ctl("account", "enable", account).stdout
    check("enabled" in out, f"account enable says what it did: {out!r}")
    for _ in range(4):
        for what, r in every_route(s, admin):
            check(r.status < 500 and r.status != 401, f"{what} after enabling ({r.describe()})")
    eq(s.get(DOCS, key=plain).status, 200, "the other key after enabling")
    eq(expect_error(s.get(DOCS, key=revoked), 401, "invalid_api_key")["message"], "API key has been revoked",
       "a revoked key stays revoked")
    line = [ln for ln in s.ctl("account", "list").stdout.splitlines() if account in ln.split()]
    eq(line[0].split()[-1], "active", "state in the account list after enabling")
    eq(s.get(DOCS, key=other).status, 200, f"the other account {other_account} all along")
    for args in (["account", "disable", "no-such-account-x"], ["account", "enable"]):
        r = s.ctl(*args, check_rc=False)
        check(r.returncode != 0 and r.stderr.strip(), f"faqsurectl {' '.join(args)}: exit {r.returncode}")

