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
