-- Every unique key and foreign key of the kb_ tables includes tenant_id,
-- so that the tables can be distributed by tenant (Citus: docs/SCALING.md
-- says what else that path needs).  Column order keeps the prefixes the
-- per-batch statements probe (source_id first, then the hash or key), so
-- no statement's plan changes: tenant_id comes last where it is new.
-- Two exceptions, kept on their own keys: kb_rest_audit, an append-only
-- trail whose rows may have no tenant (an unknown source id), and
-- kb_rate_budgets, keyed by its budget ("source:<id>" or
-- "provider:<tenant>:<provider>").

-- The validators gain their tenant (from their source).
ALTER TABLE kb_rest_page_validators ADD COLUMN tenant_id uuid;
UPDATE kb_rest_page_validators v SET tenant_id = s.tenant_id
FROM kb_sources s WHERE s.id = v.source_id;
ALTER TABLE kb_rest_page_validators
    ALTER COLUMN tenant_id SET NOT NULL,
    DROP CONSTRAINT kb_rest_page_validators_source_id_fkey,
    DROP CONSTRAINT kb_rest_page_validators_pkey,
    ADD PRIMARY KEY (source_id, page_key, tenant_id);

-- So do the OAuth2 token cache and the rate waits (sql/010).
ALTER TABLE kb_oauth_tokens ADD COLUMN tenant_id uuid;
UPDATE kb_oauth_tokens t SET tenant_id = s.tenant_id
FROM kb_sources s WHERE s.id = t.source_id;
ALTER TABLE kb_oauth_tokens
    ALTER COLUMN tenant_id SET NOT NULL,
    DROP CONSTRAINT kb_oauth_tokens_source_id_fkey,
    DROP CONSTRAINT kb_oauth_tokens_pkey,
    ADD PRIMARY KEY (source_id, tenant_id);
ALTER TABLE kb_rate_waits ADD COLUMN tenant_id uuid;
UPDATE kb_rate_waits w SET tenant_id = s.tenant_id
FROM kb_sources s WHERE s.id = w.source_id;
ALTER TABLE kb_rate_waits
    ALTER COLUMN tenant_id SET NOT NULL,
    DROP CONSTRAINT kb_rate_waits_source_id_fkey,
    DROP CONSTRAINT kb_rate_waits_pkey,
    ADD PRIMARY KEY (source_id, tenant_id);

-- The foreign keys on kb_sources(id, tenant_id) and kb_docs(id, tenant_id)
-- go while those keys are swapped, and come back below.
ALTER TABLE kb_rest_cursors
    DROP CONSTRAINT kb_rest_cursors_source_id_tenant_id_fkey;
ALTER TABLE kb_docs DROP CONSTRAINT kb_docs_source_id_tenant_id_fkey;
ALTER TABLE kb_rest_runs DROP CONSTRAINT kb_rest_runs_source_id_tenant_id_fkey;
ALTER TABLE kb_rest_items
    DROP CONSTRAINT kb_rest_items_source_id_tenant_id_fkey;
ALTER TABLE kb_chunks DROP CONSTRAINT kb_chunks_doc_id_tenant_id_fkey;

ALTER TABLE kb_sources
    DROP CONSTRAINT kb_sources_pkey,
    DROP CONSTRAINT kb_sources_id_tenant_id_key,
    ADD PRIMARY KEY (id, tenant_id);
ALTER TABLE kb_docs
    DROP CONSTRAINT kb_docs_pkey,
    DROP CONSTRAINT kb_docs_id_tenant_id_key,
    ADD PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT kb_docs_source_id_title_key,
    ADD UNIQUE (source_id, title, tenant_id);
ALTER TABLE kb_chunks
    DROP CONSTRAINT kb_chunks_pkey,
    ADD PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT kb_chunks_doc_id_chunk_idx_key,
    ADD UNIQUE (doc_id, chunk_idx, tenant_id),
    DROP CONSTRAINT kb_chunks_source_id_content_hash_key,
    ADD UNIQUE (source_id, content_hash, tenant_id);
ALTER TABLE kb_rest_cursors
    DROP CONSTRAINT kb_rest_cursors_pkey,
    ADD PRIMARY KEY (source_id, tenant_id);
ALTER TABLE kb_rest_runs
    DROP CONSTRAINT kb_rest_runs_pkey,
    ADD PRIMARY KEY (id, tenant_id);
ALTER TABLE kb_rest_items
    DROP CONSTRAINT kb_rest_items_pkey,
    ADD PRIMARY KEY (source_id, item_key, tenant_id);

ALTER TABLE kb_rest_cursors ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id);
ALTER TABLE kb_docs ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id);
ALTER TABLE kb_rest_runs ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE kb_rest_items ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE kb_rest_page_validators ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE kb_chunks ADD FOREIGN KEY (doc_id, tenant_id)
    REFERENCES kb_docs (id, tenant_id);
ALTER TABLE kb_oauth_tokens ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE kb_rate_waits ADD FOREIGN KEY (source_id, tenant_id)
    REFERENCES kb_sources (id, tenant_id) ON DELETE CASCADE;

-- restsync_rate_take() (sql/010) records a wait with its source's tenant.
CREATE OR REPLACE FUNCTION restsync_rate_take(k text, n int,
                                   window_ms float8, margin_ms float8,
                                   max_wait_ms float8, source uuid,
                                   OUT granted boolean, OUT wait_ms float8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now_ms float8 := extract(epoch FROM clock_timestamp()) * 1000;
    s float8[];
    at float8;
    len int;
BEGIN
    INSERT INTO kb_rate_budgets (budget_key) VALUES (k)
        ON CONFLICT (budget_key) DO NOTHING;
    SELECT slots INTO s FROM kb_rate_budgets WHERE budget_key = k FOR UPDATE;
    len := coalesce(array_length(s, 1), 0);
    -- Only the last n grants matter.
    IF len > n THEN
        s := s[len - n + 1 : len];
        len := n;
    END IF;
    IF len < n THEN
        at := now_ms;
    ELSE
        at := greatest(now_ms, s[1] + window_ms + margin_ms);
    END IF;
    -- Grants are ascending (each is at least the one before).
    IF len > 0 AND at < s[len] THEN
        at := s[len];
    END IF;
    wait_ms := at - now_ms;
    granted := wait_ms <= max_wait_ms;
    IF granted THEN
        IF len = n THEN
            s := s[2 : len];
        END IF;
        UPDATE kb_rate_budgets SET slots = s || at, updated_at = now()
            WHERE budget_key = k;
    END IF;
    IF source IS NOT NULL AND wait_ms > 0 THEN
        INSERT INTO kb_rate_waits (source_id, tenant_id, wait_until)
        SELECT source, src.tenant_id,
               to_timestamp((now_ms + wait_ms) / 1000)
        FROM kb_sources src WHERE src.id = source
        ON CONFLICT (source_id, tenant_id)
            DO UPDATE SET wait_until = EXCLUDED.wait_until;
    END IF;
END
$$;
