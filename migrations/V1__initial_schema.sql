-- prpulse's first schema: deliveries (the apply-once ledger), the
-- projection (repositories, members, pull requests, reviews), webhook
-- secrets, and the pr_metrics view that dashboards and scripts rely on.

-- One row per delivery ever applied. The primary key is what makes the
-- worker's effect exactly-once on RabbitMQ's at-least-once delivery.
CREATE TABLE deliveries (
    delivery_id  text PRIMARY KEY,
    event        text        NOT NULL,
    action       text,
    hook_id      bigint,
    source       text        NOT NULL,
    received_at  timestamptz NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    -- 'projected' (it changed the projection) or 'stored' (kept raw only)
    outcome      text        NOT NULL,
    -- The payload bytes as received; NULL once retention purged them.
    payload      bytea
);
CREATE INDEX deliveries_received_at_idx ON deliveries (received_at);
CREATE INDEX deliveries_event_idx ON deliveries (event, action);

CREATE TABLE repositories (
    github_id  bigint PRIMARY KEY,
    full_name  text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repositories_full_name_idx ON repositories (lower(full_name));

-- People, matched by GitHub user id; created from payloads when unknown.
CREATE TABLE members (
    github_id     bigint PRIMARY KEY,
    login         text        NOT NULL,
    user_type     text,
    is_bot        boolean     NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX members_login_idx ON members (lower(login));

-- Keyed by (repository, number), GitHub's own identity for a pull request:
-- payloads have been seen to carry one pull request under two ids, and a
-- key on the id would make the outcome depend on which arrived first.
CREATE TABLE pull_requests (
    repository_id bigint      NOT NULL REFERENCES repositories (github_id),
    number        integer     NOT NULL,
    -- The smallest id seen for it (normally the only one).
    github_id     bigint      NOT NULL,
    author_id     bigint      REFERENCES members (github_id),

    -- Scalar fields come from the newest delivery, newest meaning the
    -- greatest (version_rank, version_at, version_delivery): full
    -- pull_request payloads (rank 1) beat the reduced copies inside review
    -- payloads (rank 0), then the newest updated_at, then the delivery id
    -- as a deterministic tie-break. Any arrival order gives the same row.
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

    -- Facts that only accumulate (minimum or first known), so order
    -- cannot matter either.
    created_at                timestamptz NOT NULL,
    merged_at                 timestamptz,
    opened_as_draft           boolean,
    first_ready_for_review_at timestamptz,

    -- Metrics, recomputed by the worker from the facts above and the
    -- reviews below after every change (prpulse_domain::compute_metrics).
    ready_at                       timestamptz,
    first_review_at                timestamptz,
    first_approval_at              timestamptz,
    cycle_time_seconds             bigint,
    review_time_seconds            bigint,
    pickup_time_seconds            bigint,
    time_to_first_approval_seconds bigint,
    merge_after_approval_seconds   bigint,
    review_rounds                  integer NOT NULL DEFAULT 0,

    PRIMARY KEY (repository_id, number)
);
CREATE INDEX pull_requests_github_id_idx ON pull_requests (github_id);
CREATE INDEX pull_requests_created_at_idx ON pull_requests (created_at);

CREATE TABLE reviews (
    github_id           bigint PRIMARY KEY,
    repository_id       bigint  NOT NULL,
    pull_request_number integer NOT NULL,
    reviewer_id         bigint  REFERENCES members (github_id),
    -- The state it was submitted with (approved, changes_requested,
    -- commented); NULL when only its dismissal was seen.
    submitted_state     text,
    dismissed           boolean NOT NULL DEFAULT false,
    submitted_at    timestamptz,
    FOREIGN KEY (repository_id, pull_request_number)
        REFERENCES pull_requests (repository_id, number)
);
CREATE INDEX reviews_pull_request_idx ON reviews (repository_id, pull_request_number);

-- Secrets of the hooks that prpulse installed, found by X-GitHub-Hook-ID.
-- Both columns hold AES-256-GCM ciphertext (nonce || sealed secret) under
-- PRPULSE_SECRET_KEY. During a rotation the previous secret stays valid
-- until previous_valid_until.
CREATE TABLE webhook_secrets (
    hook_id              bigint PRIMARY KEY,
    current_secret       bytea       NOT NULL,
    previous_secret      bytea,
    previous_valid_until timestamptz,
    rotated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_secret IS NULL) = (previous_valid_until IS NULL))
);

-- The stable reporting surface: one row per pull request.
CREATE VIEW pr_metrics AS
SELECT
    r.full_name                          AS repository,
    pr.number,
    pr.title,
    author.login                         AS author,
    coalesce(author.is_bot, false)       AS author_is_bot,
    CASE WHEN pr.merged_at IS NOT NULL THEN 'merged' ELSE pr.state END AS state,
    pr.draft,
    pr.created_at,
    pr.ready_at,
    pr.first_review_at,
    pr.first_approval_at,
    pr.merged_at,
    pr.closed_at,
    pr.cycle_time_seconds,
    pr.review_time_seconds,
    pr.pickup_time_seconds,
    pr.time_to_first_approval_seconds,
    pr.merge_after_approval_seconds,
    pr.review_rounds,
    pr.additions,
    pr.deletions,
    pr.changed_files,
    pr.head_ref,
    pr.base_ref,
    pr.github_id                         AS pull_request_id,
    r.github_id                          AS repository_id
FROM pull_requests pr
JOIN repositories r ON r.github_id = pr.repository_id
LEFT JOIN members author ON author.github_id = pr.author_id;
