# pytest's view of the black-box tests: the stacks as fixtures, the order (modules that disturb the stack last),
# one line per test ("ok NAME", "FAIL NAME: reason", "skip NAME: reason") and the closing line of every runner of
# `make test` ("N passed, N failed[, N skipped]"), with the sanitizers' reports of a SANITIZE build counted.
# pytest's own terminal output is off (-p no:terminal): these lines, with the traceback of each failure, are the
# report. usage: python3 -m pytest -p no:cacheprovider -p no:terminal test/integration [-k SUBSTRING]
# (test/run.sh does this; FAQSURE_IT_KEEP=1 keeps the stacks' temp dirs)
import os
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the helpers (harness and the modules it gathers, kb, …) beside this file
sys.dont_write_bytecode = True  # keep the source tree clean

import stack as stacks  # noqa: E402


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # pytest stops, and pytest_sessionfinish stops the stacks


signal.signal(signal.SIGTERM, _on_sigterm)


@pytest.fixture
def s():
    """The run's stack (MariaDB, Apache with mod_fcgid, the worker): started by the first test that asks for it,
    shared by every test, stopped at the end of the run."""
    return stacks.stack()


@pytest.fixture
def lighttpd():
    """A stack on lighttpd: the run's own when it runs on lighttpd, else one of its own."""
    return stacks.web_stack("lighttpd")


def pytest_collection_modifyitems(session, config, items):
    # Modules that disturb the stack (e.g. stop the database) say RUN_LAST = True; one that checks what all the
    # others received (server/test_openapi.py) says RUN_LAST = 2.
    items.sort(key=lambda item: int(getattr(item.module, "RUN_LAST", 0)))


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0


TALLY = Tally()


def _name(report):
    path, _, func = report.nodeid.partition("::")
    return f"{Path(path).stem}.{func}" if func else Path(path).stem


def _reason(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0] if crash.message else "failed"
    return str(report.longrepr).splitlines()[-1] if report.longrepr else "failed"


def pytest_collectreport(report):
    if report.failed:  # a module that does not import is one failing test, not a crashed run
        TALLY.failed += 1
        print(f"FAIL {Path(report.nodeid).stem}.import: {_reason(report)}\n{report.longreprtext}", flush=True)


def pytest_runtest_logreport(report):
    name = _name(report)
    if report.failed:  # in setup (a stack that does not start), the test itself, or teardown
        TALLY.failed += 1
        print(f"FAIL {name}: {_reason(report)}\n{report.longreprtext}", flush=True)
    elif report.skipped and report.when in ("setup", "call"):
        TALLY.skipped += 1
        print(f"skip {name}: {_reason(report)}", flush=True)
    elif report.passed and report.when == "call":
        TALLY.passed += 1
        took = f"  [{report.duration:.1f} s]" if report.duration >= 2 else ""  # where make test's time goes
        print(f"ok {name}{took}", flush=True)


def pytest_sessionfinish(session, exitstatus):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the stop finish
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if exitstatus == pytest.ExitCode.INTERRUPTED:  # a run cut short is not a run that passed
        TALLY.failed += 1
        print("FAIL interrupted", flush=True)
    stack = stacks._stack
    if TALLY.failed and stack is not None and stack.started:
        tails = stack.log_tails()
        if tails:
            print("--- stack logs (last lines) ---\n" + tails, flush=True)
    stacks.stop_stack(keep=os.environ.get("FAQSURE_IT_KEEP") == "1")
    reports = getattr(stacks._stack, "sanitizer_reports", None) if stacks._stack is not None else None
    if reports:  # a sanitizer build (make SANITIZE=...) found a bug in some request: that fails the run
        TALLY.failed += 1
        print("FAIL sanitizers: the programs reported:\n" + "\n".join(reports[:40]), flush=True)
        session.exitstatus = 1


def pytest_unconfigure(config):
    summary = f"{TALLY.passed} passed, {TALLY.failed} failed"
    if TALLY.skipped:
        summary += f", {TALLY.skipped} skipped"
    print(summary, flush=True)
