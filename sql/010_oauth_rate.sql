-- Issue 17: OAuth2 client credentials (the access token cache) and the
-- shared rate budget.
--
-- kb_oauth_tokens: one access token per source, AES-256-GCM under the
-- secret key (common/pipeline/oauth.c), its associated data binding it to the
-- tenant, the source and a hash of the token URL, scope, audience and
-- client credentials it was issued for (so a token of an old client
-- secret or token URL never decrypts for the new one).  fresh_until is
-- shortly before the token's expires_in; a row past it is never used.
-- A rotated secret key leaves rows that no longer decrypt: each is then
-- a cache miss and is replaced by the next token.
CREATE TABLE kb_oauth_tokens (
    source_id   uuid PRIMARY KEY REFERENCES kb_sources(id) ON DELETE CASCADE,
    ciphertext  bytea NOT NULL CHECK (length(ciphertext) <= 16384),
    nonce       bytea NOT NULL CHECK (length(nonce) = 12),
    fresh_until timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- kb_rate_budgets: one row per budget ("source:<id>" or
-- "provider:<tenant>:<provider>"), holding the times (epoch
-- milliseconds, ascending) of the last grants, reservations in the near
-- future included.  restsync_rate_take() is the only writer.
CREATE TABLE kb_rate_budgets (
    budget_key  text PRIMARY KEY CHECK (length(budget_key) <= 200),
    slots       float8[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A source waiting for its budget, for the page: until when (the grant
-- it waits for, or the retryAfter it was answered).
CREATE TABLE kb_rate_waits (
    source_id   uuid PRIMARY KEY REFERENCES kb_sources(id) ON DELETE CASCADE,
    wait_until  timestamptz NOT NULL
);

-- Take one request from budget k: at most n requests in any window of
-- window_ms (plus margin_ms, so that the upstream never sees n + 1 in a
-- window for the few milliseconds between a grant and its request).  The
-- grant is at max(now, the n-th last grant + window + margin); it is
-- reserved only when its wait is at most max_wait_ms.  Returns the wait
-- in milliseconds and whether it was granted; a refused wait says how
-- long the caller would have had to wait.  One statement: the row lock
-- of the upsert serialises every worker and endpoint on the budget.
-- source (may be NULL) records the wait for the page when there is one.
CREATE FUNCTION restsync_rate_take(k text, n int, window_ms float8,
                                   margin_ms float8, max_wait_ms float8,
                                   source uuid,
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
        INSERT INTO kb_rate_waits (source_id, wait_until)
        VALUES (source, to_timestamp((now_ms + wait_ms) / 1000))
        ON CONFLICT (source_id) DO UPDATE SET wait_until = EXCLUDED.wait_until;
    END IF;
END
$$;
