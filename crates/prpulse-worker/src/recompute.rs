//! Metrics after a change: the store loads each pull request's facts, the
//! domain's pure rules compute the metrics, the store saves them; one
//! statement each for a whole batch.

use prpulse_domain::compute_metrics;
use prpulse_store::{
    GenericClient, StoreError,
    projection::{PullRequestKey, load_metric_facts, lock_pull_requests, save_metrics},
};

/// Recomputes the metrics of each pull request of `keys` that exists, from
/// everything stored about it. Its row must be locked already (the upsert
/// did, or [`lock_and_recompute`]), so every committed review is seen.
pub async fn recompute_metrics(
    client: &impl GenericClient,
    keys: &[PullRequestKey],
) -> Result<(), StoreError> {
    let facts = load_metric_facts(client, keys).await?;
    let metrics: Vec<_> = facts
        .iter()
        .map(|(key, facts)| (*key, compute_metrics(&facts.pull_request, &facts.reviews)))
        .collect();
    save_metrics(client, &metrics).await
}

/// Locks the rows of `keys` (in key order) and recomputes their metrics:
/// for pull requests no delivery touched, whose reviewer became (or
/// stopped being) a bot, and for a rebuilt pull request.
pub async fn lock_and_recompute(
    client: &impl GenericClient,
    keys: &[PullRequestKey],
) -> Result<(), StoreError> {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    lock_pull_requests(client, &keys).await?;
    recompute_metrics(client, &keys).await
}
