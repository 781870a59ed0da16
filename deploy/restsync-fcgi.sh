#!/bin/sh
# ExecStart of restsync-fcgi@<program>.<n>.service: run one spawn-fcgi
# instance of a FastCGI program in the foreground (spawn-fcgi -n execs
# the program with the listening socket; systemd supervises it).
#
#   restsync-fcgi.sh rest_batch.1   ->  /run/restsync/rest-batch.1.sock
#
# Environment: RS_PREFIX (/opt/restsync), RS_RUN (/run/restsync).  The
# socket is 0660 inside /run/restsync (2750 restsync:restsync-web, see
# restsync.tmpfiles): setgid, so the socket's group is restsync-web, a
# group whose only member is nginx's user (restsync.sysusers).  Only
# restsync and nginx can reach it, and the programs answer nginx's user
# alone (SO_PEERCRED, RESTSYNC_NGINX_USER in restsync.env).
set -eu
RS_PREFIX=${RS_PREFIX:-/opt/restsync}
RS_RUN=${RS_RUN:-/run/restsync}
inst=${1:?usage: restsync-fcgi.sh PROGRAM.N}
prog=${inst%%.*}
n=${inst#*.}
case "$prog" in ''|*[!a-z0-9_]*)
	echo "restsync-fcgi: bad program name in '$inst'" >&2; exit 2 ;;
esac
case "$n" in ''|*[!0-9]*)
	echo "restsync-fcgi: '$inst' is not PROGRAM.N" >&2; exit 2 ;;
esac
bin=$RS_PREFIX/fcgi/$prog
[ -x "$bin" ] || { echo "restsync-fcgi: no program $bin" >&2; exit 1; }
sock=$RS_RUN/$(printf '%s' "$prog" | tr _ -).$n.sock
rm -f "$sock"
exec spawn-fcgi -n -s "$sock" -M 0660 -- "$bin"
