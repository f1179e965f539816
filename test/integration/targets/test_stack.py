# `make run` as a user sees it: a second stack (its own VARDIR and PORT) next to the harness's, the printed curl
# line answers, a second run reuses the key, and `stop` leaves no process and no listener behind.
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from harness import BUILD, CTL, KEY_RE, STACK_SH, _free_port_other_than, check, eq, expect_healthy, stack

EMPTY = {"documents": [], "count": 0, "has_more": False, "next_cursor": None}


def run_stack_sh(action, env, timeout=180):
    return subprocess.run(["bash", str(STACK_SH), action], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def curl_line(out):
    """The printed line that lists the documents (the others show an upload, a search and a chat)."""
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("curl ")]
    eq(len(lines), 4, f"lines starting with 'curl ' in the output of stack.sh run:\n{out}")
    check("/api/v1/documents/upload " in lines[1] and "/api/v1/search " in lines[2] and "/api/v1/chat " in lines[3],
          f"the second, third and fourth curl lines should show an upload, a search and a chat:\n{out}")
    return lines[0]


def printed_key(out):
    keys = [w for w in re.split(r"[\s\"']+", out) if KEY_RE.match(w)]
    check(keys, f"stack.sh run printed no key:\n{out}")
    eq(len(set(keys)), 1, "distinct keys printed by stack.sh run")
    return keys[0]


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def processes_using(vardir):
    """(pid, cmdline) of every process whose command line mentions vardir."""
    found = []
    needle = str(vardir).encode()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmd:
            found.append((int(p.name), cmd.replace(b"\0", b" ").decode("utf-8", "replace").strip()))
    return found


def demo_keys(vardir):
    env = dict(os.environ, FAQSURE_CONFIG=str(vardir / "faqsure.conf"))
    r = subprocess.run([str(CTL), "key", "list", "--account", "demo"], env=env, capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    eq(r.returncode, 0, f"faqsurectl key list --account demo exit code (stderr {r.stderr!r})")
    return [line for line in r.stdout.splitlines()
            if re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s", line)]


def test_make_run_second_stack_side_by_side():
    main = stack()
    vardir = Path(tempfile.mkdtemp(prefix="faqsure-run-it-", dir="/tmp"))
    os.chmod(vardir, 0o755)
    port = _free_port_other_than(main.port)
    env = dict(os.environ, VARDIR=str(vardir), PORT=str(port), BUILDDIR=str(BUILD))
    env.pop("EXTRA_FCGI", None)
    _, main_key = main.account_with_key("side-by-side")
    stopped = False
    try:
        r = run_stack_sh("run", env)
        eq(r.returncode, 0, f"stack.sh run exit code\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        line = curl_line(r.stdout)
        check(f"127.0.0.1:{port}/" in line, f"the curl line does not use port {port}: {line!r}")
        key = printed_key(r.stdout)
        c = subprocess.run(line, shell=True, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        eq(c.returncode, 0, f"exit code of {line!r} (stderr {c.stderr!r})")
        try:
            body = json.loads(c.stdout)
        except ValueError:
            raise AssertionError(f"the printed curl line did not answer JSON: {c.stdout[:300]!r}") from None
        eq(body, EMPTY, "answer of the printed curl line")
        check((vardir / "faqsure.conf").exists(), f"no {vardir}/faqsure.conf")
        eq(len(demo_keys(vardir)), 1, "demo keys after the first run")

        again = run_stack_sh("run", env)
        eq(again.returncode, 0, f"second stack.sh run exit code\nstdout:\n{again.stdout}\nstderr:\n{again.stderr}")
        eq(printed_key(again.stdout), key, "key printed by the second run")
        eq(curl_line(again.stdout), line, "curl line printed by the second run")
        eq(len(demo_keys(vardir)), 1, "demo keys after the second run")

        # Both stacks answer, each with its own data.
        mine = subprocess.run(line.replace("curl -s ", "curl -s -o /dev/null -w '%{http_code}' ", 1), shell=True,
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        eq(mine.stdout, "200", f"status of the curl line after the second run ({mine.stderr!r})")
        h = main.get("/api/v1/health")
        expect_healthy(h, "the harness stack's health")
        eq(main.get("/api/v1/documents", key=main_key).status, 200, "a harness-stack key on the harness stack")
        eq(main.get("/api/v1/documents", key=key).status, 401, "the new stack's key on the harness stack")

        stop = run_stack_sh("stop", env, timeout=120)
        stopped = True
        eq(stop.returncode, 0, f"stack.sh stop exit code\nstdout:\n{stop.stdout}\nstderr:\n{stop.stderr}")
        deadline = time.time() + 5  # Apache's children may take a moment to go
        while (answers(port) or processes_using(vardir)) and time.time() < deadline:
            time.sleep(0.2)
        check(not answers(port), f"port {port} still accepts connections after stack.sh stop")
        left = processes_using(vardir)
        check(not left, f"processes still using {vardir} after stack.sh stop: {left}")
        h = main.get("/api/v1/health")
        eq(h.status, 200, f"the harness stack after the other stack stopped ({h.describe()})")
    finally:
        if not stopped:
            run_stack_sh("stop", env, timeout=120)
        if os.environ.get("FAQSURE_IT_KEEP") == "1":
            print(f"second stack dir kept: {vardir}", flush=True)
        elif not processes_using(vardir):
            shutil.rmtree(vardir, ignore_errors=True)


def test_make_run_keeps_the_local_conf(s):
    """$VARDIR/faqsure.local.conf is the operator's: stack.sh never writes it and appends it to the faqsure.conf it
    writes at each start, so settings there (here an OpenAI-compatible answerer, the stand-in, and a message
    limit) survive every `make run`, and an edit applies at the next one; `make run` says where the file is and
    how to point the stack at an upstream; a bad line is reported with the local file's own line number."""
    from standins import start_standin, stop_standin
    main = stack()
    proc, upstream = start_standin("openai_standin.py")
    vardir = Path(tempfile.mkdtemp(prefix="faqsure-local-it-", dir="/tmp"))
    os.chmod(vardir, 0o755)
    port = _free_port_other_than(main.port)
    env = dict(os.environ, VARDIR=str(vardir), PORT=str(port), BUILDDIR=str(BUILD))
    env.pop("EXTRA_FCGI", None)
    env.pop("FAQSURE_EXTRA_CONFIG", None)
    local = vardir / "faqsure.local.conf"

    def write_local(limit, extra=""):
        local.write_text(f"# mine\n[answerer]\nbackend = openai\nurl = http://127.0.0.1:{upstream}/v1\n"
                         f"model = standin-chat\n{extra}\n[chat]\nmax_message_chars = {limit}\n")

    def chat_status(key, message):
        c = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/api/v1/chat",
                            "-H", f"X-API-Key: {key}", "-H", "Content-Type: application/json",
                            "-d", json.dumps({"message": message, "use_rag": False})],
                           capture_output=True, text=True, timeout=60)
        return c.stdout

    def chat_answer(key, message):
        c = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/api/v1/chat", "-H", f"X-API-Key: {key}",
                            "-H", "Content-Type: application/json",
                            "-d", json.dumps({"message": message, "use_rag": False})],
                           capture_output=True, text=True, timeout=60)
        return json.loads(c.stdout)

    try:
        write_local(60)
        r = run_stack_sh("run", env)
        eq(r.returncode, 0, f"stack.sh run exit code\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        check(f"{local} (in use)" in r.stdout and "backend = openai" in r.stdout,
              f"make run says where the local settings go and how to use an upstream:\n{r.stdout}")
        conf = (vardir / "faqsure.conf").read_text()
        check(f"url = http://127.0.0.1:{upstream}/v1" in conf, f"the local settings in faqsure.conf:\n{conf}")
        key = printed_key(r.stdout)
        body = chat_answer(key, "Hello from the local configuration")
        eq(body.get("message"), "Echo: Hello from the local configuration", f"the answer comes from the upstream: {body}")
        eq(chat_status(key, "x" * 70), "400", "a message over the local limit of 60 characters")

        write_local(80)  # an edit applies at the next start; the file itself is never rewritten
        before = local.read_text()
        again = run_stack_sh("run", env)
        eq(again.returncode, 0, f"second stack.sh run\nstdout:\n{again.stdout}\nstderr:\n{again.stderr}")
        eq(local.read_text(), before, "stack.sh leaves faqsure.local.conf as it is")
        eq(chat_status(key, "x" * 70), "200", "70 characters after the limit went to 80")
        eq(chat_answer(key, "Still the upstream?").get("message"), "Echo: Still the upstream?", "after the second run")

        write_local(80, extra="no_such_setting = 1")
        bad = run_stack_sh("start", env)
        check(bad.returncode != 0 and f"{local}:6: unknown setting 'no_such_setting'" in bad.stderr,
              f"a bad local line is named by the local file's line:\nexit {bad.returncode}\n{bad.stderr}")
    finally:
        run_stack_sh("stop", env, timeout=120)
        stop_standin(proc)
        if os.environ.get("FAQSURE_IT_KEEP") != "1" and not processes_using(vardir):
            shutil.rmtree(vardir, ignore_errors=True)
