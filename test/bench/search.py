# Search benchmark (called by test/bench/run.sh on its private stack): POST /api/v1/search with wrk over generated
# corpora of 1k, 10k and 100k chunks (each in its own account), dense and hybrid, beside the hello-world ceiling
# test/bench/run.sh measured; the resident memory of the search.fcgi processes; then the exact scan alone (scan-bench,
# vscan_topk) against FAISS IndexFlatIP on the same real embeddings, one thread each.
# Then chat (POST /api/v1/chat, each request a new conversation) on the 10k corpus: the account's default agent
# (built-in answerer), and an agent whose answerer is "openai" pointed at the OpenAI-compatible stand-in
# (STANDIN_URL, started by test/bench/run.sh), with the stand-in alone measured on the very requests chat sent it.
# usage: search.py URL CTL CONFIG SOCKET WORKDIR RUNDIR HELLO_RPS DOCUMENTS_RPS
# Environment: SEARCH_SIZES (chunks per corpus, default 1000,10000,100000), DURATION, CONNECTIONS (as test/bench/run.sh),
# SCAN_BENCH (default $BUILDDIR/test/scan-bench), BUILDDIR, CHAT_SIZE (the corpus chat runs on, default 10000; 0:
# no chat), STANDIN_URL (the stand-in's base URL, e.g. http://127.0.0.1:PORT; empty: no upstream part).
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

url, ctl, config, sock, workdir, rundir, hello_rps, documents_rps = sys.argv[1:9]
host = urllib.parse.urlsplit(url)
workdir = Path(workdir)
ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILDDIR", "build"))
BUILD = BUILD if BUILD.is_absolute() else ROOT / BUILD
SIZES = [int(x) for x in os.environ.get("SEARCH_SIZES", "1000,10000,100000").split(",") if x]
DURATION = int(os.environ.get("DURATION", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
SCAN_BENCH = Path(os.environ.get("SCAN_BENCH") or BUILD / "test" / "scan-bench")
LUA = ROOT / "test" / "bench" / "search.lua"
CHAT_LUA = ROOT / "test" / "bench" / "chat.lua"
CHAT_SIZE = int(os.environ.get("CHAT_SIZE", "10000") or 0)
STANDIN_URL = os.environ.get("STANDIN_URL", "").rstrip("/")
N_CHAT_QUESTIONS = 64  # distinct chat bodies wrk cycles through
SEQUENTIAL_CHATS = 200  # chats asked one at a time (one connection) for the server's added time
N_QUERIES = 64      # distinct search bodies wrk cycles through
SCAN_QUERIES = 100  # query vectors for the scan comparison
TOP_K = 10
summary = [f"hello ceiling {float(hello_rps):.0f} req/s; GET /api/v1/documents {float(documents_rps):.0f} req/s "
           f"({100 * float(documents_rps) / float(hello_rps):.1f}%)"]


def say(line=""):
    print(line, flush=True)


def fail(msg):
    raise SystemExit(f"bench: {msg}")


# ---------------------------------------------------------------------------------------------------------------
# Generated corpora: Markdown documents whose sections are one paragraph of 600–950 characters each, so the
# chunker (a chunk never spans two sections; target 1,000 characters) makes one chunk per section. Words follow
# a Zipf law over a vocabulary of 20,000, as words in real text do, so keyword queries meet common and rare
# terms alike.

def vocabulary(rnd):
    words = set()
    path = Path("/usr/share/dict/words")
    if path.exists():
        words = {w.strip().lower() for w in path.read_text(errors="ignore").split() if re.fullmatch(r"[a-z]{3,12}", w)}
    words = sorted(words)
    while len(words) < 20000:  # no dictionary: pronounceable made-up words
        words.append("".join(rnd.choice("bcdfghklmnprstvz") + rnd.choice("aeiou") for _ in range(rnd.randint(2, 4))))
    rnd.shuffle(words)
    words = words[:20000]
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1)
        cum.append(total)
    return words, cum


def paragraph(rnd, words, cum):
    """600 to 950 characters (under the chunker's 1,000-character target: one chunk)."""
    target = rnd.randint(600, 900)
    sentences, length = [], -1
    while length < target:
        s = " ".join(rnd.choices(words, cum_weights=cum, k=rnd.randint(8, 20)))
        if length + 1 + len(s) + 1 > 950:
            continue
        sentences.append(s[0].upper() + s[1:] + ".")
        length += len(s) + 2
    return " ".join(sentences)


def corpus(size, rnd, words, cum):
    """(filename, bytes) documents holding `size` sections in all."""
    per_doc = 10 if size <= 1000 else 20 if size <= 10000 else 25
    made = 0
    for d in range(0, (size + per_doc - 1) // per_doc):
        n = min(per_doc, size - made)
        made += n
        parts = [f"# Handbook {size}-{d}\n"]
        for j in range(n):
            title = " ".join(rnd.choices(words, cum_weights=cum, k=3))
            parts.append(f"## {j + 1}. {title}\n\n{paragraph(rnd, words, cum)}\n")
        yield f"gen-{size}-{d}.md", "\n".join(parts).encode()


def chat_questions(docs, n=N_CHAT_QUESTIONS):
    """Questions a user of this knowledge base could ask: 5 to 9 consecutive words of a section of the corpus,
    phrased as a question (a generator of its own, so the corpora and search queries stay as they were)."""
    rnd = random.Random(20240612)
    sections = [sec for _, data in docs for sec in data.decode().split("\n## ")[1:]]
    out = []
    for _ in range(n):
        words = rnd.choice(sections).split("\n\n", 1)[1].replace(".", "").lower().split()
        start = rnd.randrange(0, max(1, len(words) - 9))
        frag = " ".join(words[start:start + rnd.randint(5, 9)])
        out.append(rnd.choice(("how do I {}?", "what is {}?", "where can I find {}?", "{}?")).format(frag))
    return out


def queries(rnd, words, cum):
    """Half are fragments of generated sentences (they have close matches), half words of middling frequency."""
    out = []
    for i in range(N_QUERIES):
        if i % 2 == 0:
            p = paragraph(rnd, words, cum).split()
            start = rnd.randrange(0, max(1, len(p) - 8))
            out.append(" ".join(p[start:start + rnd.randint(4, 8)]).strip(".").lower())
        else:
            out.append("how do I " + " ".join(rnd.choice(words[200:5000]) for _ in range(rnd.randint(2, 4))))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Stack helpers

def ctl_run(*args):
    env = dict(os.environ, FAQSURE_CONFIG=config)
    return subprocess.run([ctl, *args], env=env, capture_output=True, text=True, check=True).stdout


def sql(query):
    r = subprocess.run(["mariadb", "--no-defaults", "--socket", sock, "-uroot", "faqsure", "-N", "--raw", "-e", query],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"mariadb: {r.stderr.strip()}")
    return [line.split("\t") for line in r.stdout.splitlines()]


def upload_all(key, docs, threads=4):
    lock = threading.Lock()
    queue = list(docs)
    errors = []

    def uploader():
        conn = None
        while True:
            with lock:
                if not queue or errors:
                    break
                filename, data = queue.pop()
            boundary = uuid.uuid4().hex
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                    f"Content-Type: text/markdown\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
            for attempt in (1, 2):  # a keep-alive connection the server closed meanwhile: once more on a new one
                try:
                    conn = conn or http.client.HTTPConnection(host.hostname, host.port, timeout=120)
                    conn.request("POST", "/api/v1/documents/upload", body,
                                 {"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"})
                    r = conn.getresponse()
                    answer = r.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()
                    conn = None
                    if attempt == 2:
                        raise
            if r.status != 200:
                with lock:
                    errors.append(f"upload of {filename}: HTTP {r.status} {answer[:200]!r}")
        if conn:
            conn.close()

    threads = [threading.Thread(target=uploader) for _ in range(threads)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    if errors:
        fail(errors[0])


def prepare():
    """Creates the accounts, uploads every corpus while no worker runs, then drains the queue with one
    `worker --once` per core. Returns ({size: (account, account id, key, chunks)}, the query texts)."""
    rnd = random.Random(20240611)
    words, cum = vocabulary(rnd)
    accounts = {}
    t0 = time.monotonic()
    ndocs = 0
    chat_qs = []
    for size in SIZES:
        name = f"search-{size}-{uuid.uuid4().hex[:6]}"
        ctl_run("account", "create", name, "--unlimited")
        key = ctl_run("key", "create", "--account", name, "--name", "bench", "--per-minute", "1000000",
                      "--per-hour", "100000000").rstrip("\n").split("\n")[-1]
        docs = list(corpus(size, rnd, words, cum))
        ndocs += len(docs)
        if size == CHAT_SIZE:
            chat_qs = chat_questions(docs)
        upload_all(key, docs)
        accounts[size] = (name, int(sql(f"SELECT id FROM accounts WHERE name = '{name}'")[0][0]), key)
    upload_s = time.monotonic() - t0
    t1 = time.monotonic()
    env = dict(os.environ, FAQSURE_CONFIG=config)
    logs = [workdir / f"worker-{i}.log" for i in range(os.cpu_count() or 1)]
    workers = []
    for log in logs:
        with open(log, "w") as f:
            workers.append(subprocess.Popen([ctl, "worker", "--once"], env=env, stdout=subprocess.DEVNULL, stderr=f))
    for w in workers:
        w.wait()
    said = "".join(log.read_text()[-600:] for log in logs)  # the end of what each said, for a failure
    if any(w.returncode for w in workers):
        fail(f"faqsurectl worker --once exited {[w.returncode for w in workers]}:\n{said}")
    work_s = time.monotonic() - t1
    total_chunks = 0
    for size, (name, acct, key) in accounts.items():
        rows = dict((st, (int(n), int(c))) for st, n, c in
                    sql(f"SELECT status, COUNT(*), SUM(chunk_count) FROM documents WHERE account_id = {acct} "
                        "GROUP BY status"))
        if set(rows) != {"ready"}:
            fail(f"corpus of {size} chunks: documents not all ready: {rows}; the workers said:\n{said}")
        total_chunks += rows["ready"][1]
        accounts[size] = (name, acct, key, rows["ready"][1])
    if CHAT_SIZE in accounts:
        # the chat corpus's sentence vectors, as the idle worker would compute them (one process per core)
        t2 = time.monotonic()
        fills = [subprocess.Popen([ctl, "sentences", "--account", accounts[CHAT_SIZE][0]], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(os.cpu_count() or 1)]
        errs = [f.communicate()[1] for f in fills]
        if any(f.returncode for f in fills):
            fail(f"faqsurectl sentences failed: {errs}")
        fill_s = time.monotonic() - t2
        say(f"sentence vectors of the {CHAT_SIZE}-chunk corpus: {len(fills)} processes {fill_s:.0f} s "
            f"({accounts[CHAT_SIZE][3] / fill_s:.0f} chunks/s)")
    say(f"corpora: {ndocs} generated Markdown documents, {total_chunks} chunks "
        f"({', '.join(str(a[3]) for a in accounts.values())}); uploads {upload_s:.0f} s, "
        f"{len(workers)} workers {work_s:.0f} s ({total_chunks / work_s:.0f} chunks/s)")
    return accounts, queries(rnd, words, cum), chat_qs


# ---------------------------------------------------------------------------------------------------------------
# wrk

def parse_ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def wrk(key, bodies, connections, seconds, latency=True, timeout=None, target=None, lua=LUA):
    """target: the URL (default POST /api/v1/search of the stack)."""
    env = dict(os.environ, SEARCH_BODIES=str(bodies), CHAT_BODIES=str(bodies))
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), "-H", f"X-API-Key: {key}"]
    if latency:
        cmd.append("--latency")
    if timeout:
        cmd.append(f"--timeout={timeout}s")
    out = subprocess.run(cmd + [target or f"{url}/api/v1/search"], env=env, capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    chat = re.search(r"^chat: (\d+) answered, (\d+) fell back, (\d+) other", out, re.M)
    first_error = re.search(r"^chat: first error: (.*)", out, re.M)
    return {"rps": rps, "p50": p50 and parse_ms(p50.group(1)), "p99": p99 and parse_ms(p99.group(1)),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else None,
            "chat": tuple(map(int, chat.groups())) if chat else None,
            "first_error": first_error.group(1) if first_error else None}


def check_search(key, body):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
    conn.request("POST", "/api/v1/search", body, {"X-API-Key": key, "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.status != 200:
        fail(f"POST /api/v1/search answered {r.status}: {data[:300]!r}")
    return json.loads(data)


def search_processes(program="search.fcgi"):
    """(pid, rss KiB) of this stack's processes of program (other stacks may run on the machine)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            if not exe.startswith(rundir) or not exe.endswith("/" + program):
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # gone, or not ours to look at
        m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if m:
            out.append((int(pid), int(m.group(1))))
    return out


def private_kib(pid):
    """The memory a process holds for itself (its anonymous pages: heap, stacks), not the pages of files it
    maps, such as the vector index file every process of the machine shares through the page cache."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    m = re.search(r"^Anonymous:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def index_file_mib(acct):
    files = list(Path(rundir, "vectors").glob(f"account-{acct}-*.index"))
    return sum(f.stat().st_size for f in files) / 2**20 if files else None


def rss_line(program="search.fcgi"):
    procs = search_processes(program)
    if not procs:
        return f"no {program} processes"
    rss = [kb / 1024 for _, kb in procs]
    own = [private_kib(pid) / 1024 for pid, _ in procs]
    return (f"{len(procs)} {program} processes, resident {min(rss):.1f}–{max(rss):.1f} MiB each, of which their "
            f"own {min(own):.1f}–{max(own):.1f} MiB (total own {sum(own):.0f} MiB)")


def restart_web():
    """Restarts the stack's Apache, which ends its FastCGI processes: each corpus starts with none, so its
    cold start and its memory are its own, and the memory of the one before is given back."""
    r = subprocess.run(["apache2", "-f", f"{rundir}/httpd.conf", "-k", "restart"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"apache2 -k restart: {r.stderr.strip()}")
    deadline = time.monotonic() + 30
    while search_processes() or search_processes("chat.fcgi") or not healthy():
        if time.monotonic() > deadline:
            fail("Apache did not come back after a restart")
        time.sleep(0.2)


def healthy():
    try:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=5)
        conn.request("GET", "/api/v1/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def mem_available_mib():
    m = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return int(m.group(1)) / 1024


MAX_PROCESSES = 32  # apache-example.conf: FcgidMaxProcessesPerClass
WARMUP_BUDGET_S = 60
WARMUP_MAX_S = 150


def warm_up(key, bodies, conns, per_proc, program="search.fcgi", target=None, lua=LUA):
    """wrk passes until every search.fcgi process holds the account (its memory is at least 80% of what the
    first one grew to) and no new process started during the last pass. As test/bench/run.sh does, with twice the
    connections, so mod_fcgid has spare processes (a request that finds them all busy waits about a second, and
    then for the new process to load the account); with the measured connections only where they were reduced
    (memory, warm-up time): requests piling up behind loading processes would make mod_fcgid start still more.
    Returns (seconds, all warm)."""
    warm_conns = 2 * conns if conns == CONNECTIONS else conns
    t0 = time.monotonic()
    for i in range(1000):
        before = {pid for pid, _ in search_processes(program)}
        wrk(key, bodies, warm_conns, 5, latency=False, timeout=120, target=target, lua=lua)
        procs = search_processes(program)
        warm = {pid for pid, _ in procs} <= before and all(kb / 1024 >= 0.8 * per_proc for _, kb in procs)
        if (i >= 1 and warm) or time.monotonic() - t0 > WARMUP_MAX_S:
            return time.monotonic() - t0, warm


def run_wrk(accounts, qs):
    say(f"\nSearch (POST /api/v1/search, top_k {TOP_K}, {N_QUERIES} different queries; wrk -t2 -c{CONNECTIONS} "
        f"unless said, {DURATION}s per run; hello-world ceiling {float(hello_rps):.0f} req/s; Apache restarted "
        f"before each corpus):")
    results = {}
    for size, (name, acct, key, chunks) in accounts.items():
        restart_web()
        # Cold start: one search in a fresh process, which maps the account's index file (built by the worker).
        first = json.dumps({"query": qs[0], "top_k": TOP_K, "use_hybrid": False})
        t = time.monotonic()
        answer = check_search(key, first)
        cold_s = time.monotonic() - t
        if not answer.get("results"):
            fail(f"search of {size} chunks found nothing: {answer}")
        # A change of the account (its generation moves, no row changed): the next search rebuilds the file
        # from the old one and the table, writes it and puts it in place; then a second fresh process maps it.
        sql(f"UPDATE vector_generations SET generation = generation + 1 WHERE account_id = {acct}")
        t = time.monotonic()
        check_search(key, first)
        rebuild_s = time.monotonic() - t
        file_mib = index_file_mib(acct)
        restart_web()  # the process that rebuilt holds memory the others never will: measure a fresh one
        check_search(key, first)
        per_proc = max(kb for _, kb in search_processes()) / 1024
        own = max(private_kib(pid) for pid, _ in search_processes()) / 1024
        # mod_fcgid starts processes while requests wait (up to MAX_PROCESSES). Where their own memory would not
        # fit in half the free memory, or their cold starts take longer than the warm-up budget on this
        # machine's cores, fewer connections are used (said in the output).
        fit_mem = int(0.5 * mem_available_mib() / max(own, 1.0))
        fit_time = int(WARMUP_BUDGET_S * (os.cpu_count() or 1) / max(cold_s, 0.01))
        procs = min(MAX_PROCESSES, fit_mem, fit_time)
        conns = CONNECTIONS if procs >= 2 * CONNECTIONS else max(2, min(CONNECTIONS, procs // 2))
        say(f"{chunks:>7} chunks: first search in a fresh process {cold_s * 1000:.0f} ms; after a change the next "
            f"search rebuilt the index file in {rebuild_s * 1000:.0f} ms; the file {file_mib or 0:.0f} MiB, mapped "
            f"by every process (resident {per_proc:.0f} MiB, own {own:.1f} MiB)"
            + (f"; measured with -c{conns} (more processes would need too much "
               f"{'memory' if fit_mem <= fit_time else 'warm-up time'})" if conns != CONNECTIONS else ""))
        if file_mib is None:
            fail(f"no index file of account {acct} in {rundir}/vectors: the shared index is not in use")
        for hybrid in (False, True):
            bodies = workdir / f"bodies-{size}-{int(hybrid)}.jsonl"
            bodies.write_text("".join(json.dumps({"query": q, "top_k": TOP_K, "similarity_threshold": 0,
                                                  "use_hybrid": hybrid}) + "\n" for q in qs))
            warm_s, warm = warm_up(key, bodies, conns, per_proc)
            r = wrk(key, bodies, conns, DURATION)
            mode = "hybrid" if hybrid else "dense"
            results[(size, mode)] = r
            ratio = 100 * r["rps"] / float(hello_rps)
            say(f"{chunks:>7} chunks {mode:<6}  {r['rps']:9.0f} req/s   p50 {r['p50']:8.2f} ms   "
                f"p99 {r['p99']:8.2f} ms   {ratio:5.1f}% of hello   (-c{conns}, warm-up {warm_s:.0f} s"
                + ("" if warm else ", some processes still loading") + ")"
                + (f"   non-2xx: {r['non2xx']}" if r["non2xx"] else "")
                + (f"   socket errors: {r['socket_errors']}" if r["socket_errors"] else ""))
            summary.append(f"search {chunks // 1000}k {mode}: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, "
                           f"p99 {r['p99']:.1f} ms ({ratio:.1f}% of hello"
                           + (f"; -c{conns})" if conns != CONNECTIONS else ")"))
        line = rss_line()
        say(f"{chunks:>7} chunks: after the runs, {line}")
        summary.append(f"memory {chunks // 1000}k: {line}; index file {file_mib:.0f} MiB once per machine; first "
                       f"search in a fresh process {cold_s * 1000:.0f} ms; file rebuilt after a change in "
                       f"{rebuild_s * 1000:.0f} ms")
    restart_web()  # gives the memory back before the scan comparison
    return results


# ---------------------------------------------------------------------------------------------------------------
# Chat: POST /api/v1/chat on one corpus, each request a new conversation; the built-in answerer, then an upstream
# answerer on the stand-in, with the stand-in alone measured on the requests chat sent it.

def http_json(method, target, body=None, key=None, timeout=120):
    u = urllib.parse.urlsplit(target)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["X-API-Key"] = key
    conn.request(method, u.path, None if body is None else json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def chat_once(key, body):
    status, answer = http_json("POST", f"{url}/api/v1/chat", body, key, timeout=600)
    if status != 200 or not isinstance(answer, dict):
        fail(f"POST /api/v1/chat answered {status}: {str(answer)[:300]}")
    return answer


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))] if s else None


def db_now():
    return sql("SELECT NOW(6)")[0][0]


def processing_ms(acct, agent_id, since, until, answered_only=False):
    """processing_ms of the account's answers by the agent stored in [since, until] (the database's clock); with
    answered_only, of those that did not fall back."""
    rows = sql(f"SELECT processing_ms FROM messages WHERE account_id = {int(acct)} AND role = 'assistant'"
               f" AND agent_id = '{agent_id}' AND created_at BETWEEN '{since}' AND '{until}'"
               + (" AND fallback = 0" if answered_only else ""))
    return [int(ms) for ms, in rows]


def upstream_agent(key, acct):
    """An agent of the account whose answerer is "openai" (the stack's [answerer] url: the stand-in). Through
    POST /api/v1/agents; through SQL when that route is not there."""
    status, agent = http_json("POST", f"{url}/api/v1/agents", {"name": "bench upstream", "answerer": "openai"}, key)
    if status in (200, 201) and isinstance(agent, dict) and agent.get("id"):
        return agent["id"], "POST /api/v1/agents"
    if status not in (404, 405):
        fail(f"POST /api/v1/agents answered {status}: {str(agent)[:300]}")
    agent_id = str(uuid.uuid4())
    sql("INSERT INTO agents (id, account_id, name, system_prompt, fallback_message, answerer) VALUES "
        f"('{agent_id}', {int(acct)}, 'bench upstream', 'You answer questions from the knowledge base.', "
        "'I do not know.', 'openai')")
    return agent_id, f"SQL (POST /api/v1/agents answered {status})"


def ok_rps(r):
    """Requests/s that were answered 200 (wrk's figure counts every answer, errors included)."""
    ok = sum(r["chat"] or (0, 0, 0))
    return r["rps"] * ok / max(1, ok + r["non2xx"])


def chat_line(label, r, conns, server, warm_s, warm):
    a, f, o = r["chat"] or (0, 0, 0)
    return (f"{label:<30} {r['rps']:7.0f} req/s   p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms   "
            f"processing_time_ms p50 {percentile(server, 50)}, p99 {percentile(server, 99)}   "
            f"{a} answered, {f} fell back   (-c{conns}, warm-up {warm_s:.0f} s"
            + ("" if warm else ", some processes still loading") + ")"
            + (f"\n{'':<30} non-2xx: {r['non2xx']} (200s: {ok_rps(r):.0f} req/s), the first: {r['first_error']}"
               if r["non2xx"] else "")
            + (f"   socket errors: {r['socket_errors']}" if r["socket_errors"] else ""))


def run_chat(account, questions):
    name, acct, key, chunks = account
    t_start = time.monotonic()
    say(f"\nChat (POST /api/v1/chat on the {chunks}-chunk corpus, {len(questions)} different questions taken from "
        f"its sections, each request a new conversation; wrk -t2 -c{CONNECTIONS} unless said, {DURATION}s per "
        f"run; Apache restarted first):")
    restart_web()
    builtin_bodies = workdir / "chat-builtin.jsonl"
    builtin_bodies.write_text("".join(json.dumps({"message": q}) + "\n" for q in questions))
    t = time.monotonic()
    first = chat_once(key, {"message": questions[0]})
    cold_s = time.monotonic() - t
    default_agent = first["agent_id"]
    per_proc = max(kb for _, kb in search_processes("chat.fcgi")) / 1024
    fit_mem = int(0.5 * mem_available_mib() / per_proc)
    fit_time = int(WARMUP_BUDGET_S * (os.cpu_count() or 1) / max(cold_s, 0.01))
    procs = min(MAX_PROCESSES, fit_mem, fit_time)
    conns = CONNECTIONS if procs >= 2 * CONNECTIONS else max(2, min(CONNECTIONS, procs // 2))
    say(f"first chat in a fresh process {cold_s * 1000:.0f} ms, which then holds {per_proc:.0f} MiB"
        + (f"; measured with -c{conns}" if conns != CONNECTIONS else ""))
    target = f"{url}/api/v1/chat"

    warm_s, warm = warm_up(key, builtin_bodies, conns, per_proc, "chat.fcgi", target, CHAT_LUA)
    since = db_now()
    r = wrk(key, builtin_bodies, conns, DURATION, target=target, lua=CHAT_LUA)
    server = processing_ms(acct, default_agent, since, db_now())
    say(chat_line("chat, built-in answerer", r, conns, server, warm_s, warm))
    summary.append(f"chat {chunks // 1000}k built-in answerer: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, "
                   f"p99 {r['p99']:.1f} ms, server processing_time_ms p50 {percentile(server, 50)}"
                   + (f" (-c{conns})" if conns != CONNECTIONS else "")
                   + (f"; {r['non2xx']} non-2xx, 200s {ok_rps(r):.0f} req/s ({(r['first_error'] or '')[:60]}...)"
                      if r["non2xx"] else ""))

    if not STANDIN_URL:
        say("chat with an upstream answerer: no stand-in (STANDIN_URL), skipped")
    else:
        agent_id, how = upstream_agent(key, acct)
        up_bodies = workdir / "chat-upstream.jsonl"
        up_bodies.write_text("".join(json.dumps({"message": q, "agent_id": agent_id}) + "\n" for q in questions))
        answer = chat_once(key, {"message": questions[0], "agent_id": agent_id})
        say(f"agent {agent_id} (answerer \"openai\", created through {how}) on the stand-in {STANDIN_URL}")
        warm_s, warm = warm_up(key, up_bodies, conns, per_proc, "chat.fcgi", target, CHAT_LUA)
        http_json("POST", f"{STANDIN_URL}/_reset")
        since = db_now()
        r = wrk(key, up_bodies, conns, DURATION, target=target, lua=CHAT_LUA)
        server = processing_ms(acct, agent_id, since, db_now(), answered_only=True)
        status, log = http_json("GET", f"{STANDIN_URL}/_log")
        if status != 200:
            fail(f"stand-in GET /_log answered {status}")
        sent = [e["body"] for e in log["requests"] if e["path"] == "/v1/chat/completions"]
        say(chat_line("chat, upstream (stand-in)", r, conns, server, warm_s, warm)
            + f"   {len(sent)} upstream requests")
        if not sent:
            fail(f"the stand-in received no chat completion (is the upstream agent answering? {answer})")
        # The stand-in alone, on the requests chat sent it: wrk with the same connections, then one at a time.
        direct = workdir / "standin-bodies.jsonl"
        direct.write_text("".join(json.dumps(b) + "\n" for b in sent[:500]))
        http_json("POST", f"{STANDIN_URL}/_reset")
        alone = wrk("-", direct, conns, 5, target=f"{STANDIN_URL}/v1/chat/completions", lua=CHAT_LUA)
        say(f"{'stand-in alone, same requests':<30} {alone['rps']:7.0f} req/s   p50 {alone['p50']:7.2f} ms   "
            f"p99 {alone['p99']:7.2f} ms   (wrk -c{conns} straight to it)")
        # One at a time: chat's processing_time_ms against the stand-in's own time on the same requests.
        http_json("POST", f"{STANDIN_URL}/_reset")
        seq_server, seq_client = [], []
        for i in range(SEQUENTIAL_CHATS):
            t = time.monotonic()
            a = chat_once(key, {"message": questions[i % len(questions)], "agent_id": agent_id})
            seq_client.append((time.monotonic() - t) * 1000)
            if not a["fallback_triggered"]:
                seq_server.append(a["processing_time_ms"])
        u = urllib.parse.urlsplit(STANDIN_URL)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        own = []
        for i in range(SEQUENTIAL_CHATS):
            body = json.dumps(sent[i % len(sent)])
            t = time.monotonic()
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            own.append((time.monotonic() - t) * 1000)
            if resp.status != 200:
                fail(f"stand-in answered {resp.status}")
        conn.close()
        # The same one at a time with the built-in answerer, for comparison.
        builtin_server, builtin_client = [], []
        for i in range(SEQUENTIAL_CHATS):
            t = time.monotonic()
            builtin_server.append(chat_once(key, {"message": questions[i % len(questions)]})["processing_time_ms"])
            builtin_client.append((time.monotonic() - t) * 1000)
        if not seq_server:
            fail("one at a time, no chat was answered by the upstream")
        s50, o50 = percentile(seq_server, 50), percentile(own, 50)
        say(f"one at a time ({SEQUENTIAL_CHATS} chats, {len(seq_server)} answered by the upstream): chat client p50 "
            f"{percentile(seq_client, 50):.2f} ms, server processing_time_ms p50 {s50}, p99 "
            f"{percentile(seq_server, 99)}; the stand-in alone on the same requests (one keep-alive connection) "
            f"p50 {o50:.2f} ms, p99 {percentile(own, 99):.2f} ms; server's added time (processing p50 - stand-in "
            f"p50) {s50 - o50:.1f} ms.\n  The same questions with the built-in answerer one at a time: client p50 "
            f"{percentile(builtin_client, 50):.2f} ms, processing_time_ms p50 {percentile(builtin_server, 50)}, p99 "
            f"{percentile(builtin_server, 99)}")
        summary.append(f"chat {chunks // 1000}k upstream answerer (stand-in): {r['rps']:.0f} req/s, p50 "
                       f"{r['p50']:.1f} ms, p99 {r['p99']:.1f} ms (stand-in alone {alone['rps']:.0f} req/s, p50 "
                       f"{alone['p50']:.1f} ms)"
                       + (f", {r['non2xx']} non-2xx, 200s {ok_rps(r):.0f} req/s ({(r['first_error'] or '')[:60]}...)"
                          if r["non2xx"] else "")
                       + f"; one at a time: processing_time_ms p50 {s50}, stand-in p50 {o50:.2f} ms, added by "
                       f"the server {s50 - o50:.1f} ms")
    line = rss_line("chat.fcgi")
    say(f"after the runs, {line}; chat part {time.monotonic() - t_start:.0f} s")
    restart_web()


# ---------------------------------------------------------------------------------------------------------------
# The scan alone: vscan_topk (scan-bench) against FAISS IndexFlatIP, one thread each, same vectors, k = 10.

def export_vectors(acct, path, limit=None):
    """The account's chunk embeddings in vec_seq order into path (float32, little-endian); returns (n, dims).
    Streamed: 100k vectors of 1024 dimensions are 800 MB of hex."""
    query = (f"SELECT dims, HEX(embedding) FROM chunks WHERE account_id = {acct} ORDER BY vec_seq"
             + (f" LIMIT {int(limit)}" if limit else ""))
    p = subprocess.Popen(["mariadb", "--no-defaults", "--socket", sock, "-uroot", "faqsure", "-N", "--raw",
                          "--quick", "-e", query], stdout=subprocess.PIPE, text=True)
    n, dims = 0, None
    with open(path, "wb") as f:
        for line in p.stdout:
            d, hexed = line.rstrip("\n").split("\t")
            if dims is None:
                dims = int(d)
            elif int(d) != dims:
                fail(f"account {acct}: chunks of {d} and {dims} dimensions")
            f.write(bytes.fromhex(hexed))
            n += 1
    if p.wait() != 0 or not n:
        fail(f"could not read the embeddings of account {acct}")
    return n, dims


def scan_compare(accounts):
    import numpy as np
    try:
        import faiss
    except ImportError:
        say("FAISS: python3-faiss is not installed, scan comparison skipped")
        return
    if not SCAN_BENCH.exists():
        say(f"scan-bench: {SCAN_BENCH} is not built, scan comparison skipped")
        return
    faiss.omp_set_num_threads(1)
    small = min(accounts)
    big = [s for s in accounts if s >= 10000] or [max(accounts)]
    qpath = workdir / "queries.f32"
    # Queries: chunk vectors of another account (other text from the same vocabulary), not rows being scanned.
    nq, dims = export_vectors(accounts[small][1], qpath, SCAN_QUERIES)
    source = "chunk vectors of another corpus" if small not in big else "the corpus's own first chunks"
    say(f"\nExact top-{TOP_K} scan alone, one thread, {nq} queries ({source}); scan-bench "
        f"best of 3 passes, FAISS {faiss.__version__} ({faiss.get_compile_options().strip() or 'default'} build, "
        f"as Debian ships it) best of 2:")
    q = np.fromfile(qpath, dtype="<f4").reshape(nq, dims)
    for size in big:
        rpath = workdir / f"rows-{size}.f32"
        n, d = export_vectors(accounts[size][1], rpath)
        if d != dims:
            fail("query and row vectors differ in dimensions")
        ids_path = workdir / f"ids-{size}.txt"
        out = subprocess.run([str(SCAN_BENCH), "-k", str(TOP_K), "-r", "3", "-o", str(ids_path), str(dims),
                              str(rpath), str(qpath)], capture_output=True, text=True, check=True).stdout
        ours = float(re.search(r"ms_per_query=([\d.]+)", out).group(1))
        # the scan the embedded store runs: int8 first pass, exact rescoring of the 4k best
        q8_ids = workdir / f"ids-q8-{size}.txt"
        out = subprocess.run([str(SCAN_BENCH), "-q", "-k", str(TOP_K), "-r", "3", "-o", str(q8_ids), str(dims),
                              str(rpath), str(qpath)], capture_output=True, text=True, check=True).stdout
        q8 = float(re.search(r"ms_per_query=([\d.]+)", out).group(1))
        rows = np.fromfile(rpath, dtype="<f4").reshape(n, dims)
        index = faiss.IndexFlatIP(dims)
        index.add(rows)
        best_one = None
        for _ in range(2):
            t = time.perf_counter()
            found = [index.search(q[i:i + 1], TOP_K)[1][0] for i in range(nq)]
            one = (time.perf_counter() - t) * 1000 / nq
            best_one = one if best_one is None else min(best_one, one)
        t = time.perf_counter()
        index.search(q, TOP_K)
        batch = (time.perf_counter() - t) * 1000 / nq
        mine = [list(map(int, line.split())) for line in ids_path.read_text().splitlines()]
        same_list = sum(1 for a, b in zip(mine, found) if list(a) == list(b))
        same_set = sum(1 for a, b in zip(mine, found) if set(a) == set(b))
        mine_q8 = [list(map(int, line.split())) for line in q8_ids.read_text().splitlines()]
        same_q8 = sum(1 for a, b in zip(mine_q8, found) if list(a) == list(b))
        say(f"{n:>7} x {dims}: vscan_topk {ours:.3f} ms/query; FAISS IndexFlatIP {best_one:.3f} ms/query one at a "
            f"time, {batch:.3f} as one batch of {nq}; ours / FAISS = {ours / best_one:.2f} ({ours / batch:.2f} vs "
            f"batch); same top-{TOP_K}: {same_list}/{nq} in order, {same_set}/{nq} as sets")
        say(f"{n:>7} x {dims}: vscan_topk_q8 (int8 + exact rescoring, what search runs) {q8:.3f} ms/query; "
            f"ours / FAISS = {q8 / best_one:.2f}; same top-{TOP_K} as FAISS: {same_q8}/{nq} in order")
        summary.append(f"scan {n // 1000}k x {dims}: vscan float {ours:.3f} ms/query, int8+rescore {q8:.3f} ms, "
                       f"FAISS flat {best_one:.3f} ms (ratios {ours / best_one:.2f} / {q8 / best_one:.2f}); "
                       f"identical top-{TOP_K} {same_list}/{nq} float, {same_q8}/{nq} int8")
        rpath.unlink()


def main():
    workdir.mkdir(parents=True, exist_ok=True)
    say("\nSearch benchmark: generating and indexing corpora ...")
    accounts, qs, chat_qs = prepare()
    run_wrk(accounts, qs)
    if CHAT_SIZE in accounts:
        run_chat(accounts[CHAT_SIZE], chat_qs)
    elif CHAT_SIZE:
        say(f"\nchat: no corpus of {CHAT_SIZE} chunks in SEARCH_SIZES, skipped")
    scan_compare(accounts)
    say("\nSummary:")
    for line in summary:
        say("  " + line)


main()
