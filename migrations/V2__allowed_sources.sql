-- Source networks ingest accepts when PRPULSE_SOURCE_ALLOWLIST is on (it
-- is off by default). Rows of origin 'github' mirror the `hooks` ranges of
-- GitHub's REST /meta endpoint; operators may add their own origins.
CREATE TABLE allowed_sources (
    origin     text        NOT NULL,
    network    text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, network)
);
