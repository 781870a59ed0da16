#!/bin/sh
# Apply sql/NNN_name.sql migrations in order, each once, each in one
# transaction together with its schema_migrations row.  Idempotent.
#   scripts/migrate.sh DATABASE_URL
# Once built, `restsync migrate` does it (the same rules, plus an advisory
# lock so that several machines may migrate at once); the psql loop below
# is the fallback before the first build.  RS_CLI names another build.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
url=${1:?usage: migrate.sh DATABASE_URL}

cli=${RS_CLI:-$ROOT/build/release/cli/restsync}
if [ -x "$cli" ]; then
	DATABASE_URL=$url RESTSYNC_SQL_DIR=$ROOT/sql exec "$cli" migrate
fi

psql -X -q -v ON_ERROR_STOP=1 "$url" -c "set client_min_messages = warning" -c \
    "create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())"
applied=$(psql -X -tA "$url" -c "select version from schema_migrations")
for f in "$ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
	v=$(basename "$f" .sql)
	printf '%s\n' "$v" | grep -Eq '^[0-9]{3}_[a-z0-9_]+$' ||
	    { echo "migrate: bad file name $f" >&2; exit 1; }
	printf '%s\n' "$applied" | grep -qx "$v" && continue
	echo "migrate: applying $v"
	# One transaction; the version goes in as a psql variable, not pasted.
	{
		echo "set client_min_messages = warning;"
		cat "$f"
		echo
		echo "insert into schema_migrations(version) values (:'v');"
	} | psql -X -q -v ON_ERROR_STOP=1 -v v="$v" -1 -f - "$url" >/dev/null
done
