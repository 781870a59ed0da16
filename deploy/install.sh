#!/bin/sh
# Install a built checkout (make) on this machine, as root:
#
#   make && sudo deploy/install.sh
#
#   /opt/restsync/bin/restsync        the CLI (also /usr/local/bin/restsync)
#   /opt/restsync/fcgi/<program>      the FastCGI programs (no demo upstream)
#   /opt/restsync/sql, static, nginx  migrations, the page, nginx templates
#   /opt/restsync/openapi.json        the API's description (nginx serves it)
#   /opt/restsync/deploy              render-nginx.sh, restsync-fcgi.sh,
#                                     restsync-preflight.sh, restsync-psql.sh,
#                                     db-roles.sql, the .env examples
#   /etc/systemd/system               restsync-fcgi@.service,
#                                     restsync-worker.service,
#                                     restsync-migrate.service, restsync.target
#   /etc/tmpfiles.d, /etc/sysusers.d  /run/restsync and the restsync user
#   /etc/restsync/restsync.env        from the example, only if missing
#   /etc/restsync/migrate.env         likewise (0600 root: the owner's URL)
#
# Then it enables restsync-fcgi@<program>.<n> for every program and every
# n in RS_INSTANCES ("1 2"), the worker and restsync.target; it starts
# nothing.  A release that drops a program disables its instances.
# Re-running it upgrades in place (restart afterwards; see README).
#
# Environment: DESTDIR (stage into a folder: no user, no systemctl),
# RS_BUILD (build/release), RS_INSTANCES ("1 2").
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${RS_BUILD:-$ROOT/build/release}
RS_INSTANCES=${RS_INSTANCES:-1 2}
D=${DESTDIR:-}
PREFIX=/opt/restsync
ETC=/etc/restsync

die() { printf 'install: %s\n' "$*" >&2; exit 1; }
log() { printf 'install: %s\n' "$*"; }

[ -x "$BUILD/cli/restsync" ] || die "nothing built in $BUILD: run make"
[ -n "$D" ] || [ "$(id -u)" = 0 ] || die "run as root (or set DESTDIR)"
for n in $RS_INSTANCES; do
	case "$n" in *[!0-9]*|'') die "RS_INSTANCES must be numbers: $n" ;; esac
done

# The user first: files below are group-owned by it.  (And restsync-web,
# the sockets' group, with nginx's www-data as its only member.)
if [ -z "$D" ] && ! getent group restsync-web >/dev/null; then
	groupadd --system restsync-web
	usermod -a -G restsync-web www-data 2>/dev/null ||
	    log "add nginx's user to the group restsync-web"
fi
if [ -z "$D" ] && ! getent passwd restsync >/dev/null; then
	install -D -m 0644 "$ROOT/deploy/restsync.sysusers" /etc/sysusers.d/restsync.conf
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers /etc/sysusers.d/restsync.conf
	else
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin restsync
	fi
	log "created user restsync"
fi

install -d -m 0755 "$D$PREFIX" "$D$PREFIX/bin" "$D$PREFIX/fcgi" \
    "$D$PREFIX/sql" "$D$PREFIX/static" "$D$PREFIX/nginx" "$D$PREFIX/deploy" \
    "$D/usr/local/bin" "$D/etc/systemd/system" "$D/etc/tmpfiles.d" \
    "$D/etc/sysusers.d"
install -m 0755 "$BUILD/cli/restsync" "$D$PREFIX/bin/restsync"
ln -sf "$PREFIX/bin/restsync" "$D/usr/local/bin/restsync"

progs=""
for bin in "$BUILD"/bin/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	p=$(basename "$bin")
	[ "$p" = demo_upstream ] && continue	# the dev stack's DummyJSON
	install -m 0755 "$bin" "$D$PREFIX/fcgi/$p.new"
	mv -f "$D$PREFIX/fcgi/$p.new" "$D$PREFIX/fcgi/$p"
	progs="$progs $p"
done
[ -n "$progs" ] || die "no FastCGI programs in $BUILD/bin"
gone=""
for bin in "$D$PREFIX"/fcgi/*; do
	[ -e "$bin" ] || continue
	p=$(basename "$bin")
	case " $progs " in *" $p "*) ;; *) gone="$gone $p"; rm -f "$bin" ;; esac
done

rm -f "$D$PREFIX"/sql/*.sql
install -m 0644 "$ROOT"/sql/[0-9][0-9][0-9]_*.sql "$D$PREFIX/sql/"
rm -rf "$D$PREFIX/static"
cp -R "$ROOT/static" "$D$PREFIX/static"
chmod -R a+rX,go-w "$D$PREFIX/static"
install -m 0644 "$ROOT/nginx/fastcgi_restsync.conf" \
    "$ROOT/nginx/restsync-prod.conf.in" "$D$PREFIX/nginx/"
install -m 0644 "$ROOT/docs/openapi.json" "$D$PREFIX/openapi.json"
install -m 0755 "$ROOT/deploy/render-nginx.sh" "$ROOT/deploy/restsync-fcgi.sh" \
    "$ROOT/deploy/restsync-preflight.sh" "$ROOT/deploy/restsync-psql.sh" \
    "$D$PREFIX/deploy/"
install -m 0644 "$ROOT/deploy/restsync.env.example" \
    "$ROOT/deploy/migrate.env.example" "$ROOT/deploy/db-roles.sql" \
    "$ROOT/README.md" "$D$PREFIX/deploy/"
install -m 0644 "$ROOT/deploy/systemd/restsync-fcgi@.service" \
    "$ROOT/deploy/systemd/restsync-worker.service" \
    "$ROOT/deploy/systemd/restsync-migrate.service" \
    "$ROOT/deploy/systemd/restsync.target" "$D/etc/systemd/system/"
install -m 0644 "$ROOT/deploy/restsync.tmpfiles" "$D/etc/tmpfiles.d/restsync.conf"
install -m 0644 "$ROOT/deploy/restsync.sysusers" "$D/etc/sysusers.d/restsync.conf"

# Configuration: never overwritten.
if [ -z "$D" ]; then
	install -d -m 0750 -o root -g restsync "$ETC"
else
	install -d -m 0750 "$D$ETC"
fi
if [ ! -e "$D$ETC/restsync.env" ]; then
	install -m 0640 "$ROOT/deploy/restsync.env.example" "$D$ETC/restsync.env"
	[ -z "$D" ] && chgrp restsync "$ETC/restsync.env"
	log "wrote $ETC/restsync.env from the example: edit DATABASE_URL"
fi
# The owner role's URL, for migrations only: root's alone.
if [ ! -e "$D$ETC/migrate.env" ]; then
	install -m 0600 "$ROOT/deploy/migrate.env.example" "$D$ETC/migrate.env"
	log "wrote $ETC/migrate.env from the example: the owner role's URL"
fi

if [ -n "$D" ]; then
	log "staged in $D (programs:$progs)"
	exit 0
fi
if [ -d /run/systemd/system ]; then
	systemd-tmpfiles --create /etc/tmpfiles.d/restsync.conf
	systemctl daemon-reload
	units="restsync.target restsync-migrate.service restsync-worker.service"
	for p in $progs; do
		for n in $RS_INSTANCES; do units="$units restsync-fcgi@$p.$n.service"; done
	done
	# shellcheck disable=SC2086
	systemctl enable $units
	for p in $gone; do
		for n in $RS_INSTANCES; do
			systemctl disable --now "restsync-fcgi@$p.$n.service" || true
		done
	done
	log "enabled:$units"
else
	log "systemd is not running here: enable the units by hand"
fi
log "programs:$progs"
log "next: $ETC/secret.key, $ETC/htpasswd, render nginx, then" \
    "systemctl start restsync.target (README, \"Deploying\")"
