# The Qdrant stand-in (test/standins/qdrant_standin.py) itself, driven with plain http.client: it must behave as
# /work/shared/qdrant/NOTES.md says Qdrant does (envelopes, auth, wait, ids, ranking, fusion, filters, limits) and
# refuse what Qdrant's OpenAPI spec refuses, or the qdrant backend's tests would prove nothing. Needs no stack.
import contextlib
import http.client
import json
import math
import os
from pathlib import Path
import time
import uuid

from harness import SkipTest, check, eq, wait_for
from standins import start_standin, stop_standin

U = [str(uuid.UUID(int=i + 1)) for i in range(8)]  # 00000000-...-0001, ...: ascending as text


class Qd:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port
        self.key = None

    def req(self, method, path, body=None, headers=None, raw=None, key=True, timeout=10):
        """One request; returns (status, headers, parsed JSON or text)."""
        hdrs = {}
        if body is not None or raw is not None:
            hdrs["Content-Type"] = "application/json"
        if key and self.key:
            hdrs["api-key"] = self.key
        hdrs.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return resp.status, resp.headers, parsed
        finally:
            conn.close()

    def ok(self, method, path, body=None, **kw):
        """A request that must succeed: checks the success envelope, returns result."""
        status, _, out = self.req(method, path, body, **kw)
        eq(status, 200, f"{method} {path} ({out})")
        check(isinstance(out, dict) and set(out) == {"result", "status", "time"}, f"success envelope: {out!r}")
        eq(out["status"], "ok", "envelope status")
        check(isinstance(out["time"], float) and out["time"] >= 0, f"envelope time: {out['time']!r}")
        return out["result"]

    def fails(self, method, path, body=None, status=400, contains=None, **kw):
        """A request that must fail with Qdrant's error envelope; returns the message."""
        got, _, out = self.req(method, path, body, **kw)
        eq(got, status, f"{method} {path} status ({out})")
        check(isinstance(out, dict) and set(out) == {"status", "time"} and set(out["status"]) == {"error"},
              f"error envelope (no result): {out!r}")
        msg = out["status"]["error"]
        if contains is not None:
            check(contains in msg, f"error should contain {contains!r}: {msg!r}")
        return msg

    def control(self, **kw):
        status, _, out = self.req("POST", "/_control", kw, key=False)
        eq(status, 200, f"control {kw} ({out})")

    def log(self):
        status, _, out = self.req("GET", "/_log", key=False)
        eq(status, 200, "log")
        return out["requests"]

    def create(self, name="c", size=3, sparse=True):
        body = {"vectors": {"dense": {"size": size, "distance": "Cosine", "on_disk": True}},
                "hnsw_config": {"m": 16, "ef_construct": 100}}
        if sparse:
            body["sparse_vectors"] = {"bm25": {"modifier": "idf"}}
        eq(self.ok("PUT", f"/collections/{name}", body), True, "create result")

    def upsert(self, points, name="c", wait=True):
        q = "?wait=true" if wait else ""
        return self.ok("PUT", f"/collections/{name}/points{q}", {"points": points})

    def query(self, body, name="c"):
        return self.ok("POST", f"/collections/{name}/points/query", body)["points"]


QDRANT_SPECS = (Path(__file__).resolve().parents[3] / "shared" / "qdrant" / "openapi-1.19.json",
                Path("/work/shared/qdrant/openapi-1.19.json"))


@contextlib.contextmanager
def standin(*args):
    if not any(p.exists() for p in QDRANT_SPECS) and not os.environ.get("QDRANT_OPENAPI"):
        raise SkipTest(f"Qdrant's OpenAPI spec is not at {QDRANT_SPECS[0]} (or $QDRANT_OPENAPI)")
    proc, port = start_standin("qdrant_standin.py", *args)
    try:
        yield Qd(proc, port)
    finally:
        stop_standin(proc)


def pt(i, dense, sparse=None, payload=None):
    vec = {"dense": dense}
    if sparse is not None:
        vec["bm25"] = {"indices": list(sparse), "values": list(sparse.values())}
    return {"id": U[i], "vector": vec, "payload": payload or {}}


def ids(points):
    return [p["id"] for p in points]


def test_collections_and_envelopes():
    with standin() as q:
        eq(q.ok("GET", "/collections/c/exists"), {"exists": False}, "exists before")
        eq(q.fails("GET", "/collections/c", status=404), "Not found: Collection `c` doesn't exist!", "404 message")
        q.create()
        eq(q.ok("GET", "/collections/c/exists"), {"exists": True}, "exists after")
        q.fails("PUT", "/collections/c", {"vectors": {"dense": {"size": 3, "distance": "Cosine"}}}, status=409,
                contains="already exists")
        info = q.ok("GET", "/collections/c")
        eq(info["config"]["params"]["vectors"], {"dense": {"size": 3, "distance": "Cosine", "on_disk": True}},
           "vectors config")
        eq(info["config"]["params"]["sparse_vectors"], {"bm25": {"modifier": "idf"}}, "sparse config")
        eq(q.ok("PUT", "/collections/c/index?wait=true",
                {"field_name": "account_id", "field_schema": {"type": "keyword", "is_tenant": True}}),
           {"operation_id": 1, "status": "completed"}, "index result")
        q.ok("PUT", "/collections/c/index?wait=true", {"field_name": "document_id", "field_schema": "keyword"})
        schema = q.ok("GET", "/collections/c")["payload_schema"]
        eq(sorted(schema), ["account_id", "document_id"], "payload indexes")
        eq(schema["account_id"]["params"], {"type": "keyword", "is_tenant": True}, "tenant index params")
        eq(q.ok("DELETE", "/collections/c"), True, "delete result")
        q.fails("DELETE", "/collections/c", status=404)
        eq(q.ok("GET", "/collections/c/exists"), {"exists": False}, "exists after delete")


def test_auth():
    with standin("--api-key", "s3cret") as q:
        for path, text in (("/healthz", "healthz check passed"), ("/livez", "healthz check passed"),
                           ("/readyz", "all shards are ready")):
            status, _, out = q.req("GET", path)
            eq((status, out), (200, text), f"{path} without a key")
        status, headers, out = q.req("GET", "/collections")
        eq(status, 401, "no key")
        check(headers.get("Content-Type", "").startswith("text/plain") and isinstance(out, str) and out,
              f"401 is plain text: {headers.get('Content-Type')} {out!r}")
        status, _, out = q.req("GET", "/collections", headers={"api-key": "wrong"})
        eq(status, 401, f"wrong key ({out})")
        status, _, out = q.req("GET", "/collections", headers={"Authorization": "Bearer wrong"})
        eq(status, 401, f"wrong bearer ({out})")
        q.key = "s3cret"
        q.ok("GET", "/collections")
        q.key = None
        q.ok("GET", "/collections", headers={"Authorization": "Bearer s3cret"})


def test_wait_semantics():
    with standin() as q:
        q.create()
        r = q.upsert([pt(0, [1, 0, 0])], wait=False)
        eq(r["status"], "acknowledged", "write without wait")
        eq(q.ok("POST", "/collections/c/points/count", {"exact": True}), {"count": 0},
           "an acknowledged write is not visible at once")
        wait_for(lambda: q.ok("POST", "/collections/c/points/count", {"exact": True})["count"] == 1,
                 "the acknowledged write becomes visible", 3)
        r = q.upsert([pt(1, [0, 1, 0])], wait=True)
        eq(r["status"], "completed", "write with wait=true")
        eq(q.ok("POST", "/collections/c/points/count", {})["count"], 2, "a waited write is visible at once")
        q.ok("POST", "/collections/c/points/delete", {"points": [U[1]]})
        eq(q.ok("POST", "/collections/c/points/count", {})["count"], 2, "an acknowledged delete is not at once")
        wait_for(lambda: q.ok("POST", "/collections/c/points/count", {})["count"] == 1, "the delete applies", 3)
        q.control(strict_wait=True)
        q.fails("PUT", "/collections/c/points", {"points": [pt(2, [0, 0, 1])]}, contains="wait")
        eq(q.upsert([pt(2, [0, 0, 1])])["status"], "completed", "strict_wait with wait=true")


def test_point_ids():
    with standin() as q:
        q.create()
        q.upsert([{"id": 42, "vector": {"dense": [1, 0, 0]}}, {"id": U[0].upper(), "vector": {"dense": [1, 0, 0]}},
                  {"id": 2**64 - 1, "vector": {"dense": [1, 0, 0]}}])
        got = q.ok("POST", "/collections/c/points/scroll", {"limit": 10})["points"]
        eq(ids(got), [42, 2**64 - 1, U[0]], "ids: integers first, UUIDs in canonical lower case")
        for bad in ("abc", -1, 2**64, 1.5, True, None):
            q.fails("PUT", "/collections/c/points?wait=true", {"points": [{"id": bad, "vector": {"dense": [1, 0, 0]}}]},
                    contains="Format error in JSON body")


def test_cosine_and_dense_ranking():
    with standin() as q:
        q.create()
        q.upsert([pt(0, [3, 4, 0]), pt(1, [0, 0, 2]), pt(2, [4, 3, 0]), pt(3, [1, 0, 0]), pt(4, [6, 8, 0])])
        got = q.ok("POST", "/collections/c/points", {"ids": [U[0]], "with_vector": True})
        check(all(abs(a - b) < 1e-6 for a, b in zip(got[0]["vector"]["dense"], [0.6, 0.8, 0.0])),
              f"stored vector is normalised: {got[0]['vector']}")
        res = q.query({"query": [10, 0, 0], "using": "dense", "limit": 4})
        # 3: 1.0; 2: 0.8; 0 and 4 (same direction): 0.6 each, tie -> ascending id
        eq(ids(res), [U[3], U[2], U[0], U[4]], "dense order, ties by id")
        for p, want in zip(res, [1.0, 0.8, 0.6, 0.6]):
            check(abs(p["score"] - want) < 1e-6, f"score of {p['id']}: {p['score']} != {want}")
        check(all("payload" not in p for p in res), "with_payload defaults to false on query")
        res = q.query({"query": [1, 0, 0], "using": "dense", "limit": 10, "score_threshold": 0.7})
        eq(ids(res), [U[3], U[2]], "score_threshold")
        res = q.query({"query": [1, 0, 0], "using": "dense", "limit": 2, "offset": 1})
        eq(ids(res), [U[2], U[0]], "offset")
        eq(q.fails("POST", "/collections/c/points/query", {"query": [1, 0], "using": "dense"}),
           "Wrong input: Vector dimension error: expected dim: 3, got 2", "query dims message")
        eq(q.fails("PUT", "/collections/c/points?wait=true", {"points": [pt(5, [1, 0, 0, 0])]}),
           "Wrong input: Vector dimension error: expected dim: 3, got 4", "upsert dims message")
        q.fails("POST", "/collections/c/points/query", {"query": [1, 0, 0], "using": "nope"},
                contains="Not existing vector name")


def test_sparse_idf():
    with standin() as q:
        q.create()
        q.upsert([pt(0, [1, 0, 0], {1: 1.0, 2: 0.5}), pt(1, [1, 0, 0], {2: 2.0}), pt(2, [1, 0, 0], {3: 1.0}),
                  pt(3, [1, 0, 0], {}), pt(4, [1, 0, 0])])  # 3: an empty sparse vector; 4: none at all
        n_all = 4  # points having the sparse vector (the empty one counts, the absent one does not)

        def idf(n):
            return math.log(1 + (n_all - n + 0.5) / (n + 0.5))
        res = q.query({"query": {"indices": [2, 1], "values": [1.0, 2.0]}, "using": "bm25", "limit": 10})
        want = {U[0]: 2.0 * idf(1) * 1.0 + 1.0 * idf(2) * 0.5, U[1]: 1.0 * idf(2) * 2.0}
        eq(sorted(ids(res)), sorted(want), "only points sharing a term")
        eq(ids(res), sorted(want, key=lambda k: -want[k]), "sparse order")
        for p in res:
            check(abs(p["score"] - want[p["id"]]) < 1e-5, f"idf score of {p['id']}: {p['score']} != {want[p['id']]}")
        q.fails("POST", "/collections/c/points/query", {"query": [1, 0, 0], "using": "bm25"})


def test_rrf_fusion_and_prefetch():
    with standin() as q:
        q.create()
        # dense order for [1,0,0]: 0, 1, 2, 3; sparse order for term 7: 3, 2 (others lack it)
        q.upsert([pt(0, [1, 0, 0], {1: 1}), pt(1, [0.9, 0.1, 0], {1: 1}), pt(2, [0.5, 0.5, 0], {7: 1}),
                  pt(3, [0, 1, 0], {7: 3})])
        dense = {"query": [1, 0, 0], "using": "dense", "limit": 10}
        sparse = {"query": {"indices": [7], "values": [1]}, "using": "bm25", "limit": 10}
        res = q.query({"prefetch": [dense, sparse], "query": {"fusion": "rrf"}, "limit": 10})
        want = {U[0]: 1 / 2, U[1]: 1 / 3, U[2]: 1 / 4 + 1 / 3, U[3]: 1 / 5 + 1 / 2}
        eq(ids(res), [U[3], U[2], U[0], U[1]], "RRF order (k = 2)")
        for p in res:
            check(abs(p["score"] - want[p["id"]]) < 1e-6, f"RRF score of {p['id']}: {p['score']}")
        # Ties are not broken by Qdrant; the stand-in orders them by id: 0 (dense top) and 3 (sparse top).
        res = q.query({"prefetch": [dict(dense, limit=1), dict(sparse, limit=1)], "query": {"fusion": "rrf"}})
        eq([(p["id"], p["score"]) for p in res], [(U[0], 0.5), (U[3], 0.5)], "equal RRF scores by id")
        # A prefetch limit below the outer limit gives a short answer.
        res = q.query({"prefetch": [dict(dense, limit=1), dict(sparse, limit=1)], "query": {"fusion": "rrf"},
                       "limit": 4})
        eq(len(res), 2, "results come back short when prefetch limit < limit")
        res = q.query({"prefetch": [dense, sparse], "query": {"rrf": {"k": 60}}, "limit": 1})
        check(abs(res[0]["score"] - (1 / 63 + 1 / 60)) < 1e-6 and res[0]["id"] == U[3], f"explicit k: {res}")
        q.fails("POST", "/collections/c/points/query",
                {"prefetch": [dense, sparse], "query": {"fusion": "rrf"}, "using": "dense"}, status=400)
        q.fails("POST", "/collections/c/points/query", {"query": {"fusion": "rrf"}}, status=400)


def test_top_level_filter_reaches_the_last_stage_only():
    with standin() as q:
        q.create()
        # Account 2's points are nearer the query than account 1's.
        q.upsert([pt(0, [1, 0, 0], {5: 1}, {"account_id": "2"}), pt(1, [0.99, 0.1, 0], {5: 1}, {"account_id": "2"}),
                  pt(2, [0.5, 0.5, 0], {5: 1}, {"account_id": "1"}), pt(3, [0, 1, 0], {5: 1}, {"account_id": "1"})])
        f = {"must": [{"key": "account_id", "match": {"value": "1"}}]}
        dense = {"query": [1, 0, 0], "using": "dense", "limit": 2}
        sparse = {"query": {"indices": [5], "values": [1]}, "using": "bm25", "limit": 2}
        res = q.query({"prefetch": [dense, sparse], "query": {"fusion": "rrf"}, "filter": f, "limit": 2})
        eq(res, [], "top-level filter only: the prefetches took account 2's points, nothing of account 1 is left")
        res = q.query({"prefetch": [dict(dense, filter=f), dict(sparse, filter=f)], "query": {"fusion": "rrf"},
                       "filter": f, "limit": 2, "with_payload": True})
        eq(ids(res), [U[2], U[3]], "filter repeated in every prefetch")
        eq([p["payload"] for p in res], [{"account_id": "1"}] * 2, "with_payload")


def test_filters_scroll_count_delete():
    with standin() as q:
        q.create()
        docs = ["d1", "d2", "d1", "d3", "d2"]
        q.upsert([pt(i, [1, 0, 0], payload={"account_id": "7" if i < 4 else "8", "document_id": docs[i],
                                              "n": i, "tags": ["x", f"t{i}"],
                                              "items": [{"k": "a", "v": i}, {"k": "b", "v": 10 * i}]})
                  for i in range(5)])

        def count(f):
            return q.ok("POST", "/collections/c/points/count", {"filter": f, "exact": True})["count"]
        acct = {"key": "account_id", "match": {"value": "7"}}
        eq(count({"must": [acct]}), 4, "match value")
        eq(count({"must": [acct, {"key": "document_id", "match": {"any": ["d1", "d3"]}}]}), 3, "match any")
        eq(count({"must": [acct], "must_not": [{"key": "document_id", "match": {"value": "d1"}}]}), 2, "must_not")
        eq(count({"should": [{"key": "document_id", "match": {"value": "d3"}},
                             {"key": "account_id", "match": {"value": "8"}}]}), 2, "should")
        eq(count({"must": [{"has_id": [U[0], U[4], U[7]]}]}), 2, "has_id")
        eq(count({"must": [{"key": "tags", "match": {"value": "t2"}}]}), 1, "match inside an array")
        eq(count({"must": [{"key": "n", "range": {"gte": 1, "lt": 3}}]}), 2, "range")
        eq(count({"must": [{"key": "n", "match": {"value": True}}]}), 0, "true is not 1")
        eq(count({"must": [{"nested": {"key": "items", "filter": {"must": [
            {"key": "k", "match": {"value": "b"}}, {"key": "v", "range": {"gte": 20}}]}}}]}), 3, "nested")
        eq(count({"must": [{"nested": {"key": "items", "filter": {"must": [
            {"key": "k", "match": {"value": "a"}}, {"key": "v", "range": {"gte": 20}}]}}}]}), 0,
           "nested conditions hold for one element together")
        eq(count({"must": [{"must": [acct], "must_not": [{"key": "n", "match": {"value": 0}}]}]}), 3,
           "nested filter as a condition")
        page = q.ok("POST", "/collections/c/points/scroll", {"limit": 2, "filter": {"must": [acct]}})
        eq(ids(page["points"]), U[0:2], "scroll page 1")
        eq(page["next_page_offset"], U[2], "next_page_offset")
        check("payload" in page["points"][0] and "vector" not in page["points"][0],
              "scroll: with_payload defaults to true, with_vector to false")
        page = q.ok("POST", "/collections/c/points/scroll", {"limit": 2, "offset": U[2], "filter": {"must": [acct]}})
        eq((ids(page["points"]), page["next_page_offset"]), (U[2:4], None), "scroll page 2")
        res = q.query({"query": [1, 0, 0], "using": "dense", "filter": {"must": [acct]}, "limit": 10})
        eq(ids(res), U[0:4], "filtered query")
        q.ok("POST", "/collections/c/points/delete?wait=true",
             {"filter": {"must": [acct, {"key": "document_id", "match": {"any": ["d1"]}}]}})
        eq(count({"must": [acct]}), 2, "delete by filter")
        q.ok("POST", "/collections/c/points/delete?wait=true", {"points": [U[1], U[6]]})
        eq(count(None), 2, "delete by ids (a missing one is fine)")


def test_invalid_bodies_are_refused():
    with standin() as q:
        q.create()
        q.upsert([pt(0, [1, 0, 0])])
        msg = q.fails("PUT", "/collections/d", {"vectors": {"dense": {"size": 3, "distance": "Cosine"}},
                                                "colour": "red"})
        check(msg.startswith("Format error in JSON body: unknown field `colour`"), f"unknown field: {msg!r}")
        msg = q.fails("POST", "/collections/c/points/query", {"query": [1, 0, 0], "using": "dense",
                                                              "filter": {"must": [{"key": "a",
                                                                                   "match": {"valeu": 1}}]}})
        check("unknown field `valeu`" in msg, f"unknown nested field: {msg!r}")
        q.fails("PUT", "/collections/d", {"vectors": {"dense": {"size": "3", "distance": "Cosine"}}},
                contains="Format error in JSON body")
        q.fails("PUT", "/collections/d", {"vectors": {"dense": {"size": 3, "distance": "cosine"}}},
                contains="Format error in JSON body")
        q.fails("PUT", "/collections/d", {"vectors": {"dense": {"size": 3, "distance": "Cosine", "memory": "x"}}})
        q.fails("POST", "/collections/c/points/query", raw=b'{"query": [1, 0, 0], "using": ', status=400,
                contains="Format error in JSON body")
        q.fails("POST", "/collections/c/points/query", raw=b'{"limit": 1, "limit": 2}', contains="duplicate")
        q.fails("POST", "/collections/c/points/query", raw=b'{"query": [NaN, 0, 0]}', contains="Format error")
        q.fails("POST", "/collections/c/points/query", {"query": [1, 0, 0]}, headers={"Content-Type": "text/plain"},
                contains="Content type")
        q.fails("POST", "/collections/c/points/query", {"query": [1, 0, 0], "using": "dense", "limit": 0},
                status=422, contains="Validation error in JSON body")
        q.fails("PUT", "/collections/c/points?wait=true", {"points": [{"id": U[1], "vectors": {"dense": [1, 0, 0]}}]},
                contains="Format error in JSON body")
        q.fails("PUT", "/collections/c/points?wait=true&wiat=true", {"points": [pt(1, [1, 0, 0])]},
                contains="unknown field `wiat`")
        q.fails("PUT", "/collections/c/points?wait=yes", {"points": [pt(1, [1, 0, 0])]}, contains="wait")
        q.fails("POST", "/collections/c/points/query?wait=true", {"query": [1, 0, 0], "using": "dense"},
                contains="unknown field `wait`")
        q.ok("POST", "/collections/c/points/query?consistency=majority&timeout=5", {"query": [1, 0, 0],
                                                                                     "using": "dense"})
        q.fails("POST", "/collections/nope/points/query", {"query": [1, 0, 0], "using": "dense"}, status=404,
                contains="Collection `nope` doesn't exist")
        eq(q.ok("POST", "/collections/c/points/count", {})["count"], 1, "refused writes changed nothing")


def test_body_cap():
    with standin() as q:
        q.create()
        size = 32 * 1024 * 1024 + 100
        raw = b'{"points": [], "pad": "' + b"x" * (size - 25) + b'"}'
        raw = raw[:size - 2] + b'"}'
        eq(q.fails("PUT", "/collections/c/points?wait=true", raw=raw, timeout=60),
           f"Payload error: JSON payload ({size} bytes) is larger than allowed (limit: 33554432 bytes).",
           "cap message")
        q.ok("GET", "/collections/c/exists")  # still serving
        body = {"points": [pt(i, [1, 0, 0], payload={"pad": "y" * 1000}) for i in range(8)]}
        q.ok("PUT", "/collections/c/points?wait=true", body)  # under the cap


def test_log_reset_and_faults():
    with standin() as q:
        q.create()
        q.upsert([pt(0, [1, 0, 0], payload={"account_id": "1"})])
        log = q.log()
        eq([(r["method"], r["path"], r["query"], r["status"]) for r in log],
           [("PUT", "/collections/c", {}, 200), ("PUT", "/collections/c/points", {"wait": ["true"]}, 200)],
           "the log")
        eq(log[1]["body"]["points"][0]["payload"], {"account_id": "1"}, "logged body")
        eq(log[1]["headers"].get("content-type"), "application/json", "logged headers")
        q.req("POST", "/_reset", key=False)
        eq(q.log(), [], "log after reset")

        q.control(fail=[{"status": 503, "times": 2, "path": "/points/query"}])
        body = {"query": [1, 0, 0], "using": "dense"}
        q.fails("POST", "/collections/c/points/query", body, status=503)
        q.ok("GET", "/collections/c/exists")  # another path is not affected
        q.fails("POST", "/collections/c/points/query", body, status=503)
        eq(ids(q.query(body)), [U[0]], "after two faults, the third query succeeds")
        q.control(fail=[{"status": 429, "times": 1}])
        status, headers, _ = q.req("POST", "/collections/c/points/query", body)
        eq((status, headers.get("Retry-After")), (429, "1"), "429 with Retry-After")

        q.control(delay_ms=600)
        t0 = time.monotonic()
        q.ok("GET", "/collections/c/exists")
        check(time.monotonic() - t0 >= 0.55, "delay_ms delays the answer")
        q.control(delay_ms=0, down=True)
        try:
            status, _, out = q.req("GET", "/collections/c/exists", timeout=5)
        except (http.client.HTTPException, ConnectionError):
            pass
        else:
            raise AssertionError(f"down: expected the connection closed, got {status} {out!r}")
        q.control(down=False)
        q.ok("GET", "/collections/c/exists")
        eq(q.ok("POST", "/collections/c/points/count", {})["count"], 1, "data kept across down/up")
        q.req("POST", "/_reset", {"all": True}, key=False)
        eq(q.ok("GET", "/collections/c/exists"), {"exists": False}, "reset all drops collections")
