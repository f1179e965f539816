# The agent API (/api/v1/agents): the lazily created default, create/list/get/patch/delete, strict validation,
# moving the default mark, account isolation, pagination, the race for the default, faqsurectl agent.
import threading
import uuid

from harness import TIME_RE, UUID_RE, check, eq, expect_error, name_cases, sql_quote, stack

AGENTS = "/api/v1/agents"
AGENT_FIELDS = {"id", "name", "is_default", "system_prompt", "fallback_message", "welcome_message", "top_k",
                "similarity_threshold",
                "use_hybrid", "answerer", "model", "temperature", "max_tokens", "history_turns",
                "upstream_fallback", "created_at", "updated_at"}
DEFAULT_PROMPT = ("You are a helpful support assistant. Answer the user's question using only the numbered context "
                  "passages from the knowledge base. Be concise. If the context does not contain the answer, say "
                  "that you do not know.")
DEFAULT_FALLBACK = ("I'm sorry, I couldn't find an answer to that in our knowledge base. Please rephrase your "
                    "question or contact our support team.")
# Every setting at its default (the table's defaults and agent.h's texts).
DEFAULTS = {"system_prompt": DEFAULT_PROMPT, "fallback_message": DEFAULT_FALLBACK,
            "welcome_message": "Hi! Ask me anything about our documentation.", "top_k": 5,
            "similarity_threshold": 0.7, "use_hybrid": True, "answerer": None, "model": None, "temperature": 0.2,
            "max_tokens": 512, "history_turns": 6, "upstream_fallback": "error"}


def account_key(prefix="agents"):
    """A fresh account and a plain (default-scope) key with room for many requests."""
    s = stack()
    account = s.new_account(prefix)
    return s, account, s.new_key(account, per_minute=10000, per_hour=1000000)


def patch(s, path, body, key):
    return s.request("PATCH", path, key=key, body=body)


def create(s, key, body):
    r = s.post(AGENTS, body, key=key)
    eq(r.status, 201, f"POST {AGENTS} {body!r} ({r.describe()})")
    return r.json


def check_agent(a, what="agent"):
    eq(set(a), AGENT_FIELDS, f"fields of the {what}")
    check(UUID_RE.match(a["id"]) is not None, f"{what} id: {a['id']!r}")
    for f in ("created_at", "updated_at"):
        check(TIME_RE.match(a[f] or "") is not None, f"{what} {f}: {a[f]!r}")
    check(isinstance(a["is_default"], bool) and isinstance(a["use_hybrid"], bool), f"{what}: booleans {a!r}")
    check(isinstance(a["top_k"], int) and isinstance(a["max_tokens"], int) and isinstance(a["history_turns"], int),
          f"{what}: integers {a!r}")
    check(isinstance(a["similarity_threshold"], (int, float)) and isinstance(a["temperature"], (int, float)),
          f"{what}: numbers {a!r}")


def settings(a):
    return {k: a[k] for k in DEFAULTS}


def list_all(s, key, limit=None):
    """Every page of the list, each page's shape checked (Stack.pages); the agents in order."""
    return s.pages(AGENTS, key, "agents", limit)[0]


def default_of(s, key):
    d = [a for a in list_all(s, key) if a["is_default"]]
    eq(len(d), 1, "default agents in the list")
    return d[0]


def test_fresh_account_has_one_default_agent():
    s, account, key = account_key()
    agents = list_all(s, key)
    eq(len(agents), 1, f"agents of a fresh account: {agents!r}")
    a = agents[0]
    check_agent(a, "default agent")
    eq((a["name"], a["is_default"]), ("Default", True), "name, is_default")
    eq(settings(a), DEFAULTS, "settings of the default agent")
    eq(list_all(s, key), agents, "the list again: the same one agent, not a second")
    got = s.get(f"{AGENTS}/{a['id']}", key=key)
    eq((got.status, got.json), (200, a), "GET of the default agent")


def test_create_with_defaults():
    s, _, key = account_key()
    r = s.post(AGENTS, {"name": "Sales"}, key=key)
    eq(r.status, 201, f"status ({r.describe()})")
    a = r.json
    check_agent(a, "created agent")
    eq((a["name"], a["is_default"]), ("Sales", False), "name, is_default")
    eq(settings(a), DEFAULTS, "settings of an agent created with a name only")
    eq(r.headers.get("Location"), f"{AGENTS}/{a['id']}", "Location")
    got = s.get(r.headers["Location"], key=key)
    eq((got.status, got.json), (200, a), "GET the Location")
    agents = list_all(s, key)
    eq([x["name"] for x in agents], ["Default", "Sales"], "the list: the default (made first), then the new one")
    eq(agents[1], a, "the new agent in the list")


def test_create_with_all_fields():
    s, _, key = account_key()
    body = {"name": "é" * 100, "system_prompt": "p" * 8000, "fallback_message": "Ask a human.", "top_k": 50,
            "similarity_threshold": 0.35, "use_hybrid": False, "answerer": "openai", "model": "gpt-4o-mini",
            "temperature": 1.5, "max_tokens": 32768, "history_turns": 0, "upstream_fallback": "builtin",
            "is_default": False}
    a = create(s, key, body)
    check_agent(a)
    eq({k: a[k] for k in body}, body, "every field as given")
    b = create(s, key, {"name": "edges", "system_prompt": "", "top_k": 1, "similarity_threshold": 1,
                        "temperature": 0, "max_tokens": 1, "history_turns": 20, "answerer": "builtin"})
    eq((b["system_prompt"], b["top_k"], b["similarity_threshold"], b["temperature"], b["max_tokens"],
        b["history_turns"], b["answerer"]), ("", 1, 1, 0, 1, 20, "builtin"), "the other ends of the ranges")
    c = create(s, key, {"name": "nulls", "answerer": None, "model": None, "top_k": None, "system_prompt": None})
    eq(settings(c), DEFAULTS, "null fields on create take their defaults")


def test_validation_names_the_field():
    s, _, key = account_key()
    cases = name_cases(100) + [
        ({"name": "a", "system_prompt": "p" * 8001}, "system_prompt"),
        ({"name": "a", "system_prompt": 1}, "system_prompt"),
        ({"name": "a", "fallback_message": ""}, "fallback_message"),
        ({"name": "a", "fallback_message": ["x"]}, "fallback_message"),
        ({"name": "a", "top_k": 0}, "top_k"),
        ({"name": "a", "top_k": 51}, "top_k"),
        ({"name": "a", "top_k": "5"}, "top_k"),
        ({"name": "a", "top_k": 2.5}, "top_k"),
        ({"name": "a", "top_k": True}, "top_k"),
        ({"name": "a", "top_k": 2**70}, "top_k"),
        ({"name": "a", "similarity_threshold": -0.1}, "similarity_threshold"),
        ({"name": "a", "similarity_threshold": 1.01}, "similarity_threshold"),
        ({"name": "a", "similarity_threshold": "0.5"}, "similarity_threshold"),
        ({"name": "a", "use_hybrid": 1}, "use_hybrid"),
        ({"name": "a", "use_hybrid": "true"}, "use_hybrid"),
        ({"name": "a", "answerer": "gpt"}, "answerer"),
        ({"name": "a", "answerer": ""}, "answerer"),
        ({"name": "a", "answerer": 1}, "answerer"),
        ({"name": "a", "model": ""}, "model"),
        ({"name": "a", "model": "m" * 129}, "model"),
        ({"name": "a", "model": 4}, "model"),
        ({"name": "a", "temperature": 2.01}, "temperature"),
        ({"name": "a", "temperature": -1}, "temperature"),
        ({"name": "a", "max_tokens": 0}, "max_tokens"),
        ({"name": "a", "max_tokens": 32769}, "max_tokens"),
        ({"name": "a", "history_turns": -1}, "history_turns"),
        ({"name": "a", "history_turns": 21}, "history_turns"),
        ({"name": "a", "upstream_fallback": "retry"}, "upstream_fallback"),
        ({"name": "a", "upstream_fallback": None, "is_default": "yes"}, "is_default"),
        ({"name": "a", "is_default": None}, "is_default"),
        ({"name": "a", "tpo_k": 5}, "tpo_k"),
        ({"name": "a", "id": str(uuid.uuid4())}, "id"),
        ({"name": "a", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ]
    s.refuses_each(AGENTS, cases, key)
    for raw in (b"", b"[1]", b"{not json"):
        expect_error(s.post(AGENTS, raw, key=key), 400, "invalid_request")
    eq([a["name"] for a in list_all(s, key)], ["Default"], "agents after the refused requests")


def test_patch_partial_update_and_nulls():
    s, _, key = account_key()
    a = create(s, key, {"name": "Support", "answerer": "openai", "model": "gpt-4o", "top_k": 9,
                        "system_prompt": "Be brief."})
    r = patch(s, f"{AGENTS}/{a['id']}", {"temperature": 0.9, "history_turns": 2}, key)
    eq(r.status, 200, f"PATCH ({r.describe()})")
    b = r.json
    check_agent(b, "patched agent")
    expected = dict(a, temperature=0.9, history_turns=2)
    eq({k: v for k, v in b.items() if k != "updated_at"}, {k: v for k, v in expected.items() if k != "updated_at"},
       "only the given fields changed")
    check(b["updated_at"] >= a["updated_at"], f"updated_at went back: {a['updated_at']} -> {b['updated_at']}")
    r = patch(s, f"{AGENTS}/{a['id']}", {"answerer": None, "model": None, "top_k": None, "system_prompt": None}, key)
    eq(r.status, 200, f"PATCH with nulls ({r.describe()})")
    c = r.json
    eq((c["answerer"], c["model"], c["top_k"], c["system_prompt"]), (None, None, 5, DEFAULT_PROMPT),
       "null resets answerer and model to the server's default, other fields to theirs")
    eq((c["name"], c["temperature"], c["history_turns"]), ("Support", 0.9, 2), "fields not in the body kept")
    got = s.get(f"{AGENTS}/{a['id']}", key=key)
    eq(got.json, c, "GET after PATCH equals the PATCH answer")
    r = patch(s, f"{AGENTS}/{a['id']}", {}, key)
    eq((r.status, r.json), (200, c), "an empty PATCH changes nothing")
    for body, field in [({"name": None}, "name"), ({"name": ""}, "name"), ({"top_k": 0}, "top_k"),
                        ({"answerer": "x"}, "answerer"), ({"nmae": "typo"}, "nmae"), ({"id": a["id"]}, "id"),
                        ({"fallback_message": ""}, "fallback_message"), ({"is_default": 1}, "is_default")]:
        try:
            expect_error(patch(s, f"{AGENTS}/{a['id']}", body, key), 400, "invalid_request", field)
        except AssertionError as e:
            raise AssertionError(f"PATCH {body!r}: {e}") from None
    eq(s.get(f"{AGENTS}/{a['id']}", key=key).json, c, "the agent after refused PATCHes")
    expect_error(patch(s, f"{AGENTS}/{uuid.uuid4()}", {"top_k": 3}, key), 404, "not_found")


def test_moving_the_default():
    s, account, key = account_key()
    first = default_of(s, key)
    b = create(s, key, {"name": "B", "is_default": True})
    eq(b["is_default"], True, "a created agent with is_default true")
    agents = {a["id"]: a for a in list_all(s, key)}
    eq(len(agents), 2, "agents")
    eq(agents[first["id"]]["is_default"], False, "the old default after POST is_default true")
    c = create(s, key, {"name": "C"})
    r = patch(s, f"{AGENTS}/{c['id']}", {"is_default": True, "top_k": 7}, key)
    eq(r.status, 200, f"PATCH is_default true ({r.describe()})")
    eq((r.json["is_default"], r.json["top_k"]), (True, 7), "is_default, top_k of C")
    eq(default_of(s, key)["id"], c["id"], "the default after PATCH")
    eq(s.get(f"{AGENTS}/{b['id']}", key=key).json["is_default"], False, "B after C became the default")
    r = patch(s, f"{AGENTS}/{c['id']}", {"is_default": True}, key)
    eq((r.status, r.json["is_default"]), (200, True), "is_default true on the default again")
    r = patch(s, f"{AGENTS}/{b['id']}", {"is_default": False}, key)
    eq((r.status, r.json["is_default"]), (200, False), "is_default false on an agent that is not the default")
    listed = list_all(s, key)
    eq(len(listed), 3, "agents of the account")
    eq(sum(a["is_default"] for a in listed), 1, "agents marked default")


def test_default_cannot_be_deleted_or_undefaulted():
    s, _, key = account_key()
    d = default_of(s, key)
    r = s.delete(f"{AGENTS}/{d['id']}", key=key)
    body = expect_error(r, 409, "conflict")
    check("default" in body["message"], f"the 409 should say why: {body['message']!r}")
    r = patch(s, f"{AGENTS}/{d['id']}", {"is_default": False, "name": "renamed"}, key)
    expect_error(r, 409, "conflict", "default")
    eq(s.get(f"{AGENTS}/{d['id']}", key=key).json, d, "the default after the refused DELETE and PATCH")
    other = create(s, key, {"name": "Next", "is_default": True})
    r = s.delete(f"{AGENTS}/{d['id']}", key=key)
    eq((r.status, r.json), (200, {"id": d["id"], "deleted": True}), "DELETE of the former default")
    expect_error(s.delete(f"{AGENTS}/{other['id']}", key=key), 409, "conflict")
    eq([a["id"] for a in list_all(s, key)], [other["id"]], "agents left")


def test_delete_a_non_default_agent_keeps_conversations():
    s, account, key = account_key()
    a = create(s, key, {"name": "Temporary"})
    conv = str(uuid.uuid4())
    s.sql(f"INSERT INTO conversations (id, account_id, agent_id, title) VALUES ({sql_quote(conv)}, "
          f"{sql_quote(s.account_id(account))}, {sql_quote(a['id'])}, 'kept')")
    r = s.delete(f"{AGENTS}/{a['id']}", key=key)
    eq(r.status, 200, f"DELETE ({r.describe()})")
    eq(r.json, {"id": a["id"], "deleted": True}, "the DELETE answer")
    expect_error(s.get(f"{AGENTS}/{a['id']}", key=key), 404, "not_found")
    expect_error(s.delete(f"{AGENTS}/{a['id']}", key=key), 404, "not_found")
    expect_error(patch(s, f"{AGENTS}/{a['id']}", {"top_k": 2}, key), 404, "not_found")
    eq([x["name"] for x in list_all(s, key)], ["Default"], "agents after the DELETE")
    eq(s.query(f"SELECT title, agent_id FROM conversations WHERE id = {sql_quote(conv)}"), [["kept", None]],
       "the conversation stays, without its agent")


def test_accounts_are_isolated():
    s, _, key_a = account_key("a")
    _, _, key_b = account_key("b")
    mine = create(s, key_a, {"name": "A-only"})
    theirs = create(s, key_b, {"name": "B-only"})
    b_default = default_of(s, key_b)
    a_ids = {x["id"] for x in list_all(s, key_a)}
    check(theirs["id"] not in a_ids and b_default["id"] not in a_ids, "A's list shows B's agents")
    for bid in (theirs["id"], b_default["id"]):
        for method, body in (("GET", None), ("PATCH", {"name": "hijacked"}), ("DELETE", None)):
            r = s.request(method, f"{AGENTS}/{bid}", key=key_a, body=body)
            try:
                expect_error(r, 404, "not_found")
            except AssertionError as e:
                raise AssertionError(f"{method} of B's agent with A's key: {e}") from None
            check(b"B-only" not in r.body and b"Default" not in r.body, f"B's agent leaks to A: {r.describe()}")
    r = patch(s, f"{AGENTS}/{theirs['id']}", {"is_default": True}, key_a)
    expect_error(r, 404, "not_found")
    eq(s.get(f"{AGENTS}/{theirs['id']}", key=key_b).json, theirs, "B's agent after A's attempts")
    eq(default_of(s, key_b)["id"], b_default["id"], "B's default after A's attempts")
    eq(default_of(s, key_a)["is_default"], True, "A still has its default")
    for bad in ("not-a-uuid", str(uuid.uuid4()), mine["id"] + "0"):
        expect_error(s.get(f"{AGENTS}/{bad}", key=key_a), 404, "not_found")
    expect_error(s.get(AGENTS), 401, "invalid_api_key")


def test_list_pagination_oldest_first():
    s, _, key = account_key()
    made = [create(s, key, {"name": f"agent {i}"})["id"] for i in range(5)]
    agents = list_all(s, key, limit=2)
    ids = [a["id"] for a in agents]
    eq(len(ids), len(set(ids)), "no agent listed twice")
    eq(len(ids), 6, "agents over all pages (5 + the default)")
    eq(ids[1:], made, "created agents oldest first, after the default")
    eq(agents[0]["is_default"], True, "the default agent, made first, is first")
    created = [a["created_at"] for a in agents]
    eq(created, sorted(created), "created_at oldest first")
    one = s.get(f"{AGENTS}?limit=1", key=key)
    eq((one.json["count"], one.json["has_more"]), (1, True), "count, has_more with limit=1")
    for q, field in [("limit=0", "limit"), ("limit=101", "limit"), ("cursor=%21%21garbage%21%21", "cursor")]:
        expect_error(s.get(f"{AGENTS}?{q}", key=key), 400, "invalid_request", field)


def test_concurrent_first_use_makes_one_default(s):
    for attempt in range(3):
        account = s.new_account("race")
        key = s.new_key(account, per_minute=10000, per_hour=1000000)
        n = 8
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            barrier.wait()
            try:
                results[i] = s.get(AGENTS, key=key, timeout=30)
            except Exception as e:  # reported below with the others
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = set()
        for r in results:
            check(not isinstance(r, Exception), f"a parallel GET failed: {r!r}")
            eq(r.status, 200, f"a parallel GET ({r.describe()})")
            eq(len(r.json["agents"]), 1, f"agents seen by a parallel GET: {r.json!r}")
            ids.add(r.json["agents"][0]["id"])
        eq(len(ids), 1, f"default agents answered to the parallel GETs (attempt {attempt})")
        eq([a["id"] for a in list_all(s, key)], [ids.pop()], "the account's agents after the parallel GETs")


def test_writes_need_no_admin_scope():
    s, _, key = account_key()
    a = create(s, key, {"name": "plain key"})
    eq(patch(s, f"{AGENTS}/{a['id']}", {"top_k": 3}, key).status, 200, "PATCH with a default-scope key")
    eq(s.delete(f"{AGENTS}/{a['id']}", key=key).status, 200, "DELETE with a default-scope key")
    r = s.request("PUT", f"{AGENTS}/{a['id']}", key=key, body={"name": "x"})
    expect_error(r, 405, "method_not_allowed")
    allow = r.headers.get("Allow", "")
    check(all(m in allow for m in ("GET", "PATCH", "DELETE")), f"Allow: {allow!r}")


def test_faqsurectl_agent_commands():
    s, account, key = account_key("ctl")
    for sub in (["agent", "create"], ["agent", "list"], ["agent"]):
        r = s.ctl(*sub, "--help")
        check(sub[-1] in r.stdout, f"{' '.join(sub)} --help: {r.stdout!r}")
    check("agent create" in s.ctl("--help").stdout, "faqsurectl --help lists agent create")
    out = s.ctl("agent", "list", "--account", account).stdout
    lines = out.strip().split("\n")
    eq(len(lines), 2, f"agent list of a fresh account (header + the default): {out!r}")
    check("Default" in lines[1] and "yes" in lines[1], f"the default agent line: {lines[1]!r}")
    r = s.ctl("agent", "create", "--account", account, "--name", "CLI agent", "--system-prompt", "Speak like a pirate.",
              "--fallback-message", "Arr, no idea.", "--default")
    check("created agent" in r.stdout and "CLI agent" in r.stdout, f"agent create output: {r.stdout!r}")
    d = default_of(s, key)
    eq((d["name"], d["system_prompt"], d["fallback_message"]), ("CLI agent", "Speak like a pirate.", "Arr, no idea."),
       "the agent faqsurectl created, over HTTP")
    check(d["id"] in r.stdout, f"agent create prints the id: {r.stdout!r}")
    s.ctl("agent", "create", "--account", account, "--name", "second")
    out = s.ctl("agent", "list", "--account", account).stdout
    lines = out.strip().split("\n")[1:]
    eq(len(lines), 3, f"agent list lines: {out!r}")
    check("Default" in lines[0] and "CLI agent" in lines[1] and "second" in lines[2], f"oldest first: {out!r}")
    eq([("yes" in ln.split()) for ln in lines], [False, True, False], f"the DEFAULT column: {out!r}")
    for args, what in [(["agent", "create", "--account", account], "without --name"),
                       (["agent", "create", "--account", account, "--name", ""], "with an empty --name"),
                       (["agent", "create", "--account", account, "--name", "x", "--fallback-message", ""],
                        "with an empty --fallback-message"),
                       (["agent", "create", "--account", "no-such-account-x", "--name", "x"], "for no account"),
                       (["agent", "list"], "list without --account"),
                       (["agent", "create", "--account", account, "--name", "x", "--bogus", "1"], "unknown option")]:
        r = s.ctl(*args, check_rc=False)
        check(r.returncode != 0 and r.stderr.strip(), f"agent {what}: exit {r.returncode}, stderr {r.stderr!r}")
    eq(len(list_all(s, key)), 3, "agents after the refused commands")
