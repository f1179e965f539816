# The `qdrant` vector store ([vector] backend = qdrant) against the Qdrant stand-in (test/standins/qdrant_standin.py,
# which checks every request against Qdrant's OpenAPI spec and refuses writes without ?wait=true here): the
# collection and its payload indexes are made on first use, points carry their account and document, searches
# rank exactly as the embedded store does, no account sees another's points, deletes reach the store, and an
# unreachable, failing, locked or mismatched store gives clear errors and loses nothing (the outbox keeps it).
#
# Uploads go through Apache; the worker that indexes them and the searches run with a configuration copy that
# selects the qdrant backend (worker --once, and search.fcgi as plain CGI), since Apache's programs use the stack's
# own configuration (the embedded store), which the comparisons use as the reference.
import contextlib
import os
from pathlib import Path
import json
import shutil
import struct
import time

from harness import BUILD, DOCUMENTS_FCGI, ROOT, SkipTest, check, eq, paused_worker, sql_quote, unique
from standins import call, start_standin, stop_standin

SEARCH_FCGI = BUILD / "fcgi-bin" / "search.fcgi"
SEARCH = "/api/v1/search"

DOC_TEXTS = {
    "refunds.md": """# Refunds and returns

## Refund window
Customers may ask for a refund within thirty days of delivery. The refund goes back to the original payment card
and appears after five to seven business days. Digital goods cannot be refunded once downloaded.

## Returning an item
Pack the item in its original box, print the return label from your order page and drop the parcel at any post
office. Returns without a label are refused at the warehouse and sent back to the sender.

## Damaged deliveries
If a parcel arrives damaged, take photos of the box and of the item before unpacking further and send them to
support within two days. We ship a replacement at no cost once the photos are checked.
""",
    "accounts.md": """# Your account

## Resetting a password
Use the forgotten password link on the sign-in page. We email a reset link that works for one hour. If no email
arrives, check the spam folder and make sure the address on the account is the one you are reading.

## Two-factor sign-in
Turn on two-factor sign-in under Security. You need an authenticator app; SMS codes are not offered. Keep the
recovery codes somewhere safe: support cannot bypass two-factor sign-in for you.

## Closing an account
Closing an account deletes its orders and saved addresses after thirty days. Refunds still in progress are paid
out before the account is removed.
""",
    "shipping.txt": """Shipping times and costs.

Standard shipping takes three to five business days and is free for orders above fifty euros. Express shipping
arrives the next business day when ordered before two in the afternoon and costs nine euros.

We ship to every country of the European Union, to Norway, Switzerland and the United Kingdom. Parcels to the
United Kingdom and Switzerland may be charged import duties on arrival, which the customer pays.

Every parcel has a tracking number, sent by email once the warehouse hands it to the carrier. Tracking pages can
take a day to show the first scan.
""",
}
QUERIES = ["how long do refunds take", "reset my password", "express shipping cost", "damaged parcel photos",
           "import duties United Kingdom", "two-factor recovery codes", "closing account refunds"]


QDRANT_SPECS = (ROOT.parent / "shared" / "qdrant" / "openapi-1.19.json",
                Path("/work/shared/qdrant/openapi-1.19.json"))


def need(*what):
    """Skips the test when the stand-in cannot check requests: Qdrant's OpenAPI spec is reference material kept
    beside the repository (../shared/qdrant, or /work/shared/qdrant), never in it."""
    if not any(p.exists() for p in QDRANT_SPECS) and not os.environ.get("QDRANT_OPENAPI"):
        raise SkipTest(f"Qdrant's OpenAPI spec is not at {QDRANT_SPECS[0]} (or $QDRANT_OPENAPI)")


class Qdrant:
    """The stand-in, its collection and the configuration copy that points the backend at it."""

    def __init__(self, proc, port, collection, api_key):
        self.proc, self.port, self.collection, self.api_key = proc, port, collection, api_key
        self.url = f"http://127.0.0.1:{port}"
        self.conf = None

    def request(self, method, path, body=None, key=True):
        headers = {"api-key": self.api_key} if key and self.api_key else {}
        return call(self.port, method, path, body, timeout=30, headers=headers)

    def control(self, **kw):
        status, out = self.request("POST", "/_control", kw, key=False)
        eq(status, 200, f"stand-in control {kw} ({out})")

    def log(self, suffix=None, method=None):
        """Logged requests to this collection (path after /collections/<name>, e.g. "/points/query")."""
        status, out = self.request("GET", "/_log", key=False)
        eq(status, 200, "stand-in log")
        base = f"/collections/{self.collection}"
        got = [r for r in out["requests"] if r["path"] == base or r["path"].startswith(base + "/")]
        if suffix is not None:
            got = [r for r in got if r["path"] == base + suffix]
        if method is not None:
            got = [r for r in got if r["method"] == method]
        return got

    def api(self, method, suffix, body=None):
        status, out = self.request(method, f"/collections/{self.collection}{suffix}", body)
        eq(status, 200, f"stand-in {method} {suffix} ({out})")
        return out["result"]

    def count(self, must=()):
        return self.api("POST", "/points/count", {"filter": {"must": list(must)}, "exact": True})["count"]

    def points(self, must=()):
        out, offset = [], None
        while True:
            body = {"filter": {"must": list(must)}, "limit": 100, "with_payload": True, "with_vector": True}
            if offset is not None:
                body["offset"] = offset
            page = self.api("POST", "/points/scroll", body)
            out += page["points"]
            offset = page["next_page_offset"]
            if offset is None:
                return out


def match(key, value):
    return {"key": key, "match": {"value": value}}


@contextlib.contextmanager
def qdrant(s, api_key=None, config_key="same", timeout_ms=3000, retries=2, batch_points=None, strict=True):
    """A stand-in (with an api key when given) and a configuration copy: [vector] backend = qdrant at it, a
    collection of the test's own, small chunks. config_key: the key the configuration holds ("same" as the
    stand-in's, None for none, or another string)."""
    need()
    proc, port = start_standin("qdrant_standin.py", *(["--api-key", api_key] if api_key else []))
    qd = Qdrant(proc, port, unique("faqsure_it").replace("-", "_"), api_key)
    conf = None
    try:
        if strict:
            qd.control(strict_wait=True)  # a write without ?wait=true is a 400, not a silent race
        key = api_key if config_key == "same" else config_key
        text = (f"[vector]\nbackend = qdrant\nqdrant_url = {qd.url}\nqdrant_collection = {qd.collection}\n"
                f"qdrant_timeout_ms = {timeout_ms}\nqdrant_max_retries = {retries}\n")
        if key:
            text += f"qdrant_api_key = {key}\n"
        if batch_points:
            text += f"qdrant_batch_points = {batch_points}\n"
        text += "\n[chunk]\ntarget_chars = 300\nmax_chars = 450\noverlap_chars = 0\n"
        conf = s.config_copy(text)
        qd.conf = conf
        yield qd
    finally:
        stop_standin(proc)
        if conf is not None:
            shutil.rmtree(conf.parent, ignore_errors=True)


def run_worker(s, conf):
    """`faqsurectl worker --once` with conf; its output (the exit code is the lead's to define when only the
    vector store failed)."""
    r = s.ctl("worker", "--once", config=conf, check_rc=False, timeout=120)
    out = r.stdout + r.stderr
    check("Sanitizer" not in out and "runtime error:" not in out, f"the worker reported a sanitizer error:\n{out}")
    return out


def ingest(s, key, conf, texts=None):
    """Uploads texts ({filename: text}) through Apache and indexes them with one worker run on conf (the daemon
    worker, which uses the stack's configuration, is paused meanwhile). Returns {filename: document id}; every
    document is ready."""
    texts = DOC_TEXTS if texts is None else texts
    with paused_worker(s):
        s.worker_once()  # what other tests left queued goes through the stack's own store, not this test's
        ids = {name: s.upload_ok(key, text.encode(), name) for name, text in texts.items()}
        out = run_worker(s, conf)
        states = s.wait_processed(ids.values(), seconds=60)
    for name, doc in ids.items():
        eq(states[doc][0], "ready", f"{name} after the worker run (error {states[doc][1]!r}; worker said {out!r})")
    return ids


_dims = []


def builtin_dims(s):
    """The stack's embedder's vector size (the built-in one), from a chunk it made (one is made when none is)."""
    if not _dims:
        rows = s.query("SELECT dims FROM chunks WHERE embed_model LIKE 'builtin%' LIMIT 1")
        if not rows:
            _, key = s.docs_key("qd-dims-probe")
            with paused_worker(s):
                doc = s.upload_ok(key, b"A probe of the embedder's vector size.", "probe.txt")
                s.worker_once()
            s.wait_document(key, doc, "ready")
            rows = s.query(f"SELECT dims FROM chunks WHERE document_id = {sql_quote(doc)} LIMIT 1")
        _dims.append(int(rows[0][0]))
    return _dims[0]


def outbox(s, account_id):
    """The account's queued vector-store changes: [(document_id, op, attempts, last_error)]."""
    rows = s.query(f"SELECT document_id, op, attempts, last_error FROM vector_outbox "
                   f"WHERE account_id = {sql_quote(account_id)} ORDER BY id")
    return [(d, op, int(n), err) for d, op, n, err in rows]


def retry_outbox_now(s, account_id):
    """Makes the account's queued changes due at once (their backoff would otherwise have the test wait)."""
    s.sql(f"UPDATE vector_outbox SET next_try = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
          f"WHERE account_id = {sql_quote(account_id)}")


def chunk_rows(s, doc_id):
    """{chunk id: (dense vector, {term: weight})} of a document, from MariaDB."""
    rows = s.query(f"SELECT id, dims, HEX(embedding), HEX(sparse) FROM chunks WHERE document_id = {sql_quote(doc_id)}")
    out = {}
    for cid, dims, emb, sp in rows:
        dense = struct.unpack(f"<{int(dims)}f", bytes.fromhex(emb))
        blob = bytes.fromhex(sp or "")
        pairs = [struct.unpack("<If", blob[i:i + 8]) for i in range(0, len(blob), 8)]
        out[cid] = (dense, dict(pairs))
    return out


def search(s, key, body, conf=None):
    """POST /api/v1/search as plain CGI with conf (default: the stack's configuration, the embedded store).
    Returns (status, parsed body)."""
    status, _, raw, rc = s.cgi(SEARCH_FCGI, "POST", SEARCH, key=key, body=json.dumps(body).encode(),
                               extra_env={"FAQSURE_CONFIG": str(conf or s.config_path)}, timeout=60)
    eq(rc, 0, f"search.fcgi exit code as CGI (HTTP {status}); a sanitizer build exits non-zero on a leak")
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise AssertionError(f"search answer is not JSON: HTTP {status} {raw[:300]!r}") from None
    return status, parsed


def search_ok(s, key, body, conf=None):
    status, out = search(s, key, body, conf)
    eq(status, 200, f"search {body} ({'qdrant' if conf else 'embedded'}): {out}")
    return out["results"]


def ranked(results):
    return [(r["chunk_id"], r["similarity_score"]) for r in results]


def same_ranking(got, want, what):
    eq([c for c, _ in got], [c for c, _ in want], f"{what}: chunk ids in order")
    for (c, a), (_, b) in zip(got, want):
        check(abs(a - b) <= 1e-6, f"{what}: score of {c}: qdrant {a!r}, embedded {b!r}")


def query_bodies(qd):
    return [r["body"] for r in qd.log("/points/query", "POST")]


# ---------------------------------------------------------------------------------------------------------------

def test_collection_indexes_and_points_on_first_use(s):
    need("vstore")
    account, key = s.docs_key("qd-first")
    acct = s.account_id(account)
    with qdrant(s, batch_points=4) as qd:
        ids = ingest(s, key, qd.conf)
        log = qd.log()
        check(log, "the worker sent nothing to Qdrant")
        dims = builtin_dims(s)
        first = [(r["method"], r["path"].split(qd.collection, 1)[1], r["status"]) for r in log[:5]]
        eq(first, [("GET", "", 404), ("PUT", "", 200), ("GET", "", 200), ("PUT", "/index", 200),
                   ("PUT", "/index", 200)],
           "first use: look, create the collection, look again, then both payload indexes")
        eq(log[1]["body"], {"vectors": {"dense": {"size": dims, "distance": "Cosine", "on_disk": True}},
                            "sparse_vectors": {"bm25": {"modifier": "idf"}},
                            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
                            "hnsw_config": {"m": 16, "ef_construct": 100}}, "collection create body")
        eq([(r["query"], r["body"], r["status"]) for r in log[3:5]],
           [({"wait": ["true"]}, {"field_name": "account_id", "field_schema": {"type": "keyword", "is_tenant": True}},
             200),
            ({"wait": ["true"]}, {"field_name": "document_id", "field_schema": "keyword"}, 200)],
           "payload index requests")
        eq(sum(1 for r in log if r["method"] == "PUT" and r["path"].endswith(qd.collection)), 1,
           "the collection is created once")

        upserts = qd.log("/points", "PUT")
        check(upserts, "no upsert was sent")
        for r in upserts:
            eq(r["query"], {"wait": ["true"]}, "upserts wait")
            eq(r["status"], 200, f"upsert answer ({r['body'] if r['status'] != 200 else ''})")
            check(1 <= len(r["body"]["points"]) <= 4, f"batches of at most qdrant_batch_points = 4: "
                                                      f"{len(r['body']['points'])}")
        sent = {p["id"]: p for r in upserts for p in r["body"]["points"]}
        for name, doc in ids.items():
            chunks = chunk_rows(s, doc)
            check(len(chunks) >= 2, f"{name}: small chunks make several ({len(chunks)})")
            for cid, (dense, sparse) in chunks.items():
                p = sent.get(cid)
                check(p is not None, f"{name}: chunk {cid} was never sent to Qdrant")
                eq(p["payload"], {"account_id": acct, "document_id": doc}, f"payload of point {cid}")
                eq(sorted(p["vector"]), ["bm25", "dense"], f"vectors of point {cid}")
                eq(len(p["vector"]["dense"]), dims, f"dense size of point {cid}")
                check(all(abs(a - b) <= 1e-6 for a, b in zip(p["vector"]["dense"], dense)),
                      f"point {cid}: dense vector differs from the chunk's embedding")
                bm = p["vector"]["bm25"]
                got = dict(zip(bm["indices"], bm["values"]))
                eq(sorted(got), sorted(sparse), f"point {cid}: sparse terms")
                check(all(abs(got[t] - w) <= 1e-6 for t, w in sparse.items()), f"point {cid}: sparse weights")
            eq(qd.count([match("document_id", doc)]), len(chunks), f"{name}: points in Qdrant")
        eq(qd.count(), len(sent), "points in the collection")
        eq(outbox(s, acct), [], "the outbox is empty once Qdrant confirmed")


def test_search_results_equal_the_embedded_store(s):
    need("vstore", "search")
    account, key = s.docs_key("qd-same")
    acct = s.account_id(account)
    with qdrant(s) as qd:
        ids = ingest(s, key, qd.conf)
        eq(qd.count(), qd.count([match("account_id", acct)]),
           "the collection holds this account only (Qdrant's idf is collection-wide)")
        compared = 0
        for text in QUERIES:
            for hybrid in (False, True):
                body = {"query": text, "top_k": 8, "similarity_threshold": 0.0, "use_hybrid": hybrid}
                want = ranked(search_ok(s, key, body))
                got = ranked(search_ok(s, key, body, qd.conf))
                check(want, f"embedded search found nothing for {text!r}")
                same_ranking(got, want, f"{text!r} hybrid={hybrid}")
                compared += 1
        # A document filter: the same chunks, dense ranking (hybrid idf differs, see the report of this module).
        body = {"query": "refund", "top_k": 5, "similarity_threshold": 0.0, "use_hybrid": False,
                "document_ids": [ids["accounts.md"], ids["shipping.txt"]]}
        want = ranked(search_ok(s, key, body))
        got = ranked(search_ok(s, key, body, qd.conf))
        same_ranking(got, want, "document_ids filter")
        docs_of = {cid for d in body["document_ids"] for cid in chunk_rows(s, d)}
        check(all(c in docs_of for c, _ in got), "document_ids: only those documents' chunks")
        q = [b for b in query_bodies(qd) if any(c.get("key") == "document_id" for c in b["filter"]["must"])]
        check(q and q[-1]["filter"]["must"][1] == {"key": "document_id",
                                                    "match": {"any": body["document_ids"]}},
              f"document filter sent as match any: {q[-1] if q else None}")
        check(len(query_bodies(qd)) >= compared + 1, "every search asked Qdrant")


def test_another_accounts_points_never_come_back(s):
    need("vstore", "search")
    a_name, a_key = s.docs_key("qd-tenant-a")
    b_name, b_key = s.docs_key("qd-tenant-b")
    a_id, b_id = s.account_id(a_name), s.account_id(b_name)
    with qdrant(s) as qd:
        # B has well over SEARCH_PREFETCH (50) passages that answer refund questions better than anything of A's:
        # without the filter in every prefetch they would fill both candidate lists, and A's refund searches would
        # come back short (the top-level filter only drops them afterwards).
        b_texts = {f"refund-faq-{part}.txt": "\n\n".join(
            f"Refund question {i}: how long do refunds take for order type {i}? Refunds for order type {i} take "
            f"{i % 7 + 2} business days to reach the card; a refund of type {i} is confirmed by email."
            for i in range(part * 30, part * 30 + 30)) for part in range(8)}  # under 40 chunks a document
        ingest(s, b_key, qd.conf, b_texts)
        b_points = qd.count([match("account_id", b_id)])
        check(b_points > 100, f"B has over 100 points ({b_points})")
        a_ids = ingest(s, a_key, qd.conf, {"accounts.md": DOC_TEXTS["accounts.md"]})
        a_chunks = set(chunk_rows(s, a_ids["accounts.md"]))
        for text in QUERIES + ["how long do refunds take for my order", "refund business days email"]:
            for hybrid in (False, True):
                body = {"query": text, "top_k": 5, "similarity_threshold": 0.0, "use_hybrid": hybrid}
                got = search_ok(s, a_key, body, qd.conf)
                check(all(r["chunk_id"] in a_chunks for r in got),
                      f"{text!r} hybrid={hybrid}: another account's chunk came back: {ranked(got)}")
                eq(len(got), len(search_ok(s, a_key, body)), f"{text!r} hybrid={hybrid}: as many hits as embedded")
        a_filter = match("account_id", a_id)
        for b in query_bodies(qd):
            check(a_filter in b["filter"]["must"] or match("account_id", b_id) in b["filter"]["must"],
                  f"query without an account filter: {b}")
            for p in b.get("prefetch", []):
                eq(p.get("filter"), b["filter"], "every prefetch repeats the top-level filter")
                check(p["limit"] >= 5, f"prefetch limit {p['limit']} below top_k")
        check(any("prefetch" in b for b in query_bodies(qd)), "hybrid searches use prefetch + fusion")
        for b in query_bodies(qd):
            if "prefetch" in b:
                eq(b["query"], {"fusion": "rrf"}, "fusion query")
                eq([p["using"] for p in b["prefetch"]][:1], ["dense"], "dense prefetch first")
                check("using" not in b, "no top-level using with fusion")
            else:
                eq(b["using"], "dense", "dense query names its vector")


def test_document_delete_removes_its_points(s):
    need("vstore")
    account, key = s.docs_key("qd-delete")
    acct = s.account_id(account)
    with qdrant(s) as qd:
        ids = ingest(s, key, qd.conf, {n: DOC_TEXTS[n] for n in ("refunds.md", "accounts.md")})
        gone, kept = ids["refunds.md"], ids["accounts.md"]
        kept_n = qd.count([match("document_id", kept)])
        check(qd.count([match("document_id", gone)]) > 0 and kept_n > 0, "both documents indexed")
        # The delete runs with the qdrant configuration (Apache's documents.fcgi uses the embedded store).
        status, _, raw, _ = s.cgi(DOCUMENTS_FCGI, "DELETE", f"/api/v1/documents/{gone}", key=key,
                                  extra_env={"FAQSURE_CONFIG": str(qd.conf)})
        eq(status, 200, f"delete ({raw[:200]!r})")
        run_worker(s, qd.conf)  # applies whatever the delete left in the outbox
        eq(qd.count([match("document_id", gone)]), 0, "the deleted document's points")
        eq(qd.count([match("document_id", kept)]), kept_n, "the other document's points")
        eq(outbox(s, acct), [], "outbox after the delete went through")
        deletes = qd.log("/points/delete", "POST")
        check(deletes, "no delete request")
        eq(deletes[-1]["query"], {"wait": ["true"]}, "deletes wait")
        eq(deletes[-1]["body"], {"filter": {"must": [match("account_id", acct),
                                                      {"key": "document_id", "match": {"any": [gone]}}]}},
           "delete by the document's filter")
        if SEARCH_FCGI.exists():
            got = search_ok(s, key, {"query": "refund within thirty days", "top_k": 10, "similarity_threshold": 0.0,
                                     "use_hybrid": True}, qd.conf)
            gone_chunks = set(chunk_rows(s, gone))  # empty now: the rows went with the document
            check(not gone_chunks, "the deleted document's chunk rows are gone")
            kept_chunks = set(chunk_rows(s, kept))
            check(all(r["chunk_id"] in kept_chunks for r in got), f"search after delete: {ranked(got)}")


def test_account_delete_removes_its_points(s):
    """faqsurectl account delete removes every point of the account from Qdrant (one delete by the account's
    filter), leaves other accounts' points alone, and when Qdrant is down queues the removal for the worker."""
    need("vstore")
    for down in (False, True):
        account, key = s.docs_key("qd-del-acct")
        _, other_key = s.docs_key("qd-del-keep")
        acct = s.account_id(account)
        with qdrant(s) as qd:
            ingest(s, key, qd.conf, {n: DOC_TEXTS[n] for n in ("refunds.md", "accounts.md")})
            kept = ingest(s, other_key, qd.conf, {"shipping.txt": DOC_TEXTS["shipping.txt"]})["shipping.txt"]
            kept_n = qd.count([match("document_id", kept)])
            check(qd.count([match("account_id", acct)]) > 0 and kept_n > 0, "both accounts indexed")
            if down:
                qd.control(down=True)
            r = s.ctl("account", "delete", account, "--yes", config=qd.conf, timeout=120)
            if down:
                check("queued" in r.stdout, f"account delete with Qdrant down says the removal waits:\n{r.stdout}")
                eq([op for _, op, _, _ in outbox(s, acct)], ["delete_account"], "the queued change")
                qd.control(down=False)
                retry_outbox_now(s, acct)
                run_worker(s, qd.conf)
            else:
                check("every point of the account deleted" in r.stdout, f"account delete says so:\n{r.stdout}")
            eq(qd.count([match("account_id", acct)]), 0, f"the deleted account's points (Qdrant down: {down})")
            eq(qd.count([match("document_id", kept)]), kept_n, "the other account's points")
            eq(outbox(s, acct), [], "outbox after the delete went through")
            deletes = [d["body"] for d in qd.log("/points/delete", "POST")]
            check({"filter": {"must": [match("account_id", acct)]}} in deletes, f"a delete by the account: {deletes}")


def test_qdrant_down_during_ingest_loses_nothing(s):
    need("vstore")
    account, key = s.docs_key("qd-down-ingest")
    acct = s.account_id(account)
    with qdrant(s, timeout_ms=1000, retries=1) as qd:
        qd.control(down=True)
        t0 = time.monotonic()
        ids = ingest(s, key, qd.conf, {"shipping.txt": DOC_TEXTS["shipping.txt"]})
        took = time.monotonic() - t0
        check(took < 60, f"the worker run took {took:.1f} s with Qdrant down")
        doc = ids["shipping.txt"]
        waiting = outbox(s, acct)
        check(waiting and all(d == doc and op == "upsert" for d, op, _, _ in waiting),
              f"the document's change waits in the outbox: {waiting}")
        check(all(n >= 1 and err and "unavailable" in err for _, _, n, err in waiting),
              f"outbox rows record the failed try: {waiting}")
        eq(s.document(key, doc)["status"], "ready", "the document is ready (MariaDB holds its chunks)")

        qd.control(down=False)
        due_in = float(s.query(f"SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), MIN(next_try)) / 1e6 "
                               f"FROM vector_outbox WHERE account_id = {sql_quote(acct)}")[0][0])
        t0 = time.monotonic()
        run_worker(s, qd.conf)
        if time.monotonic() - t0 < due_in:  # the whole run came before the backoff ended: it must leave them
            eq(len(outbox(s, acct)), len(waiting), "a change is not retried before its next_try")
        retry_outbox_now(s, acct)
        out = run_worker(s, qd.conf)
        eq(outbox(s, acct), [], f"outbox after Qdrant came back (worker said {out!r})")
        chunks = chunk_rows(s, doc)
        eq(qd.count([match("document_id", doc)]), len(chunks), "every chunk reached Qdrant")
        eq({p["id"] for p in qd.points([match("document_id", doc)])}, set(chunks), "the points are the chunks")
        if SEARCH_FCGI.exists():
            got = search_ok(s, key, {"query": "express shipping next business day", "top_k": 3,
                                     "similarity_threshold": 0.0, "use_hybrid": True}, qd.conf)
            check(got and all(r["chunk_id"] in chunks for r in got), f"search finds the document: {ranked(got)}")


def test_qdrant_down_during_search_is_503(s):
    need("vstore", "search")
    account, key = s.docs_key("qd-down-search")
    with qdrant(s, timeout_ms=1000, retries=1) as qd:
        ingest(s, key, qd.conf, {"accounts.md": DOC_TEXTS["accounts.md"]})
        body = {"query": "reset my password", "top_k": 3, "similarity_threshold": 0.0, "use_hybrid": True}
        search_ok(s, key, body, qd.conf)
        for fault in ({"down": True}, {"delay_ms": 2500}):
            qd.control(**dict({"down": False, "delay_ms": 0}, **fault))
            t0 = time.monotonic()
            status, out = search(s, key, body, qd.conf)
            took = time.monotonic() - t0
            eq(status, 503, f"search with Qdrant {fault}: {out}")
            eq(out.get("error"), "upstream_unavailable", f"error code with {fault}")
            check(isinstance(out.get("message"), str) and out["message"], f"a message: {out}")
            check("api-key" not in json.dumps(out).lower(), f"no header in the answer: {out}")
            check(took < 15, f"the 503 took {took:.1f} s")
        qd.control(down=False, delay_ms=0)
        search_ok(s, key, body, qd.conf)


def test_search_retries_5xx(s):
    need("vstore", "search")
    account, key = s.docs_key("qd-retry")
    with qdrant(s, retries=2) as qd:
        ingest(s, key, qd.conf, {"refunds.md": DOC_TEXTS["refunds.md"]})
        body = {"query": "return label", "top_k": 4, "similarity_threshold": 0.0, "use_hybrid": False}
        before = ranked(search_ok(s, key, body, qd.conf))
        n0 = len(query_bodies(qd))
        qd.control(fail=[{"status": 503, "times": 2, "path": "/points/query"}])
        after = ranked(search_ok(s, key, body, qd.conf))
        eq(after, before, "the same results after two 503s")
        statuses = [r["status"] for r in qd.log("/points/query", "POST")[n0:]]
        check(statuses[:3] == [503, 503, 200] and set(statuses[3:]) <= {200},
              f"two 503s, then the same request again: {statuses}")
        qd.control(fail=[{"status": 500, "times": 3, "path": "/points/query"}])
        status, out = search(s, key, body, qd.conf)
        eq((status, out.get("error")), (503, "upstream_unavailable"), f"5xx beyond the retries: {out}")


def test_api_key_is_sent_and_a_wrong_one_is_explained(s):
    need("vstore")
    account, key = s.docs_key("qd-key")
    acct = s.account_id(account)
    secret = "qd-" + unique("key")
    with qdrant(s, api_key=secret) as qd:
        ingest(s, key, qd.conf, {"refunds.md": DOC_TEXTS["refunds.md"]})
        log = qd.log()
        check(log and all(r["headers"].get("api-key") == secret for r in log),
              "every request carries the configured api-key header")
        check(qd.count() > 0, "indexed with the key")
    wrong = "wrong-" + unique("key")
    with qdrant(s, api_key=secret, config_key=wrong) as qd:
        ids = ingest(s, key, qd.conf, {"shipping.txt": DOC_TEXTS["shipping.txt"]})
        waiting = [w for w in outbox(s, acct) if w[0] == ids["shipping.txt"]]
        check(waiting, "the change waits in the outbox while the key is refused")
        err = waiting[0][3] or ""
        check("API key" in err and "qdrant_api_key" in err, f"the outbox names the key problem: {err!r}")
        check(wrong not in err and secret not in err, f"the key itself is not in the message: {err!r}")
        if SEARCH_FCGI.exists():
            status, out = search(s, key, {"query": "shipping", "top_k": 3, "similarity_threshold": 0.0,
                                          "use_hybrid": False}, qd.conf)
            eq((status, out.get("error")), (503, "upstream_unavailable"), f"search with a wrong key: {out}")
            check(wrong not in json.dumps(out), f"the key is not in the answer: {out}")
    s.sql(f"DELETE FROM vector_outbox WHERE account_id = {sql_quote(acct)}")  # that stand-in is gone


def test_dimension_mismatch_names_reindex(s):
    need("vstore")
    account, key = s.docs_key("qd-dims")
    acct = s.account_id(account)
    dims = builtin_dims(s)
    with qdrant(s) as qd:
        status, out = qd.request("PUT", f"/collections/{qd.collection}",
                                 {"vectors": {"dense": {"size": 8, "distance": "Cosine"}},
                                  "sparse_vectors": {"bm25": {"modifier": "idf"}}})
        eq(status, 200, f"pre-created collection ({out})")
        ids = ingest(s, key, qd.conf, {"accounts.md": DOC_TEXTS["accounts.md"]})
        waiting = outbox(s, acct)
        check(waiting, "the change waits in the outbox")
        err = waiting[0][3] or ""
        check("faqsurectl reindex" in err and "8-dimension" in err and str(dims) in err,
              f"the outbox error names both sizes and the fix: {err!r}")
        eq(qd.log("/points", "PUT"), [], "no upsert of mismatched vectors was sent")
        eq(s.document(key, ids["accounts.md"])["status"], "ready", "the document itself is ready")
        if SEARCH_FCGI.exists():
            status, out = search(s, key, {"query": "password", "top_k": 3, "similarity_threshold": 0.0,
                                          "use_hybrid": False}, qd.conf)
            check(status != 200 and "reindex" in str(out.get("message")),
                  f"search names the fix: HTTP {status} {out}")
    s.sql(f"DELETE FROM vector_outbox WHERE account_id = {sql_quote(acct)}")


def test_create_race_with_another_process(s):
    """Another process created the collection between our look and our create: 409, which is fine."""
    need("vstore")
    account, key = s.docs_key("qd-race")
    dims = builtin_dims(s)
    with qdrant(s) as qd:
        status, out = qd.request("PUT", f"/collections/{qd.collection}",
                                 {"vectors": {"dense": {"size": dims, "distance": "Cosine", "on_disk": True}},
                                  "sparse_vectors": {"bm25": {"modifier": "idf"}}})
        eq(status, 200, f"pre-created collection ({out})")
        qd.control(fail=[{"status": 404, "times": 1, "method": "GET", "path": f"/collections/{qd.collection}",
                          "message": f"Not found: Collection `{qd.collection}` doesn't exist!"}])
        ingest(s, key, qd.conf, {"refunds.md": DOC_TEXTS["refunds.md"]})
        log = qd.log()[1:]  # after the test's own create
        eq([(r["method"], r["path"].split(qd.collection, 1)[1], r["status"]) for r in log[:3]],
           [("GET", "", 404), ("PUT", "", 409), ("GET", "", 200)], "look, create (409), look again")
        eq(sorted(r["body"]["field_name"] for r in qd.log("/index", "PUT")), ["account_id", "document_id"],
           "the missing payload indexes are created")
        check(qd.count() > 0, "points stored after the race")
