# Requests to a stack: HTTP on a fresh connection (JSON, multipart, server-sent events, raw bytes), and one
# request to a program run as plain CGI.
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import urllib.parse

from checks import check, eq, expect_error

DOCS = "/api/v1/documents"
UPLOAD = "/api/v1/documents/upload"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# Every response the suite receives through request() and sse(), in order, for server/test_openapi.py to check
# against the API's OpenAPI description: dicts of method, path (without the query), status, headers (a list of
# (lower-case name, value)), body (bytes), complete (False for a stream closed before its end) and web (the web
# server: "apache" or "lighttpd"). Kept in memory: the run is one process.
RECORDED = []


def record(method, path, status, headers, body, complete=True, web=None):
    RECORDED.append({"method": method.upper(), "path": path.partition("?")[0], "status": status,
                     "headers": [(k.lower(), v) for k, v in headers], "body": bytes(body), "complete": complete,
                     "web": web})


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


def _free_port_other_than(*busy):
    while True:
        port = _free_port()
        if port not in busy:
            return port



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


class HttpClient:
    """What a stack offers to send requests; needs self.port and self.config_path."""

    def refuses_each(self, path, cases, key, method="POST"):
        """Sends each (body, field) of cases and expects 400 invalid_request naming field; fails once, listing
        every body that was not refused so."""
        bad = []
        for body, field in cases:
            r = self.request(method, path, key=key, body=body)
            try:
                expect_error(r, 400, "invalid_request", field)
            except AssertionError as e:
                bad.append(f"{body!r}: {e}")
        check(not bad, f"{len(bad)} of {len(cases)} invalid bodies not refused properly:\n" + "\n".join(bad))

    def pages(self, path, key, name, limit=None, query=None, most=50):
        """Walks a list endpoint (?limit, ?cursor, and query's other parameters) to its last page, checking every
        page's shape: exactly {name, "count", "has_more", "next_cursor"}, count = len(items), a next_cursor
        exactly when has_more, none on the last page. Returns (the items in order, each page's size)."""
        items, sizes, cursor = [], [], None
        while True:
            params = dict(query or {})
            if limit:
                params["limit"] = limit
            if cursor:
                params["cursor"] = cursor
            r = self.get(path + ("?" + urllib.parse.urlencode(params) if params else ""), key=key)
            eq(r.status, 200, f"GET {path}, page {len(sizes) + 1} ({r.describe()})")
            body = r.json
            eq(sorted(body), sorted([name, "count", "has_more", "next_cursor"]), f"fields of the {name} list")
            eq(body["count"], len(body[name]), f"count of page {len(sizes) + 1}")
            items += body[name]
            sizes.append(len(body[name]))
            check(len(sizes) < most, f"the {name} list does not end after {most} pages")
            if not body["has_more"]:
                eq(body["next_cursor"], None, "next_cursor on the last page")
                return items, sizes
            check(isinstance(body["next_cursor"], str) and body["next_cursor"],
                  f"next_cursor with has_more: {body['next_cursor']!r}")
            cursor = body["next_cursor"]

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
            data = resp.read()
            record(method, path, resp.status, resp.headers.items(), data, web=getattr(self, "web_server", None))
            return Response(resp.status, resp.reason, resp.headers, data, parse_json)
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
        st = SSEStream("127.0.0.1", self.port, path, body=body, headers=hdrs, method=method, timeout=timeout)
        web = getattr(self, "web_server", None)
        st.on_close = lambda st: record(method, path, st.status, st.header_list, b"".join(st._body_raw),
                                        complete=st._ended, web=web)
        return st

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

