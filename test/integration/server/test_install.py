# `make install` into a staging folder (DESTDIR): the programs, the console, the widget, the deployment samples,
# and a configuration the web server's group can read and nobody else. Then the README's "Install on a server you
# own" followed into a private Apache: the installed snippet included in the VirtualHost of an existing static
# site (its own 404 page, its own /api-docs.html and /api/… pages), on the run's MariaDB. The site must stay its
# own; the API answers under /api/v1 in JSON; and without mod_rewrite, mod_headers and mod_unique_id it still does.
import grp
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from client import HttpClient
from harness import BUILD, ROOT, SkipTest, _free_port_other_than, check, eq, multipart, wait_for

SAMPLES = ("apache-example.conf", "lighttpd.conf", "nginx.conf", "faqsure-worker.service", "faqsure-worker.cron",
           "faqsure-spawn-fcgi@.service", "logrotate.faqsure", "mariadb-faqsure.cnf", "mariadb-galera.cnf",
           "faqsure.conf.example")
MODULES = "/usr/lib/apache2/modules"
SITE_404 = "<!doctype html><title>Lost</title><p>This is the site's own page for a missing one.</p>\n"


def make_install(dest, prefix="/usr/local"):
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={dest}", f"PREFIX={prefix}",
                        f"BUILD={os.path.relpath(BUILD, ROOT)}"], capture_output=True, text=True, timeout=300)
    eq(r.returncode, 0, f"make install: {r.stderr[-800:]}")


def test_make_install_puts_everything_where_the_snippets_expect_it():
    try:
        group = grp.getgrnam("www-data")
    except KeyError:
        raise SkipTest("no www-data group on this machine")
    dest = Path(tempfile.mkdtemp(prefix="faqsure-install-", dir="/tmp"))
    try:
        make_install(dest, prefix="/opt/faqsure")
        share = dest / "opt/faqsure/share/faqsure"
        for rel in ("lib/faqsure/fcgi-bin/keys.fcgi", "lib/faqsure/fcgi-bin/chat.fcgi", "bin/faqsurectl",
                    "share/faqsure/console/index.html", "share/faqsure/widget/widget.js",
                    "share/faqsure/errors/404.json", "share/faqsure/use-lite-v2.bin",
                    *(f"share/faqsure/{name}" for name in SAMPLES)):
            check((dest / "opt/faqsure" / rel).is_file(), f"{rel} is not installed")
        eq((share / "widget/widget.js").read_bytes(), (ROOT / "shared/widget/widget.js").read_bytes(), "widget.js")
        # the samples name the paths of this PREFIX, not the default's
        for name in ("apache-example.conf", "faqsure-worker.service", "faqsure-spawn-fcgi@.service", "nginx.conf"):
            text = (share / name).read_text()
            check("/usr/local/" not in text and "/opt/faqsure/" in text, f"{name} names another prefix's paths")
        unit = (share / "faqsure-worker.service").read_text()
        for line in ("User=www-data", "Restart=on-failure", "Environment=FAQSURE_CONFIG=/etc/faqsure/faqsure.conf",
                     "ExecStart=/opt/faqsure/bin/faqsurectl worker"):
            check(f"\n{line}\n" in unit, f"the worker unit lacks {line!r}")
        check(not (dest / "etc/logrotate.d").exists(), "make install wrote into /etc/logrotate.d")
        conf = dest / "etc/faqsure/faqsure.conf"
        st = conf.stat()
        eq(stat.S_IMODE(st.st_mode), 0o640, "faqsure.conf's mode")
        if os.geteuid() == 0:
            eq(st.st_gid, group.gr_gid, "faqsure.conf's group: the web server must read it")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_mariadb_sample_sets_what_faqsure_needs():
    """vendor-config/mariadb-faqsure.cnf is read by MariaDB as meant (mariadbd prints the values it would use)."""
    if not shutil.which("mariadbd"):
        raise SkipTest("no mariadbd")
    r = subprocess.run(["mariadbd", f"--defaults-file={ROOT / 'vendor-config/mariadb-faqsure.cnf'}", "--verbose",
                        "--help"], capture_output=True, text=True, timeout=60)
    values = dict(line.split(None, 1) for line in r.stdout.splitlines() if len(line.split(None, 1)) == 2)
    eq(values.get("max-allowed-packet", "").strip(), str(64 * 1024 * 1024), "max_allowed_packet")
    eq(values.get("binlog-format", "").strip(), "ROW", "binlog_format")
    eq(values.get("character-set-server", "").strip(), "utf8mb4", "character-set-server")


class Site(HttpClient):
    def __init__(self, port):
        self.port = port


def apache_conf(run, port, site, snippet, modules):
    """A server as Debian's apache2 would have it after `a2enmod fcgid` + modules, with one VirtualHost: the static
    site, its own error page, and the README's Include line inside it."""
    loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in
                      ["mpm_event", "authz_core", "alias", "mime", "dir", "fcgid", *modules])
    return f"""ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {run}/apache.pid
DefaultRuntimeDir {run}
ErrorLog {run}/error.log
LogLevel warn
User www-data
Group www-data
{loads}
TypesConfig /etc/mime.types
FcgidIPCDir {run}/fcgid
FcgidProcessTableFile {run}/fcgid/shm
<Directory />
    Require all denied
    AllowOverride None
</Directory>
<VirtualHost 127.0.0.1:{port}>
    ServerName site.example
    DocumentRoot {site}
    <Directory {site}>
        Require all granted
        DirectoryIndex index.html
    </Directory>
    ErrorDocument 404 /not-found.html
    Include {snippet}
</VirtualHost>
"""


def start_apache(conf_path, run, port):
    r = subprocess.run(["apache2", "-f", str(conf_path), "-k", "start"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"apache2 did not start: {r.stderr}\n{(run / 'error.log').read_text(errors='replace')}")
    site = Site(port)

    def up():
        try:
            return site.get("/", parse_json=False, timeout=2).status == 200
        except OSError:
            return False

    wait_for(up, "the private Apache answers", 20, interval=0.2)
    return site


def stop_apache(conf_path, run):
    pidfile = run / "apache.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    subprocess.run(["apache2", "-f", str(conf_path), "-k", "stop"], capture_output=True, timeout=60)

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True

    wait_for(gone, "the private Apache stops", 30, interval=0.2)


def expect_site_page(r, status, text, what):
    eq(r.status, status, f"{what}: status ({r.describe()})")
    check(not r.headers.get("Content-Type", "").startswith("application/json"),
          f"{what}: answered as JSON ({r.headers.get('Content-Type')})")
    check(text in r.body.decode("utf-8", "replace"), f"{what}: not the site's page: {r.body[:200]!r}")


def expect_api_error(r, status, code, what):
    eq(r.status, status, f"{what}: status ({r.describe()})")
    check(r.headers.get("Content-Type", "").startswith("application/json"), f"{what}: Content-Type "
          f"{r.headers.get('Content-Type')!r}, body {r.body[:200]!r}")
    check(isinstance(r.json, dict) and r.json.get("error") == code, f"{what}: body {r.json!r}")


def test_install_next_to_a_static_site_as_the_readme_says(s):
    if os.geteuid() != 0:
        raise SkipTest("starting Apache as the README does needs root")
    if not os.path.exists(f"{MODULES}/mod_fcgid.so"):
        raise SkipTest("mod_fcgid is not installed")
    top = Path(tempfile.mkdtemp(prefix="faqsure-readme-", dir="/tmp"))
    os.chmod(top, 0o755)  # www-data must reach the installed programs and configuration
    dest, run, site = top / "root", top / "run", top / "site"
    conf_path = run / "httpd.conf"
    try:
        # make && sudo make install
        make_install(dest)
        # the configuration: the database's socket, user and (quoted) password, as the README's editor step does
        db = s.db_settings()
        prefix = dest / "usr/local"
        conf = dest / "etc/faqsure/faqsure.conf"
        with open(conf, "a") as f:
            f.write(f'\n[database]\nsocket = {db["socket"]}\nuser = {db["user"]}\npassword = "{db["password"]}"\n'
                    f'name = {db["name"]}\n[answerer]\nsentence_model = {prefix}/share/faqsure/use-lite-v2.bin\n')
        # faqsurectl migrate (the schema is there already: nothing to do), an account and an admin key
        ctl = [str(prefix / "bin/faqsurectl"), "--config", str(conf)]
        r = subprocess.run(ctl + ["migrate"], capture_output=True, text=True, timeout=120)
        eq(r.returncode, 0, f"faqsurectl migrate: {r.stderr}")
        account = f"readme{int(time.time() * 1000) % 10 ** 9}"
        r = subprocess.run(ctl + ["account", "create", account], capture_output=True, text=True, timeout=60)
        eq(r.returncode, 0, f"faqsurectl account create: {r.stderr}")
        r = subprocess.run(ctl + ["key", "create", "--account", account, "--name", "Admin", "--scope", "admin"],
                           capture_output=True, text=True, timeout=60)
        eq(r.returncode, 0, f"faqsurectl key create: {r.stderr}")
        key = r.stdout.strip().splitlines()[-1]

        # the static site that was there first
        (site / "apidocs").mkdir(parents=True)
        (site / "api").mkdir()
        (site / "index.html").write_text("<!doctype html><title>Shop</title><p>Welcome to the shop.</p>\n")
        (site / "not-found.html").write_text(SITE_404)
        (site / "api-docs.html").write_text("<!doctype html><p>The shop's own API documentation.</p>\n")
        (site / "apidocs/index.html").write_text("<!doctype html><p>More of the shop's docs.</p>\n")
        (site / "api/status.html").write_text("<!doctype html><p>The shop's own /api page.</p>\n")
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)

        # the installed snippet with the paths of this install (the README: change them to where FAQSure is)
        (run / "fcgid").mkdir(parents=True)
        shutil.chown(run / "fcgid", "www-data")
        text = (prefix / "share/faqsure/apache-example.conf").read_text()
        snippet = run / "faqsure.conf"
        snippet.write_text(text.replace("/usr/local/", f"{prefix}/").replace("/etc/faqsure/", f"{dest}/etc/faqsure/"))

        port = _free_port_other_than(s.port)
        uploaded = []
        for modules, full in ((["rewrite", "headers", "unique_id", "reqtimeout"], True), ([], False)):
            what = "with rewrite, headers, unique_id" if full else "with none of rewrite, headers, unique_id"
            conf_path.write_text(apache_conf(run, port, site, snippet, modules))
            web = start_apache(conf_path, run, port)
            try:
                # the site stays its own
                expect_site_page(web.get("/", parse_json=False), 200, "Welcome to the shop", f"{what}: /")
                expect_site_page(web.get("/no-such-page.html", parse_json=False), 404, "site's own page",
                                 f"{what}: a missing page of the site")
                expect_site_page(web.get("/api-docs.html", parse_json=False), 200, "own API documentation",
                                 f"{what}: /api-docs.html")
                expect_site_page(web.get("/apidocs/", parse_json=False), 200, "More of the shop's docs",
                                 f"{what}: /apidocs/")
                expect_site_page(web.get("/api/status.html", parse_json=False), 200, "own /api page",
                                 f"{what}: /api/status.html")
                expect_site_page(web.get("/api/missing.html", parse_json=False), 404, "site's own page",
                                 f"{what}: /api/missing.html")
                # the API answers under /api/v1, in JSON
                h = web.get("/api/v1/health")
                eq(h.status, 200, f"{what}: health ({h.describe()})")
                eq((h.json.get("database"), h.json["worker"]["ok"]), ("ok", True), f"{what}: health {h.json}")
                d = web.get("/api/v1/documents", key=key)
                eq((d.status, len(d.json.get("documents"))), (200, len(uploaded)), f"{what}: the account's documents")
                # an upload through this Apache (the run's worker, on the same database, processes it)
                body, ctype = multipart([("file", f"Installed as the README says, {what}.\n".encode(),
                                          f"install-{len(uploaded)}.txt", "text/plain")])
                u = web.post("/api/v1/documents/upload", body, key=key, headers={"Content-Type": ctype})
                eq((u.status, u.json.get("status")), (200, "processing"), f"{what}: upload ({u.describe()})")
                uploaded.append(u.json["id"])
                for path in ("/api/v1/nope", "/api/v2/documents", "/api/", "/api"):
                    expect_api_error(web.get(path, key=key), 404, "not_found", f"{what}: GET {path}")
                expect_api_error(web.get("/api/v1/documents"), 401, "invalid_api_key", f"{what}: no key")
                c = web.get("/console/", parse_json=False)
                eq(c.status, 200, f"{what}: the console")
                if full:
                    expect_api_error(web.request("TRACE", "/api/v1/health"), 405, "method_not_allowed",
                                     f"{what}: TRACE on the API")
                    check(web.request("TRACE", "/api/v1/health").headers.get("X-Request-Id"),
                          f"{what}: Apache's own answer carries a request id")
                    raw = web.raw("POST", "/api/v1/documents/upload",
                                  headers={"X-API-Key": key, "Content-Length": str(40 * 1024 * 1024),
                                           "Content-Type": "multipart/form-data; boundary=x"})
                    check(raw.startswith(b"HTTP/1.1 413") and b'"file_too_large"' in raw,
                          f"{what}: an announced 40 MB upload: {raw[:300]!r}")
                else:
                    # (raw: Apache's echo is not an answer of FAQSure's, nor among those checked against openapi.json)
                    t = web.raw("TRACE", "/api/v1/health")
                    check(t.startswith((b"HTTP/1.1 200", b"HTTP/1.1 405")),
                          f"{what}: TRACE follows the server's TraceEnable: {t[:200]!r}")
            finally:
                stop_apache(conf_path, run)
        for doc_id in uploaded:  # the worker (the run's, on the same database) made them searchable
            s.wait_document(key, doc_id, "ready")
    finally:
        try:
            stop_apache(conf_path, run)
        finally:
            log = run / "error.log"
            if log.exists():
                bad = [ln for ln in log.read_text(errors="replace").splitlines() if "Sanitizer" in ln]
                check(not bad, "sanitizer reports:\n" + "\n".join(bad))
            shutil.rmtree(top, ignore_errors=True)
