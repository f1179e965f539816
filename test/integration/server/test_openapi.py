# The OpenAPI description (shared/web/openapi.json, served at GET /api/v1/openapi.json) against the OpenAPI 3.1
# meta-schema and the programs' route tables, and then against every response the suite received (client.py
# records them): each must be an answer the description documents, with its body and headers. Runs after every
# other module. Coverage (every operation seen answering with a 2xx) is asserted only when the run holds every
# test module of test/integration, so `-k NAME` runs check what they received and nothing more.
import json

import jsonschema

import client
from harness import KEYS_FCGI, ROOT, check, eq, stack
from openapi_check import (SPEC_SOURCE, WEB_SERVER, api_path, check_one, meta_schema, operations,  # noqa: F401
                           program_routes, resolve, spec, walk)

RUN_LAST = 2  # after the RUN_LAST = True modules too: it checks what they received


def test_description_is_valid_openapi_3_1():
    doc = spec()
    errors = sorted(jsonschema.Draft202012Validator(meta_schema()).iter_errors(doc), key=lambda e: list(e.path))
    check(not errors, f"{len(errors)} errors against the OpenAPI 3.1 meta-schema:\n" +
          "\n".join(f"  at /{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors[:20]))
    eq(doc["openapi"].split(".")[:2], ["3", "1"], "OpenAPI version")
    bad = []
    for where, node in walk(doc):
        if "$ref" in node:
            try:
                resolve(doc, {"$ref": node["$ref"]})
            except AssertionError as e:
                bad.append(f"{where}: {e}")
    for name, schema in doc["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            bad.append(f"components/schemas/{name}: not a JSON Schema 2020-12: {e.message}")
    ids = {}
    for template, method, op in operations(doc):
        where = f"{method.upper()} {template}"
        for field in ("operationId", "summary", "responses"):
            if not op.get(field):
                bad.append(f"{where}: no {field}")
        if op.get("operationId") in ids:
            bad.append(f"{where}: operationId {op['operationId']} also names {ids[op['operationId']]}")
        ids[op.get("operationId")] = where
        if not any(code.startswith("2") for code in op.get("responses", {})):
            bad.append(f"{where}: no success response")
    check(not bad, f"{len(bad)} problems in {SPEC_SOURCE.name}:\n  " + "\n  ".join(bad[:30]))


def test_operations_are_the_programs_routes():
    doc = spec()
    documented = {(m.upper(), t): op for t, m, op in operations(doc)}
    routes = program_routes()
    check(len(routes) >= 20, f"found only {len(routes)} routes in fcgi-bin/*.c: the pattern no longer reads them")
    eq(sorted(set(routes) - set(documented)), [], "routes of the programs that the description lacks")
    eq(sorted(set(documented) - set(routes)), [], "operations of the description that no program serves")
    for key, flags in routes.items():
        public = "ROUTE_PUBLIC" in flags
        eq(documented[key].get("security") == [], public, f"{key[0]} {key[1]} needs no key")


def test_served_document():
    s = stack()
    r = s.get("/api/v1/openapi.json")
    eq(r.status, 200, f"GET /api/v1/openapi.json ({r.describe()})")
    eq(r.headers.get("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    check("max-age=" in (r.headers.get("Cache-Control") or "") and "no-store" not in r.headers["Cache-Control"],
          f"cacheable: {r.headers.get('Cache-Control')!r}")
    served = r.json
    eq(served["servers"], [{"url": "/api/v1"}], "servers at the root of the site")
    source = spec()
    served.pop("servers"), source.pop("servers")
    check(served == source, "the served document is not shared/web/openapi.json (build again?)")
    h = s.head("/api/v1/openapi.json")
    eq((h.status, h.body, h.headers.get("Cache-Control")), (200, b"", r.headers.get("Cache-Control")), "HEAD")
    # Under a folder of a site (here as plain CGI: the test's Apache serves the API at the root only), the server
    # URL carries the prefix, so the document's paths resolve there.
    status, headers, payload, _ = s.cgi(KEYS_FCGI, "GET", "/help/faqsure/api/v1/openapi.json?x=1")
    eq(status, 200, f"under a folder: {payload[:200]!r}")
    eq(json.loads(payload)["servers"], [{"url": "/help/faqsure/api/v1"}], "servers under a folder")


def full_run(session):
    """Whether this run holds every test module of test/integration (no -k, no single file), the deployments'
    suite (targets/) aside: test/run.sh runs it in a process of its own, which checks its own responses."""
    here = ROOT / "test" / "integration"
    ran = {str(item.path) for item in session.items}
    return all(str(p) in ran for p in here.rglob("test_*.py") if "targets" not in p.relative_to(here).parts)


def test_every_response_matches_the_description(request, capsys):
    s = stack()
    s.get("/api/v1/openapi.json")  # at least one response, whatever ran before
    doc = spec()
    recorded = list(client.RECORDED)
    checked, skipped, streams, ok_ops, kinds = 0, 0, 0, set(), {}
    problems = {}
    for rec in recorded:
        path = rec["path"]
        if api_path(path) is None:
            skipped += 1  # the console, the widget script, the error pages themselves: not the API
            continue
        if (api_path(path) or "").startswith("/probe"):
            skipped += 1  # test/probe.c, a program of the tests only
            continue
        checked += 1
        found, opid, label = check_one(doc, rec)
        kinds[label] = kinds.get(label, 0) + 1
        if any(k == "content-type" and v.startswith("text/event-stream") for k, v in rec["headers"]):
            streams += 1
        for p in found:
            problems.setdefault(p, []).append(f"{rec['method']} {rec['path']}")
        if opid and 200 <= rec["status"] < 300:
            ok_ops.add(opid)
    all_ops = {op["operationId"]: f"{m.upper()} {t}" for t, m, op in operations(doc)}
    full = full_run(request.session)
    missing = sorted(f"{all_ops[o]} ({o})" for o in all_ops if o not in ok_ops)
    with capsys.disabled():  # the figures, beside the test's line
        print(f"  openapi: {checked} responses checked ({skipped} outside the API; {streams} event streams, "
              f"{kinds.get(WEB_SERVER, 0)} web-server pages, {len(problems)} kinds of mismatch), {len(ok_ops)} of "
              f"{len(all_ops)} operations answered with a 2xx"
              f"{'' if full else ' (not the whole suite: coverage not asserted)'}", flush=True)
    check(checked > 0, "no response was recorded (client.py's record())")
    report = [f"{p}\n      e.g. {examples[0]} ({len(examples)} responses)" for p, examples in sorted(problems.items())]
    check(not report, f"{len(report)} kinds of responses do not match {SPEC_SOURCE.name}:\n  " +
          "\n  ".join(report[:40]))
    if full:
        check(not missing, "operations the suite never saw answer with a 2xx: " + ", ".join(missing))


def test_the_check_refuses_what_is_not_documented():
    """The matcher itself: answers that break the description in one way each are refused, naming the way."""
    doc = spec()
    rid = [("x-request-id", "0" * 32), ("content-type", "application/json; charset=utf-8")]
    rl = [("x-ratelimit-limit", "60"), ("x-ratelimit-remaining", "59"), ("x-ratelimit-reset", "30")]
    widget = json.dumps({"agent": {"id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "name": "A",
                                   "welcome_message": "hi"}}).encode()

    def rec(method, path, status, headers, body=b"", web="apache"):
        return {"method": method, "path": path, "status": status, "headers": headers, "body": body,
                "complete": True, "web": web}

    good = rec("GET", "/api/v1/widget", 200, rid + rl, widget)
    eq(check_one(doc, good)[:2], ([], "getWidget"), "a documented answer")
    eq(check_one(doc, dict(good, path="/shop/api/v1/widget/"))[:2], ([], "getWidget"), "under a folder")
    page = (ROOT / "vendor-config" / "errors" / "413.json").read_bytes()
    eq(check_one(doc, rec("POST", "/api/v1/documents/upload", 413, rid, page))[0], [], "Apache's own 413 page")
    eq(check_one(doc, rec("PUT", "/api/v1/widget", 405, rid + [("allow", "GET, HEAD")],
                          b'{"error": "method_not_allowed", "message": "m"}'))[0], [], "a 405 with its Allow")
    cases = [
        (rec("GET", "/api/v1/widget", 200, rid, widget), "X-RateLimit-Limit missing"),
        (rec("GET", "/api/v1/widget", 200, rl + rid[1:], widget), "X-Request-Id missing"),
        (rec("GET", "/api/v1/widget", 200, rid + rl, b'{"agent": {"id": "x"}}'), "body at /agent"),
        (rec("GET", "/api/v1/widget", 200, rid + rl, b"<html>"), "not JSON"),
        (rec("GET", "/api/v1/widget", 418, rid, b"{}"), "418 is not documented"),
        (rec("GET", "/api/v1/widget", 502, rid, b'{"error": "upstream_unavailable", "message": "m"}'),
         "502 is not documented"),
        (rec("GET", "/api/v1/widget", 409, rid + rl, b'{"error": "conflict", "message": "m"}'), "not documented"),
        (rec("DELETE", "/api/v1/widget", 405, rid + [("allow", "GET, HEAD, PUT")],
             b'{"error": "method_not_allowed", "message": "m"}'), "Allow"),
        (rec("GET", "/api/v1/nothing", 200, rid, b"{}"), "200 is not documented"),
        (rec("GET", "/api/v1/keys/abc", 404, rid + rl, b'{"error": "forbidden", "message": "m"}'), "body at /error"),
        (rec("POST", "/api/v1/chat", 429, rid + rl, b'{"error": "rate_limit_exceeded", "message": "m"}'),
         "Retry-After"),
        (rec("POST", "/api/v1/chat", 200, rid[:1] + rl + [("content-type", "text/event-stream")],
             b'event: delta\ndata: {"content": "a"}\n\nevent: surprise\ndata: {}\n\n'), "undocumented event"),
    ]
    missed = []
    for r, expect in cases:
        problems = check_one(doc, r)[0]
        if not any(expect in p for p in problems):
            missed.append(f"{r['method']} {r['path']} {r['status']}: expected a problem with {expect!r}, got {problems}")
    check(not missed, "the check let through:\n  " + "\n  ".join(missed))
