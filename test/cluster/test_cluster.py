# FAQSure on a 3-node MariaDB Galera cluster behind two web nodes (conftest.py): the schema made from two nodes at
# once, keys made on one node working on the other, documents uploaded on one and answered on the other, a rate
# limit exact over both nodes however requests are spread, and every document processed once by one of the two
# workers. Through HTTP, faqsurectl and (for what a client cannot see: chunk rows, jobs) SQL on one Galera node.
import concurrent.futures
import os
import re
import time
from collections import Counter

from harness import check, eq, expect_error, fresh_minute, sql_quote, wait_for
from kb import KB_FILES

DOCS = "/api/v1/documents"


def test_nodes_are_one_cluster_with_the_sample_settings(cluster):
    """galera.sh starts each node from vendor-config's two samples: what they set is what the tests ran on."""
    sync_wait = os.environ.get("GALERA_SYNC_WAIT", "1")
    for node in (cluster.a, cluster.b):
        rows = node.query("SELECT @@wsrep_on, @@wsrep_sync_wait, @@binlog_format, @@innodb_autoinc_lock_mode,"
                          " @@max_allowed_packet, @@character_set_server")
        eq(rows, [["1", sync_wait, "ROW", "2", str(64 * 1024 * 1024), "utf8mb4"]], f"settings of web node {node.name}'s")
        status = dict(node.query("SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_local_state_comment')"))
        eq(status, {"wsrep_cluster_size": "3", "wsrep_local_state_comment": "Synced"}, f"node {node.name}'s cluster")


def test_migrate_run_on_two_nodes_at_once_applies_each_migration_once(cluster):
    eq([rc for rc, _, _ in cluster.migrations], [0, 0],
       f"both migrate runs succeed: {[(rc, err.strip()) for rc, _, err in cluster.migrations]}")
    applied = [int(re.search(r"\((\d+) migrations? applied now, (\d+) in all\)", out).group(1))
               for _, out, _ in cluster.migrations]
    total = int(re.search(r"(\d+) in all", cluster.migrations[0][1]).group(1))
    eq(sorted(applied), [0, total], f"one run applied every migration, the other none: {cluster.migrations}")
    rows = cluster.a.query("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations")
    eq(rows, [[str(total), str(total)]], "schema_migrations: one row per migration")
    # and once more on the third node, with the schema in place: nothing to do, no error
    r = cluster.a.ctl("migrate", config=cluster.db_config(3))
    check("(0 migrations applied now" in r.stdout, f"migrate on node 3: {r.stdout!r}")


def test_keys_made_on_one_node_work_on_the_other_at_once(cluster):
    a, b = cluster.a, cluster.b
    for i in range(10):  # each time at once: a read on B waits for what A committed (wsrep_sync_wait)
        _, key = a.account_with_key(f"cluster-keys-{i}", scope="admin", per_minute=1000, per_hour=10000)
        r = b.get(DOCS, key=key)
        eq(r.status, 200, f"key {i} made with faqsurectl on A, used on B ({r.describe()})")
        r = a.post("/api/v1/keys", {"name": "made on A", "rate_limit_per_minute": 50}, key=key)
        eq(r.status, 201, f"POST /api/v1/keys on A ({r.describe()})")
        made, made_id = r.json["key"], r.json["id"]
        eq(b.get(DOCS, key=made).status, 200, f"a key made through A's API, used on B at once ({i})")
        r = b.delete(f"/api/v1/keys/{made_id}", key=key)
        check(r.status in (200, 204), f"revoke on B ({r.describe()})")
        expect_error(a.get(DOCS, key=made), 401, "invalid_api_key")


def wait_ready(node, key, ids, seconds=120):
    """Waits until no document of ids is processing (read on `node`); returns {id: document}."""
    docs = {}

    def decided():
        for doc_id in ids:
            if doc_id in docs and docs[doc_id]["status"] != "processing":
                continue
            r = node.get(f"{DOCS}/{doc_id}", key=key)
            eq(r.status, 200, f"GET the document {doc_id} ({r.describe()})")
            docs[doc_id] = r.json
        return all(d["status"] != "processing" for d in docs.values())

    wait_for(decided, f"{len(ids)} documents processed by the workers", seconds, interval=0.3)
    return docs


def check_processed_once(node, docs):
    """Each document's job ran once (one attempt, done) and its chunk rows are one per position: none twice."""
    ids = ", ".join(sql_quote(i) for i in docs)
    jobs = {d: (st, int(n), w) for d, st, n, w in
            node.query(f"SELECT document_id, state, attempts, worker FROM ingest_jobs WHERE document_id IN ({ids})")}
    chunks = {d: (int(n), int(k)) for d, n, k in
              node.query(f"SELECT document_id, COUNT(*), COUNT(DISTINCT seq) FROM chunks "
                         f"WHERE document_id IN ({ids}) GROUP BY document_id")}
    for doc_id, doc in docs.items():
        eq(doc["status"], "ready", f"{doc['filename']}: {doc}")
        eq(jobs.get(doc_id, (None,))[:2], ("done", 1), f"{doc['filename']}: its job (state, attempts)")
        n, distinct = chunks.get(doc_id, (0, 0))
        eq((n, distinct), (doc["chunk_count"], doc["chunk_count"]),
           f"{doc['filename']}: chunk rows and distinct positions against chunk_count")
    return Counter(w for _, _, w in jobs.values())


def test_upload_on_one_node_is_answered_on_the_other(cluster):
    a, b = cluster.a, cluster.b
    _, key = a.docs_key("cluster-kb", unlimited=True)
    ids = {name: a.upload_ok(key, data, name) for name, data in KB_FILES}
    docs = wait_ready(b, key, list(ids.values()))
    check_processed_once(b, docs)
    r = b.post("/api/v1/search", {"query": "How long do I have to return an item?", "top_k": 3}, key=key)
    eq(r.status, 200, f"search on B ({r.describe()})")
    check(r.json["results"], f"search on B found nothing: {r.json!r}")
    eq(r.json["results"][0]["document_id"], ids["returns-policy.txt"], f"first result {r.json['results'][0]!r}")
    r = b.post("/api/v1/chat", {"message": "What is your return policy?"}, key=key)
    eq(r.status, 200, f"chat on B ({r.describe()})")
    check("30 days" in r.json["message"] and not r.json["fallback_triggered"], f"the answer on B: {r.json!r}")
    eq(r.json["sources"][0]["document_filename"], "returns-policy.txt", "the answer's source")
    # the conversation stored by B is there on A
    conv = r.json.get("conversation_id")
    if conv:
        eq(a.get(f"/api/v1/chat/conversations/{conv}", key=key).status, 200, "B's conversation read on A")


def spread(nodes, jobs, workers=40):
    """Runs jobs (callables taking a node) at once, job i on nodes[i % len(nodes)]; their results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job, nodes[i % len(nodes)]) for i, job in enumerate(jobs)]
        return [f.result() for f in futures]


def conflicts(nodes):
    """Writes the Galera nodes under `nodes` aborted for a conflict so far (certification failures and
    transactions aborted by a replicated one), summed."""
    return sum(int(v) for node in nodes for _, v in node.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')"))


def test_rate_limit_is_exact_across_both_nodes(cluster):
    a, b = cluster.a, cluster.b
    limit, sent = 20, 40
    before = conflicts((a, b))
    account = a.new_account("cluster-limits")
    # the whole burst must fall in one calendar minute; each round a new key (its own counter rows)
    for round_no, nodes in enumerate(((a, b), (a, a, b), (b, b, b, a), (a, b), (b, a), (a, b, b))):
        key = a.new_key(account, name=f"round {round_no}", per_minute=limit, per_hour=100000)
        fresh_minute(need=25)
        started = time.time()
        answers = spread(nodes, [lambda node: node.get(DOCS, key=key, parse_json=False)] * sent)
        took = time.time() - started
        statuses = Counter(r.status for r in answers)
        check(took < 20, f"round {round_no}: the burst took {took:.1f} s: it may span two minutes")
        eq(dict(statuses), {200: limit, 429: sent - limit},
           f"round {round_no} ({len(nodes)}-way spread): statuses of {sent} requests at once to a key of "
           f"{limit}/minute; a non-200/429 answer: "
           f"{next((r.describe() for r in answers if r.status not in (200, 429)), None)}")
        print(f"  round {round_no}: {dict(statuses)} in {took:.2f} s", flush=True)
    print(f"  conflicts between the nodes during the rounds: {conflicts((a, b)) - before}", flush=True)


def test_documents_uploaded_on_both_nodes_are_each_processed_once(cluster):
    a, b = cluster.a, cluster.b
    _, key = a.docs_key("cluster-jobs", unlimited=True)
    files = []
    for i in range(10):  # ten documents, different in their text and length (so in their chunk counts)
        name, data = KB_FILES[i % len(KB_FILES)]
        files.append((f"{i:02d}-{name}", data + b"\n" + f"Note {i}: ".encode() + b"ask our staff. " * (20 * i)))

    def upload(node, item):
        return node.upload_ok(key, item[1], item[0])

    ids = spread((a, b), [lambda node, item=item: upload(node, item) for item in files], workers=10)
    docs = wait_ready(a, key, ids)
    by_worker = check_processed_once(a, docs)
    print(f"  jobs by worker: {dict(by_worker)}", flush=True)
    # The same files on one web node with one worker: the same chunks per document.
    b.stop_worker()
    try:
        _, key1 = a.docs_key("cluster-jobs-single", unlimited=True)
        single_ids = [a.upload_ok(key1, data, name) for name, data in files]
        single = wait_ready(a, key1, single_ids)
        check_processed_once(a, single)
    finally:
        b.start_worker()
    counts = {d["filename"]: d["chunk_count"] for d in docs.values()}
    eq(counts, {d["filename"]: d["chunk_count"] for d in single.values()},
       "chunks per document: both workers at once against one worker alone")
