#!/usr/bin/env bash
# make bench: starts a private stack on loopback and measures, with wrk, the authenticated request path
# (GET /api/v1/documents: auth + rate limit + query + usage event) against a hello-world FastCGI program, under
# the same Apache (the product's configuration) and under a minimal Apache started beside it (event MPM,
# mod_fcgid with 32 processes and output buffering off, nothing else), in the same run. Prints requests/s,
# p50/p99 latency and both ratios.
# Then ingestion: ../shared/docs and 10,000 generated documents through the upload route and one worker.
# Then search (test/bench/search.py): POST /api/v1/search on generated corpora of 1k, 10k and 100k chunks, dense
# and hybrid, against the same hello-world ceiling; search.fcgi's memory; the exact scan alone against FAISS; and
# chat (POST /api/v1/chat) on the 10k corpus, with the built-in answerer and with an "openai" answerer on the
# OpenAI-compatible stand-in (test/standins/openai_standin.py, started here: the stack's [answerer] url).
# Then the analytics dashboard (test/bench/dashboard.py): GET /api/v1/analytics/dashboard on an account that
# test/analytics_gen.c filled with a month of usage events and chat messages.
# Environment: BUILDDIR (default build), DURATION (seconds per run, default 10), CONNECTIONS (default 16),
# INGEST_DOCS (generated documents, default 10000), SEARCH_SIZES (chunks, default 1000,10000,100000; empty:
# no search part), CHAT_SIZE (the corpus chat runs on, default 10000; 0: no chat), ANALYTICS_EVENTS and
# ANALYTICS_MESSAGES (the dashboard account's history, default 1000000 and 100000; both 0: no dashboard part).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILDDIR=${BUILDDIR:-build}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
case "$BUILDDIR" in /*) ;; *) BUILDDIR="$PWD/$BUILDDIR" ;; esac
command -v wrk >/dev/null || { echo "bench: wrk is not installed (make deps)" >&2; exit 1; }

dir=$(mktemp -d /tmp/faqsure-bench-XXXXXX)
chmod 755 "$dir"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VARDIR="$dir" PORT="$port" BUILDDIR EXTRA_FCGI="/bench/hello=$BUILDDIR/test/hello.fcgi"
standin_pid=
cleanup() {
	[ ! -f "$dir/minimal/apache.pid" ] || apache2 -f "$dir/minimal/httpd.conf" -k stop 2>/dev/null || true
	bash test/stack/stack.sh stop >/dev/null 2>&1 || true
	[ -z "$standin_pid" ] || kill "$standin_pid" 2>/dev/null || true
	rm -rf "$dir" "/tmp/faqsure-run-"*"-bench" 2>/dev/null || true
}
trap cleanup EXIT
# The upstream answerer for chat: the stand-in, named in the stack's configuration. Run with TCP_NODELAY, so it
# answers at once: otherwise its two writes per answer (headers, body) wait for the client's delayed ACK, ~40 ms.
/usr/bin/python3 -c 'import sys; sys.path.insert(0, "test/standins"); import openai_standin as s
s.Handler.disable_nagle_algorithm = True; sys.argv = ["openai_standin.py"]; sys.exit(s.main())' \
	>"$dir/standin.port" 2>"$dir/standin.log" &
standin_pid=$!
for _ in $(seq 100); do [ -s "$dir/standin.port" ] && break; sleep 0.1; done
standin_port=$(head -n 1 "$dir/standin.port")
[ -n "$standin_port" ] || { echo "bench: the OpenAI stand-in did not start: $(cat "$dir/standin.log")" >&2; exit 1; }
export STANDIN_URL="http://127.0.0.1:$standin_port"
export FAQSURE_EXTRA_CONFIG="${FAQSURE_EXTRA_CONFIG:+$FAQSURE_EXTRA_CONFIG
}[answerer]
url = $STANDIN_URL/v1
model = standin

[worker]
# the timed worker --once runs do the queue only; the chat corpus gets its sentence vectors from
# faqsurectl sentences (test/bench/search.py), timed on its own
sentence_seconds = 0"
bash test/stack/stack.sh start >/dev/null
export FAQSURE_CONFIG="$dir/faqsure.conf"
"$BUILDDIR/bin/faqsurectl" account create bench --unlimited >/dev/null
key=$("$BUILDDIR/bin/faqsurectl" key create --account bench --name bench --per-minute 1000000 \
	--per-hour 100000000 | tail -n 1)
url="http://127.0.0.1:$port"

# The ceiling without our configuration: the same hello under an Apache that has only what it needs.
min_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/minimal/bin" "$dir/minimal/fcgid" "$dir/minimal/htdocs"
cp "$BUILDDIR/test/hello.fcgi" "$dir/minimal/bin/"
chmod -R a+rX "$dir/minimal"
chown www-data "$dir/minimal/fcgid"
cat >"$dir/minimal/httpd.conf" <<CONF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$min_port
PidFile $dir/minimal/apache.pid
DefaultRuntimeDir $dir/minimal
ErrorLog $dir/minimal/error.log
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
DocumentRoot $dir/minimal/htdocs
FcgidIPCDir $dir/minimal/fcgid
FcgidProcessTableFile $dir/minimal/fcgid/shm
FcgidMaxProcessesPerClass 32
FcgidOutputBufferSize 0
Alias /bench/hello $dir/minimal/bin/hello.fcgi
<Directory $dir/minimal/bin>
    SetHandler fcgid-script
    Options +ExecCGI
    Require all granted
</Directory>
CONF
apache2 -f "$dir/minimal/httpd.conf" -k start || { echo "bench: the minimal Apache did not start" >&2; exit 1; }
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$min_port/bench/hello" && break; sleep 0.1; done

# run NAME PATH [HEADER]: warm up with twice the connections, so mod_fcgid spawns spare processes (it adds
# them slowly, and a request that finds every process busy waits about a second), then measure.
# BASE: another server than the stack's.
run() {
	local name=$1 path=$2 out i base=${BASE:-$url}
	shift 2
	for i in 1 2 3 4; do
		wrk -t2 -c$((2 * CONNECTIONS)) -d5s "$@" "$base$path" >/dev/null
	done
	out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$base$path")
	local rps p50 p99 non2xx
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	printf '%-44s %10s req/s   p50 %8s   p99 %8s   %s\n' "$name" "$rps" "$p50" "$p99" \
		"${non2xx:+non-2xx: $non2xx}"
	eval "${name%% *}_rps=$rps"
}

echo "FAQSure benchmark: wrk -t2 -c$CONNECTIONS, ${DURATION}s per run, Apache mod_fcgid on 127.0.0.1, $(nproc) cores"
BASE="http://127.0.0.1:$min_port" run "minimal (hello world, minimal Apache)" /bench/hello
run "hello (libfcgi hello world)" /bench/hello
run "documents (GET /api/v1/documents, keyed)" /api/v1/documents -H "X-API-Key: $key"
apache2 -f "$dir/minimal/httpd.conf" -k stop 2>/dev/null || true
awk -v a="$documents_rps" -v h="$hello_rps" -v m="$minimal_rps" 'BEGIN {
	printf "ratio: authenticated path keeps %.1f%% of the hello-world ceiling (%.1f%% of it under a minimal Apache)\n", 100 * a / h, 100 * a / m
	printf "ratio: our Apache configuration keeps %.1f%% of the minimal Apache'"'"'s hello world\n", 100 * h / m }'
run_dir=$(awk -F' = ' '/^socket/ {print $2}' "$FAQSURE_CONFIG" | xargs dirname)
# This stack's processes only (other stacks may run on the machine): Apache runs the copies in $run_dir/bin.
rss=$(ps -C documents.fcgi -o rss=,args= | awk -v bin="$run_dir/bin/" 'index($2, bin) == 1 { s += $1; n++ }
	END { if (n) printf "%d processes, %.1f MiB resident each on average", n, s / n / 1024 }')
echo "documents.fcgi: $rss"
events=$(mariadb --no-defaults --socket="$(awk -F' = ' '/^socket/ {print $2}' "$FAQSURE_CONFIG")" -uroot faqsure \
	-N -e "SELECT COUNT(*) FROM usage_events")
echo "usage events recorded during the run: $events"

# The dashboard: its own account and history, measured before the long parts below.
if [ "${ANALYTICS_EVENTS:-1000000}" != 0 ] || [ "${ANALYTICS_MESSAGES:-100000}" != 0 ]; then
	if [ -x "$BUILDDIR/fcgi-bin/analytics.fcgi" ]; then
		/usr/bin/python3 test/bench/dashboard.py "$url" "$BUILDDIR/bin/faqsurectl" "$FAQSURE_CONFIG" \
			"$BUILDDIR/test/analytics-gen"
	else
		echo
		echo "dashboard: $BUILDDIR/fcgi-bin/analytics.fcgi is not built, skipped"
	fi
fi

# Ingestion: stop the daemon worker so uploads queue up, then time one `worker --once` draining them.
if [ -f "$run_dir/worker.pid" ]; then
	kill "$(cat "$run_dir/worker.pid")" 2>/dev/null || true
	sleep 1
fi
sock="$run_dir/mysqld.sock"
echo
echo "Ingestion ($(nproc) cores shared with Apache and MariaDB):"
shared_docs="$(cd .. && pwd)/shared/docs"
if [ -d "$shared_docs" ]; then
	/usr/bin/python3 test/bench/ingest.py "$url" "$key" "$BUILDDIR/bin/faqsurectl" "$FAQSURE_CONFIG" "$sock" \
		"shared/docs" "$shared_docs"
else
	echo "shared/docs: not present, skipped"
fi
/usr/bin/python3 test/bench/ingest.py "$url" "$key" "$BUILDDIR/bin/faqsurectl" "$FAQSURE_CONFIG" "$sock" \
	"10,000 generated Markdown documents" --generate "${INGEST_DOCS:-10000}"

# Search: its own accounts and corpora, indexed by `worker --once` processes (the daemon worker is stopped).
if [ -n "${SEARCH_SIZES-1000,10000,100000}" ]; then
	if [ -x "$BUILDDIR/fcgi-bin/search.fcgi" ]; then
		/usr/bin/python3 test/bench/search.py "$url" "$BUILDDIR/bin/faqsurectl" "$FAQSURE_CONFIG" "$sock" \
			"$dir/search" "$run_dir" "$hello_rps" "$documents_rps"
	else
		echo
		echo "search: $BUILDDIR/fcgi-bin/search.fcgi is not built, skipped"
	fi
fi
