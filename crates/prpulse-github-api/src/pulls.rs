//! Pull requests and their reviews, for backfill. The objects are kept as
//! JSON: backfill republishes them as webhook-shaped payloads, and the
//! worker parses them with the same types as any delivery.

use chrono::{DateTime, Utc};
use prpulse_domain::RepoFullName;
use serde_json::Value;

use crate::{GitHubClient, GitHubError};

/// The numbers of pull requests updated since `since`, newest first.
pub async fn updated_since(
    client: &GitHubClient,
    repo: &RepoFullName,
    since: DateTime<Utc>,
) -> Result<Vec<i64>, GitHubError> {
    let mut next = Some(format!(
        "/repos/{repo}/pulls?state=all&sort=updated&direction=desc&per_page=100"
    ));
    let mut numbers = Vec::new();
    while let Some(page) = next.take() {
        let (items, following): (Vec<Value>, _) = client.get_page(&page).await?;
        let mut older_seen = false;
        for item in items {
            let updated = item["updated_at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok());
            if updated.is_some_and(|at| at < since) {
                older_seen = true;
                continue;
            }
            if let Some(number) = item["number"].as_i64() {
                numbers.push(number);
            }
        }
        if !older_seen {
            next = following;
        }
    }
    Ok(numbers)
}

/// The full pull request (with `merged`, sizes), as webhooks carry it.
pub async fn get(
    client: &GitHubClient,
    repo: &RepoFullName,
    number: i64,
) -> Result<Value, GitHubError> {
    client.get(&format!("/repos/{repo}/pulls/{number}")).await
}

pub async fn reviews(
    client: &GitHubClient,
    repo: &RepoFullName,
    number: i64,
) -> Result<Vec<Value>, GitHubError> {
    client
        .get_all(&format!(
            "/repos/{repo}/pulls/{number}/reviews?per_page=100"
        ))
        .await
}

pub async fn repository(client: &GitHubClient, repo: &RepoFullName) -> Result<Value, GitHubError> {
    client.get(&format!("/repos/{repo}")).await
}

/// The issue timeline of pull request `number`, every page: backfill reads
/// its `ready_for_review` and `convert_to_draft` events, which the pulls
/// endpoints do not show. Events of other kinds have other shapes (a
/// `committed` event has no `id` or `created_at`), hence JSON values.
pub async fn timeline(
    client: &GitHubClient,
    repo: &RepoFullName,
    number: i64,
) -> Result<Vec<Value>, GitHubError> {
    client
        .get_all(&format!(
            "/repos/{repo}/issues/{number}/timeline?per_page=100"
        ))
        .await
}
