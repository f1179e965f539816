# The test-only probe program (test/probe.c, POST /api/v1/probe/spend {"tokens": N}): spends tokens so that the
# balance gate (402) and usage can be tested without a model.
from harness import PROBE_FCGI, SkipTest

SPEND = "/api/v1/probe/spend"


def need_probe():
    if not PROBE_FCGI.exists():
        raise SkipTest(f"{PROBE_FCGI} not built")


def spend(s, key, n):
    return s.post(SPEND, {"tokens": n}, key=key)
