# The cluster under test: a 3-node MariaDB Galera cluster (galera.sh) and two web nodes, A on Galera node 1 and B on
# node 2, each a stack of test/stack/stack.sh (Apache with mod_fcgid, its own programs, faqsure.conf and worker)
# on the external database. Started once for the run by the first test that asks for it, stopped at its end;
# run.sh stops whatever is left and removes the folder in any case. The report lines and the closing counts are
# those of test/integration/conftest.py.
import importlib.util
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
sys.path.insert(0, str(INTEGRATION))
sys.dont_write_bytecode = True

_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)
pytest_collectreport = _it.pytest_collectreport
pytest_runtest_logreport = _it.pytest_runtest_logreport
pytest_unconfigure = _it.pytest_unconfigure

from client import _free_port  # noqa: E402
from paths import CTL  # noqa: E402
from stack import Stack  # noqa: E402

GALERA_SH = HERE / "galera.sh"
DB_PASSWORD = "cluster-" + os.urandom(9).hex()


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _gcomm_port(taken):
    """A port p with p and p + 1 free (Galera's group port and its IST port), below the ephemeral range."""
    while True:
        p = random.randrange(20000, 32000, 2)
        if p not in taken and p + 1 not in taken and _bindable(p) and _bindable(p + 1):
            taken.update((p, p + 1))
            return p


class WebNode(Stack):
    """A web node: stack.sh's Apache and worker on one Galera node, reached over TCP."""

    def __init__(self, name, parent, db_ports):
        super().__init__(web="apache", parent=parent)
        self.name = name
        self.db_ports = db_ports  # its Galera node first, then the one it falls back on
        # a job whose worker lost its database node is taken up again after this, not after the default 300 s
        self.extra_config = "[worker]\nlease_seconds = 15\n"

    def env(self):
        env = super().env()
        env.update(FAQSURE_DB_HOST=",".join(f"127.0.0.1:{p}" for p in self.db_ports),
                   FAQSURE_DB_PORT=str(self.db_ports[0]), FAQSURE_DB_PASSWORD=DB_PASSWORD)
        return env


class Cluster:
    def __init__(self, folder):
        self.dir = Path(folder)
        self.sql_ports = []
        self.a = self.b = None
        self.migrations = []  # (returncode, stdout, stderr) of the two migrate runs started at once
        self.galera_started = False

    def galera_env(self, ports=""):
        return dict(os.environ, GALERA_DIR=str(self.dir), GALERA_PORTS=ports, GALERA_PASSWORD=DB_PASSWORD)

    def db_config(self, node):
        """A faqsure.conf with only [database], for Galera node `node` (1 to 3)."""
        p = self.dir / f"node{node}.conf"
        p.write_text(f"[database]\nhost = 127.0.0.1\nport = {self.sql_ports[node - 1]}\nuser = faqsure\n"
                     f"password = {DB_PASSWORD}\nname = faqsure\n")
        return p

    def start(self):
        taken = set()
        triples = []
        for _ in range(3):
            sql, sst = _free_port(), _free_port()
            while sst == sql:
                sst = _free_port()
            taken.update((sql, sst))
            triples.append(f"{sql}:{_gcomm_port(taken)}:{sst}")
            self.sql_ports.append(sql)
        self.galera_started = True  # from here on, stop() must run
        r = subprocess.run(["bash", str(GALERA_SH), "start"], env=self.galera_env(" ".join(triples)),
                           capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError(f"galera.sh start exited {r.returncode}: {r.stderr}\n{self.log_tails()}")
        # The schema from two nodes at once, on an empty database: the migration lock must hold cluster-wide.
        procs = [subprocess.Popen([str(CTL), "migrate"], env=dict(os.environ, FAQSURE_CONFIG=str(self.db_config(n))),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for n in (1, 2)]
        for p in procs:
            out, err = p.communicate(timeout=180)
            self.migrations.append((p.returncode, out, err))
        # [database] host lists two nodes: the web node's own, then node 3 when its own is away
        self.a = WebNode("A", self.dir, [self.sql_ports[0], self.sql_ports[2]])
        self.b = WebNode("B", self.dir, [self.sql_ports[1], self.sql_ports[2]])
        for node in (self.a, self.b):
            node.start()

    def stop(self):
        for node in (self.a, self.b):
            if node is not None:
                node.stop(keep=True)  # run.sh removes the whole folder
        if self.galera_started:
            self.galera_started = False
            r = subprocess.run(["bash", str(GALERA_SH), "stop"], env=self.galera_env(), capture_output=True,
                               text=True, timeout=240, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                print(f"warning: galera.sh stop exited {r.returncode}: {r.stderr.strip()}", flush=True)

    def galera(self, *args, timeout=240):
        r = subprocess.run(["bash", str(GALERA_SH), *args], env=self.galera_env(), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError(f"galera.sh {' '.join(args)} exited {r.returncode}: {r.stderr}\n{self.log_tails()}")

    def kill_node(self, n):
        """Galera node n crashes (SIGKILL)."""
        self.galera("kill", str(n))

    def rejoin_node(self, n):
        """Galera node n starts again and rejoins; returns once it is Synced."""
        self.galera("rejoin", str(n))

    def log_tails(self, lines=15):
        out = []
        for p in sorted(self.dir.rglob("*.log")):
            if "install" in p.name:
                continue
            try:
                text = p.read_bytes().decode("utf-8").splitlines()[-lines:]
            except (OSError, UnicodeDecodeError):
                continue
            if text:
                out.append(f"--- {p}\n" + "\n".join(text))
        return "\n".join(out)


_cluster = None
_cluster_error = None


@pytest.fixture
def cluster():
    global _cluster, _cluster_error
    if _cluster_error is not None:
        raise AssertionError(f"the cluster did not start: {_cluster_error}")
    if _cluster is None:
        folder = os.environ.get("FAQSURE_CLUSTER_DIR") or tempfile.mkdtemp(prefix="faqsure-cluster-", dir="/tmp")
        os.chmod(folder, 0o755)
        _cluster = Cluster(folder)
        try:
            _cluster.start()
        except Exception as e:
            _cluster_error = str(e)
            raise
    return _cluster


def pytest_sessionfinish(session, exitstatus):
    if _cluster is not None:
        if _it.TALLY.failed:
            print("--- cluster logs (last lines) ---\n" + _cluster.log_tails(), flush=True)
        _cluster.stop()
        if not os.environ.get("FAQSURE_CLUSTER_DIR"):  # made here, not by run.sh: removed here
            shutil.rmtree(_cluster.dir, ignore_errors=True)
    _it.pytest_sessionfinish(session, exitstatus)
