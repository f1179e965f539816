#!/usr/bin/env bash
# make test-cluster: a 3-node MariaDB Galera cluster, two web nodes (Apache with mod_fcgid, each with its own
# programs, configuration and worker, each on another Galera node) and the tests of test/cluster through both.
# Everything lives in one temp dir under /tmp; whatever the tests left running is stopped here and the dir removed,
# also when they fail or are interrupted. Ends with the "N passed, N failed" line of test/run.sh's runners.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
BUILDDIR=${BUILDDIR:-build}
dir=$(mktemp -d /tmp/faqsure-cluster-XXXXXX)
chmod 755 "$dir" # the web nodes' runtime folders (programs, configuration) live inside, read by www-data

cleanup() {
	local web
	trap - EXIT INT TERM
	for web in "$dir"/faqsure-it-*; do
		[ -d "$web" ] || continue
		VARDIR="$web" BUILDDIR="$BUILDDIR" FAQSURE_DB_HOST=127.0.0.1 bash test/stack/stack.sh stop >/dev/null 2>&1 ||
			echo "warning: stack.sh stop failed for $web" >&2
	done
	GALERA_DIR="$dir" bash "$here/galera.sh" stop || echo "warning: galera.sh stop failed" >&2
	if [ "${FAQSURE_IT_KEEP:-}" = 1 ]; then
		echo "cluster dir kept: $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAQSURE_CLUSTER_DIR="$dir" BUILDDIR="$BUILDDIR" /usr/bin/python3 -m pytest -p no:cacheprovider -p no:terminal -s \
	"$here" "$@"
rc=$?
exit $rc
