//! What the DORA keys need from the REST API: the commits a deploy added
//! (compare), a pull request's commits (its first commit time), and the
//! deployments and statuses backfill republishes. Every call goes through
//! the client, so it is paced by the rate limit like any other.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{GitHubClient, GitHubError};

/// Items per page asked for (GitHub allows up to 100).
const PAGE: usize = 100;

#[derive(Debug, Deserialize)]
struct Comparison {
    /// Every commit `head` has that `base` has not, over all pages.
    total_commits: usize,
    commits: Vec<CommitRef>,
}

#[derive(Debug, Deserialize)]
struct CommitRef {
    sha: String,
}

/// The commits `head` added since `base`
/// (`GET /repos/{o}/{r}/compare/{base}...{head}`, every page). A rollback
/// (`head` behind `base`) added none.
pub async fn added_commits(
    client: &GitHubClient,
    repo: &str,
    base: &str,
    head: &str,
) -> Result<Vec<String>, GitHubError> {
    let mut shas = Vec::new();
    for page in 1.. {
        let comparison: Comparison = client
            .get(&format!(
                "/repos/{repo}/compare/{base}...{head}?per_page={PAGE}&page={page}"
            ))
            .await?;
        let listed = comparison.commits.len();
        shas.extend(comparison.commits.into_iter().map(|commit| commit.sha));
        if listed < PAGE || shas.len() >= comparison.total_commits {
            break;
        }
    }
    Ok(shas)
}

#[derive(Debug, Deserialize)]
struct PullCommit {
    commit: GitCommit,
}

#[derive(Debug, Deserialize)]
struct GitCommit {
    author: Option<Signature>,
}

#[derive(Debug, Deserialize)]
struct Signature {
    date: Option<DateTime<Utc>>,
}

/// The earliest author date among pull request `number`'s commits
/// (`GET /repos/{o}/{r}/pulls/{n}/commits`, every page). The author date,
/// not the committer date: a rebase or amend rewrites the committer date,
/// while the author date stays when the work was first committed.
pub async fn first_commit_at(
    client: &GitHubClient,
    repo: &str,
    number: i64,
) -> Result<Option<DateTime<Utc>>, GitHubError> {
    let commits: Vec<PullCommit> = client
        .get_all(&format!(
            "/repos/{repo}/pulls/{number}/commits?per_page=100"
        ))
        .await?;
    Ok(commits
        .iter()
        .filter_map(|commit| commit.commit.author.as_ref()?.date)
        .min())
}

/// The repository's deployments created since `since`, newest first
/// (`GET /repos/{o}/{r}/deployments`), as JSON: backfill republishes them
/// in the webhook's shape.
pub async fn created_since(
    client: &GitHubClient,
    repo: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Value>, GitHubError> {
    let mut next = Some(format!("/repos/{repo}/deployments?per_page=100"));
    let mut deployments = Vec::new();
    while let Some(page) = next.take() {
        let (items, following): (Vec<Value>, _) = client.get_page(&page).await?;
        let before = deployments.len();
        deployments.extend(items.into_iter().filter(|item| {
            item["created_at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .is_none_or(|at| at >= since)
        }));
        // Newest first: a page with an older deployment is the last one.
        if deployments.len() - before == PAGE {
            next = following;
        }
    }
    Ok(deployments)
}

/// Every status of deployment `id`
/// (`GET /repos/{o}/{r}/deployments/{id}/statuses`).
pub async fn statuses(
    client: &GitHubClient,
    repo: &str,
    id: i64,
) -> Result<Vec<Value>, GitHubError> {
    client
        .get_all(&format!(
            "/repos/{repo}/deployments/{id}/statuses?per_page=100"
        ))
        .await
}
