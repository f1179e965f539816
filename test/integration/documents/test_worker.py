# The ingestion worker (`faqsurectl worker`): two workers draining one queue never process the same job; a worker
# killed in the middle of a job leaves it to the next worker of its machine at once, and to a worker elsewhere once
# its lease has run out. The stack's daemon worker is paused meanwhile, so the test's own workers are the only ones
# taking jobs.
import os
import re
import shutil
import signal
import subprocess

import docfiles
from harness import CTL, check, eq, paused_worker, sql_quote, wait_for


def jobs(s, ids):
    rows = s.query(f"SELECT document_id, state, attempts, worker FROM ingest_jobs WHERE document_id IN "
                   f"({', '.join(map(sql_quote, ids))})")
    return {d: {"state": st, "attempts": int(a), "worker": w} for d, st, a, w in rows}


def chunk_counts(s, doc_id):
    """(rows, distinct seq numbers, the document's chunk_count)"""
    n, distinct = s.query(f"SELECT COUNT(*), COUNT(DISTINCT seq) FROM chunks "
                          f"WHERE document_id = {sql_quote(doc_id)}")[0]
    cc = s.query(f"SELECT chunk_count FROM documents WHERE id = {sql_quote(doc_id)}")[0][0]
    return int(n), int(distinct), int(cc)


def worker_env(config):
    return dict(os.environ, FAQSURE_CONFIG=str(config))


def test_two_workers_never_take_the_same_job(s):
    _, key = s.docs_key("wk-two")
    with paused_worker(s):
        ids = [s.upload_ok(key, docfiles.prose(40_000, seed=100 + i).encode(), f"part{i}.txt") for i in range(10)]
        eq({j["state"] for j in jobs(s, ids).values()}, {"queued"}, "job states before the workers start")
        procs = [subprocess.Popen([str(CTL), "worker", "--once"], env=worker_env(s.config_path),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = []
        for p in procs:
            try:
                outs.append(p.communicate(timeout=120))
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise AssertionError("worker --once did not drain 10 documents within 120 s") from None
        bad = []
        for p, (_, err) in zip(procs, outs):
            if p.returncode != 0:
                bad.append(f"worker --once (pid {p.pid}) exited {p.returncode}: {err.strip()[-300:]!r}")
        states = s.doc_states(ids)
        got = jobs(s, ids)
        for i in ids:
            st = states.get(i, ("gone", None))
            j = got.get(i, {})
            if st[0] != "ready" or (j.get("state"), j.get("attempts")) != ("done", 1):
                bad.append(f"document {i}: {st[0]} ({st[1]}), job {j.get('state')} after "
                           f"{j.get('attempts')} attempt(s)")
                continue
            n, distinct, cc = chunk_counts(s, i)
            if not n == distinct == cc > 0:
                bad.append(f"document {i}: {n} chunk rows, {distinct} distinct seq, chunk_count {cc}")
        # What each worker says it processed: every document once, by one of them.
        said = []
        for _, err in outs:
            said += [i for i in re.findall(r"document ([0-9a-f-]{36}): processed", err) if i in ids]
        dupes = sorted({i for i in said if said.count(i) > 1})
        if dupes:
            bad.append(f"documents processed by both workers: {dupes}")
        pids = {str(p.pid) for p in procs}
        owners = {(got.get(i, {}).get("worker") or "").rsplit(":", 1)[-1] for i in ids} - {""}
        if not owners <= pids:
            bad.append(f"jobs recorded with workers {owners}, the test's were {pids}")
    check(not bad, "\n".join(bad))


def killed_mid_job(s, key, conf):
    """Uploads a large document and kills (SIGKILL) a `worker --once` on conf in the middle of its job; the daemon
    worker must be paused. Returns the document's id."""
    doc_id = s.upload_ok(key, docfiles.prose(300_000, seed=42).encode(), "big.txt")
    # Holding the document's row keeps the worker from finishing (every way to finish writes that row), so it is
    # surely killed in the middle of the job, however fast it extracts and embeds.
    with s.holding_row("documents", doc_id):
        p = subprocess.Popen([str(CTL), "worker", "--once"], env=worker_env(conf), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: jobs(s, [doc_id])[doc_id]["state"] == "running" and p.poll() is None,
                     "the worker claims the job", 20)
            p.send_signal(signal.SIGKILL)
        finally:
            p.kill()
            p.wait(timeout=10)
            p.stderr.close()
        eq(p.returncode, -signal.SIGKILL, "the worker was killed")
    job = jobs(s, [doc_id])[doc_id]
    eq((job["state"], job["attempts"], job["worker"].rsplit(":", 1)[-1]), ("running", 1, str(p.pid)),
       "the job of the killed worker")
    eq(s.doc_states([doc_id])[doc_id][0], "processing", "the document of the killed worker")
    eq(s.count_rows("chunks", f"document_id = {sql_quote(doc_id)}"), 0, "chunks of the killed job")
    return doc_id


def taken_over(s, key, doc_id, conf):
    """A worker run on conf takes the job over: the document ready, each chunk once, at the second attempt."""
    r = s.worker_once(config=conf)
    check(doc_id in r.stderr, f"worker --once does not mention the document: {r.stderr[-500:]!r}")
    doc = s.wait_document(key, doc_id, "ready", seconds=5)
    job = jobs(s, [doc_id])[doc_id]
    eq((job["state"], job["attempts"]), ("done", 2), "the job after the take-over")
    n, distinct, cc = chunk_counts(s, doc_id)
    check(n == distinct == cc == doc["chunk_count"] > 0,
          f"{n} chunk rows, {distinct} distinct seq, chunk_count {cc} / {doc['chunk_count']}")
    return r.stderr


def test_killed_worker_job_on_this_machine_is_taken_over_at_once(s):
    """The next worker of the same machine sees that the process holding the job (host:pid) is gone and takes the
    job at once, long before its lease (the default 300 s) runs out (issue 18: a worker restarted after a crash
    left its document 'processing' for five minutes)."""
    _, key = s.docs_key("wk-kill-here")
    conf = s.config_copy("[worker]\nsentence_seconds = 0\n")  # --once: the queue only
    try:
        with paused_worker(s):
            doc_id = killed_mid_job(s, key, conf)
            left = float(s.query(f"SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), lease_until) / 1e6 "
                                 f"FROM ingest_jobs WHERE document_id = {sql_quote(doc_id)}")[0][0])
            check(left > 200, f"the lease has {left:.0f} s to run")
            said = taken_over(s, key, doc_id, conf)
            check("whose process is gone, queued again" in said, f"the worker says why it took the job: {said!r}")
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)


def test_killed_worker_job_is_taken_over_after_the_lease(s):
    """A job held by a worker of another machine (its host:pid names another host) is left to it until its lease
    runs out, whatever its pid: only the lease says that worker died."""
    _, key = s.docs_key("wk-kill")
    conf = s.config_copy("[worker]\nlease_seconds = 5\nsentence_seconds = 0\n")  # --once: the queue only
    try:
        with paused_worker(s):
            doc_id = killed_mid_job(s, key, conf)
            s.sql(f"UPDATE ingest_jobs SET worker = CONCAT('elsewhere.invalid:', SUBSTRING_INDEX(worker, ':', -1)) "
                  f"WHERE document_id = {sql_quote(doc_id)}")
            # A worker started well before the lease runs out leaves the job alone ...
            left = float(s.query(f"SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), lease_until) / 1e6 "
                                 f"FROM ingest_jobs WHERE document_id = {sql_quote(doc_id)}")[0][0])
            if left > 2.5:
                s.worker_once(config=conf, timeout=2)
                job = jobs(s, [doc_id])[doc_id]
                eq((job["state"], job["attempts"]), ("running", 1), "the job while its lease runs")
            # ... one after it takes it over.
            wait_for(lambda: s.query(f"SELECT lease_until < UTC_TIMESTAMP(6) FROM ingest_jobs "
                                     f"WHERE document_id = {sql_quote(doc_id)}")[0][0] == "1",
                     "the lease of the killed worker runs out", 15, interval=0.25)
            taken_over(s, key, doc_id, conf)
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)


def test_worker_cut_off_from_the_database_takes_its_job_again(s):
    """A running worker whose attempt lost its database connection (MariaDB restarted, here the connection killed)
    queues that job again itself as soon as the database answers, instead of leaving the document 'processing'
    under its own name until the lease (300 s) runs out. Found by test_faults.py: after a MariaDB restart under
    load, one document in a few runs stayed 'processing', its job 'running' under the live worker."""
    _, key = s.docs_key("wk-cut-off")
    log = s.vardir / "log" / "worker-cut-off.log"
    with paused_worker(s):
        doc = s.upload_ok(key, docfiles.prose(60_000, seed=7).encode(), "cut-off.txt")
        p = subprocess.Popen([str(CTL), "worker", "--log", str(log)], env=worker_env(s.config_path),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Holding the document's row keeps the worker waiting in the middle of the job; its waiting
            # connection is then killed, as a server going away would.
            with s.holding_row("documents", doc):
                waiting = lambda: s.query("SELECT ID FROM information_schema.PROCESSLIST "  # noqa: E731
                                          "WHERE COMMAND = 'Execute' AND INFO LIKE '%documents%'")
                wait_for(waiting, "the worker waiting on the document's row", 20, interval=0.05)
                (thread,), = waiting()
                s.sql(f"KILL CONNECTION {int(thread)}")
            wait_for(lambda: s.doc_states([doc])[doc][0] != "processing",
                     "the same worker to process the document again", 20, interval=0.25)
            check(p.poll() is None, "the worker is still running")
        finally:
            p.terminate()
            p.wait(timeout=30)
    eq(s.doc_states([doc])[doc][0], "ready", "the document")
    eq(jobs(s, [doc])[doc]["state"], "done", "its job")
    eq(jobs(s, [doc])[doc]["attempts"], 2, "its attempts: the one cut off and the one that finished")
    check("cut off when the database went away, queued again" in log.read_text(), "the worker says why in its log")


def test_worker_says_what_it_does_in_its_log_file_without_secrets(s):
    """`worker --once --log FILE`: a start line (version, configuration file, database, pid), one line per
    document (id, status, chunks, time) and a stop line, appended to FILE; nothing on stderr; never the password."""
    _, key = s.account_with_key(per_minute=100)
    log = s.vardir / "worker-test.log"
    log.write_text("an older line\n")
    with paused_worker(s):
        doc_id = s.upload_ok(key, b"The worker writes one line for this document.\n" * 20, "logged.txt")
        r = s.ctl("worker", "--once", "--log", log, timeout=120)
        eq(r.stderr, "", "stderr with --log")
    text = log.read_text()
    lines = text.splitlines()
    eq(lines[0], "an older line", "the log is appended to")
    started = [ln for ln in lines if " worker " in ln and " started" in ln]
    eq(len(started), 1, f"start lines in {text!r}")
    settings = s.db_settings()
    for part in (f"config {s.config_path}", f"database {settings['name']} on socket {settings['socket']}",
                 f"as user {settings['user']}", "(--once)"):
        check(part in started[0], f"the start line lacks {part!r}: {started[0]!r}")
    check(re.search(r"started \(--once\): pid \d+, ", started[0]), f"the start line's pid: {started[0]!r}")
    check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ faqsure: worker \S+ started", started[0]),
          f"time and version first: {started[0]!r}")
    doc_lines = [ln for ln in lines if doc_id in ln]
    eq(len(doc_lines), 1, f"lines naming the document in {text!r}")
    chunks = s.document(key, doc_id)["chunk_count"]
    check(re.search(rf": ready, {chunks} chunks, \d+ ms$", doc_lines[0]), f"the document's line: {doc_lines[0]!r}")
    check(re.search(r"worker: stopped after [1-9]\d* document\(s\)$", lines[-1]), f"the last line: {lines[-1]!r}")
    check(settings["password"] and settings["password"] not in text, "the database password is in the log")


def test_daemon_worker_reopens_its_log_file_on_sighup(s):
    """What logrotate does: the file is moved away and the worker gets SIGHUP; its next lines go to a new file of
    the same name. SIGTERM then stops it with a last line."""
    _, key = s.account_with_key(per_minute=100)
    log = s.vardir / "worker-hup.log"
    rotated = s.vardir / "worker-hup.log.1"
    with paused_worker(s):
        p = subprocess.Popen([str(CTL), "worker", "--log", str(log)], env=worker_env(s.config_path),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: log.exists() and " started: pid " in log.read_text(), "the start line", 30)
            log.rename(rotated)
            p.send_signal(signal.SIGHUP)
            doc_id = s.upload_ok(key, b"Processed after the log file was rotated.\n" * 10, "rotated.txt")
            wait_for(lambda: log.exists() and doc_id in log.read_text(), "the document's line in the new file", 30)
            p.send_signal(signal.SIGTERM)
            eq(p.wait(timeout=60), 0, "exit code after SIGTERM")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    eq(p.stderr.read(), "", "stderr with --log")
    check(doc_id not in rotated.read_text(), "the document's line went to the rotated file")
    last = log.read_text().splitlines()[-1]
    check(re.search(r"worker: stopped after [1-9]\d* document\(s\) \(signal\)$", last), f"the last line: {last!r}")
