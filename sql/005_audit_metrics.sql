-- Metrics without parsing JSON: GET /api/backoffice/metrics (common/db/obs.c)
-- aggregates the whole audit trail on every scrape.  The figures it needs
-- are kept next to each row as stored generated columns (computed by
-- PostgreSQL from detail: no writer changes, and they cannot disagree
-- with it), and a covering index holds them, so that a scrape is one
-- index-only scan of a narrow index instead of a heap scan that parses
-- every row's jsonb (obs.c has the measured figures).  Type and range
-- checks come before every cast: computing them never fails an insert.
--
-- For batches (every action but create, update, reset, delete):
--   m_items     items stored (NULL for failed batches)
--   m_inserted  new chunks stored (NULL for failed batches)
--   m_fetch_s   upstream seconds, when the batch made an upstream exchange
--   m_embed_s   embedding seconds, when it embedded (new chunks or calls)
-- On an existing installation ADD COLUMN ... STORED rewrites the table
-- once.
ALTER TABLE kb_rest_audit
    ADD COLUMN m_items bigint GENERATED ALWAYS AS (
        CASE WHEN outcome <> 'error' AND jsonb_typeof(detail->'items') = 'number'
              AND detail->'items' BETWEEN '0' AND '1e15'
             THEN trunc((detail->>'items')::numeric)::bigint END) STORED,
    ADD COLUMN m_inserted bigint GENERATED ALWAYS AS (
        CASE WHEN outcome <> 'error' AND jsonb_typeof(detail->'inserted') = 'number'
              AND detail->'inserted' BETWEEN '0' AND '1e15'
             THEN trunc((detail->>'inserted')::numeric)::bigint END) STORED,
    ADD COLUMN m_fetch_s float8 GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(detail->'attempts') = 'number'
              AND detail->'attempts' > '0'
              AND jsonb_typeof(detail#>'{ms,fetch}') = 'number'
              AND detail#>'{ms,fetch}' BETWEEN '0' AND '1e12'
             THEN (detail#>>'{ms,fetch}')::float8 / 1000 END) STORED,
    ADD COLUMN m_embed_s float8 GENERATED ALWAYS AS (
        CASE WHEN ((jsonb_typeof(detail->'embedAttempts') = 'number'
                    AND detail->'embedAttempts' > '0')
                OR (jsonb_typeof(detail->'inserted') = 'number'
                    AND detail->'inserted' > '0'))
              AND jsonb_typeof(detail#>'{ms,embed}') = 'number'
              AND detail#>'{ms,embed}' BETWEEN '0' AND '1e12'
             THEN (detail#>>'{ms,embed}')::float8 / 1000 END) STORED;

CREATE INDEX kb_rest_audit_metrics ON kb_rest_audit (action, outcome)
    INCLUDE (m_items, m_inserted, m_fetch_s, m_embed_s);
