# Test harness: a private stack (MariaDB + Apache/mod_fcgid) in a temp dir, and helpers for HTTP, faqsurectl, CGI.
import configparser
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = (ROOT / os.environ.get("BUILDDIR", "build")).resolve()  # a relative BUILDDIR is relative to the repo
STACK_SH = ROOT / "vendor-config" / "stack.sh"
CTL = BUILD / "bin" / "faqsurectl"
DOCUMENTS_FCGI = BUILD / "fcgi-bin" / "documents.fcgi"
KEYS_FCGI = BUILD / "fcgi-bin" / "keys.fcgi"
PROBE_FCGI = BUILD / "test" / "probe.fcgi"

KEY_RE = re.compile(r"^faqsure_sk_[A-Za-z0-9]{43}$")
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class SkipTest(Exception):
    """Raised when a prerequisite of a test is truly absent."""


# ---------------------------------------------------------------------------------------------------------------
# Assertions that print both values.

def eq(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def expect_error(resp, status, code, field=None):
    """Asserts an error response: status, {"error": code, "message": str}, the message naming field if given."""
    body = resp.json
    eq(resp.status, status, f"status ({resp.describe()})")
    check(isinstance(body, dict), f"error body is not an object: {body!r}")
    eq(body.get("error"), code, f"error code ({resp.describe()})")
    check(isinstance(body.get("message"), str) and body["message"],
          f"error message missing or not a non-empty string: {body!r}")
    if field is not None:
        check(field in body["message"], f"message should name {field!r}: {body['message']!r}")
    return body


def header_int(resp, name, lo, hi):
    value = resp.headers.get(name)
    check(value is not None, f"missing {name} header ({resp.describe()})")
    check(re.fullmatch(r"-?\d+", value.strip()) is not None, f"{name} is not an integer: {value!r}")
    n = int(value)
    check(lo <= n <= hi, f"{name} = {n}, expected {lo}..{hi}")
    return n


def expect_request_id(resp):
    rid = resp.headers.get("X-Request-Id")
    check(rid is not None, f"missing X-Request-Id ({resp.describe()})")
    check(REQUEST_ID_RE.match(rid) is not None, f"X-Request-Id is not 32 hex characters: {rid!r}")
    return rid


# ---------------------------------------------------------------------------------------------------------------
# HTTP

class Response:
    def __init__(self, status, reason, headers, body, parse_json):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get(), get_all()
        self.body = body
        self.json = None
        if parse_json:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise AssertionError(f"body is not JSON: {self.describe()}") from None

    def describe(self):
        text = self.body[:300].decode("utf-8", "replace")
        return f"HTTP {self.status} {self.reason}, body {text!r}"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_minute(need=10.0):
    """Makes sure at least `need` seconds remain in the current UTC calendar minute (sleeps into the next one)."""
    now = time.time()
    left = 60 - (now % 60)
    if left < need:
        time.sleep(left + 0.5)


def next_minute():
    """Sleeps until just after the start of the next UTC calendar minute."""
    now = time.time()
    time.sleep(60 - (now % 60) + 0.5)


def wait_for(fn, what, seconds=5.0, interval=0.1):
    """Polls fn() until it returns something truthy (returned) or `seconds` pass (fails with `what` and the last
    value). For things the server does asynchronously (usage events), never a fixed sleep."""
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value or time.time() >= deadline:
            break
        time.sleep(interval)
    check(value, f"{what} (after {seconds} s; last: {value!r})")
    return value


def sql_quote(value):
    """A SQL string literal (for the test's own values: ids, names)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def _free_port_other_than(*busy):
    while True:
        port = _free_port()
        if port not in busy:
            return port


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def random_key():
    alphabet = string.ascii_letters + string.digits
    return "faqsure_sk_" + "".join(secrets.choice(alphabet) for _ in range(43))


# FAQSURE_IT_VECTOR=qdrant runs the stack's searches on the Qdrant stand-in instead of the embedded store
# (test/run.sh runs the search tests a second time so); its OpenAPI spec must be at one of these.
QDRANT_SPECS = (ROOT.parent / "shared" / "qdrant" / "openapi-1.19.json",
                Path("/work/shared/qdrant/openapi-1.19.json"))


class Stack:
    def __init__(self, web=None):
        """web: "apache" or "lighttpd" (stack.sh's FAQSURE_WEB); None leaves it to the environment (Apache by
        default)."""
        self.web = web
        self.vardir = None
        self.port = None
        self.started = False
        self.log = ""
        self.extra_config = ""
        self.qdrant = None  # the stand-in's process in FAQSURE_IT_VECTOR=qdrant mode

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env.update(VARDIR=str(self.vardir), PORT=str(self.port), BUILDDIR=str(BUILD))
        if PROBE_FCGI.exists():
            env["EXTRA_FCGI"] = f"/api/v1/probe={PROBE_FCGI}"
        if self.extra_config:
            env["FAQSURE_EXTRA_CONFIG"] = self.extra_config
        if self.web is not None:
            env["FAQSURE_WEB"] = self.web
        return env

    @property
    def web_server(self):
        """The web server this stack runs on: "apache" or "lighttpd"."""
        return self.web or os.environ.get("FAQSURE_WEB") or "apache"

    @property
    def config_path(self):
        return self.vardir / "faqsure.conf"

    def start(self):
        for p in (STACK_SH, CTL, DOCUMENTS_FCGI, KEYS_FCGI):
            if not p.exists():
                raise AssertionError(f"{p} is missing (run make first)")
        if os.environ.get("FAQSURE_IT_VECTOR") == "qdrant":
            if not any(p.exists() for p in QDRANT_SPECS) and not os.environ.get("QDRANT_OPENAPI"):
                raise SkipTest(f"Qdrant's OpenAPI spec is not at {QDRANT_SPECS[0]} (or $QDRANT_OPENAPI)")
            from standins import start_standin
            self.qdrant, qport = start_standin("qdrant_standin.py")
            self.extra_config = (f"[vector]\nbackend = qdrant\nqdrant_url = http://127.0.0.1:{qport}\n"
                                 f"qdrant_collection = faqsure_it\n")
        self.vardir = Path(tempfile.mkdtemp(prefix="faqsure-it-", dir="/tmp"))
        os.chmod(self.vardir, 0o755)
        self.port = _free_port()
        self.started = True  # from here on, stop() must run
        r = self.stack_sh("start", timeout=180)
        if r.returncode != 0:
            raise AssertionError(f"stack.sh start exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        check(self.config_path.exists(), f"stack.sh start did not write {self.config_path}")
        deadline = time.time() + 20
        last = None
        while time.time() < deadline:
            try:
                last = self.request("GET", "/api/v1/health", parse_json=False, timeout=5)
                if last.status == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.3)
        raise AssertionError(f"stack did not become healthy: {last if isinstance(last, OSError) else last.describe()}")

    def stop(self, keep=False):
        from standins import stop_standin
        for proc in getattr(self, "standins", []):  # stand-ins a test started for this stack
            stop_standin(proc)
        self.standins = []
        if self.qdrant is not None:
            from standins import stop_standin
            stop_standin(self.qdrant)
            self.qdrant = None
        if not self.started:
            return
        self.started = False
        try:
            r = self.stack_sh("stop", timeout=120)
            if r.returncode != 0:
                print(f"warning: stack.sh stop exited {r.returncode}: {r.stderr.strip()}", flush=True)
        except subprocess.TimeoutExpired:
            print("warning: stack.sh stop timed out", flush=True)
        self.sanitizer_reports = self.find_sanitizer_reports()
        if keep:
            print(f"stack dir kept: {self.vardir}", flush=True)
        else:
            shutil.rmtree(self.vardir, ignore_errors=True)

    def stack_sh(self, action, timeout=120):
        return subprocess.run(["bash", str(STACK_SH), action], env=self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def find_sanitizer_reports(self):
        """Lines of AddressSanitizer/UBSan/LeakSanitizer reports the programs wrote to the web server's log
        (FastCGI children report at exit, so read this after the stack stopped)."""
        found = []
        logs = []
        if self.vardir and self.vardir.exists():
            logs = sorted(self.vardir.rglob("apache-error.log")) + sorted(self.vardir.rglob("lighttpd-error.log"))
        for p in logs:
            for line in p.read_bytes().decode("utf-8", "replace").splitlines():
                if "Sanitizer" in line or "runtime error:" in line:
                    found.append(line)
        return found

    def log_tails(self, lines=25):
        """The last lines of every *.log file under the stack dir, for failure reports."""
        out = []
        if not self.vardir or not self.vardir.exists():
            return ""
        for p in sorted(self.vardir.rglob("*.log")):
            if "install" in p.name:
                continue
            try:
                text = p.read_bytes().decode("utf-8").splitlines()[-lines:]
            except (OSError, UnicodeDecodeError):  # e.g. MariaDB's binary ddl_recovery.log
                continue
            if not text:
                continue
            out.append(f"--- {p}\n" + "\n".join(text))
        return "\n".join(out)

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def request(self, method, path, key=None, body=None, headers=None, parse_json=True, timeout=15):
        """One request on a fresh connection. body: dict/list → JSON, bytes/str → sent as is.
        Never follows redirects. Fails the test if the body is not JSON (unless parse_json=False)."""
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["X-API-Key"] = key
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else (
                body.encode() if isinstance(body, str) else json.dumps(body).encode())
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            if data:
                try:
                    for i in range(0, len(data), 65536):
                        conn.send(data[i:i + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer (e.g. 413) before reading everything; read its answer below
            resp = conn.getresponse()
            return Response(resp.status, resp.reason, resp.headers, resp.read(), parse_json)
        finally:
            conn.close()

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key=key, **kw)

    def post(self, path, body, key=None, **kw):
        return self.request("POST", path, key=key, body=body, **kw)

    def delete(self, path, key=None, **kw):
        return self.request("DELETE", path, key=key, **kw)

    def head(self, path, key=None, **kw):
        return self.request("HEAD", path, key=key, parse_json=False, **kw)

    def sse(self, path, body=None, key=None, headers=None, method="POST", timeout=30):
        """Opens a server-sent-events request (sse.SSEStream): read .status/.headers, then .next_event() or
        iterate; each event has .name, .data (parsed JSON), .arrived (time.monotonic()). Use it in a with block."""
        from sse import SSEStream
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["X-API-Key"] = key
        return SSEStream("127.0.0.1", self.port, path, body=body, headers=hdrs, method=method, timeout=timeout)

    def raw(self, method, path, headers=None, timeout=15):
        """One request over a plain socket with Connection: close; returns every byte the server sent, so a body
        that a client library would drop (after a HEAD) is visible."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    return b"".join(chunks)
                chunks.append(data)

    # -- faqsurectl ---------------------------------------------------------------------------------------------
    def ctl(self, *args, config=None, check_rc=True, timeout=30):
        env = dict(os.environ)
        env["FAQSURE_CONFIG"] = str(config or self.config_path)
        r = subprocess.run([str(CTL), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check_rc and r.returncode != 0:
            raise AssertionError(f"faqsurectl {' '.join(map(str, args))} exited {r.returncode}: "
                                 f"stdout {r.stdout!r} stderr {r.stderr!r}")
        return r

    def new_account(self, prefix="acct", balance=None, unlimited=False):
        name = unique(prefix)
        args = ["account", "create", name]
        if balance is not None:
            args += ["--balance", balance]
        if unlimited:
            args.append("--unlimited")
        self.ctl(*args)
        return name

    def new_key(self, account, name="k", per_minute=None, per_hour=None, expires=None, scope=None):
        """Creates a key with faqsurectl and returns the secret (the last line of stdout)."""
        args = ["key", "create", "--account", account, "--name", name]
        if per_minute is not None:
            args += ["--per-minute", per_minute]
        if per_hour is not None:
            args += ["--per-hour", per_hour]
        if expires is not None:
            args += ["--expires", expires]
        if scope is not None:
            args += ["--scope", scope]
        r = self.ctl(*args)
        lines = r.stdout.rstrip("\n").split("\n")
        key = lines[-1]
        check(KEY_RE.match(key) is not None, f"key create: last line is not a key: {r.stdout!r}")
        return key

    def account_with_key(self, prefix="acct", **kw):
        account = self.new_account(prefix)
        return account, self.new_key(account, **kw)

    # -- CGI mode -----------------------------------------------------------------------------------------------
    def cgi(self, program, method, uri, key=None, body=b"", extra_env=None, timeout=20):
        """Runs a FastCGI program as plain CGI for one request. Returns (status, headers dict lower-cased, raw body,
        exit code)."""
        path, _, query = uri.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": method,
            "REQUEST_URI": uri,
            "SCRIPT_NAME": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "FAQSURE_CONFIG": str(self.config_path),
        }
        if body:
            env["CONTENT_TYPE"] = "application/json"
        if key is not None:
            env["HTTP_X_API_KEY"] = key
        env.update(extra_env or {})
        r = subprocess.run([str(program)], env=env, input=body, capture_output=True, timeout=timeout)
        out = r.stdout
        sep = re.search(rb"\r?\n\r?\n", out)
        check(sep is not None, f"CGI output has no header/body separator: {out[:300]!r} stderr {r.stderr[:300]!r}")
        head, payload = out[:sep.start()], out[sep.end():]
        headers = {}
        for line in re.split(rb"\r?\n", head):
            name, colon, value = line.decode("latin-1").partition(":")
            check(colon, f"bad CGI header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        status_line = headers.get("status", "200 OK")
        status = int(status_line.split()[0])
        return status, headers, payload, r.returncode

    # -- database -----------------------------------------------------------------------------------------------
    def db_settings(self):
        cp = configparser.ConfigParser(interpolation=None, strict=False)  # a section may repeat, as FAQSure allows
        cp.read(self.config_path)
        db = cp["database"]
        unq = lambda v: v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v  # noqa: E731
        return {k: unq(db.get(k, d)) for k, d in
                (("socket", ""), ("user", "faqsure"), ("password", ""), ("name", "faqsure"))}

    def _db_args(self, tool):
        s = self.db_settings()
        check(s["socket"], f"no [database] socket in {self.config_path}")
        args = [tool, "--no-defaults", f"--socket={s['socket']}", f"--user={s['user']}"]
        if s["password"]:
            args.append(f"--password={s['password']}")
        return args, s["name"]

    def sql(self, statement):
        args, name = self._db_args("mariadb")
        r = subprocess.run(args + ["--batch", "--binary-as-hex", "-e", statement, name], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 0, f"mariadb failed: {r.stderr.decode(errors='replace')}")
        return r.stdout

    def query(self, statement):
        """Rows of a SELECT as lists of str, with SQL NULL as None."""
        out = self.sql(statement.rstrip().rstrip(";") + ";").decode("utf-8")
        lines = out.split("\n")[1:]  # the first line names the columns
        esc = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\0": "\0"}
        unesc = lambda v: re.sub(r"\\[\\tn0]", lambda m: esc[m.group(0)], v)  # noqa: E731
        return [[None if v == "NULL" else unesc(v) for v in line.split("\t")] for line in lines if line]

    def key_id(self, key):
        """The id of an API key, found by its SHA-256 as the server does."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        rows = self.query(f"SELECT id FROM api_keys WHERE key_hash = UNHEX('{digest}')")
        eq(len(rows), 1, "api_keys rows with the key's hash")
        return rows[0][0]

    def account_id(self, name):
        rows = self.query(f"SELECT id FROM accounts WHERE name = {sql_quote(name)}")
        eq(len(rows), 1, f"accounts named {name!r}")
        return rows[0][0]

    def dump(self, tables=()):
        args, name = self._db_args("mariadb-dump")
        r = subprocess.run(args + ["--skip-extended-insert", name, *tables], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0, f"mariadb-dump failed: {r.stderr.decode(errors='replace')}")
        return r.stdout


    # -- documents: uploads, their rows, the ingestion worker ---------------------------------------------------
    def upload(self, key, data, filename="doc.txt", metadata=None, file_type="application/octet-stream",
               extra_parts=(), timeout=60):
        """POST /api/v1/documents/upload with a `file` part (and a `metadata` part when metadata is not None: a
        dict is sent as JSON, str/bytes as is). extra_parts: more (name, value, filename, content_type)."""
        parts = [("file", data, filename, file_type)] if data is not None else []
        if metadata is not None:
            parts.append(("metadata", json.dumps(metadata) if isinstance(metadata, (dict, list)) else metadata,
                          None, None))
        parts.extend(extra_parts)
        body, ctype = multipart(parts)
        return self.request("POST", UPLOAD, key=key, body=body, headers={"Content-Type": ctype}, timeout=timeout)

    def upload_ok(self, key, data, filename, metadata=None):
        """An upload that must be accepted as a new document: checks the exact answer, returns the id."""
        r = self.upload(key, data, filename, metadata=metadata)
        eq(r.status, 200, f"upload of {filename} ({r.describe()})")
        check(isinstance(r.json, dict) and UUID_RE.match(str(r.json.get("id"))) is not None,
              f"upload of {filename}: no UUID id in {r.json!r}")
        eq(r.json, {"id": r.json["id"], "filename": Path(filename.replace("\\", "/")).name,
                    "status": "processing"}, f"answer to the upload of {filename}")
        return r.json["id"]

    def doc_states(self, ids):
        """{id: (status, error)} from the database, for those of ids that still exist."""
        if not ids:
            return {}
        rows = self.query(f"SELECT id, status, error FROM documents WHERE id IN ({', '.join(map(sql_quote, ids))})")
        return {i: (st, err) for i, st, err in rows}

    def wait_processed(self, ids, seconds=30.0):
        """Polls the database until none of ids is 'processing' (the worker decided each: ready, failed, or
        deleted); returns {id: (status, error)} of those that exist. Fails naming the ones still processing."""
        ids = list(ids)
        state = {}

        def done():
            state["s"] = self.doc_states(ids)
            return all(v[0] != "processing" for v in state["s"].values())

        try:
            wait_for(done, "documents processed", seconds, interval=0.25)
        except AssertionError:
            stuck = [i for i, v in state.get("s", {}).items() if v[0] == "processing"]
            raise AssertionError(f"{len(stuck)} of {len(ids)} documents still processing after {seconds} s "
                                 f"(daemon worker pid {self.worker_pid()}): {stuck}; worker.log ends:\n"
                                 f"{self.worker_log_tail()}") from None
        return state["s"]

    def worker_log_tail(self, lines=5):
        p = self.vardir / "log" / "worker.log"
        try:
            return "\n".join(p.read_bytes().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no worker.log)"

    def document(self, key, doc_id):
        """GET /api/v1/documents/{id}: the object, after checking it is a 200."""
        r = self.get(f"{DOCS}/{doc_id}", key=key)
        eq(r.status, 200, f"GET {DOCS}/{doc_id} ({r.describe()})")
        return r.json

    def wait_document(self, key, doc_id, status, seconds=30.0):
        """Waits until the worker decided doc_id, then checks through the API that it has `status`."""
        self.wait_processed([doc_id], seconds)
        doc = self.document(key, doc_id)
        check(doc.get("status") == status,
              f"document {doc_id} ({doc.get('filename')}): status {doc.get('status')!r}, expected {status!r} "
              f"(error {doc.get('error')!r})")
        return doc

    def chunks(self, doc_id):
        """The chunk rows of a document in order: dicts with seq, text, section, page, metadata (parsed)."""
        rows = self.query(f"SELECT seq, text, section, page, metadata, tokens FROM chunks "
                          f"WHERE document_id = {sql_quote(doc_id)} ORDER BY seq")
        out = []
        for seq, text, section, page, meta, tokens in rows:
            out.append({"seq": int(seq), "text": text, "section": section,
                        "page": None if page is None else int(page), "metadata": json.loads(meta),
                        "tokens": int(tokens)})
        return out

    @contextlib.contextmanager
    def holding_row(self, table, row_id, seconds=10):
        """Locks one row (SELECT … FOR UPDATE) in a transaction of a session of its own and keeps it locked inside
        the block: the session waits for its next statement meanwhile (no timer), and ends with the block, its
        transaction rolled back."""
        args, name = self._db_args("mariadb")
        lock = f"SELECT id FROM {table} WHERE id = {sql_quote(row_id)} FOR UPDATE"
        p = subprocess.Popen(args + ["--batch", "--skip-column-names", name], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            p.stdin.write(f"BEGIN;\n{lock};\nDO 0;\nDO 0;\n")
            p.stdin.flush()

            def held():  # another session cannot lock the row without waiting
                if p.poll() is not None:
                    raise AssertionError(f"the locking session ended: {p.stderr.read()!r}")
                return self.query(lock + " SKIP LOCKED") == []

            wait_for(held, f"{table} row {row_id} locked by a session of the test", seconds, interval=0.1)
            yield
        finally:
            p.stdin.close()  # the client quits: its transaction is rolled back, the lock goes
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def count_rows(self, table, where):
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0][0])

    def account_docs(self, account):
        """The number of documents (rows) of an account."""
        return self.count_rows("documents", f"account_id = {sql_quote(self.account_id(account))}")

    def docs_key(self, prefix="docs", **kw):
        """A fresh account and a key with room for polling and many uploads."""
        account = self.new_account(prefix, **kw)
        return account, self.new_key(account, per_minute=10000, per_hour=1000000)

    def config_copy(self, extra):
        """A copy of the stack's configuration with `extra` (INI text) appended, in a temp dir; the caller
        removes path.parent."""
        tmp = Path(tempfile.mkdtemp(prefix="faqsure-conf-", dir="/tmp"))
        os.chmod(tmp, 0o755)
        conf = tmp / "faqsure.conf"
        conf.write_text(self.config_path.read_text().rstrip("\n") + "\n\n" + extra.strip("\n") + "\n")
        return conf

    # The daemon worker stack.sh starts (pid in RUN/worker.pid, RUN as stack.sh chooses it).
    @property
    def run_dir(self):
        own = self.vardir / "run"
        if own.is_dir():
            return own
        return Path("/tmp/faqsure-run-" + hashlib.sha256(str(self.vardir).encode()).hexdigest()[:16])

    def worker_pid(self):
        """The daemon worker's pid when it is alive, else None."""
        try:
            pid = int((self.run_dir / "worker.pid").read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def stop_worker(self, seconds=60):
        """Stops the daemon worker with SIGTERM (it finishes the document in hand) and waits until it is gone."""
        pid = self.worker_pid()
        if pid is None:
            return
        os.kill(pid, 15)
        wait_for(lambda: not _alive(pid), f"the daemon worker (pid {pid}) stops on SIGTERM", seconds)
        (self.run_dir / "worker.pid").unlink(missing_ok=True)

    def start_worker(self):
        """Starts the daemon worker as stack.sh does (detached, its pid in RUN/worker.pid, log in worker.log)."""
        if self.worker_pid() is not None:
            return
        log = self.vardir / "log" / "worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["bash", "-c", 'FAQSURE_CONFIG="$1" setsid "$0" worker </dev/null >>"$2" 2>&1 & '
                        'echo $! >"$3"', str(CTL), str(self.config_path), str(log),
                        str(self.run_dir / "worker.pid")], check=True, timeout=10)
        check(self.worker_pid() is not None, "the daemon worker did not start again")

    def worker_once(self, config=None, timeout=120):
        """`faqsurectl worker --once`: drains the queue; returns the CompletedProcess."""
        return self.ctl("worker", "--once", config=config, timeout=timeout)


class paused_worker:
    """with paused_worker(s): the daemon worker is stopped inside the block (queued documents stay queued, so a
    test can see them processing, or hand them to workers of its own) and started again after it."""

    def __init__(self, s):
        self.s = s

    def __enter__(self):
        self.s.stop_worker()
        return self.s

    def __exit__(self, *exc):
        self.s.start_worker()
        return False


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


DOCS = "/api/v1/documents"
UPLOAD = "/api/v1/documents/upload"
DATA = ROOT / "test" / "data"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def multipart(parts, boundary=None):
    """A multipart/form-data body: parts are (name, value bytes|str, filename or None, content_type or None).
    Returns (body, content_type)."""
    boundary = boundary or "----faqsure" + secrets.token_hex(12)
    out = []
    for name, value, filename, ctype in parts:
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out.append(head.encode() + b"\r\n")
        out.append(value.encode() if isinstance(value, str) else bytes(value))
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


# The one stack of a run; started on first use, stopped by run.py.
_stack = None
_stack_error = None


def stack():
    global _stack, _stack_error
    if _stack_error is not None:
        raise AssertionError(f"stack did not start: {_stack_error}")
    if _stack is None:
        _stack = Stack()
        try:
            _stack.start()
        except SkipTest as e:  # every test of this run skips for the same reason
            _stack = None
            raise
        except Exception as e:  # remembered, so every later test fails fast with the same reason
            _stack_error = f"{e}\n{_stack.log_tails()}"
            raise
    return _stack


# Stacks on a given web server (web_stack), besides the one of stack(); stopped with it by stop_stack.
_web_stacks = {}
_web_stack_errors = {}


def web_stack(web):
    """A stack on the web server `web` ("apache" or "lighttpd"): the one of stack() when that runs on it, else one
    of its own, started on first use and stopped by stop_stack."""
    if _stack is not None and _stack.web_server == web:
        return _stack
    if _stack is None and (os.environ.get("FAQSURE_WEB") or "apache") == web:
        return stack()
    if web in _web_stack_errors:
        raise AssertionError(f"the {web} stack did not start: {_web_stack_errors[web]}")
    if web not in _web_stacks:
        s = Stack(web=web)
        _web_stacks[web] = s
        try:
            s.start()
        except SkipTest:
            raise
        except Exception as e:
            _web_stack_errors[web] = f"{e}\n{s.log_tails()}"
            raise AssertionError(_web_stack_errors[web]) from None
    return _web_stacks[web]


def stop_stack(keep=False):
    global _stack
    reports = []
    stopped = list(_web_stacks.values())
    for s in stopped:
        s.stop(keep=keep)
        reports += getattr(s, "sanitizer_reports", [])
    _web_stacks.clear()
    if _stack is not None:
        _stack.stop(keep=keep)
        _stack.sanitizer_reports = getattr(_stack, "sanitizer_reports", []) + reports
    elif stopped:  # run.py reads the sanitizer reports from harness._stack after this
        _stack = stopped[0]
        _stack.sanitizer_reports = reports
