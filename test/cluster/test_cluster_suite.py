# The black-box suite every deployment passes (test/integration/targets/test_targets.py: keys and their limits,
# upload → ready → search → chat, streamed answers, the web server's own JSON errors, health) on each web node of
# the cluster, A on Galera node 1 and B on node 2.
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "targets"))
import test_targets as suite  # noqa: E402


@pytest.fixture(params=("A", "B"))
def t(request, cluster):
    return cluster.a if request.param == "A" else cluster.b


for _name in dir(suite):
    if _name.startswith("test_"):
        globals()[_name] = getattr(suite, _name)
