# The stack's database seen directly: for effects a client cannot see through the API (rows that must be gone,
# locks, queues, counters), and for waiting on the worker without spending a key's rate limit on polling. Black-box
# tests use it only for those; what a user can see they check through the API or faqsurectl.
import configparser
import contextlib
import hashlib
import re
import subprocess

from checks import check, eq, sql_quote, wait_for


class Database:
    """SQL on the stack's database (the mariadb client, over its socket or TCP); needs self.config_path."""

    def db_settings(self):
        cp = configparser.ConfigParser(interpolation=None, strict=False)  # a section may repeat, as FAQSure allows
        cp.read(self.config_path)
        db = cp["database"]
        unq = lambda v: v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v  # noqa: E731
        return {k: unq(db.get(k, d)) for k, d in
                (("socket", ""), ("host", ""), ("port", "3306"), ("user", "faqsure"), ("password", ""),
                 ("name", "faqsure"))}

    def _db_args(self, tool):
        s = self.db_settings()
        check(s["socket"] or s["host"], f"no [database] socket or host in {self.config_path}")
        host, port = s["host"].split(",")[0].strip(), s["port"]  # of several servers, the first
        m = re.fullmatch(r"\[(.+)\](?::(\d+))?|([^:]+):(\d+)", host)
        if m:
            host, port = (m.group(1), m.group(2) or port) if m.group(1) else (m.group(3), m.group(4))
        where = [f"--socket={s['socket']}"] if s["socket"] else [f"--host={host}", f"--port={port}"]
        args = [tool, "--no-defaults", *where, f"--user={s['user']}"]
        if s["password"]:
            args.append(f"--password={s['password']}")
        return args, s["name"]

    def sql(self, statement):
        args, name = self._db_args("mariadb")
        r = subprocess.run(args + ["--batch", "--binary-as-hex", "-e", statement, name], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 0, f"mariadb failed: {r.stderr.decode(errors='replace')}")
        return r.stdout

    def query(self, statement):
        """Rows of a SELECT as lists of str, with SQL NULL as None."""
        out = self.sql(statement.rstrip().rstrip(";") + ";").decode("utf-8")
        lines = out.split("\n")[1:]  # the first line names the columns
        esc = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\0": "\0"}
        unesc = lambda v: re.sub(r"\\[\\tn0]", lambda m: esc[m.group(0)], v)  # noqa: E731
        return [[None if v == "NULL" else unesc(v) for v in line.split("\t")] for line in lines if line]

    def key_id(self, key):
        """The id of an API key, found by its SHA-256 as the server does."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        rows = self.query(f"SELECT id FROM api_keys WHERE key_hash = UNHEX('{digest}')")
        eq(len(rows), 1, "api_keys rows with the key's hash")
        return rows[0][0]

    def account_id(self, name):
        rows = self.query(f"SELECT id FROM accounts WHERE name = {sql_quote(name)}")
        eq(len(rows), 1, f"accounts named {name!r}")
        return rows[0][0]

    def dump(self, tables=()):
        args, name = self._db_args("mariadb-dump")
        r = subprocess.run(args + ["--skip-extended-insert", name, *tables], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0, f"mariadb-dump failed: {r.stderr.decode(errors='replace')}")
        return r.stdout



    @contextlib.contextmanager
    def holding_row(self, table, row_id, seconds=10):
        """Locks one row (SELECT … FOR UPDATE) in a transaction of a session of its own and keeps it locked inside
        the block: the session waits for its next statement meanwhile (no timer), and ends with the block, its
        transaction rolled back."""
        args, name = self._db_args("mariadb")
        lock = f"SELECT id FROM {table} WHERE id = {sql_quote(row_id)} FOR UPDATE"
        p = subprocess.Popen(args + ["--batch", "--skip-column-names", name], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            p.stdin.write(f"BEGIN;\n{lock};\nDO 0;\nDO 0;\n")
            p.stdin.flush()

            def held():  # another session cannot lock the row without waiting
                if p.poll() is not None:
                    raise AssertionError(f"the locking session ended: {p.stderr.read()!r}")
                return self.query(lock + " SKIP LOCKED") == []

            wait_for(held, f"{table} row {row_id} locked by a session of the test", seconds, interval=0.1)
            yield
        finally:
            p.stdin.close()  # the client quits: its transaction is rolled back, the lock goes
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def count_rows(self, table, where):
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0][0])

    def account_docs(self, account):
        """The number of documents (rows) of an account."""
        return self.count_rows("documents", f"account_id = {sql_quote(self.account_id(account))}")
