# faqsurectl: --help everywhere, key create/list/revoke, accounts, idempotent migrate, config errors, hashed storage.
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import CTL, KEY_RE, check, eq, expect_error, unique

DOCS = "/api/v1/documents"
SUBCOMMANDS = [["account", "create"], ["account", "list"], ["account", "topup"], ["account", "disable"],
               ["account", "enable"], ["account", "delete"], ["key", "create"],
               ["key", "list"], ["key", "revoke"], ["agent", "create"], ["agent", "list"], ["migrate"], ["worker"],
               ["reindex"], ["sentences"], ["stats"]]


def test_help_on_every_subcommand(s):
    bad = []
    for sub in [[]] + [["account"], ["key"], ["agent"]] + SUBCOMMANDS:
        r = s.ctl(*sub, "--help", check_rc=False)
        text = r.stdout + r.stderr
        if r.returncode != 0:
            bad.append(f"{' '.join(sub + ['--help'])}: exit {r.returncode}: {text.strip()[:200]!r}")
        elif not r.stdout.strip():
            bad.append(f"{' '.join(sub + ['--help'])}: nothing on stdout (stderr {r.stderr.strip()[:200]!r})")
        elif sub and sub[-1] not in text:
            bad.append(f"{' '.join(sub + ['--help'])}: usage does not mention {sub[-1]!r}: {text.strip()[:200]!r}")
    check(not bad, "\n".join(bad))
    listed = s.ctl("account", "list").stdout
    check("--help" not in listed, f"account create --help created an account: {listed!r}")


def test_help_needs_no_database():
    """--help works on a machine with no configuration and no database (FAQSURE_CONFIG unset)."""
    env = {"PATH": os.environ.get("PATH", "")}
    for sub in SUBCOMMANDS:
        r = subprocess.run([str(CTL), *sub, "--help"], env=env, capture_output=True, text=True, timeout=10)
        eq(r.returncode, 0, f"exit code of {' '.join(sub)} --help without a config (stderr {r.stderr!r})")


def test_key_create_prints_key_alone_on_last_line(s):
    account = s.new_account()
    r = s.ctl("key", "create", "--account", account, "--name", "cli-key")
    lines = r.stdout.rstrip("\n").split("\n")
    check(KEY_RE.match(lines[-1]) is not None, f"last line of stdout: {lines[-1]!r}")
    key = lines[-1]
    eq(r.stdout.count(key), 1, "times the key is printed")
    check(key not in r.stderr, "key printed on stderr")
    eq(s.get(DOCS, key=key).status, 200, "the printed key works")
    keys = {s.new_key(account, name=f"k{i}") for i in range(5)}
    eq(len(keys), 5, "five new keys are distinct")


def test_key_create_publishable_with_origins(s):
    account = s.new_account()
    r = s.ctl("key", "create", "--account", account, "--name", "site", "--origins",
              "https://Shop.Example.test/, http://localhost:8081")
    key = r.stdout.rstrip("\n").split("\n")[-1]
    check(re.fullmatch(r"faqsure_pk_[0-9A-Za-z]{43}", key) is not None, f"a publishable key: {key!r}")
    check("https://shop.example.test http://localhost:8081" in r.stdout, f"the origins are said: {r.stdout!r}")
    eq(s.get("/api/v1/widget", key=key, headers={"Origin": "http://localhost:8081"}).status, 200, "from its origin")
    expect_error(s.get("/api/v1/widget", key=key, headers={"Origin": "http://localhost:9"}), 403, "forbidden")
    expect_error(s.get(DOCS, key=key, headers={"Origin": "http://localhost:8081"}), 403, "forbidden")
    for args, says in [(["--origins", "*"], "--origins[0]"), (["--origins", "https://a.test", "--scope", "admin"],
                                                              "admin")]:
        r = s.ctl("key", "create", "--account", account, "--name", "bad", *args, check_rc=False)
        eq(r.returncode, 2, f"exit status for {args}")
        check(says in r.stderr, f"the error names {says!r}: {r.stderr!r}")


def test_key_list_shows_prefix_never_secret(s):
    account = s.new_account()
    key = s.new_key(account, name="listed-label", per_minute=7, per_hour=77)
    out = s.ctl("key", "list", "--account", account).stdout
    check(key[:17] in out, f"prefix {key[:17]!r} not in key list output: {out!r}")
    check("listed-label" in out, f"label not in key list output: {out!r}")
    check(key not in out and key[17:] not in out and key[17:30] not in out, "the secret appears in key list")
    check(re.search(r"\b7\b", out) and re.search(r"\b77\b", out), f"limits 7/77 not in key list output: {out!r}")


def test_key_revoke_by_prefix_and_by_id(s):
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    k1 = s.new_key(account, name="by-prefix")
    k2 = s.new_key(account, name="by-id")
    s.ctl("key", "revoke", k1[:17])
    expect_error(s.get(DOCS, key=k1), 401, "invalid_api_key")
    listed = s.get("/api/v1/keys", key=admin).json["keys"]
    kid = [k["id"] for k in listed if k["prefix"] == k2[:17]]
    eq(len(kid), 1, "k2 in the key list over HTTP")
    s.ctl("key", "revoke", kid[0])
    expect_error(s.get(DOCS, key=k2), 401, "invalid_api_key")
    eq(s.get(DOCS, key=admin).status, 200, "the remaining key still works")
    out = s.ctl("key", "list", "--account", account).stdout
    check(re.search(r"revoked", out, re.I), f"key list does not show revocation: {out!r}")


def test_cli_errors_exit_nonzero(s):
    account = s.new_account()
    cases = [
        ["account", "create", account],  # duplicate
        ["account", "create", unique("x"), "--balance", "abc"],
        ["account", "create", unique("x"), "--balance", "5", "--unlimited"],
        ["account", "topup", unique("nosuch"), "5"],
        ["account", "topup", account, "lots"],
        ["key", "create", "--account", unique("nosuch"), "--name", "k"],
        ["key", "create", "--account", account],  # no --name
        ["key", "create", "--account", account, "--name", "k", "--per-minute", "0"],
        ["key", "create", "--account", account, "--name", "k", "--per-minute", "abc"],
        ["key", "create", "--account", account, "--name", "k", "--per-hour", "-1"],
        ["key", "create", "--account", account, "--name", "k", "--expires", "tomorrow-ish"],
        ["key", "create", "--account", account, "--name", "k", "--scope", "root"],
        ["key", "list", "--account", unique("nosuch")],
        ["key", "revoke", "faqsure_sk_zzzzzz"],
        ["key", "revoke", "00000000-0000-4000-8000-000000000000"],
        ["account", "frobnicate"],
        ["nosuchcommand"],
    ]
    bad = []
    for args in cases:
        r = s.ctl(*args, check_rc=False)
        if r.returncode == 0:
            bad.append(f"{' '.join(args)}: exit 0 (stdout {r.stdout.strip()[:120]!r})")
        elif not r.stderr.strip():
            bad.append(f"{' '.join(args)}: exit {r.returncode} but nothing on stderr")
    check(not bad, "\n".join(bad))
    out = s.ctl("key", "list", "--account", account).stdout
    check(not re.search(r"faqsure_sk_\w{6}", out), f"a refused key create made a key: {out!r}")


def test_account_list_and_topup(s):
    name = s.new_account(balance=10)
    out = s.ctl("account", "list").stdout
    check(name in out, f"{name} not in account list: {out!r}")
    s.ctl("account", "topup", name, "32")
    line = [ln for ln in s.ctl("account", "list").stdout.splitlines() if name in ln]
    eq(len(line), 1, "lines naming the account")
    check(re.search(r"\b42\b", line[0]), f"balance 42 not shown after topup: {line[0]!r}")


def test_migrate_is_idempotent(s):
    for i in (1, 2):
        r = s.ctl("migrate", check_rc=False)
        eq(r.returncode, 0, f"migrate run {i} (stderr {r.stderr!r})")
    _, key = s.account_with_key()
    eq(s.get(DOCS, key=key).status, 200, "the API after migrating twice")


def bad_config_cases(text):
    """(description, new text, line number the error must name) for a few broken variants of a config."""
    text = text.rstrip("\n") + "\n"
    lines = text.splitlines()
    db = next(i for i, ln in enumerate(lines) if ln.strip() == "[database]")
    out = []
    unknown = lines[:db + 1] + ["no_such_setting = 1"] + lines[db + 1:]
    out.append(("unknown key", "\n".join(unknown) + "\n", db + 2))
    badval = lines[:db + 1] + ["connect_timeout = soon"] + lines[db + 1:]
    out.append(("bad value", "\n".join(badval) + "\n", db + 2))
    out.append(("unknown section", text + "\n[nonsense]\nx = 1\n", len(lines) + 2))
    out.append(("out of range", text + "\n[http]\nmax_body_bytes = -5\n", len(lines) + 3))
    return out


def test_bad_config_names_file_and_line(s):
    text = s.config_path.read_text()
    tmp = Path(tempfile.mkdtemp(prefix="faqsure-conf-", dir="/tmp"))
    try:
        bad = []
        for what, broken, line in bad_config_cases(text):
            path = tmp / f"{what.replace(' ', '-')}.conf"
            path.write_text(broken)
            r = s.ctl("account", "list", config=path, check_rc=False)
            if r.returncode == 0:
                bad.append(f"{what}: exit 0")
            elif f"{path}:{line}" not in r.stderr:
                bad.append(f"{what}: stderr does not name {path}:{line}: {r.stderr.strip()[:200]!r}")
        check(not bad, "\n".join(bad))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_keys_stored_hashed(s):
    account = s.new_account()
    admin = s.new_key(account, name="admin", scope="admin")
    created = s.post("/api/v1/keys", {"name": "over-http"}, key=admin)
    eq(created.status, 201, f"create over HTTP ({created.describe()})")
    secrets_ = [admin, created.json["key"]]
    for k in secrets_:
        eq(s.get(DOCS, key=k).status, 200, "key used once (so a usage event exists)")
    table = s.sql("SELECT * FROM api_keys")
    full = s.dump()
    for k in secrets_:
        check(k[:17].encode() in table, f"prefix {k[:17]} not in the api_keys table (wrong table?)")
        for where, data in (("api_keys table", table), ("database dump", full)):
            check(k.encode() not in data and k[17:].encode() not in data, f"the secret is stored in the {where}")
    logs = []
    for p in s.vardir.rglob("*"):
        if p.is_file() and p.stat().st_size < 50 * 1024 * 1024:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if any(k[11:].encode() in data for k in secrets_):
                logs.append(str(p))
    check(not logs, f"a secret appears in files under the stack dir: {logs}")
