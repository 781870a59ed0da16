#!/bin/sh
# Seed the demo tenant and its sources (idempotent).  The local source uses
# the seed's DummyJSON config verbatim except baseUrl, which points at the
# stack's own DummyJSON-compatible endpoint; a second source points at the
# real dummyjson.com and is disabled by default (enable it on a machine with
# internet access).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RS_VAR=${RS_VAR:-$ROOT/var}
PORT=${PORT:-8080}
# The owner's URL, from the file (0600) into the environment: it never goes
# on a command line (restsync-psql.sh hands psql the password through
# PGPASSWORD).
DATABASE_URL=$(cat "$RS_VAR/database_url")
export DATABASE_URL

# The seed's DummyJSON reference config, kept once (the tests and the
# bench read the same file).
cfg=$(cat "$ROOT/data/dummyjson/config.json")

"$ROOT/deploy/restsync-psql.sh" -X -q -v ON_ERROR_STOP=1 -v cfg="$cfg" \
    -v local_url="http://127.0.0.1:$PORT/demo/dummyjson/products" <<'SQL'
INSERT INTO tenants (id, name)
VALUES ('00000000-0000-4000-8000-000000000001', 'Demo Tenant')
ON CONFLICT (id) DO NOTHING;

INSERT INTO kb_sources (id, tenant_id, type, title, config, backoffice_only, enabled)
VALUES ('00000000-0000-4000-8000-000000000101',
        '00000000-0000-4000-8000-000000000001', 'rest',
        'DummyJSON products (local)',
        jsonb_set(:'cfg'::jsonb, '{baseUrl}', to_jsonb(:'local_url'::text)),
        true, true)
ON CONFLICT (id, tenant_id) DO UPDATE
SET config = jsonb_set(kb_sources.config, '{baseUrl}', to_jsonb(:'local_url'::text));

INSERT INTO kb_sources (id, tenant_id, type, title, config, backoffice_only, enabled)
VALUES ('00000000-0000-4000-8000-000000000102',
        '00000000-0000-4000-8000-000000000001', 'rest',
        'DummyJSON products (dummyjson.com)', :'cfg'::jsonb, true, false)
ON CONFLICT (id, tenant_id) DO NOTHING;
SQL
echo "seed: demo tenant and sources ready"
