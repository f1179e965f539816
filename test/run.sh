#!/usr/bin/env bash
# The whole test suite: C unit tests, then black-box integration tests that start their own MariaDB and Apache
# on loopback in a temporary folder. Ends with one line "N passed, N failed[, N skipped]".
# Usage: test/run.sh [FILTER]   (FILTER: a substring of test names)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}
filter=${1:-}
log=$(mktemp) targets_log=$(mktemp)
trap 'rm -f "$log" "$targets_log"' EXIT

passed=0 failed=0 skipped=0
count() { # adds the counts of a runner's closing line in $log
	local line p f s
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $1: the runner ended without a summary line"
		failed=$((failed + 1))
		return
	fi
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
}

echo "== layers (test/layers.sh)"
BUILDDIR="$BUILDDIR" bash test/layers.sh 2>&1 | tee "$log" | grep -v '^[0-9]* passed'
count layers

echo "== unit tests"
"$BUILDDIR/test/unit-tests" $filter 2>&1 | tee "$log" | grep -v '^[0-9]* passed'
count unit

# pytest from Debian; test/integration/conftest.py prints one line per test and the closing counts
pytest_run() { # what to run, [pytest arguments...]
	BUILDDIR="$BUILDDIR" /usr/bin/python3 -m pytest -p no:cacheprovider -p no:terminal "$@" 2>&1
}
integration() { # the same, its lines shown as they come and kept in $log for count
	pytest_run "$@" | tee "$log" | grep -v '^[0-9]* passed'
}

# The deployments' suite (test/integration/targets: five web servers, each with its own stack, and `make run`'s
# local stack) and the faults under load (server/test_faults.py, on a stack of that process's own: about 80 s of
# load and waiting) run beside the rest, in a second process: the two cores are mostly waiting on servers.
FAULTS=test/integration/server/test_faults.py
pytest_run test/integration/targets "$FAULTS" ${filter:+-k "$filter"} >"$targets_log" &
targets_pid=$!

echo "== integration tests (real MariaDB and Apache with mod_fcgid on 127.0.0.1)"
integration test/integration --ignore=test/integration/targets --ignore="$FAULTS" ${filter:+-k "$filter"}
count integration

echo "== the deployments: the same suite on Apache vhost, .htaccess bundle, mod_cgi, nginx, lighttpd; make run's stack; faults under load"
wait "$targets_pid"
grep -v '^[0-9]* passed' "$targets_log"
cp "$targets_log" "$log"
count "integration (deployments)"

# The search tests once more with the vectors in Qdrant (the stand-in), on a stack of their own: the qdrant
# backend must pass what the embedded store passes.
case "test_search" in *"$filter"*)
	echo "== search tests with [vector] backend = qdrant (stand-in)"
	FAQSURE_IT_VECTOR=qdrant integration test/integration/search/test_search.py
	count "integration (qdrant)"
	;;
esac

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
