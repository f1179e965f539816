# Chat answers as the tests read them: the endpoints, the documented shape of an answer, and whether it answered
# (with sources, verbatim) or fell back.
import math

from harness import UUID_RE, check, eq

CHAT = "/api/v1/chat"
CONVERSATIONS = "/api/v1/chat/conversations"
SEED_CHAT = {"message": "What is your return policy?"}
FIELDS = {"conversation_id", "message_id", "message", "sources", "confidence", "fallback_triggered", "tokens_used",
          "processing_time_ms", "agent_id"}

SOURCE_FIELDS = {"chunk_id", "text", "similarity_score", "document_id", "document_filename", "metadata"}
DEFAULT_FALLBACK = "I'm sorry, I couldn't find an answer to that in our knowledge base."


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def squash(text):
    return " ".join(text.split())


def check_chat(body, what):
    """The documented shape of a chat answer, field by field."""
    check(isinstance(body, dict), f"{what}: body is not an object: {body!r}")
    eq(set(body), FIELDS, f"{what}: fields")
    for k in ("conversation_id", "message_id", "agent_id"):
        check(isinstance(body[k], str) and UUID_RE.match(body[k]), f"{what}: {k} {body[k]!r}")
    check(isinstance(body["message"], str) and body["message"].strip(), f"{what}: message {body['message']!r}")
    check(isinstance(body["sources"], list), f"{what}: sources {body['sources']!r}")
    for i, src in enumerate(body["sources"]):
        eq(set(src), SOURCE_FIELDS, f"{what}: fields of sources[{i}]")
        check(UUID_RE.match(src["chunk_id"]) and UUID_RE.match(src["document_id"]), f"{what}: ids of {src!r}")
        check(isinstance(src["text"], str) and src["text"], f"{what}: sources[{i}].text")
        check(isinstance(src["document_filename"], str) and src["document_filename"], f"{what}: filename")
        check(is_number(src["similarity_score"]) and 0 <= src["similarity_score"] <= 1,
              f"{what}: sources[{i}].similarity_score {src['similarity_score']!r}")
    check(is_number(body["confidence"]) and 0 <= body["confidence"] <= 1, f"{what}: confidence {body['confidence']!r}")
    check(isinstance(body["fallback_triggered"], bool), f"{what}: fallback_triggered {body['fallback_triggered']!r}")
    t = body["tokens_used"]
    eq(set(t), {"prompt", "completion", "total"}, f"{what}: tokens_used fields")
    check(all(is_int(t[k]) and t[k] >= 0 for k in t), f"{what}: tokens_used {t!r}")
    eq(t["total"], t["prompt"] + t["completion"], f"{what}: tokens_used.total")
    check(is_int(body["processing_time_ms"]) and body["processing_time_ms"] >= 0,
          f"{what}: processing_time_ms {body['processing_time_ms']!r}")
    return body


def chat(s, key, what=None, status=200, **fields):
    what = what or f"chat {fields!r}"
    r = s.post(CHAT, fields, key=key)
    eq(r.status, status, f"{what}: status ({r.describe()})")
    return check_chat(r.json, what) if status == 200 else r


def answered(body, what):
    check(not body["fallback_triggered"], f"{what}: fell back: {body!r}")
    check(body["sources"], f"{what}: an answer without sources")
    return body


def fell_back(body, what, fallback=DEFAULT_FALLBACK):
    check(body["fallback_triggered"], f"{what}: answered {body['message']!r} from {body['sources']!r}")
    check(body["message"].startswith(fallback), f"{what}: message {body['message']!r}")
    eq(body["sources"], [], f"{what}: a fallback cites no source")
    return body


def verbatim(body, what):
    """The answer is text of its first source (whitespace aside): the built-in answerer never writes its own."""
    src = body["sources"][0]["text"]
    check(squash(body["message"]) in squash(src), f"{what}: answer {body['message']!r} is not in {src!r}")
