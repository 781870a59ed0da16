#!/bin/sh
# Rotate the key of the secrets at rest (integration_secrets): decrypt every
# row with the current key, encrypt it again with a new key and a fresh
# nonce (AES-256-GCM, AAD "tenant_id:provider", as common/secret.c), in one
# transaction, then put the new key in place.  See SECURITY.md.
#
#   scripts/rotate-secret-key.sh            new random key
#   NEW_KEY=<64 hex | base64> scripts/rotate-secret-key.sh
#
# Environment: RS_VAR (./var), DATABASE_URL (else $RS_VAR/database_url).
# The current key: RESTSYNC_SECRET_KEY, else $RS_VAR/secret.key.
#
# With the key file (the default), the new key replaces $RS_VAR/secret.key
# atomically right after the commit; the workers read the file for every
# batch, so nothing needs a restart.  The old key is kept as
# $RS_VAR/secret.key.old-<time> (0600): delete it once a sync works.
# With RESTSYNC_SECRET_KEY, the new key is written to $RS_VAR/secret.key.new
# for you to put in the environment before restarting the workers
# (scripts/stack.sh fcgi); batches in between fail with a clear error and
# their cursors stay.
#
# A secret written while the rotation runs makes it stop with nothing
# changed (run it again).  Rows that do not decrypt with the current key
# (copied from another tenant, written with a lost key) stop it too, with
# their list; SKIP_UNDECRYPTABLE=1 rotates the others and leaves those
# rows as they are (still unusable: enter those keys again).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RS_VAR=${RS_VAR:-$ROOT/var}
case "$RS_VAR" in /*) ;; *) RS_VAR=$ROOT/$RS_VAR ;; esac
DB=${DATABASE_URL:-$(cat "$RS_VAR/database_url")}
KEYFILE=$RS_VAR/secret.key

die() { printf 'rotate-secret-key: %s\n' "$*" >&2; exit 1; }

if [ -n "${RESTSYNC_SECRET_KEY:-}" ]; then
	OLD_KEY=$RESTSYNC_SECRET_KEY
	mode="env"
else
	[ -s "$KEYFILE" ] || die "no current key: set RESTSYNC_SECRET_KEY or create $KEYFILE"
	OLD_KEY=$(cat "$KEYFILE")
	mode="file"
fi
NEW_KEY=${NEW_KEY:-$(openssl rand -hex 32)}
export OLD_KEY NEW_KEY

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# 1. Read every row (hex only: nothing to quote).
psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 "$DB" -c "
    SELECT tenant_id, encode(convert_to(provider, 'UTF8'), 'hex'),
           encode(ciphertext, 'hex'), encode(nonce, 'hex'),
           coalesce(nullif(encode(convert_to(origin, 'UTF8'), 'hex'), ''), '-'), aad_version
    FROM integration_secrets ORDER BY tenant_id, provider, origin" >"$work/rows"

# 2. Re-encrypt them and write the transaction.  The UPDATE happens only if
#    every row is still what was read (LOCK + comparison), else nothing.
node - "$work/rows" "$work/rotate.sql" <<'NODE'
const crypto = require('crypto');
const fs = require('fs');
const [rowsFile, sqlFile] = process.argv.slice(2);
function key(s, what) {
  s = s.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(s)) return Buffer.from(s, 'base64');
  console.error(`rotate-secret-key: the ${what} key must be 32 bytes as 64 hex digits or base64`);
  process.exit(1);
}
const oldKey = key(process.env.OLD_KEY, 'current');
const newKey = key(process.env.NEW_KEY, 'new');
if (oldKey.equals(newKey)) { console.error('rotate-secret-key: the new key is the current key'); process.exit(1); }
const rows = fs.readFileSync(rowsFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
const values = [];
const bad = [];
for (const [tenant, provHex, ctHex, nonceHex, oHex, ver] of rows) {
  if (!/^[0-9a-f-]{36}$/.test(tenant)) throw new Error('unexpected tenant id');
  const prov = Buffer.from(provHex, 'hex').toString('utf8');
  const originHex = oHex === '-' ? '' : oHex;
  const origin = Buffer.from(originHex, 'hex').toString('utf8');
  // sql/007: version 2 binds the origin in the associated data.
  const aad = ver === '2' ? Buffer.from(`rs-secret-v2\0${tenant}\0${prov}\0${origin}\0`)
    : Buffer.from(`${tenant}:${prov}`);
  const ct = Buffer.from(ctHex, 'hex');
  let pt = null;
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', oldKey, Buffer.from(nonceHex, 'hex'));
    d.setAAD(aad);
    d.setAuthTag(ct.subarray(ct.length - 16));
    pt = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  } catch {
    bad.push(`tenant ${tenant}, provider ${Buffer.from(provHex, 'hex')}`);
    // Kept as it is (the check below still guards it).
    values.push(`('${tenant}', convert_from(decode('${provHex}', 'hex'), 'UTF8'), convert_from(decode('${originHex}', 'hex'), 'UTF8'), decode('${ctHex}', 'hex'), `
      + `decode('${nonceHex}', 'hex'), decode('${ctHex}', 'hex'), decode('${nonceHex}', 'hex'))`);
    continue;
  }
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', newKey, nonce);
  c.setAAD(aad);
  const out = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  pt.fill(0);
  values.push(`('${tenant}', convert_from(decode('${provHex}', 'hex'), 'UTF8'), convert_from(decode('${originHex}', 'hex'), 'UTF8'), decode('${ctHex}', 'hex'), `
    + `decode('${nonceHex}', 'hex'), decode('${out.toString('hex')}', 'hex'), decode('${nonce.toString('hex')}', 'hex'))`);
}
if (bad.length) {
  console.error(`rotate-secret-key: ${bad.length} secret(s) do not decrypt with the current key:\n  ${bad.join('\n  ')}`);
  if (process.env.SKIP_UNDECRYPTABLE !== '1') {
    console.error('rotate-secret-key: nothing was changed (SKIP_UNDECRYPTABLE=1 leaves them as they are)');
    process.exit(1);
  }
}
fs.writeFileSync(sqlFile, `BEGIN;
LOCK TABLE integration_secrets IN SHARE ROW EXCLUSIVE MODE;
CREATE TEMP TABLE rs_rotate (tenant_id uuid, provider text, origin text, old_ct bytea, old_nonce bytea,
    ct bytea, nonce bytea) ON COMMIT DROP;
${values.length ? `INSERT INTO rs_rotate VALUES\n${values.join(',\n')};` : ''}
DO $$
BEGIN
    IF (SELECT count(*) FROM integration_secrets) <>
       (SELECT count(*) FROM rs_rotate r JOIN integration_secrets s USING (tenant_id, provider, origin)
        WHERE s.ciphertext = r.old_ct AND s.nonce = r.old_nonce) THEN
        RAISE EXCEPTION 'integration_secrets changed during the rotation; nothing was changed, run it again';
    END IF;
END
$$;
UPDATE integration_secrets s SET ciphertext = r.ct, nonce = r.nonce, updated_at = now()
FROM rs_rotate r WHERE s.tenant_id = r.tenant_id AND s.provider = r.provider AND s.origin = r.origin;
SELECT count(*) FROM rs_rotate WHERE ct <> old_ct;
COMMIT;
`);
NODE

# 3. The new key next to the old one, then the transaction, then the swap.
printf '%s\n' "$NEW_KEY" >"$RS_VAR/secret.key.new"
if [ "$mode" = file ] && [ "$(id -u)" = 0 ]; then
	chown --reference="$KEYFILE" "$RS_VAR/secret.key.new"
fi
n=$(psql -X -q -At -v ON_ERROR_STOP=1 "$DB" -f "$work/rotate.sql") ||
	die "the database refused the rotation; nothing was changed (the new key is in $RS_VAR/secret.key.new, unused)"
if [ "$mode" = file ]; then
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	cp -p "$KEYFILE" "$KEYFILE.old-$stamp"
	mv -f "$RS_VAR/secret.key.new" "$KEYFILE"
	printf 'rotate-secret-key: rotated %s secrets; %s holds the new key, the old one is %s\n' \
	    "$n" "$KEYFILE" "$KEYFILE.old-$stamp"
else
	printf 'rotate-secret-key: rotated %s secrets; put the key in %s into RESTSYNC_SECRET_KEY and restart the workers (scripts/stack.sh fcgi)\n' \
	    "$n" "$RS_VAR/secret.key.new"
fi
