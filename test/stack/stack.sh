#!/usr/bin/env bash
# The local FAQSure stack: a private MariaDB (data under $VARDIR), the schema, a web server (Apache with mod_fcgid,
# or lighttpd with mod_fastcgi) on 127.0.0.1:$PORT serving the programs of $BUILDDIR, and the ingestion worker.
# Used by `make run` / `make stop` and by the tests.
#
#   stack.sh start      start MariaDB, the web server and the worker (idempotent), migrate, write $VARDIR/faqsure.conf
#                       (with $VARDIR/faqsure.local.conf appended: the operator's own settings, never written here)
#   stack.sh run        start, then make sure a demo account and key exist and print how to call the API
#   stack.sh stop       stop the web server (either), the worker and MariaDB
#   stack.sh db-stop    stop only MariaDB (the tests use it to check outage handling)
#   stack.sh db-start   start only MariaDB again
#   stack.sh status     say what runs
#
# Environment: VARDIR (default var), PORT (default 8080), BUILDDIR (default build), EXTRA_FCGI (test programs:
# space-separated URLPATH=BINARY pairs served in addition to the product's programs), FAQSURE_WEB (apache, the
# default, and apache-cgi (plain CGI), configured from apache-example.conf; lighttpd, configured from
# vendor-config/lighttpd.conf; nginx with spawn-fcgi, from vendor-config/nginx.conf), FAQSURE_LIGHTTPD_PROCS and
# FAQSURE_NGINX_PROCS (processes started per program, default 4). FAQSURE_DB_HOST, FAQSURE_DB_PORT and
# FAQSURE_DB_PASSWORD: a database of someone else's (a Galera node of test/cluster) with database and user faqsure
# made already, reached over TCP: no MariaDB of this stack is started or stopped then.
#
# The web server runs its FastCGI children as www-data. Everything they touch — programs, configuration, the MariaDB
# socket — lives in a runtime folder that www-data can reach: $VARDIR/run when www-data can enter $VARDIR,
# otherwise a folder under /tmp named after $VARDIR (the clone may sit under a private home directory).
set -euo pipefail

cmd=${1:-status}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
samples="$top/vendor-config" # the deployment samples this stack is configured from
VARDIR=${VARDIR:-var}
PORT=${PORT:-8080}
BUILDDIR=${BUILDDIR:-build}
EXTRA_FCGI=${EXTRA_FCGI:-}
WEB=${FAQSURE_WEB:-apache}
mkdir -p "$VARDIR"
VARDIR=$(cd "$VARDIR" && pwd)
case "$BUILDDIR" in /*) ;; *) BUILDDIR="$top/$BUILDDIR" ;; esac
CTL="$BUILDDIR/bin/faqsurectl"
# The sentence model the build fetched and converted (GNUmakefile, MODELDIR).
MODEL=${FAQSURE_SENTENCE_MODEL:-$top/build/model/use-lite-v2.bin}
DB_HOST=${FAQSURE_DB_HOST:-}

web_user=www-data
reachable() { runuser -u "$web_user" -- test -x "$1" 2>/dev/null; }
if reachable "$VARDIR"; then
	RUN="$VARDIR/run"
else
	RUN="/tmp/faqsure-run-$(printf '%s' "$VARDIR" | sha256sum | cut -c1-16)"
fi
SOCK="$RUN/mysqld.sock"
CONF="$VARDIR/faqsure.conf"
# Settings of the operator's own (an OpenAI-compatible answerer or embedder, Qdrant, limits): this script never
# writes this file and appends it to $CONF at each start; a key set again later in the file wins (core/config.c),
# so it overrides what is written above it.
LOCAL_CONF="$VARDIR/faqsure.local.conf"
LOCAL_FROM="" # the line of $CONF where $LOCAL_CONF's first line is, when it was appended
APACHE_CONF="$RUN/httpd.conf"
LIGHTTPD_CONF="$RUN/lighttpd.conf"
DATADIR="$VARDIR/mariadb"
LOG="$VARDIR/log"

say() { printf '%s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_gone() { # pidfile seconds
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0 # no file: nothing to wait for (it may go between a test and a read)
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# The buffer pool holds the chunks' vectors that search processes load (about 5 KiB per chunk): 1 GiB keeps
# 100,000 chunks in memory. FAQSURE_DB_BUFFER_POOL overrides it for a small machine.
db_start() {
	mkdir -p "$RUN" "$LOG"
	chmod 755 "$RUN"
	[ -z "$DB_HOST" ] || return 0 # an external database: not ours to start
	if pid_alive "$RUN/mysqld.pid"; then
		return 0
	fi
	if [ ! -d "$DATADIR/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$DATADIR" --user=root \
			--auth-root-authentication-method=normal --skip-test-db >"$LOG/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed; see $LOG/mariadb-install.log"
	fi
	setsid mariadbd --no-defaults --datadir="$DATADIR" --socket="$SOCK" --skip-networking --user=root \
		--pid-file="$RUN/mysqld.pid" --log-error="$LOG/mariadb.log" \
		--innodb-buffer-pool-size=${FAQSURE_DB_BUFFER_POOL:-1G} --innodb-log-file-size=64M --max-connections=500 --thread-handling=pool-of-threads --max-allowed-packet=64M \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >/dev/null 2>&1 &
	local i
	for ((i = 0; i < 300; i++)); do
		if mariadb-admin --no-defaults --socket="$SOCK" -uroot ping >/dev/null 2>&1; then
			chmod 777 "$SOCK"
			return 0
		fi
		sleep 0.1
	done
	die "MariaDB did not start within 30 s; see $LOG/mariadb.log"
}

db_stop() {
	[ -z "$DB_HOST" ] || return 0
	if pid_alive "$RUN/mysqld.pid"; then
		kill "$(cat "$RUN/mysqld.pid")"
		wait_gone "$RUN/mysqld.pid" 60 || die "MariaDB did not stop"
	fi
}

# The stack's own database and its user, with a password made once.
write_db_user() {
	local pw
	if [ ! -s "$VARDIR/db-password" ]; then
		(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$VARDIR/db-password")
	fi
	pw=$(cat "$VARDIR/db-password")
	mariadb --no-defaults --socket="$SOCK" -uroot <<-SQL
		CREATE DATABASE IF NOT EXISTS faqsure CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
		CREATE USER IF NOT EXISTS 'faqsure'@'localhost' IDENTIFIED BY '$pw';
		ALTER USER 'faqsure'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON faqsure.* TO 'faqsure'@'localhost';
	SQL
}

write_config() {
	local pw database
	if [ -n "$DB_HOST" ]; then
		pw=${FAQSURE_DB_PASSWORD:?FAQSURE_DB_PASSWORD goes with FAQSURE_DB_HOST}
		database=$(printf 'host = %s\nport = %s' "$DB_HOST" "${FAQSURE_DB_PORT:-3306}")
	else
		write_db_user
		pw=$(cat "$VARDIR/db-password")
		database="socket = $SOCK"
	fi
	# The sentence model, where the web server's user can read it (a copy in the runtime folder when not).
	local model="$MODEL"
	[ -r "$MODEL" ] || die "$MODEL is missing: run make first"
	if ! runuser -u "$web_user" -- test -r "$MODEL" 2>/dev/null; then
		model="$RUN/model/$(basename "$MODEL")"
		mkdir -p "$RUN/model"
		cmp -s "$MODEL" "$model" || { cp "$MODEL" "$model.tmp" && chmod 644 "$model.tmp" && mv -f "$model.tmp" "$model"; }
	fi
	cat >"$CONF.tmp" <<-CONF
		# Written by test/stack/stack.sh for the local stack in $VARDIR.
		[database]
		$database
		user = faqsure
		password = $pw
		name = faqsure

		[answerer]
		sentence_model = $model

		[vector]
		index_dir = $RUN/vectors
	CONF
	# the machine's vector index files: the web server's processes and the worker (its group) share them
	install -d -m 2770 -g "$web_user" "$RUN/vectors"
	if [ -f "$LOCAL_CONF" ]; then
		printf '\n# ---- %s, appended at each start (edit it there) ----\n' "$LOCAL_CONF" >>"$CONF.tmp"
		LOCAL_FROM=$(($(wc -l <"$CONF.tmp") + 1))
		cat "$LOCAL_CONF" >>"$CONF.tmp"
		[ -z "$(tail -c 1 "$LOCAL_CONF")" ] || printf '\n' >>"$CONF.tmp"
	fi
	# More settings for this run only (the tests use it to put search on the Qdrant stand-in); after the local
	# file, so they win over it.
	[ -z "${FAQSURE_EXTRA_CONFIG:-}" ] || printf '\n%s\n' "$FAQSURE_EXTRA_CONFIG" >>"$CONF.tmp"
	chmod 640 "$CONF.tmp"
	mv "$CONF.tmp" "$CONF"
	install -m 640 -g "$web_user" "$CONF" "$RUN/faqsure.conf"
}

# Waits up to 10 s for the web server just started to answer on $PORT.
wait_answers() { # name log
	local i
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" && return 0
		sleep 0.1
	done
	die "$1 does not answer on 127.0.0.1:$PORT; see $2"
}

# Copies a program into the runtime folder without disturbing a running copy (rename, not overwrite).
stage() { # source target
	cp "$1" "$2.tmp" && chmod 755 "$2.tmp" && mv -f "$2.tmp" "$2"
}

# The console and the widget (static files) where the web server's user reads them: a fresh copy each start.
stage_static() {
	local d
	for d in console widget; do
		[ -d "$top/shared/$d" ] || continue
		rm -rf "$RUN/$d.tmp"
		cp -r "$top/shared/$d" "$RUN/$d.tmp"
		chmod -R a+rX "$RUN/$d.tmp"
		rm -rf "$RUN/$d"
		mv "$RUN/$d.tmp" "$RUN/$d"
	done
}

# Apache with mod_fcgid (WEB=apache), or with plain CGI (WEB=apache-cgi: mod_cgi under the prefork MPM, a process
# per request), from the same apache-example.conf, which runs the programs as CGI where mod_fcgid is not loaded.
apache_start() {
	local bin="$RUN/bin" errors="$RUN/errors" extra="" prog path src mpm=event modules fcgid_dirs=""
	mkdir -p "$bin" "$errors" "$RUN/fcgid" "$RUN/htdocs" "$LOG"
	chown "$web_user" "$RUN/fcgid"
	for prog in "$BUILDDIR"/fcgi-bin/*.fcgi; do
		stage "$prog" "$bin/$(basename "$prog")"
	done
	cp "$samples"/errors/*.json "$errors/"
	stage_static
	for pair in $EXTRA_FCGI; do
		path=${pair%%=*}
		src=${pair#*=}
		stage "$src" "$bin/$(basename "$src")"
		extra="${extra}Alias $path $bin/$(basename "$src")"$'\n'
	done
	if [ "$WEB" = apache-cgi ]; then
		mpm=prefork
		modules="LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so
			LoadModule env_module /usr/lib/apache2/modules/mod_env.so"
	else
		modules="LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so"
		fcgid_dirs="FcgidIPCDir $RUN/fcgid
			FcgidProcessTableFile $RUN/fcgid/shm"
	fi
	{
		cat <<-CONF
			# Generated by test/stack/stack.sh from apache-example.conf. Do not edit: it is rewritten by each start.
			ServerRoot /etc/apache2
			ServerName 127.0.0.1
			Listen 127.0.0.1:$PORT
			PidFile $RUN/apache.pid
			DefaultRuntimeDir $RUN
			ErrorLog $LOG/apache-error.log
			LogLevel warn
			User $web_user
			Group $web_user
			LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_$mpm.so
			$modules
			LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
			LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
			LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
			LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
			LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
			LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
			LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
			LoadModule unique_id_module /usr/lib/apache2/modules/mod_unique_id.so
			TypesConfig /etc/mime.types
			DocumentRoot $RUN/htdocs
			<Directory />
			    Require all denied
			    AllowOverride None
			</Directory>
			<Directory $RUN/htdocs>
			    Require all granted
			</Directory>
			$fcgid_dirs
			KeepAliveTimeout 5
			Timeout 60
			# This server serves nothing but FAQSure: Apache's own errors are JSON everywhere (apache-example.conf).
			Define FAQSURE_WHOLE_HOST
		CONF
		printf '%s' "$extra"
		sed -e "s|/usr/local/lib/faqsure/fcgi-bin|$bin|g" -e "s|/usr/local/share/faqsure/errors|$errors|g" \
			-e "s|/usr/local/share/faqsure/console|$RUN/console|g" -e "s|/usr/local/share/faqsure/widget|$RUN/widget|g" \
			-e "s|/etc/faqsure/faqsure.conf|$RUN/faqsure.conf|g" "$top/apache-example.conf"
	} >"$APACHE_CONF"
	if pid_alive "$RUN/apache.pid"; then
		apache2 -f "$APACHE_CONF" -k graceful 2>>"$LOG/apache-error.log" || die "Apache reload failed"
		return 0
	fi
	rm -f "$RUN/apache.pid"
	apache2 -f "$APACHE_CONF" -k start 2>>"$LOG/apache-error.log" ||
		die "Apache did not start (is port $PORT free?); see $LOG/apache-error.log"
	wait_answers Apache "$LOG/apache-error.log"
}

apache_stop() {
	if pid_alive "$RUN/apache.pid"; then
		apache2 -f "$APACHE_CONF" -k stop 2>/dev/null || kill "$(cat "$RUN/apache.pid")"
		wait_gone "$RUN/apache.pid" 30 || die "Apache did not stop"
	fi
	rm -f "$RUN/apache.pid"
}

# One fastcgi.server entry of the generated configuration, shaped as in lighttpd.conf.
lighttpd_entry() { # url-prefix program
	printf '    "%s" => (( "bin-path" => "%s", "socket" => var.faqsure_sockets + "/%s.sock" ) + var.faqsure_fastcgi),\n' \
		"$1" "$2" "$(basename "$2" .fcgi)"
}

# lighttpd: started as root (it binds the port, reads this configuration and writes its pid file), it runs as
# www-data and spawns max-procs processes of each program at once. It runs in the foreground (-D) under setsid with
# its stderr on $LOG/lighttpd-error.log: it opens a server.errorlog only after dropping to www-data, which may not
# reach $VARDIR, and the programs' stderr (warnings, sanitizer reports) goes to the same file this way.
lighttpd_start() {
	local bin="$RUN/bin" errors="$RUN/errors-lighttpd" socks="$RUN/lighttpd" entries="" keys="" prog name path src
	local procs=${FAQSURE_LIGHTTPD_PROCS:-4}
	[[ "$procs" =~ ^[1-9][0-9]*$ ]] || die "FAQSURE_LIGHTTPD_PROCS must be a positive number, not '$procs'"
	if pid_alive "$RUN/lighttpd.pid"; then # lighttpd cannot take new programs gracefully: restart it
		lighttpd_stop
	fi
	mkdir -p "$bin" "$errors" "$socks" "$RUN/htdocs" "$RUN/lighttpd-tmp" "$LOG"
	stage_static
	chown "$web_user" "$socks" "$RUN/lighttpd-tmp"
	rm -f "$socks"/*.sock-*
	# lighttpd looks for <prefix><status>.html; the JSON pages are served as JSON (mimetype.assign below). Statuses
	# lighttpd uses that have no page of their own get the closest one.
	for src in "$samples"/errors/*.json; do
		cp "$src" "$errors/$(basename "$src" .json).html"
	done
	cp "$samples/errors/400.json" "$errors/411.html"
	cp "$samples/errors/400.json" "$errors/431.html"
	cp "$samples/errors/405.json" "$errors/501.html"
	cp "$samples/errors/400.json" "$errors/505.html"
	# The test programs first (the first matching prefix wins), then each program of the build by its name, and
	# keys.fcgi last for every other /api path (as in lighttpd.conf). Only programs that exist: lighttpd refuses
	# to start when a bin-path is missing.
	for pair in $EXTRA_FCGI; do
		path=${pair%%=*}
		src=${pair#*=}
		stage "$src" "$bin/$(basename "$src")"
		entries="$entries$(lighttpd_entry "$path" "$bin/$(basename "$src")")"$'\n'
	done
	for prog in "$BUILDDIR"/fcgi-bin/*.fcgi; do
		[ -e "$prog" ] || continue
		name=$(basename "$prog" .fcgi)
		stage "$prog" "$bin/$name.fcgi"
		if [ "$name" = keys ]; then
			keys=$(lighttpd_entry /api "$bin/keys.fcgi")
		else
			entries="$entries$(lighttpd_entry "/api/v1/$name" "$bin/$name.fcgi")"$'\n'
		fi
	done
	[ -n "$keys" ] || die "$BUILDDIR/fcgi-bin/keys.fcgi is missing: run make first"
	{
		cat <<-CONF
			# Generated by test/stack/stack.sh from vendor-config/lighttpd.conf. Do not edit: it is rewritten by each
			# start.
			server.bind = "127.0.0.1"
			server.port = $PORT
			server.pid-file = "$RUN/lighttpd.pid"
			server.username = "$web_user"
			server.groupname = "$web_user"
			server.document-root = "$RUN/htdocs"
			server.upload-dirs = ( "$RUN/lighttpd-tmp" )
		CONF
		# The example without its list of programs, with the paths of this stack.
		sed -e "s|/usr/local/lib/faqsure/fcgi-bin|$bin|g" -e "s|/usr/local/share/faqsure/errors|${errors%/}|g" \
			-e "s|/usr/local/share/faqsure/console|$RUN/console|g" -e "s|/usr/local/share/faqsure/widget|$RUN/widget|g" \
			-e "s|/etc/faqsure/faqsure.conf|$RUN/faqsure.conf|g" -e "s|\"/run/faqsure\"|\"$socks\"|g" \
			-e "s|^var.faqsure_procs = .*|var.faqsure_procs = $procs|" \
			-e '/^fastcgi.server/,/^)/d' "$samples/lighttpd.conf"
		printf '\n# The programs of this build.\nfastcgi.server += (\n%s%s\n)\n' "$entries" "$keys"
		cat <<-CONF

			# This server serves nothing but the API: every answer of lighttpd's own is JSON (Apache's stack does so
			# with ErrorDocument), also where the URL is not known yet (431: headers too large).
			server.errorfile-prefix = "$errors/"
			mimetype.assign = ( ".html" => "application/json; charset=utf-8" )
			# ... except the console's and the widget's own files.
			\$HTTP["url"] =~ "^/console/|^/widget\\.js\$" {
			    mimetype.assign = ( ".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8",
			        ".css" => "text/css; charset=utf-8", ".svg" => "image/svg+xml", ".png" => "image/png",
			        ".ico" => "image/x-icon" )
			}
		CONF
	} >"$LIGHTTPD_CONF"
	lighttpd -tt -f "$LIGHTTPD_CONF" >>"$LOG/lighttpd-error.log" 2>&1 ||
		die "lighttpd refuses $LIGHTTPD_CONF; see $LOG/lighttpd-error.log"
	rm -f "$RUN/lighttpd.pid"
	setsid lighttpd -D -f "$LIGHTTPD_CONF" </dev/null >>"$LOG/lighttpd-error.log" 2>&1 &
	local pid=$! i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null ||
			die "lighttpd did not start (is port $PORT free?); see $LOG/lighttpd-error.log"
		if [ -s "$RUN/lighttpd.pid" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/health"; then
			return 0
		fi
		sleep 0.1
	done
	die "lighttpd does not answer on 127.0.0.1:$PORT; see $LOG/lighttpd-error.log"
}

# Any process still running a program staged in $RUN/bin (lighttpd's children, which outlive it for a moment).
staged_programs_running() {
	local exe
	for exe in /proc/[0-9]*/exe; do
		case "$(readlink "$exe" 2>/dev/null)" in "$RUN/bin/"*) return 0 ;; esac
	done
	return 1
}

lighttpd_stop() {
	local i
	if pid_alive "$RUN/lighttpd.pid"; then
		kill "$(cat "$RUN/lighttpd.pid")" # SIGTERM: lighttpd stops at once and sends SIGTERM to its programs
		wait_gone "$RUN/lighttpd.pid" 30 || die "lighttpd did not stop"
		# The programs finish the request in hand and exit (and write their sanitizer reports, if any).
		for ((i = 0; i < 100; i++)); do
			staged_programs_running || break
			sleep 0.1
		done
	fi
	rm -f "$RUN/lighttpd.pid"
}

# nginx with spawn-fcgi (WEB=nginx), configured from vendor-config/nginx.conf as its comments say: its upstream
# blocks in the http context, the rest inside a server block written here. spawn-fcgi starts FAQSURE_NGINX_PROCS
# (default 4) processes of each program, one per socket (PROGRAM.N.sock, as the systemd template names them), all
# listed in the program's upstream. They run as www-data; their stderr goes to $LOG/fcgi-programs.log.
nginx_start() {
	local bin="$RUN/bin" errors="$RUN/errors" socks="$RUN/nginx" extra="" prog name path src i servers=""
	local procs=${FAQSURE_NGINX_PROCS:-4}
	[[ "$procs" =~ ^[1-9][0-9]*$ ]] || die "FAQSURE_NGINX_PROCS must be a positive number, not '$procs'"
	nginx_stop
	mkdir -p "$bin" "$errors" "$socks" "$RUN/nginx-tmp" "$RUN/htdocs" "$LOG"
	chown "$web_user" "$RUN/nginx-tmp"
	cp /etc/nginx/fastcgi_params "$RUN/" # the sample's relative include, beside the configuration that names it
	cp "$samples"/errors/*.json "$errors/"
	stage_static
	spawn() { # socket-name program
		rm -f "$socks/$1.sock"
		FAQSURE_CONFIG="$RUN/faqsure.conf" spawn-fcgi -s "$socks/$1.sock" -M 0660 -U "$web_user" -G "$web_user" \
			-u "$web_user" -g "$web_user" -P "$socks/$1.pid" -- "$2" \
			>>"$LOG/spawn-fcgi.log" 2>>"$LOG/fcgi-programs.log" ||
			die "spawn-fcgi could not start $2; see $LOG/spawn-fcgi.log"
	}
	for pair in $EXTRA_FCGI; do
		path=${pair%%=*}
		src=${pair#*=}
		name=$(basename "$src" .fcgi)
		stage "$src" "$bin/$name.fcgi"
		spawn "$name.1" "$bin/$name.fcgi"
		extra="${extra}location ^~ $path { include fastcgi_params; fastcgi_pass unix:$socks/$name.1.sock; }"$'\n'
	done
	for prog in "$BUILDDIR"/fcgi-bin/*.fcgi; do
		name=$(basename "$prog" .fcgi)
		stage "$prog" "$bin/$name.fcgi"
		for ((i = 1; i <= procs; i++)); do
			spawn "$name.$i" "$bin/$name.fcgi"
		done
	done
	for ((i = 1; i <= procs; i++)); do # each upstream's one server line becomes one per process
		servers="${servers}server unix:$socks/\\1.$i.sock; "
	done
	local paths=(-e "s|/usr/local/share/faqsure/errors|$errors|g" -e "s|/usr/local/share/faqsure/console|$RUN/console|g"
		-e "s|/usr/local/share/faqsure/widget|$RUN/widget|g" -e "s|/run/faqsure/|$socks/|g")
	{
		cat <<-CONF
			# Generated by test/stack/stack.sh around vendor-config/nginx.conf. Do not edit: each start rewrites it.
			user $web_user;
			worker_processes 2;
			pid $RUN/nginx.pid;
			error_log $LOG/nginx-error.log warn;
			events { worker_connections 1024; }
			http {
			    include /etc/nginx/mime.types;
			    default_type application/octet-stream;
			    access_log off;
			    client_body_temp_path $RUN/nginx-tmp/body;
			    fastcgi_temp_path $RUN/nginx-tmp/fastcgi;
			    proxy_temp_path $RUN/nginx-tmp/proxy;
			    uwsgi_temp_path $RUN/nginx-tmp/uwsgi;
			    scgi_temp_path $RUN/nginx-tmp/scgi;
		CONF
		sed -n '/^# ---- http context/,/^# ---- server context/p' "$samples/nginx.conf" |
			sed -e "s|server unix:/run/faqsure/\([a-z]*\)\.1\.sock; |$servers|" -e 's/^/    /'
		cat <<-CONF
			    server {
			        listen 127.0.0.1:$PORT;
			        server_name 127.0.0.1;
			        root $RUN/htdocs;
			        # This server serves nothing but FAQSure: nginx's own answers are JSON everywhere, also before a
			        # location is chosen (414: the request line is too long).
			        error_page 400 /faqsure-errors/400.json;
			        error_page 404 /faqsure-errors/404.json;
			        error_page 405 /faqsure-errors/405.json;
			        error_page 408 /faqsure-errors/408.json;
			        error_page 413 /faqsure-errors/413.json;
			        error_page 414 /faqsure-errors/414.json;
			        error_page 500 /faqsure-errors/500.json;
			        error_page 502 /faqsure-errors/502.json;
			        error_page 503 /faqsure-errors/503.json;
			        error_page 504 /faqsure-errors/504.json;
		CONF
		printf '%s' "$extra" | sed 's/^/        /'
		sed -n '/^# ---- server context/,$p' "$samples/nginx.conf" | sed "${paths[@]}" -e 's/^/        /'
		printf '    }\n}\n'
	} >"$RUN/nginx.conf"
	nginx -t -q -e "$LOG/nginx-error.log" -c "$RUN/nginx.conf" 2>>"$LOG/nginx-error.log" ||
		die "nginx refuses $RUN/nginx.conf; see $LOG/nginx-error.log"
	nginx -e "$LOG/nginx-error.log" -c "$RUN/nginx.conf" 2>>"$LOG/nginx-error.log" ||
		die "nginx did not start (is port $PORT free?); see $LOG/nginx-error.log"
	wait_answers nginx "$LOG/nginx-error.log"
}

nginx_stop() {
	local f pid i
	if pid_alive "$RUN/nginx.pid"; then
		kill -QUIT "$(cat "$RUN/nginx.pid")"
		wait_gone "$RUN/nginx.pid" 30 || die "nginx did not stop"
	fi
	rm -f "$RUN/nginx.pid"
	# spawn-fcgi's pid files list each process it forked: SIGTERM lets each finish its request and exit.
	for f in "$RUN"/nginx/*.pid; do
		[ -f "$f" ] || continue
		for pid in $(cat "$f"); do kill "$pid" 2>/dev/null || true; done # (no newline at its end)
		rm -f "$f"
	done
	for ((i = 0; i < 100; i++)); do
		staged_programs_running || break
		sleep 0.1
	done
}

web_start() {
	case "$WEB" in # the same port: switching servers on a running stack stops the others first
	lighttpd) apache_stop; nginx_stop; lighttpd_start ;;
	nginx) apache_stop; lighttpd_stop; nginx_start ;;
	*) lighttpd_stop; nginx_stop; apache_start ;;
	esac
}

web_stop() {
	apache_stop
	lighttpd_stop
	nginx_stop
}

worker_start() {
	if pid_alive "$RUN/worker.pid"; then # a new build: let the old worker finish its document, start the new one
		worker_stop
	fi
	FAQSURE_CONFIG="$CONF" setsid "$CTL" worker </dev/null >>"$LOG/worker.log" 2>&1 &
	echo $! >"$RUN/worker.pid"
}

worker_stop() {
	if pid_alive "$RUN/worker.pid"; then
		kill "$(cat "$RUN/worker.pid")"
		wait_gone "$RUN/worker.pid" 120 || die "the ingestion worker did not stop"
	fi
	rm -f "$RUN/worker.pid"
}

start() {
	[ -x "$CTL" ] || die "$CTL is missing: run make first"
	case "$WEB" in
	apache)
		command -v apache2 >/dev/null || die "apache2 is not installed: run make deps"
		[ -f /usr/lib/apache2/modules/mod_fcgid.so ] || die "mod_fcgid is not installed: run make deps"
		;;
	apache-cgi) command -v apache2 >/dev/null || die "apache2 is not installed: run make deps" ;;
	lighttpd) command -v lighttpd >/dev/null || die "lighttpd is not installed: run make deps" ;;
	nginx)
		command -v nginx >/dev/null || die "nginx is not installed: run make deps"
		command -v spawn-fcgi >/dev/null || die "spawn-fcgi is not installed: run make deps"
		;;
	*) die "FAQSURE_WEB must be apache, apache-cgi, nginx or lighttpd, not '$WEB'" ;;
	esac
	db_start
	write_config
	migrate
	web_start
	worker_start
}

# The schema, and the first reading of the configuration: an error in a line of $LOCAL_CONF is told by that
# file's line number.
migrate() {
	local err n
	if err=$(FAQSURE_CONFIG="$CONF" "$CTL" migrate 2>&1 >/dev/null); then
		return 0
	fi
	if [ -n "$LOCAL_FROM" ] && [[ "$err" =~ faqsure\.conf:([0-9]+): ]] && [ "${BASH_REMATCH[1]}" -ge "$LOCAL_FROM" ]; then
		n=$((BASH_REMATCH[1] - LOCAL_FROM + 1))
		die "$LOCAL_CONF:$n: ${err#*faqsure.conf:${BASH_REMATCH[1]}: }"
	fi
	die "${err#faqsurectl: }"
}

demo() {
	local key="" url="http://127.0.0.1:$PORT" web_name="Apache with mod_fcgid"
	case "$WEB" in
	lighttpd) web_name="lighttpd with mod_fastcgi" ;;
	nginx) web_name="nginx with spawn-fcgi" ;;
	apache-cgi) web_name="Apache with plain CGI" ;;
	esac
	export FAQSURE_CONFIG="$CONF"
	"$CTL" account create demo --unlimited >/dev/null 2>&1 || true
	if [ -s "$VARDIR/demo-key" ]; then
		key=$(cat "$VARDIR/demo-key")
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$url/api/v1/documents")" = 200 ] || key=""
	fi
	if [ -z "$key" ]; then
		key=$("$CTL" key create --account demo --name "make run demo" --per-minute 600 --per-hour 10000 \
			--scope admin | tail -n 1)
		(umask 077 && printf '%s\n' "$key" >"$VARDIR/demo-key")
	fi
	cat <<-EOF

		FAQSure is running at $url (MariaDB and $web_name; data in $VARDIR).

		Demo account "demo", admin API key:
		  $key

		Console:  $url/console/  (sign in with the key above: keys, documents, playground, analytics)

		Try it:
		  curl -s $url/api/v1/documents -H "X-API-Key: $key"
		  curl -s $url/api/v1/documents/upload -H "X-API-Key: $key" -F "file=@README.md"
		  curl -s $url/api/v1/search -H "X-API-Key: $key" -H "Content-Type: application/json" \\
		    -d '{"query": "How do I run the tests?", "top_k": 3}'
		  curl -s $url/api/v1/chat -H "X-API-Key: $key" -H "Content-Type: application/json" \\
		    -d '{"message": "How do I run the tests?"}'

		Chat widget for a page of your site: create a publishable key for the page's origin (console, API Keys),
		then add to the page:
		  <script src="$url/widget.js" data-key="faqsure_pk_…" async></script>

		Manage it:  FAQSURE_CONFIG=$CONF $CTL --help
		Stop it:    make stop$( [ "$VARDIR" = "$top/var" ] || printf ' VARDIR=%s' "$VARDIR")

		Your own settings go in $LOCAL_CONF$( [ -f "$LOCAL_CONF" ] && printf ' (in use)' ): each start
		appends it to $CONF, which is rewritten then. For an OpenAI-compatible answerer
		(OpenAI, Ollama, llama.cpp, vLLM), put in it:
		  [answerer]
		  backend = openai
		  url = http://127.0.0.1:11434/v1
		  model = llama3.1
		  api_key = sk-...
		then run make run again. Every setting: vendor-config/faqsure.conf.example.
	EOF
}

case "$cmd" in
start) start ;;
run) start && demo ;;
stop) web_stop; worker_stop; db_stop ;;
db-stop) db_stop ;;
db-start) db_start ;;
status)
	if [ -n "$DB_HOST" ]; then
		say "MariaDB: external, $DB_HOST:${FAQSURE_DB_PORT:-3306}"
	else
		pid_alive "$RUN/mysqld.pid" && say "MariaDB: running (socket $SOCK)" || say "MariaDB: stopped"
	fi
	pid_alive "$RUN/apache.pid" && say "Apache: running on 127.0.0.1:$PORT" || say "Apache: stopped"
	pid_alive "$RUN/lighttpd.pid" && say "lighttpd: running on 127.0.0.1:$PORT" || say "lighttpd: stopped"
	pid_alive "$RUN/nginx.pid" && say "nginx: running on 127.0.0.1:$PORT" || say "nginx: stopped"
	pid_alive "$RUN/worker.pid" && say "ingestion worker: running" || say "ingestion worker: stopped"
	;;
*) die "unknown command '$cmd' (start, run, stop, db-start, db-stop, status)" ;;
esac
