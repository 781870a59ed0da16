-- Item identity, runs and sweeps (docs/SYNC-RUNS.md).
--
--   kb_rest_runs    one walk of a source from its first page to done
--   kb_rest_items   the source's items: key, hash of title + text, the
--                   content hashes of its chunks, first/last seen run
--   kb_chunks.item_refs  how many live items of the source hold the
--                   chunk's content hash; a chunk leaves at 0
--   kb_rest_cursors page_count / item_count count within the current run
--                   (what the pager compares); lifetime_* keep the totals
--
-- Invariants (tests/integration/20_items.test.mjs checks them):
--   item_refs of a chunk = number of items of its source whose
--       chunk_hashes contain its content_hash
--   every content hash in an item's chunk_hashes has a chunk
--   chunk_idx of a doc is 0 .. next_chunk_idx - 1, dense

CREATE TABLE kb_rest_runs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    source_id         uuid NOT NULL,
    actor             text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    kind              text NOT NULL CHECK (kind ~ '^[a-z-]{1,32}$'),
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'done', 'failed', 'stopped')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    last_page_at      timestamptz,          -- the last page it stored
    from_start        boolean NOT NULL,     -- began at the first page
    pages             integer NOT NULL DEFAULT 0,
    items             bigint NOT NULL DEFAULT 0,   -- items in the pages
    new_items         bigint NOT NULL DEFAULT 0,
    changed_items     bigint NOT NULL DEFAULT 0,
    unchanged_items   bigint NOT NULL DEFAULT 0,
    removed_items     bigint NOT NULL DEFAULT 0,
    chunks_inserted   bigint NOT NULL DEFAULT 0,
    chunks_deleted    bigint NOT NULL DEFAULT 0,
    embed_inputs      bigint NOT NULL DEFAULT 0,
    total_first       bigint,               -- upstream total on the first page
    total_last        bigint,
    total_changed     boolean NOT NULL DEFAULT false,
    no_sweep          text,                 -- why this run may not sweep
    sweep             text CHECK (sweep IN ('done', 'held', 'skipped', 'confirmed')),
    sweep_note        text,
    sweep_candidates  bigint,
    error             text,
    -- Server-side runs (POST rest-sync): carried out by a worker until
    -- done, failed or stopped (docs/RUNS.md).
    server            boolean NOT NULL DEFAULT false,
    stop_requested    boolean NOT NULL DEFAULT false,
    executor          text,                 -- the worker carrying it out
    FOREIGN KEY (source_id, tenant_id) REFERENCES kb_sources(id, tenant_id)
        ON DELETE CASCADE
);
-- The runs a worker may pick up.
CREATE INDEX kb_rest_runs_server ON kb_rest_runs (started_at)
    WHERE server AND status = 'running';
CREATE INDEX kb_rest_runs_source ON kb_rest_runs (source_id, started_at DESC);

CREATE TABLE kb_rest_items (
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    source_id       uuid NOT NULL,
    item_key        text NOT NULL CHECK (length(item_key) BETWEEN 1 AND 600),
    item_hash       text NOT NULL,        -- '' = unknown (upgraded)
    chunk_hashes    text[] NOT NULL,      -- distinct, in chunk order
    title           text,
    first_seen_run  uuid,
    last_seen_run   uuid,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    changed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, item_key),
    FOREIGN KEY (source_id, tenant_id) REFERENCES kb_sources(id, tenant_id)
        ON DELETE CASCADE
);
-- No other index leads with source_id: a lookup by (source_id, item_key)
-- can only be a probe of the primary key, whatever the statistics say.

-- The keys of the items a page had when its validators were saved: a 304
-- answer marks them seen (docs/SYNC-RUNS.md).
ALTER TABLE kb_rest_page_validators ADD COLUMN item_keys text[];

ALTER TABLE kb_chunks ADD COLUMN item_refs integer NOT NULL DEFAULT 1;

ALTER TABLE kb_rest_cursors
    ADD COLUMN run_id uuid,
    ADD COLUMN lifetime_pages bigint NOT NULL DEFAULT 0,
    ADD COLUMN lifetime_items bigint NOT NULL DEFAULT 0;
UPDATE kb_rest_cursors SET lifetime_pages = page_count,
    lifetime_items = item_count;

-- Upgrade: every stored chunk becomes (part of) an item.  Chunks that
-- carry metadata.itemId belong to the item 'id:<itemId>' (their hashes
-- in chunkIndex order); any other chunk is an item of its own keyed by
-- its text hash, 'text:<content_hash>', which is the key a batch gives
-- a single-chunk item without an id.  item_hash '' makes the next run
-- re-chunk the item once: its chunk hashes are the same, so nothing is
-- embedded again.  Each chunk is held by exactly the one item made from
-- it, so item_refs stays 1.
INSERT INTO kb_rest_items (tenant_id, source_id, item_key, item_hash,
    chunk_hashes, title)
SELECT k.tenant_id, k.source_id,
       CASE WHEN length(k.metadata->>'itemId') BETWEEN 1 AND 500
            THEN 'id:' || (k.metadata->>'itemId')
            ELSE 'text:' || k.content_hash END,
       '',
       array_agg(k.content_hash ORDER BY
           CASE WHEN jsonb_typeof(k.metadata->'chunkIndex') = 'number'
                THEN (k.metadata->>'chunkIndex')::numeric END NULLS LAST,
           k.created_at, k.chunk_idx),
       min(k.title)
FROM kb_chunks k
JOIN kb_sources s ON s.id = k.source_id AND s.tenant_id = k.tenant_id
GROUP BY k.tenant_id, k.source_id,
       CASE WHEN length(k.metadata->>'itemId') BETWEEN 1 AND 500
            THEN 'id:' || (k.metadata->>'itemId')
            ELSE 'text:' || k.content_hash END;

-- Chunks written before the upgrade keep their metadata as it was
-- (itemId, no itemKey): the key is derivable, and rewriting every 7 KiB
-- row would cost the upgrade a copy of the table.

-- A 304 answers for a page whose items the new tables do not know yet:
-- forget the validators once, so the first run after the upgrade reads
-- every page.
DELETE FROM kb_rest_page_validators;

-- Bulk syncs add rows to a source faster than the default autovacuum
-- thresholds notice (10% of the table for analyze, 20% for vacuum): on a
-- big table a new source's rows stay unknown to the statistics, and
-- heap pages stay out of the visibility map (index-only probes need it).
-- The per-batch statements probe indexes whatever the statistics say
-- (docs/ARCHITECTURE.md); these keep the maintenance in step anyway.
ALTER TABLE kb_chunks SET (autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE kb_rest_items SET (autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_insert_scale_factor = 0.05);
