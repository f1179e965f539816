# Entry point: runs every test_* function of the test_*.py modules here, against one private stack, and stops it.
# usage: python3 test/integration/run.py [NAME_SUBSTRING]     (FAQSURE_IT_KEEP=1 keeps the stack's temp dir)
import importlib
import os
import signal
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep the source tree clean

import harness  # noqa: E402


def discover(pattern):
    tests = []
    modules = []
    for path in sorted(HERE.glob("test_*.py")):
        try:
            modules.append(importlib.import_module(path.stem))
        except Exception as e:  # a module that does not import is one failing test, not a crashed run
            def broken(e=e):
                raise e
            if pattern in path.stem:
                tests.append((f"{path.stem}.import", broken))
    # Modules that disturb the stack (e.g. stop the database) say RUN_LAST = True.
    modules.sort(key=lambda m: bool(getattr(m, "RUN_LAST", False)))
    for mod in modules:
        for name, fn in vars(mod).items():  # definition order
            if name.startswith("test_") and callable(fn):
                full = f"{mod.__name__}.{name}"
                if pattern in full:
                    tests.append((full, fn))
    return tests


def on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    signal.signal(signal.SIGTERM, on_sigterm)
    passed = failed = skipped = 0
    interrupted = False
    try:
        for name, fn in discover(pattern):
            try:
                fn()
            except harness.SkipTest as e:
                skipped += 1
                print(f"skip {name}: {e}", flush=True)
            except KeyboardInterrupt:
                interrupted = True
                failed += 1
                print(f"FAIL {name}: interrupted", flush=True)
                break
            except Exception as e:
                failed += 1
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                print(f"FAIL {name}: {reason}", flush=True)
                print(traceback.format_exc().rstrip(), flush=True)
            else:
                passed += 1
                print(f"ok {name}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the stop finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if failed and harness._stack is not None and harness._stack.started:
            tails = harness._stack.log_tails()
            if tails:
                print("--- stack logs (last lines) ---\n" + tails, flush=True)
        harness.stop_stack(keep=os.environ.get("FAQSURE_IT_KEEP") == "1")
        reports = getattr(harness._stack, "sanitizer_reports", None) if harness._stack is not None else None
        if reports:  # a sanitizer build (make SANITIZE=...) found a bug in some request: that fails the run
            failed += 1
            print("FAIL sanitizers: the programs reported:\n" + "\n".join(reports[:40]), flush=True)
    if interrupted:
        print("interrupted", flush=True)
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary, flush=True)
    return 0 if failed == 0 and not interrupted else 1


if __name__ == "__main__":
    sys.exit(main())
