# Ingestion benchmark (called by test/bench/run.sh): uploads a corpus through the API while no worker runs, then
# times `faqsurectl worker --once` draining the queue, and prints documents/s, MB/s of source and of extracted
# text (the chunks' text, overlaps included), and chunks/s.
# usage: ingest.py URL KEY CTL CONFIG SOCKET NAME (DIR | --generate N)
import http.client
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

url, key, ctl, config, sock, name, source = sys.argv[1:8]
host = urllib.parse.urlsplit(url)


def upload(filename, data):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    conn.request("POST", "/api/v1/documents/upload", body,
                 {"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    r = conn.getresponse()
    r.read()
    conn.close()
    if r.status != 200:
        raise SystemExit(f"bench: upload of {filename} answered {r.status}")


def corpus():
    if source == "--generate":
        n = int(sys.argv[8])
        rnd = random.Random(7)
        words = [w.strip() for w in open("/usr/share/dict/words", errors="ignore")] if os.path.exists(
            "/usr/share/dict/words") else [f"word{i}" for i in range(20000)]
        for i in range(n):
            paras = []
            for _ in range(rnd.randint(2, 5)):
                paras.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(30, 80))) + ".")
            text = f"# Topic {i}\n\n" + "\n\n".join(paras) + "\n"
            yield f"doc-{i}.md", text.encode()
    else:
        for f in sorted(os.listdir(source)):
            p = os.path.join(source, f)
            if os.path.isfile(p) and f != "SOURCE.md":
                yield f, open(p, "rb").read()


def sql(query):
    out = subprocess.run(["mariadb", "--no-defaults", "--socket", sock, "-uroot", "faqsure", "-N", "-e", query],
                         capture_output=True, text=True, check=True).stdout.split()
    return [float(x) if x != "NULL" else 0.0 for x in out]


items = list(corpus())
lock = threading.Lock()
queue = list(items)


def uploader():
    while True:
        with lock:
            if not queue:
                return
            f, data = queue.pop()
        upload(f, data)


t0 = time.time()
threads = [threading.Thread(target=uploader) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
upload_s = time.time() - t0
env = dict(os.environ, FAQSURE_CONFIG=config)
t0 = time.time()
subprocess.run([ctl, "worker", "--once"], env=env, check=True, stderr=subprocess.DEVNULL)
work_s = time.time() - t0
docs, ready, src_bytes = sql("SELECT COUNT(*), SUM(status = 'ready'), SUM(size_bytes) FROM documents")
chunks, text_chars = sql("SELECT COUNT(*), COALESCE(SUM(CHAR_LENGTH(text)), 0) FROM chunks")
print(f"{name}: {int(docs)} documents ({int(ready)} ready), {src_bytes / 1e6:.1f} MB source, {int(chunks)} chunks; "
      f"uploads {len(items) / upload_s:.0f} docs/s through the API")
print(f"  worker (one process, builtin embedder): {docs / work_s:.1f} docs/s, {src_bytes / 1e6 / work_s:.2f} MB/s "
      f"source, {text_chars / 1e6 / work_s:.2f} MB/s extracted text, {chunks / work_s:.0f} chunks/s "
      f"({work_s:.1f} s)")
subprocess.run(["mariadb", "--no-defaults", "--socket", sock, "-uroot", "faqsure", "-e",
                "DELETE FROM documents"], check=True)
