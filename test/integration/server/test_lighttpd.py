# FAQSure behind lighttpd (mod_fastcgi, vendor-config/lighttpd.conf) on a stack of its own: health, keys, documents,
# an upload through to search, JSON for every error lighttpd answers itself; the sse.py reader on its own against
# a scripted server; and server-sent events streamed, not buffered, through both Apache (mod_fcgid) and lighttpd.
import functools
import os
import pwd
import shutil
import socket
import threading
import time
from pathlib import Path

import harness
from harness import PROBE_FCGI, check, eq, expect_error, expect_healthy, expect_request_id, web_stack
from sse import SSEStream

HEALTH = "/api/v1/health"
DOCS = "/api/v1/documents"
KEYS = "/api/v1/keys"
SEARCH = "/api/v1/search"
STREAM = "/api/v1/probe/stream"
LIGHTTPD_CAP = 26624 * 1024  # server.max-request-size in vendor-config/lighttpd.conf (KiB)


def lt():
    if not shutil.which("lighttpd", path=os.environ.get("PATH", "") + ":/usr/sbin"):
        raise harness.SkipTest("lighttpd is not installed (make deps installs it)")
    s = web_stack("lighttpd")
    eq(s.web_server, "lighttpd", "web server of the stack")
    return s


def with_logs(fn):
    """On failure, adds the end of the lighttpd stack's logs (run.py prints those of the main stack only)."""
    @functools.wraps(fn)
    def wrapper():
        try:
            fn()
        except AssertionError as e:
            s = harness.kept_stack("lighttpd")
            if s is None or not s.started:
                raise
            raise AssertionError(f"{e}\n--- lighttpd stack logs ---\n{s.log_tails(15)}") from None
    return wrapper


def expect_json_error(r, status, code, what):
    """An answer lighttpd wrote itself: the JSON page of vendor-config/errors, as JSON."""
    eq(r.status, status, f"{what}: status ({r.describe()})")
    check(r.headers.get("Content-Type", "").startswith("application/json"),
          f"{what}: Content-Type {r.headers.get('Content-Type')!r} ({r.describe()})")
    check(isinstance(r.json, dict) and r.json.get("error") == code and isinstance(r.json.get("message"), str),
          f"{what}: body {r.json!r}, expected error {code!r} and a message")


# ---- the product behind lighttpd ---------------------------------------------------------------------------------

@with_logs
def test_lighttpd_health_without_key():
    s = lt()
    r = s.get(HEALTH)
    expect_healthy(r, "health behind lighttpd")
    check(r.headers.get("Content-Type", "").startswith("application/json"), f"Content-Type {r.headers}")
    expect_request_id(r)
    check("lighttpd" in r.headers.get("Server", ""), f"not served by lighttpd: Server {r.headers.get('Server')!r}")


@with_logs
def test_lighttpd_programs_run_as_www_data():
    s = lt()
    uid = pwd.getpwnam("www-data").pw_uid
    bindir = str(s.run_dir / "bin") + "/"
    seen = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            exe = os.readlink(proc / "exe")
            status = (proc / "status").read_text()
        except OSError:
            continue
        if exe.startswith(bindir):
            real_uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
            seen.setdefault(Path(exe).name, set()).add(real_uid)
    for prog in ("documents.fcgi", "keys.fcgi", "search.fcgi"):
        check(prog in seen, f"no {prog} process runs from {bindir}: {sorted(seen)}")
    eq({p: u for p, u in seen.items() if u != {uid}}, {}, f"programs not running as www-data (uid {uid})")
    server_pid = int((s.run_dir / "lighttpd.pid").read_text())
    eq(os.stat(f"/proc/{server_pid}").st_uid, uid, "uid of lighttpd after start")


@with_logs
def test_lighttpd_401_json_without_key():
    s = lt()
    for method, path in [("GET", DOCS), ("GET", KEYS), ("POST", SEARCH)]:
        r = s.request(method, path, body={"query": "x"} if method == "POST" else None)
        expect_error(r, 401, "invalid_api_key")
        expect_request_id(r)


@with_logs
def test_lighttpd_documents_list_with_key():
    s = lt()
    _, key = s.docs_key("lt-list")
    r = s.get(DOCS, key=key)  # X-API-Key reaches the program as HTTP_X_API_KEY
    eq(r.status, 200, f"status ({r.describe()})")
    eq((r.json.get("documents"), r.json.get("count"), r.json.get("has_more")), ([], 0, False), "empty list")
    check(r.headers.get("X-RateLimit-Limit") is not None, "no X-RateLimit-Limit on a keyed answer")


@with_logs
def test_lighttpd_upload_becomes_ready_and_search_finds_it():
    s = lt()
    _, key = s.docs_key("lt-upload")
    text = (b"Northern lights tours\n\nThe aurora borealis is best seen from late September to March, on clear "
            b"nights far from city lights. Our guided aurora tours leave Tromso at 8 pm and return around 1 am; "
            b"warm suits and hot drinks are included in the price.\n")
    doc_id = s.upload_ok(key, text, "aurora.txt")
    s.wait_document(key, doc_id, "ready")
    r = s.post(SEARCH, {"query": "When can I see the aurora borealis?", "top_k": 3, "similarity_threshold": 0},
               key=key)
    eq(r.status, 200, f"search ({r.describe()})")
    check(r.json["results"] and r.json["results"][0]["document_id"] == doc_id,
          f"the search did not find the uploaded document first: {r.json!r}")
    eq(r.json["results"][0]["document_filename"], "aurora.txt", "filename of the best result")


@with_logs
def test_lighttpd_unknown_api_paths_json_404():
    s = lt()
    _, key = s.docs_key("lt-404")
    bad = []
    for path in ["/api/v1/nope", "/api/v1/documentsx", "/api/v1/keys/a/b", "/api/v1", "/api/", "/api",
                 "/api/v2/documents", "/api/v1/chat/nothing-here", "/api/v1/analytics/nothing-here"]:
        try:
            r = s.get(path, key=key)
            expect_error(r, 404, "not_found")
            expect_request_id(r)  # the program's answer, not lighttpd's
        except AssertionError as e:
            bad.append(f"GET {path}: {e}")
    check(not bad, "\n".join(bad))


@with_logs
def test_lighttpd_own_answers_are_json():
    """What lighttpd answers itself, without a program: paths outside /api, traversal, headers too large."""
    s = lt()
    for path, status, code in [("/nothing", 404, "not_found"), ("/api/v1/../../../../etc/passwd", 404, "not_found"),
                               ("/", 403, "forbidden")]:
        r = s.get(path)  # fails unless the body is JSON
        expect_json_error(r, status, code, f"GET {path}")
        check(b"root:" not in r.body, f"GET {path}: looks like /etc/passwd")
    r = s.request("GET", DOCS, headers={"X-Filler": "y" * 9000}, parse_json=True)
    expect_json_error(r, 431, "invalid_request", "a 9000-byte header")


@with_logs
def test_lighttpd_body_over_limits_json_413():
    s = lt()
    account, key = s.docs_key("lt-413")
    admin = s.new_key(s.new_account("lt-413-admin"), scope="admin", per_minute=1000)
    # FAQSure's own cap on JSON bodies (1 MiB): lighttpd passes the body on, the program answers.
    r = s.post(KEYS, b'{"name": "big", "pad": "' + b"x" * (1 << 20) + b'"}', key=admin, timeout=30)
    expect_error(r, 413, "file_too_large")
    expect_request_id(r)
    # An upload one byte over [upload] max_bytes (25,000,000) is below lighttpd's cap: FAQSure answers.
    line = b"The quick brown fox jumps over the lazy dog again and again.\n"
    big = (line * (25_000_001 // len(line) + 1))[:25_000_001]
    r = s.upload(key, big, "huge.txt", timeout=60)
    expect_error(r, 413, "file_too_large")
    check(r.headers.get("X-RateLimit-Limit") is not None,
          "the 413 for 25,000,001 bytes is not FAQSure's own (no X-RateLimit-* headers): lighttpd refused it")
    # A body announced over server.max-request-size: lighttpd refuses it from the headers, with the JSON page.
    with SSEStream("127.0.0.1", s.port, "/api/v1/documents/upload", method="POST", timeout=15,
                   headers={"X-API-Key": key, "Content-Type": "multipart/form-data; boundary=x",
                            "Content-Length": str(LIGHTTPD_CAP + 1)}) as st:
        body = st.json()
        eq(st.status, 413, f"status for a body of {LIGHTTPD_CAP + 1} bytes ({body!r})")
        check(st.headers.get("content-type", "").startswith("application/json"), f"Content-Type {st.headers}")
        eq(body.get("error"), "file_too_large", f"error code ({body!r})")
    eq(s.account_docs(account), 0, "documents after refused uploads")


# ---- sse.py on its own, against a scripted server ------------------------------------------------------------------

def _scripted_server(script):
    """A one-connection HTTP server on loopback: reads the request, then runs script(conn, sent) where sent is a
    list the script appends (label, time.monotonic()) to before each send. Returns (port, thread, state)."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    state = {"sent": [], "request": b"", "error": None}

    def run():
        try:
            conn, _ = lsock.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                while len(rest) < length:
                    rest += conn.recv(65536)
                state["request"] = head + b"\r\n\r\n" + rest
                script(conn, state["sent"])
        except Exception as e:  # reported by the test
            state["error"] = e
        finally:
            lsock.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lsock.getsockname()[1], t, state


# Three events, cut at awkward places: an event split across sends, CRLF and CR line ends, a comment, a two-line
# data field, an event without a name, a field without a space after the colon.
EVENT_PIECES = [
    (None, b": a comment first\r\n\r\nevent: first\r\nda"),
    ("first", b'ta: {"n": 1}\r\n\r\n'),
    ("second", b"event: second\ndata: line one\ndata: line two\n\n"),
    ("third", b'id: 7\rdata:{"n": 3}\r\r'),
]


def _send_events(conn, sent, framing):
    pieces = [p for _, p in EVENT_PIECES]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    if framing == "chunked":
        conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
    elif framing == "content-length":
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % sum(map(len, pieces)))
    else:
        conn.sendall(head + b"Connection: close\r\n\r\n")
    for (label, piece) in EVENT_PIECES:
        if label in ("second", "third"):
            time.sleep(0.25)
        sent.append((label, time.monotonic()))  # before the send: the client may have it before sendall returns
        if framing == "chunked":  # one piece in two chunks, the size line in a send of its own
            half = len(piece) // 2
            conn.sendall(b"%x\r\n" % half)
            conn.sendall(piece[:half] + b"\r\n" + b"%X; ext=1\r\n" % (len(piece) - half) + piece[half:] + b"\r\n")
        else:
            conn.sendall(piece)
    if framing == "chunked":
        conn.sendall(b"0\r\nX-Trailer: yes\r\n\r\n")


def test_sse_reader_against_scripted_server():
    for framing in ("chunked", "content-length", "close"):
        port, thread, state = _scripted_server(lambda conn, sent, f=framing: _send_events(conn, sent, f))
        with SSEStream("127.0.0.1", port, "/events?x=1", body={"message": "hi"},
                       headers={"X-API-Key": "k1"}, timeout=10) as st:
            eq((st.status, st.framing), (200, framing), f"{framing}: status and framing")
            eq(st.headers.get("content-type"), "text/event-stream", f"{framing}: content type")
            events = st.events()
            check(st.next_event() is None, f"{framing}: an event after the end")
        thread.join(10)
        check(state["error"] is None, f"{framing}: scripted server failed: {state['error']!r}")
        req = state["request"]
        check(req.startswith(b"POST /events?x=1 HTTP/1.1\r\n"), f"{framing}: request line {req[:60]!r}")
        for h in (b"\r\nX-API-Key: k1\r\n", b"\r\nContent-Type: application/json\r\n", b"\r\nConnection: close\r\n",
                  b"\r\nContent-Length: 17\r\n"):
            check(h in req, f"{framing}: request lacks {h!r}: {req!r}")
        check(req.endswith(b'\r\n\r\n{"message": "hi"}'), f"{framing}: request body {req[-40:]!r}")
        eq([(e.name, e.data) for e in events],
           [("first", {"n": 1}), ("second", "line one\nline two"), ("message", {"n": 3})], f"{framing}: events")
        eq(events[2].id, "7", f"{framing}: id of the third event")
        sent = dict(state["sent"])
        # Each event is stamped when it arrived: after the server sent it, before the server sent the next one.
        for ev, later in zip(events, ["second", "third", None]):
            check(ev.arrived >= sent[ev.name if ev.name != "message" else "third"],
                  f"{framing}: {ev.name} stamped before it was sent")
            if later:
                check(ev.arrived < sent[later], f"{framing}: {ev.name} arrived only after {later} was sent: "
                                                f"read at the end, not as it came")


# ---- streaming through the web servers ---------------------------------------------------------------------------

COUNT, INTERVAL = 5, 0.3
MAX_LAG = 0.25  # seconds between an event's writing (its mono_ms) and its arrival; buffering shows as the whole run


def _stream_through(s):
    if not PROBE_FCGI.exists():
        raise harness.SkipTest(f"{PROBE_FCGI} is missing")
    _, key = s.account_with_key(per_minute=1000)
    with s.sse(STREAM, {"count": COUNT, "interval_ms": int(INTERVAL * 1000)}, key=key, timeout=20) as st:
        if st.status != 200:
            raise AssertionError(f"{s.web_server}: status {st.status}: {st.read_body()[:300]!r}")
        check(st.headers.get("content-type", "").startswith("text/event-stream"), f"headers {st.headers}")
        check(st.headers.get("x-request-id"), f"{s.web_server}: no X-Request-Id on the stream")
        events = st.events()
    web = s.web_server
    eq([e.name for e in events], ["tick"] * COUNT + ["done"], f"{web}: event names")
    ticks = events[:COUNT]
    eq([e.data["seq"] for e in ticks], list(range(1, COUNT + 1)), f"{web}: tick order")
    lags = [round(e.arrived - e.data["mono_ms"] / 1000, 3) for e in events]
    check(max(lags) < MAX_LAG, f"{web}: events arrived {lags} s after they were written (buffered?)")
    last_written = ticks[-1].data["mono_ms"] / 1000
    check(ticks[0].arrived < last_written - (COUNT - 2) * INTERVAL,
          f"{web}: the first event arrived {ticks[0].arrived - last_written:+.3f} s from the writing of the last")
    gaps = [round(b.arrived - a.arrived, 3) for a, b in zip(ticks, ticks[1:])]
    check(min(gaps) > INTERVAL / 2, f"{web}: gaps between arrivals {gaps} (events were written {INTERVAL} s apart)")


@with_logs
def test_sse_streams_through_apache_and_lighttpd():
    """Events leave the program one by one (FCGX_FFlush) and must reach the client one by one through both web
    servers: Apache mod_fcgid with FcgidOutputBufferSize 0, lighttpd with server.stream-response-body = 2."""
    _stream_through(web_stack("apache"))
    _stream_through(lt())


@with_logs
def test_sse_refused_before_the_stream_is_json():
    """A request the stream route refuses (bad body) is an ordinary JSON error, read through the same helper."""
    for s in (web_stack("apache"), lt()):
        _, key = s.account_with_key(per_minute=1000)
        with s.sse(STREAM, {"count": 0}, key=key, timeout=10) as st:
            body = st.json()
            eq((st.status, body.get("error")), (400, "invalid_request"), f"{s.web_server}: {body!r}")
            check(st.headers.get("content-type", "").startswith("application/json"), f"headers {st.headers}")
