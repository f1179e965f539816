# A private stack (MariaDB + Apache/mod_fcgid or lighttpd, and the worker) in a temp dir: its lifecycle, and the
# stacks of a run (the one every test shares, and those on another web server or configuration).
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from admin import Admin
from checks import SkipTest, check
from client import HttpClient, _free_port
from database import Database
from uploads import Documents
from paths import BUILD, CTL, DOCUMENTS_FCGI, KEYS_FCGI, PROBE_FCGI, QDRANT_SPECS, STACK_SH
from worker import Worker


class Stack(HttpClient, Admin, Database, Documents, Worker):
    def __init__(self, web=None, parent="/tmp"):
        """web: "apache" or "lighttpd" (stack.sh's FAQSURE_WEB); None leaves it to the environment (Apache by
        default). parent: the folder the stack's temp dir is made in."""
        self.web = web
        self.parent = parent
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
        self.vardir = Path(tempfile.mkdtemp(prefix="faqsure-it-", dir=self.parent))
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
                # "ok" once the worker started too (its first heartbeat): "degraded" before
                if last.status == 200 and b'"status":"ok"' in last.body.replace(b" ", b""):
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
            logs = [p for name in ("apache-error.log", "lighttpd-error.log", "fcgi-programs.log")
                    for p in sorted(self.vardir.rglob(name))]
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



# The one stack of a run; started on first use, stopped at the end of the run (conftest.py).
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
        except SkipTest:  # every test of this run skips for the same reason
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


def keep_stack(name, s):
    """Hands a stack a test started (on another configuration) to the run: stopped with the others at its end."""
    _web_stacks[name] = s


def kept_stack(name):
    """The run's stack of that name (web_stack's web server, or keep_stack's name) when it was started, else None."""
    return _web_stacks.get(name)


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
    elif stopped:  # conftest.py reads the sanitizer reports from stack._stack after this
        _stack = stopped[0]
        _stack.sanitizer_reports = reports

