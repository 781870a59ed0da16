-- Issue 14 item 1: every secret is bound to the origin it was entered for.
--
-- A key was stored per (tenant, provider); editing a source's baseUrl or
-- provider made the next batch send the decrypted key to the new origin.
-- Now a secret row names its origin (RFC 6454, serialised as
-- "scheme://host[:port]", lower case, no default port — what
-- common/pipeline/http_fetch.c fetch_origin() computes), a batch uses only the row
-- of its baseUrl's origin, and the batch checks the origin again in C
-- before decrypting.  Rows written from now on (aad_version 2) also carry
-- the origin in the AES-GCM associated data; rows migrated here keep
-- their version 1 ciphertext (the database cannot re-encrypt) until
-- `restsync rotate-key` rewrites them.
--
-- Existing secrets are bound to the origins of the sources that use them
-- (requiresAuth, same tenant and provider): one row per origin, all with
-- the same ciphertext.  A secret no source uses keeps the origin '' and
-- is unusable until its key is entered again.

CREATE FUNCTION restsync_origin(url text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(m[1]) || '://' || lower(m[2]) ||
           CASE WHEN m[3] IS NULL
                  OR (lower(m[1]) = 'http' AND m[3]::int = 80)
                  OR (lower(m[1]) = 'https' AND m[3]::int = 443)
                THEN '' ELSE ':' || (m[3]::int)::text END
    FROM regexp_match(url,
        '^(https?)://(\[[0-9A-Fa-f:.]+\]|[^]:/?#@[]+)(?::([0-9]{1,5}))?(?:[/?#]|$)', 'i') AS m
$$;

ALTER TABLE integration_secrets
    ADD COLUMN origin text NOT NULL DEFAULT '' CHECK (length(origin) <= 300),
    ADD COLUMN aad_version smallint NOT NULL DEFAULT 1 CHECK (aad_version IN (1, 2));

ALTER TABLE integration_secrets DROP CONSTRAINT integration_secrets_pkey;

INSERT INTO integration_secrets (tenant_id, provider, ciphertext, nonce, updated_at,
                                 origin, aad_version)
SELECT x.tenant_id, x.provider, x.ciphertext, x.nonce, x.updated_at, u.origin, 1
FROM integration_secrets x
JOIN (SELECT DISTINCT s.tenant_id, coalesce(s.config->>'provider', 'rest') AS provider,
             restsync_origin(s.config->>'baseUrl') AS origin
      FROM kb_sources s
      WHERE s.config->'requiresAuth' = 'true'::jsonb) u
  ON u.tenant_id = x.tenant_id AND u.provider = x.provider AND u.origin IS NOT NULL
WHERE x.origin = '';

DELETE FROM integration_secrets x
WHERE x.origin = ''
  AND EXISTS (SELECT 1 FROM integration_secrets y
              WHERE y.tenant_id = x.tenant_id AND y.provider = x.provider
                AND y.origin <> '');

ALTER TABLE integration_secrets
    ALTER COLUMN origin DROP DEFAULT,
    ALTER COLUMN aad_version SET DEFAULT 2,
    ADD PRIMARY KEY (tenant_id, provider, origin);
