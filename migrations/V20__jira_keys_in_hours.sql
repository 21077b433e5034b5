-- V20: pr_metrics_in_hours(hours) gains jira_issue_keys (V16's pr_metrics
-- column), appended after V14's columns: extended, nothing renamed or
-- moved, so Grafana's queries by column name read on unchanged.
--
-- A function's result columns cannot change in place (CREATE OR REPLACE
-- refuses a new return type), so it is dropped and created again in this
-- one transaction. Nothing depends on it in the catalogue:
-- pr_metrics_by_team calls it by name from a SQL body, read when called.
-- EXECUTE stays PUBLIC's, as it was.
DROP FUNCTION pr_metrics_in_hours(text);

CREATE FUNCTION pr_metrics_in_hours(hours text)
RETURNS TABLE (
    repository text, number integer, title text, author text, author_is_bot boolean,
    teams text[], state text, draft boolean, created_at timestamptz, ready_at timestamptz,
    first_review_at timestamptz, first_approval_at timestamptz, merged_at timestamptz,
    closed_at timestamptz, cycle_time_seconds bigint, review_time_seconds bigint,
    pickup_time_seconds bigint, time_to_first_approval_seconds bigint,
    merge_after_approval_seconds bigint, review_rounds integer, additions integer,
    deletions integer, changed_files integer, jira_issue_keys text[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.repository, m.number, m.title, m.author, m.author_is_bot,
           ARRAY(SELECT DISTINCT t.slug FROM github_team_members tm
                 JOIN github_teams t ON t.github_id = tm.team_id
                 WHERE tm.member_id = m.author_id AND NOT t.deleted AND t.slug IS NOT NULL
                 ORDER BY t.slug),
           m.state, m.draft, m.created_at, m.ready_at, m.first_review_at, m.first_approval_at,
           m.merged_at, m.closed_at,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.merged_at - m.cycle_time_seconds * interval '1 second',
                                         m.merged_at, pr_calendar_team(m.author_id))
                ELSE m.cycle_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.first_review_at - m.review_time_seconds * interval '1 second',
                                         m.first_review_at, pr_calendar_team(m.author_id))
                ELSE m.review_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.ready_at,
                                         m.ready_at + m.pickup_time_seconds * interval '1 second',
                                         pr_calendar_team(m.author_id))
                ELSE m.pickup_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.ready_at,
                                         m.ready_at + m.time_to_first_approval_seconds * interval '1 second',
                                         pr_calendar_team(m.author_id))
                ELSE m.time_to_first_approval_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.merged_at - m.merge_after_approval_seconds * interval '1 second',
                                         m.merged_at, pr_calendar_team(m.author_id))
                ELSE m.merge_after_approval_seconds END,
           m.review_rounds, m.additions, m.deletions, m.changed_files, m.jira_issue_keys
    FROM pr_metrics m
$$;
