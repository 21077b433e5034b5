-- The independent database ceiling's own tables: the shape of what the
-- worker writes for one delivery (the ledger row with its raw payload, the
-- pull request's row), copied from the migrations as of V14 and kept
-- apart from them, so prpulse's schema and code can change without
-- moving the yardstick. No foreign keys: the ceiling writes two tables.
CREATE TABLE ceiling_deliveries (
    delivery_id         text PRIMARY KEY,
    event               text        NOT NULL,
    action              text,
    hook_id             bigint,
    source              text        NOT NULL,
    received_at         timestamptz NOT NULL,
    processed_at        timestamptz NOT NULL DEFAULT now(),
    outcome             text        NOT NULL,
    payload             bytea COMPRESSION lz4,
    repository_id       bigint,
    pull_request_number integer
);
CREATE INDEX ON ceiling_deliveries (received_at);
CREATE INDEX ON ceiling_deliveries (event, action);
CREATE INDEX ON ceiling_deliveries (repository_id, pull_request_number)
    WHERE repository_id IS NOT NULL;

CREATE TABLE ceiling_pull_requests (
    repository_id    bigint      NOT NULL,
    number           integer     NOT NULL,
    github_id        bigint      NOT NULL,
    author_id        bigint,
    version_rank     smallint    NOT NULL,
    version_at       timestamptz NOT NULL,
    version_delivery text        NOT NULL,
    title            text,
    state            text        NOT NULL,
    draft            boolean     NOT NULL,
    closed_at        timestamptz,
    additions        integer,
    deletions        integer,
    changed_files    integer,
    head_ref         text,
    base_ref         text,
    created_at       timestamptz NOT NULL,
    merged_at        timestamptz,
    PRIMARY KEY (repository_id, number)
);
CREATE INDEX ON ceiling_pull_requests (github_id);
CREATE INDEX ON ceiling_pull_requests (created_at);
CREATE INDEX ON ceiling_pull_requests (merged_at) WHERE merged_at IS NOT NULL;
