# GET /api/v1/analytics/dashboard and `faqsurectl stats`, black-box through the real stack: a scripted session
# (uploads, one failing and one refused; searches; chats, some answered and some falling back; paraphrases of one
# question; an unanswered question in several wordings; a three-turn conversation; feedback; 400s, 403, 404s and
# 429s on two named keys, one of them revoked afterwards) and, at the same time, a second account with its own
# activity. Each dashboard must equal what the script did, exactly: counts from the script's own requests and
# answers, timings (which the script cannot know) from the usage events it caused, by SQL. Neither account's
# activity shows up in the other's dashboard.
#
# The dashboard request is a request too: its usage event is written after it answered, so a dashboard never
# counts itself, and every later one counts every earlier one (in latency and keys). Before each dashboard the
# test waits until the account has exactly as many usage events as requests it sent that reached a route with a
# key (usage events are written in batches within about a second).
import copy
import datetime
import fractions
import json
import math
import re
import threading
import time
import uuid
from collections import Counter

import docfiles
from harness import (DATA, check, eq, expect_error, expect_request_id, fresh_minute, multipart, random_key, sql_quote,
                     stack, wait_for)
from kb import FAQ_CSV, HELP_MD, RETURNS_TXT, SHIPPING_MD

DASH = "/api/v1/analytics/dashboard"
CHAT = "/api/v1/chat"
CONVERSATIONS = "/api/v1/chat/conversations"
SEARCH = "/api/v1/search"
DOCS = "/api/v1/documents"
UPLOAD = "/api/v1/documents/upload"
FEEDBACK = "/api/v1/chat/messages/{id}/feedback"

OLD_PRICES_MD = b"""# Garden furniture, 2019 catalogue

The teak bench was 240 dollars and the folding chair 35 dollars in the 2019 catalogue. The hammock stand came in
green or grey. None of these items is sold any more.
"""
B_NOTES_TXT = b"""Warehouse notes

The loading dock on the north side closes at 17:30. Forklift batteries are charged overnight in bay 4.
"""
NO_QA_CSV = (DATA / "extract" / "no-qa.csv").read_bytes()  # a CSV without question/answer columns: fails


# ---- dates ---------------------------------------------------------------------------------------------------------

def utc_today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def day(d):
    return d.isoformat()


def away_from_midnight(margin=180):
    """Every request of this module must fall on one UTC day: if midnight is near, wait until it has passed."""
    now = time.time()
    left = 86400 - (now % 86400)
    if left < margin:
        time.sleep(left + 1)


# ---- numbers -------------------------------------------------------------------------------------------------------

class Rounded:
    """A value the server rounds to `places` decimals: the exact value (a Fraction) rounded half up; at an exact
    tie either neighbour is accepted (the server may round a binary double). `extra` are further accepted values."""

    def __init__(self, exact, places, extra=()):
        self.exact = fractions.Fraction(exact)
        self.places = places
        scaled = self.exact * 10 ** places
        low = math.floor(scaled)
        rest = scaled - low
        ks = {low, low + 1} if rest == fractions.Fraction(1, 2) else ({low + 1} if rest > fractions.Fraction(1, 2)
                                                                      else {low})
        self.accept = {round(k / 10 ** places, places) for k in ks} | set(extra)

    def matches(self, x):
        return (isinstance(x, (int, float)) and not isinstance(x, bool) and
                any(abs(x - a) < 1e-9 for a in self.accept))

    def __repr__(self):
        vals = " or ".join(repr(a) for a in sorted(self.accept))
        return f"{vals} (exactly {float(self.exact)!r}, to {self.places} decimals)"


class SomeOf:
    """A list of `n` distinct values out of `values`, in any order (paraphrases beyond the 5 shown)."""

    def __init__(self, values, n):
        self.values, self.n = sorted(values), n

    def matches(self, x):
        return (isinstance(x, list) and len(x) == self.n and len(set(x)) == self.n and
                all(v in self.values for v in x))

    def __repr__(self):
        return f"{self.n} of {self.values!r}"


def bucket(ms):
    """A time as the latency rollup keeps it: exact below 1 s, then the lower bound of a 10 ms (to 10 s), 100 ms
    (to 100 s) or 1 s bucket."""
    if ms < 1000:
        return ms
    if ms < 10000:
        return ms // 10 * 10
    if ms < 100000:
        return ms // 100 * 100
    return ms // 1000 * 1000


def nearest_rank(sorted_values, p):
    return sorted_values[max(1, math.ceil(p * len(sorted_values) / 100)) - 1]


# ---- comparing dashboards ------------------------------------------------------------------------------------------

def same(actual, expected, path="dashboard"):
    """Deep equality with exact types (an integer is not a float, a list is ordered), Rounded for rounded numbers;
    fails naming the first path that differs."""
    if isinstance(expected, (Rounded, SomeOf)):
        check(expected.matches(actual), f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, dict):
        check(isinstance(actual, dict), f"{path}: expected an object, got {actual!r}")
        eq(sorted(actual), sorted(expected), f"{path}: fields")
        for k in expected:
            same(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, list):
        check(isinstance(actual, list), f"{path}: expected a list, got {actual!r}")
        if len(actual) != len(expected):
            raise AssertionError(f"{path}: expected {len(expected)} entries, got {len(actual)}:\n"
                                 f"  expected {json.dumps(expected, default=repr)[:3000]}\n"
                                 f"  got      {json.dumps(actual)[:3000]}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, f"{path}[{i}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        check(type(actual) is type(expected) and actual == expected, f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, float):
        check(isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == expected,
              f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, int):
        check(isinstance(actual, int) and not isinstance(actual, bool) and actual == expected,
              f"{path}: expected {expected!r}, got {actual!r}")
    else:
        raise AssertionError(f"{path}: test bug, cannot compare with {expected!r}")


# Lists ranked by one number ("most … first") whose ties the contract leaves unordered: (section, list, rank
# field, tie-breaker fields).
RANKED = [("latency", lambda d: d.get("latency"), "requests", ("method", "route")),
          ("keys", lambda d: d.get("keys"), "requests", ("key_id",)),
          ("top_questions", lambda d: d.get("top_questions"), "count", ("question",)),
          ("unanswered_questions", lambda d: d.get("unanswered_questions"), "fallbacks", ("question",)),
          ("documents.most_cited", lambda d: (d.get("documents") or {}).get("most_cited"), "citations",
           ("document_id",))]


def check_ranked(dash, what):
    """The ranked lists of a dashboard are in rank order (most first)."""
    for name, get, field, _ in RANKED:
        items = get(dash)
        if not isinstance(items, list):
            continue
        ranks = [x.get(field) if isinstance(x, dict) else None for x in items]
        ok = all(isinstance(r, int) for r in ranks) and all(a >= b for a, b in zip(ranks, ranks[1:]))
        check(ok, f"{what}: {name} is not ordered by {field}, most first: {ranks}")


def normalized(dash):
    """A copy with the ties of the ranked lists and the paraphrases in one fixed order (the contract does not
    order them), for comparing; the rest as it is."""
    d = copy.deepcopy(dash)
    if not isinstance(d, dict):
        return d
    for name, get, field, ties in RANKED:
        items = get(d)
        if isinstance(items, list) and all(isinstance(x, dict) for x in items):
            items.sort(key=lambda x: (-(x.get(field) if isinstance(x.get(field), int) else 0),
                                      *(str(x.get(t)) for t in ties)))
    for name in ("top_questions", "unanswered_questions"):
        for x in d.get(name) or []:
            if isinstance(x, dict) and isinstance(x.get("paraphrases"), list):
                x["paraphrases"] = sorted(x["paraphrases"], key=str)
    return d


def compare(actual, expected, what):
    check(isinstance(actual, dict), f"{what}: the dashboard is not an object: {actual!r}")
    check_ranked(actual, what)
    same(normalized(actual), normalized(expected), what)


def first_ten(entries, field):
    """The 10 entries with the most `field` (the test makes sure the 10th and the 11th differ)."""
    entries = sorted(entries, key=lambda x: -x[field])
    if len(entries) > 10:
        check(entries[9][field] > entries[10][field], f"test bug: the 10th and 11th {field} tie: {entries}")
    return entries[:10]


# ---- an account and what the test did with it ----------------------------------------------------------------------

class Tenant:
    """An account, its keys, and a record of every request the test made with them: the statuses, the chat
    answers, the documents, the feedback. expected() derives the dashboard from that record."""

    def __init__(self, s, prefix, **account_kw):
        self.s = s
        self.account = s.new_account(prefix, **account_kw)
        self.aid = s.account_id(self.account)
        self.keys = {}
        self.sent = []  # requests that reached a route with a key of this account: they have usage events
        self.chats = []  # {"question", "group", "answer"} of every chat answered 200
        self.docs = []  # {"filename", "id", "status"} of every new document, in upload order
        self.deleted = set()
        self.feedback = {}  # answer id -> the rating it has now
        self.rated = []  # answer ids in the order of their last rating that changed something, oldest first
        self.comments = {}  # answer id -> the comment its rating has now (None without one)

    def add_key(self, name, **kw):
        secret = self.s.new_key(self.account, name=name, **kw)
        kid = self.s.key_id(secret)
        eq(self.s.query(f"SELECT prefix FROM api_keys WHERE id = {sql_quote(kid)}"), [[secret[:17]]],
           f"stored prefix of key {name!r}")
        self.keys[name] = {"secret": secret, "id": kid, "prefix": secret[:17], "name": name}
        return secret

    def call(self, key, method, path, route, body=None, headers=None, status=None, what=None, counted=True):
        """One request with the named key (None: no key). counted: it reaches `route` with a valid key, so it is a
        usage event of this account."""
        secret = self.keys[key]["secret"] if key in self.keys else key
        r = self.s.request(method, path, key=secret, body=body, headers=headers, timeout=60)
        what = what or f"{method} {path}"
        if status is not None:
            eq(r.status, status, f"{self.account}: {what}: status ({r.describe()})")
        rid = expect_request_id(r)
        if counted:
            self.sent.append({"key": key, "method": method, "route": route, "status": r.status, "rid": rid})
        return r

    # -- the routes the script uses ------------------------------------------------------------------------------
    def upload(self, key, filename, data, status=200, expect="ready"):
        body, ctype = multipart([("file", data, filename, "application/octet-stream")])
        r = self.call(key, "POST", UPLOAD, UPLOAD, body=body, headers={"Content-Type": ctype}, status=status,
                      what=f"upload {filename}")
        if status == 200:
            eq((r.json.get("status"), r.json.get("duplicate")), ("processing", None), f"upload of {filename}")
            self.docs.append({"filename": filename, "id": r.json["id"], "status": expect})
        return r

    def chat(self, key, message, group, status=200, **fields):
        r = self.call(key, "POST", CHAT, CHAT, body=dict(fields, message=message), status=status,
                      what=f"chat {message!r}")
        if r.status != 200:
            return r
        b = r.json
        for f in ("conversation_id", "message_id", "sources", "confidence", "fallback_triggered", "tokens_used"):
            check(f in b, f"chat {message!r}: no {f} in {b!r}")
        self.chats.append({"question": message, "group": group, "answer": b})
        return b

    def search(self, key, status=200, **fields):
        return self.call(key, "POST", SEARCH, SEARCH, body=fields, status=status, what=f"search {fields!r}")

    def rate(self, key, answer, rating, status=200, body=None):
        mid = answer if isinstance(answer, str) else answer["message_id"]
        body = body if body is not None else {"rating": rating}
        r = self.call(key, "POST", f"/api/v1/chat/messages/{mid}/feedback", FEEDBACK, body=body, status=status,
                      what=f"feedback {rating!r} on {mid}")
        if r.status == 200:
            if (self.feedback.get(mid), self.comments.get(mid)) != (rating, body.get("comment")) or mid not in self.rated:
                self.rated = [m for m in self.rated if m != mid] + [mid]  # a rating that changes is given again
            self.feedback[mid] = rating
            self.comments[mid] = body.get("comment")
        return r

    def dashboard(self, key, query="", status=200):
        path = DASH + (f"?{query}" if query else "")
        return self.call(key, "GET", path, DASH, status=status, what=f"GET {path}")

    # -- usage events ----------------------------------------------------------------------------------------------
    def events(self, where=""):
        """(method, route, status, processing_ms, tokens_prompt, tokens_completion, key_id) of the account's usage
        events, by SQL."""
        rows = self.s.query(f"SELECT method, route, status, processing_ms, tokens_prompt, tokens_completion, key_id "
                            f"FROM usage_events WHERE account_id = {self.aid} {where}")
        return [(m, r, int(st), int(ms), int(tp), int(tc), k) for m, r, st, ms, tp, tc, k in rows]

    def settle(self, seconds=8.0):
        """Waits until the account has exactly one usage event per counted request, and checks they are those
        requests (key, method, route, status)."""
        want = len(self.sent)
        state = {}

        def done():
            state["n"] = self.s.count_rows("usage_events", f"account_id = {self.aid}")
            return state["n"] >= want

        wait_for(done, f"{self.account}: {want} usage events (have {state.get('n')})", seconds)
        id_to_name = {k["id"]: name for name, k in self.keys.items()}
        got = Counter((id_to_name.get(k, k), m, r, st) for m, r, st, _, _, _, k in self.events())
        sent = Counter((x["key"], x["method"], x["route"], x["status"]) for x in self.sent)
        if got != sent:
            raise AssertionError(f"{self.account}: usage events (key, method, route, status) differ from the "
                                 f"requests sent: only in the events {dict(got - sent)}, only sent "
                                 f"{dict(sent - got)}")

    # -- what the dashboard must say ---------------------------------------------------------------------------------
    def expected(self, frm, to):
        s = self.s
        today = utc_today()
        active = frm <= today <= to  # the whole session happened today
        days = (to - frm).days + 1
        chats = self.chats if active else []
        answers = [c["answer"] for c in chats]
        sent = self.sent if active else []
        lo, hi = day(frm), day(to + datetime.timedelta(days=1))
        events = self.events(f"AND created_at >= '{lo}' AND created_at < '{hi}'")
        eq(Counter((m, r) for m, r, *_ in events), Counter((x["method"], x["route"]) for x in sent),
           f"{self.account}: usage events in {day(frm)}..{day(to)} by method and route, against the requests sent")

        # tokens: what the requests recorded; the chats' part is what the chats answered
        chat_events = [e for e in events if e[1] == CHAT]
        eq((sum(e[4] for e in chat_events), sum(e[5] for e in chat_events)),
           (sum(a["tokens_used"]["prompt"] for a in answers), sum(a["tokens_used"]["completion"] for a in answers)),
           f"{self.account}: tokens of the chat usage events against tokens_used of the answers")
        tp, tc = sum(e[4] for e in events), sum(e[5] for e in events)

        questions = len(answers)
        fallbacks = sum(1 for a in answers if a["fallback_triggered"])
        conversations = len({a["conversation_id"] for a in answers})
        conf = sum((fractions.Fraction(repr(a["confidence"])) for a in answers), fractions.Fraction(0))
        rate = fractions.Fraction(fallbacks, questions) if questions else fractions.Fraction(0)

        live = [d for d in self.docs if d["id"] not in self.deleted]
        by_status = Counter(d["status"] for d in live)
        balance = s.query(f"SELECT balance FROM accounts WHERE id = {self.aid}")[0][0]
        totals = {
            "conversations": conversations, "messages": 2 * questions, "questions": questions,
            "answered": questions - fallbacks, "fallbacks": fallbacks,
            "fallback_rate": Rounded(rate, 4, extra=(float(rate),)),
            "average_confidence": Rounded(conf / questions if questions else 0, 4),
            "tokens": {"prompt": tp, "completion": tc, "total": tp + tc},
            "token_balance": None if balance is None else int(balance),
            "documents": {"processing": by_status["processing"], "ready": by_status["ready"],
                          "failed": by_status["failed"], "total": len(live)},
            "chunks": s.count_rows("chunks", f"account_id = {self.aid}"),
            # documents made ready in the window, deleted ones too: the tokens they were debited
            "indexing_tokens": sum(d["tokens"] for d in self.docs if d["status"] == "ready") if active else 0,
            "documents_indexed": sum(1 for d in self.docs if d["status"] == "ready") if active else 0,
        }

        latency = []
        for (method, route), n in Counter((m, r) for m, r, *_ in events).items():
            ms = sorted(e[3] for e in events if (e[0], e[1]) == (method, route))
            latency.append({"method": method, "route": route, "requests": n,
                            "average_ms": Rounded(fractions.Fraction(sum(ms), n), 1),
                            "p50_ms": bucket(nearest_rank(ms, 50)), "p95_ms": bucket(nearest_rank(ms, 95))})

        keys = []
        for name, k in self.keys.items():
            mine = [x for x in sent if x["key"] == name]
            if mine:
                keys.append({"key_id": k["id"], "prefix": k["prefix"], "name": k["name"], "requests": len(mine),
                             "rate_limited": sum(1 for x in mine if x["status"] == 429),
                             "errors": sum(1 for x in mine if x["status"] >= 400 and x["status"] != 429)})

        daily = []
        for i in range(days):
            d = frm + datetime.timedelta(days=i)
            if d == today:
                daily.append({"date": day(d), "conversations": conversations, "messages": 2 * questions,
                              "fallbacks": fallbacks, "tokens": tp + tc,
                              "indexing_tokens": totals["indexing_tokens"]})
            else:
                daily.append({"date": day(d), "conversations": 0, "messages": 0, "fallbacks": 0, "tokens": 0,
                              "indexing_tokens": 0})

        groups = {}
        for c in chats:
            groups.setdefault(c["group"], []).append(c)
        asked = {}  # answer id -> when its question was asked
        if chats:
            ids = ", ".join(sql_quote(c["answer"]["message_id"]) for c in chats)
            for aid_, when in s.query(f"SELECT a.id, DATE_FORMAT(q.created_at, '%Y-%m-%dT%H:%i:%sZ') FROM messages a "
                                      f"JOIN messages q ON q.id = a.question_id WHERE a.id IN ({ids})"):
                asked[aid_] = when
        top, unanswered = [], []
        for group, cs in groups.items():
            wordings = Counter(c["question"] for c in cs)
            first = max(wordings.values())
            leaders = [w for w, n in wordings.items() if n == first]
            check(len(leaders) == 1, f"test bug: group {group!r} has no single most-asked wording: {wordings}")
            question = leaders[0]
            others = sorted(w for w in wordings if w != question)
            if len(others) > 5:
                check(len(set(wordings[w] for w in others)) == 1,
                      f"test bug: which 5 wordings of {group!r} are shown depends on ties: {wordings}")
                others = SomeOf(others, 5)
            fb = sum(1 for c in cs if c["answer"]["fallback_triggered"])
            top.append({"question": question, "count": len(cs), "answered": len(cs) - fb, "fallbacks": fb,
                        "paraphrases": others})
            if fb:
                unanswered.append({"question": question, "count": len(cs), "fallbacks": fb,
                                   "last_asked": max(asked[c["answer"]["message_id"]] for c in cs),
                                   "paraphrases": others})
        top = first_ten(top, "count")
        unanswered = first_ten(unanswered, "fallbacks")

        names = {d["id"]: (None if d["id"] in self.deleted else d["filename"]) for d in self.docs}
        cited = Counter(src["document_id"] for a in answers for src in a["sources"])
        check(len(cited) <= 10, "test bug: more than 10 cited documents")
        most_cited = [{"document_id": i, "filename": names[i], "citations": n} for i, n in cited.items()]
        never = [{"document_id": d["id"], "filename": d["filename"]} for d in live
                 if d["status"] == "ready" and d["id"] not in cited]

        votes = Counter(self.feedback.values()) if active else Counter()

        # answers to look at: rated down (newest rating first), and the ten the answerer was least sure of
        by_id = {c["answer"]["message_id"]: c for c in chats}
        when = {}  # answer id -> (created_at to the microsecond, shown created_at, shown time of its rating)
        if chats:
            ids = ", ".join(sql_quote(i) for i in by_id)
            for aid_, us, shown, rated in s.query(
                    f"SELECT a.id, DATE_FORMAT(a.created_at, '%Y%m%d%H%i%s%f'), DATE_FORMAT(a.created_at, "
                    f"'%Y-%m-%dT%H:%i:%sZ'), DATE_FORMAT(f.updated_at, '%Y-%m-%dT%H:%i:%sZ') FROM messages a "
                    f"LEFT JOIN message_feedback f ON f.message_id = a.id WHERE a.id IN ({ids})"):
                when[aid_] = (int(us), shown, rated)

        def shown_answer(mid):
            c = by_id[mid]
            return {"question": c["question"], "answer": c["answer"]["message"],
                    "confidence": c["answer"]["confidence"], "conversation_id": c["answer"]["conversation_id"],
                    "message_id": mid, "created_at": when[mid][1]}

        downvoted = [dict(shown_answer(m), comment=self.comments.get(m), rated_at=when[m][2])
                     for m in reversed(self.rated) if self.feedback.get(m) == "down" and m in by_id][:20]
        sure = sorted((a for a in answers if not a["fallback_triggered"] and a["confidence"] > 0),
                      key=lambda a: (a["confidence"], -when[a["message_id"]][0], a["message_id"]))
        lowest = [shown_answer(a["message_id"]) for a in sure[:10]]
        return {"window": {"from": day(frm), "to": day(to), "days": days}, "totals": totals, "latency": latency,
                "keys": keys, "daily": daily, "top_questions": top, "unanswered_questions": unanswered,
                "documents": {"most_cited": most_cited, "never_cited": never, "never_cited_count": len(never)},
                "feedback": {"up": votes["up"], "down": votes["down"]},
                "downvoted_answers": downvoted, "lowest_confidence_answers": lowest}

    def check_dashboard(self, key, frm, to, query=None, what=None):
        """Waits for the usage events, then GETs the dashboard (with `query`, default: from and to given) and
        compares it with expected(frm, to). Returns the body."""
        self.settle()
        want = self.expected(frm, to)
        q = f"from={day(frm)}&to={day(to)}" if query is None else query
        r = self.dashboard(key, q)
        eq(r.status, 200, f"{self.account}: GET {DASH}?{q} ({r.describe()})")
        check(r.headers.get("Content-Type", "").startswith("application/json"), f"Content-Type {r.headers!r}")
        compare(r.json, want, what or f"{self.account} dashboard ?{q}")
        return r.json


# ---- the scripted session ------------------------------------------------------------------------------------------

RETURN_WORDINGS = ["What is your return policy?", "return policy??", "What is your return policy?",
                   "What's your policy on returns?", "What is your return policy?"]  # and "Returns policies?" on K2
VOLCANO_WORDINGS = ["Why do volcanoes erupt?", "Why does a volcano erupt?", "Why do volcanoes erupt?",
                    "volcano eruptions?"]

_session = {}


def session():
    """Accounts A (a balance; keys "Production", "Widget" with 4 requests a minute, "Unused") and B (unlimited;
    key "Main"), with their activity interleaved. Built once; later tests only add dashboard requests."""
    if _session:
        return _session
    s = stack()
    away_from_midnight()
    a = Tenant(s, "analytics-a", balance=1000000)
    b = Tenant(s, "analytics-b", unlimited=True)
    a.add_key("Production", per_minute=10000, per_hour=1000000)
    a.add_key("Widget", per_minute=4, per_hour=1000)
    a.add_key("Unused")
    b.add_key("Main", per_minute=10000, per_hour=1000000)
    P, W = "Production", "Widget"

    # documents: six good ones, one that fails in the worker, one refused (415); B's own
    for name, data in (("returns-policy.txt", RETURNS_TXT), ("help.md", HELP_MD), ("shipping-faq.md", SHIPPING_MD),
                       ("store-faq.csv", FAQ_CSV), ("old-prices.md", OLD_PRICES_MD),
                       ("warehouse-notes.txt", B_NOTES_TXT)):
        a.upload(P, name, data)
    b.upload("Main", "returns-policy.txt", RETURNS_TXT)  # the same bytes in another account: a new document
    a.upload(P, "contacts.csv", NO_QA_CSV, expect="failed")
    a.upload(P, "pixel.png", docfiles.png(), status=415)
    b.upload("Main", "b-shipping.md", SHIPPING_MD)
    b.upload("Main", "b-notes.txt", B_NOTES_TXT)
    ids = [d["id"] for t in (a, b) for d in t.docs]
    states = s.wait_processed(ids, seconds=60)
    for t in (a, b):
        for d in t.docs:
            eq(states[d["id"]][0], d["status"], f"{t.account}: status of {d['filename']} ({states[d['id']][1]!r})")
    listing = a.call(P, "GET", f"{DOCS}?limit=100", DOCS, status=200).json["documents"]
    eq(sorted(x["id"] for x in listing), sorted(d["id"] for d in a.docs), "A's documents listed")
    doc_tokens = sum(x["tokens"] for x in listing if x["status"] == "ready")
    for t in (a, b):  # what indexing took, kept for the dashboard's indexing_tokens (B deletes one later)
        tokens = dict(s.query(f"SELECT id, tokens FROM documents WHERE account_id = {t.aid}"))
        for d in t.docs:
            d["tokens"] = int(tokens[d["id"]])

    # searches (and a bad one)
    a.search(P, query="How do I reset my password?")
    b.search("Main", query="return window for refunds")
    a.search(P, query="shipping costs", use_hybrid=True)
    a.search(P, query="gift cards", top_k=2)
    a.search(P, status=400, query="")

    # the paraphrases of one question, answered
    for q in RETURN_WORDINGS:
        body = a.chat(P, q, "return")
        check(not body["fallback_triggered"] and body["sources"], f"{q!r} should be answered: {body!r}")
    b_return = b.chat("Main", "What is your return policy?", "return")
    # an unanswered question in several wordings
    for q in VOLCANO_WORDINGS:
        body = a.chat(P, q, "volcano")
        check(body["fallback_triggered"], f"{q!r} should fall back: {body['message']!r}")
    b.chat("Main", "Why do volcanoes erupt?", "volcano")
    password = a.chat(P, "How do I reset my password?", "password")
    gift = a.chat(P, "Do you offer gift wrapping?", "gift")
    # a three-turn conversation
    first = a.chat(P, "How much does express shipping cost?", "express")
    cid = first["conversation_id"]
    a.chat(P, "What about standard delivery?", "standard", conversation_id=cid)
    a.chat(P, "And international parcels?", "international", conversation_id=cid)
    b_ship = b.chat("Main", "How much does express shipping cost?", "express")
    check(any(src["document_id"] == b.docs[1]["id"] for src in b_ship["sources"]),
          f"B's shipping question should cite b-shipping.md: {b_ship['sources']!r}")
    football = a.chat(P, "Who won the football world cup in 1998?", "football")
    check(football["fallback_triggered"], "the football question should fall back")
    norag = a.chat(P, "How do I turn on two-factor authentication?", "twofactor", use_rag=False)
    check(norag["fallback_triggered"], "a chat without RAG falls back with the built-in answerer")
    b.chat("Main", "What is your return policy?", "return")

    # refused chats: bad bodies, an unknown conversation, B's conversation
    a.chat(P, "", "none", status=400)
    a.chat(P, "hi", "none", status=400, top_k=0)
    a.chat(P, "What is your return policy?", "none", status=404, conversation_id=str(uuid.uuid4()))
    a.chat(P, "What is your return policy?", "none", status=404, conversation_id=b_return["conversation_id"])
    b.chat("Main", "x" * 4001, "none", status=400)

    # feedback: up, up, down, and one changed from up to down; refused ones
    answers = [c["answer"] for c in a.chats]
    a.rate(P, answers[0], "up")
    a.rate(P, password, "up")
    a.rate(P, gift, "down", body={"rating": "down", "comment": "It should say how much the card costs."})
    a.rate(P, answers[1], "up")
    a.rate(P, answers[1], "down")
    a.rate(P, answers[2], "meh", status=400)
    conv = a.call(P, "GET", f"{CONVERSATIONS}/{cid}", CONVERSATIONS + "/{id}", status=200).json
    eq(conv.get("message_count"), 6, "the three-turn conversation")
    a.rate(P, conv["messages"][0]["id"], "up", status=404)  # a question's id
    a.rate(P, b_return, "up", status=404)  # B's answer
    b.rate("Main", b_return, "down")
    a.call(P, "GET", CONVERSATIONS, CONVERSATIONS, status=200)
    a.call(P, "GET", "/api/v1/keys", "/api/v1/keys", status=403)  # not an admin key

    # B deletes a document an answer cited: most_cited keeps it with filename null
    b.call("Main", "DELETE", f"{DOCS}/{b.docs[1]['id']}", DOCS + "/{id}", status=200)
    b.deleted.add(b.docs[1]["id"])

    # the widget key: one chat, one bad search, two listings use its 4 requests of the minute; then three 429s
    fresh_minute(15)
    a.chat(W, "Returns policies?", "return")
    a.search(W, status=400, query="x", top_k=99)
    a.call(W, "GET", DOCS, DOCS, status=200)
    a.call(W, "GET", f"{DOCS}?limit=1", DOCS, status=200)
    r = a.call(W, "GET", DOCS, DOCS, status=429)
    eq(r.json.get("error"), "rate_limit_exceeded", "429 body")
    a.chat(W, "What is your return policy?", "none", status=429)
    a.search(W, status=429, query="returns")
    # then it is revoked: it no longer reaches any route (401, no event of the account), but keeps its history
    eq(s.ctl("key", "revoke", a.keys[W]["id"]).returncode, 0, "faqsurectl key revoke")
    a.call(W, "GET", DOCS, DOCS, status=401, counted=False)
    # requests that reach no route are not the account's
    a.call(P, "GET", "/api/v1/nope", None, status=404, counted=False)
    a.call(P, "POST", DASH, None, body={}, status=405, counted=False)
    a.call(None, "GET", DASH, None, status=401, counted=False)
    a.call(random_key(), "GET", DASH, None, status=401, counted=False)

    # the balance: what the documents and the chats cost, exactly
    spent = sum(c["answer"]["tokens_used"]["total"] for c in a.chats)
    eq(a.s.query(f"SELECT balance FROM accounts WHERE id = {a.aid}"), [[str(1000000 - doc_tokens - spent)]],
       "A's balance after the documents and the chats")
    _session.update(a=a, b=b)
    return _session


# ---- tests ---------------------------------------------------------------------------------------------------------

def test_analytics_dashboard_equals_the_scripted_session(s):
    t = session()
    a, b = t["a"], t["b"]
    today = utc_today()
    frm = today - datetime.timedelta(days=29)
    # the script did what the dashboard is meant to show
    a.settle()
    want = a.expected(frm, today)
    check(want["totals"]["fallbacks"] >= 6 and want["totals"]["answered"] >= 6, f"A's chats: {want['totals']}")
    eq(want["totals"]["documents"], {"processing": 0, "ready": 6, "failed": 1, "total": 7}, "A's documents")
    eq([(k["name"], k["rate_limited"]) for k in want["keys"]], [("Production", 0), ("Widget", 3)], "A's 429s")
    eq([x["filename"] for x in want["documents"]["never_cited"]], ["old-prices.md", "warehouse-notes.txt"],
       "A's documents no answer cited, oldest first")
    eq(want["feedback"], {"up": 2, "down": 2}, "A's feedback")
    eq([x["comment"] for x in want["downvoted_answers"]], [None, "It should say how much the card costs."],
       "A's answers rated down, the last rated first")
    check(want["totals"]["indexing_tokens"] > 0 and want["totals"]["documents_indexed"] == 6, "A's indexing")
    low = [x["confidence"] for x in want["lowest_confidence_answers"]]
    check(len(low) == 10 and low == sorted(low), f"A's ten least sure answers, least sure first: {low}")

    da = a.check_dashboard("Production", frm, today, query="", what="A's default dashboard")
    db_ = b.check_dashboard("Main", frm, today, query="", what="B's default dashboard")
    # B's part, checked on its own: the cited document deleted since keeps its place with filename null
    deleted = [x for x in db_["documents"]["most_cited"] if x.get("document_id") == b.docs[1]["id"]]
    eq([x.get("filename") for x in deleted], [None], "B's deleted document in most_cited")
    eq(db_["totals"]["token_balance"], None, "an unlimited account's token_balance")
    # nothing of one account in the other's dashboard
    for mine, theirs, what in ((da, b, "A's dashboard"), (db_, a, "B's dashboard")):
        text = json.dumps(mine)
        for ident in [d["id"] for d in theirs.docs] + [k["id"] for k in theirs.keys.values()]:
            check(ident not in text, f"{what} shows {ident} of {theirs.account}")


def test_analytics_dashboard_counts_earlier_dashboard_requests(s):
    """A dashboard answers before its own usage event is written: it never counts itself, the next one does."""
    c = Tenant(s, "analytics-c", unlimited=True)
    c.add_key("Only", per_minute=10000)
    today = utc_today()
    frm = today - datetime.timedelta(days=29)
    first = c.check_dashboard("Only", frm, today, query="", what="a new account's first dashboard")
    eq((first["latency"], first["keys"], first["top_questions"], first["totals"]["documents"]["total"]),
       ([], [], [], 0), "a new account's first dashboard is empty")
    eq(len(first["daily"]), 30, "daily rows")
    second = c.check_dashboard("Only", frm, today, query="", what="the second dashboard")
    eq([(x["method"], x["route"], x["requests"]) for x in second["latency"]], [("GET", DASH, 1)],
       "the second dashboard counts the first")
    c.dashboard("Only", "from=2026-13-01", status=400)
    third = c.check_dashboard("Only", frm, today, query="", what="the third dashboard")
    eq([(x["requests"], x["rate_limited"], x["errors"]) for x in third["keys"]], [(3, 0, 1)],
       "the key's requests: two dashboards and a 400")


def test_analytics_window_parameters(s):
    a = session()["a"]
    today = utc_today()
    D = datetime.timedelta
    P = "Production"
    cases = [
        (today, today, f"from={day(today)}&to={day(today)}", "today only"),
        (today - D(days=2), today, f"from={day(today - D(days=2))}", "from alone runs to today"),
        (today - D(days=29), today, f"to={day(today)}", "to alone: the 30 days ending then"),
        (today - D(days=30), today - D(days=1), f"to={day(today - D(days=1))}", "30 days ending yesterday"),
        (datetime.date(2020, 1, 1), datetime.date(2020, 1, 31), "from=2020-01-01&to=2020-01-31", "a past month"),
        (datetime.date(2024, 1, 1), datetime.date(2024, 12, 31), "from=2024-01-01&to=2024-12-31", "366 days"),
        (today - D(days=365), today, f"from={day(today - D(days=365))}", "from alone, 366 days"),
        (today - D(days=29), today, "", "the default window"),
    ]
    for frm, to, query, what in cases:
        body = a.check_dashboard(P, frm, to, query=query, what=f"A's dashboard, {what} (?{query})")
        eq(len(body["daily"]), (to - frm).days + 1, f"{what}: daily rows")
    past = a.check_dashboard(P, datetime.date(2020, 1, 1), datetime.date(2020, 1, 31), query=None)
    eq((past["totals"]["questions"], past["latency"], past["keys"], past["feedback"]),
       (0, [], [], {"up": 0, "down": 0}), "a window without activity")
    eq(past["totals"]["documents"]["ready"], 6, "documents are the account's state now, whatever the window")


def names_param(message, param):
    """The message names `param` first among the two window parameters (quoted or not)."""
    m = re.search(r"(?<![A-Za-z_])(from|to)(?![A-Za-z_])", message)
    return m is not None and m.group(1) == param


def test_analytics_bad_window_is_400_naming_the_parameter(s):
    a = session()["a"]
    today = utc_today()
    D = datetime.timedelta
    cases = [("from=2026-13-01", "from"), ("from=2025-02-30", "from"), ("from=yesterday", "from"),
             ("from=2025-1-5", "from"), ("from=2025-01-05T00:00:00Z", "from"), ("to=2026-00-10", "to"),
             ("to=20250105", "to"), ("from=2025-01-01&to=2025-01-32", "to"),
             (f"from={day(today - D(days=366))}", "from"),  # 367 days up to today
             ("from=2025-02-01&to=2025-01-31", None),  # from after to
             (f"from={day(today + D(days=1))}", None),  # from alone after today
             ("from=2023-12-31&to=2024-12-31", None)]  # 367 days
    bad = []
    for query, param in cases:
        r = a.dashboard("Production", query, status=None)
        try:
            body = expect_error(r, 400, "invalid_request")
            if param is not None:
                check(names_param(body["message"], param), f"the message should name {param!r}: {body['message']!r}")
            else:
                check(names_param(body["message"], "from") or names_param(body["message"], "to"),
                      f"the message should name from or to: {body['message']!r}")
        except AssertionError as e:
            bad.append(f"?{query}: {e}")
    check(not bad, "\n".join(bad))
    # every one of them is a request of the key, answered with an error
    a.check_dashboard("Production", today - D(days=29), today, query="", what="the dashboard after the 400s")


def test_analytics_stats_cli_prints_the_dashboard(s):
    t = session()
    today = utc_today()
    D = datetime.timedelta
    for tenant, key in ((t["a"], "Production"), (t["b"], "Main")):
        for args, query, frm, to in (([], "", today - D(days=29), today),
                                     (["--from", day(today - D(days=6)), "--to", day(today)],
                                      f"from={day(today - D(days=6))}&to={day(today)}", today - D(days=6), today),
                                     (["--from", "2020-01-01", "--to", "2020-01-31"], "from=2020-01-01&to=2020-01-31",
                                      datetime.date(2020, 1, 1), datetime.date(2020, 1, 31)),
                                     (["--to", day(today)], f"to={day(today)}", today - D(days=29), today)):
            tenant.settle()
            want = tenant.expected(frm, to)
            # the command is not a request; the API's own event comes after its answer: both see the same events
            out = s.ctl("stats", "--account", tenant.account, *args).stdout
            try:
                printed = json.loads(out)
            except ValueError:
                raise AssertionError(f"faqsurectl stats {' '.join(args)} did not print JSON: {out[:300]!r}") from None
            compare(printed, want, f"faqsurectl stats --account {tenant.account} {' '.join(args)}")
            r = tenant.dashboard(key, query)
            eq(r.status, 200, f"GET {DASH}?{query} ({r.describe()})")
            same(normalized(r.json), normalized(printed), f"GET {DASH}?{query} against faqsurectl stats {' '.join(args)}")


def test_analytics_latency_above_one_second_is_bucketed(s):
    """A chat held up for over a second (its account's row locked by the test) is in the latency as the lower
    bound of its 10 ms bucket; the average stays exact."""
    d = Tenant(s, "analytics-d", balance=100000)
    d.add_key("Only", per_minute=10000)
    d.chat("Only", "Where do penguins live?", "penguins")  # makes the default agent
    d.chat("Only", "How old is the moon?", "moon")
    done = {}

    def slow():
        done["body"] = d.chat("Only", "What is a sloth?", "sloth")

    th = threading.Thread(target=slow)
    with s.holding_row("accounts", d.aid):
        th.start()
        time.sleep(1.3)  # the chat waits for the row to store its answer
    th.join(30)
    check("body" in done, "the held-up chat did not answer")
    d.settle()
    ms = sorted(e[3] for e in d.events(f"AND route = {sql_quote(CHAT)}"))
    check(len(ms) == 3 and ms[-1] >= 1000, f"the held-up chat took {ms[-1]} ms, not over a second: {ms}")
    today = utc_today()
    body = d.check_dashboard("Only", today, today, what="the dashboard with a chat over a second")
    entry = [x for x in body["latency"] if x["route"] == CHAT][0]
    eq((entry["p50_ms"], entry["p95_ms"]), (ms[1], ms[2] // 10 * 10), f"p50 and p95 of {ms}")


def test_analytics_top_ten_questions_and_five_paraphrases(s):
    """Thirteen groups of questions: the ten asked most are shown; a question asked in eight wordings shows five
    of its seven other wordings; groups whose words mostly overlap (2 of 3) are one, a third in common is not."""
    e = Tenant(s, "analytics-e", unlimited=True)
    e.add_key("Only", per_minute=10000)
    wordings = ["return policy", "Return policy?", "RETURN POLICY!", "policy return", "returns policy",
                "return policies", "Policies on returns?", "return policy", "return policy for refunds"]
    for q in wordings:
        e.chat("Only", q, "return")
    # nine groups asked two or three times (word order, case and punctuation aside), two asked once
    pairs = [("Why do volcanoes erupt?",) * 2, ("Who won the football world cup in 1998?",) * 2,
             ("Explain quantum entanglement simply.",) * 2, ("What is the capital of Australia?",) * 2,
             ("How tall is Mount Everest?",) * 2 + ("Mount Everest: how TALL?",),
             ("When did the Roman empire fall?",) * 2, ("How many legs does a spider have?",) * 2,
             ("What do koalas eat?",) * 2 + ("koalas eat what",), ("Who painted the Mona Lisa?",) * 2]
    for i, pair in enumerate(pairs):
        for q in pair:
            e.chat("Only", q, f"pair{i}")
    e.chat("Only", "Which planet has rings?", "planet")
    e.chat("Only", "Why is the sky blue?", "sky")
    e.chat("Only", "Do volcanoes smell?", "smell")  # shares one word of three with the volcano group
    time.sleep(1.1)  # the volcano question's last asking, a second after its first
    e.chat("Only", "volcanoes erupt why", "pair0")
    check(all(c["answer"]["fallback_triggered"] for c in e.chats), "an empty knowledge base falls back")
    today = utc_today()
    body = e.check_dashboard("Only", today, today, what="the dashboard with thirteen question groups")
    eq((len(body["top_questions"]), len(body["unanswered_questions"])), (10, 10), "ten of thirteen groups shown")
    eq(len(body["top_questions"][0]["paraphrases"]), 5, "at most five other wordings")
    eq(body["documents"], {"most_cited": [], "never_cited": [], "never_cited_count": 0}, "no documents")
