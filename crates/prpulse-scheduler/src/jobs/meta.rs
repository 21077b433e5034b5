//! GitHub's published hook address ranges (`/meta`), stored for ingest's
//! optional source allow-list.

use prpulse_github_api::{GitHubClient, GitHubError, orgs};
use prpulse_store::{Pool, StoreError, sources::replace_networks, tracking};
use tracing::info;

use crate::round::{JobError, Ran, Round};

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("GitHub's /meta lists no hook ranges; keeping the stored ones")]
    Empty,
}

pub async fn refresh_hook_ranges(github: &GitHubClient, pool: &Pool) -> Result<usize, MetaError> {
    let ranges = orgs::hook_ranges(github).await?;
    if ranges.is_empty() {
        return Err(MetaError::Empty);
    }
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    replace_networks(&transaction, "github", &ranges).await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(ranges.len())
}

/// The `meta` job. Any integration's token will do: /meta is the same for
/// everyone; with no tracked repository there is nothing to refresh for.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let repositories = {
        let client = scheduler.pool.get().await.map_err(StoreError::from)?;
        tracking::repositories(&client).await?
    };
    let Some(account) = repositories.first().map(|repo| repo.account.as_str()) else {
        return Ok(Ran::Done);
    };
    let github = round.github(account).await?;
    let ranges = refresh_hook_ranges(github, &scheduler.pool)
        .await
        .map_err(|error| anyhow::anyhow!("refreshing GitHub's hook ranges: {error}"))?;
    info!(ranges, "GitHub hook ranges refreshed");
    Ok(Ran::Done)
}
