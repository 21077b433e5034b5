//! The work of the scheduler's DORA link job: which deploys still need a
//! comparison with the deploy before them, which merged pull requests
//! still need their first commit time, and recording both. Recording
//! replaces what was there, so running the job twice changes nothing.

use deadpool_postgres::GenericClient;

use crate::{StoreError, projection::Timestamp};

/// A successful production deploy whose added commits are not known for
/// its current predecessor (the deploy before it in its environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingComparison {
    pub deployment_id: String,
    /// owner/name.
    pub repository: String,
    /// `None`: the first deploy of its environment; only its own commit links.
    pub base_sha: Option<String>,
    pub head_sha: String,
}

/// Up to `limit` deploys of `repository` (owner/name, any case) to
/// compare, oldest first. A deploy compared
/// against another base (one arrived late in between) is compared again.
/// Merge deploys need none: a merge deploy is its pull request's commit.
pub async fn pending_comparisons(
    client: &impl GenericClient,
    repository: &str,
    limit: i64,
) -> Result<Vec<PendingComparison>, StoreError> {
    let rows = client
        .query(
            "WITH shipped AS (
                 SELECT d.deployment_id, d.repository_id, d.sha, d.finished_at,
                        lag(d.sha) OVER (PARTITION BY d.repository_id, d.environment
                                         ORDER BY d.finished_at, d.deployment_id) AS base_sha
                 FROM dora_deploys d
                 WHERE d.status = 'success' AND d.source <> 'merge'
             )
             SELECT s.deployment_id, r.full_name, s.base_sha, s.sha
             FROM shipped s
             JOIN repositories r ON r.github_id = s.repository_id
             LEFT JOIN deployment_comparisons c ON c.deployment_id = s.deployment_id
             WHERE lower(r.full_name) = lower($2)
               AND (c.deployment_id IS NULL OR c.base_sha IS DISTINCT FROM s.base_sha
                    OR c.head_sha <> s.sha)
             ORDER BY s.finished_at, s.deployment_id
             LIMIT $1",
            &[&limit, &repository],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| PendingComparison {
            deployment_id: row.get(0),
            repository: row.get(1),
            base_sha: row.get(2),
            head_sha: row.get(3),
        })
        .collect())
}

/// Replaces what is known of the commits `comparison`'s deploy added.
/// Call in a transaction.
pub async fn record_comparison(
    client: &impl GenericClient,
    comparison: &PendingComparison,
    commits: &[String],
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM deployment_commits WHERE deployment_id = $1",
            &[&comparison.deployment_id],
        )
        .await?;
    client
        .execute(
            "INSERT INTO deployment_commits (deployment_id, sha)
             SELECT $1, sha FROM unnest($2::text[]) AS sha ON CONFLICT DO NOTHING",
            &[&comparison.deployment_id, &commits],
        )
        .await?;
    let count = i32::try_from(commits.len()).unwrap_or(i32::MAX);
    client
        .execute(
            "INSERT INTO deployment_comparisons (deployment_id, base_sha, head_sha, commits)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (deployment_id) DO UPDATE SET
                 base_sha = EXCLUDED.base_sha, head_sha = EXCLUDED.head_sha,
                 commits = EXCLUDED.commits, compared_at = now()",
            &[
                &comparison.deployment_id,
                &comparison.base_sha,
                &comparison.head_sha,
                &count,
            ],
        )
        .await?;
    Ok(())
}

/// A merged pull request whose first commit time is not known yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFirstCommit {
    pub repository_id: i64,
    /// owner/name.
    pub repository: String,
    pub number: i32,
}

/// Up to `limit` merged pull requests of `repository` without a first
/// commit time, most recently merged first. Only merged ones: their commits are final.
pub async fn pending_first_commits(
    client: &impl GenericClient,
    repository: &str,
    limit: i64,
) -> Result<Vec<PendingFirstCommit>, StoreError> {
    let rows = client
        .query(
            "SELECT pr.repository_id, r.full_name, pr.number
             FROM pull_requests pr
             JOIN repositories r ON r.github_id = pr.repository_id
             WHERE pr.merged_at IS NOT NULL AND lower(r.full_name) = lower($2)
               AND NOT EXISTS (SELECT FROM pull_request_first_commits fc
                               WHERE fc.repository_id = pr.repository_id
                                 AND fc.number = pr.number)
             ORDER BY pr.merged_at DESC, pr.repository_id, pr.number
             LIMIT $1",
            &[&limit, &repository],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| PendingFirstCommit {
            repository_id: row.get(0),
            repository: row.get(1),
            number: row.get(2),
        })
        .collect())
}

pub async fn record_first_commit(
    client: &impl GenericClient,
    repository_id: i64,
    number: i32,
    first_commit_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO pull_request_first_commits (repository_id, number, first_commit_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (repository_id, number) DO UPDATE SET
                 first_commit_at = EXCLUDED.first_commit_at, fetched_at = now()",
            &[&repository_id, &number, &first_commit_at],
        )
        .await?;
    Ok(())
}
