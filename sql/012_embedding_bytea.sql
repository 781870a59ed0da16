-- Issue 13 ("The serial commit"): where pgvector is absent, kb_chunks.
-- embedding becomes raw float32 bytea, 4 little-endian bytes per
-- dimension, instead of real[].  PostgreSQL decoded the 76,800-element
-- float4[] parameter of every 50-item commit element by element; a bytea
-- slice is one copy, and the search scan (common/admin/inspect.c) reads
-- the bytes as they are.  make bench-commit measured the insert of 50
-- rows at p50 3.86 ms (real[]) against 2.19 ms (bytea), and a binary scan
-- six times faster (README "The serial commit").
--
-- Existing rows are converted in place, value for value (each real to its
-- 4 IEEE 754 bytes, little-endian); 011's size check becomes a length
-- check: 4 bytes per dimension of the chunk's model label.  Storage stays
-- EXTERNAL, as 011 decided (an ALTER ... TYPE resets it to the new type's
-- default, so it is set again).  schema_info.embedding_type says bytea.
--
-- pgvector databases keep their vector column: nothing changes there.
--
-- The number: 012 was free when 013 was written; the migrator applies
-- every file not yet recorded in name order, so a database that applied
-- 013 already applies this one next (it touches only the embedding column
-- and its check, which 013 does not).

-- Each real as its 4 IEEE 754 bytes, little-endian (float4send is
-- big-endian: each group of 4 is reversed).  NULL stays NULL.
CREATE FUNCTION restsync_embedding_bytes(v real[]) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
        substring(s.b FROM 4 FOR 1) || substring(s.b FROM 3 FOR 1) ||
        substring(s.b FROM 2 FOR 1) || substring(s.b FROM 1 FOR 1),
        ''::bytea ORDER BY s.o), ''::bytea)
    FROM (SELECT float4send(u.x) AS b, u.o
          FROM unnest(v) WITH ORDINALITY AS u(x, o)) s
$$;

-- The inverse, for operators and tests: the floats of a bytea embedding
-- (IEEE 754 binary32, little-endian; infinities and NaN included).
CREATE FUNCTION restsync_embedding_floats(e bytea) RETURNS real[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg((CASE
        WHEN w.ex = 255 AND w.m <> 0 THEN 'NaN'::float8
        WHEN w.ex = 255 THEN 'Infinity'::float8
        WHEN w.ex = 0 THEN w.m * (2::float8 ^ -149)
        ELSE (w.m + 8388608) * (2::float8 ^ (w.ex - 150)) END
        * (CASE WHEN w.s = 1 THEN -1 ELSE 1 END))::real
        ORDER BY w.i), '{}'::real[])
    FROM (SELECT i, (u >> 31) AS s, ((u >> 23) & 255) AS ex,
                 (u & 8388607) AS m
          FROM (SELECT i, (get_byte(e, 4 * i)::bigint
                    | (get_byte(e, 4 * i + 1)::bigint << 8)
                    | (get_byte(e, 4 * i + 2)::bigint << 16)
                    | (get_byte(e, 4 * i + 3)::bigint << 24)) AS u
                FROM generate_series(0, octet_length(e) / 4 - 1) AS i) b) w
$$;

DO $$
BEGIN
    IF (SELECT value FROM schema_info WHERE key = 'embedding_type')
       NOT LIKE 'vector%' THEN
        ALTER TABLE kb_chunks DROP CONSTRAINT kb_chunks_embedding_dims;
        ALTER TABLE kb_chunks ALTER COLUMN embedding TYPE bytea
            USING restsync_embedding_bytes(embedding);
        ALTER TABLE kb_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL;
        ALTER TABLE kb_chunks ADD CONSTRAINT kb_chunks_embedding_dims
            CHECK (octet_length(embedding) =
                   4 * restsync_embedding_dims(metadata));
        UPDATE schema_info
        SET value = 'bytea (float32 little-endian, 4 bytes per dimension)'
        WHERE key = 'embedding_type';
    END IF;
END
$$;
