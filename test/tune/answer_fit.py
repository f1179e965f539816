#!/usr/bin/python3
# Fits the built-in answerer's two models (shared/answer/answer_span.c) on dev data and prints them as C:
#   1. the span model: log-odds that a candidate span is a right answer, logistic regression over the features
#      of every candidate (answer-tune), labelled right when it holds at least half of a gold answer's words
#      (the scoring of ../shared/eval/README.md); each question's candidates weigh 1 in all;
#   2. the confidence model: over the chosen span of every question (answerable or not), the probability that
#      the answer given is right, logistic in the span's log-odds, its margin over another passage's best and
#      the span's own features (FIT_CALIB_L2, default 1.0, regularises it).
# Also prints what these would score (right / wrong / fell back / honest, confidence gap) at several thresholds,
# fitted on all questions and in 2-fold cross-validation (fitted on one half of the questions, scored on the
# other), so that a gain that only fits the dev set shows.
#
# usage: answer_fit.py EVAL_OUT.json [SET ...]   (EVAL_OUT of `make eval` with EVAL_SETS holding answer sets;
#        SETs default to every answer set in it). ANSWER_TUNE=path of the answer-tune binary.
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "eval"))
import answers  # noqa: E402

L2 = float(os.environ.get("FIT_L2", "0.1"))
THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)


def gold_answers(set_name):
    if set_name == "docs":
        path = ROOT / "test" / "eval" / "docs_questions.jsonl"
    else:
        path = Path(os.environ.get("EVAL_DIR") or ROOT.parent / "shared" / "eval") / set_name / "questions.dev.jsonl"
    out = {}
    for line in open(path, encoding="utf-8"):
        if line.strip():
            q = json.loads(line)
            out[q["qid"]] = (bool(q["answerable"]), q.get("gold_answers") or [])
    return out


def candidates(results, binary):
    stdin = "".join(json.dumps({"qid": r["qid"], "question": r["question"], "passages": r["passages"]}) + "\n"
                    for r in results)
    model = os.environ.get("SENTENCE_MODEL") or str(ROOT / "build" / "model" / "use-lite-v2.bin")
    out = subprocess.run([binary, model], input=stdin, capture_output=True, text=True, check=True).stdout
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    names = lines[0]["features"]
    cands = [x for x in lines[1:] if "f" in x]
    return names, cands


def fit_logistic(X, y, w, l2=L2, iters=50, free=1):
    """Weighted L2-regularised logistic regression by Newton's method (the first `free` columns, the bias and
    what the model is built on, not regularised)."""
    beta = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[:free] = 1e-6
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ beta)))
        g = X.T @ (w * (p - y)) + reg * beta
        H = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(reg)
        step = np.linalg.solve(H, g)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def choose(cands_by_q, beta):
    """Per question: (chosen candidate, z, margin over another passage's best)."""
    out = {}
    for qid, cs in cands_by_q.items():
        zs = [float(np.dot(beta, c["f"])) for c in cs]
        i = int(np.argmax(zs))
        rival = max((z for z, c in zip(zs, cs) if c["source"] != cs[i]["source"]), default=None)
        margin = min(8.0, zs[i] - rival) if rival is not None else 8.0
        out[qid] = (cs[i], zs[i], margin)
    return out


CALIB_L2 = float(os.environ.get("FIT_CALIB_L2", "1.0"))


def calib_features(c, z, margin):
    """The confidence model's inputs: the best candidate's log-odds, its margin, and its own features."""
    return np.concatenate([[1.0, z, margin], c["f"][1:]])


def fit(train_q, cands_by_q, labels):
    X, y, w = [], [], []
    for qid in train_q:
        cs = cands_by_q.get(qid, [])
        for c in cs:
            X.append(c["f"])
            y.append(labels[qid](c["text"]))
            w.append(1.0 / len(cs))
    beta = fit_logistic(np.array(X), np.array(y, dtype=float), np.array(w))
    chosen = choose({q: cands_by_q[q] for q in train_q if q in cands_by_q}, beta)
    Xc = np.array([calib_features(c, z, m) for c, z, m in chosen.values()])
    yc = np.array([labels[q](c["text"]) for q, (c, _, _) in chosen.items()], dtype=float)
    gamma = fit_logistic(Xc, yc, np.ones(len(yc)), l2=CALIB_L2, free=3)
    return beta, gamma


def score(test_q, cands_by_q, beta, gamma, answerable, labels, threshold):
    chosen = choose({q: cands_by_q[q] for q in test_q if q in cands_by_q}, beta)
    n_ans = sum(1 for q in test_q if answerable[q])
    n_una = len(test_q) - n_ans
    right = wrong = fell = honest = 0
    conf_r, conf_w = [], []
    for q in test_q:
        if q not in chosen:
            conf, ok = 0.0, False
        else:
            c, z, m = chosen[q]
            conf = float(1 / (1 + np.exp(-np.dot(gamma, calib_features(c, z, m)))))
            ok = labels[q](c["text"])
        answered = conf >= threshold
        if answerable[q]:
            if not answered:
                fell += 1
            elif ok:
                right += 1
                conf_r.append(conf)
            else:
                wrong += 1
                conf_w.append(conf)
        elif answered:
            conf_w.append(conf)
        else:
            honest += 1
    gap = (np.mean(conf_r) - np.mean(conf_w)) if conf_r and conf_w else float("nan")
    return (right / max(1, n_ans), wrong / max(1, n_ans), fell / max(1, n_ans),
            honest / max(1, n_una) if n_una else float("nan"), gap)


def main():
    if len(sys.argv) < 2:
        print(__doc__ or "usage: answer_fit.py EVAL_OUT.json [SET ...]", file=sys.stderr)
        return 2
    report = json.load(open(sys.argv[1]))
    sets = sys.argv[2:] or [n for n, r in report["sets"].items() if "results" in r]
    binary = os.environ.get("ANSWER_TUNE") or str(ROOT / "build" / "test" / "answer-tune")
    cands_by_q, labels, answerable, qset = {}, {}, {}, {}
    names = None
    for sname in sets:
        results = report["sets"][sname]["results"]
        golds = gold_answers(sname)
        names, cands = candidates(results, binary)
        for c in cands:
            cands_by_q.setdefault(f"{sname}:{c['qid']}", []).append(c)
        for r in results:
            key = f"{sname}:{r['qid']}"
            ans, g = golds[r["qid"]]
            answerable[key] = ans
            qset[key] = sname
            labels[key] = (lambda g, ans: lambda text: bool(
                ans and len(text) <= answers.MAX_CHARS and answers.recall(text, g) >= 0.5))(g, ans)
    for c in (c for cs in cands_by_q.values() for c in cs):
        c["f"] = np.array(c["f"])
    allq = sorted(answerable)
    beta, gamma = fit(allq, cands_by_q, labels)

    def show(title, rows):
        print(title)
        for label, (r, w, f, h, gap) in rows:
            print(f"  {label:<22} right {100 * r:5.1f}%  wrong {100 * w:5.1f}%  fell back {100 * f:5.1f}%  "
                  f"honest {100 * h:5.1f}%  gap {gap:+.3f}")

    for sname in sets:
        qs = [q for q in allq if qset[q] == sname]
        show(f"{sname}: fitted on all ({', '.join(sets)}), scored on {sname}",
             [(f"threshold {t}", score(qs, cands_by_q, beta, gamma, answerable, labels, t)) for t in THRESHOLDS])
        # 2-fold cross-validation: questions split by position
        rows = []
        for t in THRESHOLDS:
            acc = []
            for fold in (0, 1):
                train = [q for i, q in enumerate(allq) if i % 2 != fold]
                test = [q for i, q in enumerate(qs) if allq.index(q) % 2 == fold]
                b, g = fit(train, cands_by_q, labels)
                acc.append(score(test, cands_by_q, b, g, answerable, labels, t))
            rows.append((f"threshold {t} (2-fold)", tuple(float(np.mean([a[k] for a in acc])) for k in range(5))))
        show(f"{sname}: 2-fold cross-validation", rows)

    print("\n/* span model */")
    for n, v in zip(names, beta):
        print(f"\t[SF_{n.upper()}] = {v:.4f},")
    print("/* confidence model */")
    print(f"static const double calib[3] = {{ {gamma[0]:.4f}, {gamma[1]:.4f}, {gamma[2]:.4f} }};")
    print("static const double calib_features[SPAN_NFEATURES] = {")
    for n, v in zip(names[1:], gamma[3:]):
        print(f"\t[SF_{n.upper()}] = {v:.4f},")
    print("};")
    return 0


if __name__ == "__main__":
    sys.exit(main())
