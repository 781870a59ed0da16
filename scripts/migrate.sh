#!/bin/sh
# Apply sql/NNN_name.sql migrations in order, each once, each in one
# transaction together with its schema_migrations row, under an advisory
# lock (several machines may migrate at once).  Idempotent.
#   scripts/migrate.sh DATABASE_URL
# The one implementation is the C migrator, `restsync migrate`
# (common/db/migrate.c), which `make run`, the CLI and health share; this is
# its wrapper for the stack scripts.  RS_CLI names another build.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
url=${1:?usage: migrate.sh DATABASE_URL}

cli=${RS_CLI:-$ROOT/build/release/cli/restsync}
if [ ! -x "$cli" ]; then
	echo "migrate: $cli is not built; run make first" >&2
	exit 1
fi
DATABASE_URL=$url RESTSYNC_SQL_DIR=$ROOT/sql exec "$cli" migrate
