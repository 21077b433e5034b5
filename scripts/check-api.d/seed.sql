-- Known data for scripts/check-api: two repositories, three people in two
-- teams (ada in both), 40 pull requests over eight weeks from Monday
-- 2026-02-02, with spans that follow from their timestamps as the
-- worker's rules would have them. Deterministic: no random().
INSERT INTO repositories (github_id, full_name) VALUES (10, 'acme/api'), (11, 'acme/web');
INSERT INTO members (github_id, login, is_bot) VALUES
    (1, 'ada', false), (2, 'grace', false), (3, 'linus', false), (4, 'dependabot[bot]', true);
INSERT INTO github_teams (github_id, organization, slug, name) VALUES
    (31, 'acme', 'core', 'Core'), (32, 'acme', 'web', 'Web');
INSERT INTO github_team_members (team_id, member_id) VALUES (31, 1), (31, 2), (32, 1), (32, 3);

INSERT INTO pull_requests (
    repository_id, number, github_id, author_id, version_rank, version_at, version_delivery,
    carried_rank, carried_at, carried_delivery, title, state, draft, created_at, merged_at, closed_at, opened_as_draft, ready_at,
    first_review_at, first_approval_at, review_rounds)
SELECT
    10 + n % 2, n, 1000 + n, 1 + n % 4, 1, created, 'seed-' || n, 1, created, 'seed-' || n,
    'Change number ' || n || CASE WHEN n = 7 THEN ' <with markup & quotes">' ELSE '' END,
    CASE WHEN merged IS NULL THEN 'open' ELSE 'closed' END, false,
    created, merged, merged, false, created,
    reviewed, approved, CASE WHEN reviewed IS NULL THEN 0 ELSE 1 + n % 3 END
FROM (
    SELECT n, created,
        CASE WHEN n % 10 <> 0 THEN created + make_interval(hours => n * 37 % 50 + 1) END AS reviewed,
        CASE WHEN n % 10 <> 0 THEN created + make_interval(hours => n * 37 % 50 + 1 + n * 13 % 20) END AS approved,
        CASE WHEN n % 5 <> 0 THEN created + make_interval(hours => n * 37 % 50 + 2 + n * 13 % 20 + n * 7 % 30) END AS merged
    FROM (
        SELECT n, timestamptz '2026-02-02 08:00:00+00' + make_interval(hours => n * 31) AS created
        FROM generate_series(1, 40) AS n
    ) base
) timed;

UPDATE pull_requests SET
    cycle_time_seconds = extract(epoch FROM merged_at - created_at)::bigint,
    review_time_seconds = extract(epoch FROM first_review_at - created_at)::bigint,
    pickup_time_seconds = extract(epoch FROM first_review_at - ready_at)::bigint,
    time_to_first_approval_seconds = extract(epoch FROM first_approval_at - ready_at)::bigint,
    merge_after_approval_seconds = extract(epoch FROM merged_at - first_approval_at)::bigint;

-- Jira (group_by=jira_project): one integration knowing ABC and OPS, ten
-- issues (even ids ABC, odd OPS), most started by a transition, every
-- fourth created in progress, two in three resolved; each pull request
-- but every seventh names issue n % 10 + 1, every sixth OPS-1 as well.
-- The sealed columns hold placeholders: the API never reads them.
INSERT INTO jira_integrations (name, base_url, token, webhook_api, webhook_id, url_token, projects)
VALUES ('acme', 'https://jira.example.com', '\x00'::bytea, 'url_token', 1, '\x00'::bytea, '{ABC,OPS}');
INSERT INTO jira_issues (integration, issue_id, key, project_key, status, status_category,
    created_at, resolved_at, version_at, version_delivery, created_status_category)
SELECT 'acme', k, project || '-' || k, project,
    CASE WHEN k % 3 <> 0 THEN 'Done' ELSE 'In Progress' END,
    CASE WHEN k % 3 <> 0 THEN 'done' ELSE 'indeterminate' END,
    created, CASE WHEN k % 3 <> 0 THEN created + make_interval(hours => 100 + k * 17) END,
    created, 'seed-jira-' || k, CASE WHEN k % 4 = 0 THEN 'indeterminate' ELSE 'new' END
FROM (SELECT k, CASE WHEN k % 2 = 0 THEN 'ABC' ELSE 'OPS' END AS project,
             timestamptz '2026-02-02 08:00:00+00' + make_interval(hours => k * 29) AS created
      FROM generate_series(1, 10) AS k) issues;
INSERT INTO jira_issue_transitions (integration, issue_id, changelog_id, field, at, to_value, to_name, to_category)
SELECT 'acme', issue_id, issue_id, 'status', created_at + interval '3 hours', '3', 'In Progress', 'indeterminate'
FROM jira_issues WHERE issue_id % 4 <> 0;
INSERT INTO pull_request_jira_mentions (repository_id, number, version_at, version_delivery, keys)
SELECT 10 + n % 2, n, now(), 'seed-' || n,
    ARRAY[CASE WHEN (n % 10 + 1) % 2 = 0 THEN 'ABC-' ELSE 'OPS-' END || (n % 10 + 1)]
        || CASE WHEN n % 6 = 0 THEN ARRAY['OPS-1'] ELSE '{}'::text[] END
FROM generate_series(1, 40) AS n WHERE n % 7 <> 0;
