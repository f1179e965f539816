# Dashboard benchmark (called by test/bench/run.sh on its private stack, or by hand on any running stack): a fresh
# account with a key gets a month of history from analytics-gen (ANALYTICS_EVENTS usage events through the usage
# queue, so the daily rollups fill as in production, and ANALYTICS_MESSAGES chat messages), then
# GET /api/v1/analytics/dashboard (the default 30-day window) is timed: the first request, then
# ANALYTICS_REQUESTS sequential ones on one connection (p50, p99), then wrk -c4 for DURATION seconds.
# usage: dashboard.py URL CTL CONFIG GENERATOR
# Environment: ANALYTICS_EVENTS (default 1000000), ANALYTICS_MESSAGES (default 100000), ANALYTICS_REQUESTS
# (default 20), DURATION (default 10; 0: no wrk run).
import http.client
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid

url, ctl, config, generator = sys.argv[1:5]
host = urllib.parse.urlsplit(url)
EVENTS = int(os.environ.get("ANALYTICS_EVENTS", "1000000") or 0)
MESSAGES = int(os.environ.get("ANALYTICS_MESSAGES", "100000") or 0)
REQUESTS = int(os.environ.get("ANALYTICS_REQUESTS", "20") or 20)
DURATION = int(os.environ.get("DURATION", "10") or 0)
DASHBOARD = "/api/v1/analytics/dashboard"


def say(line=""):
    print(line, flush=True)


def fail(msg):
    raise SystemExit(f"bench: {msg}")


def ctl_run(*args):
    r = subprocess.run([ctl, *args], env=dict(os.environ, FAQSURE_CONFIG=config), capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"faqsurectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def get(conn, key):
    """One GET of the dashboard on conn; (seconds, status, body length)."""
    t = time.perf_counter()
    conn.request("GET", DASHBOARD, headers={"X-API-Key": key})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - t, resp.status, body


def main():
    name = f"dashboard-{uuid.uuid4().hex[:8]}"
    ctl_run("account", "create", name, "--unlimited")
    key = ctl_run("key", "create", "--account", name, "--name", "dashboard", "--per-minute", "1000000",
                  "--per-hour", "100000000").strip().splitlines()[-1]
    for extra in ("widget", "backend"):  # the generator spreads the usage over the account's keys
        ctl_run("key", "create", "--account", name, "--name", extra)
    say()
    say(f"Analytics dashboard (GET {DASHBOARD}, default 30-day window) on {EVENTS:,} usage events and "
        f"{MESSAGES:,} messages:")
    t = time.perf_counter()
    r = subprocess.run([generator, name, str(EVENTS), str(MESSAGES)], env=dict(os.environ, FAQSURE_CONFIG=config),
                       capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        fail(f"analytics-gen: {r.stderr.strip()}")
    say(f"  analytics-gen: {took:.1f} s in all ({'; '.join(r.stdout.strip().splitlines())})")

    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    first, status, body = get(conn, key)
    size = len(body)
    times, errors = [], []
    if status != 200:  # counted and shown, not fatal: one bad answer should not void the figures
        errors.append(f"HTTP {status} {body[:200]!r}")
    for _ in range(REQUESTS):
        s, status, body = get(conn, key)
        times.append(s)
        if status != 200:
            errors.append(f"HTTP {status} {body[:200]!r}")
    conn.close()
    say(f"  first request {first * 1000:.0f} ms ({size:,} bytes); then {REQUESTS} sequential: "
        f"p50 {percentile(times, 50) * 1000:.0f} ms, p99 {percentile(times, 99) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms" + (f"; {len(errors)} not 200, the first: {errors[0]}" if errors else ""))

    if DURATION > 0 and shutil.which("wrk"):
        out = subprocess.run(["wrk", "-t2", "-c4", f"-d{DURATION}s", "--latency", "--timeout", "30s", "-H",
                              f"X-API-Key: {key}", url + DASHBOARD], capture_output=True, text=True).stdout
        rps = re.search(r"^Requests/sec:\s+(\S+)", out, re.M)
        p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        say(f"  wrk -t2 -c4 {DURATION}s: {rps.group(1) if rps else '?'} req/s, p50 {p50.group(1) if p50 else '?'}, "
            f"p99 {p99.group(1) if p99 else '?'}" + (f", non-2xx: {non2xx.group(1)}" if non2xx else ""))


main()
