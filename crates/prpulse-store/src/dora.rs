//! The DORA facts (migrations/V15__dora.sql): deployments, their statuses,
//! workflow runs, issues and merge commits, each upsert written so that the
//! same rows in any order leave the same table (the newest version of a
//! scalar by the payload's own time, then a rank, then the delivery id).
//! What is a production deploy, which deploy shipped what, and which deploy
//! an incident follows are views over these facts.

use deadpool_postgres::GenericClient;

use std::collections::BTreeMap;

use crate::{
    StoreError,
    projection::{PullRequestKey, Timestamp},
};

pub mod links;
pub mod read;
pub mod settings;

pub struct DeploymentRow<'a> {
    pub github_id: i64,
    pub repository_id: i64,
    pub sha: &'a str,
    pub git_ref: Option<&'a str>,
    pub environment: &'a str,
    pub production_environment: Option<bool>,
    pub created_at: Timestamp,
    /// The deployment's `updated_at` (else `created_at`).
    pub version_at: Timestamp,
    pub version_delivery: &'a str,
}

pub async fn upsert_deployment(
    client: &impl GenericClient,
    row: &DeploymentRow<'_>,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO github_deployments AS d
                 (github_id, repository_id, sha, ref, environment, production_environment,
                  created_at, version_at, version_delivery)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (github_id) DO UPDATE SET
                 repository_id = EXCLUDED.repository_id, sha = EXCLUDED.sha,
                 ref = coalesce(EXCLUDED.ref, d.ref), environment = EXCLUDED.environment,
                 production_environment =
                     coalesce(EXCLUDED.production_environment, d.production_environment),
                 created_at = least(d.created_at, EXCLUDED.created_at),
                 version_at = EXCLUDED.version_at, version_delivery = EXCLUDED.version_delivery
             WHERE (EXCLUDED.version_at, EXCLUDED.version_delivery)
                 > (d.version_at, d.version_delivery)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &row.github_id,
                &row.repository_id,
                &row.sha,
                &row.git_ref,
                &row.environment,
                &row.production_environment,
                &row.created_at,
                &row.version_at,
                &row.version_delivery,
            ],
        )
        .await?;
    Ok(())
}

/// A status never changes: the first write is the only one.
pub async fn insert_deployment_status(
    client: &impl GenericClient,
    github_id: i64,
    deployment_id: i64,
    state: &str,
    created_at: Timestamp,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO github_deployment_statuses (github_id, deployment_id, state, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (github_id) DO NOTHING",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&github_id, &deployment_id, &state, &created_at],
        )
        .await?;
    Ok(())
}

pub struct WorkflowRunRow<'a> {
    pub github_id: i64,
    pub repository_id: i64,
    pub workflow_path: Option<&'a str>,
    pub head_branch: Option<&'a str>,
    pub head_sha: &'a str,
    pub status: Option<&'a str>,
    pub conclusion: Option<&'a str>,
    pub started_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub attempt: i32,
    /// 1 once the run says it completed: of the same attempt and second,
    /// completion comes last.
    pub rank: i16,
    pub delivery: &'a str,
}

pub async fn upsert_workflow_run(
    client: &impl GenericClient,
    row: &WorkflowRunRow<'_>,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO github_workflow_runs AS w
                 (github_id, repository_id, workflow_path, head_branch, head_sha, status,
                  conclusion, started_at, created_at, updated_at, version_attempt,
                  version_rank, version_delivery)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (github_id) DO UPDATE SET
                 repository_id = EXCLUDED.repository_id,
                 workflow_path = coalesce(EXCLUDED.workflow_path, w.workflow_path),
                 head_branch = coalesce(EXCLUDED.head_branch, w.head_branch),
                 head_sha = EXCLUDED.head_sha, status = EXCLUDED.status,
                 conclusion = EXCLUDED.conclusion, started_at = EXCLUDED.started_at,
                 created_at = least(w.created_at, EXCLUDED.created_at),
                 updated_at = EXCLUDED.updated_at, version_attempt = EXCLUDED.version_attempt,
                 version_rank = EXCLUDED.version_rank,
                 version_delivery = EXCLUDED.version_delivery
             WHERE (EXCLUDED.version_attempt, EXCLUDED.updated_at, EXCLUDED.version_rank,
                    EXCLUDED.version_delivery)
                 > (w.version_attempt, w.updated_at, w.version_rank, w.version_delivery)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &row.github_id,
                &row.repository_id,
                &row.workflow_path,
                &row.head_branch,
                &row.head_sha,
                &row.status,
                &row.conclusion,
                &row.started_at,
                &row.created_at,
                &row.updated_at,
                &row.attempt,
                &row.rank,
                &row.delivery,
            ],
        )
        .await?;
    Ok(())
}

pub struct IssueRow<'a> {
    pub github_id: i64,
    pub repository_id: i64,
    pub number: i32,
    pub title: Option<&'a str>,
    pub labels: Vec<String>,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub deleted: bool,
    pub version_at: Timestamp,
    /// Of one second, a change of state or labels (1) is newer than a
    /// payload that only shows the issue (0).
    pub version_rank: i16,
    pub version_delivery: &'a str,
}

pub async fn upsert_issue(
    client: &impl GenericClient,
    row: &IssueRow<'_>,
) -> Result<(), StoreError> {
    let newer = "(EXCLUDED.version_at, EXCLUDED.version_rank, EXCLUDED.version_delivery)
                 > (i.version_at, i.version_rank, i.version_delivery)";
    let sets = [
        "repository_id",
        "number",
        "title",
        "labels",
        "resolved_at",
        "version_at",
        "version_rank",
        "version_delivery",
    ]
    .map(|column| {
        format!("{column} = CASE WHEN {newer} THEN EXCLUDED.{column} ELSE i.{column} END")
    })
    .join(", ");
    let statement = client
        .prepare_cached(&format!(
            "INSERT INTO github_issues AS i
                 (github_id, repository_id, number, title, labels, created_at, resolved_at,
                  deleted, version_at, version_rank, version_delivery)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (github_id) DO UPDATE SET
                 deleted = i.deleted OR EXCLUDED.deleted,
                 created_at = least(i.created_at, EXCLUDED.created_at), {sets}"
        ))
        .await?;
    client
        .execute(
            &statement,
            &[
                &row.github_id,
                &row.repository_id,
                &row.number,
                &row.title,
                &row.labels,
                &row.created_at,
                &row.resolved_at,
                &row.deleted,
                &row.version_at,
                &row.version_rank,
                &row.version_delivery,
            ],
        )
        .await?;
    Ok(())
}

/// What a merged pull request put on its base branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRow<'a> {
    pub pull_request: PullRequestKey,
    pub merge_commit_sha: &'a str,
    pub into_default_branch: bool,
}

/// Records merge commits, for a whole batch in one statement. Every
/// payload of a merged pull request names the same commit; the least is
/// kept should two ever differ, and a merge seen once into the default
/// branch stays so, so the order cannot matter. Rows of one pull request
/// are folded the same way first (an upsert cannot touch a row twice).
pub async fn upsert_merges(
    client: &impl GenericClient,
    rows: &[MergeRow<'_>],
) -> Result<(), StoreError> {
    let mut folded: BTreeMap<PullRequestKey, MergeRow<'_>> = BTreeMap::new();
    for row in rows {
        folded
            .entry(row.pull_request)
            .and_modify(|kept| {
                kept.merge_commit_sha = kept.merge_commit_sha.min(row.merge_commit_sha);
                kept.into_default_branch |= row.into_default_branch;
            })
            .or_insert_with(|| row.clone());
    }
    if folded.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO pull_request_merges AS m
                 (repository_id, number, merge_commit_sha, into_default_branch)
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bool[])
             ORDER BY 1, 2
             ON CONFLICT (repository_id, number) DO UPDATE SET
                 merge_commit_sha = least(m.merge_commit_sha, EXCLUDED.merge_commit_sha),
                 into_default_branch = m.into_default_branch OR EXCLUDED.into_default_branch
             WHERE EXCLUDED.merge_commit_sha < m.merge_commit_sha
                OR (EXCLUDED.into_default_branch AND NOT m.into_default_branch)",
        )
        .await?;
    let rows: Vec<MergeRow<'_>> = folded.into_values().collect();
    let repositories: Vec<i64> = rows.iter().map(|row| row.pull_request.0).collect();
    let numbers: Vec<i32> = rows.iter().map(|row| row.pull_request.1).collect();
    let shas: Vec<&str> = rows.iter().map(|row| row.merge_commit_sha).collect();
    let into_default: Vec<bool> = rows.iter().map(|row| row.into_default_branch).collect();
    client
        .execute(&statement, &[&repositories, &numbers, &shas, &into_default])
        .await?;
    Ok(())
}
