-- V19: an issue created directly in an in-progress status (issue 19).
-- Such an issue never changes into that status, so V16's view found no
-- start for it. Its jira:issue_created delivery shows the status it was
-- created in: that category is kept, and an issue created in a status of
-- category 'indeterminate' started work when it was created.

-- The status category the jira:issue_created delivery showed; NULL when
-- that delivery never arrived (an integration added later). Set by that
-- delivery alone, so any order of deliveries gives the same value.
ALTER TABLE jira_issues ADD COLUMN created_status_category text;

-- V16's view, the same columns; first_in_progress_at is now the earlier
-- of the first change into an 'indeterminate' status and the creation,
-- when the issue was created in one.
CREATE OR REPLACE VIEW jira_issue_metrics AS
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
    -- least() passes over NULLs: either start alone, or the earlier.
    SELECT least(min(t.at),
                 CASE WHEN i.created_status_category = 'indeterminate' THEN i.created_at END) AS at
    FROM jira_issue_transitions t
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
