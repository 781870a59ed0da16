#!/bin/sh
# Apply sql/NNN_name.sql migrations in order, each once, each in one
# transaction together with its schema_migrations row, under an advisory
# lock (several machines may migrate at once).  Idempotent.
#   DATABASE_URL=... scripts/migrate.sh
# DATABASE_URL comes from the environment, never from the command line
# (`ps` shows arguments to every local user; issue 14, item 7).
# The one implementation is the C migrator, `restsync migrate`
# (common/db/migrate.c), which `make run`, the CLI and health share; this is
# its wrapper for the stack scripts.  RS_CLI names another build.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 0 ]; then
	echo "usage: DATABASE_URL=... migrate.sh (the URL from the environment, not an argument)" >&2
	exit 2
fi
: "${DATABASE_URL:?migrate: set DATABASE_URL in the environment}"

cli=${RS_CLI:-$ROOT/build/release/cli/restsync}
if [ ! -x "$cli" ]; then
	echo "migrate: $cli is not built; run make first" >&2
	exit 1
fi
RESTSYNC_SQL_DIR=$ROOT/sql
export DATABASE_URL RESTSYNC_SQL_DIR
exec "$cli" migrate
