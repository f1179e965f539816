#!/bin/sh
# Installs the Debian packages FAQSure needs to build, run its local stack, test and benchmark — only those
# missing, so it is quick when everything is there. Needs root (or sudo) the first time. Arguments name further
# packages a make target needs besides these (make fuzz: clang).
set -eu
PACKAGES="build-essential pkg-config libfcgi-dev libfcgi-bin libmariadb-dev mariadb-server mariadb-client
libjansson-dev libcurl4-openssl-dev libmagic-dev libssl-dev libpoppler-glib-dev libxml2-dev libzip-dev
libstemmer-dev apache2 libapache2-mod-fcgid lighttpd nginx spawn-fcgi curl wrk python3 python3-jsonschema python3-xapian python3-faiss
python3-pytest chromium chromium-driver python3-selenium $*"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install these Debian packages as root:$missing" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Debian's postinst scripts would start the system-wide MariaDB, Apache and lighttpd; the project runs its own.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
