# An upload larger than the database's max_allowed_packet is answered 413 naming the limit, not 503: MariaDB
# drops the connection for a packet above it (2006), which looks like an outage. The server's value is set small
# for one fresh process (plain CGI: a new connection reads the global value at connect, as a new FastCGI process
# does) and restored at once, so the stack's other processes and tests keep theirs.
import contextlib
import subprocess

from harness import DOCUMENTS_FCGI, check, eq, multipart

PACKET = 1024 * 1024  # the smallest MariaDB accepts is 1 KiB; 1 MiB keeps the numbers readable


def root_sql(s, statement):
    sock = s.db_settings()["socket"]
    r = subprocess.run(["mariadb", "--no-defaults", f"--socket={sock}", "-uroot", "--batch", "--skip-column-names",
                        "-e", statement], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, f"mariadb as root: {r.stderr}")
    return r.stdout.strip()


@contextlib.contextmanager
def small_packet(s, size):
    before = root_sql(s, "SELECT @@GLOBAL.max_allowed_packet")
    root_sql(s, f"SET GLOBAL max_allowed_packet = {size}")
    try:
        yield
    finally:
        root_sql(s, f"SET GLOBAL max_allowed_packet = {before}")


def cgi_upload(s, key, data, filename):
    body, ctype = multipart([("file", data, filename, "text/plain")])
    return s.cgi(DOCUMENTS_FCGI, "POST", "/api/v1/documents/upload", key=key, body=body,
                 extra_env={"CONTENT_TYPE": ctype}, timeout=60)


def test_upload_over_max_allowed_packet_is_413_naming_the_limit(s):
    account, key = s.account_with_key(per_minute=100)
    big = (b"The packet limit of the database decides. " * 50000)[:2 * PACKET]  # twice the limit
    small = b"A file well under the limit is stored as before.\n" * 200
    with small_packet(s, PACKET):
        status, headers, payload, rc = cgi_upload(s, key, big, "big.txt")
        eq(rc, 0, "exit code")
        eq(status, 413, f"status of a {len(big)}-byte upload over a {PACKET}-byte packet ({payload[:300]!r})")
        text = payload.decode("utf-8")
        check('"file_too_large"' in text, f"error name: {text}")
        check("max_allowed_packet" in text and str(PACKET) in text, f"the message names the limit: {text}")
        status, _, payload, _ = cgi_upload(s, key, small, "small.txt")
        eq(status, 200, f"a {len(small)}-byte upload under the limit ({payload[:300]!r})")
    eq(s.account_docs(account), 1, "documents stored: only the small one")
    eq(root_sql(s, "SELECT @@GLOBAL.max_allowed_packet"), str(64 * 1024 * 1024), "the stack's packet, restored")
