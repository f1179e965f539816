# `make install` into a staging folder (DESTDIR): the programs, the console, the widget, both web server snippets,
# and a configuration the web server's group can read and nobody else.
import grp
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from harness import BUILD, ROOT, SkipTest, check, eq


def test_make_install_puts_everything_where_the_snippets_expect_it():
    try:
        group = grp.getgrnam("www-data")
    except KeyError:
        raise SkipTest("no www-data group on this machine")
    dest = Path(tempfile.mkdtemp(prefix="faqsure-install-", dir="/tmp"))
    try:
        r = subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={dest}", "PREFIX=/usr/local",
                            f"BUILD={os.path.relpath(BUILD, ROOT)}"], capture_output=True, text=True, timeout=300)
        eq(r.returncode, 0, f"make install: {r.stderr[-800:]}")
        share = dest / "usr/local/share/faqsure"
        for rel in ("lib/faqsure/fcgi-bin/keys.fcgi", "lib/faqsure/fcgi-bin/chat.fcgi", "bin/faqsurectl",
                    "share/faqsure/console/index.html", "share/faqsure/widget/widget.js",
                    "share/faqsure/apache-example.conf", "share/faqsure/lighttpd.conf",
                    "share/faqsure/errors/404.json"):
            check((dest / "usr/local" / rel).is_file(), f"{rel} is not installed")
        eq((share / "widget/widget.js").read_bytes(), (ROOT / "shared/widget/widget.js").read_bytes(), "widget.js")
        conf = dest / "etc/faqsure/faqsure.conf"
        st = conf.stat()
        eq(stat.S_IMODE(st.st_mode), 0o640, "faqsure.conf's mode")
        if os.geteuid() == 0:
            eq(st.st_gid, group.gr_gid, "faqsure.conf's group: the web server must read it")
    finally:
        shutil.rmtree(dest, ignore_errors=True)
