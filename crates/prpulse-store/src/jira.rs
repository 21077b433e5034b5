//! The Jira projection's writes: issues (newest snapshot wins, deletion
//! accumulates), their status and assignee changes (insert-only, keyed by
//! changelog id) and the issue keys pull requests name (newest pull-request
//! payload wins). Every write gives the same rows in any order and when
//! repeated, which is also what lets `prpulse rebuild` apply a Jira
//! delivery again on top of what is there.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use std::collections::BTreeMap;

use crate::{
    StoreError,
    projection::{PullRequestKey, keep_newest},
};

type Timestamp = DateTime<Utc>;

/// Columns that come from the newest snapshot.
const NEWEST_WINS: [&str; 12] = [
    "key",
    "project_key",
    "issue_type",
    "summary",
    "status_id",
    "status",
    "status_category",
    "assignee",
    "assignee_name",
    "resolved_at",
    "version_at",
    "version_delivery",
];

/// Inserts the issue if its integration exists; on a conflict each
/// newest-wins column takes the delivery's value when it is at least as
/// new (`>=`: the same delivery applied again, as a rebuild does, rewrites
/// its own facts, so a changed definition takes effect), `created_at` and
/// `created_status_category` (only a `jira:issue_created` gives it) stay
/// first known and `deleted_at` the earliest.
static UPSERT_ISSUE: LazyLock<String> = LazyLock::new(|| {
    let newer =
        "(EXCLUDED.version_at, EXCLUDED.version_delivery) >= (i.version_at, i.version_delivery)";
    let newest: Vec<String> = NEWEST_WINS
        .iter()
        .map(|column| {
            format!("{column} = CASE WHEN {newer} THEN EXCLUDED.{column} ELSE i.{column} END")
        })
        .collect();
    format!(
        "INSERT INTO jira_issues AS i
             (integration, issue_id, key, project_key, issue_type, summary, status_id, status,
              status_category, assignee, assignee_name, created_at, resolved_at, deleted_at,
              version_at, version_delivery, created_status_category)
         SELECT name, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
         FROM jira_integrations WHERE name = $1
         ON CONFLICT (integration, issue_id) DO UPDATE SET {},
             created_at = coalesce(i.created_at, EXCLUDED.created_at),
             created_status_category =
                 coalesce(i.created_status_category, EXCLUDED.created_status_category),
             deleted_at = least(i.deleted_at, EXCLUDED.deleted_at)",
        newest.join(",\n             ")
    )
});

#[derive(Clone, Debug)]
pub struct IssueRow<'a> {
    pub integration: &'a str,
    pub issue_id: i64,
    pub key: &'a str,
    pub project_key: &'a str,
    pub issue_type: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub status_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub status_category: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub assignee_name: Option<&'a str>,
    pub created_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Set by a `jira:issue_deleted`; the earliest one stays.
    pub deleted_at: Option<Timestamp>,
    /// Jira's `timestamp` of the delivery.
    pub version_at: Timestamp,
    pub version_delivery: &'a str,
    /// The status category a `jira:issue_created` shows (the status the
    /// issue was created in); `None` from every other event.
    pub created_status_category: Option<&'a str>,
}

#[derive(Clone, Debug)]
pub struct TransitionRow<'a> {
    pub changelog_id: i64,
    /// `status` or `assignee`.
    pub field: &'a str,
    pub at: Timestamp,
    pub from_value: Option<&'a str>,
    pub from_name: Option<&'a str>,
    pub to_value: Option<&'a str>,
    pub to_name: Option<&'a str>,
    pub to_category: Option<&'a str>,
}

/// Upserts the issue and records its changes. False (and nothing written)
/// when the integration is not (or no longer) known: its deliveries still
/// in the queue after `prpulse integration remove` leave no rows behind.
pub async fn apply_issue(
    client: &impl GenericClient,
    issue: &IssueRow<'_>,
    transitions: &[TransitionRow<'_>],
) -> Result<bool, StoreError> {
    let statement = client.prepare_cached(&UPSERT_ISSUE).await?;
    let written = client
        .execute(
            &statement,
            &[
                &issue.integration,
                &issue.issue_id,
                &issue.key,
                &issue.project_key,
                &issue.issue_type,
                &issue.summary,
                &issue.status_id,
                &issue.status,
                &issue.status_category,
                &issue.assignee,
                &issue.assignee_name,
                &issue.created_at,
                &issue.resolved_at,
                &issue.deleted_at,
                &issue.version_at,
                &issue.version_delivery,
                &issue.created_status_category,
            ],
        )
        .await?;
    if written == 0 {
        return Ok(false);
    }
    let insert = client
        .prepare_cached(
            "INSERT INTO jira_issue_transitions
                 (integration, issue_id, changelog_id, field, at, from_value, from_name,
                  to_value, to_name, to_category)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (integration, issue_id, changelog_id, field) DO UPDATE SET
                 to_category = coalesce(EXCLUDED.to_category, jira_issue_transitions.to_category)
             WHERE EXCLUDED.to_category IS DISTINCT FROM jira_issue_transitions.to_category
               AND EXCLUDED.to_category IS NOT NULL",
        )
        .await?;
    for transition in transitions {
        client
            .execute(
                &insert,
                &[
                    &issue.integration,
                    &issue.issue_id,
                    &transition.changelog_id,
                    &transition.field,
                    &transition.at,
                    &transition.from_value,
                    &transition.from_name,
                    &transition.to_value,
                    &transition.to_name,
                    &transition.to_category,
                ],
            )
            .await?;
    }
    Ok(true)
}

/// The issue keys one pull-request payload names, as of that payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentionRow<'a> {
    pub pull_request: PullRequestKey,
    pub version_at: Timestamp,
    pub version_delivery: &'a str,
    pub keys: Vec<String>,
}

impl MentionRow<'_> {
    fn version(&self) -> (Timestamp, &str) {
        (self.version_at, self.version_delivery)
    }
}

/// The issue keys pull requests' payloads name, for a whole batch in one
/// statement; per pull request the newest payload (by its own time, then
/// delivery id) wins, and the same one again rewrites. Only the newest row
/// of each pull request is sent (an upsert cannot touch a row twice), which
/// is what applying them one by one leaves.
pub async fn record_mentions(
    client: &impl GenericClient,
    rows: &[MentionRow<'_>],
) -> Result<(), StoreError> {
    let mut newest: BTreeMap<PullRequestKey, &MentionRow<'_>> = BTreeMap::new();
    for row in rows {
        keep_newest(&mut newest, row.pull_request, row, |new, old| {
            new.version() > old.version()
        });
    }
    if newest.is_empty() {
        return Ok(());
    }
    // Keys travel space-joined: a text[] per row would need a ragged
    // two-dimensional array, which Postgres has not got. An issue key
    // (`PROJ-123`) never holds a space.
    let statement = client
        .prepare_cached(
            "INSERT INTO pull_request_jira_mentions AS m
                 (repository_id, number, version_at, version_delivery, keys)
             SELECT repository_id, number, version_at, version_delivery,
                    string_to_array(keys, ' ')
             FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::text[])
                  AS i(repository_id, number, version_at, version_delivery, keys)
             ORDER BY repository_id, number
             ON CONFLICT (repository_id, number) DO UPDATE SET
                 version_at = EXCLUDED.version_at, version_delivery = EXCLUDED.version_delivery,
                 keys = EXCLUDED.keys
             WHERE (EXCLUDED.version_at, EXCLUDED.version_delivery) >= (m.version_at, m.version_delivery)
               AND (EXCLUDED.version_at, EXCLUDED.version_delivery, EXCLUDED.keys)
                   IS DISTINCT FROM (m.version_at, m.version_delivery, m.keys)",
        )
        .await?;
    let rows: Vec<&MentionRow<'_>> = newest.into_values().collect();
    let repositories: Vec<i64> = rows.iter().map(|row| row.pull_request.0).collect();
    let numbers: Vec<i32> = rows.iter().map(|row| row.pull_request.1).collect();
    let versions: Vec<Timestamp> = rows.iter().map(|row| row.version_at).collect();
    let deliveries: Vec<&str> = rows.iter().map(|row| row.version_delivery).collect();
    let keys: Vec<String> = rows.iter().map(|row| row.keys.join(" ")).collect();
    client
        .execute(
            &statement,
            &[&repositories, &numbers, &versions, &deliveries, &keys],
        )
        .await?;
    Ok(())
}
