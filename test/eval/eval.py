#!/usr/bin/python3
# make eval: retrieval quality of POST /api/v1/search, measured through the real API of a private stack on the
# public test sets in ../shared/eval, beside Xapian BM25 (the peer) on the same documents and queries; then chat
# with the built-in answerer (POST /api/v1/chat, each question a new conversation) on the same knowledge bases:
# how often it answers from a relevant passage, answers wrongly or falls back, on the set's own questions and on
# the other sets' questions (out of domain), at several similarity thresholds and at the agent's default.
# Run with /usr/bin/python3 (Debian's python3-xapian is importable only there).
#
# Environment:
#   EVAL_DIR        the sets (default ../shared/eval relative to the repository)
#   EVAL_SETS       comma-separated set names (default: every folder of EVAL_DIR holding a corpus.jsonl)
#   EVAL_QUERIES=N  only the first N dev queries of each set (quick runs)
#   EVAL_PEER_ONLY=1  only Xapian: no stack, no FAQSure numbers
#   EVAL_OUT        write the numbers there as JSON
#   EVAL_UPLOADERS  parallel upload connections (default 4); EVAL_SEARCHERS parallel search connections (default 2)
#   EVAL_CHAT=0     no chat metrics; EVAL_CHATTERS parallel chat connections (default 2)
#   EVAL_OOD_QUERIES  out-of-domain questions asked of each knowledge base (default 300; evenly spaced over the
#                   other sets' dev queries)
#   BUILDDIR        as for the integration tests (default build)
# Exits non-zero on errors only (a failed upload, document or search; a missing program), never on quality.
import collections
import concurrent.futures
import http.client
import json
import math
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "integration"))
sys.path.insert(0, str(ROOT / "test" / "eval"))
import answers  # noqa: E402

# Our own answer-level set over the real documents of ../shared/docs (answers.py).
DOCS_DIR = ROOT.parent / "shared" / "docs"
DOCS_QUESTIONS = ROOT / "test" / "eval" / "docs_questions.jsonl"

K_CUT = 10          # nDCG@10, MRR@10
SEARCH_TOP_K = 50   # chunks asked for per query (the API's maximum)
XAPIAN_DEPTH = 100
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
MAIN_THRESHOLD = 0.7
SEARCH_PATH = "/api/v1/search"
UPLOAD_PATH = "/api/v1/documents/upload"
CHAT_PATH = "/api/v1/chat"
# similarity_threshold values sent with each chat; None: left out, so the agent's default applies
CHAT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, None)


class EvalError(Exception):
    """Something went wrong that is not a matter of quality: the run exits non-zero."""


# ---------------------------------------------------------------------------------------------------------------
# Data

class EvalSet:
    def __init__(self, path, max_queries=None):
        self.name = path.name
        self.docs = [json.loads(line) for line in open(path / "corpus.jsonl", encoding="utf-8") if line.strip()]
        self.qrels = collections.defaultdict(dict)
        with open(path / "qrels.dev.tsv", encoding="utf-8") as f:
            next(f)  # header
            for line in f:
                if not line.strip():
                    continue
                qid, did, rel = line.rstrip("\n").split("\t")
                self.qrels[qid][did] = int(rel)
        queries = [json.loads(line) for line in open(path / "queries.dev.jsonl", encoding="utf-8") if line.strip()]
        # As BEIR does: a query without any judged relevant document cannot be scored, so it is not asked.
        self.queries = [q for q in queries if any(r > 0 for r in self.qrels.get(q["_id"], {}).values())]
        if max_queries:
            self.queries = self.queries[:max_queries]

    @staticmethod
    def file_text(doc):
        """The uploaded file's content: the title (if any) on the first line, a blank line, then the text."""
        title = (doc.get("title") or "").strip()
        return (f"{title}\n\n{doc['text']}" if title else doc["text"]).encode("utf-8")


def find_sets():
    eval_dir = Path(os.environ.get("EVAL_DIR") or ROOT.parent / "shared" / "eval")
    if not eval_dir.is_absolute():
        eval_dir = (ROOT / eval_dir).resolve()
    if not eval_dir.is_dir():
        raise EvalError(f"no evaluation data at {eval_dir} (set EVAL_DIR)")
    wanted = [s for s in os.environ.get("EVAL_SETS", "").replace(" ", ",").split(",") if s]
    names = wanted or sorted(p.name for p in eval_dir.iterdir() if (p / "corpus.jsonl").is_file())
    if not wanted and DOCS_QUESTIONS.is_file() and DOCS_DIR.is_dir():
        names.append("docs")
    for n in names:
        if n == "docs":
            if not DOCS_QUESTIONS.is_file() or not DOCS_DIR.is_dir():
                raise EvalError(f"set 'docs' needs {DOCS_QUESTIONS} and {DOCS_DIR}")
        elif not (eval_dir / n / "corpus.jsonl").is_file():
            raise EvalError(f"set {n!r}: no {eval_dir / n / 'corpus.jsonl'}")
    if not names:
        raise EvalError(f"no sets (folders with a corpus.jsonl) in {eval_dir}")
    return eval_dir, names


def is_answer_set(eval_dir, name):
    """Answer-level sets (questions with gold answers, answers.py) rather than retrieval sets (queries + qrels)."""
    return name == "docs" or (eval_dir / name / "questions.dev.jsonl").is_file()


# ---------------------------------------------------------------------------------------------------------------
# Metrics (as ../shared/eval/README.md defines them)

def query_metrics(ranked, rel):
    """ranked: corpus ids, best first, each once. rel: {corpus id: grade} of one query (grade > 0 is relevant)."""
    dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:K_CUT]))
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:K_CUT]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    mrr = next((1.0 / (i + 1) for i, d in enumerate(ranked[:K_CUT]) if rel.get(d, 0) > 0), 0.0)
    nrel = sum(1 for g in rel.values() if g > 0)

    def recall(k):
        return sum(1 for d in ranked[:k] if rel.get(d, 0) > 0) / nrel

    return {"ndcg@10": dcg / idcg, "mrr@10": mrr, "r@5": recall(5), "r@10": recall(10),
            "r@100": recall(100)}


def mean_metrics(rankings, es):
    """rankings: {query id: [corpus ids]}; the mean of each metric over the set's queries."""
    total = collections.Counter()
    for q in es.queries:
        total.update(query_metrics(rankings.get(q["_id"], []), es.qrels[q["_id"]]))
    return {k: v / len(es.queries) for k, v in total.items()}


def threshold_stats(scored, es, thresholds=THRESHOLDS):
    """scored: {query id: [(corpus id, score)]}. Over the top-10 documents of every query, pooled over queries:
    precision = relevant with score >= t / all with score >= t; recall = relevant with score >= t / relevant in
    the top 10; dropped = irrelevant with score < t / irrelevant in the top 10."""
    out = {}
    for t in thresholds:
        kept = kept_rel = rel_all = irr_all = irr_dropped = 0
        for q in es.queries:
            rel = es.qrels[q["_id"]]
            for did, score in scored.get(q["_id"], [])[:K_CUT]:
                is_rel = rel.get(did, 0) > 0
                rel_all += is_rel
                irr_all += not is_rel
                if score >= t:
                    kept += 1
                    kept_rel += is_rel
                elif not is_rel:
                    irr_dropped += 1
        out[str(t)] = {"precision": kept_rel / kept if kept else None,
                       "recall": kept_rel / rel_all if rel_all else None,
                       "irrelevant_dropped": irr_dropped / irr_all if irr_all else None,
                       "kept": kept, "top10": rel_all + irr_all}
    return out


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


# ---------------------------------------------------------------------------------------------------------------
# The peer: Xapian BM25 (default BM25Weight), English stemmer with STEM_SOME, title + text, OR query.

def xapian_rankings(es, depth=XAPIAN_DEPTH):
    import xapian

    db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
    stem = xapian.Stem("english")
    tg = xapian.TermGenerator()
    tg.set_stemmer(stem)
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    for d in es.docs:
        doc = xapian.Document()
        tg.set_document(doc)
        if d.get("title"):
            tg.index_text(d["title"])
            tg.increase_termpos()
        tg.index_text(d["text"])
        doc.set_data(d["_id"])
        db.add_document(doc)
    qp = xapian.QueryParser()
    qp.set_stemmer(stem)
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_database(db)
    qp.set_default_op(xapian.Query.OP_OR)
    enquire = xapian.Enquire(db)
    enquire.set_weighting_scheme(xapian.BM25Weight())
    out = {}
    for q in es.queries:
        try:
            query = qp.parse_query(q["text"])
        except xapian.QueryParserError:
            query = qp.parse_query(q["text"], 0)  # no operators: plain words
        enquire.set_query(query)
        out[q["_id"]] = [m.document.get_data().decode() for m in enquire.get_mset(0, depth)]
    return out


# ---------------------------------------------------------------------------------------------------------------
# HTTP with keep-alive connections, one per thread.

class Client:
    def __init__(self, port, key, timeout=120):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=b"", content_type="application/json"):
        """Returns (status, parsed JSON or None, raw body). Retries once on a connection the server had closed
        (keep-alive timeout or request limit); both routes used here are safe to repeat."""
        headers = {"X-API-Key": self.key, "Content-Type": content_type}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body, headers)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return r.status, parsed, raw

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Pool:
    """Runs fn(client, item) over items on `threads` threads, each with its own keep-alive client."""

    def __init__(self, port, key, threads):
        self.port, self.key, self.threads = port, key, threads
        self.local = threading.local()
        self.clients = []
        self.lock = threading.Lock()

    def client(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = self.local.client = Client(self.port, self.key)
            with self.lock:
                self.clients.append(c)
        return c

    def map(self, fn, items):
        ex = concurrent.futures.ThreadPoolExecutor(self.threads)
        try:
            futures = [ex.submit(lambda it=it: fn(self.client(), it)) for it in items]
            return [f.result() for f in futures]
        finally:
            ex.shutdown(wait=False, cancel_futures=True)

    def close(self):
        for c in self.clients:
            c.close()


def multipart_file(filename, data):
    boundary = "----faqsure-eval-" + uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------------------------------------------------
# FAQSure through the API

def ingest(s, es, acct, key, threads):
    """Uploads every document as <_id>.txt and waits until the worker made them ready. Returns the timings and
    `twins`: {corpus id: [corpus ids whose bytes are identical]} (the product keeps one document for the same
    bytes; the others answered "duplicate": true)."""
    return ingest_files(s, [(f"{d['_id']}.txt", EvalSet.file_text(d)) for d in es.docs], acct, key, threads)


def ingest_files(s, files, acct, key, threads):
    """ingest() of [(filename, bytes)]; twins are keyed by the file name less its extension."""
    pool = Pool(s.port, key, threads)
    twins = collections.defaultdict(list)
    refused = []  # the run goes on without these documents (they count as not found) and exits non-zero
    lock = threading.Lock()

    def upload(client, file):
        name, data = file
        body, ctype = multipart_file(name, data)
        status, js, raw = client.request("POST", UPLOAD_PATH, body, ctype)
        with lock:
            if status != 200 or not isinstance(js, dict) or "id" not in js:
                refused.append(f"upload of {name}: HTTP {status} {raw[:300].decode(errors='replace').strip()}")
                return
            if js.get("duplicate"):
                twins[js["filename"].rsplit(".", 1)[0]].append(name.rsplit(".", 1)[0])

    t0 = time.monotonic()
    try:
        pool.map(upload, files)
    finally:
        pool.close()
    upload_s = time.monotonic() - t0

    # Wait for the worker: poll the database (cheaper than paging through GET /api/v1/documents), fail when
    # nothing moves for two minutes.
    last_change, last_left = time.monotonic(), None
    while True:
        rows = s.query(f"SELECT status, COUNT(*), COALESCE(SUM(chunk_count), 0) FROM documents "
                       f"WHERE account_id = {int(acct)} GROUP BY status")
        counts = {st: int(n) for st, n, _ in rows}
        chunks = sum(int(c) for st, _, c in rows if st == "ready")
        left = counts.get("processing", 0)
        if left == 0:
            break
        if left != last_left:
            last_change, last_left = time.monotonic(), left
        elif time.monotonic() - last_change > 120:
            raise EvalError(f"{left} documents still processing, none finished for 120 s; worker.log ends:\n"
                            f"{s.worker_log_tail()}")
        time.sleep(0.25)
    ready_s = time.monotonic() - t0
    # The sentence vectors the built-in answerer reads, as the idle worker would store them; without them a chat
    # computes them itself (the same answers, slower): chats are timed as they run once the worker caught up.
    t1 = time.monotonic()
    name = s.query(f"SELECT name FROM accounts WHERE id = {int(acct)}")[0][0]
    s.ctl("sentences", "--account", name, timeout=3600)
    sentences_s = time.monotonic() - t1
    failed = s.query(f"SELECT filename, error FROM documents WHERE account_id = {int(acct)} AND status = 'failed'")
    return {"upload_s": upload_s, "ready_s": ready_s, "documents": counts.get("ready", 0), "chunks": chunks,
            "failed": failed, "refused": refused, "twins": dict(twins), "sentences_s": sentences_s}


def run_searches(s, es, key, hybrid, threads, twins):
    """Every query through the API. Returns ({query id: [(corpus id, score)] best first, each document once},
    client latencies in ms, server processing_time_ms values, errors)."""
    pool = Pool(s.port, key, threads)
    errors = []

    def one(client, q):
        body = json.dumps({"query": q["text"], "top_k": SEARCH_TOP_K, "similarity_threshold": 0,
                           "use_hybrid": hybrid}).encode()
        t = time.monotonic()
        status, js, raw = client.request("POST", SEARCH_PATH, body)
        ms = (time.monotonic() - t) * 1000
        if status != 200 or not isinstance(js, dict) or not isinstance(js.get("results"), list):
            errors.append(f"query {q['_id']} (hybrid {hybrid}): HTTP {status} {raw[:300]!r}")
            return q["_id"], [], ms, None
        if js.get("count") != len(js["results"]) or any(
                not isinstance(r.get("similarity_score"), (int, float)) or not 0 <= r["similarity_score"] <= 1
                for r in js["results"]):
            errors.append(f"query {q['_id']} (hybrid {hybrid}): count or a similarity_score out of contract: "
                          f"{raw[:300]!r}")
        seen, ranked = set(), []
        for r in js["results"]:
            name = str(r.get("document_filename", ""))
            did = name[:-4] if name.endswith(".txt") else name
            if did in seen:
                continue  # a later (worse) chunk of a document already listed
            score = float(r.get("similarity_score", 0))
            for d in [did] + twins.get(did, []):  # identical bytes: the twins rank with it
                if d not in seen:
                    seen.add(d)
                    ranked.append((d, score))
        return q["_id"], ranked, ms, js.get("processing_time_ms")

    try:
        # Warm-up, not counted: mod_fcgid starts the processes (about a second each when they are all busy), and
        # each loads the account's vectors on its first search.
        pool.map(one, es.queries[:10 * threads])
        errors.clear()
        results = pool.map(one, es.queries)
    finally:
        pool.close()
    scored = {qid: ranked for qid, ranked, _, _ in results}
    latencies = [ms for _, _, ms, _ in results]
    server = [p for _, _, _, p in results if isinstance(p, (int, float))]
    return scored, latencies, server, errors


# ---------------------------------------------------------------------------------------------------------------
# Chat through the API: the account's default agent (built-in answerer unless configured otherwise), every
# question a new conversation, at each threshold of CHAT_THRESHOLDS.

def corpus_ids(result, twins):
    """The corpus ids a search result or chat source stands for: its document (uploaded as <_id>.txt) and the
    byte-identical twins the product kept it for."""
    name = str(result.get("document_filename", ""))
    did = name[:-4] if name.endswith(".txt") else name
    return [did] + twins.get(did, [])


def pick_evenly(items, n):
    """n items spread evenly over items, in order (deterministic); all of them when there are at most n."""
    if len(items) <= n:
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def run_chats(s, key, items, threads, twins):
    """items: (kind "in" | "ood", threshold or None, query). Returns (one dict per item, the default agent's id,
    errors)."""
    pool = Pool(s.port, key, threads)
    errors = []
    agents = set()

    def one(client, item):
        kind, threshold, q = item
        body = {"message": q["text"]}
        if threshold is not None:
            body["similarity_threshold"] = threshold
        t = time.monotonic()
        status, js, raw = client.request("POST", CHAT_PATH, json.dumps(body).encode())
        ms = (time.monotonic() - t) * 1000
        if (status != 200 or not isinstance(js, dict) or not isinstance(js.get("fallback_triggered"), bool)
                or not isinstance(js.get("sources"), list)):
            errors.append(f"chat {kind} {q['_id']} (threshold {threshold}): HTTP {status} {raw[:300]!r}")
            return None
        agents.add(js.get("agent_id"))
        sources = js["sources"]
        return {"kind": kind, "threshold": threshold, "qid": q["_id"], "fallback": js["fallback_triggered"],
                "first": corpus_ids(sources[0], twins) if sources else None, "ms": ms,
                "server_ms": js.get("processing_time_ms")}

    try:
        # Warm-up, not counted: mod_fcgid starts chat.fcgi processes, each loads the account's vectors.
        pool.map(one, [it for it in items if it[0] == "in"][:10 * threads])
        errors.clear()
        results = pool.map(one, items)
    finally:
        pool.close()
    return [r for r in results if r is not None], agents, errors


def chat_stats(results, es, answerable):
    """Per threshold label ("0.3" …, "default"): shares of the set's questions answered from a relevant first
    source, answered at all, answered from an irrelevant first source, fallen back; of the answerable ones,
    answered from a relevant first source; of the out-of-domain ones, fallen back."""
    out = {}
    for threshold in CHAT_THRESHOLDS:
        label = "default" if threshold is None else str(threshold)
        mine = [r for r in results if r["threshold"] == threshold]
        ind = [r for r in mine if r["kind"] == "in"]
        ood = [r for r in mine if r["kind"] == "ood"]

        def relevant_first(r):
            rel = es.qrels[r["qid"]]
            return not r["fallback"] and bool(r["first"]) and any(rel.get(d, 0) > 0 for d in r["first"])

        n = len(ind)
        good = sum(1 for r in ind if relevant_first(r))
        answered = sum(1 for r in ind if not r["fallback"])
        ans_in = [r for r in ind if r["qid"] in answerable]
        out[label] = {
            "questions": n,
            "answered_relevant": good / n if n else None,
            "answered": answered / n if n else None,
            "answered_wrong": (answered - good) / n if n else None,
            "fallback": (n - answered) / n if n else None,
            "answerable": len(ans_in),
            "answerable_answered_relevant": (sum(1 for r in ans_in if relevant_first(r)) / len(ans_in)
                                             if ans_in else None),
            "ood_questions": len(ood),
            "ood_fallback": sum(1 for r in ood if r["fallback"]) / len(ood) if ood else None,
        }
    return out


def evaluate_chat(s, es, others, key, threads, twins, hybrid_scored, ood_cap):
    """Chat metrics of one set's knowledge base (see chat_stats), the latency at the agent's default threshold,
    and errors."""
    ood_pool = [q for o in others for q in o.queries]
    ood = pick_evenly(ood_pool, ood_cap)
    answerable = {q["_id"] for q in es.queries
                  if any(es.qrels[q["_id"]].get(d, 0) > 0 for d, _ in hybrid_scored.get(q["_id"], [])[:K_CUT])}
    # Search's own first document (with its byte-identical twins, which share its score) relevant: the ceiling of
    # "answered from a relevant first source" when chat cites what search ranks first.
    top1 = set()
    for q in es.queries:
        ranked = hybrid_scored.get(q["_id"], [])
        if ranked and any(es.qrels[q["_id"]].get(d, 0) > 0 for d, sc in ranked if sc == ranked[0][1]):
            top1.add(q["_id"])
    items = [(kind, t, q) for t in CHAT_THRESHOLDS
             for kind, qs in (("in", es.queries), ("ood", ood)) for q in qs]
    t0 = time.monotonic()
    results, agents, errors = run_chats(s, key, items, threads, twins)
    chat_s = time.monotonic() - t0
    default = [r for r in results if r["threshold"] is None]
    lat = [r["ms"] for r in default]
    server = [r["server_ms"] for r in default if isinstance(r["server_ms"], (int, float))]
    # The default agent's threshold, for the label of the "default" row (auxiliary: a failure only leaves it out).
    default_threshold = None
    agents.discard(None)
    if len(agents) == 1:
        c = Client(s.port, key)
        status, js, _ = c.request("GET", f"/api/v1/agents/{next(iter(agents))}")
        c.close()
        if status == 200 and isinstance(js, dict):
            default_threshold = js.get("similarity_threshold")
    rep = {"thresholds": chat_stats(results, es, answerable), "agent_default_threshold": default_threshold,
           "answerable": len(answerable), "search_top1_relevant": len(top1) / max(1, len(es.queries)),
           "answerable_search_top1_relevant": len(top1 & answerable) / max(1, len(answerable)),
           "ood_from": [o.name for o in others], "ood_questions": len(ood),
           "requests": len(items), "connections": threads, "seconds": chat_s,
           "latency_ms": {"questions": len(default), "p50": percentile(lat, 50), "p99": percentile(lat, 99),
                          "max": max(lat) if lat else None, "server_p50": percentile(server, 50),
                          "server_p99": percentile(server, 99)}}
    return rep, errors


# ---------------------------------------------------------------------------------------------------------------
# Report

COLS = ("ndcg@10", "mrr@10", "r@5", "r@10")


def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def print_set(name, rep):
    print(f"\n== {name}: {rep['documents']} documents, {rep['queries']} dev queries")
    if "ingest" in rep:
        ing = rep["ingest"]
        print(f"ingest: {ing['refused']} uploads refused, " if ing["refused"] else "ingest: ", end="")
        print(f"{ing['documents']} ready documents, {ing['chunks']} chunks; uploads {ing['upload_s']:.1f} s, "
              f"all ready after {ing['ready_s']:.1f} s ({ing['documents'] / ing['ready_s']:.0f} docs/s, "
              f"{ing['chunks'] / ing['ready_s']:.0f} chunks/s)"
              f"; sentence vectors {ing['sentences_s']:.1f} s"
              + (f"; {sum(len(v) for v in ing['twins'].values())} byte-identical duplicates scored as their twin"
                 if ing["twins"] else ""))
    print(f"{'system':<16} | {'nDCG@10':>7} | {'MRR@10':>7} | {'R@5':>7} | {'R@10':>7}")
    print("-" * 17 + "+---------" * 4)
    systems = rep["systems"]
    for sysname, m in systems.items():
        print(f"{sysname:<16} | " + " | ".join(f"{m[c]:>7.3f}" for c in COLS))
    peer = systems.get("xapian bm25")
    for sysname in ("faqsure dense", "faqsure hybrid"):
        if sysname in systems and peer:
            m = systems[sysname]
            label = sysname.replace("faqsure ", "") + " - xapian"
            print(f"{label:<16} | " + " | ".join(f"{m[c] - peer[c]:>+7.3f}" for c in COLS))
    th = rep.get("thresholds", {})
    if th:
        print("similarity_score threshold over the top-10 documents of every query, pooled: P = relevant >= t / "
              "all >= t,\n  R = relevant >= t / relevant in top 10, drop = irrelevant < t / irrelevant in top 10")
        print("  t    | " + " | ".join(f"{mode + ' P':>9} {'R':>5} {'drop':>5}" for mode in th))
        for t in map(str, THRESHOLDS):
            print(f"  {t:<4} | " + " | ".join(f"{fmt(th[m][t]['precision']):>9} {fmt(th[m][t]['recall']):>5} "
                                             f"{fmt(th[m][t]['irrelevant_dropped']):>5}" for m in th)
                  + ("   <- main" if float(t) == MAIN_THRESHOLD else ""))
    for mode, lat in rep.get("latency_ms", {}).items():
        print(f"search latency {mode} (client, {lat['connections']} connections, after a warm-up): "
              f"p50 {fmt(lat['p50'], '.1f')} ms, p99 {fmt(lat['p99'], '.1f')} ms, max {fmt(lat['max'], '.1f')} ms; "
              f"server processing_time_ms p50 {fmt(lat['server_p50'], '.0f')}; "
              f"{lat['docs_per_query']:.1f} distinct documents per answer")
    if "chat" in rep:
        print_chat(rep["chat"])


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def print_chat(c):
    d = c["agent_default_threshold"]
    ood = f"{c['ood_questions']} out of domain (from {', '.join(c['ood_from'])})" if c["ood_from"] else \
        "no out-of-domain questions (one set)"
    print(f"chat (POST /api/v1/chat, built-in answerer, each question a new conversation): "
          f"{c['thresholds']['default']['questions']} questions of the set, {ood};\n"
          f"  {c['requests']} chats on {c['connections']} connections in {c['seconds']:.0f} s. Sources only (these sets "
          f"have no gold answers; answers are scored on the answer sets below): rel: answered, first source "
          f"relevant; irrel: answered, first source irrelevant;\n"
          f"  answerable: the {c['answerable']} questions whose hybrid search top 10 holds a relevant document")
    print(f"  {'threshold':<13} | {'rel':>6} | {'answered':>8} | {'irrel':>6} | {'fallback':>8} | "
          f"{'answerable: rel':>15} | {'out of domain: fallback':>23}")
    for label, m in c["thresholds"].items():
        name = label if label != "default" else "default" + (f" {d:g}" if isinstance(d, (int, float)) else "")
        print(f"  {name:<13} | {pct(m['answered_relevant']):>6} | {pct(m['answered']):>8} | "
              f"{pct(m['answered_wrong']):>6} | {pct(m['fallback']):>8} | "
              f"{pct(m['answerable_answered_relevant']):>15} | {pct(m['ood_fallback']):>23}")
    print(f"  (hybrid search's first document is relevant for {pct(c['search_top1_relevant'])} of the questions, "
          f"{pct(c['answerable_search_top1_relevant'])} of the answerable ones)")
    lat = c["latency_ms"]
    print(f"chat latency at the agent default ({lat['questions']} chats, client, {c['connections']} connections, "
          f"after a warm-up): p50 {fmt(lat['p50'], '.1f')} ms, p99 {fmt(lat['p99'], '.1f')} ms, "
          f"max {fmt(lat['max'], '.1f')} ms; server processing_time_ms p50 {fmt(lat['server_p50'], '.0f')}, "
          f"p99 {fmt(lat['server_p99'], '.0f')}")


def evaluate_set(es, s, uploaders, searchers, errors, chat=None):
    """chat: None, or (the other sets, chat connections, out-of-domain questions per knowledge base)."""
    rep = {"documents": len(es.docs), "queries": len(es.queries), "systems": {}}
    t = time.monotonic()
    xap = xapian_rankings(es)
    peer = mean_metrics(xap, es)
    peer_s = time.monotonic() - t
    if s is not None:
        account = s.new_account(f"eval-{es.name}", unlimited=True)
        key = s.new_key(account, name="eval", per_minute=1000000, per_hour=100000000)
        ing = ingest(s, es, s.account_id(account), key, uploaders)
        rep["ingest"] = {k: v for k, v in ing.items() if k not in ("failed", "refused")}
        rep["ingest"]["refused"] = len(ing["refused"])
        errors.extend(f"{es.name}: {e}" for e in ing["refused"])
        for fn, err in ing["failed"]:
            errors.append(f"{es.name}: {fn} failed: {err}")
        rep["thresholds"], rep["latency_ms"] = {}, {}
        hybrid_scored = {}
        for hybrid, sysname in ((False, "faqsure dense"), (True, "faqsure hybrid")):
            scored, lat, server, errs = run_searches(s, es, key, hybrid, searchers, ing["twins"])
            if hybrid:
                hybrid_scored = scored
            errors.extend(f"{es.name}: {e}" for e in errs)
            rep["systems"][sysname] = mean_metrics({q: [d for d, _ in r] for q, r in scored.items()}, es)
            mode = sysname.split()[1]
            rep["thresholds"][mode] = threshold_stats(scored, es)
            rep["latency_ms"][mode] = {"connections": searchers, "p50": percentile(lat, 50),
                                       "p99": percentile(lat, 99), "max": max(lat) if lat else None,
                                       "server_p50": percentile(server, 50),
                                       "docs_per_query": sum(len(r) for r in scored.values()) / max(1, len(scored))}
        if chat is not None:
            others, chatters, ood_cap = chat
            print(f"{es.name}: chat ...", flush=True)
            rep["chat"], errs = evaluate_chat(s, es, others, key, chatters, ing["twins"], hybrid_scored, ood_cap)
            errors.extend(f"{es.name}: {e}" for e in errs)
    rep["systems"]["xapian bm25"] = peer
    rep["xapian_s"] = peer_s
    return rep


def main():
    peer_only = os.environ.get("EVAL_PEER_ONLY", "") not in ("", "0")
    max_q = int(os.environ.get("EVAL_QUERIES", "0") or 0) or None
    uploaders = int(os.environ.get("EVAL_UPLOADERS", "4"))
    searchers = int(os.environ.get("EVAL_SEARCHERS", "2"))
    do_chat = os.environ.get("EVAL_CHAT", "1") not in ("", "0")
    chatters = int(os.environ.get("EVAL_CHATTERS", "2"))
    ood_cap = int(os.environ.get("EVAL_OOD_QUERIES", "300"))
    eval_dir, names = find_sets()
    sets = [EvalSet(eval_dir / n, max_q) for n in names if not is_answer_set(eval_dir, n)]
    answer_sets = [answers.docs_set(DOCS_DIR, DOCS_QUESTIONS, max_q) if n == "docs" else
                   answers.clapnq_set(eval_dir / n, max_q) for n in names if is_answer_set(eval_dir, n)]
    errors = []
    report = {"eval_dir": str(eval_dir), "peer_only": peer_only, "sets": {}}

    harness = s = None
    if not peer_only:
        import harness
        search_fcgi = harness.BUILD / "fcgi-bin" / "search.fcgi"
        if not search_fcgi.exists():
            raise EvalError(f"{search_fcgi} is missing (run make; EVAL_PEER_ONLY=1 measures only Xapian)")
        chat_fcgi = harness.BUILD / "fcgi-bin" / "chat.fcgi"
        if do_chat and not chat_fcgi.exists():
            raise EvalError(f"{chat_fcgi} is missing (run make; EVAL_CHAT=0 skips chat)")
    try:
        if harness is not None:
            print(f"starting a private stack ({harness.BUILD}) ...", flush=True)
            s = harness.stack()
            probe = s.request("POST", SEARCH_PATH, body={"query": "x"}, parse_json=False)
            if probe.status == 404:
                raise EvalError(f"{SEARCH_PATH} is not routed (404): {probe.describe()}")
            if do_chat:
                probe = s.request("POST", CHAT_PATH, body={"message": "x"}, parse_json=False)
                if probe.status == 404:
                    raise EvalError(f"{CHAT_PATH} is not routed (404): {probe.describe()}")
        for es in sets:
            print(f"{es.name}: {len(es.docs)} documents, {len(es.queries)} queries ...", flush=True)
            chat = ([o for o in sets if o is not es], chatters, ood_cap) if do_chat else None
            rep = evaluate_set(es, s, uploaders, searchers, errors, chat)
            report["sets"][es.name] = rep
            print_set(es.name, rep)
            sys.stdout.flush()
        for aset in answer_sets:
            if s is None or not do_chat:
                break
            print(f"{aset.name}: {len(aset.files)} documents, {len(aset.questions)} questions ...", flush=True)
            rep = answers.evaluate(
                s, aset, Pool, lambda st, files, acct, key: ingest_files(st, files, acct, key, uploaders),
                chatters, errors)
            report["sets"][aset.name] = rep
            answers.print_report(aset.name, rep)
            sys.stdout.flush()
    finally:
        if harness is not None:
            # A second Ctrl-C (or a SIGTERM) must not cut the stop short and leave MariaDB and Apache running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            harness.stop_stack()
    if os.environ.get("EVAL_OUT"):
        Path(os.environ["EVAL_OUT"]).write_text(json.dumps(report, indent=1) + "\n")
    if errors:
        print(f"\n{len(errors)} errors:", file=sys.stderr)
        for e in errors[:20]:
            print(f"  {e}", file=sys.stderr)
        return 1
    return 0


def _sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        sys.exit(main())
    except (EvalError, AssertionError) as e:  # AssertionError: the harness (stack start, faqsurectl)
        print(f"eval: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("eval: interrupted; stack stopped", file=sys.stderr)
        sys.exit(130)
