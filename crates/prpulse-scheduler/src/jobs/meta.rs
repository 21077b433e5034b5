//! GitHub's published hook address ranges (`/meta`), stored for ingest's
//! optional source allow-list.

use prpulse_github_api::{GitHubClient, GitHubError, orgs};
use prpulse_store::{Pool, StoreError, sources::replace_networks};

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
