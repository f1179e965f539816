# Where the tests find the build, the tools and the test data; QDRANT_SPECS for the Qdrant stand-in.
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = (ROOT / os.environ.get("BUILDDIR", "build")).resolve()  # a relative BUILDDIR is relative to the repo
STACK_SH = ROOT / "test" / "stack" / "stack.sh"
CTL = BUILD / "bin" / "faqsurectl"
DOCUMENTS_FCGI = BUILD / "fcgi-bin" / "documents.fcgi"
KEYS_FCGI = BUILD / "fcgi-bin" / "keys.fcgi"
PROBE_FCGI = BUILD / "test" / "probe.fcgi"
DATA = ROOT / "test" / "data"



# FAQSURE_IT_VECTOR=qdrant runs the stack's searches on the Qdrant stand-in instead of the embedded store
# (test/run.sh runs the search tests a second time so); its OpenAPI spec must be at one of these.
QDRANT_SPECS = (ROOT.parent / "shared" / "qdrant" / "openapi-1.19.json",
                Path("/work/shared/qdrant/openapi-1.19.json"))
