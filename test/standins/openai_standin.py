#!/usr/bin/python3
# A stand-in for an OpenAI-compatible server (OPENAI-COMPAT.md): POST /v1/embeddings, POST /v1/chat/completions
# (plain and streamed), GET /v1/models, with faults injected at run time, so tests drive the real client code.
#
# usage: openai_standin.py [--port N] [--host 127.0.0.1] [--dims 64]
# Prints the port it listens on as the first line of stdout (it binds port 0 unless --port), then serves until
# killed. Python 3 standard library only.
#
# Embeddings are deterministic: a signed, hashed bag of lower-cased words in `dims` dimensions (or the request's
# `dimensions`), L2-normalised, so texts sharing words get similar vectors. `data` comes back in a shuffled order
# (every index present once) so clients must order by `index`.
#
# Test endpoints:
#   POST /_control  JSON merged into the fault settings (each count says how many of the next API requests it
#                   hits; true = all of them until /_reset):
#     "fail": [{"status": 500, "times": 2, "retry_after": 1, "path": "/v1/embeddings", "message": "..."}]
#                   answer the next `times` matching requests with `status` (an OpenAI error body); the list
#                   replaces the previous one; entries are used in order
#     "delay_ms": 3000          wait this long before answering each API request
#     "drop": N                 close the connection without answering
#     "malformed": N            answer 200 with a body that is not JSON
#     "wrong_dims": N           embeddings one dimension longer than asked
#     "scale": 2.5              multiply every embedding (to check that clients normalise)
#     "cut_stream_after": N     streamed chat: close the connection after N content events, mid-stream
#     "chunk_delay_ms": 50      streamed chat: pause between events
#     "retry_after": 1          Retry-After (seconds) for "fail" entries that give none
#     "require_key": "sk-test"  answer 401 unless Authorization: Bearer sk-test
#     "reply": "text"           the chat answer (default: "Echo: " + the last user message)
#     "no_usage": true          leave usage out of the answers
#     "reply_pieces": ["NO_", "ANSWER"]  chat: answer their concatenation, streamed as exactly these content
#                               deltas (wins over "reply"; max_tokens does not cut it)
#     "stream_quirks": [..]     streamed chat: framing that real servers use and clients must accept, any of
#                               "no_space" (data:{..}), "comments" (": keep-alive" before each event), "crlf"
#                               (lines end in CR LF), "no_blank" (no blank line between events), "null_choices" /
#                               "no_choices" (usage chunk with choices null / without choices), "no_done" (no
#                               [DONE]), "split" (each event written in 7-byte pieces, flushed apart)
#   GET /_log       {"requests": [{"time": when it arrived (Unix seconds), "method", "path", "headers": {...},
#                   "body": parsed JSON or text, "status": answered status, "usage": usage answered or null}]}
#   POST /_reset    clears the faults and the log
import argparse
import base64
import hashlib
import json
import math
import random
import re
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 << 20
ROLES = ("system", "user", "assistant", "developer", "tool")
WORD_RE = re.compile(r"\w+", re.UNICODE)
TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
DEFAULT_FAULTS = {
    "fail": [], "delay_ms": 0, "drop": 0, "malformed": 0, "wrong_dims": 0, "scale": 1.0, "cut_stream_after": None,
    "chunk_delay_ms": 0, "retry_after": None, "require_key": None, "reply": None, "no_usage": False,
    "reply_pieces": None, "stream_quirks": [],
}
QUIRKS = {"no_space", "comments", "crlf", "no_blank", "null_choices", "no_choices", "no_done", "split"}


class ApiError(Exception):
    def __init__(self, status, message, type_="invalid_request_error", param=None, code=None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self):
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class State:
    def __init__(self, dims):
        self.dims = dims
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = json.loads(json.dumps(DEFAULT_FAULTS))
            self.log = []

    def control(self, changes):
        with self.lock:
            for k, v in changes.items():
                if k not in self.faults:
                    raise ApiError(400, f"unknown control setting {k!r}", param=k)
                if k == "fail":
                    if not isinstance(v, list) or not all(isinstance(f, dict) and isinstance(f.get("status"), int)
                                                          for f in v):
                        raise ApiError(400, "fail must be a list of objects with an integer status", param=k)
                    v = [dict(f, times=f.get("times", 1)) for f in v]
                if k == "reply_pieces" and not (v is None or (isinstance(v, list) and
                                                              all(isinstance(p, str) for p in v))):
                    raise ApiError(400, "reply_pieces must be a list of strings or null", param=k)
                if k == "stream_quirks" and not (isinstance(v, list) and set(v) <= QUIRKS):
                    raise ApiError(400, f"stream_quirks must be a list of {sorted(QUIRKS)}", param=k)
                self.faults[k] = v

    def take(self, name):
        """Whether the counted fault `name` hits this request (and uses one of its count)."""
        with self.lock:
            v = self.faults[name]
            if v is True:
                return True
            if isinstance(v, int) and v > 0:
                self.faults[name] = v - 1
                return True
            return False

    def take_fail(self, path):
        with self.lock:
            for f in self.faults["fail"]:
                if f.get("path") and f["path"] != path:
                    continue
                if f["times"] is True:
                    return dict(f)
                if f["times"] > 0:
                    f["times"] -= 1
                    return dict(f)
            return None

    def setting(self, name):
        with self.lock:
            return self.faults[name]


def tokens(text):
    return len(TOKEN_RE.findall(text))


def embed(text, dims):
    v = [0.0] * dims
    for w in WORD_RE.findall(text.lower()):
        h = hashlib.sha256(w.encode()).digest()
        i = int.from_bytes(h[:8], "little") % dims
        v[i] += 1.0 if h[8] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in v))
    if norm == 0:  # text without words (punctuation only): a fixed unit vector rather than zeros
        v[0] = norm = 1.0
    return [x / norm for x in v]


def require(cond, message, param=None):
    if not cond:
        raise ApiError(400, message, param=param)


def validate_embeddings(req):
    require(isinstance(req, dict), "The request body must be a JSON object.")
    model = req.get("model")
    require(isinstance(model, str) and model, "you must provide a model parameter", "model")
    inp = req.get("input")
    if isinstance(inp, str):
        inp = [inp]
    require(isinstance(inp, list) and inp and all(isinstance(s, str) for s in inp),
            "'input' must be a string or a non-empty array of strings", "input")
    require(all(s for s in inp), "'input' must not contain empty strings", "input")
    require(len(inp) <= 2048, "'input' must have at most 2048 items", "input")
    fmt = req.get("encoding_format", "float")
    require(fmt in ("float", "base64"), "'encoding_format' must be 'float' or 'base64'", "encoding_format")
    dims = req.get("dimensions")
    require(dims is None or (isinstance(dims, int) and not isinstance(dims, bool) and 1 <= dims <= 65535),
            "'dimensions' must be an integer of at least 1", "dimensions")
    unknown = set(req) - {"model", "input", "encoding_format", "dimensions", "user"}
    require(not unknown, f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}")
    return model, inp, fmt, dims


def validate_chat(req):
    require(isinstance(req, dict), "The request body must be a JSON object.")
    model = req.get("model")
    require(isinstance(model, str) and model, "you must provide a model parameter", "model")
    msgs = req.get("messages")
    require(isinstance(msgs, list) and msgs, "'messages' must be a non-empty array", "messages")
    for i, m in enumerate(msgs):
        require(isinstance(m, dict) and m.get("role") in ROLES, f"'messages.{i}.role' is invalid", f"messages.{i}")
        c = m.get("content")
        require(isinstance(c, str) or (c is None and m["role"] == "assistant"),
                f"'messages.{i}.content' must be a string", f"messages.{i}.content")
    t = req.get("temperature")
    require(t is None or (isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 2),
            "'temperature' must be a number from 0 to 2", "temperature")
    mt = req.get("max_tokens")
    require(mt is None or (isinstance(mt, int) and not isinstance(mt, bool) and mt >= 1),
            "'max_tokens' must be an integer of at least 1", "max_tokens")
    stream = req.get("stream", False)
    require(isinstance(stream, bool), "'stream' must be a boolean", "stream")
    so = req.get("stream_options")
    require(so is None or isinstance(so, dict), "'stream_options' must be an object", "stream_options")
    require(so is None or stream, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options")
    return model, msgs, mt, stream, bool(so and so.get("include_usage"))


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without TCP_NODELAY each answer would wait ~40 ms for the
    # client's delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers; every answer has a length or is chunked
    server_version = "openai-standin/1"

    def log_message(self, fmt, *args):  # quiet: tests read /_log
        pass

    # -- plumbing -------------------------------------------------------------------------------------------
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ApiError(413, "request too large")
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, raw=None, headers=()):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    @property
    def state(self):
        return self.server.state

    # -- routes ---------------------------------------------------------------------------------------------
    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        path = self.path.split("?", 1)[0]
        try:
            raw = self.read_body()
            if path.startswith("/_"):
                return self.control(method, path, raw)
            self.api(method, path, raw)
        except ApiError as e:
            try:
                self.send(e.status, e.body())
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, method, path, raw):
        if (method, path) == ("POST", "/_control"):
            try:
                changes = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError(400, "control body is not JSON") from None
            require(isinstance(changes, dict), "control body must be an object")
            self.state.control(changes)
            return self.send(200, {"ok": True, "faults": self.state.faults})
        if (method, path) == ("POST", "/_reset"):
            self.state.reset()
            return self.send(200, {"ok": True})
        if (method, path) == ("GET", "/_log"):
            with self.state.lock:
                return self.send(200, {"requests": list(self.state.log)})
        raise ApiError(404, f"no control route {method} {path}")

    def api(self, method, path, raw):
        entry = {"time": time.time(), "method": method, "path": path, "headers": dict(self.headers.items()),
                 "body": None, "status": None, "usage": None}
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        with self.state.lock:
            self.state.log.append(entry)

        delay = self.state.setting("delay_ms")
        if delay:
            time.sleep(delay / 1000)
        if self.state.take("drop"):
            entry["status"] = "dropped"
            return self.drop()
        fail = self.state.take_fail(path)
        if fail:
            entry["status"] = fail["status"]
            ra = fail.get("retry_after", self.state.setting("retry_after"))
            hdrs = [("Retry-After", str(ra))] if ra is not None else []
            err = ApiError(fail["status"], fail.get("message", f"injected failure {fail['status']}"),
                           "server_error" if fail["status"] >= 500 else "rate_limit_error"
                           if fail["status"] == 429 else "invalid_request_error")
            return self.send(fail["status"], err.body(), headers=hdrs)
        key = self.state.setting("require_key")
        if key is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {key}":
                given = auth[7:] if auth.startswith("Bearer ") else auth
                entry["status"] = 401
                # Real servers quote (part of) the key they got: clients must not pass that on.
                raise ApiError(401, f"Incorrect API key provided: {given}.", "invalid_request_error", None,
                               "invalid_api_key")
        try:
            if (method, path) == ("POST", "/v1/embeddings"):
                return self.embeddings(entry, raw)
            if (method, path) == ("POST", "/v1/chat/completions"):
                return self.chat(entry, raw)
            if (method, path) == ("GET", "/v1/models"):
                entry["status"] = 200
                return self.send(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "standin"}
                    for m in ("standin-embed", "standin-chat")]})
            if path in ("/v1/embeddings", "/v1/chat/completions", "/v1/models"):
                raise ApiError(405, f"method {method} not allowed on {path}")
            raise ApiError(404, f"Invalid URL ({method} {path})")
        except ApiError as e:
            entry["status"] = e.status
            raise

    def parse_json(self, raw):
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None

    def embeddings(self, entry, raw):
        model, inputs, fmt, dims = validate_embeddings(self.parse_json(raw))
        dims = dims or self.state.dims
        if self.state.take("wrong_dims"):
            dims += 1
        scale = float(self.state.setting("scale"))
        data = []
        for i, text in enumerate(inputs):
            vec = [x * scale for x in embed(text, dims)]
            emb = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if fmt == "base64" else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        order = list(range(len(data)))
        random.Random(len(self.state.log)).shuffle(order)
        if len(order) > 1 and order == sorted(order):
            order.reverse()
        n = sum(tokens(t) for t in inputs)
        usage = {"prompt_tokens": n, "total_tokens": n}
        answer = {"object": "list", "data": [data[i] for i in order], "model": model}
        if not self.state.setting("no_usage"):
            answer["usage"] = usage
            entry["usage"] = usage
        entry["status"] = 200
        if self.state.take("malformed"):
            return self.send(200, raw=b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embe')
        self.send(200, answer)

    def chat(self, entry, raw):
        model, msgs, max_tokens, stream, include_usage = validate_chat(self.parse_json(raw))
        reply = self.state.setting("reply")
        if reply is None:
            last = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), "")
            reply = "Echo: " + last
        words = reply.split(" ")
        finish = "stop"
        if max_tokens is not None and sum(tokens(w) for w in words) > max_tokens:
            kept, used = [], 0
            for w in words:
                if used + tokens(w) > max_tokens:
                    break
                kept.append(w)
                used += tokens(w)
            words, finish = kept, "length"
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        if self.state.setting("reply_pieces") is not None:
            pieces, finish = list(self.state.setting("reply_pieces")), "stop"
        text = "".join(pieces)
        prompt = sum(tokens(m.get("content") or "") for m in msgs)
        completion = tokens(text)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if self.state.take("malformed"):
            entry["status"] = 200
            return self.send(200, raw=b'{"id": "' + cid.encode() + b'", "object": "chat.comp')
        if not stream:
            answer = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                   "finish_reason": finish}]}
            if not self.state.setting("no_usage"):
                answer["usage"] = usage
                entry["usage"] = usage
            entry["status"] = 200
            return self.send(200, answer)
        self.stream_chat(entry, cid, created, model, pieces, finish, usage, include_usage)

    def stream_chat(self, entry, cid, created, model, pieces, finish, usage, include_usage):
        entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        cut = self.state.setting("cut_stream_after")
        pause = self.state.setting("chunk_delay_ms") / 1000
        quirks = set(self.state.setting("stream_quirks"))
        eol = b"\r\n" if "crlf" in quirks else b"\n"

        def write(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def event(obj):
            data = b"data:" if "no_space" in quirks else b"data: "
            data += (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + eol
            if "no_blank" not in quirks:
                data += eol
            if "comments" in quirks:
                data = b": keep-alive" + eol + eol + data
            if "split" in quirks:
                for i in range(0, len(data), 7):
                    write(data[i:i + 7])
                    time.sleep(0.002)
            else:
                write(data)
            if pause:
                time.sleep(pause)

        def chunk(delta, finish_reason=None):
            c = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            if include_usage:
                c["usage"] = None
            return c

        event(chunk({"role": "assistant", "content": ""}))
        for i, p in enumerate(pieces):
            if cut is not None and i >= cut:
                return self.drop()  # mid-stream: no finish, no [DONE], no last chunk of the chunked encoding
            event(chunk({"content": p}))
        event(chunk({}, finish))
        if include_usage and not self.state.setting("no_usage"):
            entry["usage"] = usage
            last = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [], "usage": usage}
            if "null_choices" in quirks:
                last["choices"] = None
            if "no_choices" in quirks:
                del last["choices"]
            event(last)
        if "no_done" not in quirks:
            event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser(description="OpenAI-compatible stand-in server for tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dims", type=int, default=64)
    args = ap.parse_args()
    if not 1 <= args.dims <= 65535:
        ap.error("--dims must be 1..65535")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.dims)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
