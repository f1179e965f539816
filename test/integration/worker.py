# The daemon worker stack.sh starts: stop it, start it, run it once, and see its log.
import hashlib
import os
import subprocess
from pathlib import Path

from checks import check, wait_for
from paths import CTL


class Worker:
    """The stack's ingestion worker; needs self.vardir, self.config_path and the Admin part."""

    def worker_log_tail(self, lines=5):
        p = self.vardir / "log" / "worker.log"
        try:
            return "\n".join(p.read_bytes().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no worker.log)"

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
