# The usage events the server writes (one per request), read from the database: a client cannot see them one by
# one, only through the analytics they feed.
from harness import eq, sql_quote, wait_for

FIELDS = ["request_id", "account_id", "key_id", "method", "route", "status", "error", "tokens_prompt",
          "tokens_completion"]


def events(s, request_ids):
    """The usage events of these request ids: {request_id: [event dict, ...]}."""
    if not request_ids:
        return {}
    rows = s.query(f"SELECT {', '.join(FIELDS)} FROM usage_events WHERE request_id IN "
                   f"({', '.join(sql_quote(r) for r in request_ids)}) ORDER BY id")
    out = {}
    for row in rows:
        ev = dict(zip(FIELDS, row))
        for k in ("status", "tokens_prompt", "tokens_completion"):
            ev[k] = int(ev[k])
        out.setdefault(ev["request_id"], []).append(ev)
    return out


def wait_events(s, request_ids, seconds=5.0):
    """Polls until every request id has an event; returns events(); fails naming the ids still missing."""
    state = {}

    def all_there():
        state["ev"] = events(s, request_ids)
        return all(r in state["ev"] for r in request_ids)

    try:
        wait_for(all_there, "usage events written", seconds)
    except AssertionError:
        missing = [r for r in request_ids if r not in state.get("ev", {})]
        raise AssertionError(f"no usage event within {seconds} s for {len(missing)} of {len(request_ids)} "
                             f"requests: {missing}") from None
    return state["ev"]


def expect_event(evs, rid, what, **want):
    got = evs.get(rid, [])
    eq(len(got), 1, f"usage events for {what} (request id {rid})")
    ev = got[0]
    actual = {k: ev[k] for k in want}
    eq(actual, want, f"usage event of {what}")
    return ev
