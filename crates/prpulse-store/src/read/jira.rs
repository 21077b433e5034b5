//! What a summary by Jira project (`group_by=jira_project`) reads: the
//! projects each pull request is linked to, and the issues of
//! `jira_issue_metrics` whose lead or cycle time ended in a range.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;

use crate::StoreError;

type Timestamp = DateTime<Utc>;

/// Each pull request's Jira projects, sorted and distinct, by
/// (repository id, number): the projects of the keys
/// `pr_metrics.jira_issue_keys` lists (`jira_pull_request_keys`, known
/// projects only). Pull requests linked to no issue are not in it.
pub async fn pull_request_jira_projects(
    client: &impl GenericClient,
) -> Result<HashMap<(i64, i32), Vec<String>>, StoreError> {
    Ok(client
        .query(
            "SELECT repository_id, number, array_agg(DISTINCT project ORDER BY project)
             FROM (SELECT repository_id, number, substring(key FROM '^(.*)-[0-9]+$') AS project
                   FROM jira_pull_request_keys) linked
             GROUP BY repository_id, number",
            &[],
        )
        .await?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// An issue of `jira_issue_metrics` as a summary needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueSpanRow {
    pub project: String,
    pub first_in_progress_at: Option<Timestamp>,
    pub last_linked_pr_merged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// In progress -> last linked merge, wall seconds (the view's).
    pub lead_time_seconds: Option<i64>,
    /// In progress -> resolved, wall seconds (the view's).
    pub cycle_time_seconds: Option<i64>,
}

/// Issues (not deleted) whose lead time or cycle time ended in
/// `[from, until)`, handed to `each` as they stream in.
pub async fn each_issue_span_row(
    client: &impl GenericClient,
    from: Timestamp,
    until: Timestamp,
    mut each: impl FnMut(IssueSpanRow),
) -> Result<(), StoreError> {
    let params: [&(dyn ToSql + Sync); 2] = [&from, &until];
    let rows = client
        .query_raw(
            "SELECT project, first_in_progress_at, last_linked_pr_merged_at, resolved_at,
                    issue_lead_time_seconds, issue_cycle_time_seconds
             FROM jira_issue_metrics
             WHERE (issue_lead_time_seconds IS NOT NULL
                    AND last_linked_pr_merged_at >= $1 AND last_linked_pr_merged_at < $2)
                OR (issue_cycle_time_seconds IS NOT NULL
                    AND resolved_at >= $1 AND resolved_at < $2)",
            params,
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await? {
        each(IssueSpanRow {
            project: row.get(0),
            first_in_progress_at: row.get(1),
            last_linked_pr_merged_at: row.get(2),
            resolved_at: row.get(3),
            lead_time_seconds: row.get(4),
            cycle_time_seconds: row.get(5),
        });
    }
    Ok(())
}
