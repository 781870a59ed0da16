-- A deleted source's own rate budget goes with it.  kb_rate_budgets
-- (010) holds one row per budget: "source:<id>" for a source's own
-- rateLimit, "provider:<tenant>:<provider>" for one shared by a tenant's
-- sources of a provider.  Deleting a source left its "source:" row
-- behind for ever (kb_rate_waits goes by its foreign key).  The trigger
-- removes it in the delete's own transaction, so a source deleted and a
-- budget row kept cannot be seen apart; a provider's budget stays, as
-- other sources (or a new one) may share it.  Rows orphaned before this
-- migration are removed once.

CREATE FUNCTION restsync_rate_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM kb_rate_budgets WHERE budget_key = 'source:' || OLD.id::text;
    RETURN OLD;
END
$$;

CREATE TRIGGER kb_sources_rate_forget AFTER DELETE ON kb_sources
    FOR EACH ROW EXECUTE FUNCTION restsync_rate_forget();

DELETE FROM kb_rate_budgets b
WHERE b.budget_key LIKE 'source:%'
  AND NOT EXISTS (SELECT 1 FROM kb_sources s
                  WHERE 'source:' || s.id::text = b.budget_key);
