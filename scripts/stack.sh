#!/bin/sh
# restsync stack: PostgreSQL (unless DATABASE_URL is set), the FastCGI
# programs under spawn-fcgi, and nginx — all state under $RS_VAR.
#
#   scripts/stack.sh start | stop | status | banner
#   scripts/stack.sh fcgi        restart the FastCGI programs only
#   scripts/stack.sh pg-restart  restart the local PostgreSQL (tests)
#
# Environment: RS_VAR (default ./var), PORT (8080), PGPORT (5432),
# RS_WORKERS (FastCGI workers per program, 2), DATABASE_URL, ADMIN_PASSWORD,
# OPENAI_API_KEY / OPENAI_BASE_URL / EMBEDDING_MODEL, RESTSYNC_SECRET_KEY,
# RS_BIN (folder of built programs, build/release/bin).
set -eu
# Development state is the owner's only (issue 14): every file and folder
# made here and by what starts here (nginx's logs, PostgreSQL's, the
# programs' sockets) is created without group or other access.
umask 077

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RS_VAR=${RS_VAR:-$ROOT/var}
case "$RS_VAR" in /*) ;; *) RS_VAR=$ROOT/$RS_VAR ;; esac
PORT=${PORT:-8080}
PGPORT=${PGPORT:-5432}
RS_WORKERS=${RS_WORKERS:-2}
RS_BIN=${RS_BIN:-$ROOT/build/release/bin}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
RUNUSER=restsync
# A DATABASE_URL of the caller's own (else the local PostgreSQL's roles).
RS_OWN_URL=${DATABASE_URL:-}

log() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# Run a command as the unprivileged service user (root only).
as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$RUNUSER" -- "$@"
	else
		"$@"
	fi
}

ensure_user() {
	[ "$(id -u)" = 0 ] || { RUNUSER=$(id -un); return 0; }
	if ! getent passwd "$RUNUSER" >/dev/null; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$RUNUSER"
	fi
	# The service user must be able to reach the checkout (static files,
	# data, binaries).  Where it cannot, grant traversal to that user alone
	# (a POSIX ACL), never to everyone (no world traversal bit).
	d=$ROOT
	while [ "$d" != / ]; do
		if ! runuser -u "$RUNUSER" -- test -x "$d"; then
			log "granting $RUNUSER (only) traversal of $d (setfacl)"
			setfacl -m "u:$RUNUSER:x" "$d" ||
			    die "cannot let $RUNUSER reach $ROOT: setfacl -m u:$RUNUSER:x $d failed (install acl, or put the checkout where $RUNUSER can reach it)"
		fi
		d=$(dirname "$d")
	done
}

# The owner role's URL (migrations, the tests, the operator) ...
db_url() {
	if [ -n "$RS_OWN_URL" ]; then
		printf '%s' "$RS_OWN_URL"
	else
		printf 'postgresql:///restsync?host=%s&port=%s&user=%s' \
		    "$RS_VAR/run/pg" "$PGPORT" "$RUNUSER"
	fi
}

# ... and the programs': the least-privilege role restsync_app
# (deploy/db-roles.sql: reads and writes the kb_ tables, owns nothing, no
# DDL).  With a DATABASE_URL of your own, that URL is used for both.
APP_ROLE=restsync_app
app_url() {
	if [ -n "$RS_OWN_URL" ]; then
		printf '%s' "$RS_OWN_URL"
	else
		printf 'postgresql:///restsync?host=%s&port=%s&user=%s' \
		    "$RS_VAR/run/pg" "$PGPORT" "$APP_ROLE"
	fi
}

start_pg() {
	[ -n "$RS_OWN_URL" ] && { log "using DATABASE_URL"; return 0; }
	pgdata=$RS_VAR/pg/data
	mkdir -p "$RS_VAR/pg" "$RS_VAR/run/pg"
	chown "$RUNUSER" "$RS_VAR/pg" "$RS_VAR/run/pg" 2>/dev/null || true
	chmod 0700 "$RS_VAR/run/pg"
	if [ ! -f "$pgdata/PG_VERSION" ]; then
		log "initdb $pgdata"
		as_user "$PGBIN/initdb" -D "$pgdata" -U "$RUNUSER" -A trust \
		    -E UTF8 --locale=C.UTF-8 >"$RS_VAR/log/initdb.log" 2>&1 ||
		    die "initdb failed, see $RS_VAR/log/initdb.log"
		cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$RS_VAR/run/pg'
unix_socket_permissions = 0700
port = $PGPORT
max_connections = 100
shared_buffers = 128MB
${RS_PG_EXTRA:-}
CONF
	fi
	if as_user "$PGBIN/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		log "postgres already running"
	else
		as_user "$PGBIN/pg_ctl" -D "$pgdata" -w -t 60 \
		    -l "$RS_VAR/log/postgres.log" start >/dev/null ||
		    die "postgres did not start, see $RS_VAR/log/postgres.log"
	fi
	i=0
	until as_user "$PGBIN/psql" -X -q -h "$RS_VAR/run/pg" -p "$PGPORT" \
	    -d postgres -c 'select 1' >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || die "postgres does not answer"
		sleep 0.1
	done
	as_user "$PGBIN/psql" -X -q -h "$RS_VAR/run/pg" -p "$PGPORT" -d postgres -tAc \
	    "select 1 from pg_database where datname='restsync'" | grep -q 1 ||
	    as_user "$PGBIN/createdb" -h "$RS_VAR/run/pg" -p "$PGPORT" restsync
}

secrets() {
	# Secret-at-rest key: RESTSYNC_SECRET_KEY, else a key file (0600).
	if [ -z "${RESTSYNC_SECRET_KEY:-}" ] && [ ! -s "$RS_VAR/secret.key" ]; then
		(umask 077; openssl rand -hex 32 >"$RS_VAR/secret.key")
	fi
	[ -f "$RS_VAR/secret.key" ] && chown "$RUNUSER" "$RS_VAR/secret.key" 2>/dev/null || true
	# Operator credential for nginx basic auth.
	if [ -n "${ADMIN_PASSWORD:-}" ]; then
		pw=$ADMIN_PASSWORD
		(umask 077; printf '%s\n' "$pw" >"$RS_VAR/admin-password")
	elif [ -s "$RS_VAR/admin-password" ]; then
		pw=$(cat "$RS_VAR/admin-password")
	else
		pw=$(openssl rand -base64 18 | tr -d '/+=\n')
		(umask 077; printf '%s\n' "$pw" >"$RS_VAR/admin-password")
	fi
	hash=$(printf '%s' "$pw" | openssl passwd -6 -stdin)
	{
		printf 'admin:%s\n' "$hash"
		# Extra "user:password" lines (tests add a non-admin user).
		for up in ${RS_EXTRA_USERS:-}; do
			printf '%s:%s\n' "${up%%:*}" \
			    "$(printf '%s' "${up#*:}" | openssl passwd -6 -stdin)"
		done
	} >"$RS_VAR/htpasswd.new"
	chmod 0640 "$RS_VAR/htpasswd.new"
	chown "root:$RUNUSER" "$RS_VAR/htpasswd.new" 2>/dev/null || true
	mv "$RS_VAR/htpasswd.new" "$RS_VAR/htpasswd"
}

start_fcgi() {
	mkdir -p "$RS_VAR/run/fcgi"
	chown "$RUNUSER" "$RS_VAR/run/fcgi" 2>/dev/null || true
	for bin in "$RS_BIN"/*; do
		touch "$RS_VAR/log/$(basename "$bin").log"
		chown "$RUNUSER" "$RS_VAR/log/$(basename "$bin").log" 2>/dev/null || true
	done
	chmod 0700 "$RS_VAR/run/fcgi"
	key_env=""
	[ -z "${RESTSYNC_SECRET_KEY:-}" ] && key_env="RESTSYNC_SECRET_KEY_FILE=$RS_VAR/secret.key"
	for bin in "$RS_BIN"/*; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		# RS_FCGI_ONLY: restart only these programs (names, spaces).
		case " ${RS_FCGI_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
		# The socket is named for the endpoint: rest_batch -> rest-batch.
		sock=$RS_VAR/run/fcgi/$(printf '%s' "$name" | tr _ -).sock
		pidf=$RS_VAR/run/fcgi/$name.pid
		stop_pidfile "$pidf"
		rm -f "$sock"
		uopt=""
		[ "$(id -u)" = 0 ] && uopt="-u $RUNUSER -g $RUNUSER -U $RUNUSER -G $RUNUSER"
		# DATABASE_URL through the environment (exported in a
		# subshell), never on a command line: ps shows arguments.
		# shellcheck disable=SC2086
		( DATABASE_URL=$(app_url); export DATABASE_URL
		env RESTSYNC_DATA_DIR="$ROOT/data" \
		    RESTSYNC_SQL_DIR="$ROOT/sql" \
		    RESTSYNC_WORKERS="$RS_WORKERS" \
		    RESTSYNC_ALLOW_PRIVATE_NETWORKS="${RESTSYNC_ALLOW_PRIVATE_NETWORKS:-1}" \
		    RESTSYNC_NGINX_USER="$RUNUSER" \
		    ${RESTSYNC_REQUEST_TIMEOUT_MS:+RESTSYNC_REQUEST_TIMEOUT_MS=$RESTSYNC_REQUEST_TIMEOUT_MS} \
		    $key_env \
		    spawn-fcgi -s "$sock" -M 0600 $uopt -P "$pidf" \
		    -- /bin/sh -c 'exec "$0" 2>>"$1"' "$bin" "$RS_VAR/log/$name.log" \
		    >>"$RS_VAR/log/spawn-fcgi.log" 2>&1 ) ||
		    die "spawn-fcgi failed for $name, see $RS_VAR/log/spawn-fcgi.log"
	done
}

# Workers that carry out server-side runs (POST rest-sync) and, unless
# RS_WORKER_SCHEDULE=0, keep sources with syncIntervalMinutes fresh:
# RS_RUN_WORKERS (2) processes of `restsync worker`.
start_workers() {
	cli=${RS_CLI:-$(dirname "$RS_BIN")/cli/restsync}
	[ -x "$cli" ] || die "restsync CLI not built: $cli"
	key_env=""
	[ -z "${RESTSYNC_SECRET_KEY:-}" ] && key_env="RESTSYNC_SECRET_KEY_FILE=$RS_VAR/secret.key"
	mkdir -p "$RS_VAR/run/workers"
	chown "$RUNUSER" "$RS_VAR/run/workers" 2>/dev/null || true
	for pidf in "$RS_VAR"/run/workers/*.pid; do
		[ -f "$pidf" ] && stop_pidfile "$pidf"
	done
	i=1
	while [ "$i" -le "${RS_RUN_WORKERS:-2}" ]; do
		pidf=$RS_VAR/run/workers/worker-$i.pid
		touch "$RS_VAR/log/worker-$i.log"
		chown "$RUNUSER" "$RS_VAR/log/worker-$i.log" 2>/dev/null || true
		url=$(app_url)
		log_f=$RS_VAR/log/worker-$i.log
		# A subshell whose own descriptors go to the log first (exec),
		# so that no process started here holds this script's output.
		# shellcheck disable=SC2086
		(
			exec </dev/null >>"$log_f" 2>&1
			# Through the environment (runuser keeps it), never argv.
			DATABASE_URL=$url; export DATABASE_URL
			as_user env RESTSYNC_DATA_DIR="$ROOT/data" \
			    RESTSYNC_ALLOW_PRIVATE_NETWORKS="${RESTSYNC_ALLOW_PRIVATE_NETWORKS:-1}" \
			    RESTSYNC_WORKER_SCHEDULE="${RS_WORKER_SCHEDULE:-1}" \
			    $key_env \
			    setsid sh -c 'echo $$ >"$1"; exec "$0" worker' "$cli" "$pidf"
		) &
		i=$((i + 1))
	done
	# The pid files are written by the started shells.  Nothing started
	# here keeps this script's stdout or stderr open: a caller that reads
	# them (execFileSync) would wait for the workers to end.
	j=0
	while [ "$j" -lt 50 ]; do
		n=0
		for f in "$RS_VAR"/run/workers/*.pid; do [ -s "$f" ] && n=$((n + 1)); done
		[ "$n" -ge "${RS_RUN_WORKERS:-2}" ] && break
		sleep 0.1; j=$((j + 1))
	done
}

# Stop the supervisor in pid file $1 (it stops its workers), then make sure
# no worker is left behind: one still there after RS_STOP_WAIT seconds (5)
# is killed with SIGKILL, named on stderr and in $RS_VAR/log/stop-killed
# (the sanitizer pass fails on it: a killed worker writes no leak report).
stop_pidfile() {
	[ -f "$1" ] || return 0
	pids=$(cat "$1")
	kids=""
	for pid in $pids; do
		kids="$kids $(pgrep -P "$pid" 2>/dev/null || true)"
		kill "$pid" 2>/dev/null || true
	done
	for pid in $pids $kids; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt $((${RS_STOP_WAIT:-5} * 10)) ]; do
			sleep 0.1; i=$((i + 1))
		done
		if kill -9 "$pid" 2>/dev/null; then
			printf 'stack: %s (pid %s) did not stop in %s s: killed\n' \
			    "$(basename "$1" .pid)" "$pid" "${RS_STOP_WAIT:-5}" |
			    tee -a "$RS_VAR/log/stop-killed" >&2
		fi
	done
	rm -f "$1"
}

start_nginx() {
	mkdir -p "$RS_VAR/nginx/tmp"
	chown "$RUNUSER" "$RS_VAR/nginx/tmp" 2>/dev/null || true
	user_line=""
	[ "$(id -u)" = 0 ] && user_line="user $RUNUSER $RUNUSER;"
	# RS_NGINX_CONF: template (nginx/restsync-auth-request.conf.in for an
	# external identity service at RS_IDP, host:port).
	for bin in "$RS_BIN"/*; do
		ep=$(basename "$bin" | tr _ -)
		[ -x "$bin" ] && printf '%s %s;\n' "$ep" "$ep"
	done >"$RS_VAR/nginx/endpoints.map"
	sed -e "s|@VAR@|$RS_VAR|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" \
	    -e "s|@USER@|$user_line|g" -e "s|@IDP@|${RS_IDP:-127.0.0.1:9}|g" \
	    "${RS_NGINX_CONF:-$ROOT/nginx/restsync.conf.in}" >"$RS_VAR/nginx/nginx.conf"
	nginx -q -t -p "$RS_VAR/nginx" -c "$RS_VAR/nginx/nginx.conf" -e "$RS_VAR/log/nginx-error.log" ||
	    die "nginx config test failed"
	if [ -f "$RS_VAR/run/nginx.pid" ] && kill -0 "$(cat "$RS_VAR/run/nginx.pid")" 2>/dev/null; then
		nginx -p "$RS_VAR/nginx" -c "$RS_VAR/nginx/nginx.conf" -e "$RS_VAR/log/nginx-error.log" -s reload
		# Reload is asynchronous: give the new workers a moment.
		sleep 1
	else
		nginx -p "$RS_VAR/nginx" -c "$RS_VAR/nginx/nginx.conf" -e "$RS_VAR/log/nginx-error.log"
	fi
	i=0
	until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
		i=$((i + 1)); [ $i -lt 100 ] || die "nginx does not answer on $PORT"
		sleep 0.1
	done
}

stop_all() {
	if [ -f "$RS_VAR/run/nginx.pid" ]; then
		nginx -p "$RS_VAR/nginx" -c "$RS_VAR/nginx/nginx.conf" -e "$RS_VAR/log/nginx-error.log" -s quit 2>/dev/null || true
		i=0
		while [ -f "$RS_VAR/run/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	for pidf in "$RS_VAR"/run/fcgi/*.pid "$RS_VAR"/run/workers/*.pid; do
		[ -f "$pidf" ] && stop_pidfile "$pidf"
	done
	if [ -f "$RS_VAR/pg/data/postmaster.pid" ]; then
		as_user "$PGBIN/pg_ctl" -D "$RS_VAR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	log "stopped"
}

case "${1:-}" in
start)
	ensure_user
	mkdir -p "$RS_VAR/log" "$RS_VAR/run"
	# Owner only: the service user's folders (it runs nginx's workers,
	# the programs and PostgreSQL); files from earlier runs too.
	chown "$RUNUSER" "$RS_VAR" "$RS_VAR/log" "$RS_VAR/run" 2>/dev/null || true
	chmod 0700 "$RS_VAR" "$RS_VAR/log" "$RS_VAR/run"
	find "$RS_VAR/log" -type f -exec chmod go-rwx {} + 2>/dev/null || true
	[ -x "$RS_BIN/rest_batch" ] || die "programs not built: run make"
	start_pg
	db_url >"$RS_VAR/database_url"
	chmod 0600 "$RS_VAR/database_url"
	# As the service user (the CLI refuses root) and the owner role.
	# The URLs go through the environment, never on a command line (ps
	# shows arguments): migrate.sh and restsync-psql.sh read
	# DATABASE_URL; psql gets the password through PGPASSWORD.
	(
		DATABASE_URL=$(db_url); export DATABASE_URL
		as_user "$ROOT/scripts/migrate.sh"
		if [ -z "${RS_OWN_URL:-}" ]; then
			as_user "$ROOT/deploy/restsync-psql.sh" -X -q \
			    -v app="$APP_ROLE" -f "$ROOT/deploy/db-roles.sql" >/dev/null
		fi
	)
	if [ -z "${RS_OWN_URL:-}" ]; then
		app_url >"$RS_VAR/database_url_app"
		chmod 0600 "$RS_VAR/database_url_app"
	fi
	secrets
	( DATABASE_URL=$(db_url); export DATABASE_URL
	as_user "$ROOT/deploy/restsync-psql.sh" -X -q -v ON_ERROR_STOP=1 \
	    -c "insert into platform_admins(username) values ('admin') on conflict do nothing" >/dev/null )
	start_fcgi
	start_workers
	start_nginx
	log "up on http://127.0.0.1:$PORT (state in $RS_VAR)"
	;;
stop)
	ensure_user
	stop_all
	;;
fcgi)
	# Restart only the FastCGI programs and the run workers (picks up a
	# new environment); with RS_FCGI_ONLY="health rest_batch ..." only
	# those programs (and the workers).
	ensure_user
	start_fcgi
	start_workers
	;;
workers)
	# Restart the run workers only.
	ensure_user
	start_workers
	;;
pg-restart)
	ensure_user
	as_user "$PGBIN/pg_ctl" -D "$RS_VAR/pg/data" -m fast -w restart \
	    -l "$RS_VAR/log/postgres.log" >/dev/null
	;;
status)
	curl -fsS "http://127.0.0.1:$PORT/healthz" || exit 1
	;;
banner)
	cat <<MSG

restsync is running.
  Page:      http://127.0.0.1:$PORT/backoffice/rest-sources
  Log in as: admin / $(cat "$RS_VAR/admin-password")   (password in $RS_VAR/admin-password)
  Database:  $(cat "$RS_VAR/database_url")
  Stop with: make stop
MSG
	;;
*)
	echo "usage: $0 start|stop|status|banner|fcgi|pg-restart" >&2
	exit 2
	;;
esac
