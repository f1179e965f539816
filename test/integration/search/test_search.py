# POST /api/v1/search over small knowledge bases uploaded for the purpose (a returns policy, a help page and a
# shipping FAQ in Markdown, a CSV FAQ sheet): the documented answer, questions phrased unlike the documents,
# top_k and the threshold, validation, tenant isolation, freshness after uploads, deletes and new versions, the
# document_ids filter, odd queries, `faqsurectl reindex`, and the usage event of each search.
import math
import os
import uuid

from harness import UUID_RE, check, eq, expect_error, expect_request_id, paused_worker, sql_quote, stack, wait_for
from kb import HELP_MD, KB_FILES, OFF_TOPIC, PARAPHRASES, RETURNS_TXT, SHIPPING_MD, upload_ready

SEARCH = "/api/v1/search"
DOCS = "/api/v1/documents"
SEED_QUERY = {"query": "How do I reset my password?", "top_k": 5, "similarity_threshold": 0.7, "use_hybrid": False}
RESULT_FIELDS = {"chunk_id", "text", "similarity_score", "document_id", "document_filename", "metadata"}


# ---- helpers ---------------------------------------------------------------------------------------------------

def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_answer(body, what):
    """The documented shape of a 200 answer, field by field."""
    check(isinstance(body, dict), f"{what}: body is not an object: {body!r}")
    eq(set(body), {"results", "count", "processing_time_ms"}, f"{what}: fields of the answer")
    check(isinstance(body["results"], list), f"{what}: results is not a list: {body['results']!r}")
    check(isinstance(body["count"], int) and not isinstance(body["count"], bool), f"{what}: count {body['count']!r}")
    eq(body["count"], len(body["results"]), f"{what}: count against len(results)")
    t = body["processing_time_ms"]
    check(isinstance(t, int) and not isinstance(t, bool) and t >= 0,
          f"{what}: processing_time_ms is not a non-negative integer: {t!r}")
    for i, r in enumerate(body["results"]):
        check(isinstance(r, dict), f"{what}: results[{i}] is not an object: {r!r}")
        eq(set(r), RESULT_FIELDS, f"{what}: fields of results[{i}]")
        for k in ("chunk_id", "document_id"):
            check(isinstance(r[k], str) and UUID_RE.match(r[k]) is not None, f"{what}: results[{i}].{k} {r[k]!r}")
        check(isinstance(r["text"], str) and r["text"].strip(), f"{what}: results[{i}].text {r['text']!r}")
        check(isinstance(r["document_filename"], str) and r["document_filename"],
              f"{what}: results[{i}].document_filename {r['document_filename']!r}")
        check(isinstance(r["metadata"], dict), f"{what}: results[{i}].metadata {r['metadata']!r}")
        sc = r["similarity_score"]
        check(is_number(sc) and math.isfinite(sc) and 0 <= sc <= 1,
              f"{what}: results[{i}].similarity_score {sc!r} is not a number in [0, 1]")
    ids = [r["chunk_id"] for r in body["results"]]
    eq(len(set(ids)), len(ids), f"{what}: distinct chunk ids")
    return body


def search(s, key, what=None, **fields):
    """A search that must answer 200 with the documented shape; returns the body."""
    what = what or f"search {fields!r}"
    r = s.post(SEARCH, fields, key=key)
    eq(r.status, 200, f"{what}: status ({r.describe()})")
    return check_answer(r.json, what)


def summary(body):
    return [(r["document_filename"], r["similarity_score"], r["text"][:60]) for r in body["results"]]


_kb = {}


def kb():
    """The shared knowledge base (one account, the four KB_FILES), uploaded once: tests only read it."""
    if not _kb:
        s = stack()
        account, key = s.docs_key("search-kb")
        ids = upload_ready(s, key, KB_FILES)
        nchunks = s.count_rows("chunks", f"account_id = {s.account_id(account)}")
        _kb.update(account=account, key=key, ids=ids, nchunks=nchunks)
    return _kb


# ---- the documented request and answer ---------------------------------------------------------------------------

def test_search_seed_request_answers_documented_fields(s):
    k = kb()
    r = s.post(SEARCH, SEED_QUERY, key=k["key"])
    eq(r.status, 200, f"the seed's request ({r.describe()})")
    eq(r.headers.get("Content-Type", "").split(";")[0].strip(), "application/json", "Content-Type")
    body = check_answer(r.json, "the seed's request")
    check(body["count"] >= 1, f"the seed's request found nothing: {body!r}")
    check(body["count"] <= 5, f"the seed's request: {body['count']} results for top_k 5")
    top = body["results"][0]
    eq(top["document_filename"], "help.md", f"file of the top result ({summary(body)})")
    eq(top["document_id"], k["ids"]["help.md"], "document_id of the top result")
    check("reset your password" in top["text"], f"top result is not the password reset passage: {top['text']!r}")
    check(isinstance(top["metadata"].get("section"), str) and "Resetting your password" in top["metadata"]["section"],
          f"metadata.section of the top result should name its Markdown heading: {top['metadata']!r}")
    check(top["similarity_score"] >= 0.7, f"top score {top['similarity_score']} under the threshold 0.7")
    chunk = s.query(f"SELECT document_id, text FROM chunks WHERE id = {sql_quote(top['chunk_id'])}")
    eq(chunk, [[top["document_id"], top["text"]]], "the chunk row behind chunk_id")


def test_search_csv_rows_carry_their_question(s):
    k = kb()
    body = search(s, k["key"], query="Do you offer gift wrapping?", top_k=1)
    eq(body["count"], 1, f"results ({summary(body)})")
    top = body["results"][0]
    eq(top["document_filename"], "store-faq.csv", "file of the top result")
    eq(top["metadata"].get("question"), "Do you offer gift wrapping?", f"metadata of a CSV row: {top['metadata']!r}")
    check("3 dollars" in top["text"], f"the row's answer is in its text: {top['text']!r}")


# ---- relevance -------------------------------------------------------------------------------------------------

def test_search_paraphrased_questions_find_the_right_document(s):
    k = kb()
    bad = []
    for hybrid in (False, True):
        for question, filename, phrase in PARAPHRASES:
            body = search(s, k["key"], query=question, use_hybrid=hybrid)
            top = body["results"][0] if body["results"] else None
            near = [" ".join(r["text"].split()) for r in body["results"][:3]]
            if not top or top["document_filename"] != filename or not any(phrase in x for x in near):
                bad.append(f"use_hybrid={hybrid} {question!r}: expected {filename} first and its passage "
                           f"({phrase!r}) in the top 3, got {summary(body)}")
    check(not bad, "\n".join(bad))


def test_search_off_topic_question_finds_nothing_at_seed_threshold(s):
    k = kb()
    for hybrid in (False, True):
        body = search(s, k["key"], query=OFF_TOPIC, top_k=5, similarity_threshold=0.7, use_hybrid=hybrid)
        eq(summary(body), [], f"off-topic question at threshold 0.7 (use_hybrid={hybrid})")
        body = search(s, k["key"], query=OFF_TOPIC, top_k=5, similarity_threshold=0, use_hybrid=hybrid)
        check(body["count"] > 0, "threshold 0 returns something even for an off-topic question")
        check(all(r["similarity_score"] < 0.7 for r in body["results"]),
              f"off-topic scores should stay under 0.7: {summary(body)}")
        # A question the documents do cover keeps its best passage at the same threshold.
        body = search(s, k["key"], query="How can I track where my parcel is?", top_k=5, similarity_threshold=0.7,
                      use_hybrid=hybrid)
        check(body["count"] >= 1 and "tracking number" in body["results"][0]["text"],
              f"covered question at threshold 0.7 (use_hybrid={hybrid}): {summary(body)}")


def test_search_query_equal_to_a_passage_finds_it_first(s):
    k = kb()
    passages = search(s, k["key"], query="shipping costs dollars", top_k=50)["results"]
    eq(len(passages), k["nchunks"], "top_k 50 over the whole knowledge base returns every passage")
    for target in passages:
        for hybrid in (False, True):
            body = search(s, k["key"], query=target["text"], top_k=3, use_hybrid=hybrid)
            check(body["results"] and body["results"][0]["chunk_id"] == target["chunk_id"],
                  f"query = text of {target['text'][:60]!r} (use_hybrid={hybrid}): got {summary(body)}")
            check(body["results"][0]["similarity_score"] >= 0.9,
                  f"score of a passage for its own text: {body['results'][0]['similarity_score']} "
                  f"(use_hybrid={hybrid}, {target['text'][:60]!r})")


# ---- top_k and the threshold ---------------------------------------------------------------------------------

def test_search_top_k_default_bounds_and_limits(s):
    k = kb()
    check(k["nchunks"] > 5, f"the knowledge base needs more than 5 passages (has {k['nchunks']})")
    for hybrid in (False, True):
        body = search(s, k["key"], query="order delivery", use_hybrid=hybrid)
        eq(body["count"], 5, f"default top_k (use_hybrid={hybrid})")
        for top_k in (1, 2, 5, 7, 50):
            body = search(s, k["key"], query="order delivery", top_k=top_k, use_hybrid=hybrid)
            eq(body["count"], min(top_k, k["nchunks"]), f"results for top_k {top_k} (use_hybrid={hybrid})")
        for top_k in (1, 3, 50):
            body = search(s, k["key"], query="password", top_k=top_k, similarity_threshold=0.5, use_hybrid=hybrid)
            check(body["count"] <= top_k, f"{body['count']} results for top_k {top_k}")


def test_search_threshold_filters_scores(s):
    k = kb()
    query = "How long does delivery take?"
    for hybrid in (False, True):
        everything = search(s, k["key"], query=query, top_k=50, similarity_threshold=0, use_hybrid=hybrid)
        check(everything["count"] > 0, "threshold 0 returns results")
        eq(everything["count"], k["nchunks"], f"top_k 50, threshold 0: every passage (use_hybrid={hybrid})")
        for t in (0.1, 0.3, 0.5, 0.7, 0.9, 1):
            body = search(s, k["key"], query=query, top_k=50, similarity_threshold=t, use_hybrid=hybrid)
            low = [r for r in body["results"] if r["similarity_score"] < t]
            eq(low, [], f"results under the threshold {t} (use_hybrid={hybrid})")
            # The same passages as the unfiltered answer above that score at least t, in the same order.
            eq([r["chunk_id"] for r in body["results"]],
               [r["chunk_id"] for r in everything["results"] if r["similarity_score"] >= t],
               f"threshold {t} keeps exactly the passages scoring at least {t} (use_hybrid={hybrid})")


def test_search_dense_results_ordered_by_score(s):
    k = kb()
    bad = []
    queries = [SEED_QUERY["query"], "How long does delivery take?", "gift cards", OFF_TOPIC] + \
        [q for q, _, _ in PARAPHRASES]
    for q in queries:
        body = search(s, k["key"], query=q, top_k=50)
        scores = [r["similarity_score"] for r in body["results"]]
        if scores != sorted(scores, reverse=True):
            firsts = [(i, scores[i], scores[i + 1]) for i in range(len(scores) - 1) if scores[i] < scores[i + 1]]
            bad.append(f"{q!r}: scores not descending at (index, score, next score) {firsts[:3]}")
    check(not bad, "dense results out of similarity_score order:\n" + "\n".join(bad))


def test_search_top_k_1_is_the_best_scoring_passage(s):
    """Dense: asking for one passage gives the best-scoring one, so a threshold never hides a passage that
    meets it behind a lower-scoring one."""
    k = kb()
    bad = []
    for q in [SEED_QUERY["query"], "How long does delivery take?", "gift cards"] + [q for q, _, _ in PARAPHRASES]:
        every = search(s, k["key"], query=q, top_k=50)["results"]
        best = max(every, key=lambda r: r["similarity_score"])
        t = max(0, best["similarity_score"] - 0.0001)  # under the shown (rounded) score
        one = search(s, k["key"], query=q, top_k=1, similarity_threshold=t)["results"]
        if [r["chunk_id"] for r in one] != [best["chunk_id"]]:
            bad.append(f"{q!r}: best passage scores {best['similarity_score']} ({best['text'][:40]!r}); top_k 1 "
                       f"at that threshold gave {summary({'results': one})}")
    check(not bad, "top_k 1 misses the best-scoring passage:\n" + "\n".join(bad))


def test_search_threshold_agrees_with_the_shown_scores(s):
    """The scores shown and the threshold agree: a passage stays at a threshold equal to its shown score, and a
    threshold with more decimals than the scores shown still holds for them."""
    k = kb()
    bad = []
    every = search(s, k["key"], query=SEED_QUERY["query"], top_k=50)["results"]
    for q in [SEED_QUERY["query"], "How long does delivery take?", "gift cards"] + [q for q, _, _ in PARAPHRASES]:
        for r0 in search(s, k["key"], query=q, top_k=50)["results"][:3]:
            body = search(s, k["key"], query=q, top_k=50, similarity_threshold=r0["similarity_score"])
            if r0["chunk_id"] not in {r["chunk_id"] for r in body["results"]}:
                bad.append(f"{q!r}: the passage shown with score {r0['similarity_score']} is dropped at "
                           f"similarity_threshold {r0['similarity_score']}")
    for r0 in every[:4]:
        for step in (1, 2, 3, 4):
            t = round(r0["similarity_score"] + step / 100000, 6)
            body = search(s, k["key"], query=SEED_QUERY["query"], top_k=50, similarity_threshold=t)
            low = [r["similarity_score"] for r in body["results"] if r["similarity_score"] < t]
            if low:
                bad.append(f"similarity_threshold {t}: scores {low}")
    check(not bad, "shown scores and the threshold disagree:\n" + "\n".join(bad))


def test_search_score_same_with_and_without_hybrid(s):
    k = kb()
    for q in [SEED_QUERY["query"], "How long does delivery take?", "Is there a charge to have a present wrapped?"]:
        dense = search(s, k["key"], query=q, top_k=50, use_hybrid=False)
        hybrid = search(s, k["key"], query=q, top_k=50, use_hybrid=True)
        d = {r["chunk_id"]: r["similarity_score"] for r in dense["results"]}
        h = {r["chunk_id"]: r["similarity_score"] for r in hybrid["results"]}
        common = set(d) & set(h)
        check(common, f"{q!r}: no chunk in both answers")
        diff = {c: (d[c], h[c]) for c in common if d[c] != h[c]}
        eq(diff, {}, f"{q!r}: chunks whose score differs between use_hybrid false and true (dense, hybrid)")


# ---- validation -------------------------------------------------------------------------------------------------

def test_search_invalid_requests(s):
    _, key = s.docs_key("search-bad")
    q = "How do I reset my password?"
    cases = [
        ({}, "query"),
        ({"top_k": 5}, "query"),
        ({"query": ""}, "query"),
        ({"query": 42}, "query"),
        ({"query": None}, "query"),
        ({"query": ["reset"]}, "query"),
        ({"query": "a" * 4001}, "query"),
        ({"query": "é" * 4001}, "query"),
        ({"query": q, "top_k": 0}, "top_k"),
        ({"query": q, "top_k": 51}, "top_k"),
        ({"query": q, "top_k": "5"}, "top_k"),
        ({"query": q, "top_k": 5.5}, "top_k"),
        ({"query": q, "top_k": -1}, "top_k"),
        ({"query": q, "top_k": True}, "top_k"),
        ({"query": q, "similarity_threshold": -0.1}, "similarity_threshold"),
        ({"query": q, "similarity_threshold": 1.5}, "similarity_threshold"),
        ({"query": q, "similarity_threshold": "0.7"}, "similarity_threshold"),
        ({"query": q, "use_hybrid": "yes"}, "use_hybrid"),
        ({"query": q, "use_hybrid": 1}, "use_hybrid"),
        ({"query": q, "document_ids": "x"}, "document_ids"),
        ({"query": q, "document_ids": ["not-a-uuid"]}, "document_ids"),
        ({"query": q, "document_ids": [42]}, "document_ids"),
        ({"query": q, "document_ids": {"id": "x"}}, "document_ids"),
        ({"query": q, "document_ids": ["00000000-0000-4000-8000-000000000000"] * 101}, "document_ids"),
    ]
    bad = []
    for body, field in cases:
        try:
            expect_error(s.post(SEARCH, body, key=key), 400, "invalid_request", field)
        except AssertionError as e:
            bad.append(f"{str(body)[:80]}: {e}")
    for raw in (b"not json", b"{\"query\": ", b"", b"[\"How do I reset my password?\"]", b"\"reset\"", b"42"):
        try:
            expect_error(s.post(SEARCH, raw, key=key), 400, "invalid_request")
        except AssertionError as e:
            bad.append(f"raw body {raw!r}: {e}")
    check(not bad, "\n".join(bad))


def test_search_query_length_counts_characters(s):
    _, key = s.docs_key("search-long")
    for query in ("a" * 4000, "é" * 4000, "🙂" * 4000):
        body = search(s, key, what=f"a query of 4000 {query[0]!r}", query=query)
        eq(body["results"], [], "results in an empty account")
    # one character over, in any script: the message gives the count and the limit in characters
    for query in ("a" * 4001, "é" * 4001, "🙂" * 4001, "🙂" * 5000):
        body = expect_error(s.post(SEARCH, {"query": query}, key=key), 400, "invalid_request", "query")
        eq(body["message"], f"query is too long: {len(query)} characters, at most 4000",
           f"the message for {len(query)} {query[0]!r}")


def test_search_wrong_method_and_missing_key(s):
    _, key = s.docs_key("search-method")
    for method in ("GET", "PUT", "DELETE"):
        r = s.request(method, SEARCH, key=key)
        expect_error(r, 405, "method_not_allowed")
    for bad_key in (None, "faqsure_sk_" + "x" * 43, "garbage"):
        expect_error(s.post(SEARCH, SEED_QUERY, key=bad_key), 401, "invalid_api_key")


# ---- accounts ---------------------------------------------------------------------------------------------------

def test_search_never_returns_another_accounts_passages(s):
    a = kb()
    a_chunks = {r[0] for r in s.query(f"SELECT id FROM chunks WHERE account_id = {s.account_id(a['account'])}")}
    a_texts = [r[0] for r in s.query(f"SELECT text FROM chunks WHERE account_id = {s.account_id(a['account'])}")]
    _, key_b = s.docs_key("search-tenant-b")
    b_ids = upload_ready(s, key_b, [("gym.txt", b"Gym membership\n\nYour membership card opens the gym doors from "
                                                b"6 am to 11 pm. Lost cards are replaced at the front desk for a fee "
                                                b"of 5 dollars.\n")])
    for text in a_texts + [SEED_QUERY["query"]]:
        for hybrid in (False, True):
            body = search(s, key_b, query=text, top_k=50, use_hybrid=hybrid)
            leaked = [r for r in body["results"] if r["chunk_id"] in a_chunks or r["document_id"] in a["ids"].values()]
            eq(leaked, [], f"account A's passages in account B's answer to {text[:50]!r} (use_hybrid={hybrid})")
            check(all(r["document_id"] == b_ids["gym.txt"] for r in body["results"]),
                  f"B's answer holds documents B does not have: {summary(body)}")
    # Naming A's documents in the filter does not reach them either.
    body = search(s, key_b, query=SEED_QUERY["query"], document_ids=list(a["ids"].values()), top_k=50)
    eq(body["results"], [], "B filtering on A's document ids")


def test_search_account_without_documents(s):
    _, key = s.docs_key("search-empty")
    for hybrid in (False, True):
        body = search(s, key, query="How do I reset my password?", use_hybrid=hybrid)
        eq((body["results"], body["count"]), ([], 0), f"an account with no documents (use_hybrid={hybrid})")
        body = search(s, key, **dict(SEED_QUERY, use_hybrid=hybrid))
        eq((body["results"], body["count"]), ([], 0), f"the seed's request, no documents (use_hybrid={hybrid})")


# ---- freshness: uploads, deletes and new versions show without a restart ---------------------------------------

def test_search_sees_new_deleted_and_replaced_documents(s):
    _, key = s.docs_key("search-fresh")
    ids = upload_ready(s, key, [("returns-policy.txt", RETURNS_TXT)])
    question = "When do the pottery classes for beginners take place?"
    for hybrid in (False, True):  # warms the search program's view of the account
        body = search(s, key, query=question, use_hybrid=hybrid)
        eq({r["document_filename"] for r in body["results"]}, {"returns-policy.txt"}, "before the new upload")

    # A new document is found once it is ready.
    pottery = s.upload_ok(key, b"Pottery classes\n\nBeginner pottery classes take place every Tuesday evening "
                               b"from 6 to 8 pm in the studio behind the shop. Clay and aprons are provided.\n",
                          "classes.txt", metadata={"team": "studio"})
    s.wait_document(key, pottery, "ready")
    for hybrid in (False, True):
        body = search(s, key, query=question, use_hybrid=hybrid)
        check(body["results"] and body["results"][0]["document_id"] == pottery,
              f"the new document first once ready (use_hybrid={hybrid}): {summary(body)}")
        eq(body["results"][0]["document_filename"], "classes.txt", "document_filename of the new document")
        eq(body["results"][0]["metadata"].get("team"), "studio", "the upload's metadata in the result's metadata")
    pottery_chunks = {r["chunk_id"] for r in search(s, key, query=question, top_k=50)["results"]
                      if r["document_id"] == pottery}

    # Deleted: gone from the very next search.
    r = s.delete(f"{DOCS}/{pottery}", key=key)
    eq(r.status, 200, f"DELETE the new document ({r.describe()})")
    for hybrid in (False, True):
        body = search(s, key, query=question, top_k=50, use_hybrid=hybrid)
        gone = [x for x in body["results"] if x["document_id"] == pottery or x["chunk_id"] in pottery_chunks]
        eq(gone, [], f"passages of the deleted document (use_hybrid={hybrid})")
        eq({x["document_id"] for x in body["results"]}, {ids["returns-policy.txt"]}, "documents left")

    # A new version under the same name: only its text once it is ready.
    v1 = s.upload_ok(key, b"Customer hotline\n\nThe customer hotline opens at eight in the morning on weekdays.\n",
                     "hotline.txt")
    s.wait_document(key, v1, "ready")
    hotline = "What time does the customer hotline open?"
    body = search(s, key, query=hotline)
    check(body["results"] and body["results"][0]["document_id"] == v1 and "eight" in body["results"][0]["text"],
          f"version one of hotline.txt first: {summary(body)}")
    v2 = s.upload_ok(key, b"Customer hotline\n\nThe customer hotline opens at nine in the morning on weekdays "
                          b"and at ten on Saturdays.\n", "hotline.txt")
    check(v2 != v1, "new bytes under the same name got the old id")
    s.wait_document(key, v2, "ready")
    for hybrid in (False, True):
        body = search(s, key, query=hotline, top_k=50, use_hybrid=hybrid)
        check(body["results"] and body["results"][0]["document_id"] == v2 and "nine" in body["results"][0]["text"],
              f"version two of hotline.txt first (use_hybrid={hybrid}): {summary(body)}")
        old = [x for x in body["results"] if x["document_id"] == v1 or "eight in the morning" in x["text"]]
        eq(old, [], f"passages of the replaced version (use_hybrid={hybrid})")
        eq(sorted(x["document_filename"] for x in body["results"]), ["hotline.txt", "returns-policy.txt"],
           f"files of the answer (use_hybrid={hybrid})")


# ---- the document_ids filter ------------------------------------------------------------------------------------

def test_search_document_ids_filter(s):
    k = kb()
    ids = k["ids"]
    per_doc = {name: s.count_rows("chunks", f"document_id = {sql_quote(i)}") for name, i in ids.items()}
    for hybrid in (False, True):
        # The password question, restricted to the shipping FAQ: only shipping passages.
        body = search(s, k["key"], query=SEED_QUERY["query"], document_ids=[ids["shipping-faq.md"]], top_k=50,
                      use_hybrid=hybrid)
        eq({r["document_id"] for r in body["results"]}, {ids["shipping-faq.md"]}, "documents under a one-id filter")
        eq(body["count"], per_doc["shipping-faq.md"], "every shipping passage at top_k 50, threshold 0")
        two = [ids["help.md"], ids["store-faq.csv"]]
        body = search(s, k["key"], query="gift cards and passwords", document_ids=two, top_k=50, use_hybrid=hybrid)
        eq({r["document_id"] for r in body["results"]}, set(two), "documents under a two-id filter")
        eq(body["count"], per_doc["help.md"] + per_doc["store-faq.csv"], "passages under a two-id filter")
        body = search(s, k["key"], query=SEED_QUERY["query"], document_ids=[ids["help.md"]], top_k=1,
                      use_hybrid=hybrid)
        check(body["count"] == 1 and "reset your password" in body["results"][0]["text"],
              f"the filter keeps the best passage of the document: {summary(body)}")
        # An empty list matches no document; an id of no document likewise.
        body = search(s, k["key"], query=SEED_QUERY["query"], document_ids=[], use_hybrid=hybrid)
        eq((body["results"], body["count"]), ([], 0), f"document_ids [] (use_hybrid={hybrid})")
        body = search(s, k["key"], query=SEED_QUERY["query"], document_ids=["00000000-0000-4000-8000-000000000000"],
                      use_hybrid=hybrid)
        eq((body["results"], body["count"]), ([], 0), f"document_ids of no document (use_hybrid={hybrid})")
    # null is the same as absent: no filter.
    body = search(s, k["key"], query=SEED_QUERY["query"], document_ids=None)
    eq(body["count"], 5, "document_ids null")


# ---- odd queries ------------------------------------------------------------------------------------------------

def test_search_unicode_emoji_and_punctuation_queries(s):
    k = kb()
    for q in ("¿Cómo restablezco mi contraseña? 🔑", "パスワードをリセットするには？", "🙂🙂🙂", "password 🔒 reset ✨",
              "?!?...", "---", "\"'", "the of and to", "a", "   x   ", "Ünïcödé passwörd", "\u200b", "%s %d %n"):
        for hybrid in (False, True):
            search(s, k["key"], what=f"query {q!r} (use_hybrid={hybrid})", query=q, use_hybrid=hybrid)
    body = search(s, k["key"], query="password 🔒 reset ✨")
    check(body["results"] and body["results"][0]["document_filename"] == "help.md",
          f"words around emoji still count: {summary(body)}")


# ---- faqsurectl reindex -----------------------------------------------------------------------------------------

def test_search_reindex_keeps_results(s):
    account, key = s.docs_key("search-reindex")
    upload_ready(s, key, [("help.md", HELP_MD), ("shipping-faq.md", SHIPPING_MD)])
    queries = [SEED_QUERY["query"], "How long does delivery take?", "authenticator app"]

    def answers():
        out = []
        for q in queries:
            for hybrid in (False, True):
                body = search(s, key, query=q, top_k=50, use_hybrid=hybrid)
                out.append([(r["chunk_id"], r["similarity_score"]) for r in body["results"]])
        return out

    before = answers()
    r = s.ctl("reindex", "--account", account, timeout=120)
    check(r.stdout.strip(), f"reindex printed no summary (stderr {r.stderr!r})")
    check("2 documents" in r.stdout and "chunks" in r.stdout, f"reindex summary: {r.stdout!r}")
    eq(answers(), before, "chunk ids and scores of the same searches after reindex")
    eq(search(s, key, **SEED_QUERY)["results"][0]["document_filename"], "help.md", "the seed's request after reindex")


def test_search_worker_embeds_again_what_an_older_embedder_stored(s):
    """After an upgrade that changed the built-in model, chunks keep their old vectors, which search cannot
    compare with the new model's; the worker embeds them again when its queue is empty, and search finds the same
    passages with the same scores as before."""
    account, key = s.docs_key("search-refresh")
    upload_ready(s, key, [("help.md", HELP_MD), ("shipping-faq.md", SHIPPING_MD)])
    aid = s.account_id(account)

    def answers():
        return [[(r["chunk_id"], r["similarity_score"]) for r in
                 search(s, key, query=q, top_k=50, use_hybrid=hybrid)["results"]]
                for q in (SEED_QUERY["query"], "How long does delivery take?") for hybrid in (False, True)]

    before = answers()
    model, dims = s.query(f"SELECT DISTINCT embed_model, dims FROM chunks WHERE account_id = {aid}")[0]
    eq(model, "builtin-v3", "the model stored with new chunks")
    with paused_worker(s):
        s.worker_once()  # what other tests left queued first: this run should find only idle work
        # what an installation upgraded from builtin-v2 holds: 1024-dimension vectors of the older model
        s.sql(f"UPDATE chunks SET embed_model = 'builtin-v2', dims = 1024, embedding = LEFT(embedding, 4096) "
              f"WHERE account_id = {aid}")
        s.sql(f"UPDATE vector_generations SET generation = generation + 1, epoch = epoch + 1 WHERE account_id = {aid}")
        r = s.worker_once()
        check(r.returncode == 0, f"worker --once: {r.stderr!r}")
        if os.environ.get("FAQSURE_IT_VECTOR") == "qdrant":
            # Qdrant's collection has one vector size: the worker leaves that to `faqsurectl reindex`
            eq(s.query(f"SELECT DISTINCT embed_model FROM chunks WHERE account_id = {aid}"), [["builtin-v2"]],
               f"the chunks' model after the worker's pass with an external store (it said {r.stderr!r})")
            s.ctl("reindex", "--account", account, timeout=120)
    stale = s.query(f"SELECT account_id, embed_model, dims, COUNT(*) FROM chunks WHERE embed_model <> '{model}' "
                    f"GROUP BY account_id, embed_model, dims")
    eq(s.query(f"SELECT DISTINCT embed_model, dims FROM chunks WHERE account_id = {aid}"), [[model, dims]],
       f"every chunk's model after the worker's pass (it said {r.stderr!r}; chunks of other models: {stale})")
    eq(answers(), before, "chunk ids and scores of the same searches after the worker embedded them again")


def test_search_reindex_help_and_unknown_account(s):
    r = s.ctl("reindex", "--help")
    check("reindex" in r.stdout + r.stderr, f"reindex --help: {r.stdout!r} {r.stderr!r}")
    missing = "no-such-account-" + uuid.uuid4().hex[:10]
    r = s.ctl("reindex", "--account", missing, check_rc=False)
    check(r.returncode != 0, f"reindex of an unknown account exited 0: {r.stdout!r}")
    check(missing in r.stderr or "account" in r.stderr.lower(),
          f"reindex of an unknown account should say what is wrong: stderr {r.stderr!r}")


# ---- usage ------------------------------------------------------------------------------------------------------

def test_search_records_usage_events(s):
    account, key = s.docs_key("search-usage")
    upload_ready(s, key, [("help.md", HELP_MD)])
    kid, aid = s.key_id(key), s.account_id(account)
    sent = []
    for body, status in ((SEED_QUERY, 200), (dict(SEED_QUERY, use_hybrid=True), 200), ({"query": ""}, 400)):
        r = s.post(SEARCH, body, key=key)
        eq(r.status, status, f"search {body!r} ({r.describe()})")
        sent.append((expect_request_id(r), status))
    rids = ", ".join(sql_quote(rid) for rid, _ in sent)
    sql = (f"SELECT request_id, account_id, key_id, method, route, status, error, tokens_prompt FROM usage_events "
           f"WHERE request_id IN ({rids})")
    rows = wait_for(lambda: (lambda x: x if len(x) >= len(sent) else None)(s.query(sql)),
                    "a usage event for each search", seconds=5)
    by_id = {}
    for row in rows:
        by_id.setdefault(row[0], []).append(row)
    for rid, status in sent:
        got = by_id.get(rid, [])
        eq(len(got), 1, f"usage events of request {rid}")
        _, a, k_, method, route, st, error, tokens = got[0]
        eq((a, k_, method, route, int(st), error), (aid, kid, "POST", SEARCH, status,
                                                    None if status == 200 else "invalid_request"),
           f"usage event of request {rid}")
        check(int(tokens) >= 0, f"tokens_prompt {tokens!r}")
