# Faults under a mixed load, counted (issue 18, item 2: 0 lost, 0 duplicated). Clients upload, search and chat
# while one fault is injected: MariaDB restarted, the worker killed mid-document, FastCGI processes killed
# mid-request (on the run's stack), and the Qdrant or the OpenAI-compatible stand-in taken down (on a stack of this
# module whose [vector] and [answerer] use them). Counted afterwards, and printed: every answer is a 2xx or, inside
# the fault's window and a stated grace after it, a JSON 503 (never a 500, never HTML, never over the client's
# timeout); every accepted upload ends ready, or failed with a reason; every chat answered 200 is stored in its
# conversation with its sources; the balance went down by exactly the tokens of the answers and of the documents
# indexed; no chunk (and no Qdrant point) is there twice. SQL only for what a client cannot see (chunk rows, jobs,
# debits of answers a client never received).
import concurrent.futures
import http.client
import json
import os
import signal
import threading
import time
from collections import Counter

import docfiles
import harness
from harness import ROOT, SkipTest, Stack, check, eq, sql_quote, wait_for
from kb import CHAT_QUESTIONS, KB_FILES, upload_ready
from paths import QDRANT_SPECS
from standins import call, start_standin, stop_standin

RUN_LAST = True  # restarts the database, kills the worker and the programs of its process's stack (test/run.sh runs
# this file in the second process, beside the deployments)

CLIENTS = 6
TIMEOUT = 30  # a request not answered within this is a hang
PAUSE = 0.05  # seconds each client waits between two requests
ERROR_PAGES = {p.read_bytes().strip() for p in (ROOT / "vendor-config" / "errors").glob("5*.json")}
DOCS = "/api/v1/documents"
# one upload in eight requests: the worker keeps up (a backlog would only make the count wait)
KINDS = ("upload", "chat", "search", "chat", "search", "search", "chat", "search")


class Load:
    """CLIENTS threads sending uploads, chats and searches (KINDS in turn) to one stack with one key until the
    block ends; every answer logged as (kind, began, ended, status, parsed body or None, raw body, content type,
    error), times in seconds since the load began. faults: the (start, end) windows the test marks."""

    def __init__(self, s, key, chat_extra=None, tag="f"):
        self.s, self.key, self.chat_extra, self.tag = s, key, dict(chat_extra or {}), tag
        self.log, self.faults, self.marks = [], [], []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = None

    def now(self):
        return time.monotonic() - self.t0

    def sleep(self, seconds):
        time.sleep(seconds)

    def fault(self, start, end):
        """A window in which (with the test's grace after it) a request may fail with a JSON 503."""
        self.faults.append((start, end))
        self.mark(start, end)

    def mark(self, start, end):
        """When the fault was (printed with the counts)."""
        self.marks.append((start, end))

    def one(self, i):
        kind = KINDS[i % len(KINDS)]
        question = CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)]
        began = self.now()
        status = parsed = raw = ctype = err = None
        try:
            if kind == "upload":
                text = (f"# Room {self.tag}-{i}\n\nRoom {self.tag}-{i} of the shop opens at {i % 12 + 1} o'clock "
                        f"and closes at {i % 5 + 17}. Ask for {self.tag} desk {i}.\n")
                r = self.s.upload(self.key, text.encode(), f"fault-{self.tag}-{i}.md", timeout=TIMEOUT)
            elif kind == "chat":
                r = self.s.request("POST", "/api/v1/chat", key=self.key, body=dict(self.chat_extra, message=question),
                                   parse_json=False, timeout=TIMEOUT)
            else:
                r = self.s.request("POST", "/api/v1/search", key=self.key, body={"query": question, "top_k": 3},
                                   parse_json=False, timeout=TIMEOUT)
            status, raw, ctype = r.status, r.body, r.headers.get("Content-Type") or ""
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        except (OSError, http.client.HTTPException) as e:  # a timeout, a reset: counted as what it is
            err = repr(e)
        with self.lock:
            self.log.append((kind, began, self.now(), status, parsed, raw, ctype, err))
        # a pause, longer after an error as a client would before trying again: a steady load, not a flood
        time.sleep(PAUSE if status == 200 else 0.2)

    def client(self, w):
        i = w
        while not self.stop.is_set():
            self.one(i)
            i += CLIENTS

    def __enter__(self):
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self.client, args=(w,), daemon=True) for w in range(CLIENTS)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT + 10)
        return False

    def ok(self, kind):
        return [parsed for k, _, _, status, parsed, *_ in self.log if k == kind and status == 200]


def json_error(status, parsed, ctype):
    return (ctype.startswith("application/json") and isinstance(parsed, dict) and isinstance(parsed.get("error"), str)
            and isinstance(parsed.get("message"), str) and parsed["message"] != "")


def classify(load, grace, web_pages=False):
    """Splits the log's answers: ok (2xx), json503 (in a fault window + grace), web (the web server's own error
    pages, when web_pages: a program killed mid-request), bad (anything else: a 500 of ours, HTML, a hang, an error
    outside the windows). Returns (Counter of (kind, status), {class: [entries]})."""
    out = {"ok": [], "json503": [], "web": [], "bad": []}
    for entry in load.log:
        kind, began, ended, status, parsed, raw, ctype, err = entry
        inside = any(began <= end + grace and ended >= start for start, end in load.faults)
        if status is not None and 200 <= status < 300:
            out["ok"].append(entry)
        elif web_pages and inside and raw is not None and raw.strip() in ERROR_PAGES and json_error(status, parsed,
                                                                                                    ctype):
            out["web"].append(entry)
        elif status == 503 and inside and json_error(status, parsed, ctype):
            out["json503"].append(entry)
        else:
            out["bad"].append(entry)
    counts = Counter((kind, status if status is not None else "no answer") for kind, _, _, status, *_ in load.log)
    return counts, out


def describe(entries, most=8):
    return [(kind, round(b, 1), round(e, 1), status, (raw or b"")[:160].decode("utf-8", "replace") if raw else err)
            for kind, b, e, status, _, raw, _, err in entries[:most]]


def decided(s, key, ids, seconds):
    """Waits until none of ids is processing (the account's document list, through the API); {id: document}."""
    docs = {}

    def done():
        docs.clear()
        docs.update({d["id"]: d for d in s.pages(DOCS, key, "documents", limit=100)[0] if d["id"] in ids})
        return len(docs) == len(ids) and all(d["status"] != "processing" for d in docs.values())

    try:
        wait_for(done, f"{len(ids)} accepted uploads decided by the worker", seconds, interval=0.5)
    except AssertionError:
        stuck = sorted(i for i in ids if docs.get(i, {}).get("status", "processing") == "processing")
        jobs = s.query(f"SELECT document_id, state, attempts, worker, lease_until FROM ingest_jobs WHERE document_id "
                       f"IN ({', '.join(map(sql_quote, stuck))})") if stuck else []
        raise AssertionError(f"{len(stuck)} of {len(ids)} accepted uploads still processing (or gone) after "
                             f"{seconds} s: their jobs {jobs[:5]}; worker.log ends:\n{s.worker_log_tail()}") from None
    return docs


def stored_as_answered(s, key, a):
    """None when the answer a (a chat's 200 body) is in its conversation as answered, else what is there."""
    r = s.get(f"/api/v1/chat/conversations/{a['conversation_id']}", key=key)
    got = [m for m in (r.json or {}).get("messages", []) if m.get("id") == a["message_id"]] if r.status == 200 else []
    if len(got) == 1 and got[0]["content"] == a["message"] and got[0]["tokens_used"] == a["tokens_used"] and \
            [x["chunk_id"] for x in got[0]["sources"]] == [x["chunk_id"] for x in a["sources"]]:
        return None
    return (a["message_id"], r.status, got)


def count_after(s, account, key, load, start_balance, kb_ids, grace, web_pages=False, qdrant=None, settle=60,
                more_uploads=()):
    """The counts every test asserts, as a dict; fails on the first that is wrong (after printing them)."""
    counts, by = classify(load, grace, web_pages)
    account_id = s.account_id(account)
    # every accepted upload decided: ready, or failed with a reason
    accepted = [p["id"] for p in load.ok("upload")] + list(more_uploads)
    docs = decided(s, key, accepted, settle)
    ready = [d for d in docs.values() if d["status"] == "ready"]
    failed = [d for d in docs.values() if d["status"] == "failed"]
    # documents stored without a 2xx for their upload (an answer lost after the commit) must end decided too
    wait_for(lambda: s.count_rows("documents", f"account_id = {account_id} AND status = 'processing'") == 0,
             "every document of the account decided", settle, interval=0.5)
    unanswered_docs = s.count_rows("documents", f"account_id = {account_id} AND id NOT IN "
                                               f"({', '.join(map(sql_quote, kb_ids + accepted))})")
    # chunks once each: rows per document = distinct positions = chunk_count
    rows = {d: (int(n), int(k)) for d, n, k in s.query(
        f"SELECT document_id, COUNT(*), COUNT(DISTINCT seq) FROM chunks WHERE account_id = {account_id} "
        f"GROUP BY document_id")}
    dup_chunks = [(d["id"], d["chunk_count"], rows.get(d["id"])) for d in ready
                  if rows.get(d["id"], (0, 0)) != (d["chunk_count"], d["chunk_count"])]
    dup_chunks += [(d["id"], 0, rows.get(d["id"])) for d in failed if d["id"] in rows]
    # chats answered 200: stored in their conversation as answered, with their sources
    answers = load.ok("chat")
    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        lost = [x for x in pool.map(lambda a: stored_as_answered(s, key, a), answers) if x is not None]
    answered_ids = {a["message_id"] for a in answers}
    stored = {m: int(t) for m, t in s.query(f"SELECT id, tokens_prompt + tokens_completion FROM messages "
                                             f"WHERE account_id = {account_id} AND role = 'assistant'")}
    # answers stored (and debited) whose 200 never reached the client: only a program killed mid-request may do so
    unsent = {m: t for m, t in stored.items() if m not in answered_ids}
    # the debit: the answers' tokens and the indexed documents' tokens, exactly
    spent = sum(a["tokens_used"]["total"] for a in answers)
    (indexed,), = s.query(f"SELECT COALESCE(SUM(tokens), 0) FROM documents WHERE account_id = {account_id} "
                          f"AND status = 'ready' AND id NOT IN ({', '.join(map(sql_quote, kb_ids))})")
    debit = start_balance - s.balance(account)
    points = None
    if qdrant is not None:
        points = qdrant.points_by_document(s, account_id)
    c = {
        "requests": len(load.log), "by kind and status": dict(sorted(counts.items(), key=str)),
        "json 503 in window": len(by["json503"]), "web server pages": len(by["web"]), "bad": len(by["bad"]),
        "uploads accepted": len(accepted), "ready": len(ready), "failed": len(failed),
        "stored without a 2xx": unanswered_docs, "chats answered": len(answers), "lost": len(lost),
        "stored but not answered": len(unsent), "duplicated chunks": len(dup_chunks),
        "debit": debit, "answer_tokens": spent, "indexing_tokens": int(indexed),
        "unsent_tokens": sum(unsent.values()),
    }
    if by["json503"] and load.faults:
        c["last 503 after the fault"] = round(max(e[2] for e in by["json503"]) - load.faults[-1][1], 1)
    if points is not None:
        c["points off"] = len(points)
    return c, by, dict(lost=lost, dup_chunks=dup_chunks, failed=failed, unsent=unsent, points=points)


def print_counts(capsys, name, load, c):
    with capsys.disabled():
        faults = ", ".join(f"{a:.1f}-{b:.1f} s" if b > a else f"{a:.1f} s" for a, b in load.marks)
        print(f"  {name}: fault at {faults} of {load.now():.1f} s; {c['requests']} requests "
              f"{c['by kind and status']}", flush=True)
        late = c.get("last 503 after the fault")
        print(f"  {name}: {c['json 503 in window']} JSON 503s in the window"
              f"{f' (the last {late} s after it)' if late is not None else ''}, {c['web server pages']} web-server pages "
              f"(a killed program), {c['bad']} bad; uploads {c['uploads accepted']} accepted → {c['ready']} ready + "
              f"{c['failed']} failed, {c['stored without a 2xx']} stored without a 2xx; chats {c['chats answered']} "
              f"answered, {c['lost']} lost, {c['stored but not answered']} stored but not answered; "
              f"{c['duplicated chunks']} duplicated chunks"
              + (f", {c['points off']} documents whose Qdrant points are not their chunks" if 'points off' in c else "")
              + f"; debit {c['debit']} = answers {c['answer_tokens']} + indexing {c['indexing_tokens']}"
              + (f" + unsent answers {c['unsent_tokens']}" if c['stored but not answered'] else ""),
              flush=True)


def assert_counts(c, by, extra, web_pages=False):
    """What every fault must keep: the goal is 0 lost, 0 duplicated."""
    eq(describe(by["bad"]), [], "answers other than a 2xx, or a JSON 503 inside the fault's window and grace "
                                f"({c['bad']} in all; kind, began, ended, status, body or error)")
    eq(extra["lost"], [], "chats answered 200 and not stored as answered")
    eq(extra["dup_chunks"], [], "documents whose chunk rows are not their chunk_count, once per position "
                                "(id, chunk_count, (rows, distinct positions))")
    bad_failed = [d for d in extra["failed"] if not (isinstance(d.get("error"), str) and d["error"].strip())]
    eq(bad_failed, [], "failed documents without a reason")
    if not web_pages:
        eq(sorted(extra["unsent"]), [], "answers stored (and debited) whose 200 never reached the client")
    eq(c["debit"], c["answer_tokens"] + c["indexing_tokens"] + c["unsent_tokens"],
       "the balance's drop against the answers' tokens_used.total and the documents indexed")
    if extra["points"] is not None:
        eq(sorted(extra["points"].items())[:5], [], f"documents whose Qdrant points are not their chunks "
                                                    f"({len(extra['points'])} in all; id, (points, chunks))")


def prepare(s, prefix, chat_extra=None):
    """An account with a balance, the knowledge base ready; (account, key, KB ids, balance before the load)."""
    account, key = s.docs_key(prefix, balance=10 ** 7)
    kb_ids = list(upload_ready(s, key, KB_FILES).values())
    return account, key, kb_ids, s.balance(account)


# -- (a) MariaDB restarted -----------------------------------------------------------------------------------------

def test_database_restarted_under_load(s, capsys):
    """MariaDB stopped (as `stack.sh db-stop` does: a clean shutdown) 2 s into the load, down 3 s, started again;
    the load goes on 3 s more. Grace: 5 s after MariaDB answers again."""
    account, key, kb_ids, start = prepare(s, "fault-db")
    with Load(s, key, tag="db") as load:
        load.sleep(2)
        a = load.now()
        r = s.stack_sh("db-stop", timeout=60)
        check(r.returncode == 0, f"stack.sh db-stop: {r.stderr}")
        try:
            load.sleep(3)
        finally:
            r = s.stack_sh("db-start", timeout=120)
            load.fault(a, load.now())
        check(r.returncode == 0, f"stack.sh db-start: {r.stderr}")
        load.sleep(3)
    c, by, extra = count_after(s, account, key, load, start, kb_ids, grace=5)
    print_counts(capsys, "database restart", load, c)
    assert_counts(c, by, extra)
    check(c["json 503 in window"] > 0, "no request met the database down: the fault missed the load")



# -- (b) the worker killed mid-document ----------------------------------------------------------------------------

def test_worker_killed_mid_document_under_load(s, capsys):
    """A large document is uploaded 2 s into the load; while the worker holds its job, the worker is killed with
    SIGKILL, and started again 3 s later; the load goes on 3 s more. No request may fail (the API does
    not need the worker): no window. The document the worker held must end ready with each chunk once, with a
    second attempt, without waiting for the lease ([worker] lease_seconds, 300 s) of the dead worker to run out."""
    account, key, kb_ids, start = prepare(s, "fault-worker")
    big = None
    with Load(s, key, tag="wk") as load:
        load.sleep(2)
        big = s.upload_ok(key, docfiles.prose(60_000, seed=18).encode(), "fault-worker-big.txt")
        # Holding the document's row keeps the worker from finishing it (every way to finish writes that row):
        # killed while it holds the job, however fast it extracts and embeds.
        with s.holding_row("documents", big):
            wait_for(lambda: s.query(f"SELECT state FROM ingest_jobs WHERE document_id = {sql_quote(big)}")
                     == [["running"]], "the worker to take the large document", 20, interval=0.05)
            pid = s.worker_pid()
            check(pid is not None, "no daemon worker to kill")
            os.kill(pid, signal.SIGKILL)
            killed = load.now()
            wait_for(lambda: s.worker_pid() is None, f"the worker (pid {pid}) gone after SIGKILL", 10)
        (s.run_dir / "worker.pid").unlink(missing_ok=True)
        load.sleep(3)
        s.start_worker()
        restarted = load.now()
        load.mark(killed, restarted)
        load.sleep(3)
    c, by, extra = count_after(s, account, key, load, start, kb_ids, grace=0, more_uploads=[big])
    (state, attempts), = s.query(f"SELECT state, attempts FROM ingest_jobs WHERE document_id = {sql_quote(big)}")
    c["held job"] = (state, int(attempts))
    print_counts(capsys, "worker killed", load, c)
    with capsys.disabled():
        print(f"  worker killed: at {killed:.1f} s holding the large document, started again at {restarted:.1f} s; "
              f"its job ended {state} after {attempts} attempts", flush=True)
    assert_counts(c, by, extra)
    eq((state, int(attempts)), ("done", 2), "the large document's job: done at the second attempt")


# -- (c) FastCGI processes killed mid-request -----------------------------------------------------------------------

PROGRAMS = ("search.fcgi", "chat.fcgi", "documents.fcgi")


def program_pids(s, names):
    """The processes of the stack's staged programs named names (mod_fcgid's children, run as www-data)."""
    want = {str(s.run_dir / "bin" / n) for n in names}
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{d}/exe")
        except OSError:
            continue
        if exe.removesuffix(" (deleted)") in want:
            pids.append(int(d))
    return pids


def test_programs_killed_mid_request_under_load(s, capsys):
    """Every process of search.fcgi, chat.fcgi and documents.fcgi killed with SIGKILL, three times, 2.5 s apart,
    while the clients keep them busy; the load goes on 3 s after the last. A request a killed process was serving
    is answered by Apache itself, with the JSON error page of apache-example.conf's ErrorDocument: those are
    counted apart ("web-server pages"), and may come only from a kill (grace: 3 s after it, for requests that met a
    process mod_fcgid had not yet seen die). Everything else as for every fault; an answer stored but never sent
    (the process was killed after its COMMIT) is counted apart, and its debit with it."""
    account, key, kb_ids, start = prepare(s, "fault-fcgi")
    kills = []
    with Load(s, key, tag="pk") as load:
        for _ in range(3):
            load.sleep(2.5)
            # mod_fcgid may be between processes at this instant (the last one killed, the next not yet
            # started, or all idle ones reaped): wait for one while the clients go on
            waited = time.monotonic()
            while not (pids := program_pids(s, PROGRAMS)) and time.monotonic() - waited < 5:
                time.sleep(0.05)
            check(pids, f"no process of {PROGRAMS} under {s.run_dir / 'bin'} for 5 s of load "
                  f"(requests so far: {Counter(kind for kind, *_ in load.log)})")
            at = load.now()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            load.fault(at, at)
            kills.append((at, len(pids)))
        load.sleep(3)
    c, by, extra = count_after(s, account, key, load, start, kb_ids, grace=3, web_pages=True)
    in_flight = [sum(1 for _, b, e, *_ in load.log if b <= at <= e) for at, _ in kills]
    print_counts(capsys, "programs killed", load, c)
    pages = Counter((kind, status, json.loads(raw)["error"]) for kind, _, _, status, _, raw, _, _ in by["web"])
    with capsys.disabled():
        print(f"  programs killed: {[n for _, n in kills]} processes each time, {in_flight} requests in flight; "
              f"answered by Apache's error pages: {dict(pages)}", flush=True)
    assert_counts(c, by, extra, web_pages=True)


# -- the stack of (d) and (e): vectors in the Qdrant stand-in, an agent answering through the OpenAI stand-in ------

MODEL = "standin-chat"
COLLECTION = "faqsure_faults"
_standin_stack = {}


def standin_stack():
    """A stack of this module ([vector] backend = qdrant at the Qdrant stand-in; [answerer] url at the
    OpenAI-compatible stand-in, for agents that name it), started on first use and stopped with the run's stacks;
    {"stack", "qdrant": port, "openai": port}."""
    if not _standin_stack:
        if not any(p.exists() for p in QDRANT_SPECS) and not os.environ.get("QDRANT_OPENAPI"):
            raise SkipTest(f"Qdrant's OpenAPI spec is not at {QDRANT_SPECS[0]} (or $QDRANT_OPENAPI)")
        s = Stack()
        harness.keep_stack("faults-standins", s)  # stopped (with its stand-ins) at the end of the run
        s.standins = []
        qproc, qport = start_standin("qdrant_standin.py")
        s.standins.append(qproc)
        oproc, oport = start_standin("openai_standin.py")
        s.standins.append(oproc)
        s.extra_config = (f"[vector]\nbackend = qdrant\nqdrant_url = http://127.0.0.1:{qport}\n"
                          f"qdrant_collection = {COLLECTION}\nqdrant_timeout_ms = 2000\nqdrant_max_retries = 1\n\n"
                          f"[answerer]\nurl = http://127.0.0.1:{oport}/v1\nmodel = {MODEL}\ntimeout_ms = 2000\n"
                          f"max_retries = 1\n")
        _standin_stack.update(stack=s, qdrant=qport, openai=oport)
        s.start()
    return _standin_stack


def control(port, **faults):
    status, body = call(port, "POST", "/_control", faults)
    eq(status, 200, f"stand-in control {faults} ({body})")


def points_off(s, qport, account_id):
    """{document id: (points in Qdrant, chunk rows)} for the account's documents where the two differ (points of
    documents that have no chunks count too)."""
    points, offset = Counter(), None
    while True:
        body = {"filter": {"must": [{"key": "account_id", "match": {"value": str(account_id)}}]}, "limit": 1000,
                "with_payload": True, "with_vector": False}
        if offset is not None:
            body["offset"] = offset
        status, out = call(qport, "POST", f"/collections/{COLLECTION}/points/scroll", body, timeout=30)
        eq(status, 200, f"scroll the account's points ({out})")
        points.update(p["payload"]["document_id"] for p in out["result"]["points"])
        offset = out["result"]["next_page_offset"]
        if offset is None:
            break
    chunks = {d: int(n) for d, n in s.query(f"SELECT document_id, COUNT(*) FROM chunks WHERE account_id = "
                                             f"{account_id} GROUP BY document_id")}
    return {d: (points.get(d, 0), chunks.get(d, 0)) for d in set(points) | set(chunks)
            if points.get(d, 0) != chunks.get(d, 0)}


def outbox_drained(s, account_id, seconds):
    """Waits (without hurrying the outbox's backoff) until the worker handed Qdrant every change it missed; the
    seconds that took."""
    t0 = time.monotonic()
    wait_for(lambda: s.count_rows("vector_outbox", f"account_id = {account_id}") == 0,
             "the worker to hand the Qdrant stand-in what it missed (vector_outbox empty)", seconds, interval=0.5)
    return time.monotonic() - t0


# -- (d) the Qdrant stand-in down ----------------------------------------------------------------------------------

def test_qdrant_down_under_load(capsys):
    """The Qdrant stand-in drops every connection (its "down" fault) from 2 s into the load for 3 s; the load goes
    on 3 s after it is back. Searches and chats need Qdrant: JSON 503s in the window (grace 3 s). Uploads do not:
    their chunks are stored in MariaDB and the points the worker could not write wait in the outbox; once it has
    handed them over (its own backoff, not hurried), every document's points are exactly its chunks."""
    env = standin_stack()
    s, qport = env["stack"], env["qdrant"]
    account, key, kb_ids, start = prepare(s, "fault-qdrant")
    account_id = s.account_id(account)
    try:
        with Load(s, key, tag="qd") as load:
            load.sleep(2)
            a = load.now()
            control(qport, down=True)
            load.sleep(3)
            waiting = s.count_rows("vector_outbox", f"account_id = {account_id}")
            control(qport, down=False)
            load.fault(a, load.now())
            load.sleep(3)
    finally:
        control(qport, down=False)
    c, by, extra = count_after(s, account, key, load, start, kb_ids, grace=3)
    drained = outbox_drained(s, account_id, 60)
    extra["points"] = points_off(s, qport, account_id)
    c["points off"] = len(extra["points"])
    print_counts(capsys, "qdrant down", load, c)
    with capsys.disabled():
        print(f"  qdrant down: {waiting} changes waiting in the outbox as it came back; the outbox empty "
              f"{drained:.1f} s after the count began", flush=True)
    assert_counts(c, by, extra)
    check(c["json 503 in window"] > 0, "no request met Qdrant down: the fault missed the load")


# -- (e) the OpenAI-compatible answerer down -----------------------------------------------------------------------

def upstream_agent(prefix, name):
    """On the stand-ins' stack: an account as prepare makes it and an agent that answers through the OpenAI
    stand-in; (stack, the stand-in's port, account, key, KB ids, balance before, agent id)."""
    env = standin_stack()
    s, oport = env["stack"], env["openai"]
    account, key, kb_ids, start = prepare(s, prefix)
    r = s.post("/api/v1/agents", {"name": name, "answerer": "openai"}, key=key)
    eq(r.status, 201, f"create the agent ({r.describe()})")
    return s, oport, account, key, kb_ids, start, r.json["id"]


def test_openai_answerer_down_under_load(capsys):
    """The chats ask an agent that answers through the OpenAI-compatible stand-in; 2 s into the load the stand-in
    is stopped (connections refused) and 3 s later started again on the same port; the load goes on 3 s more.
    Chats need it: JSON 503s in the window (grace 3 s); searches and uploads do not, and must not fail. The debit is
    the upstream's usage of the answers it gave."""
    s, oport, account, key, kb_ids, start, agent = upstream_agent("fault-openai", "upstream")
    down = []
    with Load(s, key, chat_extra={"agent_id": agent}, tag="oa") as load:
        load.sleep(2)
        a = load.now()
        old = s.standins.pop()
        stop_standin(old)
        try:
            load.sleep(3)
        finally:
            proc, port = start_standin("openai_standin.py", "--port", oport)
            s.standins.append(proc)
        eq(port, oport, "the stand-in's port after the restart")
        load.fault(a, load.now())
        load.sleep(3)
    c, by, extra = count_after(s, account, key, load, start, kb_ids, grace=3)
    down = [k for k, *_ in by["json503"] if k != "chat"]
    print_counts(capsys, "answerer down", load, c)
    assert_counts(c, by, extra)
    eq(down, [], "searches or uploads that failed while the answerer was down")
    check(c["json 503 in window"] > 0, "no chat met the answerer down: the fault missed the load")
    check(all(a["agent_id"] == agent for a in load.ok("chat")), "every chat answered by the agent of the stand-in")


# -- (f) the database gone while an answer is being stored -----------------------------------------------------------

def test_database_gone_while_an_answer_is_stored_keeps_the_answer(capsys):
    """One chat whose answer the OpenAI stand-in holds back 1.5 s. MariaDB is stopped as soon as the stand-in has
    the request (the chat has read what it needs and set its hold aside) and started again 2 s later, so the
    answer is ready while the database is away. The chat waits for it and answers 200 once it is back (before,
    a 503 for an answer that a client would ask, and pay for, again), stored once, with its sources and its debit,
    its hold gone."""
    s, oport, account, key, kb_ids, start, agent = upstream_agent("fault-store", "slow upstream")
    call(oport, "POST", "/_reset")
    control(oport, delay_ms=1500)
    done = {}

    def ask():
        try:
            done["r"] = s.post("/api/v1/chat", {"message": CHAT_QUESTIONS[0], "agent_id": agent}, key=key,
                               timeout=TIMEOUT)
        finally:
            done["at"] = time.monotonic()

    def asked():
        status, body = call(oport, "GET", "/_log")
        return status == 200 and any(q["path"] == "/v1/chat/completions" for q in body["requests"])

    asker = threading.Thread(target=ask)
    t0 = time.monotonic()
    asker.start()
    try:
        wait_for(asked, "the chat reached the answerer", 10, interval=0.02)
        r = s.stack_sh("db-stop", timeout=60)
        check(r.returncode == 0, f"stack.sh db-stop: {r.stderr}")
        stopped = time.monotonic()
        time.sleep(2)
    finally:
        r = s.stack_sh("db-start", timeout=120)
        back = time.monotonic()
        call(oport, "POST", "/_reset")
        asker.join(TIMEOUT + 5)
    check(r.returncode == 0, f"stack.sh db-start: {r.stderr}")
    a = done["r"]
    with capsys.disabled():
        print(f"  answer held 1.5 s: database stopped {stopped - t0:.1f} s after the chat was sent, back at "
              f"{back - t0:.1f} s; the chat answered {a.status} at {done['at'] - t0:.1f} s", flush=True)
    eq(a.status, 200, f"the chat whose answer was ready while the database was away ({a.describe()})")
    # db-stop returns once MariaDB has exited; it sent SIGTERM (which drops every connection) at its start, before
    # the answer was ready. Back 2 s later: a chat that waited ended well after the stop (one stored before it
    # would have ended before)
    check(done["at"] >= stopped + 1.5, "the chat ended before the database had been away long: the fault missed "
                                       "the store")
    eq(stored_as_answered(s, key, a.json), None, "the answer stored in its conversation as answered")
    account_id = s.account_id(account)
    eq(s.count_rows("messages", f"id = {sql_quote(a.json['message_id'])}"), 1, "the answer stored once")
    eq(start - s.balance(account), a.json["tokens_used"]["total"], "the debit: the answer's tokens, once")
    eq(s.count_rows("balance_holds", f"account_id = {account_id}"), 0, "holds left behind")
