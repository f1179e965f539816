# The deployments' suite runs in a process of its own (test/run.sh): what it received on all five deployments,
# the web servers' own answers included, must match the OpenAPI description like every other response of the
# suite (server/test_openapi.py, which also asserts that every operation is seen).
import client
from harness import check
from openapi_check import api_path, check_one, spec

RUN_LAST = 2  # after the deployments' tests: it checks what they received


def test_deployments_responses_match_the_description():
    doc = spec()
    problems, checked = {}, 0
    for rec in client.RECORDED:
        path = api_path(rec["path"])
        if path is None or path.startswith("/probe"):
            continue  # the console, the widget, the customer's own site; the tests' probe program
        checked += 1
        for p in check_one(doc, rec)[0]:
            problems.setdefault(p, []).append(f"{rec['method']} {rec['path']}")
    report = [f"{p}\n      e.g. {ex[0]} ({len(ex)} responses)" for p, ex in sorted(problems.items())]
    check(not report, f"{len(report)} kinds of responses (of {checked}) do not match the description:\n  " +
          "\n  ".join(report[:40]))
