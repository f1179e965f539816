# faqsurectl on a stack: accounts, keys, and configuration copies.
import os
import subprocess
import tempfile
from pathlib import Path

from checks import KEY_RE, check, unique
from paths import CTL


class Admin:
    """The admin command against a stack; needs self.config_path."""

    def ctl(self, *args, config=None, check_rc=True, timeout=30):
        env = dict(os.environ)
        env["FAQSURE_CONFIG"] = str(config or self.config_path)
        r = subprocess.run([str(CTL), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check_rc and r.returncode != 0:
            raise AssertionError(f"faqsurectl {' '.join(map(str, args))} exited {r.returncode}: "
                                 f"stdout {r.stdout!r} stderr {r.stderr!r}")
        return r

    def new_account(self, prefix="acct", balance=None, unlimited=False):
        name = unique(prefix)
        args = ["account", "create", name]
        if balance is not None:
            args += ["--balance", balance]
        if unlimited:
            args.append("--unlimited")
        self.ctl(*args)
        return name

    def new_key(self, account, name="k", per_minute=None, per_hour=None, expires=None, scope=None):
        """Creates a key with faqsurectl and returns the secret (the last line of stdout)."""
        args = ["key", "create", "--account", account, "--name", name]
        if per_minute is not None:
            args += ["--per-minute", per_minute]
        if per_hour is not None:
            args += ["--per-hour", per_hour]
        if expires is not None:
            args += ["--expires", expires]
        if scope is not None:
            args += ["--scope", scope]
        r = self.ctl(*args)
        lines = r.stdout.rstrip("\n").split("\n")
        key = lines[-1]
        check(KEY_RE.match(key) is not None, f"key create: last line is not a key: {r.stdout!r}")
        return key

    def balance(self, account):
        """The account's token balance as `faqsurectl account list` shows it: an int, or None when unlimited."""
        for line in self.ctl("account", "list").stdout.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 3 and cols[1] == account:
                return None if cols[2] == "unlimited" else int(cols[2])
        raise AssertionError(f"faqsurectl account list does not show {account!r}")

    def set_balance(self, account, n):
        """Tops the account up (or down) to exactly n tokens, as an operator would."""
        self.ctl("account", "topup", account, n - self.balance(account))

    def account_with_key(self, prefix="acct", **kw):
        account = self.new_account(prefix)
        return account, self.new_key(account, **kw)

    def docs_key(self, prefix="docs", **kw):
        """A fresh account and a key with room for polling and many uploads."""
        account = self.new_account(prefix, **kw)
        return account, self.new_key(account, per_minute=10000, per_hour=1000000)

    def config_copy(self, extra):
        """A copy of the stack's configuration with `extra` (INI text) appended, in a temp dir; the caller
        removes path.parent."""
        tmp = Path(tempfile.mkdtemp(prefix="faqsure-conf-", dir="/tmp"))
        os.chmod(tmp, 0o755)
        conf = tmp / "faqsure.conf"
        conf.write_text(self.config_path.read_text().rstrip("\n") + "\n\n" + extra.strip("\n") + "\n")
        return conf

