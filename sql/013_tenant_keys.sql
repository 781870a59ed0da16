-- Every unique key and foreign key of the kb_ tables includes tenant_id,
-- so that the tables can be distributed by tenant (Citus: docs/SCALING.md
-- says what else that path needs).  Column order keeps the prefixes the
-- per-batch statements probe (source_id first, then the hash or key), so
-- no statement's plan changes: tenant_id comes last where it is new.
-- kb_rest_audit is the one exception: an append-only trail whose rows may
-- have no tenant (an unknown source id), kept by its bigserial id.

-- The validators gain their tenant (from their source).
ALTER TABLE kb_rest_page_validators ADD COLUMN tenant_id uuid;
UPDATE kb_rest_page_validators v SET tenant_id = s.tenant_id
FROM kb_sources s WHERE s.id = v.source_id;
ALTER TABLE kb_rest_page_validators
    ALTER COLUMN tenant_id SET NOT NULL,
    DROP CONSTRAINT kb_rest_page_validators_source_id_fkey,
    DROP CONSTRAINT kb_rest_page_validators_pkey,
    ADD PRIMARY KEY (source_id, page_key, tenant_id);

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
