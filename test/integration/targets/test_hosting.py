# What only the shared-hosting bundle must show (test_targets.py runs the common suite on it): its programs load
# nothing but the bundle's libraries and the host's documented ones, its private folders are never served, the
# customer's own site around it stays theirs, uploads above mod_fcgid's default body limit still arrive, the
# .htaccess falls back to plain CGI where mod_fcgid is absent, and cron's worker indexes what is uploaded.
import json

from harness import check, eq
from test_targets import json_error, target

SECRET_FOLDERS = ("etc/faqsure.conf", "etc/", "bin/faqsurectl", "lib/libfcgi.so.0", "share/use-lite-v2.bin",
                  "var/worker.log", "share/errors/404.json")


def site():
    return target("htaccess")


def test_hosting_bundle_loads_only_its_own_and_the_hosts_documented_libraries():
    s = site()
    foreign = s.foreign_libraries()
    eq(foreign, {}, "libraries resolved outside the bundle and the host list")
    check((s.bundle / "lib" / "libfcgi.so.0").exists(), "libfcgi is in the bundle")
    check(not (s.bundle / "lib" / "libc.so.6").exists(), "glibc is the host's, never bundled")
    check("needs glibc >=" in s.dist_report, f"make dist reports the glibc it needs: {s.dist_report!r}")


def test_hosting_private_folders_are_never_served():
    s = site()
    password = [line for line in s.config_path.read_text().splitlines() if line.startswith("password")][0]
    for path in SECRET_FOLDERS:
        r = s.request("GET", "/" + path, parse_json=False)
        check(r.status in (403, 404), f"GET /faqsure/{path}: {r.describe()}")
        check(password.encode() not in r.body and b"\x7fELF" not in r.body[:4], f"/faqsure/{path} leaked")
        r.json = json.loads(r.body)
        json_error(r, r.status)


def test_hosting_leaves_the_customers_own_site_alone():
    s = site()
    r = s.site_request("GET", "/", parse_json=False)
    eq(r.status, 200, f"the site's home page ({r.describe()})")
    check(b"The customer's own site" in r.body, f"the site's own page: {r.body[:200]!r}")
    r = s.site_request("GET", "/no-such-page.html", parse_json=False)
    eq(r.status, 404, "a missing page of the site")
    check(not r.headers.get("Content-Type", "").startswith("application/json"),
          f"the site's own 404 is not FAQSure's JSON: {r.describe()}")


def test_hosting_console_and_widget_are_served_from_the_folder():
    s = site()
    r = s.request("GET", "/console", parse_json=False)
    eq(r.status, 301, f"/faqsure/console ({r.describe()})")
    eq(r.headers.get("Location", "").split("127.0.0.1:" + str(s.port))[-1], "/faqsure/console/", "redirect")
    r = s.request("GET", "/console/", parse_json=False)
    eq(r.status, 200, f"/faqsure/console/ ({r.describe()})")
    check(r.headers.get("Content-Type", "").startswith("text/html"), f"console type {r.headers.get('Content-Type')}")
    r = s.request("GET", "/widget.js", parse_json=False)
    eq(r.status, 200, f"/faqsure/widget.js ({r.describe()})")
    check("javascript" in r.headers.get("Content-Type", ""), f"widget type {r.headers.get('Content-Type')}")


def test_hosting_upload_above_mod_fcgid_default_limit_is_indexed_by_cron():
    """mod_fcgid passes at most 128 KiB of body unless the host raised FcgidMaxRequestLen: the .htaccess sends
    uploads to the CGI twin of the program, and the cron-run worker indexes them."""
    s = site()
    _, key = s.docs_key("hosting-big")
    text = "".join(f"Paragraph {i}: the archive room on floor {i % 7} keeps records for {i} years.\n\n"
                   for i in range(4000)).encode()
    check(len(text) > 200 * 1024, "the document is above mod_fcgid's 128 KiB default")
    doc_id = s.upload_ok(key, text, "archive.txt")
    state = s.document_decided(key, doc_id, 90)  # by the cron-run worker
    eq(state["status"], "ready", f"the large upload {state}")
    check(state["chunk_count"] > 10, f"chunks of the large upload: {state}")
    check(not s.cron_errors, f"the cron line failed: {s.cron_errors[:3]}")
    log = (s.bundle / "var" / "worker.log").read_text()
    check(doc_id in log, f"the worker's log (var/worker.log) names the document: {log[-500:]!r}")


def test_hosting_htaccess_falls_back_to_plain_cgi_without_mod_fcgid():
    s = site()
    _, key = s.docs_key("hosting-cgi")
    cgi = s.without_fcgid()
    try:
        r = cgi.get("/api/v1/health")
        eq(r.status, 200, f"health through mod_cgid ({r.describe()})")
        check("mod_fcgid" not in r.headers.get("Server", ""), f"an Apache without mod_fcgid: {r.headers.get('Server')}")
        doc_id = cgi.upload_ok(key, b"The loading dock opens at 6 am on weekdays.\n", "dock.txt")
        r = cgi.get(f"/api/v1/documents/{doc_id}", key=key)
        eq(r.status, 200, f"the upload read back through CGI ({r.describe()})")
        json_error(cgi.get("/api/v1/nothing-here", key=key), 404, "not_found")
    finally:
        cgi.stop_apache()
