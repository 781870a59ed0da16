-- Conditional fetches: the validators (ETag, Last-Modified) of each page a
-- source fetched, keyed by the cursor position the page was fetched at
-- ('' = the first page), with what followed that page, so that a 304 can
-- move the sync on without re-reading the page.  Kept out of the source
-- config on purpose.  Rows go with their source.
CREATE TABLE kb_rest_page_validators (
    source_id     uuid NOT NULL REFERENCES kb_sources(id) ON DELETE CASCADE,
    page_key      text NOT NULL,
    etag          text,
    last_modified text,
    next_cursor   text,
    done          boolean NOT NULL DEFAULT false,
    items         integer NOT NULL DEFAULT 0,
    total         bigint,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, page_key)
);
