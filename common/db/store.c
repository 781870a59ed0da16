/*
 * store.c — libpq access: one static SQL table, binary array parameters,
 * lazy (re)connection.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "store.h"

#define STORE_MAX_PARAM	(256u * 1024 * 1024)	/* one binary array */
#define OID_TEXTARRAY	1009
#define OID_FLOAT4ARRAY	1021
#define OID_TEXT	25
#define OID_FLOAT4	700
#define OID_INT4	23
#define OID_INT4ARRAY	1007
#define STORE_SWEEP_GROUP	2000	/* items per sweep statement */

enum stmt {
	STMT_IS_ADMIN,
	STMT_TRY_LOCK,
	STMT_LOCK_SOURCE,
	STMT_UNLOCK_SOURCE,
	STMT_EXISTING_HASHES,
	STMT_COMMIT_BATCH,
	STMT_COMMIT_BYTEA,
	STMT_EMB_KIND,
	STMT_RECORD_ERROR,
	STMT_ENSURE_RUN,
	STMT_ITEMS_LOOKUP,
	STMT_ITEMS_APPLY,
	STMT_DENSIFY,
	STMT_SWEEP_PLAN,
	STMT_SWEEP_GROUP,
	STMT_SWEEP_FINISH,
	STMT_AUDIT,
	STMT_GUARD,
	STMT_RUN_CHECK,
	STMT_RUN_RESTART,
	STMT_RUN_TAKEOVER,
	STMT_RUN_NEW,
	STMT_RUN_NOTIFY,
	STMT_RUN_STOP,
	STMT_RUN_STOP_NOW,
	STMT_INCR_LOAD,
	STMT_INCR_SAVE,
	STMT_SECRET_RELOAD,
	STMT__MAX
};

/*
 * STMT_COMMIT_BATCH and STMT_COMMIT_BYTEA: one atomic statement.  The
 * day's doc is created or extended only when there are chunks; chunk_idx
 * comes from the doc row's allocator (locked by the upsert, so
 * race-free); dedup is the unique (source_id, content_hash) index; the
 * cursor advances.  $11 is all embeddings in one flat binary parameter,
 * sliced per chunk ($36 floats each: the embedder's dimensions).  The two
 * differ only in that slice (COMMIT_HEAD, the slice, COMMIT_TAIL).
 */
#define COMMIT_HEAD \
	"WITH doc AS (" \
	"  INSERT INTO kb_docs AS d (tenant_id, source_id, title, status, " \
	"                            content_hash, next_chunk_idx) " \
	"  SELECT $1::uuid, $2::uuid, $3::text, 'ready', $4::text, $5::int " \
	"  WHERE $5::int > 0 " \
	"  ON CONFLICT (source_id, title, tenant_id) DO UPDATE SET " \
	"    next_chunk_idx = d.next_chunk_idx + EXCLUDED.next_chunk_idx, " \
	"    content_hash = encode(sha256(convert_to(" \
	"        coalesce(d.content_hash, '') || EXCLUDED.content_hash, " \
	"        'UTF8')), 'hex'), " \
	"    status = 'ready', error = NULL, updated_at = now() " \
	"  RETURNING d.id, d.next_chunk_idx - $5::int AS base" \
	"), ins AS (" \
	"  INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, " \
	"                         embedding, metadata, allowed_roles, " \
	"                         source_id, content_hash, item_refs) " \
	"  SELECT $1::uuid, doc.id, doc.base + u.ord::int - 1, u.title, " \
	"         u.content, "

#define COMMIT_TAIL \
	"         u.meta::jsonb, $6::text[], $2::uuid, u.hash, u.refs " \
	"  FROM doc, unnest($7::text[], $8::text[], $9::text[], $10::text[], " \
	"                   $27::int4[]) " \
	"       WITH ORDINALITY AS u(title, content, hash, meta, refs, ord) " \
	"  ON CONFLICT (source_id, content_hash, tenant_id) DO NOTHING " \
	"  RETURNING 1" \
	"), cur AS (" \
	"  INSERT INTO kb_rest_cursors AS c (tenant_id, source_id, next_cursor, " \
	"      page_count, item_count, last_status, last_http_status, " \
	"      last_synced_at, last_error, done, total, chunk_count) " \
	"  SELECT $1::uuid, $2::uuid, $12::text, 1, $13::bigint, $14::text, " \
	"      $15::int, now(), NULL, $16::boolean, $17::bigint, " \
	"      (SELECT count(*) FROM ins) + $23::bigint - $28::bigint " \
	"  WHERE $22::boolean " \
	"  ON CONFLICT (source_id, tenant_id) DO UPDATE SET " \
	"    next_cursor = EXCLUDED.next_cursor, " \
	"    page_count = c.page_count + 1, " \
	"    item_count = c.item_count + EXCLUDED.item_count, " \
	"    lifetime_pages = c.lifetime_pages + 1, " \
	"    lifetime_items = c.lifetime_items + EXCLUDED.item_count, " \
	"    last_status = EXCLUDED.last_status, " \
	"    last_http_status = EXCLUDED.last_http_status, " \
	"    last_synced_at = now(), last_error = NULL, " \
	"    done = EXCLUDED.done, " \
	"    total = coalesce(EXCLUDED.total, c.total), " \
	"    chunk_count = greatest(c.chunk_count + EXCLUDED.chunk_count, 0) " \
	"  RETURNING c.page_count, c.item_count, c.chunk_count" \
	"), run AS (" \
	"  UPDATE kb_rest_runs r SET pages = r.pages + 1, last_page_at = now(), " \
	"    items = r.items + $13::bigint, " \
	"    new_items = r.new_items + $30::bigint, " \
	"    changed_items = r.changed_items + $31::bigint, " \
	"    unchanged_items = r.unchanged_items + $32::bigint, " \
	"    chunks_inserted = r.chunks_inserted + (SELECT count(*) FROM ins) " \
	"        + $23::bigint, " \
	"    chunks_deleted = r.chunks_deleted + $28::bigint, " \
	"    embed_inputs = r.embed_inputs + $33::bigint, " \
	"    total_first = CASE WHEN r.pages = 0 THEN $17::bigint " \
	"        ELSE r.total_first END, " \
	"    total_changed = r.total_changed OR (r.pages > 0 AND " \
	"        r.total_last IS NOT NULL AND $17::bigint IS NOT NULL AND " \
	"        r.total_last <> $17::bigint), " \
	"    total_last = coalesce($17::bigint, r.total_last), " \
	"    no_sweep = coalesce(r.no_sweep, $34::text), " \
	"    status = CASE WHEN $16::boolean THEN 'done' ELSE 'running' END, " \
	"    finished_at = CASE WHEN $16::boolean THEN now() END, " \
	"    error = NULL " \
	"  WHERE r.id = $29::uuid AND $22::boolean " \
	"  RETURNING 1" \
	"), val AS (" \
	"  INSERT INTO kb_rest_page_validators AS v (tenant_id, source_id, " \
	"      page_key, etag, last_modified, next_cursor, done, items, " \
	"      total, item_keys) " \
	"  SELECT $1::uuid, $2::uuid, $18::text, $19::text, $20::text, " \
	"      $12::text, $16::boolean, $13::int, $17::bigint, $35::text[] " \
	"  WHERE $21::boolean AND $22::boolean " \
	"  ON CONFLICT (source_id, page_key, tenant_id) DO UPDATE SET " \
	"    etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, " \
	"    next_cursor = EXCLUDED.next_cursor, done = EXCLUDED.done, " \
	"    items = EXCLUDED.items, total = EXCLUDED.total, " \
	"    item_keys = EXCLUDED.item_keys, updated_at = now() " \
	"  RETURNING 1" \
	"), aud AS (" \
	"  INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, " \
	"      outcome, detail) " \
	"  SELECT $24::text, $25::text, $2::uuid, $1::uuid, $14::text, " \
	"      $26::jsonb || jsonb_build_object('inserted', " \
	"          (SELECT count(*) FROM ins) + $23::bigint) " \
	"  WHERE $22::boolean " \
	"  RETURNING 1" \
	") " \
	"SELECT (SELECT id FROM doc), (SELECT count(*) FROM ins), " \
	"       (SELECT page_count FROM cur), (SELECT item_count FROM cur), " \
	"       (SELECT chunk_count FROM cur), (SELECT count(*) FROM val), " \
	"       (SELECT count(*) FROM aud), (SELECT count(*) FROM run)"

/* The run in CTE "new" becomes the cursor's (its CTE "cur"). */
#define RUN_CURSOR \
	"), cur AS (" \
	"  INSERT INTO kb_rest_cursors AS c (tenant_id, source_id, run_id) " \
	"  SELECT $1::uuid, $2::uuid, id FROM new " \
	"  ON CONFLICT (source_id, tenant_id) DO UPDATE SET " \
	"    run_id = EXCLUDED.run_id " \
	"  RETURNING 1" \
	") "

static const char *const stmts[STMT__MAX] = {
	/* STMT_IS_ADMIN */
	"SELECT 1 FROM platform_admins WHERE username = $1",

	/* STMT_TRY_LOCK: the batch lock of a source (session-level; it dies
	 * with the connection if a worker dies). */
	"SELECT pg_try_advisory_lock(hashtextextended("
	"    '" DB_LOCK_SOURCE "' || $1::uuid::text, 0))",

	/*
	 * STMT_LOCK_SOURCE: load the source once its lock is held.  It must
	 * be a statement of its own, after STMT_TRY_LOCK: a statement's
	 * snapshot is taken when it starts, so a cursor read in the same
	 * statement that takes the lock could predate the commit of the
	 * batch that just released it (and fetch that page again).
	 */
	"SELECT s.tenant_id, s.type, s.title, s.config::text, s.enabled, "
	"       c.next_cursor, coalesce(c.page_count, 0), "
	"       coalesce(c.item_count, 0), coalesce(c.done, false), "
	"       sec.ciphertext, sec.nonce, "
	"       true, coalesce(c.chunk_count, 0), v.page_key IS NOT NULL, v.etag, "
	"       v.last_modified, v.next_cursor, coalesce(v.done, false), "
	"       coalesce(v.items, 0), v.total, c.run_id, r.status, "
	"       nullif(s.config->'allowedRolesOverride', 'null'::jsonb)::text, "
	"       to_json(v.item_keys)::text, coalesce(r.server, false), "
	"       sec.origin, sec.aad_version, "
	/* The model of one of its chunks (all share it: a batch never
	 * mixes models); NULL for none, '' for chunks from before the field
	 * (1536 dimensions: sql/011).
	 * ORDER BY the unique index's second column: one index probe
	 * whatever the statistics say, never a scan of kb_chunks. */
	"       (SELECT coalesce(k.metadata->>'embeddingModel', '') "
	"        FROM kb_chunks k "
	"        WHERE k.source_id = s.id ORDER BY k.content_hash LIMIT 1), "
	/* How the embedding column holds a vector (sql/012): read with
	 * every batch, so a migration is seen without a restart. */
	"       (SELECT value FROM schema_info WHERE key = 'embedding_type') "
	"FROM kb_sources s "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"LEFT JOIN kb_rest_runs r ON r.id = c.run_id "
	"LEFT JOIN kb_rest_page_validators v ON v.source_id = s.id "
	"      AND v.page_key = coalesce(c.next_cursor, '') "
	/* The secret entered for this baseUrl's origin (sql/007); batch.c
	 * checks the origin again before decrypting. */
	"LEFT JOIN integration_secrets sec ON sec.tenant_id = s.tenant_id "
	"      AND sec.provider = coalesce(s.config->>'provider', 'rest') "
	"      AND sec.origin = restsync_origin(s.config->>'baseUrl') "
	"      AND s.config->'requiresAuth' = 'true'::jsonb "
	"WHERE s.id = $1::uuid",

	/* STMT_UNLOCK_SOURCE */
	"SELECT pg_advisory_unlock(hashtextextended("
	"    '" DB_LOCK_SOURCE "' || $1::uuid::text, 0))",

	/*
	 * STMT_EXISTING_HASHES: 1-based positions of hashes already stored.
	 * One probe of the unique (source_id, content_hash) index per hash
	 * whatever the statistics say: a LATERAL subquery with LIMIT is
	 * never flattened into a join the planner could hash.
	 */
	"SELECT u.ord FROM unnest($2::text[]) WITH ORDINALITY AS u(h, ord) "
	"CROSS JOIN LATERAL (SELECT 1 FROM kb_chunks k "
	"    WHERE k.source_id = $1::uuid AND k.content_hash = u.h LIMIT 1) e",

	/* STMT_COMMIT_BATCH: $11 a float4[] (real[], or pgvector's vector
	 * by its assignment cast). */
	COMMIT_HEAD
	"         ($11::real[])[((u.ord::int - 1) * $36::int + 1):"
	"                           (u.ord::int * $36::int)], "
	COMMIT_TAIL,

	/* STMT_COMMIT_BYTEA (sql/012): $11 the float32 little-endian bytes,
	 * 4 * $36 per chunk; PostgreSQL copies each slice as it is. */
	COMMIT_HEAD
	"         substring($11::bytea FROM (u.ord::int - 1) * 4 * $36::int + 1 "
	"             FOR 4 * $36::int), "
	COMMIT_TAIL,

	/* STMT_EMB_KIND */
	"SELECT value FROM schema_info WHERE key = 'embedding_type'",

	/* STMT_RECORD_ERROR: the cursor row and the audit trail. */
	"WITH c AS ("
	"  INSERT INTO kb_rest_cursors AS c (tenant_id, source_id, "
	"      last_status, last_http_status, last_synced_at, last_error) "
	"  VALUES ($1::uuid, $2::uuid, 'error', $3::int, now(), $4::text) "
	"  ON CONFLICT (source_id, tenant_id) DO UPDATE SET last_status = 'error', "
	"      last_http_status = EXCLUDED.last_http_status, "
	"      last_synced_at = now(), last_error = EXCLUDED.last_error "
	"  RETURNING run_id"
	"), r AS ("
	"  UPDATE kb_rest_runs r SET status = 'failed', error = $4::text "
	"  FROM c WHERE r.id = c.run_id AND r.status = 'running' "
	"  RETURNING 1"
	") "
	"INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"    outcome, detail) "
	"SELECT $5::text, $6::text, $2::uuid, $1::uuid, 'error', "
	"    $7::jsonb || jsonb_build_object('error', $4::text, 'runFailed', "
	"        (SELECT count(*) FROM r) > 0) "
	"FROM c",

	/*
	 * STMT_ENSURE_RUN: $6 the cursor's run when it failed (it goes on:
	 * the cursor never moved past a failed page), else a new run that
	 * becomes the cursor's.  $5: the cursor is at the first page.
	 */
	"WITH old AS ("
	"  UPDATE kb_rest_runs SET status = 'running', error = NULL "
	"  WHERE id = $6::uuid AND source_id = $2::uuid "
	"    AND status IN ('running', 'failed') "
	"  RETURNING id"
	"), new AS ("
	"  INSERT INTO kb_rest_runs (tenant_id, source_id, actor, kind, "
	"      from_start) "
	"  SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::boolean "
	"  WHERE NOT EXISTS (SELECT 1 FROM old) "
	"  RETURNING id"
	RUN_CURSOR
	"SELECT coalesce((SELECT id FROM old), (SELECT id FROM new)), "
	"       (SELECT count(*) FROM new), (SELECT count(*) FROM cur)",

	/*
	 * STMT_ITEMS_LOOKUP: the stored items among the page's keys, one
	 * primary-key probe each: position, item hash, chunk hashes (comma
	 * separated), whether run $3 has seen it already, and whether that
	 * run counted it unchanged (seen, neither inserted nor changed
	 * since the run began: one probe of the runs' primary key).
	 */
	"SELECT u.ord, i.item_hash, array_to_string(i.chunk_hashes, ','), "
	"       i.last_seen_run IS NOT DISTINCT FROM $3::uuid, "
	"       $3::uuid IS NOT NULL AND i.last_seen_run = $3::uuid "
	"         AND i.first_seen_run IS DISTINCT FROM $3::uuid "
	"         AND i.changed_at < coalesce((SELECT r.started_at "
	"             FROM kb_rest_runs r WHERE r.id = $3::uuid), "
	"             '-infinity'::timestamptz) "
	"FROM unnest($2::text[]) WITH ORDINALITY AS u(k, ord) "
	"CROSS JOIN LATERAL (SELECT item_hash, chunk_hashes, last_seen_run, "
	"        first_seen_run, changed_at "
	"    FROM kb_rest_items i WHERE i.source_id = $1::uuid "
	"      AND i.item_key = u.k LIMIT 1) i",

	/*
	 * STMT_ITEMS_APPLY, first statement of a page's transaction:
	 *  d     reference changes of stored chunks ($9 hash, $10 change,
	 *        $11 item key and $12 title of an item that now holds it),
	 *        each row found by one probe of the unique (source_id,
	 *        content_hash) index: a chunk held by no item any more is
	 *        deleted (positions returned for STMT_DENSIFY), others get
	 *        their new count, title and item key
	 *  it    new and changed items ($4 key, $5 item hash, $6 chunk
	 *        hashes comma-separated, $7 title)
	 *  seen  unchanged items ($8 keys): seen in run $3
	 * Rows are changed by ctid = ANY (the probes' ctids): a TID scan, so
	 * no plan can read the source's rows to find them.
	 */
	"WITH d AS ("
	"  SELECT u.h, u.n, u.k, u.t, x.tid, x.refs, x.title, x.key "
	"  FROM unnest($9::text[], $10::int4[], $11::text[], $12::text[]) "
	"       AS u(h, n, k, t) "
	"  CROSS JOIN LATERAL (SELECT c.ctid AS tid, c.item_refs AS refs, "
	"      c.title, c.metadata->>'itemKey' AS key FROM kb_chunks c "
	"      WHERE c.source_id = $2::uuid AND c.content_hash = u.h "
	"      LIMIT 1) x"
	"), upd AS ("
	"  UPDATE kb_chunks c SET item_refs = c.item_refs + d.n, "
	"    title = coalesce(d.t, c.title), "
	"    metadata = CASE WHEN d.k IS NULL THEN c.metadata "
	"        ELSE c.metadata || jsonb_build_object('itemKey', d.k) END "
	"  FROM d WHERE c.ctid = ANY (ARRAY(SELECT tid FROM d "
	"      WHERE refs + n > 0 AND (n <> 0 "
	"        OR title IS DISTINCT FROM coalesce(t, title) "
	"        OR (k IS NOT NULL AND key IS DISTINCT FROM k)))) "
	"    AND c.ctid = d.tid "
	"  RETURNING 1"
	"), del AS ("
	"  DELETE FROM kb_chunks c USING d "
	"  WHERE c.ctid = ANY (ARRAY(SELECT tid FROM d WHERE refs + n <= 0)) "
	"    AND c.ctid = d.tid "
	"  RETURNING c.doc_id, c.chunk_idx"
	"), it AS ("
	"  INSERT INTO kb_rest_items AS i (tenant_id, source_id, item_key, "
	"      item_hash, chunk_hashes, title, first_seen_run, last_seen_run) "
	"  SELECT $1::uuid, $2::uuid, u.k, u.h, "
	"      coalesce(string_to_array(nullif(u.c, ''), ','), '{}'), u.t, "
	"      $3::uuid, $3::uuid "
	"  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) "
	"       AS u(k, h, c, t) "
	"  ON CONFLICT (source_id, item_key, tenant_id) DO UPDATE SET "
	"    item_hash = EXCLUDED.item_hash, "
	"    chunk_hashes = EXCLUDED.chunk_hashes, title = EXCLUDED.title, "
	"    last_seen_run = EXCLUDED.last_seen_run, last_seen_at = now(), "
	"    changed_at = now() "
	"  RETURNING 1"
	"), seen AS ("
	"  UPDATE kb_rest_items i SET last_seen_run = $3::uuid, "
	"    last_seen_at = now() "
	"  WHERE i.ctid = ANY (ARRAY(SELECT x.tid "
	"      FROM unnest($8::text[]) AS s(k) "
	"      CROSS JOIN LATERAL (SELECT ctid AS tid FROM kb_rest_items "
	"          WHERE source_id = $2::uuid AND item_key = s.k LIMIT 1) x)) "
	"  RETURNING 1"
	") "
	"SELECT (SELECT count(*) FROM del), "
	"       (SELECT array_agg(doc_id)::text FROM del), "
	"       (SELECT array_agg(chunk_idx)::text FROM del), "
	"       (SELECT count(*) FROM seen), "
	"       (SELECT count(*) FROM it), (SELECT count(*) FROM upd)",

	/*
	 * STMT_DENSIFY: after chunks at ($1 doc, $2 chunk_idx) were deleted,
	 * each doc's last chunks move into the holes, so that its indexes
	 * stay 0 .. next_chunk_idx - 1 (one row moved per deleted chunk,
	 * found by a range probe of (doc_id, chunk_idx), changed by ctid); a
	 * doc left empty goes.
	 */
	"WITH del AS ("
	"  SELECT * FROM unnest($1::uuid[], $2::int4[]) AS t(doc_id, idx)"
	"), cnt AS ("
	"  SELECT doc_id, count(*)::int AS k FROM del GROUP BY doc_id"
	"), docs AS ("
	"  SELECT d.id, d.next_chunk_idx - cnt.k AS n "
	"  FROM cnt CROSS JOIN LATERAL (SELECT id, next_chunk_idx FROM kb_docs "
	"      WHERE id = cnt.doc_id LIMIT 1) d"
	"), holes AS ("
	"  SELECT del.doc_id, del.idx, row_number() OVER "
	"      (PARTITION BY del.doc_id ORDER BY del.idx) AS rn "
	"  FROM del JOIN docs ON docs.id = del.doc_id WHERE del.idx < docs.n"
	"), movers AS ("
	"  SELECT m.tid, docs.id AS doc_id, row_number() OVER "
	"      (PARTITION BY docs.id ORDER BY m.chunk_idx) AS rn "
	"  FROM docs CROSS JOIN LATERAL (SELECT k.ctid AS tid, k.chunk_idx "
	"      FROM kb_chunks k WHERE k.doc_id = docs.id "
	"        AND k.chunk_idx >= docs.n ORDER BY k.chunk_idx) m"
	"), pairs AS ("
	"  SELECT m.tid, h.idx FROM movers m "
	"  JOIN holes h ON h.doc_id = m.doc_id AND h.rn = m.rn"
	"), mv AS ("
	"  UPDATE kb_chunks k SET chunk_idx = p.idx FROM pairs p "
	"  WHERE k.ctid = ANY (ARRAY(SELECT tid FROM pairs)) AND k.ctid = p.tid "
	"  RETURNING 1"
	"), kept AS ("
	"  UPDATE kb_docs d SET next_chunk_idx = docs.n, updated_at = now() "
	"  FROM docs WHERE d.id = docs.id AND docs.n > 0 "
	"  RETURNING 1"
	"), gone AS ("
	"  DELETE FROM kb_docs d USING docs WHERE d.id = docs.id "
	"    AND docs.n <= 0 "
	"  RETURNING 1"
	") "
	"SELECT (SELECT count(*) FROM mv), (SELECT count(*) FROM gone)",

	/*
	 * STMT_SWEEP_PLAN: run $2 of source $1 as it ends: the source's
	 * items, those the run did not see, and what the run recorded.
	 * Once per run (it counts the source's items by index).
	 */
	"SELECT (SELECT count(*) FROM kb_rest_items WHERE source_id = $1::uuid), "
	"       (SELECT count(*) FROM kb_rest_items WHERE source_id = $1::uuid "
	"          AND last_seen_run IS DISTINCT FROM $2::uuid), "
	"       r.from_start, r.total_changed, r.total_first, r.total_last, "
	"       r.no_sweep, r.status, r.sweep "
	"FROM kb_rest_runs r WHERE r.id = $2::uuid AND r.source_id = $1::uuid",

	/*
	 * STMT_SWEEP_GROUP: up to $3 items of source $1 not seen in run $2,
	 * keys after $4 (keyset), leave with their hold on chunks; a chunk
	 * no item holds any more is deleted (positions for STMT_DENSIFY).
	 * The group is walked once by the primary key into an array of row
	 * addresses, deleted by them, whatever the statistics: as "IN
	 * (SELECT ...)" a plan estimating the source at one row re-ran the
	 * walk for each of its items (100,000 items: 84 s a group), as
	 * "item_key = ANY (...)" it filtered every item of the source (2 s).
	 */
	"WITH gone AS ("
	"  DELETE FROM kb_rest_items i "
	"  WHERE i.ctid = ANY (ARRAY(SELECT ctid FROM kb_rest_items "
	"        WHERE source_id = $1::uuid AND item_key > $4::text "
	"          AND last_seen_run IS DISTINCT FROM $2::uuid "
	"        ORDER BY item_key LIMIT $3::int)) "
	"  RETURNING i.item_key, i.chunk_hashes"
	"), g AS ("
	"  SELECT h, count(*)::int AS n FROM gone, unnest(gone.chunk_hashes) h "
	"  GROUP BY h"
	"), d AS ("
	"  SELECT g.h, g.n, x.tid, x.refs FROM g "
	"  CROSS JOIN LATERAL (SELECT c.ctid AS tid, c.item_refs AS refs "
	"      FROM kb_chunks c WHERE c.source_id = $1::uuid "
	"        AND c.content_hash = g.h LIMIT 1) x"
	"), upd AS ("
	"  UPDATE kb_chunks c SET item_refs = c.item_refs - d.n FROM d "
	"  WHERE c.ctid = ANY (ARRAY(SELECT tid FROM d WHERE refs - n > 0)) "
	"    AND c.ctid = d.tid "
	"  RETURNING 1"
	"), del AS ("
	"  DELETE FROM kb_chunks c USING d "
	"  WHERE c.ctid = ANY (ARRAY(SELECT tid FROM d WHERE refs - n <= 0)) "
	"    AND c.ctid = d.tid "
	"  RETURNING c.doc_id, c.chunk_idx"
	") "
	"SELECT (SELECT count(*) FROM gone), (SELECT max(item_key) FROM gone), "
	"       (SELECT count(*) FROM del), "
	"       (SELECT array_agg(doc_id)::text FROM del), "
	"       (SELECT array_agg(chunk_idx)::text FROM del)",

	/*
	 * STMT_SWEEP_FINISH: what the sweep of run $2 did ($3 'done',
	 * 'held', 'skipped' or 'confirmed', $4 the note, $5 candidates, $6
	 * items removed, $7 chunks deleted); the cursor's chunk count.
	 */
	"WITH r AS ("
	"  UPDATE kb_rest_runs SET sweep = $3::text, sweep_note = $4::text, "
	"    sweep_candidates = $5::bigint, "
	"    removed_items = removed_items + $6::bigint, "
	"    chunks_deleted = chunks_deleted + $7::bigint "
	"  WHERE id = $2::uuid AND source_id = $1::uuid "
	"  RETURNING 1"
	"), c AS ("
	"  UPDATE kb_rest_cursors SET chunk_count = "
	"      greatest(chunk_count - $7::bigint, 0) "
	"  WHERE source_id = $1::uuid "
	"  RETURNING 1"
	") "
	"SELECT (SELECT count(*) FROM r)",

	/* STMT_AUDIT: one row of the trail for an action on a source. */
	"INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"    outcome, detail) "
	"VALUES ($1::text, $2::text, $3::uuid, $4::uuid, $5::text, $6::jsonb)",

	/*
	 * STMT_GUARD, first in a page's transaction: the source's roles are
	 * still those the batch loaded, and stay so until the page commits
	 * (a config update waits for the share lock; it then updates these
	 * chunks too).  A batch never writes chunks with roles the operator
	 * just changed; other edits do not disturb it.
	 */
	"SELECT 1 FROM kb_sources WHERE id = $1::uuid "
	"  AND nullif(config->'allowedRolesOverride', 'null'::jsonb) "
	"      IS NOT DISTINCT FROM $2::jsonb "
	"FOR SHARE",

	/*
	 * STMT_RUN_CHECK (rest-sync, rest-sync-stop): the source, its batch
	 * lock for this transaction (false: a batch runs), and its run.
	 */
	"SELECT pg_try_advisory_xact_lock(hashtextextended("
	"           '" DB_LOCK_SOURCE "' || s.id::text, 0)), "
	"       s.enabled, s.tenant_id, c.run_id, r.status, "
	"       coalesce(r.server, false), coalesce(c.done, false), "
	"       c.next_cursor IS NULL "
	"FROM kb_sources s "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"LEFT JOIN kb_rest_runs r ON r.id = c.run_id "
	"WHERE s.id = $1::uuid AND s.type = 'rest'",

	/* STMT_RUN_RESTART: a done source starts a new run from page 1. */
	"UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, "
	"    page_count = 0, item_count = 0, run_id = NULL "
	"WHERE source_id = $1::uuid",

	/* STMT_RUN_TAKEOVER: the cursor's unfinished run goes on server-side. */
	"UPDATE kb_rest_runs SET server = true, status = 'running', "
	"    stop_requested = false, error = NULL, executor = NULL "
	"WHERE id = $1::uuid "
	"RETURNING id",

	/* STMT_RUN_NEW: a new server-side run, the cursor's. */
	"WITH new AS ("
	"  INSERT INTO kb_rest_runs (tenant_id, source_id, actor, kind, "
	"      from_start, server) "
	"  SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::boolean, true "
	"  RETURNING id"
	RUN_CURSOR
	"SELECT id FROM new",

	/* STMT_RUN_NOTIFY: wake the workers (delivered at commit). */
	"SELECT pg_notify('restsync_runs', $1::text)",

	/*
	 * STMT_RUN_STOP: ask the run to stop after its page in flight; true
	 * when no worker carries it out (then it is stopped at once).
	 */
	"UPDATE kb_rest_runs SET stop_requested = true "
	"WHERE id = $1::uuid AND server AND status = 'running' "
	"RETURNING pg_try_advisory_xact_lock(hashtextextended("
	"    '" DB_LOCK_RUN "' || id::text, 0))",

	/* STMT_RUN_STOP_NOW */
	"UPDATE kb_rest_runs SET status = 'stopped', finished_at = now(), "
	"    error = coalesce(error, 'stopped by ' || $2::text) "
	"WHERE id = $1::uuid AND status = 'running'",
	/*
	 * STMT_INCR_LOAD: the source's high-water mark and its incremental
	 * runs since the last full one; run $2's mode (NULL: not decided),
	 * since and mark (common/pipeline/incremental.c).
	 */
	"SELECT (SELECT incr_mark FROM kb_rest_cursors "
	"          WHERE source_id = $1::uuid), "
	"       coalesce((SELECT incr_runs FROM kb_rest_cursors "
	"          WHERE source_id = $1::uuid), 0), "
	"       r.incremental, r.incr_since, r.incr_mark "
	"FROM (SELECT 1) one LEFT JOIN kb_rest_runs r "
	"  ON r.id = $2::uuid AND r.source_id = $1::uuid",

	/*
	 * STMT_INCR_SAVE: in a page's transaction: run $2's mode, since and
	 * mark (an incremental run may not sweep); $6 (the run's last page):
	 * the mark becomes the source's and the count of incremental runs
	 * since the last full one moves on (or back to 0).
	 */
	"WITH r AS ("
	"  UPDATE kb_rest_runs SET incremental = $3::boolean, "
	"    incr_since = $4::text, incr_mark = $5::text, "
	"    no_sweep = CASE WHEN $3::boolean THEN coalesce(no_sweep, "
	"      'an incremental run sees only the changed items') "
	"      ELSE no_sweep END "
	"  WHERE id = $2::uuid AND source_id = $1::uuid "
	"  RETURNING 1"
	") "
	"UPDATE kb_rest_cursors SET incr_mark = $5::text, "
	"    incr_runs = CASE WHEN $3::boolean THEN incr_runs + 1 ELSE 0 END "
	"WHERE source_id = $1::uuid AND $6::boolean "
	"  AND EXISTS (SELECT 1 FROM r)",

	/*
	 * STMT_SECRET_RELOAD: the source's secret as it is now (the row
	 * STMT_LOCK_SOURCE joins), for a batch whose copy predates a key
	 * rotation's commit.
	 */
	"SELECT sec.ciphertext, sec.nonce, sec.aad_version "
	"FROM kb_sources s "
	"JOIN integration_secrets sec ON sec.tenant_id = s.tenant_id "
	"      AND sec.provider = coalesce(s.config->>'provider', 'rest') "
	"      AND sec.origin = restsync_origin(s.config->>'baseUrl') "
	"WHERE s.id = $1::uuid",
};

static const struct db_table store_table = {
	"rs", stmts, STMT__MAX, STMT__MAX
};

struct store {
	struct db	*db;
	int		 emb;	/* enum store_emb; -1 not known yet */
};

/* The parameters of one statement: text, or binary with their type. */
#define STORE_MAX_PARAMS	40
struct params {
	int		 n;
	const char	*v[STORE_MAX_PARAMS];
	int		 lens[STORE_MAX_PARAMS];
	int		 fmts[STORE_MAX_PARAMS];
	Oid		 types[STORE_MAX_PARAMS];
};

/* run()'s retry rules (db.h). */
#define RETRY_NEVER	DB_RETRY_NEVER
#define RETRY_UNLOCKED	DB_RETRY_UNLOCKED
#define RETRY_ALWAYS	DB_RETRY_ALWAYS

enum rs_status
store_open(struct store **out, char *err)
{
	struct store	*st;
	enum rs_status	 rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if ((rc = db_open(&st->db, NULL, NULL, 0, err)) != RS_OK) {
		free(st);
		return rc;
	}
	st->emb = -1;
	*out = st;
	return RS_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	db_close(st->db);
	free(st);
}

int
store_round_trips(const struct store *st)
{
	return db_round_trips(st->db);
}

struct db *
store_db(struct store *st)
{
	return st->db;
}

/* Run statement s of the store's table (db_runp). */
static PGresult *
run(struct store *st, enum stmt s, int n, const Oid *types,
    const char *const *vals, const int *lens, const int *fmts,
    enum db_retry retry, char *err)
{
	return db_runp(st->db, &store_table, (size_t)s, n, types, vals, lens,
	    fmts, retry, err);
}

static void
params_init(struct params *p, int n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
}

/* Parameter i ($i+1) is the binary value in b, of type type. */
static void
param_bin(struct params *p, int i, const struct rs_buf *b, Oid type)
{
	p->v[i] = b->p;
	p->lens[i] = (int)b->len;
	p->fmts[i] = 1;
	p->types[i] = type;
}

static PGresult *
run_params(struct store *st, enum stmt s, const struct params *p,
    enum db_retry retry, char *err)
{
	return run(st, s, p->n, p->types, p->v, p->lens, p->fmts, retry, err);
}

/* Run a statement whose rows are not read (text parameters). */
static enum rs_status
exec_stmt(struct store *st, enum stmt s, int n, const char *const *v,
    enum db_retry retry, char *err)
{
	PGresult	*r;

	if ((r = run(st, s, n, NULL, v, NULL, NULL, retry, err)) == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

/* Run s (text parameters) for exactly one row; else *r is NULL, err
 * says none and the status is rc_none. */
static enum rs_status
run_row(struct store *st, enum stmt s, int n, const char *const *v,
    enum db_retry retry, PGresult **r, enum rs_status rc_none,
    const char *none, char *err)
{
	if ((*r = run(st, s, n, NULL, v, NULL, NULL, retry, err)) == NULL)
		return RS_EDB;
	if (PQntuples(*r) != 1) {
		PQclear(*r);
		*r = NULL;
		rs_errf(err, "%s", none);
		return rc_none;
	}
	return RS_OK;
}

/* schema_info.embedding_type's value as a kind. */
static enum store_emb
emb_kind(const char *type)
{
	if (strncmp(type, "vector", 6) == 0)
		return STORE_EMB_VECTOR;
	if (strncmp(type, "bytea", 5) == 0)
		return STORE_EMB_BYTEA;
	return STORE_EMB_REAL;
}

enum rs_status
store_embedding_kind(struct store *st, enum store_emb *kind, char *err)
{
	PGresult	*r;

	if (st->emb < 0) {
		if ((r = run(st, STMT_EMB_KIND, 0, NULL, NULL, NULL, NULL,
		    RETRY_UNLOCKED, err)) == NULL)
			return RS_EDB;
		st->emb = (int)emb_kind(PQntuples(r) == 1 ?
		    PQgetvalue(r, 0, 0) : "");
		PQclear(r);
	}
	*kind = (enum store_emb)st->emb;
	return RS_OK;
}

_Static_assert(sizeof(float) == 4, "an embedding is float32");

enum rs_status
store_is_admin(struct store *st, const char *user, int *ok, char *err)
{
	PGresult	*r;
	const char	*v[1] = { user };

	*ok = 0;
	if ((r = run(st, STMT_IS_ADMIN, 1, NULL, v, NULL, NULL, RETRY_ALWAYS,
	    err)) == NULL)
		return RS_EDB;
	*ok = PQntuples(r) == 1;
	PQclear(r);
	return RS_OK;
}

void
store_source_free(struct source_row *s)
{
	free(s->type);
	free(s->title);
	free(s->config);
	free(s->next_cursor);
	free(s->page_etag);
	free(s->page_last_modified);
	free(s->page_next);
	free(s->roles);
	free(s->page_keys);
	free(s->model);
	if (s->secret_ct != NULL)
		PQfreemem(s->secret_ct);
	if (s->secret_nonce != NULL)
		PQfreemem(s->secret_nonce);
	memset(s, 0, sizeof(*s));
}

/* Column col of row 0 as a new string, NULL when it is NULL; *oom is
 * set when the copy failed. */
static char *
dup_val(PGresult *r, int col, int *oom)
{
	char	*p;

	if (PQgetisnull(r, 0, col))
		return NULL;
	if ((p = strdup(PQgetvalue(r, 0, col))) == NULL)
		*oom = 1;
	return p;
}

/* The bytea (text form) of column col, unescaped; *oom as dup_val(). */
static unsigned char *
dup_bytea(PGresult *r, int col, size_t *len, int *oom)
{
	unsigned char	*p;

	*len = 0;
	if ((p = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, col),
	    len)) == NULL)
		*oom = 1;
	return p;
}

enum rs_status
store_reload_secret(struct store *st, struct source_row *s, char *err)
{
	PGresult	*r;
	const char	*v[1] = { s->id };
	unsigned char	*ct, *nonce;
	size_t		 ctlen, nlen;
	int		 oom = 0;

	if ((r = run(st, STMT_SECRET_RELOAD, 1, NULL, v, NULL, NULL,
	    RETRY_UNLOCKED, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		rs_errf(err, "the source's secret is gone");
		return RS_ENOTFOUND;
	}
	ct = dup_bytea(r, 0, &ctlen, &oom);
	nonce = dup_bytea(r, 1, &nlen, &oom);
	if (oom) {
		PQfreemem(ct);
		PQfreemem(nonce);
		PQclear(r);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (s->secret_ct != NULL)
		PQfreemem(s->secret_ct);
	if (s->secret_nonce != NULL)
		PQfreemem(s->secret_nonce);
	s->secret_ct = ct;
	s->secret_ct_len = ctlen;
	s->secret_nonce = nonce;
	s->secret_nonce_len = nlen;
	s->secret_aad = atoi(PQgetvalue(r, 0, 2));
	PQclear(r);
	return RS_OK;
}

/* STMT_LOCK_SOURCE's row into s (id set by the caller); -1 when out of
 * memory (s is then freed). */
static int
source_fill(PGresult *r, struct source_row *s)
{
	int	 oom = 0;

	(void)snprintf(s->tenant_id, sizeof(s->tenant_id), "%s",
	    PQgetvalue(r, 0, 0));
	s->type = dup_val(r, 1, &oom);
	s->title = dup_val(r, 2, &oom);
	s->config = dup_val(r, 3, &oom);
	s->enabled = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	s->next_cursor = dup_val(r, 5, &oom);
	s->page_count = atoi(PQgetvalue(r, 0, 6));
	s->item_count = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
	s->done = strcmp(PQgetvalue(r, 0, 8), "t") == 0;
	if (!PQgetisnull(r, 0, 9) && !PQgetisnull(r, 0, 10)) {
		s->secret_ct = dup_bytea(r, 9, &s->secret_ct_len, &oom);
		s->secret_nonce = dup_bytea(r, 10, &s->secret_nonce_len, &oom);
	}
	s->chunk_count = strtoll(PQgetvalue(r, 0, 12), NULL, 10);
	s->has_page = strcmp(PQgetvalue(r, 0, 13), "t") == 0;
	s->page_etag = dup_val(r, 14, &oom);
	s->page_last_modified = dup_val(r, 15, &oom);
	s->page_next = dup_val(r, 16, &oom);
	s->page_done = strcmp(PQgetvalue(r, 0, 17), "t") == 0;
	s->page_items = atoi(PQgetvalue(r, 0, 18));
	s->page_total = PQgetisnull(r, 0, 19) ? -1 :
	    strtoll(PQgetvalue(r, 0, 19), NULL, 10);
	(void)snprintf(s->run_id, sizeof(s->run_id), "%s",
	    PQgetvalue(r, 0, 20));
	(void)snprintf(s->run_status, sizeof(s->run_status), "%s",
	    PQgetvalue(r, 0, 21));
	s->roles = dup_val(r, 22, &oom);
	s->page_keys = dup_val(r, 23, &oom);
	s->run_server = strcmp(PQgetvalue(r, 0, 24), "t") == 0;
	(void)snprintf(s->secret_origin, sizeof(s->secret_origin), "%s",
	    PQgetvalue(r, 0, 25));
	s->secret_aad = atoi(PQgetvalue(r, 0, 26));
	s->model = dup_val(r, 27, &oom);
	if (s->type == NULL || s->title == NULL || s->config == NULL)
		oom = 1;
	if (oom) {
		store_source_free(s);
		return -1;
	}
	return 0;
}

/* Take the source's batch lock (session-level).  RS_EBUSY when held. */
static enum rs_status
store_try_lock(struct store *st, const char *id, char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	int		 got;

	if ((r = run(st, STMT_TRY_LOCK, 1, NULL, v, NULL, NULL, RETRY_ALWAYS,
	    err)) == NULL)
		return RS_EDB;
	got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!got) {
		rs_errf(err, "a batch for this source is already running");
		return RS_EBUSY;
	}
	db_set_locked(st->db, 1);
	return RS_OK;
}

enum rs_status
store_lock_source(struct store *st, const char *id, struct source_row *s,
    char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 rc;

	memset(s, 0, sizeof(*s));
	if ((rc = store_try_lock(st, id, err)) != RS_OK)
		return rc;
	if ((rc = run_row(st, STMT_LOCK_SOURCE, 1, v, RETRY_UNLOCKED, &r,
	    RS_ENOTFOUND, "no such source", err)) != RS_OK)
		goto fail;
	(void)snprintf(s->id, sizeof(s->id), "%s", id);
	if (source_fill(r, s) == -1) {
		rs_errf(err, "out of memory");
		rc = RS_ENOMEM;
		goto fail;
	}
	if (!PQgetisnull(r, 0, 28))
		st->emb = (int)emb_kind(PQgetvalue(r, 0, 28));
	PQclear(r);
	return RS_OK;
fail:
	PQclear(r);
	store_unlock_source(st, id);
	return rc;
}

void
store_unlock_source(struct store *st, const char *id)
{
	PGresult	*r;
	const char	*v[1] = { id };

	/* If the connection was lost, the lock went with it. */
	if (!db_locked(st->db))
		return;
	db_set_locked(st->db, 0);
	if ((r = run(st, STMT_UNLOCK_SOURCE, 1, NULL, v, NULL, NULL, RETRY_NEVER,
	    NULL)) != NULL)
		PQclear(r);
}

/* PostgreSQL binary array header for a 1-D array of n elements. */
static int
bin_header(struct rs_buf *b, uint32_t elemtype, size_t n)
{
	uint32_t	 h[5];

	if (n > INT32_MAX)
		return -1;
	h[0] = htonl(1);		/* ndim */
	h[1] = htonl(0);		/* has nulls */
	h[2] = htonl(elemtype);
	h[3] = htonl((uint32_t)n);	/* dimension */
	h[4] = htonl(1);		/* lower bound */
	return rs_buf_append(b, h, sizeof(h));
}

/* Binary text[] of strs[0..n) (NULL elements become empty strings). */
static int
bin_text_array(struct rs_buf *b, const char *const *strs, size_t stride,
    size_t n)
{
	const char	*s;
	uint32_t	 len;
	size_t		 i, l, total = 20;

	/* Size it exactly first: these arrays can be megabytes. */
	for (i = 0; i < n; i++) {
		s = *(const char *const *)(const void *)
		    ((const char *)strs + i * stride);
		l = s != NULL ? strlen(s) : 0;
		if (l > INT32_MAX || total > SIZE_MAX - 4 - l)
			return -1;
		total += 4 + l;
	}
	if (rs_buf_reserve(b, total) == -1 || bin_header(b, OID_TEXT, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = *(const char *const *)(const void *)
		    ((const char *)strs + i * stride);
		l = s != NULL ? strlen(s) : 0;
		if (l > INT32_MAX)
			return -1;
		len = htonl((uint32_t)l);
		if (rs_buf_append(b, &len, 4) == -1 ||
		    rs_buf_append(b, s != NULL ? s : "", l) == -1)
			return -1;
	}
	return 0;
}

/* Binary int4[] of vals[0..n), each an int at vals + i * stride. */
static int
bin_int_array(struct rs_buf *b, const int *vals, size_t stride, size_t n)
{
	uint32_t	 rec[2];
	size_t		 i;
	int		 v;

	if (n > INT32_MAX / 8 || rs_buf_reserve(b, 20 + n * 8) == -1 ||
	    bin_header(b, OID_INT4, n) == -1)
		return -1;
	rec[0] = htonl(4);
	for (i = 0; i < n; i++) {
		v = *(const int *)(const void *)((const char *)vals +
		    i * stride);
		rec[1] = htonl((uint32_t)v);
		if (rs_buf_append(b, rec, sizeof(rec)) == -1)
			return -1;
	}
	return 0;
}

/* Binary float4[] of every chunk's embedding (dims floats), flattened. */
static int
bin_embeddings(struct rs_buf *b, const struct store_chunk *c, size_t n,
    size_t dims)
{
	uint32_t	 rec[2], u;
	size_t		 i, j;
	char		*p;

	if (dims < 1 || dims > STORE_MAX_DIMS || n > INT32_MAX / dims ||
	    rs_buf_reserve(b, 20 + n * dims * sizeof(rec)) == -1 ||
	    bin_header(b, OID_FLOAT4, n * dims) == -1)
		return -1;
	/* Reserved above: write the elements in place. */
	p = b->p + b->len;
	rec[0] = htonl(4);
	for (i = 0; i < n; i++)
		for (j = 0; j < dims; j++) {
			memcpy(&u, &c[i].embedding[j], 4);
			rec[1] = htonl(u);
			memcpy(p, rec, sizeof(rec));
			p += sizeof(rec);
		}
	b->len += n * dims * sizeof(rec);
	b->p[b->len] = '\0';
	return 0;
}

/* Every chunk's embedding as float32 little-endian bytes (sql/012's
 * bytea), flattened: 4 * dims bytes a chunk. */
static int
bin_embeddings_bytea(struct rs_buf *b, const struct store_chunk *c,
    size_t n, size_t dims)
{
	size_t	 i;

	if (dims < 1 || dims > STORE_MAX_DIMS || n > INT32_MAX / 4 / dims ||
	    rs_buf_reserve(b, n * dims * 4) == -1)
		return -1;
	for (i = 0; i < n; i++)
		rs_f32le_put((unsigned char *)b->p + b->len + i * dims * 4,
		    c[i].embedding, dims);
	b->len += n * dims * 4;
	b->p[b->len] = '\0';
	return 0;
}

/*
 * Run probe statement s with $1 source_id, $2 the binary text[] of
 * keys[0..n) and, when np is 3, $3 arg3.  Its rows begin with the 1-based
 * position of a key (probe_pos()).
 */
static enum rs_status
probe_keys(struct store *st, enum stmt s, const char *source_id,
    const char *const *keys, size_t n, int np, const char *arg3,
    PGresult **out, char *err)
{
	struct rs_buf	 arr;
	struct params	 p;
	enum rs_status	 rc = RS_OK;

	*out = NULL;
	rs_buf_init(&arr, STORE_MAX_PARAM);
	if (bin_text_array(&arr, keys, sizeof(char *), n) == -1) {
		rs_errf(err, "out of memory");
		rc = RS_ENOMEM;
		goto out;
	}
	params_init(&p, np);
	p.v[0] = source_id;
	param_bin(&p, 1, &arr, OID_TEXTARRAY);
	p.v[2] = arg3;
	if ((*out = run_params(st, s, &p, RETRY_UNLOCKED, err)) == NULL)
		rc = RS_EDB;
out:
	rs_buf_free(&arr);
	return rc;
}

/* Row i's key position as an index below n, or -1. */
static long
probe_pos(PGresult *r, int i, size_t n)
{
	long	 k = strtol(PQgetvalue(r, i, 0), NULL, 10);

	return k >= 1 && (size_t)k <= n ? k - 1 : -1;
}

enum rs_status
store_existing_hashes(struct store *st, const char *source_id,
    const char *const *hashes, size_t n, unsigned char *exists, char *err)
{
	PGresult	*r;
	enum rs_status	 rc;
	long		 k;
	int		 i;

	memset(exists, 0, n);
	if (n == 0)
		return RS_OK;
	if ((rc = probe_keys(st, STMT_EXISTING_HASHES, source_id, hashes, n,
	    2, NULL, &r, err)) != RS_OK)
		return rc;
	for (i = 0; i < PQntuples(r); i++)
		if ((k = probe_pos(r, i, n)) >= 0)
			exists[k] = 1;
	PQclear(r);
	return RS_OK;
}

/* The commit's binary arrays. */
enum commit_arr {
	CA_ROLES,
	CA_TITLES,
	CA_CONTENTS,
	CA_HASHES,
	CA_META,
	CA_EMB,
	CA_REFS,
	CA_KEYS,
	CA__MAX
};

/* Text forms of the batch's numbers, for as long as the statement runs. */
struct commit_nums {
	char	 nchunks[32], items[32], http[32], total[32], prior[32];
	char	 cnt[5][32], dims[16];
};

/* b's arrays (the embeddings in the column's form); -1 when out of
 * memory or too large. */
static int
commit_arrays(struct rs_buf a[CA__MAX], const struct store_batch *b,
    enum store_emb kind)
{
	static const struct store_chunk none;
	const struct store_chunk *c = b->nchunks > 0 ? b->chunks : &none;
	size_t	 n = b->nchunks, dims = (size_t)b->dims;

	if (bin_text_array(&a[CA_ROLES], b->roles, sizeof(char *),
	    b->nroles) ||
	    bin_text_array(&a[CA_TITLES], &c->title, sizeof(*c), n) ||
	    bin_text_array(&a[CA_CONTENTS], &c->content, sizeof(*c), n) ||
	    bin_text_array(&a[CA_HASHES], &c->hash, sizeof(*c), n) ||
	    bin_text_array(&a[CA_META], &c->metadata, sizeof(*c), n) ||
	    bin_int_array(&a[CA_REFS], &c->refs, sizeof(*c), n) ||
	    bin_text_array(&a[CA_KEYS], b->page_item_keys, sizeof(char *),
	    b->npage_item_keys))
		return -1;
	return kind == STORE_EMB_BYTEA ?
	    bin_embeddings_bytea(&a[CA_EMB], c, n, dims) :
	    bin_embeddings(&a[CA_EMB], c, n, dims);
}

/* STMT_COMMIT_BATCH's (or _BYTEA's) 36 parameters. */
static void
commit_params(struct params *p, const struct store_batch *b,
    const struct rs_buf a[CA__MAX], enum store_emb kind,
    struct commit_nums *nm)
{
	params_init(p, 36);
	(void)snprintf(nm->nchunks, sizeof(nm->nchunks), "%zu", b->nchunks);
	(void)snprintf(nm->items, sizeof(nm->items), "%lld", b->items);
	(void)snprintf(nm->http, sizeof(nm->http), "%d", b->http_status);
	(void)snprintf(nm->total, sizeof(nm->total), "%lld", b->total);
	(void)snprintf(nm->prior, sizeof(nm->prior), "%lld",
	    b->prior_inserted);
	(void)snprintf(nm->cnt[0], sizeof(nm->cnt[0]), "%lld",
	    b->chunks_deleted);
	(void)snprintf(nm->cnt[1], sizeof(nm->cnt[1]), "%lld", b->new_items);
	(void)snprintf(nm->cnt[2], sizeof(nm->cnt[2]), "%lld",
	    b->changed_items);
	(void)snprintf(nm->cnt[3], sizeof(nm->cnt[3]), "%lld",
	    b->unchanged_items);
	(void)snprintf(nm->cnt[4], sizeof(nm->cnt[4]), "%lld",
	    b->embed_inputs);
	(void)snprintf(nm->dims, sizeof(nm->dims), "%d", b->dims);
	p->v[0] = b->tenant_id;
	p->v[1] = b->source_id;
	p->v[2] = b->doc_title;
	p->v[3] = b->batch_hash;
	p->v[4] = nm->nchunks;
	param_bin(p, 5, &a[CA_ROLES], OID_TEXTARRAY);
	param_bin(p, 6, &a[CA_TITLES], OID_TEXTARRAY);
	param_bin(p, 7, &a[CA_CONTENTS], OID_TEXTARRAY);
	param_bin(p, 8, &a[CA_HASHES], OID_TEXTARRAY);
	param_bin(p, 9, &a[CA_META], OID_TEXTARRAY);
	param_bin(p, 10, &a[CA_EMB], kind == STORE_EMB_BYTEA ? DB_OID_BYTEA :
	    OID_FLOAT4ARRAY);
	p->v[11] = b->next_cursor;
	p->v[12] = nm->items;
	p->v[13] = b->done ? "done" : "ok";
	p->v[14] = b->http_status > 0 ? nm->http : NULL;
	p->v[15] = b->done ? "true" : "false";
	p->v[16] = b->total >= 0 ? nm->total : NULL;
	p->v[17] = b->page_key != NULL ? b->page_key : "";
	p->v[18] = b->etag;
	p->v[19] = b->last_modified;
	p->v[20] = b->save_page ? "true" : "false";
	p->v[21] = b->advance ? "true" : "false";
	p->v[22] = nm->prior;
	p->v[23] = b->actor != NULL ? b->actor : "unknown";
	p->v[24] = b->action != NULL ? b->action : "sync";
	p->v[25] = b->detail != NULL ? b->detail : "{}";
	param_bin(p, 26, &a[CA_REFS], OID_INT4ARRAY);
	p->v[27] = nm->cnt[0];
	p->v[28] = b->run_id != NULL && *b->run_id != '\0' ? b->run_id : NULL;
	p->v[29] = nm->cnt[1];
	p->v[30] = nm->cnt[2];
	p->v[31] = nm->cnt[3];
	p->v[32] = nm->cnt[4];
	p->v[33] = b->no_sweep;
	param_bin(p, 34, &a[CA_KEYS], OID_TEXTARRAY);
	p->v[35] = nm->dims;
}

enum rs_status
store_commit_batch(struct store *st, const struct store_batch *b,
    struct store_commit *res, char *err)
{
	struct rs_buf		 a[CA__MAX];
	struct params		 p;
	struct commit_nums	 nm;
	PGresult		*r = NULL;
	enum store_emb		 kind;
	enum rs_status		 rc;
	size_t			 i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < CA__MAX; i++)
		rs_buf_init(&a[i], STORE_MAX_PARAM);
	if ((rc = store_embedding_kind(st, &kind, err)) != RS_OK)
		goto out;
	if (commit_arrays(a, b, kind) == -1) {
		rs_errf(err, "out of memory building the batch");
		rc = RS_ENOMEM;
		goto out;
	}
	commit_params(&p, b, a, kind, &nm);
	rc = RS_EDB;
	if ((r = run_params(st, kind == STORE_EMB_BYTEA ? STMT_COMMIT_BYTEA :
	    STMT_COMMIT_BATCH, &p, RETRY_NEVER, err)) == NULL)
		goto out;
	if (PQntuples(r) != 1) {
		rs_errf(err, "database: commit returned no row");
		goto out;
	}
	if (!PQgetisnull(r, 0, 0))
		(void)snprintf(res->doc_id, sizeof(res->doc_id), "%s",
		    PQgetvalue(r, 0, 0));
	res->inserted = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	/* Empty (NULL) when the cursor was not advanced. */
	res->page_count = atoi(PQgetvalue(r, 0, 2));
	res->item_count = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	res->chunk_count = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	rc = RS_OK;
out:
	PQclear(r);
	for (i = 0; i < CA__MAX; i++)
		rs_buf_free(&a[i]);
	return rc;
}

enum rs_status
store_tx(struct store *st, enum store_tx tx, char *err)
{
	switch (tx) {
	case STORE_BEGIN:
		return db_begin(st->db, err);
	case STORE_COMMIT:
		return db_commit(st->db, err);
	case STORE_ROLLBACK:
		db_rollback(st->db);
		return RS_OK;
	default:
		return RS_EINTERNAL;
	}
}

enum rs_status
store_record_error(struct store *st, const char *tenant_id,
    const char *source_id, int http_status, const char *msg,
    const char *actor, const char *action, const char *detail, char *err)
{
	char		 http[32];
	const char	*v[7];

	(void)snprintf(http, sizeof(http), "%d", http_status);
	v[0] = tenant_id;
	v[1] = source_id;
	v[2] = http_status > 0 ? http : NULL;
	v[3] = msg;
	v[4] = actor != NULL ? actor : "unknown";
	v[5] = action != NULL ? action : "sync";
	v[6] = detail != NULL ? detail : "{}";
	return exec_stmt(st, STMT_RECORD_ERROR, 7, v, RETRY_ALWAYS, err);
}

enum rs_status
store_ensure_run(struct store *st, const char *tenant_id,
    const char *source_id, const char *actor, const char *kind,
    int from_start, const char *resume_run, char run_id[37], int *created,
    char *err)
{
	PGresult	*r;
	const char	*v[6];

	run_id[0] = '\0';
	*created = 0;
	v[0] = tenant_id;
	v[1] = source_id;
	v[2] = actor != NULL ? actor : "unknown";
	v[3] = kind != NULL ? kind : "sync";
	v[4] = from_start ? "true" : "false";
	v[5] = resume_run != NULL && *resume_run != '\0' ? resume_run : NULL;
	if ((r = run(st, STMT_ENSURE_RUN, 6, NULL, v, NULL, NULL, RETRY_NEVER,
	    err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		rs_errf(err, "database: no run could be started");
		return RS_EDB;
	}
	(void)snprintf(run_id, 37, "%s", PQgetvalue(r, 0, 0));
	*created = strcmp(PQgetvalue(r, 0, 1), "1") == 0;
	PQclear(r);
	return RS_OK;
}

void
store_item_states_free(struct store_item_state *s, size_t n)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(s[i].chunks);
		s[i].chunks = NULL;
	}
}

enum rs_status
store_items_lookup(struct store *st, const char *source_id,
    const char *run_id, const char *const *keys, size_t n,
    struct store_item_state *out, char *err)
{
	PGresult	*r;
	enum rs_status	 rc;
	long		 k;
	int		 i;

	memset(out, 0, n * sizeof(*out));
	if (n == 0)
		return RS_OK;
	if ((rc = probe_keys(st, STMT_ITEMS_LOOKUP, source_id, keys, n, 3,
	    run_id != NULL && *run_id != '\0' ? run_id : NULL, &r, err)) !=
	    RS_OK)
		return rc;
	for (i = 0; i < PQntuples(r); i++) {
		if ((k = probe_pos(r, i, n)) < 0)
			continue;
		out[k].found = 1;
		(void)snprintf(out[k].hash, sizeof(out[k].hash), "%s",
		    PQgetvalue(r, i, 1));
		out[k].seen_in_run = strcmp(PQgetvalue(r, i, 3), "t") == 0;
		out[k].was_same = strcmp(PQgetvalue(r, i, 4), "t") == 0;
		if ((out[k].chunks = strdup(PQgetvalue(r, i, 2))) == NULL) {
			store_item_states_free(out, n);
			rs_errf(err, "out of memory");
			rc = RS_ENOMEM;
			break;
		}
	}
	PQclear(r);
	return rc;
}

/* Keep the docs dense after the deletions listed as array literals. */
static enum rs_status
store_densify(struct store *st, const char *docs, const char *idxs,
    char *err)
{
	const char	*v[2] = { docs, idxs };

	return exec_stmt(st, STMT_DENSIFY, 2, v, RETRY_NEVER, err);
}

enum rs_status
store_items_apply(struct store *st, const struct store_items *it,
    struct store_items_res *res, char *err)
{
	struct rs_buf	 a[9];
	struct params	 p;
	PGresult	*r = NULL;
	enum rs_status	 rc = RS_ENOMEM;
	size_t		 i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < 9; i++)
		rs_buf_init(&a[i], STORE_MAX_PARAM);
	if (bin_text_array(&a[0], it->keys, sizeof(char *), it->n) ||
	    bin_text_array(&a[1], it->hashes, sizeof(char *), it->n) ||
	    bin_text_array(&a[2], it->chunk_lists, sizeof(char *), it->n) ||
	    bin_text_array(&a[3], it->titles, sizeof(char *), it->n) ||
	    bin_text_array(&a[4], it->seen, sizeof(char *), it->nseen) ||
	    bin_text_array(&a[5], it->dh, sizeof(char *), it->nd) ||
	    bin_int_array(&a[6], it->dn, sizeof(int), it->nd) ||
	    bin_text_array(&a[7], it->dk, sizeof(char *), it->nd) ||
	    bin_text_array(&a[8], it->dt, sizeof(char *), it->nd)) {
		rs_errf(err, "out of memory building the items");
		goto out;
	}
	params_init(&p, 12);
	p.v[0] = it->tenant_id;
	p.v[1] = it->source_id;
	p.v[2] = it->run_id;
	for (i = 0; i < 9; i++)
		param_bin(&p, 3 + (int)i, &a[i], i == 6 ? OID_INT4ARRAY :
		    OID_TEXTARRAY);
	rc = RS_EDB;
	if ((r = run_params(st, STMT_ITEMS_APPLY, &p, RETRY_NEVER, err)) ==
	    NULL)
		goto out;
	if (PQntuples(r) != 1) {
		rs_errf(err, "database: items statement returned no row");
		goto out;
	}
	res->chunks_deleted = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	res->seen = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	rc = RS_OK;
	if (res->chunks_deleted > 0)
		rc = store_densify(st, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		    err);
out:
	PQclear(r);
	for (i = 0; i < 9; i++)
		rs_buf_free(&a[i]);
	return rc;
}

enum rs_status
store_sweep_plan(struct store *st, const char *source_id, const char *run_id,
    struct store_sweep_plan *p, char *err)
{
	PGresult	*r;
	const char	*v[2] = { source_id, run_id };
	enum rs_status	 rc;

	memset(p, 0, sizeof(*p));
	p->total_first = p->total_last = -1;
	if ((rc = run_row(st, STMT_SWEEP_PLAN, 2, v, RETRY_NEVER, &r,
	    RS_ENOTFOUND, "no such run of this source", err)) != RS_OK)
		return rc;
	p->live = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	p->missing = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	p->from_start = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	p->total_changed = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	if (!PQgetisnull(r, 0, 4))
		p->total_first = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	if (!PQgetisnull(r, 0, 5))
		p->total_last = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
	(void)snprintf(p->no_sweep, sizeof(p->no_sweep), "%s",
	    PQgetvalue(r, 0, 6));
	(void)snprintf(p->status, sizeof(p->status), "%s",
	    PQgetvalue(r, 0, 7));
	(void)snprintf(p->sweep, sizeof(p->sweep), "%s", PQgetvalue(r, 0, 8));
	PQclear(r);
	return RS_OK;
}

enum rs_status
store_sweep_group(struct store *st, const char *source_id, const char *run_id,
    int limit, char *after, size_t aftersz, long long *items,
    long long *chunks, char *err)
{
	PGresult	*r;
	const char	*v[4];
	char		 lim[16];
	enum rs_status	 rc;

	*items = *chunks = 0;
	(void)snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit :
	    STORE_SWEEP_GROUP);
	v[0] = source_id;
	v[1] = run_id;
	v[2] = lim;
	v[3] = after;
	if ((rc = run_row(st, STMT_SWEEP_GROUP, 4, v, RETRY_NEVER, &r, RS_EDB,
	    "database: sweep statement returned no row", err)) != RS_OK)
		return rc;
	*items = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*chunks = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	if (*items > 0) {
		if ((size_t)PQgetlength(r, 0, 1) >= aftersz) {
			PQclear(r);
			rs_errf(err, "sweep: an item key is too long");
			return RS_EINTERNAL;
		}
		(void)snprintf(after, aftersz, "%s", PQgetvalue(r, 0, 1));
	}
	rc = RS_OK;
	if (*chunks > 0)
		rc = store_densify(st, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4),
		    err);
	PQclear(r);
	return rc;
}

enum rs_status
store_sweep_finish(struct store *st, const char *source_id,
    const char *run_id, const char *sweep, const char *note,
    long long candidates, long long removed, long long chunks, char *err)
{
	const char	*v[7];
	char		 n[3][32];

	(void)snprintf(n[0], sizeof(n[0]), "%lld", candidates);
	(void)snprintf(n[1], sizeof(n[1]), "%lld", removed);
	(void)snprintf(n[2], sizeof(n[2]), "%lld", chunks);
	v[0] = source_id;
	v[1] = run_id;
	v[2] = sweep;
	v[3] = note;
	v[4] = n[0];
	v[5] = n[1];
	v[6] = n[2];
	return exec_stmt(st, STMT_SWEEP_FINISH, 7, v, RETRY_NEVER, err);
}

enum rs_status
store_audit(struct store *st, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, const char *outcome,
    const char *detail, char *err)
{
	const char	*v[6];

	v[0] = actor != NULL ? actor : "unknown";
	v[1] = action;
	v[2] = source_id;
	v[3] = tenant_id;
	v[4] = outcome;
	v[5] = detail != NULL ? detail : "{}";
	return exec_stmt(st, STMT_AUDIT, 6, v, RETRY_NEVER, err);
}

enum rs_status
store_guard_source(struct store *st, const struct source_row *src, char *err)
{
	PGresult	*r;
	const char	*v[2] = { src->id, src->roles };
	int		 n;

	if ((r = run(st, STMT_GUARD, 2, NULL, v, NULL, NULL, RETRY_NEVER,
	    err)) == NULL)
		return RS_EDB;
	n = PQntuples(r);
	PQclear(r);
	if (n != 1) {
		rs_errf(err, "the source's allowedRolesOverride was changed "
		    "while the batch ran; nothing was written, the next batch "
		    "uses the new roles");
		return RS_EBUSY;
	}
	return RS_OK;
}

/* One value of a one-row statement, as text ("" when none). */
static enum rs_status
store_exec1(struct store *st, enum stmt s, int n, const char *const *v,
    char *out, size_t outsz, int *rows, char *err)
{
	PGresult	*r;

	if ((r = run(st, s, n, NULL, v, NULL, NULL, RETRY_NEVER, err)) ==
	    NULL)
		return RS_EDB;
	if (rows != NULL)
		*rows = PQntuples(r);
	if (out != NULL)
		(void)snprintf(out, outsz, "%s", PQntuples(r) > 0 &&
		    PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return RS_OK;
}

/* A source as rest-sync and rest-sync-stop see it (STMT_RUN_CHECK). */
struct run_check {
	int	 locked;	/* the batch lock, for this transaction */
	int	 enabled;
	int	 server;	/* the cursor's run is server-side */
	int	 done;
	int	 first;		/* the cursor is at the first page */
	char	 run[37];	/* the cursor's run, "" none */
	char	 status[16];
};

/* Begin a transaction and read the source; RS_ENOTFOUND (rolled back). */
static enum rs_status
store_run_check(struct store *st, const char *source_id, char tenant_id[37],
    struct run_check *c, char *err)
{
	PGresult	*r;
	const char	*v[1] = { source_id };
	enum rs_status	 rc;

	memset(c, 0, sizeof(*c));
	tenant_id[0] = '\0';
	if ((rc = store_tx(st, STORE_BEGIN, err)) != RS_OK)
		return rc;
	if ((r = run(st, STMT_RUN_CHECK, 1, NULL, v, NULL, NULL, RETRY_NEVER,
	    err)) == NULL) {
		(void)store_tx(st, STORE_ROLLBACK, NULL);
		return RS_EDB;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		(void)store_tx(st, STORE_ROLLBACK, NULL);
		rs_errf(err, "no such source");
		return RS_ENOTFOUND;
	}
	c->locked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	c->enabled = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	(void)snprintf(tenant_id, 37, "%s", PQgetvalue(r, 0, 2));
	(void)snprintf(c->run, sizeof(c->run), "%s", PQgetvalue(r, 0, 3));
	(void)snprintf(c->status, sizeof(c->status), "%s",
	    PQgetvalue(r, 0, 4));
	c->server = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	c->done = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
	c->first = strcmp(PQgetvalue(r, 0, 7), "t") == 0;
	PQclear(r);
	return RS_OK;
}

/* A failed rest-sync or rest-sync-stop: its transaction rolled back. */
static enum rs_status
run_fail(struct store *st, char run_id[37], enum rs_status rc)
{
	(void)store_tx(st, STORE_ROLLBACK, NULL);
	run_id[0] = '\0';
	return rc;
}

enum rs_status
store_run_start(struct store *st, const char *source_id, const char *actor,
    char run_id[37], char tenant_id[37], int *restarted, char *err)
{
	struct run_check	 c;
	const char		*v[5];
	int			 first, rows;
	enum rs_status		 rc;

	run_id[0] = '\0';
	*restarted = 0;
	if ((rc = store_run_check(st, source_id, tenant_id, &c, err)) != RS_OK)
		return rc;
	rc = RS_EBUSY;
	if (!c.locked) {
		rs_errf(err, "a batch for this source is already running");
		goto fail;
	}
	if (!c.enabled) {
		rs_errf(err, "source is disabled; enable it to sync");
		rc = RS_EDISABLED;
		goto fail;
	}
	if (strcmp(c.status, "running") == 0 && c.server) {
		rs_errf(err, "a run of this source is already going (run %s)",
		    c.run);
		goto fail;
	}
	first = c.first;
	v[0] = source_id;
	if (c.done) {
		if ((rc = exec_stmt(st, STMT_RUN_RESTART, 1, v, RETRY_NEVER,
		    err)) != RS_OK)
			goto fail;
		*restarted = 1;
		first = 1;
	} else if (strcmp(c.status, "running") == 0 ||
	    strcmp(c.status, "failed") == 0) {
		v[0] = c.run;
		if ((rc = store_exec1(st, STMT_RUN_TAKEOVER, 1, v, run_id, 37,
		    &rows, err)) != RS_OK)
			goto fail;
	}
	if (run_id[0] == '\0') {
		v[0] = tenant_id;
		v[1] = source_id;
		v[2] = actor;
		v[3] = "sync-to-end";
		v[4] = first ? "true" : "false";
		if ((rc = store_exec1(st, STMT_RUN_NEW, 5, v, run_id, 37, NULL,
		    err)) != RS_OK)
			goto fail;
	}
	v[0] = run_id;
	if ((rc = exec_stmt(st, STMT_RUN_NOTIFY, 1, v, RETRY_NEVER, err)) ==
	    RS_OK)
		return RS_OK;
fail:
	return run_fail(st, run_id, rc);
}

enum rs_status
store_run_stop(struct store *st, const char *source_id, const char *actor,
    char run_id[37], char tenant_id[37], int *now, char *err)
{
	struct run_check	 c;
	const char		*v[2];
	char			 unclaimed[8];
	int			 rows = 0;
	enum rs_status		 rc;

	run_id[0] = '\0';
	*now = 0;
	if ((rc = store_run_check(st, source_id, tenant_id, &c, err)) != RS_OK)
		return rc;
	(void)snprintf(run_id, 37, "%s", c.run);
	v[0] = run_id;
	unclaimed[0] = '\0';
	if (run_id[0] == '\0' || (rc = store_exec1(st, STMT_RUN_STOP, 1, v,
	    unclaimed, sizeof(unclaimed), &rows, err)) != RS_OK || rows != 1) {
		if (run_id[0] == '\0' || rc == RS_OK) {
			rs_errf(err, "no run of this source is going");
			rc = RS_EBUSY;
		}
		goto fail;
	}
	if (strcmp(unclaimed, "t") == 0) {
		v[1] = actor;
		if ((rc = exec_stmt(st, STMT_RUN_STOP_NOW, 2, v, RETRY_NEVER,
		    err)) != RS_OK)
			goto fail;
		*now = 1;
	}
	return RS_OK;
fail:
	return run_fail(st, run_id, rc);
}

enum rs_status
store_incr_load(struct store *st, const char *source_id, const char *run_id,
    struct store_incr *out, char *err)
{
	PGresult	*r;
	const char	*v[2];

	memset(out, 0, sizeof(*out));
	v[0] = source_id;
	v[1] = run_id != NULL && *run_id != '\0' ? run_id : NULL;
	if ((r = run(st, STMT_INCR_LOAD, 2, NULL, v, NULL, NULL,
	    RETRY_UNLOCKED, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) == 1) {
		(void)snprintf(out->mark, sizeof(out->mark), "%s",
		    PQgetvalue(r, 0, 0));
		out->runs = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
		out->decided = !PQgetisnull(r, 0, 2);
		out->incremental = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
		(void)snprintf(out->since, sizeof(out->since), "%s",
		    PQgetvalue(r, 0, 3));
		(void)snprintf(out->run_mark, sizeof(out->run_mark), "%s",
		    PQgetvalue(r, 0, 4));
	}
	PQclear(r);
	return RS_OK;
}

enum rs_status
store_incr_save(struct store *st, const char *source_id, const char *run_id,
    int incremental, const char *since, const char *mark, int done,
    char *err)
{
	const char	*v[6];

	v[0] = source_id;
	v[1] = run_id;
	v[2] = incremental ? "true" : "false";
	v[3] = since;
	v[4] = mark;
	v[5] = done ? "true" : "false";
	return exec_stmt(st, STMT_INCR_SAVE, 6, v, RETRY_NEVER, err);
}
