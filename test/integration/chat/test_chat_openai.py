# POST /api/v1/chat with the `openai` answerer, on a stack of its own whose [answerer] points at the
# OpenAI-compatible stand-in (test/standins/openai_standin.py): what is sent upstream (the agent's system prompt,
# the numbered context, the conversation's last turns, model, temperature, max_tokens, the key), the upstream's
# usage as tokens_used and debit, NO_ANSWER as a fallback, retries, an upstream that fails, is slow or answers
# nonsense (503 quickly, never a hang), the agent's builtin fallback, streaming with a cut stream, and no RAG.
import time
import uuid

import harness
from harness import Stack, check, eq, expect_error
from standins import call, start_standin
from chatting import CHAT, SEED_CHAT, answered, check_chat, fell_back, verbatim
from kb import KB_FILES, upload_ready

MODEL = "standin-chat"
API_KEY = "sk-answerer-test-7f3a"
TIMEOUT_MS = 1500
RETRIES = 1
AGENTS = "/api/v1/agents"

_env = {}


def env():
    """The stand-in and a stack configured to use it, started once for this module; an account with the search
    tests' knowledge base and an agent answering with `openai`."""
    if not _env:
        proc, port = start_standin("openai_standin.py")
        s = Stack()
        s.extra_config = (f"[answerer]\nurl = http://127.0.0.1:{port}/v1\nmodel = {MODEL}\napi_key = {API_KEY}\n"
                          f"timeout_ms = {TIMEOUT_MS}\nmax_retries = {RETRIES}\n")
        s.standins = [proc]  # stopped with the stack
        harness.keep_stack("openai-answerer", s)  # stopped with the others at the end of the run
        _env.update(proc=proc, port=port, stack=s)
        s.start()
        account, key = s.docs_key("chat-openai", balance=10 ** 9)
        upload_ready(s, key, KB_FILES)
        agent = make_agent(s, key, "upstream", system_prompt="You are Ada, the shop's helper.", temperature=0.3,
                           max_tokens=77, history_turns=2)
        _env.update(account=account, key=key, agent=agent)
    s = _env["stack"]
    control(reset=True)
    return s, _env["key"], _env["agent"]


def make_agent(s, key, name, **fields):
    r = s.post(AGENTS, dict(name=f"{name}-{uuid.uuid4().hex[:6]}", answerer="openai", **fields), key=key)
    eq(r.status, 201, f"create agent ({r.describe()})")
    return r.json["id"]


def control(reset=False, **faults):
    port = _env["port"]
    if reset:
        eq(call(port, "POST", "/_reset")[0], 200, "stand-in reset")
    if faults:
        status, body = call(port, "POST", "/_control", faults)
        eq(status, 200, f"stand-in control {faults} ({body})")


def upstream_chats():
    status, body = call(_env["port"], "GET", "/_log")
    eq(status, 200, "stand-in log")
    return [r for r in body["requests"] if r["path"] == "/v1/chat/completions"]


def balance(s):
    return s.balance(_env["account"])


def test_chat_openai_sends_prompt_context_and_settings():
    s, key, agent = env()
    control(reply="Items can be returned within 30 days [1].")
    before = balance(s)
    r = s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key)
    eq(r.status, 200, r.describe())
    body = answered(check_chat(r.json, "openai chat"), "openai chat")
    eq(body["message"], "Items can be returned within 30 days [1].", "the upstream's answer")
    eq(body["sources"][0]["document_filename"], "returns-policy.txt", "first source")
    sent = upstream_chats()
    eq(len(sent), 1, "one upstream request")
    req = sent[0]
    eq(req["headers"].get("Authorization"), f"Bearer {API_KEY}", "the configured key as a bearer token")
    b = req["body"]
    eq((b["model"], b["temperature"], b["max_tokens"]), (MODEL, 0.3, 77), "model and the agent's settings")
    check(not b.get("stream"), "not streamed")
    msgs = b["messages"]
    eq(msgs[0]["role"], "system", "system message first")
    check(msgs[0]["content"].startswith("You are Ada, the shop's helper."), f"system prompt {msgs[0]['content']!r}")
    check("[1] (returns-policy.txt)" in msgs[0]["content"], "numbered context with the file name")
    check(body["sources"][0]["text"][:60] in msgs[0]["content"], "the first source's text in the context")
    check("NO_ANSWER" in msgs[0]["content"], "the model is told how to decline")
    eq(msgs[-1], {"role": "user", "content": SEED_CHAT["message"]}, "the question last")
    usage = req["usage"]
    eq(body["tokens_used"], {"prompt": usage["prompt_tokens"], "completion": usage["completion_tokens"],
                             "total": usage["total_tokens"]}, "tokens_used is the upstream's usage")
    eq(balance(s), before - usage["total_tokens"], "the balance drops by the upstream's total")


def test_chat_openai_sends_the_conversation_history():
    s, key, agent = env()
    first = s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key).json
    cid = first["conversation_id"]
    s.post(CHAT, {"message": "Can I return gift cards?", "conversation_id": cid}, key=key)
    third = s.post(CHAT, {"message": "And opened software?", "conversation_id": cid}, key=key)
    eq(third.status, 200, third.describe())
    eq(third.json["agent_id"], agent, "the conversation keeps its agent")
    msgs = upstream_chats()[-1]["body"]["messages"]
    turns = [(m["role"], m["content"]) for m in msgs[1:]]
    # history_turns = 2: the last two question/answer pairs, oldest first, then the question
    eq([t[0] for t in turns], ["user", "assistant", "user", "assistant", "user"], "roles sent")
    eq(turns[0][1], SEED_CHAT["message"], "first question")
    eq(turns[1][1], first["message"], "first answer")
    eq(turns[2][1], "Can I return gift cards?", "second question")
    eq(turns[-1][1], "And opened software?", "the question last")


def test_chat_openai_no_answer_falls_back():
    s, key, agent = env()
    control(reply="NO_ANSWER")
    body = fell_back(check_chat(s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key).json, "NO_ANSWER"),
                     "NO_ANSWER")
    check(body["confidence"] > 0, "retrieval's confidence is still reported")
    # nothing over the threshold: the upstream is not asked at all
    control(reset=True)
    fell_back(check_chat(s.post(CHAT, {"message": "What makes volcanoes erupt?", "agent_id": agent}, key=key).json,
                         "off topic"), "off topic")
    eq(upstream_chats(), [], "no upstream request for a question the knowledge base cannot answer")


def test_chat_openai_retries_then_answers():
    s, key, agent = env()
    control(fail=[{"status": 429, "times": 1, "retry_after": 1}])
    t0 = time.monotonic()
    r = s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key)
    eq(r.status, 200, f"after one 429 ({r.describe()})")
    check(time.monotonic() - t0 >= 0.9, "Retry-After was honoured")
    eq(len(upstream_chats()), 2, "one retry")


def test_chat_openai_unavailable_is_503_quickly():
    s, key, agent = env()
    for faults, what in (({"fail": [{"status": 500, "times": 10}]}, "persistent 500"),
                         ({"delay_ms": TIMEOUT_MS + 2000}, "slower than the timeout"),
                         ({"malformed": 10}, "malformed JSON"),
                         ({"drop": 10}, "connection dropped")):
        control(reset=True, **faults)
        before = balance(s)
        t0 = time.monotonic()
        r = s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key, timeout=30)
        took = time.monotonic() - t0
        expect_error(r, 503, "upstream_unavailable")
        check(API_KEY not in r.body.decode(), f"{what}: the key never appears in an error")
        check(took < (RETRIES + 1) * TIMEOUT_MS / 1000 + 6, f"{what}: answered in {took:.1f} s, not a hang")
        eq(balance(s), before, f"{what}: nothing is debited")
    control(reset=True)


def test_chat_openai_agent_may_fall_back_to_builtin():
    s, key, _ = env()
    agent = make_agent(s, key, "resilient", upstream_fallback="builtin")
    control(fail=[{"status": 503, "times": 10}])
    body = answered(check_chat(s.post(CHAT, dict(SEED_CHAT, agent_id=agent), key=key).json, "builtin fallback"),
                    "builtin fallback")
    verbatim(body, "the built-in answer")
    check("30 days" in body["message"], f"answer {body['message']!r}")


def test_chat_openai_streams_deltas_and_usage():
    s, key, agent = env()
    control(reply="You can return most items within thirty days of delivery.", chunk_delay_ms=30)
    with s.sse(CHAT, dict(SEED_CHAT, agent_id=agent, stream=True), key=key) as st:
        eq(st.status, 200, "stream status")
        events = list(st)
    names = [e.name for e in events]
    check(names[-1] == "done" and names.count("delta") >= 3, f"events {names}")
    final = check_chat(events[-1].data, "done")
    eq("".join(e.data["content"] for e in events if e.name == "delta"), final["message"], "deltas add up")
    eq(final["message"], "You can return most items within thirty days of delivery.", "the streamed answer")
    req = upstream_chats()[-1]
    check(req["body"].get("stream") is True, "streamed upstream")
    eq(final["tokens_used"]["total"], req["usage"]["total_tokens"], "usage from the stream")
    check(events[-2].arrived - events[0].arrived >= 0.1, "deltas arrived as the upstream produced them")


def test_chat_openai_cut_stream_ends_with_an_error_event():
    s, key, agent = env()
    control(reply="one two three four five six seven eight", cut_stream_after=3)
    before = balance(s)
    with s.sse(CHAT, dict(SEED_CHAT, agent_id=agent, stream=True), key=key) as st:
        eq(st.status, 200, "stream status")
        events = list(st)
    names = [e.name for e in events]
    eq(names[-1], "error", f"events {names}")
    check("delta" in names, f"some text came first: {names}")
    eq(events[-1].data["error"], "upstream_unavailable", "error event")
    eq(events[-1].data["status"], 503, "error status")
    eq(balance(s), before, "a cut answer is not debited")
    # a stream whose upstream fails before any text: the ordinary JSON error, no stream
    control(reset=True, fail=[{"status": 500, "times": 10}])
    r = s.post(CHAT, dict(SEED_CHAT, agent_id=agent, stream=True), key=key, timeout=30)
    expect_error(r, 503, "upstream_unavailable")


def test_chat_openai_without_rag():
    s, key, agent = env()
    control(reply="Hello! How can I help?")
    body = check_chat(s.post(CHAT, {"message": "Hi there", "agent_id": agent, "use_rag": False}, key=key).json,
                      "no RAG")
    eq((body["message"], body["fallback_triggered"], body["sources"], body["confidence"]),
       ("Hello! How can I help?", False, [], 0), "an answer without retrieval")
    system = upstream_chats()[-1]["body"]["messages"][0]["content"]
    check("[1]" not in system and "NO_ANSWER" not in system, f"no context without RAG: {system!r}")


def lighttpd_env():
    """The same upstream behind lighttpd: a second stack, an account and an openai agent of its own."""
    if "lt" not in _env:
        import shutil, os
        if not shutil.which("lighttpd", path=os.environ.get("PATH", "") + ":/usr/sbin"):
            raise harness.SkipTest("lighttpd is not installed (make deps installs it)")
        env()
        lt = Stack(web="lighttpd")
        lt.extra_config = _env["stack"].extra_config
        harness.keep_stack("openai-answerer-lighttpd", lt)
        _env["lt"] = lt
        lt.start()
        _, key = lt.docs_key("chat-openai-lt", unlimited=True)
        upload_ready(lt, key, KB_FILES)
        _env.update(lt_key=key, lt_agent=make_agent(lt, key, "upstream-lt"))
    return _env["lt"], _env["lt_key"], _env["lt_agent"]


def test_chat_openai_stream_is_not_buffered_by_apache_or_lighttpd():
    """Each delta reaches the client when the upstream produces it, through both web servers."""
    words = "one two three four five".split()
    for web, (s, key, agent) in (("apache", env()), ("lighttpd", lighttpd_env())):
        # 5 pieces, the finish and usage chunks and [DONE] 0.12 s apart: within TIMEOUT_MS in all
        control(reset=True, reply=" ".join(words), chunk_delay_ms=120)
        t0 = time.monotonic()
        with s.sse(CHAT, dict(SEED_CHAT, agent_id=agent, stream=True), key=key) as st:
            eq(st.status, 200, f"{web}: stream status")
            events = list(st)
        deltas = [e for e in events if e.name == "delta"]
        eq(events[-1].name, "done", f"{web}: last event ({events[-1].data})")
        eq("".join(e.data["content"] for e in deltas), " ".join(words), f"{web}: the streamed text")
        check(len(deltas) >= 4, f"{web}: {len(deltas)} deltas")
        spread = deltas[-1].arrived - deltas[0].arrived
        # the upstream spaces its five pieces 0.12 s apart: buffered, they would arrive together at the end
        check(spread >= 0.3, f"{web}: deltas arrived within {spread:.2f} s of each other: buffered")
        check(deltas[0].arrived - t0 < events[-1].arrived - t0 - 0.3,
              f"{web}: the first delta came only at the end ({deltas[0].arrived - t0:.2f} s of "
              f"{events[-1].arrived - t0:.2f} s)")
