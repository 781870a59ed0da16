#!/bin/sh
# Install the Debian packages restsync needs (build, run and test).
# A fast no-op when everything is present.  Uses sudo when not root.
set -eu

PKGS="gcc make pkg-config libc6-dev libfcgi-dev spawn-fcgi nginx
libpq-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libcmocka-dev
postgresql-15 postgresql-client-15 curl openssl nodejs npm chromium
clang libclang-rt-14-dev acl strace
dpkg-dev debhelper fakeroot lintian man-db groff-base adduser postgresql-client
${RS_EXTRA_PKGS:-}"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*)
		# nodejs from another repository (e.g. nodesource) counts.
		if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then
			continue
		fi
		if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
			continue
		fi
		# nginx-light/-full/-extras provide the nginx binary too.
		if [ "$p" = nginx ] && command -v nginx >/dev/null 2>&1; then
			continue
		fi
		missing="$missing $p"
		;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: not root and no sudo; install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# Debian starts the packaged services; restsync runs its own instances.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now nginx postgresql >/dev/null 2>&1 || true
fi
