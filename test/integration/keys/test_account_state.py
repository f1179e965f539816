# Accounts disabled, enabled and deleted with faqsurectl: a disabled account's keys are refused (401 "account is
# disabled") on every route and in every process from the next request on, and work again once it is enabled; a
# delete without --yes only says what it would delete; with --yes every row of the account goes, and nothing of it
# comes back, neither from requests in flight nor from a worker that was indexing one of its documents.
import os
import subprocess
import threading
import time

from harness import CTL, check, eq, expect_error, paused_worker, sql_quote, wait_for
from kb import RETURNS_TXT, upload_ready
from chatting import CHAT, SEED_CHAT, answered, chat
from standins import call, start_standin, stop_standin

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
    for args in (["account", "disable", "no-such-account-x"], ["account", "enable"], ["account", "delete"]):
        r = s.ctl(*args, check_rc=False)
        check(r.returncode != 0 and r.stderr.strip(), f"faqsurectl {' '.join(args)}: exit {r.returncode}")


# ---- delete -------------------------------------------------------------------------------------------------------

def full_account(s, prefix):
    """An account with something in every table: two documents, a chat with feedback, an agent, two keys (one
    used a lot, so it has rate counters and usage events), a search."""
    account = s.new_account(prefix, balance=10 ** 7)
    key = s.new_key(account, name="admin", scope="admin", per_minute=10000)
    s.new_key(account, name="spare")
    upload_ready(s, key, [("returns-policy.txt", RETURNS_TXT), ("more.txt", b"Gift cards never expire.\n")])
    body = answered(chat(s, key, **SEED_CHAT), "a chat before the delete")
    r = s.post(f"/api/v1/chat/messages/{body['message_id']}/feedback", {"rating": "down", "comment": "meh"}, key=key)
    eq(r.status, 200, f"feedback ({r.describe()})")
    eq(s.post(AGENTS, {"name": "Second"}, key=key).status, 201, "an agent")
    eq(s.post(SEARCH, {"query": "refund"}, key=key).status, 200, "a search")
    acct = s.account_id(account)
    wait_for(lambda: s.count_rows("usage_events", f"account_id = {acct}") >= 7, "the account's usage events")
    return account, key, acct


def tables_with_account_id(s):
    rows = s.query("SELECT table_name FROM information_schema.columns WHERE table_schema = DATABASE()"
                   " AND column_name = 'account_id'")
    return sorted(r[0] for r in rows)


def rows_left(s, acct, key_ids, doc_ids):
    """{table: rows of the account} for every table that has any left (accounts by id, rate counters by key,
    stored files by document)."""
    left = {t: s.count_rows(t, f"account_id = {acct}") for t in tables_with_account_id(s)}
    left["accounts"] = s.count_rows("accounts", f"id = {acct}")
    if key_ids:
        left["rate_counters"] = s.count_rows("rate_counters", f"key_id IN ({', '.join(map(sql_quote, key_ids))})")
    if doc_ids:
        left["document_blobs"] = s.count_rows("document_blobs",
                                              f"document_id IN ({', '.join(map(sql_quote, doc_ids))})")
    return {t: n for t, n in left.items() if n}


def listed(out):
    """{what: count} of the lines 'what   N' that account delete prints."""
    got = {}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("  ") and words and words[-1].isdigit():
            got[" ".join(words[:-1])] = int(words[-1])
    return got


def test_delete_without_yes_says_what_it_would_delete_and_deletes_nothing(s):
    account, key, acct = full_account(s, "del-dry")
    r = s.ctl("account", "delete", account, check_rc=False)
    eq(r.returncode, 1, f"account delete without --yes: exit code (stderr {r.stderr!r})")
    check("--yes" in r.stderr, f"it says how to delete: {r.stderr!r}")
    got = listed(r.stdout)
    for what, n in (("documents", 2), ("stored files", 2), ("conversations", 1), ("messages", 2),
                    ("feedback ratings", 1), ("agents", 2), ("API keys", 2)):
        eq(got.get(what), n, f"'{what}' in the list of what it would delete:\n{r.stdout}")
    check(got.get("chunks", 0) >= 2 and got.get("usage events", 0) >= 7 and got.get("rate-limit counters", 0) >= 2,
          f"chunks, usage events, rate counters listed:\n{r.stdout}")
    eq(s.get(DOCS, key=key).status, 200, "the account's key after a delete without --yes")
    eq(s.account_docs(account), 2, "documents after a delete without --yes")


def test_delete_removes_every_row_of_the_account(s):
    account, key, acct = full_account(s, "del")
    _, other_key, other_acct = full_account(s, "del-keep")
    keep_before = rows_left(s, other_acct, [s.key_id(other_key)], [])
    key_ids = [r[0] for r in s.query(f"SELECT id FROM api_keys WHERE account_id = {acct}")]
    doc_ids = [r[0] for r in s.query(f"SELECT id FROM documents WHERE account_id = {acct}")]
    preview = listed(s.ctl("account", "delete", account, check_rc=False).stdout)
    # requests in flight while it goes: their usage events must not bring rows back
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            s.get(DOCS, key=key)

    t = threading.Thread(target=busy)
    t.start()
    try:
        time.sleep(0.3)
        r = s.ctl("account", "delete", account, "--yes")
    finally:
        stop.set()
        t.join()
    check("deleted account" in r.stdout, f"account delete --yes says so: {r.stdout!r}")
    got = listed(r.stdout)
    for what in ("documents", "stored files", "chunks", "conversations", "messages", "cited sources",
                 "feedback ratings", "agents", "API keys", "ingestion jobs"):
        eq(got.get(what), preview.get(what), f"'{what}' deleted as the preview said:\n{r.stdout}")
    check(got.get("usage events", 0) >= preview.get("usage events", 0), f"usage events deleted:\n{r.stdout}")
    check("vectors" in r.stdout, f"it says what became of the vectors:\n{r.stdout}")
    time.sleep(1.5)  # usage events queued in the web server's processes are written within about a second
    eq(rows_left(s, acct, key_ids, doc_ids), {}, "rows of the deleted account left in any table")
    eq(expect_error(s.get(DOCS, key=key), 401, "invalid_api_key")["message"], "API key is not valid",
       "its key after the delete")
    check(account not in s.ctl("account", "list").stdout.split(), "the account is no longer listed")
    eq(rows_left(s, other_acct, [s.key_id(other_key)], []).keys(), keep_before.keys(), "the other account's rows")
    eq(s.get(DOCS, key=other_key).status, 200, "the other account's key")
    r = s.ctl("account", "delete", account, "--yes", check_rc=False)
    check(r.returncode != 0 and "no account" in r.stderr, f"deleting it again: {r.returncode} {r.stderr!r}")
    s.ctl("account", "create", account)  # the name is free again, for a new, empty account
    eq(s.account_docs(account), 0, "documents of the new account of that name")


def test_worker_indexing_a_deleted_accounts_document_stores_nothing(s):
    """The account is deleted while a worker embeds one of its documents (a slow embedder), and while others are
    still queued: the worker stores nothing, brings no row back, and goes on with the queue."""
    proc, port = start_standin("openai_standin.py")
    conf = None
    try:
        eq(call(port, "POST", "/_control", {"delay_ms": 2500})[0], 200, "slow stand-in embedder")
        conf = s.config_copy(f"[embedder]\nbackend = openai\nurl = http://127.0.0.1:{port}/v1\nmodel = slow\n"
                             f"timeout_ms = 20000\n")
        account, key = s.docs_key("del-worker", balance=10 ** 6)
        acct = s.account_id(account)
        _, other_key = s.docs_key("del-worker-other")
        with paused_worker(s):
            s.worker_once()  # what other tests left queued
            doc_ids = [s.upload_ok(key, RETURNS_TXT, "returns-policy.txt"),
                       s.upload_ok(key, b"Queued behind the first.\n", "queued.txt")]
            kept = s.upload_ok(other_key, b"Another account's document, after the deleted ones.\n", "kept.txt")
            key_ids = [s.key_id(key)]
            worker = subprocess.Popen([str(CTL), "worker", "--once"], env=dict(os.environ, FAQSURE_CONFIG=str(conf)),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                # the worker set the first document's tokens aside and is embedding it
                wait_for(lambda: s.count_rows("balance_holds", f"account_id = {acct}") > 0,
                         "the worker holds tokens for the first document", 20)
                s.ctl("account", "delete", account, "--yes")
                out, err = worker.communicate(timeout=120)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.communicate()
        eq(worker.returncode, 0, f"the worker's exit code (stderr {err!r})")
        check("Sanitizer" not in err and "runtime error:" not in err, f"the worker reported:\n{err}")
        eq(rows_left(s, acct, key_ids, doc_ids), {}, f"rows of the deleted account after the worker (stderr {err!r})")
        eq(s.wait_document(other_key, kept, "ready")["status"], "ready", "the next account's document")
    finally:
        stop_standin(proc)
        if conf is not None:
            import shutil
            shutil.rmtree(conf.parent, ignore_errors=True)
