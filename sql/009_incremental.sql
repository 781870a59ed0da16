-- Incremental syncs (config "incremental", common/pipeline/incremental.c,
-- docs/SYNC-RUNS.md "Incremental runs").
--   kb_rest_cursors.incr_mark  the source's high-water mark: the largest
--                  cursorPath value seen by its last completed run (NULL:
--                  none, the next run is full); advanced in the
--                  transaction of a run's last page; Reset clears it
--   kb_rest_cursors.incr_runs  incremental runs completed since the last
--                  full one (fullEvery)
--   kb_rest_runs.incremental   true: the run sent param=incr_since and
--                  may not sweep; false: a full run; NULL: the source is
--                  not incremental (or the run stored no page yet)
--   kb_rest_runs.incr_since    the value sent as the param (NULL: none)
--   kb_rest_runs.incr_mark     the run's mark so far
ALTER TABLE kb_rest_cursors
    ADD COLUMN incr_mark text CHECK (incr_mark IS NULL OR length(incr_mark) <= 512),
    ADD COLUMN incr_runs integer NOT NULL DEFAULT 0;
ALTER TABLE kb_rest_runs
    ADD COLUMN incremental boolean,
    ADD COLUMN incr_since text CHECK (incr_since IS NULL OR length(incr_since) <= 512),
    ADD COLUMN incr_mark text CHECK (incr_mark IS NULL OR length(incr_mark) <= 512);
