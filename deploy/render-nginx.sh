#!/bin/sh
# Render nginx/restsync-prod.conf.in for this machine, on stdout:
#
#   SERVER_NAME=kb.example.com TLS_CERT=/etc/ssl/kb.pem TLS_KEY=/etc/ssl/kb.key \
#       /opt/restsync/deploy/render-nginx.sh >/etc/nginx/conf.d/restsync.conf
#   nginx -t && systemctl reload nginx
#
# One upstream per FastCGI program found in $RS_PREFIX/fcgi, with one
# unix-socket back end per instance in RS_INSTANCES (the instances of
# restsync-fcgi@<program>.<n>.service).  Re-run it after installing a
# release that adds a program.
#
# Environment: SERVER_NAME, TLS_CERT, TLS_KEY (required); RS_PREFIX
# (/opt/restsync), HTPASSWD (/etc/nginx/restsync.htpasswd), RS_RUN (/run/restsync),
# RS_INSTANCES ("1 2"), RS_LOG (/var/log/nginx), LISTEN_HTTP ("80 [::]:80"), LISTEN_HTTPS
# ("443 [::]:443"), RS_TEMPLATE ($RS_PREFIX/nginx/restsync-prod.conf.in).
set -eu
set -f	# "[::]:80" is not a file pattern

RS_PREFIX=${RS_PREFIX:-/opt/restsync}
HTPASSWD=${HTPASSWD:-/etc/nginx/restsync.htpasswd}
RS_RUN=${RS_RUN:-/run/restsync}
RS_INSTANCES=${RS_INSTANCES:-1 2}
RS_TEMPLATE=${RS_TEMPLATE:-$RS_PREFIX/nginx/restsync-prod.conf.in}
RS_LOG=${RS_LOG:-/var/log/nginx}
LISTEN_HTTP=${LISTEN_HTTP:-80 [::]:80}
LISTEN_HTTPS=${LISTEN_HTTPS:-443 [::]:443}
: "${SERVER_NAME:?set SERVER_NAME (the public host name)}"
: "${TLS_CERT:?set TLS_CERT (certificate chain, PEM)}"
: "${TLS_KEY:?set TLS_KEY (private key, PEM)}"

die() { printf 'render-nginx: %s\n' "$*" >&2; exit 1; }

# Values go into nginx syntax: no quotes, braces, semicolons or spaces
# (SERVER_NAME may hold several names separated by spaces).
for v in "$RS_PREFIX" "$HTPASSWD" "$RS_RUN" "$RS_LOG" "$TLS_CERT" "$TLS_KEY"; do
	case "$v" in
	/*) ;;
	*) die "paths must be absolute: $v" ;;
	esac
	case "$v" in
	*[!A-Za-z0-9/._-]*) die "unexpected character in path: $v" ;;
	esac
done
case "$SERVER_NAME" in
*[!A-Za-z0-9.*\ -]*|'') die "unexpected SERVER_NAME: $SERVER_NAME" ;;
esac
for a in $LISTEN_HTTP $LISTEN_HTTPS; do
	case "$a" in *[!0-9A-Za-z.:\[\]]*) die "unexpected listen address: $a" ;; esac
done
for n in $RS_INSTANCES; do
	case "$n" in *[!0-9]*|'') die "RS_INSTANCES must be numbers: $n" ;; esac
done
[ -f "$RS_TEMPLATE" ] || die "no template $RS_TEMPLATE"
[ -d "$RS_PREFIX/fcgi" ] || die "no programs in $RS_PREFIX/fcgi"

ups=$(mktemp)
eps=$(mktemp)
lh=$(mktemp)
ls=$(mktemp)
trap 'rm -f "$ups" "$eps" "$lh" "$ls"' EXIT
for a in $LISTEN_HTTP; do printf '    listen %s;\n' "$a"; done >"$lh"
for a in $LISTEN_HTTPS; do printf '    listen %s ssl http2;\n' "$a"; done >"$ls"
found=0
set +f
set -- "$RS_PREFIX"/fcgi/*
set -f
for bin in "$@"; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	prog=$(basename "$bin")
	case "$prog" in
	*[!a-z0-9_]*) die "unexpected program name: $prog" ;;
	esac
	ep=$(printf '%s' "$prog" | tr _ -)
	{
		printf 'upstream restsync-%s {\n' "$ep"
		for n in $RS_INSTANCES; do
			printf '    server unix:%s/%s.%s.sock max_fails=1 fail_timeout=10s;\n' \
			    "$RS_RUN" "$ep" "$n"
		done
		printf '}\n'
	} >>"$ups"
	printf '    %s restsync-%s;\n' "$ep" "$ep" >>"$eps"
	found=$((found + 1))
done
[ "$found" -gt 0 ] || die "no programs in $RS_PREFIX/fcgi"

awk -v ups="$ups" -v eps="$eps" -v lh="$lh" -v ls="$ls" '
	function cat(f,   l) { while ((getline l < f) > 0) print l; close(f) }
	/^@UPSTREAMS@$/ { cat(ups); next }
	/^@ENDPOINTS@$/ { cat(eps); next }
	/^@LISTEN_HTTP@$/ { cat(lh); next }
	/^@LISTEN_HTTPS@$/ { cat(ls); next }
	{ print }
' "$RS_TEMPLATE" | sed -e "s|@SERVER_NAME@|$SERVER_NAME|g" \
    -e "s|@TLS_CERT@|$TLS_CERT|g" -e "s|@TLS_KEY@|$TLS_KEY|g" \
    -e "s|@PREFIX@|$RS_PREFIX|g" -e "s|@HTPASSWD@|$HTPASSWD|g" -e "s|@LOG@|$RS_LOG|g"
