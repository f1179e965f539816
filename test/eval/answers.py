# Answer-level evaluation for make eval: chat answers scored by reading them, as ../shared/eval/README.md defines
# it (right / wrong / fell back on answerable questions, honest on unanswerable ones, the confidence gap), and
# where the answers of answerable questions are lost (retrieval miss, wrong span, fallback).
#
# Sets:
#   clapnq   ../shared/eval/clapnq: corpus.jsonl passages, each uploaded as <doc_id>.md ("# title" + text);
#            questions.dev.jsonl with gold_answers, answerable, gold_doc_ids.
#   docs     test/eval/docs_questions.jsonl over the real files of ../shared/docs (uploaded as they are);
#            gold_files name the files that answer.
import json
import re
import time
from pathlib import Path

STOP = set("a an and are as at be by for from in is it of on or that the this to was were with".split())
MAX_CHARS = 800
SEARCH_PATH = "/api/v1/search"
CHAT_PATH = "/api/v1/chat"


def words(text):
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP}


def recall(message, golds):
    """The best share of a gold answer's distinct words that the message contains."""
    have = words(message)
    best = 0.0
    for g in golds:
        gw = words(g)
        if gw:
            best = max(best, len(gw & have) / len(gw))
    return best


def grade(q, js):
    """right | wrong | fallback (answerable) or honest | wrong (unanswerable)."""
    if js["fallback_triggered"]:
        return "fallback" if q["answerable"] else "honest"
    if not q["answerable"]:
        return "wrong"
    msg = js["message"]
    return "right" if recall(msg, q["gold_answers"]) >= 0.5 and len(msg) <= MAX_CHARS else "wrong"


class AnswerSet:
    """files: [(filename, bytes)]; questions: dicts with qid, question, answerable, gold_answers and gold (the
    filenames that answer)."""

    def __init__(self, name, files, questions):
        self.name, self.files, self.questions = name, files, questions


def clapnq_set(path, max_q=None):
    files = []
    for line in open(path / "corpus.jsonl", encoding="utf-8"):
        if line.strip():
            d = json.loads(line)
            files.append((f"{d['doc_id']}.md", f"# {d['title'].strip()}\n\n{d['text']}\n".encode("utf-8")))
    qs = []
    for line in open(path / "questions.dev.jsonl", encoding="utf-8"):
        if line.strip():
            q = json.loads(line)
            qs.append({"qid": q["qid"], "question": q["question"], "answerable": bool(q["answerable"]),
                       "gold_answers": q["gold_answers"], "gold": [f"{d}.md" for d in q["gold_doc_ids"]]})
    return AnswerSet(path.name, files, qs[:max_q] if max_q else qs)


def docs_set(docs_dir, questions_file, max_q=None):
    files = [(p.name, p.read_bytes()) for p in sorted(docs_dir.iterdir())
             if p.is_file() and p.name != "SOURCE.md"]
    qs = []
    for line in open(questions_file, encoding="utf-8"):
        if line.strip():
            q = json.loads(line)
            qs.append({"qid": q["qid"], "question": q["question"], "answerable": bool(q["answerable"]),
                       "gold_answers": q.get("gold_answers", []), "gold": q.get("gold_files", [])})
    return AnswerSet("docs", files, qs[:max_q] if max_q else qs)


def mean(v):
    return sum(v) / len(v) if v else None


def evaluate(s, aset, pool_cls, ingest_files, threads, errors):
    """Uploads the set into a fresh account, asks every question (a new conversation each, the default agent),
    and returns the report."""
    account = s.new_account(f"eval-{aset.name}", unlimited=True)
    key = s.new_key(account, name="eval", per_minute=1000000, per_hour=100000000)
    ing = ingest_files(s, aset.files, s.account_id(account), key)
    for fn, err in ing["failed"]:
        errors.append(f"{aset.name}: {fn} failed: {err}")
    errors.extend(f"{aset.name}: {e}" for e in ing["refused"])

    def one(client, q):
        body = json.dumps({"message": q["question"]}).encode()
        t = time.monotonic()
        status, js, raw = client.request("POST", CHAT_PATH, body)
        ms = (time.monotonic() - t) * 1000
        if status != 200 or not isinstance(js, dict) or not isinstance(js.get("fallback_triggered"), bool):
            errors.append(f"{aset.name}: chat {q['qid']}: HTTP {status} {raw[:300]!r}")
            return None
        # search's first passages for the same question, as the chat's retrieval ranks them (the default agent: top_k
        # 5, hybrid); answer_fit.py fits the answerer on these
        sb = json.dumps({"query": q["question"], "top_k": 5, "similarity_threshold": 0, "use_hybrid": True}).encode()
        st, sjs, sraw = client.request("POST", SEARCH_PATH, sb)
        found = sjs.get("results", []) if st == 200 and isinstance(sjs, dict) else []
        top = found[0]["document_filename"] if found else None
        src = js["sources"][0]["document_filename"] if js.get("sources") else None
        return {"qid": q["qid"], "question": q["question"], "answerable": q["answerable"], "grade": grade(q, js),
                "recall": recall(js["message"], q["gold_answers"]) if q["answerable"] else None,
                "message": js["message"], "confidence": js["confidence"], "fallback": js["fallback_triggered"],
                "source": src, "source_gold": src in q["gold"] if src else None,
                "search_top": top, "search_top_gold": top in q["gold"] if top else False,
                "ms": ms, "server_ms": js.get("processing_time_ms"),
                "passages": [{"file": f["document_filename"], "score": f["similarity_score"], "text": f["text"],
                              "metadata": f.get("metadata")} for f in found]}

    pool = pool_cls(s.port, key, threads)
    try:
        pool.map(one, aset.questions[:4 * threads])  # warm-up: processes start and load the vectors
        results = [r for r in pool.map(one, aset.questions) if r is not None]
    finally:
        pool.close()
    return report(aset, ing, results)


def report(aset, ing, results):
    ans = [r for r in results if r["answerable"]]
    una = [r for r in results if not r["answerable"]]
    n = max(1, len(ans))
    share = lambda rs, g: sum(1 for r in rs if r["grade"] == g) / max(1, len(rs))  # noqa: E731
    right_conf = [r["confidence"] for r in results if r["grade"] == "right"]
    wrong_conf = [r["confidence"] for r in results if r["grade"] == "wrong"]
    hit = [r for r in ans if r["search_top_gold"]]
    miss = [r for r in ans if not r["search_top_gold"]]
    lost = {
        "retrieval_miss": len(miss),
        "retrieval_miss_right": sum(1 for r in miss if r["grade"] == "right"),
        "hit": len(hit),
        "hit_right": sum(1 for r in hit if r["grade"] == "right"),
        "hit_wrong_span": sum(1 for r in hit if r["grade"] == "wrong" and r["source_gold"]),
        "hit_wrong_source": sum(1 for r in hit if r["grade"] == "wrong" and not r["source_gold"]),
        "hit_fallback": sum(1 for r in hit if r["grade"] == "fallback"),
    }
    server = sorted(r["server_ms"] for r in results if isinstance(r["server_ms"], (int, float)))
    return {
        "documents": ing["documents"], "chunks": ing["chunks"], "questions": len(results),
        "answerable": len(ans), "unanswerable": len(una),
        "right": share(ans, "right"), "wrong": share(ans, "wrong"), "fell_back": share(ans, "fallback"),
        "honest": share(una, "honest") if una else None,
        "mean_conf_right": mean(right_conf), "mean_conf_wrong": mean(wrong_conf),
        "conf_gap": (mean(right_conf) - mean(wrong_conf)) if right_conf and wrong_conf else None,
        "lost": lost, "server_p50_ms": server[len(server) // 2] if server else None,
        "results": results,
    }


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def print_report(name, rep):
    lo = rep["lost"]
    gap = "-" if rep["conf_gap"] is None else f"{rep['conf_gap']:+.3f}"
    print(f"\n== {name} (answers): {rep['documents']} documents, {rep['chunks']} chunks; {rep['answerable']} "
          f"answerable and {rep['unanswerable']} unanswerable questions, each a new conversation")
    print(f"  answerable: right {pct(rep['right'])}, wrong {pct(rep['wrong'])}, fell back {pct(rep['fell_back'])}; "
          f"unanswerable: honest fallback {pct(rep['honest'])}")
    mr, mw = rep["mean_conf_right"], rep["mean_conf_wrong"]
    print(f"  mean confidence: right {'-' if mr is None else f'{mr:.3f}'}, wrong {'-' if mw is None else f'{mw:.3f}'}"
          f" (gap {gap})")
    print(f"  where answerable questions are lost: search's first passage is not the gold one for "
          f"{lo['retrieval_miss']} ({lo['retrieval_miss_right']} of them still answered right); of the {lo['hit']} "
          f"it ranks first: right {lo['hit_right']}, wrong span of the gold passage {lo['hit_wrong_span']}, "
          f"answered from another passage {lo['hit_wrong_source']}, fell back {lo['hit_fallback']}")
    print(f"  chat server processing_time_ms p50 {rep['server_p50_ms']}")
