-- V16: Jira Server / Data Center as a second source (issue 19).

-- One row per Jira instance prpulse receives from. Written only after Jira
-- confirmed the webhook (`prpulse integration add-jira`). Sealed columns
-- (prpulse_store::SealedColumn) are bound to `name`.
CREATE TABLE jira_integrations (
    name                 text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    base_url             text        NOT NULL,
    token                bytea       NOT NULL,
    -- 'signed': DC 10+, deliveries carry X-Hub-Signature (current_secret,
    -- and previous_secret until previous_valid_until during a rotation);
    -- 'url_token': older servers, unsigned, url_token in the webhook's path.
    webhook_api          text        NOT NULL CHECK (webhook_api IN ('signed', 'url_token')),
    webhook_id           bigint      NOT NULL,
    current_secret       bytea,
    previous_secret      bytea,
    previous_valid_until timestamptz,
    secret_rotated_at    timestamptz,
    url_token            bytea,
    projects             text[]      NOT NULL DEFAULT '{}',
    last_error           text,
    checked_at           timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((webhook_api = 'signed') = (current_secret IS NOT NULL)),
    CHECK ((webhook_api = 'url_token') = (url_token IS NOT NULL))
);

-- The issue as its newest delivery (by Jira's `timestamp`, then delivery
-- id) shows it; deleted_at only accumulates. Any order of deliveries gives
-- the same row.
CREATE TABLE jira_issues (
    integration      text        NOT NULL REFERENCES jira_integrations (name) ON DELETE CASCADE,
    issue_id         bigint      NOT NULL,
    key              text        NOT NULL,
    project_key      text        NOT NULL,
    issue_type       text,
    summary          text,
    status_id        text,
    status           text,
    status_category  text,
    assignee         text,
    assignee_name    text,
    created_at       timestamptz,
    resolved_at      timestamptz,
    deleted_at       timestamptz,
    version_at       timestamptz NOT NULL,
    version_delivery text        NOT NULL,
    PRIMARY KEY (integration, issue_id)
);
CREATE INDEX jira_issues_key ON jira_issues (key);

-- Status and assignee changes, one row per changelog item (from
-- changelog.items, whatever the event was called). Insert-only, keyed by
-- the changelog id: a resend or any order gives the same rows.
CREATE TABLE jira_issue_transitions (
    integration  text        NOT NULL,
    issue_id     bigint      NOT NULL,
    changelog_id bigint      NOT NULL,
    field        text        NOT NULL CHECK (field IN ('status', 'assignee')),
    at           timestamptz NOT NULL,
    from_value   text,
    from_name    text,
    to_value     text,
    to_name      text,
    -- The target status's category when the same delivery shows it.
    to_category  text,
    PRIMARY KEY (integration, issue_id, changelog_id, field),
    FOREIGN KEY (integration, issue_id) REFERENCES jira_issues (integration, issue_id) ON DELETE CASCADE
);

-- Issue keys a pull request names in its title, head branch or body, as
-- its newest pull_request payload has them (every candidate key; which are
-- real is decided below, so an integration added later links old pull
-- requests without a rebuild). Belongs to the pull request, not to an
-- integration: removing one leaves these.
CREATE TABLE pull_request_jira_mentions (
    repository_id    bigint      NOT NULL,
    number           integer     NOT NULL,
    version_at       timestamptz NOT NULL,
    version_delivery text        NOT NULL,
    keys             text[]      NOT NULL,
    PRIMARY KEY (repository_id, number)
);

-- Projects prpulse knows: those an integration was given, and those its
-- issues came from.
CREATE VIEW jira_known_projects AS
SELECT name AS integration, unnest(projects) AS project_key FROM jira_integrations
UNION
SELECT DISTINCT integration, project_key FROM jira_issues;

-- The mentioned keys of known projects: the links.
CREATE VIEW jira_pull_request_keys AS
SELECT DISTINCT m.repository_id, m.number, k.key
FROM pull_request_jira_mentions m
CROSS JOIN LATERAL unnest(m.keys) AS k (key)
WHERE EXISTS (SELECT FROM jira_known_projects p
              WHERE p.project_key = substring(k.key FROM '^(.*)-[0-9]+$'));

-- One row per issue that is not deleted: when work started (the first
-- change into a status of category 'indeterminate'), when its first linked
-- pull request was opened and its last one merged, when it was resolved;
-- issue lead time = in progress -> last linked merge, issue cycle time =
-- in progress -> resolved. NULL where a phase did not happen (or would be
-- negative).
CREATE VIEW jira_issue_metrics AS
SELECT
    i.integration,
    i.key,
    i.project_key                         AS project,
    i.issue_type,
    i.summary,
    i.status,
    i.status_category,
    i.assignee,
    i.created_at,
    started.at                            AS first_in_progress_at,
    linked.first_opened_at                AS first_linked_pr_opened_at,
    linked.last_merged_at                 AS last_linked_pr_merged_at,
    i.resolved_at,
    coalesce(linked.pull_requests, 0)     AS linked_pull_requests,
    CASE WHEN linked.last_merged_at >= started.at
         THEN extract(epoch FROM linked.last_merged_at - started.at)::bigint END
                                          AS issue_lead_time_seconds,
    CASE WHEN i.resolved_at >= started.at
         THEN extract(epoch FROM i.resolved_at - started.at)::bigint END
                                          AS issue_cycle_time_seconds
FROM jira_issues i
LEFT JOIN LATERAL (
    SELECT min(t.at) AS at FROM jira_issue_transitions t
    WHERE t.integration = i.integration AND t.issue_id = i.issue_id
      AND t.field = 'status' AND t.to_category = 'indeterminate'
) started ON true
LEFT JOIN LATERAL (
    SELECT min(pr.created_at) AS first_opened_at, max(pr.merged_at) AS last_merged_at,
           count(*) AS pull_requests
    FROM jira_pull_request_keys l
    JOIN pull_requests pr ON pr.repository_id = l.repository_id AND pr.number = l.number
    WHERE l.key = i.key
) linked ON true
WHERE i.deleted_at IS NULL;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'prpulse_reporting') THEN
        GRANT SELECT ON jira_issue_metrics TO prpulse_reporting;
    END IF;
END $$;

-- pr_metrics gains jira_issue_keys after V15's DORA columns (extended,
-- nothing renamed; CREATE OR REPLACE VIEW may only append columns).
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
    -- V15's DORA columns, unchanged.
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
        AS lead_time_seconds,
    -- Keys of projects some Jira integration knows, named in the title,
    -- head branch or body of the pull request's newest payload.
    ARRAY(SELECT l.key FROM jira_pull_request_keys l
          WHERE l.repository_id = pr.repository_id AND l.number = pr.number
          ORDER BY l.key)               AS jira_issue_keys
FROM pull_requests pr
JOIN repositories r ON r.github_id = pr.repository_id
LEFT JOIN members author ON author.github_id = pr.author_id
LEFT JOIN pull_request_first_commits fc
       ON fc.repository_id = pr.repository_id AND fc.number = pr.number
LEFT JOIN dora_pull_request_deploys shipped
       ON shipped.repository_id = pr.repository_id AND shipped.number = pr.number
          AND pr.merged_at IS NOT NULL;
