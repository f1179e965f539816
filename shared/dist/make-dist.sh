#!/usr/bin/env bash
# Assembles the relocatable bundle of `make dist` (README "Shared hosting"): the programs linked with an rpath of
# $ORIGIN/../lib, the libraries a stock web host lacks, the .htaccess that routes the API to the programs, the
# console and the widget, the sentence model, and a configuration to edit, in one folder packed as a tarball.
#
#   make-dist.sh BIN_DIR MODEL OUT_TARBALL
#     BIN_DIR   the programs linked for the bundle: BIN_DIR/fcgi-bin/*.fcgi and BIN_DIR/bin/faqsurectl
#     MODEL     the converted sentence model (use-lite-v2.bin)
#
# What the host must provide (HOST_SONAMES) is not bundled; every other library the programs need, and every
# library those need in turn, is copied into lib/ under its soname. The list is the bundle's promise: the
# hosting section of the README and the bundle's README.txt name the same libraries.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 BIN_DIR MODEL OUT_TARBALL" >&2; exit 2; }
bin_dir=$1 model=$2 out=$3
top=$(cd "$(dirname "$0")/../.." && pwd)
name=faqsure # the folder the tarball unpacks to: public_html/faqsure gives https://SITE/faqsure/api/v1/…

# The host's part: glibc, the C++ runtime, the compression libraries every Linux has, OpenSSL 3, expat (Apache
# itself needs it), and the four
# libraries of the host's own web stack (libcurl, libxml2, MariaDB Connector/C, libmagic with its database).
HOST_SONAMES=" linux-vdso.so.1 ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1
	libresolv.so.2 libstdc++.so.6 libgcc_s.so.1 libz.so.1 liblzma.so.5 libbz2.so.1.0 libzstd.so.1 libssl.so.3
	libcrypto.so.3 libexpat.so.1 libcurl.so.4 libxml2.so.2 libmariadb.so.3 libmagic.so.1 "
HOST_SONAMES=${HOST_SONAMES//$'\n'/ }
HOST_SONAMES=${HOST_SONAMES//$'\t'/ }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b="$stage/$name"
mkdir -p "$b/fcgi-bin" "$b/bin" "$b/lib" "$b/etc" "$b/share/errors" "$b/var"

for p in "$bin_dir"/fcgi-bin/*.fcgi "$bin_dir"/bin/faqsurectl; do
	[ -x "$p" ] || { echo "make-dist: $p is missing" >&2; exit 1; }
done
install -m 755 "$bin_dir"/fcgi-bin/*.fcgi "$b/fcgi-bin/"
install -m 755 "$bin_dir"/bin/faqsurectl "$b/bin/"
strip --strip-debug "$b"/fcgi-bin/*.fcgi "$b/bin/faqsurectl"
# The uploads' CGI twin (see the .htaccess): the same file, linked.
ln "$b/fcgi-bin/documents.fcgi" "$b/fcgi-bin/documents.cgi"

needed() { # the sonames an ELF file asks for
	objdump -p "$1" | awk '$1 == "NEEDED" { print $2 }'
}
loader_cache=$(ldconfig -p)
where() { # soname -> the file the loader would use on this machine
	awk -v n="$1" '$1 == n && $0 ~ /x86-64/ && !found { print $NF; found = 1 }' <<<"$loader_cache"
}

# The closure of what is not the host's, breadth first from the programs.
declare -A seen=()
queue=()
for p in "$b"/fcgi-bin/*.fcgi "$b/bin/faqsurectl"; do
	while read -r so; do queue+=("$so"); done < <(needed "$p")
done
while [ ${#queue[@]} -gt 0 ]; do
	so=${queue[0]}
	queue=("${queue[@]:1}")
	[ -z "${seen[$so]+x}" ] || continue
	seen[$so]=1
	case "$HOST_SONAMES" in *" $so "*) continue ;; esac
	src=$(where "$so")
	[ -n "$src" ] || { echo "make-dist: cannot find $so on this machine" >&2; exit 1; }
	install -m 644 "$(readlink -f "$src")" "$b/lib/$so"
	while read -r dep; do queue+=("$dep"); done < <(needed "$b/lib/$so")
done

# The newest glibc symbol version anything in the bundle asks for: the host needs at least that glibc.
glibc=$(for f in "$b"/fcgi-bin/*.fcgi "$b/bin/faqsurectl" "$b"/lib/*; do objdump -T "$f"; done |
	grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -n 1)

install -m 644 "$model" "$b/share/"
install -m 644 "$top"/vendor-config/errors/*.json "$b/share/errors/"
cp -r "$top/shared/console" "$b/console"
install -m 644 "$top/shared/widget/widget.js" "$b/widget.js"
install -m 644 "$top/vendor-config/htaccess" "$b/.htaccess"
# The JSON error pages as literal ErrorDocument texts (each page is one line of JSON; " escaped).
{
	printf '\n# The error pages (vendor-config/errors), added by make dist.\n'
	for f in "$top"/vendor-config/errors/*.json; do
		printf 'ErrorDocument %s "%s"\n' "$(basename "$f" .json)" "$(tr -d '\n' <"$f" | sed 's/"/\\"/g')"
	done
} >>"$b/.htaccess"
# The private folders refuse every request on their own too, should the top .htaccess be lost or overridden.
for d in bin etc lib share var; do
	printf '# Nothing here is for the web.\nRequire all denied\n' >"$b/$d/.htaccess"
done

cat >"$b/etc/faqsure.conf" <<CONF
# FAQSure configuration of this bundle (found by the programs as ../etc/faqsure.conf from their own folder).
# Edit the [database] lines: your host's database name, user and password. A value may be quoted ("..."), and a
# relative path is taken from this folder. Every other setting: share/faqsure.conf.example.
# This file holds the database password: keep it readable by you (and the web server's user, if your host runs
# scripts as another user) only. The web never sees it (etc/.htaccess and the rules in ../.htaccess refuse it).

[database]
host = localhost
port = 3306
name = faqsure
user = faqsure
password =

[answerer]
sentence_model = ../share/$(basename "$model")

[vector]
# The search index files, one per account, shared by the programs (a private folder: var/.htaccess refuses it).
index_dir = ../var/vectors
CONF
chmod 600 "$b/etc/faqsure.conf"
install -m 644 "$top/vendor-config/faqsure.conf.example" "$b/share/"
# The host's part, one soname a line: README.txt names it, and the tests hold ldd's findings against it.
tr -s ' ' '\n' <<<"$HOST_SONAMES" | grep -v -e '^$' -e vdso >"$b/share/host-libraries.txt"

libs=$(cd "$b/lib" && ls | sort | tr '\n' ' ')
cat >"$b/README.txt" <<TXT
FAQSure $(basename "$out" .tar.gz): a bundle for shared hosting (Apache with .htaccess, mod_fcgid or plain CGI).

Install (the README's "Shared hosting" section says the same, with more detail):
  1. Unpack this folder into your web space, e.g. public_html/faqsure: the API is then
     https://YOUR-SITE/faqsure/api/v1/..., the console https://YOUR-SITE/faqsure/console/.
  2. Edit etc/faqsure.conf: your database's host, name, user and password.
  3. Run once, in this folder (over SSH, or as a one-off cron job):   bin/faqsurectl migrate
     It creates the tables and prints a cron line: add it to your crontab (crontab -e, or the control panel).
     It runs "faqsurectl worker --once" every minute: that is what indexes uploaded documents.
  4. Create an account and an admin key (the key is printed once, on the last line):
       bin/faqsurectl account create mysite --unlimited
       bin/faqsurectl key create --account mysite --name console --scope admin
  5. Open https://YOUR-SITE/faqsure/console/ and sign in with the key; or call the API with it (X-API-Key).

The host must provide: Linux x86-64 with glibc $glibc or newer, Apache 2.4 with mod_rewrite and mod_fcgid (or
mod_cgi) and AllowOverride FileInfo Options AuthConfig Indexes (or All) for this folder, and these libraries:
$(tr '\n' ' ' <"$b/share/host-libraries.txt")
Everything else is in lib/: $libs
TXT

mkdir -p "$(dirname "$out")"
tar -C "$stage" --owner=0 --group=0 -czf "$out.tmp" "$name"
mv -f "$out.tmp" "$out"
echo "$out: $(du -h "$out" | cut -f1), $(ls "$b/lib" | wc -l) libraries bundled, needs glibc >= $glibc"
