-- Issue 15: EMBEDDING_DIMENSIONS.  kb_chunks.embedding held 1536 floats
-- only (vector(1536), or real[] checked to length 1536).  A deployment
-- may now embed at another size (the embeddings API's "dimensions"),
-- and a source switched from one size to another is re-embedded group
-- by group (restsync reembed), each group its own transaction: for a
-- while one column holds both sizes.  So the column no longer fixes the
-- size; each row is held to the size its model label says instead.
--
-- The label is metadata.embeddingModel (common/pipeline/embed.h embed_model()):
-- "model" for 1536 dimensions, "model@N" for N.  A chunk without the
-- label predates it and is 1536.  Search compares only chunks of the
-- deployment's label, hence only vectors of one size.
--
-- Storage: sql/004 kept the embedding in the row (STORAGE PLAIN), which
-- refuses a row over toast_tuple_target (8160 bytes): a vector of more
-- than about 1,990 floats.  EXTERNAL (never compressed) keeps every row
-- that fits in the row as before (1536 floats: 6 KiB), and moves a larger
-- vector (3072 floats: 12 KiB) out of line, uncompressed.  No rewrite.
--
-- pgvector: vector(1536) becomes vector (only the type modifier goes;
-- untested here: CI has no pgvector).  schema_info.embedding_type keeps what 001 chose ("vector
-- (1536)" or "real[] ..."): it still tells pgvector from real[], which
-- is all that is read from it; the size is kb_chunks_embedding_dims's.
-- (Upgrades leave existing rows as they were: tests/integration/
-- 35_migrate_upgrade.)  An ANN index needs a fixed size: build it on an
-- expression per size, e.g. ((embedding::vector(512))) WHERE
-- vector_dims(embedding) = 512 (README "Embedding dimensions").

-- The dimensions a chunk's label says: N of "model@N", else 1536.
CREATE FUNCTION restsync_embedding_dims(metadata jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (substring(metadata->>'embeddingModel' FROM '@([0-9]{1,4})$'))::integer,
        1536)
$$;

ALTER TABLE kb_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL;

DO $$
DECLARE
    c record;
BEGIN
    IF (SELECT value FROM schema_info WHERE key = 'embedding_type')
       LIKE 'vector%' THEN
        EXECUTE 'ALTER TABLE kb_chunks ALTER COLUMN embedding TYPE vector';
        EXECUTE 'ALTER TABLE kb_chunks ADD CONSTRAINT kb_chunks_embedding_dims '
                'CHECK (vector_dims(embedding) = restsync_embedding_dims(metadata))';
    ELSE
        -- 001's length check (unnamed there: found by what it says).
        FOR c IN SELECT conname FROM pg_constraint
                 WHERE conrelid = 'kb_chunks'::regclass AND contype = 'c'
                   AND pg_get_constraintdef(oid) LIKE '%array_length(embedding, 1) = 1536%'
        LOOP
            EXECUTE format('ALTER TABLE kb_chunks DROP CONSTRAINT %I', c.conname);
        END LOOP;
        ALTER TABLE kb_chunks ADD CONSTRAINT kb_chunks_embedding_dims
            CHECK (array_ndims(embedding) = 1
                   AND array_length(embedding, 1) = restsync_embedding_dims(metadata));
    END IF;
END
$$;
