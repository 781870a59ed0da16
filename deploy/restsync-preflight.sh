#!/bin/sh
# ExecStartPre of the restsync units: a unit whose configuration is not
# filled in yet stops here with one line in the journal that says which
# file and what to set, instead of a connection error to the example's
# host (or, for the programs, a dependency that failed without a word).
#
#   restsync-preflight.sh migrate    restsync-migrate.service, whose
#                                    DATABASE_URL comes from migrate.env
#   restsync-preflight.sh programs   restsync-fcgi@ and restsync-worker,
#                                    from restsync.env
#
# It reads the unit's environment only (systemd loaded the file); it never
# connects anywhere.  Exit 1 when DATABASE_URL is unset, empty or still the
# example's CHANGE-ME; the unit retries (Restart=) and starts by itself
# once the file is filled in.
set -eu
ETC=/etc/restsync
case "${1:-}" in
migrate)
	file=$ETC/migrate.env
	what="the owner role's URL (the role that owns the tables and runs the migrations)"
	;;
programs)
	file=$ETC/restsync.env
	what="the application role's URL (restsync_app, granted by db-roles.sql)"
	;;
*)
	echo "usage: restsync-preflight.sh migrate|programs" >&2
	exit 2
	;;
esac
case "${DATABASE_URL:-}" in
'') why="DATABASE_URL is not set" ;;
*CHANGE-ME*) why="DATABASE_URL is still the example's (CHANGE-ME)" ;;
*) exit 0 ;;
esac
echo "restsync: not configured: $file: $why; set it to $what (README \"Deploying\", restsync-fcgi(8)); retrying until it is set" >&2
exit 1
