#!/usr/bin/python3
# An in-memory stand-in for the parts of Qdrant's REST API the `qdrant` vector backend uses, behaving as
# /work/shared/qdrant/NOTES.md describes (envelopes, status codes, messages, ranking, `wait`), with every request
# body and query string checked against Qdrant's own OpenAPI spec, plus a request log and fault injection.
#
# usage: qdrant_standin.py [--port N] [--api-key KEY] [--spec openapi.json] [--ack-delay-ms 50]
# The first line on stdout is the port (0 binds a free one, the default).
#
# Test-only endpoints (no api key, never logged, never faulted):
#   GET  /_log[?since=SEQ]  {"requests": [{"seq", "method", "path", "query", "headers", "body", "status"}]}
#                           (query: {name: [values]}; headers: lower-case names; body: the parsed JSON, or text)
#   POST /_reset            clears the log; {"all": true} also drops every collection and the fault settings
#   GET  /_control          the current settings
#   POST /_control          changes some of them:
#       "fail": [{"status": 503, "times": 2, "path": "/points/query", "method": "POST", "retry_after": 1}]
#                 the next `times` API requests matching path (substring) and method get that status with an
#                 error envelope (429 carries Retry-After); replaces the previous list
#       "delay_ms": N       every API request is answered N ms late
#       "down": true        every API request has its connection closed at once, unanswered
#       "strict_wait": true writes without ?wait=true are refused (400) instead of acknowledged
#       "ack_delay_ms": N   how long an acknowledged write stays invisible (default 50)
#       "api_key": "k"|null the key required from now on (null: none)
#       "max_body": N       the request body cap (default 32 MiB, Qdrant's max_request_size_mb)
#
# Ranking (Qdrant's, per NOTES.md): dense cosine on vectors normalised at insert (the query too), scores rounded to
# float32; sparse sum of q * d over shared indices, times idf = ln(1 + (N - n + 0.5) / (n + 0.5)) when the sparse
# vector has the idf modifier, N counting the collection's points that have that sparse vector (whatever their
# payload: idf is collection-wide, never per filter) and n those of them with the index; RRF with k = 2 unless
# given, 1 / ((rank + 1) / w + k - 1). Equal scores are ordered by id ascending (integer ids before UUIDs, UUIDs
# by their lower-case text): real Qdrant leaves ties in no particular order, the stand-in makes them deterministic.
import argparse
import collections
import copy
import json
import math
import os
import re
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from jsonschema import Draft4Validator, FormatChecker, RefResolver

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_CANDIDATES = (
    os.environ.get("QDRANT_OPENAPI", ""),
    os.path.join(HERE, "qdrant-openapi-1.19.json"),
    # ../shared beside the repository (the project's reference material; never copied into the repository)
    os.path.join(HERE, "..", "..", "..", "shared", "qdrant", "openapi-1.19.json"),
    # where the project's reference material lives on its development and CI machines, for clones elsewhere
    "/work/shared/qdrant/openapi-1.19.json",
)
MAX_BODY = 32 * 1024 * 1024
VERSION = "1.19.0"


class ApiError(Exception):
    """An answer with Qdrant's error envelope."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def not_found(name):
    return ApiError(404, f"Not found: Collection `{name}` doesn't exist!")


def wrong_input(message):
    return ApiError(400, f"Wrong input: {message}")


# ---------------------------------------------------------------------------------------------------------------
# The OpenAPI spec as JSON Schema (draft 4, which OpenAPI 3.0 schemas follow), with Qdrant's strictness added.

def to_json_schema(s):
    """One OpenAPI 3.0 schema object as JSON Schema: `nullable` becomes a null type (a bare {"nullable": true}
    branch, which would accept anything, accepts only null), objects with declared properties refuse others
    (Qdrant's serde structs refuse unknown fields), documentation keywords go."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "properties":
            out[k] = {name: to_json_schema(sub) for name, sub in v.items()}
        elif k in ("items", "not", "additionalProperties") and isinstance(v, dict):
            out[k] = to_json_schema(v)
        elif k in ("anyOf", "oneOf", "allOf"):
            out[k] = [to_json_schema(sub) for sub in v]
        elif k in ("nullable", "example", "description", "deprecated", "default", "title"):
            continue
        else:
            out[k] = v
    if s.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        elif any(k in out for k in ("anyOf", "oneOf", "allOf", "$ref", "enum")):
            out = {"anyOf": [out, {"type": "null"}]}
        else:
            out = {"type": "null"}
    types = out.get("type")
    if (types == "object" or (isinstance(types, list) and "object" in types)) and "properties" in out \
            and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _int_range(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            return True
        return lo <= v <= hi
    return check


def _is_uuid(v):
    if not isinstance(v, str):
        return True
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def format_checker():
    fc = FormatChecker(formats=())
    fc.checks("uuid")(_is_uuid)
    for name, lo, hi in (("uint", 0, 2**64 - 1), ("uint64", 0, 2**64 - 1), ("uint32", 0, 2**32 - 1),
                         ("uint16", 0, 2**16 - 1), ("uint8", 0, 255), ("int64", -2**63, 2**63 - 1),
                         ("int32", -2**31, 2**31 - 1)):
        fc.checks(name)(_int_range(lo, hi))
    return fc


class Spec:
    """Operations by (method, path template), their query parameters and body validators."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        doc = dict(raw)
        doc["components"] = dict(raw["components"])
        doc["components"]["schemas"] = {n: to_json_schema(s) for n, s in raw["components"]["schemas"].items()}
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.checker = format_checker()
        self.ops = {}
        for template, methods in raw["paths"].items():
            for method, op in methods.items():
                params = {}
                for p in op.get("parameters", []):
                    if p.get("in") == "query":
                        params[p["name"]] = to_json_schema(p.get("schema", {}))
                body = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
                self.ops[(method.upper(), template)] = {
                    "params": params,
                    "body": Draft4Validator(to_json_schema(body), resolver=self.resolver,
                                            format_checker=self.checker) if body is not None else None,
                    "body_required": bool(op.get("requestBody", {}).get("required", False)),
                }

    def operation(self, method, template):
        return self.ops.get((method, template))

    def check_query(self, op, query):
        """query: {name: [values]} as parsed. Unknown or repeated names, or values their schema refuses: 400."""
        known = op["params"]
        for name, values in query.items():
            if name not in known:
                expected = ", ".join(f"`{n}`" for n in sorted(known)) or "nothing"
                raise ApiError(400, f"Query deserialize error: unknown field `{name}`, expected one of {expected}")
            if len(values) != 1:
                raise ApiError(400, f"Query deserialize error: duplicate field `{name}`")
            value = _query_value(values[0])
            v = Draft4Validator(known[name], resolver=self.resolver, format_checker=self.checker)
            err = jsonschema.exceptions.best_match(v.iter_errors(value))
            if err is not None:
                raise ApiError(400, f"Query deserialize error: invalid value {values[0]!r} for `{name}`: "
                                    f"{err.message}")

    def check_body(self, op, body):
        v = op["body"]
        if v is None:
            return
        errors = list(v.iter_errors(body))
        if errors:
            raise body_error(errors)


def _query_value(text):
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _leaves(errors):
    for e in errors:
        if e.context:
            yield from _leaves(e.context)
        else:
            yield e


def _where(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


RANGE_VALIDATORS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
                    "minLength", "maxLength")


def body_error(errors):
    """The error a schema failure gets: the deepest failing leaf names the place. Unknown fields and wrong shapes
    are serde's 400 "Format error in JSON body"; a value out of its range is the validator's 422."""
    leaves = list(_leaves(errors))
    leaves.sort(key=lambda e: (len(e.absolute_path), e.validator == "additionalProperties"), reverse=True)
    e = leaves[0]
    where = _where(e.absolute_path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        props = e.schema.get("properties", {})
        extra = [k for k in e.instance if k not in props]
        expected = ", ".join(f"`{k}`" for k in props)
        return ApiError(400, f"Format error in JSON body: unknown field `{extra[0] if extra else '?'}`"
                             f"{', expected one of ' + expected if expected else ''} at {where}")
    if e.validator in RANGE_VALIDATORS and not (e.validator == "minimum" and e.validator_value == 0):
        return ApiError(422, f"Validation error in JSON body: [{where}: {e.message}]")
    return ApiError(400, f"Format error in JSON body: {where}: {e.message}")


def parse_json_body(raw):
    """Strict JSON: no NaN/Infinity, no duplicate keys, UTF-8 only (serde_json's rules)."""
    def pairs(items):
        out = {}
        for k, v in items:
            if k in out:
                raise ApiError(400, f"Format error in JSON body: duplicate field `{k}`")
            out[k] = v
        return out

    def constant(name):
        raise ApiError(400, f"Format error in JSON body: expected value ({name} is not JSON)")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "Format error in JSON body: invalid UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as e:
        if not text.strip():
            raise ApiError(400, "Format error in JSON body: EOF while parsing a value at line 1 column 0") from None
        raise ApiError(400, f"Format error in JSON body: {e.msg} at line {e.lineno} column {e.colno}") from None


# ---------------------------------------------------------------------------------------------------------------
# Points, filters, ranking

def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def id_key(v):
    """A point id as a sortable key: (0, int) or (1, canonical uuid text). Anything else is a 400."""
    if isinstance(v, bool):
        raise ApiError(400, f"Format error in JSON body: value {json.dumps(v)} is not a valid point ID, valid "
                            "values are either an unsigned integer or a UUID")
    if isinstance(v, int) and 0 <= v < 2**64:
        return (0, v)
    if isinstance(v, str):
        try:
            return (1, str(uuid.UUID(v)))
        except ValueError:
            pass
    raise ApiError(400, f"Format error in JSON body: value {json.dumps(v)} is not a valid point ID, valid values "
                        "are either an unsigned integer or a UUID")


def rank_key(score, key):
    return (-score, key)


def payload_values(payload, key):
    """The values at a payload path ("a.b", "a[].b", "a[0]"): arrays met on the way are flattened."""
    current = [payload]
    for part in key.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d*\])*)", part)
        name, brackets = (m.group(1), m.group(2)) if m else (part, "")
        nxt = []
        for v in current:
            if isinstance(v, list):
                items = v
            else:
                items = [v]
            for item in items:
                if isinstance(item, dict) and name in item:
                    nxt.append(item[name])
        for b in re.findall(r"\[(\d*)\]", brackets):
            flat = []
            for v in nxt:
                if isinstance(v, list):
                    flat.extend(v if b == "" else ([v[int(b)]] if int(b) < len(v) else []))
            nxt = flat
        current = nxt
    out = []
    for v in current:
        out.extend(v if isinstance(v, list) else [v])
    return out


def same_value(a, b):
    return type(a) is type(b) and a == b


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def match_filter(f, key, payload, vectors):
    if f is None:
        return True
    must = as_list(f.get("must"))
    should = as_list(f.get("should"))
    must_not = as_list(f.get("must_not"))
    if not all(match_condition(c, key, payload, vectors) for c in must):
        return False
    if should and not any(match_condition(c, key, payload, vectors) for c in should):
        return False
    if any(match_condition(c, key, payload, vectors) for c in must_not):
        return False
    ms = f.get("min_should")
    if ms:
        n = sum(1 for c in ms["conditions"] if match_condition(c, key, payload, vectors))
        if n < ms["min_count"]:
            return False
    return True


def match_condition(c, key, payload, vectors):
    if "key" in c and "nested" not in c:
        return match_field(c, payload)
    if "is_empty" in c:
        vals = payload_values(payload, c["is_empty"]["key"])
        return all(v is None for v in vals) or not vals
    if "is_null" in c:
        vals = _raw_values(payload, c["is_null"]["key"])
        return any(v is None for v in vals)
    if "has_id" in c:
        return key in {id_key(i) for i in c["has_id"]}
    if "has_vector" in c:
        return c["has_vector"] in vectors
    if "nested" in c:
        n = c["nested"]
        objs = [o for o in payload_values(payload, n["key"]) if isinstance(o, dict)]
        return any(match_filter(n["filter"], key, o, {}) for o in objs)
    if "slice" in c:
        raise ApiError(400, "Bad request: the stand-in does not implement slice conditions")
    return match_filter(c, key, payload, vectors)


def _raw_values(payload, key):
    """The values at a path without flattening the last array (is_null looks at the value itself)."""
    parts = key.rsplit(".", 1)
    holders = [payload] if len(parts) == 1 else payload_values(payload, parts[0])
    last = parts[-1]
    return [h[last] for h in holders if isinstance(h, dict) and last in h]


def match_field(c, payload):
    vals = payload_values(payload, c["key"])
    m = c.get("match")
    if m is not None:
        if "value" in m:
            return any(same_value(v, m["value"]) for v in vals)
        if "any" in m:
            return any(any(same_value(v, a) for a in m["any"]) for v in vals)
        if "except" in m:
            present = [v for v in vals if v is not None]
            return not present or any(not any(same_value(v, a) for a in m["except"]) for v in present)
        if "text" in m:
            return any(isinstance(v, str) and m["text"] in v for v in vals)
        if "text_any" in m:
            words = m["text_any"].split()
            return any(isinstance(v, str) and any(w in v for w in words) for v in vals)
        if "phrase" in m:
            return any(isinstance(v, str) and m["phrase"] in v for v in vals)
        if "prefix" in m:
            return any(isinstance(v, str) and v.startswith(m["prefix"]) for v in vals)
    r = c.get("range")
    if r is not None:
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]

        def ok(v):
            return ((r.get("gt") is None or v > r["gt"]) and (r.get("gte") is None or v >= r["gte"])
                    and (r.get("lt") is None or v < r["lt"]) and (r.get("lte") is None or v <= r["lte"]))
        return any(ok(v) for v in nums)
    vc = c.get("values_count")
    if vc is not None:
        n = len(vals)
        return ((vc.get("gt") is None or n > vc["gt"]) and (vc.get("gte") is None or n >= vc["gte"])
                and (vc.get("lt") is None or n < vc["lt"]) and (vc.get("lte") is None or n <= vc["lte"]))
    if c.get("is_empty") is True:
        return not [v for v in vals if v is not None]
    if c.get("is_null") is True:
        return any(v is None for v in _raw_values(payload, c["key"]))
    if any(c.get(k) is not None for k in ("geo_bounding_box", "geo_radius", "geo_polygon")):
        raise ApiError(400, "Bad request: the stand-in does not implement geo conditions")
    raise ApiError(400, f"Bad request: condition on `{c['key']}` has nothing to check")


def select_payload(payload, spec):
    """with_payload: true/false, [keys], {"include": [...]}, {"exclude": [...]}."""
    if spec is True:
        return copy.deepcopy(payload)
    if spec in (False, None):
        return None
    if isinstance(spec, list):
        return {k: copy.deepcopy(v) for k, v in payload.items() if k in spec}
    if isinstance(spec, dict) and "include" in spec:
        return {k: copy.deepcopy(v) for k, v in payload.items() if k in spec["include"]}
    if isinstance(spec, dict) and "exclude" in spec:
        return {k: copy.deepcopy(v) for k, v in payload.items() if k not in spec["exclude"]}
    return None


def select_vectors(vectors, spec):
    if spec in (False, None):
        return None
    names = list(vectors) if spec is True else [n for n in spec if n in vectors]
    out = {n: copy.deepcopy(vectors[n]) for n in names}
    if list(out) == [""]:
        return out[""]
    return out


class Collection:
    def __init__(self, name, body):
        self.name = name
        self.body = copy.deepcopy(body)
        self.dense = {}   # vector name ("" when unnamed) -> {"size", "distance"}
        self.sparse = {}  # sparse vector name -> modifier ("none" | "idf")
        vectors = body.get("vectors")
        if isinstance(vectors, dict) and "size" in vectors and "distance" in vectors \
                and not isinstance(vectors.get("size"), dict):
            self.dense[""] = {"size": vectors["size"], "distance": vectors["distance"]}
        elif isinstance(vectors, dict):
            for n, p in vectors.items():
                self.dense[n] = {"size": p["size"], "distance": p["distance"]}
        for n, p in (body.get("sparse_vectors") or {}).items():
            self.sparse[n] = (p or {}).get("modifier") or "none"
        self.points = {}          # id key -> {"vectors": {...}, "payload": {...}, "version": n}
        self.payload_schema = {}  # field -> {"data_type", "params", "points"}
        self.op_seq = 0

    def next_op(self):
        self.op_seq += 1
        return self.op_seq

    # -- vectors ------------------------------------------------------------------------------------------------
    def dense_vector(self, name, values, where):
        cfg = self.dense[name]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
            raise ApiError(400, f"Format error in JSON body: {where}: expected numbers")
        if any(not math.isfinite(float(x)) or abs(float(x)) > 3.4028234663852886e38 for x in values):
            raise ApiError(400, f"Format error in JSON body: {where}: number out of range")
        if len(values) != cfg["size"]:
            raise wrong_input(f"Vector dimension error: expected dim: {cfg['size']}, got {len(values)}")
        vec = [f32(float(x)) for x in values]
        if cfg["distance"] == "Cosine":
            norm = math.sqrt(sum(x * x for x in vec))
            if norm > 0:
                vec = [f32(x / norm) for x in vec]
        return vec

    def sparse_vector(self, name, sv, where):
        idx, val = sv.get("indices"), sv.get("values")
        if len(idx) != len(val):
            raise ApiError(422, f"Validation error in JSON body: [{where}: must be the same length as indices]")
        if len(set(idx)) != len(idx):
            raise ApiError(422, f"Validation error in JSON body: [{where}.indices: must be unique]")
        if any(not math.isfinite(float(x)) for x in val):
            raise ApiError(400, f"Format error in JSON body: {where}: number out of range")
        pairs = sorted(zip(idx, (f32(float(x)) for x in val)))
        return {"indices": [i for i, _ in pairs], "values": [v for _, v in pairs]}

    def vector_struct(self, vs, where):
        """A point's vectors as {name: dense list | sparse dict}, checked against the collection."""
        if isinstance(vs, list):
            if "" not in self.dense:
                raise wrong_input("Not existing vector name error: ")
            if vs and isinstance(vs[0], list):
                raise wrong_input("the stand-in does not implement multi-vectors")
            return {"": self.dense_vector("", vs, where)}
        if not isinstance(vs, dict) or ("model" in vs and "model" not in self.dense and "model" not in self.sparse):
            raise wrong_input("the stand-in does not implement inference objects")
        out = {}
        for name, v in vs.items():
            if name in self.dense:
                if not isinstance(v, list) or (v and isinstance(v[0], list)):
                    raise wrong_input(f"Conversion between sparse and regular vectors failed for `{name}`")
                out[name] = self.dense_vector(name, v, f"{where}.{name}")
            elif name in self.sparse:
                if not isinstance(v, dict) or "indices" not in v:
                    raise wrong_input(f"Conversion between sparse and regular vectors failed for `{name}`")
                out[name] = self.sparse_vector(name, v, f"{where}.{name}")
            else:
                raise wrong_input(f"Not existing vector name error: {name}")
        return out

    # -- search -------------------------------------------------------------------------------------------------
    def idf(self, name, indices):
        having = [p["vectors"][name] for p in self.points.values() if name in p["vectors"]]
        n_all = len(having)
        out = {}
        for t in indices:
            n = sum(1 for sv in having if t in sv["indices"])
            out[t] = math.log(1.0 + (n_all - n + 0.5) / (n + 0.5))
        return out

    def candidates(self, filt, among=None):
        keys = self.points.keys() if among is None else [k for k in among if k in self.points]
        return [k for k in keys if match_filter(filt, k, self.points[k]["payload"], self.points[k]["vectors"])]

    def score_query(self, query, using, keys):
        """Scores keys against a vector query: [(score, key)] for the points that have the vector."""
        name = using if using is not None else ""
        if isinstance(query, dict) and "nearest" in query:
            if query.get("mmr") is not None:
                raise wrong_input("the stand-in does not implement mmr")
            query = query["nearest"]
        if isinstance(query, (int, str)) and not isinstance(query, bool):
            ref = self.points.get(id_key(query))
            if ref is None or name not in ref["vectors"]:
                raise ApiError(404, f"Not found: No point with id {query} found")
            query = ref["vectors"][name]
        if isinstance(query, dict) and "indices" in query:
            if name not in self.sparse:
                if name in self.dense:
                    raise wrong_input(f"Conversion between sparse and regular vectors failed for `{name}`")
                raise wrong_input(f"Not existing vector name error: {name}")
            q = self.sparse_vector(name, query, "query")
            weights = dict(zip(q["indices"], q["values"]))
            if self.sparse[name] == "idf":
                idf = self.idf(name, q["indices"])
                weights = {t: w * idf[t] for t, w in weights.items()}
            out = []
            for k in keys:
                sv = self.points[k]["vectors"].get(name)
                if sv is None:
                    continue
                s, hit = 0.0, False
                for t, v in zip(sv["indices"], sv["values"]):
                    w = weights.get(t)
                    if w is not None:
                        s += w * v
                        hit = True
                if hit:
                    out.append((f32(s), k))
            return out
        if isinstance(query, list):
            if name not in self.dense:
                if name in self.sparse:
                    raise wrong_input(f"Conversion between sparse and regular vectors failed for `{name}`")
                raise wrong_input(f"Not existing vector name error: {name}")
            if query and isinstance(query[0], list):
                raise wrong_input("the stand-in does not implement multi-vector queries")
            q = self.dense_vector(name, query, "query")
            out = []
            for k in keys:
                v = self.points[k]["vectors"].get(name)
                if v is not None:
                    out.append((f32(sum(a * b for a, b in zip(q, v))), k))
            return out
        raise wrong_input("the stand-in does not implement this kind of query")

    def run_stage(self, req, top):
        """One query stage (the request or a prefetch): [(score, key)] best first, limit applied."""
        prefetch = req.get("prefetch")
        prefetches = [] if prefetch is None else (prefetch if isinstance(prefetch, list) else [prefetch])
        query = req.get("query")
        using = req.get("using")
        filt = req.get("filter")
        limit = req.get("limit")
        limit = 10 if limit is None else limit
        offset = (req.get("offset") or 0) if top else 0
        threshold = req.get("score_threshold")
        if req.get("lookup_from") is not None:
            raise wrong_input("the stand-in does not implement lookup_from")
        fusion = None
        if isinstance(query, dict) and ("fusion" in query or "rrf" in query):
            fusion = query
            if using is not None:
                raise ApiError(400, "Bad request: Fusion queries cannot be combined with the 'using' field")
            if not prefetches:
                raise ApiError(400, "Bad request: Fusion queries require at least one prefetch")
        if fusion is not None:
            lists = [self.run_stage(p, False) for p in prefetches]
            if fusion.get("fusion") == "dbsf":
                raise wrong_input("the stand-in does not implement dbsf fusion")
            k, weights = 2, None
            if "rrf" in fusion:
                k = fusion["rrf"].get("k") or 2
                weights = fusion["rrf"].get("weights")
                if weights is not None and len(weights) != len(lists):
                    raise wrong_input(f"the number of weights ({len(weights)}) must match the number of "
                                      f"prefetches ({len(lists)})")
            fused = collections.defaultdict(float)
            for li, ranked in enumerate(lists):
                w = 1.0 if weights is None else float(weights[li])
                for rank, (_, key) in enumerate(ranked):
                    if w > 0:
                        fused[key] += 1.0 / ((rank + 1) / w + k - 1)
            # The top-level filter applies to this (last) stage only: it drops fused points, it does not reach
            # into the prefetches (NOTES.md).
            keep = set(self.candidates(filt, list(fused)))
            scored = [(f32(s), key) for key, s in fused.items() if key in keep]
        elif query is None:
            if prefetches:
                seen = {}
                for p in prefetches:
                    for s, key in self.run_stage(p, False):
                        seen.setdefault(key, s)
                keep = set(self.candidates(filt, list(seen)))
                scored = [(s, key) for key, s in seen.items() if key in keep]
            else:
                scored = [(0.0, key) for key in sorted(self.candidates(filt))]
                return scored[offset:offset + limit]
        else:
            if isinstance(query, dict) and not any(k in query for k in ("nearest", "indices")):
                raise wrong_input("the stand-in implements nearest, sparse and fusion queries only")
            if prefetches:
                among = set()
                for p in prefetches:
                    among.update(key for _, key in self.run_stage(p, False))
                keys = self.candidates(filt, sorted(among))
            else:
                keys = self.candidates(filt)
            scored = self.score_query(query, using, keys)
        if threshold is not None:
            scored = [(s, key) for s, key in scored if s >= threshold]
        scored.sort(key=lambda t: rank_key(t[0], t[1]))
        return scored[offset:offset + limit]


# ---------------------------------------------------------------------------------------------------------------
# State shared by the handler threads

class State:
    def __init__(self, api_key, ack_delay_ms):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.collections = {}
        self.pending = collections.deque()  # (due time, collection, fn): acknowledged writes not applied yet
        self.log = []
        self.seq = 0
        self.ctl = {"fail": [], "delay_ms": 0, "down": False, "strict_wait": False, "ack_delay_ms": ack_delay_ms,
                    "api_key": api_key, "max_body": MAX_BODY}
        threading.Thread(target=self._applier, daemon=True).start()

    def _applier(self):
        with self.cond:
            while True:
                if not self.pending:
                    self.cond.wait()
                    continue
                due = self.pending[0][0]
                now = time.monotonic()
                if now < due:
                    self.cond.wait(due - now)
                    continue
                _, coll, fn = self.pending.popleft()
                if self.collections.get(coll.name) is coll:
                    fn()

    def flush(self):
        """Applies every acknowledged write now (a waited write comes after them, as in Qdrant's queue)."""
        while self.pending:
            _, coll, fn = self.pending.popleft()
            if self.collections.get(coll.name) is coll:
                fn()

    def write(self, coll, wait, fn):
        """Runs a write: at once when waited for, else later. The lock is held. Returns the UpdateResult."""
        if not wait and self.ctl["strict_wait"]:
            raise ApiError(400, "Bad request: this stand-in runs with strict_wait: writes must say ?wait=true")
        op = coll.next_op()
        if wait:
            self.flush()
            fn(op)
            return {"operation_id": op, "status": "completed"}
        self.pending.append((time.monotonic() + self.ctl["ack_delay_ms"] / 1000.0, coll, lambda: fn(op)))
        self.cond.notify_all()
        return {"operation_id": op, "status": "acknowledged"}


# ---------------------------------------------------------------------------------------------------------------
# The API handlers: (state, collection name, query, body) -> result

def _coll(state, name):
    c = state.collections.get(name)
    if c is None:
        raise not_found(name)
    return c


def _wait(query):
    return query.get("wait", ["false"])[0] == "true"


def h_root(state, name, query, body):
    return {"title": "qdrant - vector search engine", "version": VERSION}


def h_list(state, name, query, body):
    return {"collections": [{"name": n} for n in sorted(state.collections)]}


def h_create(state, name, query, body):
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,255}", name):
        raise ApiError(422, f"Validation error in path parameters: [collection_name: invalid name {name!r}]")
    if name in state.collections:
        raise ApiError(409, f"Wrong input: Collection `{name}` already exists!")
    for n, p in (body.get("sparse_vectors") or {}).items():
        if p is not None and not isinstance(p, dict):
            raise wrong_input(f"bad sparse vector config {n}")
    state.collections[name] = Collection(name, body)
    return True


def h_delete_collection(state, name, query, body):
    _coll(state, name)
    del state.collections[name]
    return True


def h_exists(state, name, query, body):
    return {"exists": name in state.collections}


def h_info(state, name, query, body):
    c = _coll(state, name)
    b = c.body
    params = {"shard_number": b.get("shard_number") or 1, "replication_factor": b.get("replication_factor") or 1,
              "write_consistency_factor": b.get("write_consistency_factor") or 1,
              "on_disk_payload": b.get("on_disk_payload", True)}
    if b.get("vectors") is not None:
        params["vectors"] = copy.deepcopy(b["vectors"])
    if b.get("sparse_vectors") is not None:
        params["sparse_vectors"] = copy.deepcopy(b["sparse_vectors"])
    hnsw = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0,
            "on_disk": False}
    hnsw.update({k: v for k, v in (b.get("hnsw_config") or {}).items() if v is not None})
    schema = {}
    for field, s in c.payload_schema.items():
        s = dict(s)
        s["points"] = sum(1 for p in c.points.values() if payload_values(p["payload"], field))
        schema[field] = s
    return {
        "status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
        "points_count": len(c.points), "segments_count": 1,
        "config": {
            "params": params, "hnsw_config": hnsw,
            "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0, "max_segment_size": None, "memmap_threshold": None,
                                 "indexing_threshold": 10000, "flush_interval_sec": 5,
                                 "max_optimization_threads": None},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": copy.deepcopy(b.get("quantization_config")),
        },
        "payload_schema": schema,
    }


def h_index(state, name, query, body):
    c = _coll(state, name)
    schema = body.get("field_schema")
    if schema is None:
        raise wrong_input("field_schema is required by this stand-in")
    if isinstance(schema, str):
        entry = {"data_type": schema}
    else:
        entry = {"data_type": schema["type"], "params": copy.deepcopy(schema)}
    field = body["field_name"]

    def apply(op):
        c.payload_schema[field] = entry
    return state.write(c, _wait(query), apply)


def h_upsert(state, name, query, body):
    c = _coll(state, name)
    points = []
    if "points" in body:
        for i, p in enumerate(body["points"]):
            key = id_key(p["id"])
            vecs = c.vector_struct(p["vector"], f"points[{i}].vector")
            points.append((key, vecs, p.get("payload") or {}))
    else:
        b = body["batch"]
        ids = b["ids"]
        vs = b["vectors"]
        payloads = b.get("payloads")
        if payloads is not None and len(payloads) != len(ids):
            raise wrong_input(f"number of payloads ({len(payloads)}) does not match number of ids ({len(ids)})")
        if isinstance(vs, list):
            per_point = [vec for vec in vs]
        else:
            for n, col in vs.items():
                if len(col) != len(ids):
                    raise wrong_input(f"number of vectors `{n}` ({len(col)}) does not match number of ids "
                                      f"({len(ids)})")
            per_point = [{n: col[i] for n, col in vs.items()} for i in range(len(ids))]
        if len(per_point) != len(ids):
            raise wrong_input(f"number of vectors ({len(per_point)}) does not match number of ids ({len(ids)})")
        for i, pid in enumerate(ids):
            key = id_key(pid)
            vecs = c.vector_struct(per_point[i], f"batch.vectors[{i}]")
            points.append((key, vecs, (payloads[i] if payloads else None) or {}))
    points = [(k, v, copy.deepcopy(p)) for k, v, p in points]

    def apply(op):
        for key, vecs, payload in points:
            c.points[key] = {"vectors": vecs, "payload": payload, "version": op}
    return state.write(c, _wait(query), apply)


def h_delete_points(state, name, query, body):
    c = _coll(state, name)
    if "points" in body:
        keys = [id_key(i) for i in body["points"]]

        def apply(op):
            for k in keys:
                c.points.pop(k, None)
    else:
        filt = body["filter"]
        c.candidates(filt, [])  # a filter the stand-in cannot evaluate is refused now, not when applied

        def apply(op):
            for k in c.candidates(filt):
                del c.points[k]
    return state.write(c, _wait(query), apply)


def _scored_point(c, key, score, req):
    p = c.points[key]
    out = {"id": key[1], "version": p["version"], "score": score}
    pl = select_payload(p["payload"], req.get("with_payload"))
    if pl is not None:
        out["payload"] = pl
    vec = select_vectors(p["vectors"], req.get("with_vector"))
    if vec is not None:
        out["vector"] = vec
    return out


def h_query(state, name, query, body):
    c = _coll(state, name)
    ranked = c.run_stage(body, True)
    return {"points": [_scored_point(c, key, score, body) for score, key in ranked]}


def h_retrieve(state, name, query, body):
    c = _coll(state, name)
    req = {"with_payload": body.get("with_payload", True), "with_vector": body.get("with_vector", False)}
    out = []
    for pid in body["ids"]:
        key = id_key(pid)
        if key in c.points:
            rec = _scored_point(c, key, 0.0, req)
            del rec["score"]
            out.append(rec)
    return out


def h_scroll(state, name, query, body):
    c = _coll(state, name)
    if body.get("order_by") is not None:
        raise wrong_input("the stand-in does not implement order_by")
    limit = body.get("limit") or 10
    keys = sorted(c.candidates(body.get("filter")))
    if body.get("offset") is not None:
        start = id_key(body["offset"])
        keys = [k for k in keys if k >= start]
    req = {"with_payload": True if body.get("with_payload") is None else body["with_payload"],
           "with_vector": body.get("with_vector", False)}
    page = []
    for key in keys[:limit]:
        rec = _scored_point(c, key, 0.0, req)
        del rec["score"]
        page.append(rec)
    nxt = keys[limit][1] if len(keys) > limit else None
    return {"points": page, "next_page_offset": nxt}


def h_count(state, name, query, body):
    c = _coll(state, name)
    return {"count": len(c.candidates((body or {}).get("filter")))}


C = r"/collections/(?P<c>[^/]+)"
ROUTES = [
    # (method, regex, spec path template, handler)
    ("GET", r"/", "/", h_root),
    ("GET", r"/collections", "/collections", h_list),
    ("PUT", C, "/collections/{collection_name}", h_create),
    ("GET", C, "/collections/{collection_name}", h_info),
    ("DELETE", C, "/collections/{collection_name}", h_delete_collection),
    ("GET", C + r"/exists", "/collections/{collection_name}/exists", h_exists),
    ("PUT", C + r"/index", "/collections/{collection_name}/index", h_index),
    ("PUT", C + r"/points", "/collections/{collection_name}/points", h_upsert),
    ("POST", C + r"/points", "/collections/{collection_name}/points", h_retrieve),
    ("POST", C + r"/points/delete", "/collections/{collection_name}/points/delete", h_delete_points),
    ("POST", C + r"/points/query", "/collections/{collection_name}/points/query", h_query),
    ("POST", C + r"/points/scroll", "/collections/{collection_name}/points/scroll", h_scroll),
    ("POST", C + r"/points/count", "/collections/{collection_name}/points/count", h_count),
]
HEALTH = {"/healthz": "healthz check passed", "/livez": "healthz check passed", "/readyz": "all shards are ready"}


def spec_template(spec, method, path):
    """The spec's path template matching a concrete path (for operations the stand-in does not implement)."""
    for (m, template) in spec.ops:
        if m != method:
            continue
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(rx, path):
            return template
    return None


# ---------------------------------------------------------------------------------------------------------------
# HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qdrant-standin/" + VERSION
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the request log is at /_log
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    # -- plumbing -----------------------------------------------------------------------------------------------
    def send(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        entry = getattr(self, "log_entry", None)
        if entry is not None:  # logged before the client can see the answer and read the log
            entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status

    def send_json(self, status, obj, headers=None):
        return self.send(status, json.dumps(obj), headers=headers)

    def send_result(self, result, started):
        return self.send_json(200, {"result": result, "status": "ok", "time": time.perf_counter() - started})

    def send_error_envelope(self, err, started):
        return self.send_json(err.status, {"status": {"error": err.message}, "time": time.perf_counter() - started},
                              headers=err.headers)

    def read_body(self, cap):
        """The request body, or (None, size) when it exceeds cap (it is read and dropped)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self.rfile.read(size)
                self.rfile.readline(3)
                total += size
                if total <= cap:
                    parts.append(chunk)
            return (b"".join(parts), total) if total <= cap else (None, total)
        length = int(self.headers.get("Content-Length") or 0)
        if length > cap:
            left = length
            while left > 0:
                got = self.rfile.read(min(left, 1 << 20))
                if not got:
                    break
                left -= len(got)
            return None, length
        return self.rfile.read(length) if length else b"", length

    # -- dispatch -----------------------------------------------------------------------------------------------
    def handle_any(self):
        state = self.server.state
        started = time.perf_counter()
        self.log_entry = None  # a kept-alive connection's handler serves many requests
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path.startswith("/_"):
            return self.handle_control(path, url.query)
        with state.lock:
            ctl = dict(state.ctl)
        if ctl["down"]:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body_raw, size = self.read_body(ctl["max_body"])
        entry = {"method": self.command, "path": path, "query": query,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": None, "status": None}
        if body_raw is None:
            entry["body"] = {"_dropped_bytes": size}
        elif body_raw:
            try:
                entry["body"] = json.loads(body_raw)
            except ValueError:
                entry["body"] = body_raw.decode("utf-8", "replace")
        with state.lock:
            state.seq += 1
            entry["seq"] = state.seq
            state.log.append(entry)
        self.log_entry = entry
        if ctl["delay_ms"]:
            time.sleep(ctl["delay_ms"] / 1000.0)
        try:
            entry["status"] = self.dispatch(state, ctl, path, query, body_raw, size, started)
        except ApiError as e:
            entry["status"] = self.send_error_envelope(e, started)

    def dispatch(self, state, ctl, path, query, body_raw, size, started):
        # Injected faults come first, as a proxy or an overloaded server would answer.
        with state.lock:
            for rule in state.ctl["fail"]:
                if rule.get("times", 1) <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != self.command:
                    continue
                if rule.get("path") and rule["path"] not in path:
                    continue
                rule["times"] = rule.get("times", 1) - 1
                headers = {}
                if rule.get("retry_after") is not None:
                    headers["Retry-After"] = rule["retry_after"]
                elif rule["status"] == 429:
                    headers["Retry-After"] = 1
                msg = rule.get("message") or {
                    429: "Too many requests: rate limit exceeded", 500: "Service internal error: injected",
                    503: "Service unavailable: shard is not available", 507: "Out of storage: injected",
                }.get(rule["status"], "injected failure")
                raise ApiError(rule["status"], msg, headers)
        if self.command == "GET" and path in HEALTH:
            return self.send(200, HEALTH[path], "text/plain; charset=utf-8")
        if ctl["api_key"]:
            given = self.headers.get("api-key")
            auth = self.headers.get("Authorization") or ""
            if given is None and auth.startswith("Bearer "):
                given = auth[len("Bearer "):]
            if given is None:
                return self.send(401, "Must provide an API key or an Authorization bearer token",
                                 "text/plain; charset=utf-8")
            if given != ctl["api_key"]:
                return self.send(401, "Invalid API key or JWT", "text/plain; charset=utf-8")
        spec = self.server.spec
        for method, rx, template, handler in ROUTES:
            m = re.fullmatch(rx, path)
            if m and method == self.command:
                break
        else:
            template = spec_template(spec, self.command, path)
            if template is not None:
                raise ApiError(501, f"the stand-in does not implement {self.command} {template}")
            return self.send(404, b"", "text/plain")
        op = spec.operation(self.command, template)
        if op is None:
            raise ApiError(500, f"stand-in bug: {self.command} {template} is not in the spec")
        if body_raw is None:
            raise ApiError(400, f"Payload error: JSON payload ({size} bytes) is larger than allowed "
                                f"(limit: {ctl['max_body']} bytes).")
        spec.check_query(op, query)
        body = None
        if op["body"] is not None:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if not body_raw and not op["body_required"] and template.endswith("/count"):
                body = {}
            else:
                if ctype != "application/json":
                    raise ApiError(400, "Format error in JSON body: Content type error")
                body = parse_json_body(body_raw)
                spec.check_body(op, body)
        name = urllib.parse.unquote(m.group("c")) if "c" in m.groupdict() else None
        with state.lock:
            result = handler(state, name, query, body)
        return self.send_result(result, started)

    def handle_control(self, path, qs):
        state = self.server.state
        body_raw, _ = self.read_body(MAX_BODY)
        try:
            body = json.loads(body_raw) if body_raw else {}
        except ValueError:
            return self.send_json(400, {"error": "control body is not JSON"})
        with state.lock:
            if path == "/_log" and self.command == "GET":
                since = int((urllib.parse.parse_qs(qs).get("since") or ["0"])[0])
                return self.send_json(200, {"requests": [e for e in state.log if e["seq"] > since]})
            if path == "/_reset" and self.command == "POST":
                state.log.clear()
                if body.get("all"):
                    state.collections.clear()
                    state.pending.clear()
                    state.ctl.update(fail=[], delay_ms=0, down=False, strict_wait=False)
                return self.send_json(200, {"ok": True})
            if path == "/_control" and self.command == "GET":
                return self.send_json(200, state.ctl)
            if path == "/_control" and self.command == "POST":
                unknown = [k for k in body if k not in state.ctl]
                if unknown:
                    return self.send_json(400, {"error": f"unknown control settings: {unknown}"})
                if "fail" in body:
                    body["fail"] = [dict(r) for r in body["fail"]]
                state.ctl.update(body)
                return self.send_json(200, state.ctl)
        return self.send(404, b"", "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description="In-memory Qdrant stand-in for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--spec", default=None)
    ap.add_argument("--ack-delay-ms", type=int, default=50)
    args = ap.parse_args()
    spec_path = args.spec or next((p for p in SPEC_CANDIDATES if p and os.path.exists(p)), None)
    if spec_path is None:
        print("qdrant_standin: Qdrant's OpenAPI spec not found (--spec or QDRANT_OPENAPI)", file=sys.stderr)
        return 2
    server = Server((args.host, args.port), Handler)
    server.spec = Spec(spec_path)
    server.state = State(args.api_key, args.ack_delay_ms)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
