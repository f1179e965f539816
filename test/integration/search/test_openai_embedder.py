# The `openai` embedder backend ([embedder] backend = openai) against the OpenAI-compatible stand-in
# (test/standins/openai_standin.py): documents are embedded upstream in batches, vectors are taken by index and
# normalised, the configured dimensions and key are sent; failures (5xx, 429, outage, wrong sizes, bad JSON, a
# slow upstream) end each worker run quickly with a clear message, and the document waits for a later try.
import contextlib
import importlib.util
import math
import shutil
import struct
import time

import docfiles
from harness import DOCS, check, eq, paused_worker, sql_quote, stack, unique, wait_for
from standins import STANDINS, call, start_standin, stop_standin

MODEL = "standin-embed"
DIMS = 48  # the stand-in's own size when the request gives none


def _load_standin():
    spec = importlib.util.spec_from_file_location("openai_standin", STANDINS / "openai_standin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


STANDIN = _load_standin()  # for its embed(): what a vector should be


class Upstream:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}/v1"

    def control(self, **faults):
        status, body = call(self.port, "POST", "/_control", faults)
        eq(status, 200, f"stand-in control {faults} ({body})")

    def requests(self, path="/v1/embeddings"):
        status, body = call(self.port, "GET", "/_log")
        eq(status, 200, "stand-in log")
        return [r for r in body["requests"] if r["path"] == path]

    def stop(self):
        stop_standin(self.proc)
        self.proc = None


@contextlib.contextmanager
def upstream(*args):
    proc, port = start_standin("openai_standin.py", "--dims", DIMS, *args)
    up = Upstream(proc, port)
    try:
        yield up
    finally:
        stop_standin(up.proc)


@contextlib.contextmanager
def openai_config(s, url, lease_seconds=None, **embedder):
    """A configuration copy with [embedder] backend = openai at url (more [embedder] keys as keyword arguments)
    and small chunks, so a short document makes several of them."""
    settings = {"backend": "openai", "url": url, "model": MODEL, "timeout_ms": 5000, "max_retries": 3}
    settings.update(embedder)
    text = "[embedder]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    text += "\n[chunk]\ntarget_chars = 200\nmax_chars = 300\noverlap_chars = 0\n"
    if lease_seconds is not None:
        text += f"\n[worker]\nlease_seconds = {lease_seconds}\n"
    conf = s.config_copy(text)
    try:
        yield conf
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)


def run_worker(s, conf, timeout=60):
    """`faqsurectl worker --once` with conf: (CompletedProcess, seconds it took, stdout + stderr)."""
    started = time.monotonic()
    r = s.ctl("worker", "--once", config=conf, check_rc=False, timeout=timeout)
    out = r.stdout + r.stderr
    check("Sanitizer" not in out and "runtime error:" not in out, f"the worker reported a sanitizer error:\n{out}")
    return r, time.monotonic() - started, out


def drain(s):
    """Processes what other tests left queued (with the stack's own embedder), so the next worker run of a test
    takes the test's own document first."""
    s.worker_once()


def new_document(s, key, size=1500):
    name = unique("openai")
    data = docfiles.prose(size, seed=int(name.rsplit("-", 1)[1], 16), prefix=f"The {name} handbook.\n\n")
    return s.upload_ok(key, data.encode(), f"{name}.txt")


def chunk_vectors(s, doc_id):
    """[(seq, embed_model, dims, vector)] of a document's chunks, in order."""
    rows = s.query(f"SELECT seq, embed_model, dims, HEX(embedding) FROM chunks "
                   f"WHERE document_id = {sql_quote(doc_id)} ORDER BY seq")
    out = []
    for seq, model, dims, hexed in rows:
        blob = bytes.fromhex(hexed)
        eq(len(blob), int(dims) * 4, f"embedding bytes of chunk {seq}")
        out.append((int(seq), model, int(dims), struct.unpack(f"<{int(dims)}f", blob)))
    return out


def job_state(s, doc_id):
    rows = s.query(f"SELECT j.state, j.attempts, d.status FROM ingest_jobs j JOIN documents d ON d.id = j.document_id "
                   f"WHERE j.document_id = {sql_quote(doc_id)}")
    eq(len(rows), 1, f"job rows of {doc_id}")
    return rows[0][0], int(rows[0][1]), rows[0][2]


def wait_lease_over(s, doc_id):
    """Waits until the job's lease ran out, so the next worker may claim it again."""
    wait_for(lambda: s.query(f"SELECT lease_until < UTC_TIMESTAMP(6) FROM ingest_jobs "
                             f"WHERE document_id = {sql_quote(doc_id)}") == [["1"]],
             f"the lease of {doc_id}'s job runs out", seconds=15, interval=0.2)


def delete_document(s, key, doc_id):
    r = s.delete(f"{DOCS}/{doc_id}", key=key)
    eq(r.status, 200, f"DELETE of the document left waiting ({r.describe()})")


def expect_waiting(s, doc_id, r, out, words, what):
    """The worker run stopped on the embedder (FS_EUNAVAIL: --once ends the run with exit code 1) and said so with
    all of words; the document is neither failed nor ready (its job keeps its lease for a later try)."""
    eq(r.returncode, 1, f"{what}: worker exit code (output {out!r})")
    for w in words:
        check(w in out, f"{what}: worker output should say {w!r}: {out!r}")
    state, attempts, status = job_state(s, doc_id)
    eq((state, status), ("running", "processing"), f"{what}: job state and document status")
    return attempts


def test_openai_embedder_indexes_in_batches_by_index(s):
    """dimensions = 0: one probe learns the size; then batches of batch_size, vectors stored in the order of the
    answers' `index` (the stand-in shuffles them) and normalised (it scales them), tokens from usage."""
    _, key = s.docs_key("oai")
    with upstream() as up, paused_worker(s):
        drain(s)
        doc_id = new_document(s, key)
        up.control(scale=3.5)
        with openai_config(s, up.url, batch_size=3) as conf:
            r, _, out = run_worker(s, conf)
        eq(r.returncode, 0, f"worker exit code (output {out!r})")
        doc = s.wait_document(key, doc_id, "ready", seconds=5)
        chunks = chunk_vectors(s, doc_id)
        check(len(chunks) >= 4, f"the document should make at least 4 chunks, made {len(chunks)}")
        eq(doc["chunk_count"], len(chunks), "chunk_count")
        for seq, model, dims, _ in chunks:
            eq((model, dims), (f"openai:{MODEL}", DIMS), f"embed_model and dims of chunk {seq}")

        reqs = up.requests()
        probe, batches = reqs[0], reqs[1:]
        eq(probe["body"]["input"], ["dimension probe"], "the first request (the size probe)")
        sizes = [len(q["body"]["input"]) for q in batches]
        eq(sizes, [3] * (len(chunks) // 3) + ([len(chunks) % 3] if len(chunks) % 3 else []), "batch sizes")
        for q in reqs:
            eq(q["status"], 200, "stand-in answer")
            eq(set(q["body"]), {"model", "input", "encoding_format"}, "request keys (no dimensions)")
            eq((q["body"]["model"], q["body"]["encoding_format"]), (MODEL, "float"), "model and encoding_format")
            check("Authorization" not in q["headers"], f"Authorization sent without an api_key: {q['headers']}")
            eq(q["headers"].get("Content-Type"), "application/json", "Content-Type")

        texts = [t for q in batches for t in q["body"]["input"]]
        for (seq, _, dims, vec), text in zip(chunks, texts):
            want = STANDIN.embed(text, dims)
            worst = max(abs(a - b) for a, b in zip(vec, want))
            check(worst < 1e-5, f"chunk {seq}: stored vector differs from the stand-in's for its text by {worst} "
                                f"(taken by array position instead of index, or not normalised?)")
            norm = math.sqrt(sum(x * x for x in vec))
            check(abs(norm - 1) < 1e-4, f"chunk {seq}: vector length {norm}")
        spent = int(s.query(f"SELECT tokens FROM documents WHERE id = {sql_quote(doc_id)}")[0][0])
        eq(spent, sum(q["usage"]["prompt_tokens"] for q in batches), "document tokens (the upstream's usage)")


def test_openai_embedder_sends_dimensions_and_key_and_hides_it(s):
    _, key = s.docs_key("oai-key")
    secret = "sk-test-" + unique("secret")
    wrong = "sk-wrong-" + unique("secret")
    with upstream() as up, paused_worker(s):
        drain(s)
        up.control(require_key=secret)
        doc_id = new_document(s, key)
        with openai_config(s, up.url, dimensions=32, api_key=secret) as conf:
            r, _, out = run_worker(s, conf)
        eq(r.returncode, 0, f"worker exit code (output {out!r})")
        s.wait_document(key, doc_id, "ready", seconds=5)
        check(secret not in out, f"the api key is in the worker's output: {out!r}")
        chunks = chunk_vectors(s, doc_id)
        eq({(m, d) for _, m, d, _ in chunks}, {(f"openai:{MODEL}", 32)}, "embed_model and dims of the chunks")
        reqs = up.requests()
        check(reqs, "no embeddings request reached the stand-in")
        for q in reqs:  # dims are known from the configuration: no probe
            eq(q["body"].get("dimensions"), 32, "dimensions sent")
            eq(q["headers"].get("Authorization"), f"Bearer {secret}", "Authorization header")
            check(q["body"]["input"] != ["dimension probe"], "a size probe was sent though dimensions is set")

        # A key the upstream refuses: a 4xx is not retried, its message is passed on, the key never is (the
        # stand-in quotes the key it got, as real servers do).
        other = new_document(s, key)
        before = len(up.requests())
        with openai_config(s, up.url, dimensions=32, api_key=wrong) as conf:
            r, _, out = run_worker(s, conf)
        eq(r.returncode, 1, f"worker exit code with a wrong key (output {out!r})")
        for w in ("refused", "401", "Incorrect API key provided"):
            check(w in out, f"worker output should say {w!r}: {out!r}")
        check(wrong not in out and secret not in out, f"an api key is in the worker's output: {out!r}")
        eq(len(up.requests()) - before, 1, "requests for a refused key (4xx is not retried)")
        eq(job_state(s, other)[::2], ("running", "processing"), "job state and document status")
        delete_document(s, key, other)


def test_openai_embedder_retries_server_errors(s):
    _, key = s.docs_key("oai-retry")
    with upstream() as up, paused_worker(s):
        drain(s)
        doc_id = new_document(s, key)
        up.control(fail=[{"status": 500, "times": 2}])
        with openai_config(s, up.url, dimensions=DIMS, batch_size=64) as conf:
            r, _, out = run_worker(s, conf)
        eq(r.returncode, 0, f"worker exit code (output {out!r})")
        s.wait_document(key, doc_id, "ready", seconds=5)
        reqs = up.requests()
        eq([q["status"] for q in reqs], [500, 500, 200], "answers of the stand-in")
        eq(reqs[0]["body"], reqs[2]["body"], "the retried request")
        gaps = [b["time"] - a["time"] for a, b in zip(reqs, reqs[1:])]
        check(all(0.05 <= g < 1.5 for g in gaps), f"backoff between attempts: {gaps} s (expected short waits)")


def test_openai_embedder_honours_retry_after(s):
    _, key = s.docs_key("oai-429")
    with upstream() as up, paused_worker(s):
        drain(s)
        doc_id = new_document(s, key)
        up.control(fail=[{"status": 429, "times": 1, "retry_after": 2}])
        with openai_config(s, up.url, dimensions=DIMS, batch_size=64, max_retries=1) as conf:
            r, _, out = run_worker(s, conf)
        eq(r.returncode, 0, f"worker exit code (output {out!r})")
        s.wait_document(key, doc_id, "ready", seconds=5)
        reqs = up.requests()
        eq([q["status"] for q in reqs], [429, 200], "answers of the stand-in")
        gap = reqs[1]["time"] - reqs[0]["time"]
        check(1.9 <= gap < 3.5, f"the retry came {gap:.2f} s after a 429 with Retry-After: 2")


def test_openai_embedder_outage_leaves_document_for_a_later_try(s):
    """Persistent 5xx, then the upstream gone: each run says the embedder is unavailable, within a bounded time,
    and the document stays processing (its job is retried when its lease runs out); once the upstream is back
    the document is indexed."""
    _, key = s.docs_key("oai-down")
    with upstream() as up, paused_worker(s):
        drain(s)
        doc_id = new_document(s, key)
        port = up.port
        up.control(fail=[{"status": 503, "times": True}])
        with openai_config(s, up.url, lease_seconds=5, dimensions=DIMS, max_retries=2) as conf:
            r, elapsed, out = run_worker(s, conf)
            attempts = expect_waiting(s, doc_id, r, out, ("embedder upstream unavailable", "HTTP 503", "3 attempts"),
                                      "persistent 503")
            check(elapsed < 10, f"worker run took {elapsed:.1f} s with a failing upstream")
            eq(len(up.requests()), 3, "requests sent (1 + max_retries)")

            up.stop()
            wait_lease_over(s, doc_id)
            r, elapsed, out = run_worker(s, conf)
            again = expect_waiting(s, doc_id, r, out, ("embedder upstream unavailable", f"127.0.0.1:{port}", "connect"),
                                   "upstream stopped")
            eq(again, attempts + 1, "job attempts after the second run")
            check(elapsed < 10, f"worker run took {elapsed:.1f} s with the upstream gone")

        # dimensions = 0 needs the upstream to open the embedder: the worker stops before claiming anything.
        with openai_config(s, up.url, lease_seconds=5, max_retries=0) as conf:
            wait_lease_over(s, doc_id)
            r, _, out = run_worker(s, conf)
            check(r.returncode != 0, f"worker should fail to start without its upstream (output {out!r})")
            check("embedder upstream unavailable" in out, f"worker output: {out!r}")
            eq(job_state(s, doc_id)[1], again, "job attempts (nothing was claimed)")

        proc, port2 = start_standin("openai_standin.py", "--dims", DIMS, "--port", port)
        up.proc = proc
        eq(port2, port, "port of the restarted stand-in")
        with openai_config(s, up.url, lease_seconds=5, dimensions=DIMS) as conf:
            r, _, out = run_worker(s, conf)
            eq(r.returncode, 0, f"worker exit code once the upstream is back (output {out!r})")
        doc = s.wait_document(key, doc_id, "ready", seconds=5)
        check(doc["chunk_count"] > 0, f"chunk_count after the outage: {doc}")


def _bad_answer_case(prefix, faults, words, seconds=10, **embedder):
    s = stack()
    _, key = s.docs_key(prefix)
    with upstream() as up, paused_worker(s):
        drain(s)
        doc_id = new_document(s, key)
        up.control(**faults)
        settings = {"dimensions": 32, "max_retries": 1}
        settings.update(embedder)
        with openai_config(s, up.url, **settings) as conf:
            r, elapsed, out = run_worker(s, conf)
        expect_waiting(s, doc_id, r, out, words, prefix)
        check(elapsed < seconds, f"{prefix}: worker run took {elapsed:.1f} s")
        eq(s.count_rows("chunks", f"document_id = {sql_quote(doc_id)}"), 0, f"{prefix}: chunks stored")
        delete_document(s, key, doc_id)
        return up.requests()


def test_openai_embedder_wrong_dimensions():
    _bad_answer_case("oai-dims", {"wrong_dims": True}, ["embedder returned 33 dimensions, expected 32"])


def test_openai_embedder_malformed_json():
    _bad_answer_case("oai-json", {"malformed": True}, ["embedder upstream sent malformed JSON"])


def test_openai_embedder_timeout_does_not_hang():
    # Two attempts of 500 ms (plus a short backoff) against an upstream that takes 3 s to answer.
    reqs = _bad_answer_case("oai-slow", {"delay_ms": 3000}, ["embedder upstream unavailable", "Timeout"], seconds=2.9,
                            timeout_ms=500)
    eq(len(reqs), 2, "attempts against the slow upstream")


def test_openai_embedder_configuration_errors(s):
    cases = [("url = \nmodel = m\n", "[embedder] backend = openai needs url and model"),
             ("url = http://127.0.0.1:9/v1\n", "[embedder] backend = openai needs url and model"),
             ("url = ftp://127.0.0.1/v1\nmodel = m\n", "[embedder] url must start with http:// or https://")]
    for extra, message in cases:
        conf = s.config_copy("[embedder]\nbackend = openai\n" + extra)
        try:
            r, _, out = run_worker(s, conf, timeout=20)
        finally:
            shutil.rmtree(conf.parent, ignore_errors=True)
        check(r.returncode != 0, f"worker started with {extra!r}")
        check(message in out, f"worker output for {extra!r} should say {message!r}: {out!r}")
