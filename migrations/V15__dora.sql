-- The DORA keys (issue 18): deploys, their outcomes and incidents, from
-- GitHub's `deployment`, `deployment_status`, `workflow_run`, `issues` and
-- `pull_request` events, in tables of their own. Every table holds facts
-- that payloads (or GitHub's REST API) state; what is a production deploy,
-- which deploy shipped a pull request and which deploy an incident follows
-- are views over them, so any arrival order, a duplicate, a late
-- configuration or `prpulse rebuild` give the same answers.

-- Per repository: what counts as production. With `workflow` set, the
-- completed runs of that workflow file (on `branch`, if set) are the
-- deploys; otherwise deployments to an environment matching
-- `environment_pattern` (`*` matches any run of characters, any case;
-- unset: `production`, or GitHub's own production_environment flag);
-- with neither, each pull request merged into the default branch.
CREATE TABLE dora_settings (
    -- owner/name, lower-cased.
    repository          text PRIMARY KEY,
    workflow            text,
    branch              text,
    environment_pattern text,
    incident_label      text        NOT NULL DEFAULT 'incident',
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (branch IS NULL OR workflow IS NOT NULL)
);

-- `deployment` and `deployment_status` payloads both carry the deployment:
-- the newest (updated_at, delivery id) version of it wins.
CREATE TABLE github_deployments (
    github_id              bigint PRIMARY KEY,
    repository_id          bigint      NOT NULL REFERENCES repositories (github_id),
    sha                    text        NOT NULL,
    ref                    text,
    environment            text        NOT NULL,
    production_environment boolean,
    created_at             timestamptz NOT NULL,
    version_at             timestamptz NOT NULL,
    version_delivery       text        NOT NULL
);
CREATE INDEX github_deployments_repository_idx ON github_deployments (repository_id);

-- A status never changes once created.
CREATE TABLE github_deployment_statuses (
    github_id     bigint PRIMARY KEY,
    deployment_id bigint      NOT NULL,
    state         text        NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX github_deployment_statuses_deployment_idx
    ON github_deployment_statuses (deployment_id);

-- One row per run; a re-run (a higher run_attempt) replaces the attempt
-- before: the newest (attempt, updated_at, completed, delivery id) wins.
CREATE TABLE github_workflow_runs (
    github_id        bigint PRIMARY KEY,
    repository_id    bigint      NOT NULL REFERENCES repositories (github_id),
    workflow_path    text,
    head_branch      text,
    head_sha         text        NOT NULL,
    status           text,
    conclusion       text,
    started_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    version_attempt  integer     NOT NULL,
    version_rank     smallint    NOT NULL,
    version_delivery text        NOT NULL
);
CREATE INDEX github_workflow_runs_repository_idx ON github_workflow_runs (repository_id);

-- Issues, for incidents: labels and state from the newest (updated_at,
-- rank, delivery id) payload; a deletion is for good.
CREATE TABLE github_issues (
    github_id        bigint PRIMARY KEY,
    repository_id    bigint      NOT NULL REFERENCES repositories (github_id),
    number           integer     NOT NULL,
    title            text,
    labels           text[]      NOT NULL,
    created_at       timestamptz NOT NULL,
    -- closed_at while the issue is closed.
    resolved_at      timestamptz,
    deleted          boolean     NOT NULL DEFAULT false,
    version_at       timestamptz NOT NULL,
    version_rank     smallint    NOT NULL,
    version_delivery text        NOT NULL
);
CREATE INDEX github_issues_repository_idx ON github_issues (repository_id);

-- What a merge put on the base branch (the squash, rebase or merge
-- commit), kept beside pull_requests rather than in it.
CREATE TABLE pull_request_merges (
    repository_id       bigint  NOT NULL,
    number              integer NOT NULL,
    merge_commit_sha    text    NOT NULL,
    into_default_branch boolean NOT NULL,
    PRIMARY KEY (repository_id, number)
);
CREATE INDEX pull_request_merges_sha_idx ON pull_request_merges (repository_id, merge_commit_sha);

-- The commits a deploy added, as GitHub's compare API listed them from the
-- deploy before it (the scheduler's link job): the link from pull requests
-- (by merge commit) to deploys. `deployment_id` is the deployments view's.
CREATE TABLE deployment_commits (
    deployment_id text NOT NULL,
    sha           text NOT NULL,
    PRIMARY KEY (deployment_id, sha)
);
CREATE INDEX deployment_commits_sha_idx ON deployment_commits (sha);

-- Which comparison deployment_commits holds for a deploy: compared again
-- when the deploy before it changes (one arrived late).
CREATE TABLE deployment_comparisons (
    deployment_id text PRIMARY KEY,
    -- NULL: no earlier deploy (only the deploy's own commit links).
    base_sha      text,
    head_sha      text        NOT NULL,
    commits       integer     NOT NULL,
    compared_at   timestamptz NOT NULL DEFAULT now()
);

-- The earliest author date of a pull request's commits
-- (`GET /pulls/{n}/commits`); NULL if GitHub listed none.
CREATE TABLE pull_request_first_commits (
    repository_id   bigint      NOT NULL,
    number          integer     NOT NULL,
    first_commit_at timestamptz,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, number)
);

-- A glob (`*`) as a LIKE pattern, everything else literal.
CREATE FUNCTION dora_like(pattern text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace($1, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
$$;

-- Every production deploy attempt, of whichever source the repository
-- uses. status: success, failure (also error, timed_out, startup_failure),
-- or where it stands (pending, in_progress, cancelled, …); finished_at is
-- when it succeeded (the first success) or else failed, NULL before.
CREATE VIEW dora_deploys AS
WITH repo AS NOT MATERIALIZED (
    SELECT r.github_id, s.workflow, s.branch, s.environment_pattern
    FROM repositories r
    LEFT JOIN dora_settings s ON s.repository = lower(r.full_name)
),
from_deployments AS NOT MATERIALIZED (
    SELECT 'deployment:' || d.github_id AS deployment_id, d.repository_id,
           'deployment'::text AS source, d.environment, d.sha, d.created_at AS started_at,
           CASE WHEN st.success_at IS NOT NULL THEN 'success'
                WHEN st.failed_at IS NOT NULL THEN 'failure'
                ELSE coalesce(st.latest_state, 'pending') END AS status,
           coalesce(st.success_at, st.failed_at) AS finished_at
    FROM github_deployments d
    JOIN repo ON repo.github_id = d.repository_id
    LEFT JOIN LATERAL (
        SELECT min(s.created_at) FILTER (WHERE s.state = 'success') AS success_at,
               min(s.created_at) FILTER (WHERE s.state IN ('failure', 'error')) AS failed_at,
               (array_agg(s.state ORDER BY s.created_at DESC, s.github_id DESC))[1] AS latest_state
        FROM github_deployment_statuses s
        WHERE s.deployment_id = d.github_id
    ) st ON true
    WHERE repo.workflow IS NULL
      AND CASE WHEN repo.environment_pattern IS NOT NULL
               THEN d.environment ILIKE dora_like(repo.environment_pattern)
               ELSE d.environment ILIKE 'production' OR d.production_environment IS TRUE END
),
from_workflow_runs AS (
    SELECT 'workflow_run:' || w.github_id, w.repository_id, 'workflow_run'::text,
           repo.workflow, w.head_sha, coalesce(w.started_at, w.created_at),
           CASE WHEN w.status IS DISTINCT FROM 'completed' THEN coalesce(w.status, 'pending')
                WHEN w.conclusion = 'success' THEN 'success'
                WHEN w.conclusion IN ('failure', 'timed_out', 'startup_failure') THEN 'failure'
                ELSE coalesce(w.conclusion, 'pending') END,
           CASE WHEN w.status = 'completed'
                 AND w.conclusion IN ('success', 'failure', 'timed_out', 'startup_failure')
                THEN w.updated_at END
    FROM github_workflow_runs w
    JOIN repo ON repo.github_id = w.repository_id
    WHERE repo.workflow IS NOT NULL
      AND lower(regexp_replace(coalesce(w.workflow_path, ''), '^.*/', ''))
          = lower(regexp_replace(repo.workflow, '^.*/', ''))
      AND (repo.branch IS NULL OR w.head_branch = repo.branch)
),
from_merges AS (
    SELECT 'merge:' || m.repository_id || ':' || m.number, m.repository_id, 'merge'::text,
           coalesce(pr.base_ref, 'default'), m.merge_commit_sha, pr.merged_at, 'success'::text,
           pr.merged_at
    FROM pull_request_merges m
    JOIN pull_requests pr ON pr.repository_id = m.repository_id AND pr.number = m.number
    JOIN repo ON repo.github_id = m.repository_id
    WHERE m.into_default_branch AND pr.merged_at IS NOT NULL
      AND repo.workflow IS NULL
      AND NOT EXISTS (SELECT FROM from_deployments fd WHERE fd.repository_id = m.repository_id)
)
SELECT * FROM from_deployments
UNION ALL SELECT * FROM from_workflow_runs
UNION ALL SELECT * FROM from_merges;

-- Each merged pull request and the first successful production deploy
-- (by finished_at, then id) whose commits hold its merge commit: the
-- deploy's own commit, or one the compare API listed for it.
CREATE VIEW dora_pull_request_deploys AS
WITH succeeded AS MATERIALIZED (
    SELECT d.deployment_id, d.repository_id, d.finished_at, d.sha
    FROM dora_deploys d WHERE d.status = 'success'
),
shipped AS (
    SELECT s.deployment_id, s.repository_id, s.finished_at, s.sha FROM succeeded s
    UNION ALL
    SELECT s.deployment_id, s.repository_id, s.finished_at, c.sha
    FROM succeeded s
    JOIN deployment_commits c ON c.deployment_id = s.deployment_id
)
SELECT DISTINCT ON (m.repository_id, m.number)
       m.repository_id, m.number, s.deployment_id, s.finished_at AS deployed_at
FROM pull_request_merges m
JOIN shipped s ON s.repository_id = m.repository_id AND s.sha = m.merge_commit_sha
ORDER BY m.repository_id, m.number, s.finished_at, s.deployment_id;

-- One row per production deploy attempt (the contract view).
CREATE VIEW deployments AS
SELECT d.deployment_id, r.full_name AS repository, d.repository_id, d.environment, d.sha,
       d.source, d.status, d.started_at, d.finished_at,
       coalesce(shipped.pull_requests, '{}') AS pull_requests
FROM dora_deploys d
JOIN repositories r ON r.github_id = d.repository_id
LEFT JOIN (
    SELECT l.deployment_id, array_agg(l.number ORDER BY l.number) AS pull_requests
    FROM dora_pull_request_deploys l
    GROUP BY l.deployment_id
) shipped ON shipped.deployment_id = d.deployment_id;

-- Incidents: issues labelled with the repository's incident label, failed
-- production deploys, and merged reverts (GitHub's `Revert "…"` title).
-- Each follows the last production deploy that finished at or before it
-- opened (a failed deploy follows itself); recovered when the issue
-- closed, a later deploy to that environment succeeded, or the revert
-- merged.
CREATE VIEW dora_incidents AS
WITH finished AS MATERIALIZED (
    SELECT d.deployment_id, d.repository_id, d.environment, d.status, d.finished_at
    FROM dora_deploys d
    WHERE d.status IN ('success', 'failure')
),
raw AS (
    SELECT 'issue:' || i.github_id AS incident_id, i.repository_id, 'issue'::text AS source,
           i.number, i.title, i.created_at AS opened_at, i.resolved_at,
           NULL::text AS own_deployment
    FROM github_issues i
    JOIN repositories r ON r.github_id = i.repository_id
    LEFT JOIN dora_settings s ON s.repository = lower(r.full_name)
    WHERE NOT i.deleted
      AND lower(coalesce(s.incident_label, 'incident')) = ANY (
          SELECT lower(label) FROM unnest(i.labels) AS label)
    UNION ALL
    SELECT 'deploy:' || f.deployment_id, f.repository_id, 'failed_deploy', NULL, NULL,
           f.finished_at,
           (SELECT min(n.finished_at) FROM finished n
            WHERE n.repository_id = f.repository_id AND n.environment = f.environment
              AND n.status = 'success' AND n.finished_at > f.finished_at),
           f.deployment_id
    FROM finished f
    WHERE f.status = 'failure'
    UNION ALL
    SELECT 'revert:' || pr.repository_id || ':' || pr.number, pr.repository_id, 'revert',
           pr.number, pr.title, pr.created_at, pr.merged_at, NULL
    FROM pull_requests pr
    WHERE pr.merged_at IS NOT NULL AND pr.title LIKE 'Revert "%'
)
SELECT raw.incident_id, r.full_name AS repository, raw.repository_id, raw.source, raw.number,
       raw.title, raw.opened_at, raw.resolved_at,
       coalesce(raw.own_deployment, (
           SELECT f.deployment_id FROM finished f
           WHERE f.repository_id = raw.repository_id AND f.finished_at <= raw.opened_at
           ORDER BY f.finished_at DESC, f.deployment_id DESC
           LIMIT 1)) AS deployment_id,
       CASE WHEN raw.resolved_at >= raw.opened_at
            THEN extract(epoch FROM raw.resolved_at - raw.opened_at)::bigint END
           AS recovery_time_seconds
FROM raw
JOIN repositories r ON r.github_id = raw.repository_id;

-- pr_metrics gains the DORA columns, appended after author_id (extended,
-- nothing renamed). Each span needs both of its ends and is NULL when
-- one is unknown or it would be negative.
CREATE OR REPLACE VIEW pr_metrics AS
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
    r.github_id                          AS repository_id,
    pr.author_id                         AS author_id,
    fc.first_commit_at,
    shipped.deployed_at,
    shipped.deployment_id,
    CASE WHEN pr.created_at >= fc.first_commit_at
         THEN extract(epoch FROM pr.created_at - fc.first_commit_at)::bigint END
        AS coding_time_seconds,
    CASE WHEN shipped.deployed_at >= pr.merged_at
         THEN extract(epoch FROM shipped.deployed_at - pr.merged_at)::bigint END
        AS deploy_time_seconds,
    CASE WHEN shipped.deployed_at >= fc.first_commit_at
         THEN extract(epoch FROM shipped.deployed_at - fc.first_commit_at)::bigint END
        AS lead_time_seconds
FROM pull_requests pr
JOIN repositories r ON r.github_id = pr.repository_id
LEFT JOIN members author ON author.github_id = pr.author_id
LEFT JOIN pull_request_first_commits fc
       ON fc.repository_id = pr.repository_id AND fc.number = pr.number
LEFT JOIN dora_pull_request_deploys shipped
       ON shipped.repository_id = pr.repository_id AND shipped.number = pr.number
          AND pr.merged_at IS NOT NULL;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'prpulse_reporting') THEN
        GRANT SELECT ON deployments, dora_incidents TO prpulse_reporting;
    END IF;
END $$;
