-- The config as the operator saved it (its key order; jsonb keeps its
-- own), returned by the list so that the Edit form shows it as typed.
-- kb_sources.config stays the one the programs read.  NULL for rows from
-- before: the list then returns config as jsonb orders it.
ALTER TABLE kb_sources ADD COLUMN config_text text
    CHECK (config_text IS NULL OR length(config_text) <= 262144);
