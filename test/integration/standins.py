# Starting and stopping the stand-in servers of test/standins/ (fake upstreams that speak the real wire protocol
# and take faults through their own control routes). Each prints its port as the first line of stdout.
import http.client
import json
import select
import subprocess
import tempfile
import time
from pathlib import Path

STANDINS = Path(__file__).resolve().parents[1] / "standins"
PYTHON = "/usr/bin/python3"


def start_standin(script, *args, timeout=10.0):
    """Starts test/standins/<script> (or a path) with args on a free port; returns (proc, port). The caller stops
    it with stop_standin(proc)."""
    path = Path(script)
    if not path.is_absolute():
        path = STANDINS / script
    if not path.exists():
        raise AssertionError(f"stand-in {path} is missing")
    # stderr goes to a file, not a pipe nobody reads (a full pipe would block the server).
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([PYTHON, str(path), *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=err, text=True)
    proc.stderr_file = err
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    if not line.isdigit():
        proc.kill()
        proc.wait()
        err.seek(0)
        text = err.read()
        _close(proc)
        raise AssertionError(f"stand-in {path.name} did not print its port within {timeout} s "
                             f"(got {line!r}; stderr {text[-500:]!r})")
    port = int(line)
    wait_listening(port, timeout)
    return proc, port


def wait_listening(port, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.connect()
            conn.close()
            return
        except OSError:
            if time.time() >= deadline:
                raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s") from None
            time.sleep(0.05)


def stop_standin(proc):
    """Stops a stand-in (SIGTERM, then SIGKILL) and reaps it. None is fine."""
    if proc is None or proc.poll() is not None:
        if proc is not None:
            _close(proc)
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _close(proc)


def _close(proc):
    for f in (proc.stdout, getattr(proc, "stderr_file", None)):
        if f is not None and not f.closed:
            f.close()


def call(port, method, path, body=None, timeout=10, headers=None):
    """One JSON request to a stand-in (its control routes, or its API); returns (status, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")
    finally:
        conn.close()
