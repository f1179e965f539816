# Server-sent events over a real HTTP/1.1 connection, read one event at a time as the bytes arrive, so a test can
# prove that a response is streamed (each event stamped with the time.monotonic() of the recv that completed it),
# not buffered until the end. Plain sockets: no client library that could buffer or reassemble anything.
#
#   with SSEStream("127.0.0.1", port, "/api/v1/chat", body={"message": "hi"}, headers={"X-API-Key": key}) as st:
#       assert st.status == 200
#       for ev in st:                      # or st.next_event(), None at the end of the stream
#           print(ev.name, ev.data, ev.arrived)
#
# Framing: Transfer-Encoding: chunked, Content-Length, or the connection closing (the request says
# Connection: close). Events follow the WHATWG parsing rules: lines end in LF, CRLF or CR; "event", "data" (lines
# joined with LF), "id" fields; comments (":...") ignored; an event is dispatched at a blank line and only when it
# has data. Event.data is the data parsed as JSON, or the text when it is not JSON.
import codecs
import json
import socket
import time


class Event:
    __slots__ = ("name", "text", "data", "id", "arrived")

    def __init__(self, name, text, event_id, arrived):
        self.name = name          # the "event" field, "message" when there was none
        self.text = text          # the data lines joined with "\n"
        self.id = event_id        # the last "id" field seen on the stream (None if none)
        self.arrived = arrived    # time.monotonic() of the recv that completed the event
        try:
            self.data = json.loads(text)
        except ValueError:
            self.data = text

    def __repr__(self):
        return f"Event({self.name!r}, {self.text[:80]!r}, arrived={self.arrived:.3f})"


class ChunkedDecoder:
    """Incremental Transfer-Encoding: chunked decoder: feed() raw bytes, get body bytes; .done after the last
    chunk and its trailers."""

    def __init__(self):
        self.buf = b""
        self.left = None  # bytes left in the current chunk; None: a size line is due
        self.state = "size"  # size, data, data-crlf, trailers, done
        self.done = False

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            if self.state == "size":
                nl = self.buf.find(b"\r\n")
                if nl < 0:
                    self._check_line()
                    break
                line, self.buf = self.buf[:nl], self.buf[nl + 2:]
                size = line.split(b";", 1)[0].strip()
                try:
                    self.left = int(size, 16)
                except ValueError:
                    raise AssertionError(f"bad chunk size line {line[:80]!r}") from None
                self.state = "data" if self.left else "trailers"
            elif self.state == "data":
                if not self.buf:
                    break
                piece, self.buf = self.buf[:self.left], self.buf[self.left:]
                out.append(piece)
                self.left -= len(piece)
                if self.left == 0:
                    self.state = "data-crlf"
            elif self.state == "data-crlf":
                if len(self.buf) < 2:
                    break
                if self.buf[:2] != b"\r\n":
                    raise AssertionError(f"chunk not followed by CRLF: {self.buf[:20]!r}")
                self.buf = self.buf[2:]
                self.state = "size"
            elif self.state == "trailers":
                nl = self.buf.find(b"\r\n")
                if nl < 0:
                    self._check_line()
                    break
                line, self.buf = self.buf[:nl], self.buf[nl + 2:]
                if not line:
                    self.state = "done"
                    self.done = True
            else:  # done: anything after the last chunk belongs to no body of ours
                break
        return b"".join(out)

    def _check_line(self):
        if len(self.buf) > 8192:
            raise AssertionError(f"chunked framing: no line end in {self.buf[:80]!r}...")


class SSEStream:
    def __init__(self, host, port, path, body=None, headers=None, method="POST", timeout=30.0):
        """Sends the request at once and reads the response head. body: dict/list → JSON, str/bytes as is, None →
        no body. headers: extra request headers (Content-Type defaults to application/json when there is a body).
        timeout: the longest wait for any one read."""
        self.timeout = timeout
        self.method = method.upper()
        hdrs = {"Host": f"{host}:{port}", "Accept": "text/event-stream", "Connection": "close"}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else (
                body.encode() if isinstance(body, str) else json.dumps(body).encode())
            hdrs["Content-Type"] = "application/json"
        for k, v in (headers or {}).items():  # the caller's spelling replaces ours
            for old in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[old]
            hdrs[k] = v
        if (data is not None or self.method in ("POST", "PUT", "PATCH")) and not any(
                h.lower() == "content-length" for h in hdrs):  # a caller's own Content-Length is sent as is
            hdrs["Content-Length"] = str(len(data or b""))
        request = f"{self.method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        self.sent = time.monotonic()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock.sendall(request.encode("latin-1") + (data or b""))
            self._raw = b""  # received, not yet framed
            self._read_head()
        except BaseException:
            self.sock.close()
            raise
        self._text = ""  # decoded body text not yet parsed into lines
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._queue = []  # parsed events not handed out yet
        self._name, self._data, self._id = "", [], None
        self._body_raw = []  # body bytes, for read_body()
        self._ended = False

    # -- the response head --------------------------------------------------------------------------------------
    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"nothing received for {self.timeout} s") from None
        return data, time.monotonic()

    def _read_head(self):
        while True:
            while b"\r\n\r\n" not in self._raw:
                data, _ = self._recv()
                if not data:
                    raise AssertionError(f"connection closed before the response head ended: {self._raw[:300]!r}")
                self._raw += data
                if len(self._raw) > 65536 and b"\r\n\r\n" not in self._raw:
                    raise AssertionError(f"response head too long: {self._raw[:300]!r}")
            head, self._raw = self._raw.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise AssertionError(f"bad status line {lines[0]!r}")
            self.version, self.status, self.reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
            if 100 <= self.status < 200:  # 100 Continue and the like: the real answer follows
                continue
            break
        self.head_arrived = time.monotonic()
        self.header_list = []
        self.headers = {}  # lower-cased names; repeated headers joined with ", "
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise AssertionError(f"bad header line {line!r}")
            name, value = name.strip().lower(), value.strip()
            self.header_list.append((name, value))
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        te = self.headers.get("transfer-encoding", "").lower()
        self._chunked = ChunkedDecoder() if "chunked" in te else None
        self._left = None
        if self._chunked is None and "content-length" in self.headers:
            self._left = int(self.headers["content-length"])
        if self.method == "HEAD" or self.status in (204, 304):
            self._left, self._chunked = 0, None
        self.framing = "chunked" if self._chunked else ("content-length" if self._left is not None else "close")

    # -- the body -----------------------------------------------------------------------------------------------
    def _body_bytes(self, raw):
        """Frames raw bytes: returns the body bytes they hold; sets _ended at the end of the body."""
        if self._chunked is not None:
            out = self._chunked.feed(raw)
            if self._chunked.done:
                self._ended = True
            return out
        if self._left is not None:
            out = raw[:self._left]
            self._left -= len(out)
            if self._left == 0:
                self._ended = True
            return out
        return raw

    def _pump(self):
        """Reads once more from the socket and parses what came. False once the body ended."""
        if self._ended:
            return False
        if self._raw:  # bytes that came with the head
            raw, t, self._raw = self._raw, self.head_arrived, b""
        else:
            if self._left == 0:
                self._ended = True
                return False
            raw, t = self._recv()
            if not raw:
                if self._chunked is not None or (self._left or 0) > 0:
                    raise AssertionError(f"connection closed inside the body ({self.framing})")
                self._ended = True
                self._parse(self._decoder.decode(b"", final=True), t, final=True)
                return False
        body = self._body_bytes(raw)
        self._body_raw.append(body)
        self._parse(self._decoder.decode(body, final=self._ended), t, final=self._ended)
        return True

    def _parse(self, text, arrived, final=False):
        self._text += text
        while True:
            i = min((p for p in (self._text.find("\r"), self._text.find("\n")) if p >= 0), default=-1)
            if i < 0:
                break
            if self._text[i] == "\r" and i + 1 == len(self._text) and not final:
                break  # a CR at the end: an LF may follow in the next read
            line = self._text[:i]
            skip = 2 if self._text.startswith("\r\n", i) else 1
            self._text = self._text[i + skip:]
            self._line(line, arrived)

    def _line(self, line, arrived):
        if line == "":
            if self._data:
                self._queue.append(Event(self._name or "message", "\n".join(self._data), self._id, arrived))
            self._name, self._data = "", []
            return
        if line.startswith(":"):
            return
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value

    def next_event(self):
        """The next event (waiting for it), or None when the stream ended. An event cut off by the end of the
        stream (no blank line after it) is dropped, as browsers do."""
        while not self._queue:
            if not self._pump():
                return self._queue.pop(0) if self._queue else None
        return self._queue.pop(0)

    def __iter__(self):
        while True:
            ev = self.next_event()
            if ev is None:
                return
            yield ev

    def events(self):
        """Every remaining event, until the stream ends."""
        return list(self)

    def read_body(self):
        """The whole body as bytes, after reading what is left of it (for an answer that is not an event stream,
        e.g. a JSON error); events not handed out yet are discarded."""
        while self._pump():
            pass
        self._queue = []
        return b"".join(self._body_raw)

    def json(self):
        body = self.read_body()
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise AssertionError(f"HTTP {self.status}: body is not JSON: {body[:300]!r}") from None

    on_close = None  # called with the stream when it is closed (client.py records the response)

    def close(self):
        self.sock.close()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
