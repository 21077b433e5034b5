-- What the sync-scheduler keeps in step with GitHub: the GitHub accounts
-- prpulse may act for, and the repositories it tracks.

CREATE TABLE integrations (
    -- GitHub organisation or user login, lower-cased.
    account    text PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('organization', 'user')),
    -- The access token, AES-256-GCM under PRPULSE_SECRET_KEY.
    token      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tracked_repositories (
    -- owner/name, lower-cased (GitHub names are case-insensitive).
    full_name      text PRIMARY KEY,
    account        text        NOT NULL REFERENCES integrations (account),
    -- pending: to install; tracked: hook in place; untracking: to remove.
    state          text        NOT NULL CHECK (state IN ('pending', 'tracked', 'untracking')),
    hook_id        bigint,
    -- A new secret is stored but GitHub may not have it yet: send it again.
    secret_pending boolean     NOT NULL DEFAULT false,
    last_error     text,
    reconciled_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
