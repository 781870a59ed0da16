-- restsync schema, version 001.  Applied once by scripts/migrate.sh inside
-- one transaction together with its row in schema_migrations.
--
-- Tables and columns follow the seed's names; columns beyond the seed's are
-- marked "restsync:".  Invariants held by constraints:
--   one cursor per source          kb_rest_cursors primary key (source_id)
--   one daily doc per source/title kb_docs unique (source_id, title)
--   unique chunk_idx per doc       kb_chunks unique (doc_id, chunk_idx)
--   unique content hash per source kb_chunks unique (source_id, content_hash)

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- gen_random_uuid() on old servers

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE platform_admins (
    username    text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_sources (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    type            text NOT NULL DEFAULT 'rest',
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    config          jsonb NOT NULL,
    backoffice_only boolean NOT NULL DEFAULT true,
    enabled         boolean NOT NULL DEFAULT true,         -- restsync:
    created_at      timestamptz NOT NULL DEFAULT now(),    -- restsync:
    updated_at      timestamptz NOT NULL DEFAULT now(),    -- restsync:
    UNIQUE (id, tenant_id)
);
CREATE INDEX kb_sources_tenant ON kb_sources (tenant_id);

CREATE TABLE kb_rest_cursors (
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    source_id        uuid PRIMARY KEY,
    next_cursor      text,
    page_count       integer NOT NULL DEFAULT 0,
    item_count       bigint NOT NULL DEFAULT 0,
    last_status      text,           -- NULL (never synced) | ok | error | done
    last_http_status integer,
    last_synced_at   timestamptz,
    last_error       text,
    done             boolean NOT NULL DEFAULT false,       -- restsync:
    total            bigint,                               -- restsync: upstream's total
    chunk_count      bigint NOT NULL DEFAULT 0,            -- restsync: chunks stored by syncs
    FOREIGN KEY (source_id, tenant_id) REFERENCES kb_sources(id, tenant_id)
);

CREATE TABLE kb_docs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    source_id       uuid NOT NULL,
    title           text NOT NULL,
    status          text NOT NULL DEFAULT 'ready',
    error           text,
    content_hash    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),    -- restsync:
    next_chunk_idx  integer NOT NULL DEFAULT 0,            -- restsync: chunk_idx allocator
    FOREIGN KEY (source_id, tenant_id) REFERENCES kb_sources(id, tenant_id),
    UNIQUE (source_id, title),
    UNIQUE (id, tenant_id)
);

CREATE TABLE integration_secrets (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    provider    text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
    ciphertext  bytea NOT NULL,      -- AES-256-GCM ciphertext || 16-byte tag
    nonce       bytea NOT NULL CHECK (length(nonce) = 12),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider)
);

CREATE TABLE schema_info (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- kb_chunks.embedding: pgvector's vector(1536) where the extension can be
-- installed, else real[] with a length check (stock Debian PostgreSQL 15).
DO $$
DECLARE
    emb text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        CREATE EXTENSION IF NOT EXISTS vector;
        emb := 'vector(1536)';
    ELSE
        emb := 'real[] CHECK (array_ndims(embedding) = 1 AND array_length(embedding, 1) = 1536)';
    END IF;
    EXECUTE format($f$
        CREATE TABLE kb_chunks (
            id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id     uuid NOT NULL REFERENCES tenants(id),
            doc_id        uuid NOT NULL,
            chunk_idx     integer NOT NULL CHECK (chunk_idx >= 0),
            title         text,
            content       text NOT NULL,
            embedding     %s,
            metadata      jsonb NOT NULL DEFAULT '{}',
            allowed_roles text[] NOT NULL,
            source_id     uuid NOT NULL,      -- restsync: dedup scope
            content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'), -- restsync:
            created_at    timestamptz NOT NULL DEFAULT now(),
            FOREIGN KEY (doc_id, tenant_id) REFERENCES kb_docs(id, tenant_id),
            UNIQUE (doc_id, chunk_idx),
            UNIQUE (source_id, content_hash)
        )$f$, emb);
    INSERT INTO schema_info VALUES ('embedding_type', emb);
END
$$;
