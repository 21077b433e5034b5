//! What the read side (prpulse-api, `prpulse report`) asks of `pr_metrics`
//! and the team tables. Teams are GitHub team slugs of the author's
//! current memberships (deleted teams excluded), sorted and distinct.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures_util::TryStreamExt;
use prpulse_domain::RepoFullName;
use serde::Serialize;
use tokio_postgres::{Row, types::ToSql};

use crate::StoreError;

pub mod jira;

type Timestamp = DateTime<Utc>;

/// The author's team slugs, for a query that has `pr` (pull_requests).
const AUTHOR_TEAMS: &str = "ARRAY(SELECT DISTINCT t.slug FROM github_team_members tm
        JOIN github_teams t ON t.github_id = tm.team_id
        WHERE tm.member_id = pr.author_id AND NOT t.deleted AND t.slug IS NOT NULL
        ORDER BY t.slug)";

/// Where a page of pull requests goes on from: the sort key of the last
/// row of the page before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageKey {
    pub created_at: Timestamp,
    pub repository_id: i64,
    pub number: i32,
}

#[derive(Clone, Debug, Default)]
pub struct PullRequestFilter {
    /// Matched by [`RepoFullName::key`] against the folded column.
    pub repository: Option<RepoFullName>,
    pub team: Option<String>,
    pub author: Option<String>,
    /// `open`, `closed` (not merged) or `merged`.
    pub state: Option<String>,
    /// `created_at` in `[created_from, created_until)`.
    pub created_from: Option<Timestamp>,
    pub created_until: Option<Timestamp>,
    pub include_bots: bool,
    pub after: Option<PageKey>,
    pub limit: i64,
}

/// One `pr_metrics` row and the author's teams.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PullRequestRow {
    pub repository: String,
    pub number: i32,
    pub title: Option<String>,
    pub author: Option<String>,
    pub author_is_bot: bool,
    pub teams: Vec<String>,
    pub state: String,
    pub draft: bool,
    pub created_at: Timestamp,
    pub ready_at: Option<Timestamp>,
    pub first_review_at: Option<Timestamp>,
    pub first_approval_at: Option<Timestamp>,
    pub merged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub cycle_time_seconds: Option<i64>,
    pub review_time_seconds: Option<i64>,
    pub pickup_time_seconds: Option<i64>,
    pub time_to_first_approval_seconds: Option<i64>,
    pub merge_after_approval_seconds: Option<i64>,
    pub review_rounds: i32,
    pub additions: Option<i32>,
    pub deletions: Option<i32>,
    pub changed_files: Option<i32>,
    #[serde(skip)]
    pub page_key: PageKey,
}

/// Pull requests, newest first (by `created_at`, then repository and
/// number, so pages never skip or repeat a row).
pub async fn pull_requests(
    client: &impl GenericClient,
    filter: &PullRequestFilter,
) -> Result<Vec<PullRequestRow>, StoreError> {
    let sql = format!(
        "SELECT m.repository, m.number, m.title, m.author, m.author_is_bot, {AUTHOR_TEAMS},
                m.state, m.draft, m.created_at, m.ready_at, m.first_review_at,
                m.first_approval_at, m.merged_at, m.closed_at, m.cycle_time_seconds,
                m.review_time_seconds, m.pickup_time_seconds, m.time_to_first_approval_seconds,
                m.merge_after_approval_seconds, m.review_rounds, m.additions, m.deletions,
                m.changed_files, m.repository_id
         FROM pr_metrics m
         JOIN pull_requests pr ON pr.repository_id = m.repository_id AND pr.number = m.number
         WHERE ($1::text IS NULL OR lower(m.repository) = $1)
           AND ($2::text IS NULL OR lower(m.author) = lower($2))
           AND ($3::text IS NULL OR m.state = $3)
           AND ($4::timestamptz IS NULL OR m.created_at >= $4)
           AND ($5::timestamptz IS NULL OR m.created_at < $5)
           AND ($6::bool OR NOT m.author_is_bot)
           AND ($7::text IS NULL OR EXISTS (
                SELECT 1 FROM github_team_members tm
                JOIN github_teams t ON t.github_id = tm.team_id
                WHERE tm.member_id = pr.author_id AND NOT t.deleted
                  AND lower(t.slug) = lower($7)))
           AND ($8::timestamptz IS NULL
                OR (m.created_at, m.repository_id, m.number) < ($8, $9::bigint, $10::integer))
         ORDER BY m.created_at DESC, m.repository_id DESC, m.number DESC
         LIMIT $11"
    );
    let after = filter.after;
    let params: [&(dyn ToSql + Sync); 11] = [
        &filter.repository.as_ref().map(RepoFullName::key),
        &filter.author,
        &filter.state,
        &filter.created_from,
        &filter.created_until,
        &filter.include_bots,
        &filter.team,
        &after.map(|key| key.created_at),
        &after.map(|key| key.repository_id),
        &after.map(|key| key.number),
        &filter.limit,
    ];
    let rows = client.query(&sql, &params).await?;
    Ok(rows.iter().map(pull_request_row).collect())
}

fn pull_request_row(row: &Row) -> PullRequestRow {
    PullRequestRow {
        repository: row.get(0),
        number: row.get(1),
        title: row.get(2),
        author: row.get(3),
        author_is_bot: row.get(4),
        teams: row.get(5),
        state: row.get(6),
        draft: row.get(7),
        created_at: row.get(8),
        ready_at: row.get(9),
        first_review_at: row.get(10),
        first_approval_at: row.get(11),
        merged_at: row.get(12),
        closed_at: row.get(13),
        cycle_time_seconds: row.get(14),
        review_time_seconds: row.get(15),
        pickup_time_seconds: row.get(16),
        time_to_first_approval_seconds: row.get(17),
        merge_after_approval_seconds: row.get(18),
        review_rounds: row.get(19),
        additions: row.get(20),
        deletions: row.get(21),
        changed_files: row.get(22),
        page_key: PageKey {
            created_at: row.get(8),
            repository_id: row.get(23),
            number: row.get(1),
        },
    }
}

/// A pull request as a summary needs it: what it is grouped by, the wall
/// spans and when each ended.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRow {
    pub repository: String,
    pub author: Option<String>,
    pub teams: Vec<String>,
    pub merged_at: Option<Timestamp>,
    pub first_review_at: Option<Timestamp>,
    pub first_approval_at: Option<Timestamp>,
    /// Where pickup time and time to first approval start.
    pub ready_at: Option<Timestamp>,
    /// Cycle, review, pickup, time to first approval, merge after approval.
    pub spans: [Option<i64>; 5],
    pub review_rounds: i32,
    /// For the maintained rollup, which keeps bots' pull requests apart.
    pub author_is_bot: bool,
    /// The Jira projects it is linked to (sorted), read only for a
    /// summary by Jira project ([`each_span_row_with_jira_projects`]);
    /// empty otherwise.
    pub jira_projects: Vec<String>,
}

/// Pull requests with a span that ended in `[from, until)`: merged,
/// first reviewed or first approved then, handed to `each` one at a time
/// as they stream in (a summary of 100,000 rows never holds them all).
///
/// Teams come from one query of every membership, looked up per row: a
/// subquery per row cost ~30 µs each, 3 s of a 100,000-row summary. The
/// rows come from `pull_requests` itself, not `pr_metrics`: the view
/// joined back to `pull_requests` for the author id made Postgres hash
/// the whole table twice (~160 ms of a 100,000-row summary, against
/// ~55 ms for one scan); the columns and the bot rule are the view's.
pub async fn each_span_row(
    client: &impl GenericClient,
    from: Timestamp,
    until: Timestamp,
    include_bots: bool,
    each: impl FnMut(SpanRow),
) -> Result<(), StoreError> {
    span_rows(client, from, until, include_bots, None, each).await
}

/// [`each_span_row`] with each pull request's Jira projects, looked up
/// per row in one query of every link, as the teams are.
pub async fn each_span_row_with_jira_projects(
    client: &impl GenericClient,
    from: Timestamp,
    until: Timestamp,
    include_bots: bool,
    each: impl FnMut(SpanRow),
) -> Result<(), StoreError> {
    let projects = jira::pull_request_jira_projects(client).await?;
    span_rows(client, from, until, include_bots, Some(&projects), each).await
}

async fn span_rows(
    client: &impl GenericClient,
    from: Timestamp,
    until: Timestamp,
    include_bots: bool,
    jira_projects: Option<&HashMap<(i64, i32), Vec<String>>>,
    mut each: impl FnMut(SpanRow),
) -> Result<(), StoreError> {
    let teams = author_teams(client).await?;
    let params: [&(dyn ToSql + Sync); 3] = [&from, &until, &include_bots];
    let rows = client
        .query_raw(
            "SELECT r.full_name, author.login, pr.author_id, pr.merged_at, pr.first_review_at,
                    pr.first_approval_at, pr.cycle_time_seconds, pr.review_time_seconds,
                    pr.pickup_time_seconds, pr.time_to_first_approval_seconds,
                    pr.merge_after_approval_seconds, pr.review_rounds, pr.ready_at,
                    coalesce(author.is_bot, false), pr.repository_id, pr.number
             FROM pull_requests pr
             JOIN repositories r ON r.github_id = pr.repository_id
             LEFT JOIN members author ON author.github_id = pr.author_id
             WHERE ((pr.merged_at >= $1 AND pr.merged_at < $2)
                    OR (pr.first_review_at >= $1 AND pr.first_review_at < $2)
                    OR (pr.first_approval_at >= $1 AND pr.first_approval_at < $2))
               AND ($3::bool OR NOT coalesce(author.is_bot, false))",
            params,
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await? {
        let author_id: Option<i64> = row.get(2);
        each(SpanRow {
            repository: row.get(0),
            author: row.get(1),
            teams: author_id
                .and_then(|id| teams.get(&id).cloned())
                .unwrap_or_default(),
            merged_at: row.get(3),
            first_review_at: row.get(4),
            first_approval_at: row.get(5),
            spans: [row.get(6), row.get(7), row.get(8), row.get(9), row.get(10)],
            review_rounds: row.get(11),
            ready_at: row.get(12),
            author_is_bot: row.get(13),
            jira_projects: jira_projects
                .and_then(|projects| projects.get(&(row.get(14), row.get(15))).cloned())
                .unwrap_or_default(),
        });
    }
    Ok(())
}

/// Every member's current team slugs (deleted teams excluded), sorted.
pub async fn author_teams(
    client: &impl GenericClient,
) -> Result<HashMap<i64, Vec<String>>, StoreError> {
    Ok(client
        .query(
            "SELECT tm.member_id, array_agg(DISTINCT t.slug ORDER BY t.slug)
             FROM github_team_members tm JOIN github_teams t ON t.github_id = tm.team_id
             WHERE NOT t.deleted AND t.slug IS NOT NULL
             GROUP BY tm.member_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// An open pull request that asks for review and has none yet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaitingRow {
    pub repository: String,
    pub number: i32,
    pub title: Option<String>,
    pub author: Option<String>,
    pub teams: Vec<String>,
    pub ready_at: Timestamp,
}

/// Open, ready pull requests without a qualifying review (by a human
/// other than the author) since they became ready; longest wait first.
pub async fn waiting_for_review(
    client: &impl GenericClient,
    include_bots: bool,
    limit: i64,
) -> Result<Vec<WaitingRow>, StoreError> {
    let sql = format!(
        "SELECT m.repository, m.number, m.title, m.author, {AUTHOR_TEAMS}, m.ready_at
         FROM pr_metrics m
         JOIN pull_requests pr ON pr.repository_id = m.repository_id AND pr.number = m.number
         WHERE m.state = 'open' AND NOT m.draft AND m.ready_at IS NOT NULL
           AND ($1::bool OR NOT m.author_is_bot)
           -- A pickup time means a qualifying review after ready_at.
           AND m.pickup_time_seconds IS NULL
           AND NOT EXISTS (
                SELECT 1 FROM reviews rv LEFT JOIN members rm ON rm.github_id = rv.reviewer_id
                WHERE rv.repository_id = pr.repository_id AND rv.pull_request_number = pr.number
                  AND rv.submitted_at >= m.ready_at AND NOT coalesce(rm.is_bot, false)
                  AND (rv.reviewer_id IS NULL OR rv.reviewer_id IS DISTINCT FROM pr.author_id))
         ORDER BY m.ready_at, m.repository, m.number
         LIMIT $2"
    );
    let rows = client.query(&sql, &[&include_bots, &limit]).await?;
    Ok(rows
        .iter()
        .map(|row| WaitingRow {
            repository: row.get(0),
            number: row.get(1),
            title: row.get(2),
            author: row.get(3),
            teams: row.get(4),
            ready_at: row.get(5),
        })
        .collect())
}
