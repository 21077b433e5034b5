-- Facts that stay right whatever the arrival order (issue 13), and what
-- `prpulse rebuild` needs to recompute the projection from the ledger.

-- The payload's own time of the fact a row holds: the newest fact wins
-- (a repository's full_name, a person's login and type). NULL for rows
-- from before this migration and for facts from payloads that carry no
-- time (membership events): any dated fact replaces those.
ALTER TABLE repositories ADD COLUMN observed_at timestamptz;
ALTER TABLE members ADD COLUMN observed_at timestamptz;

-- The version of the scalars that a review's reduced pull request carries
-- as well (title, state, draft, closed_at, author, branches): the newest
-- payload time wins, then the same-second tie rank (3 reopened, 2 closed
-- in that second, 1 any other full payload, 0 a review's reduced copy),
-- then the delivery id. version_rank/version_at/version_delivery now gate
-- only what reduced copies lack (the sizes).
ALTER TABLE pull_requests
    ADD COLUMN carried_at timestamptz,
    ADD COLUMN carried_rank smallint,
    ADD COLUMN carried_delivery text;
UPDATE pull_requests
SET carried_at = version_at, carried_rank = version_rank, carried_delivery = version_delivery;
ALTER TABLE pull_requests
    ALTER COLUMN carried_at SET NOT NULL,
    ALTER COLUMN carried_rank SET NOT NULL,
    ALTER COLUMN carried_delivery SET NOT NULL;

-- Which pull request a delivery is about, so a rebuild finds every
-- delivery of one pull request (and can name the pull requests whose
-- payloads retention removed). The worker fills it; rebuild fills it for
-- older rows from their payloads.
ALTER TABLE deliveries
    ADD COLUMN repository_id bigint,
    ADD COLUMN pull_request_number integer;
CREATE INDEX deliveries_pull_request_idx ON deliveries (repository_id, pull_request_number)
    WHERE repository_id IS NOT NULL;

-- One row per `prpulse rebuild` scope: where it got to, so an interrupted
-- rebuild resumes instead of starting over.
CREATE TABLE rebuild_runs (
    id                  bigserial PRIMARY KEY,
    -- The filter it was started with (repository id, since), as text.
    scope               text        NOT NULL,
    -- 'deliveries' (index and people), 'pull_requests', 'done'.
    phase               text        NOT NULL,
    last_delivery_id    text,
    last_repository_id  bigint,
    last_number         integer,
    started_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);
CREATE UNIQUE INDEX rebuild_runs_open_scope_idx ON rebuild_runs (scope) WHERE finished_at IS NULL;
