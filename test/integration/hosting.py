# A shared-hosting customer's site, built as the README's "Shared hosting" section says: the `make dist` bundle
# unpacked by a user who is not root into public_html/faqsure, behind an Apache that reads .htaccess (mod_fcgid,
# mod_cgid, mod_rewrite, mod_headers: Debian's stock modules, and User = that customer, as a suexec host runs
# scripts), a MariaDB reached over TCP with a password, and the worker run the way cron runs it (the line
# `faqsurectl migrate` prints, every couple of seconds instead of every minute).
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from admin import Admin
from checks import check, wait_for
from client import HttpClient, _free_port, _free_port_other_than
from paths import BUILD, ROOT
from uploads import Documents

HOST_USER = "faqhost"
DB_NAME, DB_USER, DB_PASSWORD = "hostdb", "hostuser", "Pw-7x!q_z9.k"
CLEAN_ENV = ["env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"]  # what cron or an SSH login gives, nothing of ours


def as_user(args, **kw):
    """Runs args as the hosting customer with a clean environment (no FAQSURE_CONFIG, no LD_LIBRARY_PATH)."""
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run(["runuser", "-u", HOST_USER, "--", *CLEAN_ENV, *map(str, args)], capture_output=True,
                          text=True, **kw)


def ensure_user():
    try:
        pwd.getpwnam(HOST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", HOST_USER], check=True, capture_output=True)


class HostingSite(HttpClient, Admin, Documents):
    prefix = "/faqsure"

    def __init__(self, fcgid=True):
        self.fcgid = fcgid
        self.run_name = "run" if fcgid else "run-cgi"  # the Apache's own folder of pid, sockets, configuration
        self.dir = None
        self.port = None
        self.started = False
        self.cron = None
        self.cron_stop = threading.Event()
        self.cron_runs = 0
        self.cron_errors = []
        self.sanitizer_reports = []

    # -- paths ------------------------------------------------------------------------------------------------
    @property
    def public_html(self):
        return self.dir / "home" / HOST_USER / "public_html"

    @property
    def bundle(self):
        return self.public_html / "faqsure"

    @property
    def config_path(self):
        return self.bundle / "etc" / "faqsure.conf"

    # -- requests under the folder's URL --------------------------------------------------------------------------
    def request(self, method, path, *args, **kw):
        return super().request(method, self.prefix + path, *args, **kw)

    def sse(self, path, *args, **kw):
        return super().sse(self.prefix + path, *args, **kw)

    def raw(self, method, path, *args, **kw):
        return super().raw(method, self.prefix + path, *args, **kw)

    def site_request(self, method, path, **kw):
        """A request outside the bundle's folder: the customer's own site."""
        return HttpClient.request(self, method, path, **kw)

    # -- the customer's command line ------------------------------------------------------------------------------
    def ctl(self, *args, config=None, check_rc=True, timeout=30):
        check(config is None, "the hosting site has one configuration: the bundle's")
        r = as_user([self.bundle / "bin" / "faqsurectl", *args], timeout=timeout, cwd=self.public_html)
        if check_rc and r.returncode != 0:
            raise AssertionError(f"bin/faqsurectl {' '.join(map(str, args))} exited {r.returncode}: "
                                 f"stdout {r.stdout!r} stderr {r.stderr!r}")
        return r

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self):
        ensure_user()
        self.dir = Path(tempfile.mkdtemp(prefix="faqsure-host-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.started = True
        for d in ("run", "log", "db"):
            (self.dir / d).mkdir()
        home = self.dir / "home" / HOST_USER
        self.public_html.mkdir(parents=True)
        os.chmod(self.dir / "home", 0o755)
        (self.public_html / "index.html").write_text("<h1>The customer's own site</h1>\n")
        subprocess.run(["chown", "-R", f"{HOST_USER}:{HOST_USER}", str(home)], check=True)
        os.chmod(home, 0o711)
        self.tarball = self.dir / "faqsure-dist.tar.gz"
        self.make_dist()
        self.start_database()
        self.install()
        self.start_apache()
        self.cron = threading.Thread(target=self.cron_loop, name="cron", daemon=True)
        self.cron.start()
        # health is "ok" once a worker has been seen: the first run of the cron line
        wait_for(lambda: self.get("/api/v1/health").json.get("status") == "ok", "the cron-run worker's first run",
                 30, interval=0.3)

    def make_dist(self):
        build = os.path.relpath(BUILD, ROOT) if BUILD.is_relative_to(ROOT) else str(BUILD)
        r = subprocess.run(["make", "--no-print-directory", "-s", "dist", f"BUILD={build}", f"DIST_OUT={self.tarball}",
                            f"SANITIZE={os.environ.get('SANITIZE', '')}"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL)
        if r.returncode != 0 or not self.tarball.exists():
            raise AssertionError(f"make dist failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
        self.dist_report = r.stdout.strip()

    def start_database(self):
        """The host's database server: MariaDB on a loopback TCP port, the customer's database and user."""
        run, data = self.dir / "run", self.dir / "db"
        self.db_socket = run / "mysqld.sock"  # root's way in, to create the customer's database
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                            "--auth-root-authentication-method=normal", "--skip-test-db"], capture_output=True,
                           text=True)
        check(r.returncode == 0, f"mariadb-install-db: {r.stdout[-500:]} {r.stderr[-500:]}")
        self.db_port = _free_port()
        self.db = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.db_socket}",
             f"--port={self.db_port}", "--bind-address=127.0.0.1", "--user=root", f"--pid-file={run}/mysqld.pid",
             f"--log-error={self.dir}/log/mariadb.log", "--innodb-buffer-pool-size=128M", "--max-allowed-packet=64M",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 30
        while subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.db_socket}", "-uroot", "ping"],
                             capture_output=True).returncode != 0:
            check(time.time() < deadline and self.db.poll() is None, "the host's MariaDB did not start")
            time.sleep(0.2)
        sql = (f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
               f"CREATE USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
               f"GRANT ALL PRIVILEGES ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1';")
        r = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.db_socket}", "-uroot", "-e", sql],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"creating the customer's database: {r.stderr}")

    def install(self):
        """The README's steps as the customer: unpack, edit etc/faqsure.conf, migrate (which prints the cron line)."""
        r = as_user(["tar", "-xzf", self.tarball, "-C", self.public_html])
        check(r.returncode == 0, f"unpacking the bundle: {r.stderr}")
        conf = self.config_path.read_text()
        for key, value in (("host", "127.0.0.1"), ("port", str(self.db_port)), ("name", DB_NAME),
                           ("user", DB_USER), ("password", DB_PASSWORD)):
            conf, n = re.subn(rf"(?m)^{key} =.*$", f"{key} = {value}", conf, count=1)
            check(n == 1, f"etc/faqsure.conf has no '{key} =' line to edit:\n{conf}")
        r = as_user(["tee", self.config_path], input=conf)
        check(r.returncode == 0, f"editing etc/faqsure.conf: {r.stderr}")
        r = self.ctl("migrate")
        m = re.search(r"(?m)^\* \* \* \* \* (.+)$", r.stdout)
        check(m is not None, f"faqsurectl migrate does not print a cron line: {r.stdout!r}")
        self.cron_command = m.group(1)

    def cron_loop(self):
        """What cron does with the printed line, every 2 s instead of every minute."""
        while not self.cron_stop.wait(2.0):
            r = as_user(["sh", "-c", self.cron_command], cwd="/", timeout=300)
            self.cron_runs += 1
            if r.returncode != 0:
                self.cron_errors.append(f"exit {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")

    def apache_conf(self):
        run, log = self.dir / self.run_name, self.dir / "log"
        modules = ["mpm_event", "authz_core", "mime", "dir", "rewrite", "headers", "cgid"]
        if self.fcgid:
            modules.append("fcgid")
        lines = [
            "# The host's Apache: the customer's folder with the least AllowOverride the README asks for (hosts",
            "# mostly give All), nothing of FAQSure's in here.",
            "ServerRoot /etc/apache2", "ServerName 127.0.0.1", f"Listen 127.0.0.1:{self.port}",
            f"PidFile {run}/apache.pid", f"DefaultRuntimeDir {run}", f"ErrorLog {log}/{self.run_name}-apache-error.log",
            "LogLevel warn",
            f"User {HOST_USER}", f"Group {HOST_USER}", "TypesConfig /etc/mime.types",
            *[f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in modules],
            f"ScriptSock {run}/cgid.sock",
            f"DocumentRoot {self.public_html}",
            "<Directory />", "    Require all denied", "    AllowOverride None", "</Directory>",
            f"<Directory {self.public_html}>", "    Require all granted",
            "    AllowOverride FileInfo Options AuthConfig Indexes",
            "    Options SymLinksIfOwnerMatch", "</Directory>",
        ]
        if self.fcgid:
            lines += [f"FcgidIPCDir {run}/fcgid", f"FcgidProcessTableFile {run}/fcgid/shm"]
        return "\n".join(lines) + "\n"

    def without_fcgid(self):
        """A second Apache of the host, without mod_fcgid, on the same folder and database: the .htaccess falls
        back to plain CGI. Stop it with stop_apache()."""
        other = HostingSite(fcgid=False)
        other.dir, other.db_port = self.dir, self.db_port
        other.start_apache()
        return other

    def start_apache(self):
        run = self.dir / self.run_name
        run.mkdir(exist_ok=True)
        (run / "fcgid").mkdir(exist_ok=True)
        shutil.chown(run / "fcgid", HOST_USER)
        self.port = _free_port_other_than(self.db_port)
        (run / "httpd.conf").write_text(self.apache_conf())
        r = subprocess.run(["apache2", "-f", str(run / "httpd.conf"), "-k", "start"], capture_output=True, text=True)
        check(r.returncode == 0, f"the host's Apache did not start: {r.stderr}")
        deadline = time.time() + 20
        while True:
            try:
                if self.request("GET", "/api/v1/health", parse_json=False, timeout=5).status == 200:
                    return
            except OSError:
                pass
            check(time.time() < deadline, f"the hosting site does not answer:\n{self.log_tails()}")
            time.sleep(0.2)

    def stop(self, keep=False):
        if not self.started:
            return
        self.started = False
        self.cron_stop.set()
        if self.cron is not None:
            self.cron.join(timeout=300)
        self.stop_apache()
        if getattr(self, "db", None) is not None:
            self.db.terminate()
            try:
                self.db.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.db.kill()
        for log in (self.dir / "log").glob("apache*-error.log"):
            self.sanitizer_reports += [line for line in log.read_text(errors="replace").splitlines()
                                       if "Sanitizer" in line or "runtime error:" in line]
        if keep:
            print(f"hosting site kept: {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop_apache(self):
        run = self.dir / self.run_name
        if (run / "httpd.conf").exists():
            subprocess.run(["apache2", "-f", str(run / "httpd.conf"), "-k", "stop"], capture_output=True)
            pid = run / "apache.pid"
            deadline = time.time() + 30
            while pid.exists() and time.time() < deadline:
                time.sleep(0.1)

    def log_tails(self, lines=25):
        out = []
        for p in sorted((self.dir / "log").glob("*.log")) + [self.bundle / "var" / "worker.log"]:
            if p.exists():
                text = p.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {p}\n" + "\n".join(text))
        return "\n".join(out)

    # -- the libraries --------------------------------------------------------------------------------------------
    def foreign_libraries(self):
        """{program: [(soname, path)]} of every library a program of the bundle loads from outside the bundle that
        is neither on the host list nor needed by a library of it (ldd, run as the customer)."""
        # What the bundle promises the host provides (make-dist.sh writes it into the bundle), and what those
        # libraries need themselves: nothing else may resolve outside the bundle.
        host = (self.bundle / "share" / "host-libraries.txt").read_text().split()
        check("libc.so.6" in host and "libfcgi.so.0" not in host, f"the bundle's host list: {host}")
        cache = loader_cache()
        host_deps = set(host) | {"linux-vdso.so.1"}
        for soname in host:
            if soname in cache:
                host_deps.update(dep for dep, _ in ldd(cache[soname]))
        found = {}
        programs = sorted((self.bundle / "fcgi-bin").glob("*.fcgi")) + [self.bundle / "bin" / "faqsurectl"]
        for prog in programs:
            bad = [(so, path) for so, path in ldd(prog, as_customer=True)
                   if not os.path.normpath(path).startswith(str(self.bundle / "lib") + "/") and so not in host_deps]
            if bad:
                found[prog.name] = bad
        return found


def loader_cache():
    """{soname: path} of this machine's x86-64 libraries, as `ldconfig -p` lists them (the first of each)."""
    out = {}
    for line in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if parts and "x86-64" in line:
            out.setdefault(parts[0], parts[-1])
    return out


def ldd(path, as_customer=False):
    """[(soname, resolved path)] as the loader resolves them; a library not found is (soname, "not found")."""
    r = as_user(["ldd", path]) if as_customer else subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            rest = rest.strip()
            out.append((name.strip(), "not found" if rest.startswith("not found") else rest.split(" (")[0]))
        elif line:
            first = line.split(" (")[0]
            out.append((os.path.basename(first), first))
    return out
