#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on 127.0.0.1 for the cluster tests (test/cluster): node 1 bootstraps, 2 and 3
# join by rsync SST, one after the other. Each node reads vendor-config/mariadb-faqsure.cnf and mariadb-galera.cnf
# as shipped, then its own addresses, folders and smaller caches.
#
#   galera.sh start   start the three nodes (each Synced, cluster size 3), create the database and the faqsure user
#   galera.sh stop    stop the nodes this folder's pid files name (3, 2, then 1)
#   galera.sh kill N  kill node N (SIGKILL: a crash, not a shutdown) and wait until it is gone
#   galera.sh rejoin N
#                     start node N again from its folder and configuration; it rejoins the cluster (IST from its
#                     gcache when it can, else SST); returns once it is Synced in a cluster of 3
#
# Environment: GALERA_DIR (the folder of the nodes; must exist, is chowned to mysql), and for start GALERA_PORTS
# (three "sql:gcomm:sst" triples, space-separated; gcomm+1 is the node's IST port) and GALERA_PASSWORD (the
# faqsure user's).
# GALERA_SYNC_WAIT overrides wsrep_sync_wait (1, as the sample asks) to see what the product does without it.
# The server runs as mysql: rsync SST fails under root (its daemon drops to nobody).
set -euo pipefail

cmd=${1:-}
DIR=${GALERA_DIR:?GALERA_DIR is not set}
samples=$(cd "$(dirname "$0")/../../vendor-config" && pwd)
PORTS=()

die() { printf 'galera: %s\n' "$*" >&2; exit 1; }

gcomm_list() {
	local p list=""
	for p in "${PORTS[@]}"; do
		IFS=: read -r _ g _ <<<"$p"
		list="${list:+$list,}127.0.0.1:$g"
	done
	printf '%s' "$list"
}

node_sql() { # node statement
	mariadb --no-defaults --socket="$DIR/node$1/mysqld.sock" -uroot --batch --skip-column-names -e "$2"
}

node_start() { # node [--wsrep-new-cluster]
	local n=$1 sql g s d="$DIR/node$1"
	IFS=: read -r sql g s <<<"${PORTS[$((n - 1))]}"
	mkdir -p "$d/data"
	chown -R mysql:mysql "$d"
	if [ "$n" = 1 ] && [ ! -d "$d/data/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$d/data" --user=mysql --auth-root-authentication-method=normal \
			--skip-test-db >"$d/install.log" 2>&1 || die "mariadb-install-db failed; see $d/install.log"
	fi
	# The two samples as they are, then what differs per node here (later lines win).
	{
		cat "$samples/mariadb-faqsure.cnf" "$samples/mariadb-galera.cnf"
		cat <<-CNF

			# ---- node $n of test/cluster/galera.sh ----
			[mariadbd]
			user = mysql
			datadir = $d/data
			socket = $d/mysqld.sock
			pid-file = $d/mysqld.pid
			log-error = $d/mariadb.log
			port = $sql
			bind-address = 127.0.0.1
			innodb_buffer_pool_size = 128M
			innodb_log_file_size = 48M
			wsrep_cluster_name = faqsure-test
			wsrep_cluster_address = gcomm://$(gcomm_list)
			wsrep_node_address = 127.0.0.1:$g
			wsrep_node_name = node$n
			wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$g;ist.recv_addr=127.0.0.1:$((g + 1));gcache.size=64M"
			wsrep_sst_receive_address = 127.0.0.1:$s
		CNF
		[ -z "${GALERA_SYNC_WAIT:-}" ] || printf 'wsrep_sync_wait = %s\n' "$GALERA_SYNC_WAIT"
	} >"$d/my.cnf"
	setsid mariadbd --defaults-file="$d/my.cnf" "${@:2}" </dev/null >/dev/null 2>&1 &
}

# Waits until the node is Synced and sees `size` members.
wait_synced() { # node size
	local i state members
	for ((i = 0; i < 600; i++)); do
		state=$(node_sql "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2) || true
		members=$(node_sql "$1" "SHOW STATUS LIKE 'wsrep_cluster_size'" 2>/dev/null | cut -f2) || true
		[ "$state" = Synced ] && [ "$members" -ge "$2" ] 2>/dev/null && return 0
		if [ -f "$DIR/node$1/mysqld.pid" ] && ! kill -0 "$(cat "$DIR/node$1/mysqld.pid")" 2>/dev/null; then
			die "node $1 exited; see $DIR/node$1/mariadb.log"
		fi
		sleep 0.1
	done
	die "node $1 is not Synced in a cluster of $2 after 60 s (state '$state', size '$members'); see $DIR/node$1/mariadb.log"
}

start() {
	read -r -a PORTS <<<"${GALERA_PORTS:?GALERA_PORTS is not set}"
	[ "${#PORTS[@]}" -eq 3 ] || die "GALERA_PORTS needs three sql:gcomm:sst triples"
	[ -f /usr/lib/galera/libgalera_smm.so ] || die "galera-4 is not installed (apt-get install galera-4)"
	command -v rsync >/dev/null || die "rsync is not installed (the joiners' SST)"
	chmod 755 "$DIR"
	node_start 1 --wsrep-new-cluster
	wait_synced 1 1
	node_start 2
	wait_synced 2 2
	node_start 3
	wait_synced 3 3
	node_sql 1 "CREATE DATABASE IF NOT EXISTS faqsure CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
		CREATE USER IF NOT EXISTS 'faqsure'@'127.0.0.1' IDENTIFIED BY '${GALERA_PASSWORD:?}';
		GRANT ALL PRIVILEGES ON faqsure.* TO 'faqsure'@'127.0.0.1';"
}

node_stop() { # node
	local f="$DIR/node$1/mysqld.pid" pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	echo "galera: node $1 did not stop in 60 s: killed" >&2
}

node_kill() { # node
	local f="$DIR/node$1/mysqld.pid" pid i
	[ -f "$f" ] || die "node $1 has no pid file"
	pid=$(cat "$f")
	kill -9 "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "node $1 (pid $pid) is still there 30 s after SIGKILL"
}

# As systemd's galera_recovery does after a crash: the node reads the position it reached from its own data
# (--wsrep-recover), then starts from there, so it catches up from a peer's gcache (IST) instead of copying
# everything (SST). The donor is another node than 1, which web node A uses: an rsync donor blocks its clients.
node_rejoin() { # node
	local d="$DIR/node$1" pos donor=node3
	[ -f "$d/my.cnf" ] || die "node $1 was never started here"
	[ "$1" != 3 ] || donor=node2
	rm -f "$d/mysqld.pid" "$d/recover.log"
	mariadbd --defaults-file="$d/my.cnf" --wsrep-recover --log-error="$d/recover.log" </dev/null >/dev/null 2>&1 ||
		die "node $1: --wsrep-recover failed; see $d/recover.log"
	pos=$(sed -n 's/.*WSREP: Recovered position: *\([^ ]*\).*/\1/p' "$d/recover.log" | tail -n 1)
	setsid mariadbd --defaults-file="$d/my.cnf" ${pos:+--wsrep-start-position="$pos"} --wsrep-sst-donor="$donor," \
		</dev/null >/dev/null 2>&1 &
	wait_synced "$1" 3
}

case "$cmd" in
start) start ;;
stop) node_stop 3; node_stop 2; node_stop 1 ;;
kill) node_kill "${2:?galera.sh kill N}" ;;
rejoin) node_rejoin "${2:?galera.sh rejoin N}" ;;
*) die "usage: galera.sh start|stop|kill N|rejoin N" ;;
esac
