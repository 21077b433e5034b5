//! Applying the projections of a batch's fresh deliveries in one
//! transaction, set-based: one statement per table for the whole batch
//! (pull requests and reviews in rounds when a batch carries several
//! deliveries of one pull request), row locks in one global order.
//!
//! Events that are rare or have their own tables (teams, memberships; DORA
//! deployments, Jira issues) are applied per delivery inside the
//! same transaction, by [`Projection::apply_alone`]: a new kind needs one
//! arm there.

use std::collections::{BTreeMap, BTreeSet};

use prpulse_domain::{BotPolicy, DeliveryId};
use prpulse_store::{
    GenericClient, StoreError,
    projection::{
        MemberRow, PullRequestKey, Repeats, RepositoryRow, keep_newest, reviewed_by,
        upsert_members, upsert_pull_requests, upsert_repositories, upsert_reviews,
    },
};

use crate::{
    projection::{Links, Projection},
    recompute::{lock_and_recompute, recompute_metrics},
};

/// Applies the projections of fresh deliveries (in the order given), taking
/// row locks in the global order: repositories and members once each by
/// id, then (after the per-delivery kinds) pull requests by (repository,
/// number). Each repository and person gets the newest fact among the
/// deliveries (by the payload's own time), as applying them one by one
/// would give. A person whose bot flag changed changes the metrics of
/// every pull request they reviewed: those are locked in the same order
/// and recomputed too. `repeats` says whether `confirm_entities` took the
/// facts that only repeat a row before this transaction.
pub async fn apply_projections(
    client: &impl GenericClient,
    fresh: &[(&Projection, &DeliveryId)],
    bots: &BotPolicy,
    repeats: Repeats,
) -> Result<(), StoreError> {
    let flipped = upsert_entities(
        client,
        fresh.iter().map(|(projection, _)| *projection),
        bots,
        repeats,
    )
    .await?;
    for (projection, delivery_id) in fresh {
        projection.apply_alone(client, delivery_id).await?;
    }
    let mut pull_requests = Vec::new();
    let mut reviews = Vec::new();
    for (projection, delivery_id) in fresh {
        if let Some((pull_request, review)) = projection.rows(delivery_id) {
            pull_requests.push(pull_request);
            reviews.extend(review);
        }
    }
    let applied: BTreeSet<PullRequestKey> = pull_requests.iter().map(|row| row.key()).collect();
    let refresh: Vec<PullRequestKey> = reviewed_by(client, &flipped)
        .await?
        .into_iter()
        .filter(|key| !applied.contains(key))
        .collect();
    upsert_pull_requests(client, &pull_requests, &refresh).await?;
    upsert_reviews(client, &reviews).await?;
    let mut links = Links::default();
    for (projection, delivery_id) in fresh {
        links.add(projection, delivery_id);
    }
    links.write(client).await?;
    // Once per pull request, after all its deliveries of the batch.
    let mut keys: Vec<PullRequestKey> = applied.into_iter().chain(refresh).collect();
    keys.sort_unstable();
    recompute_metrics(client, &keys).await
}

/// The repositories and people of `projections`, each once, in id order,
/// with the newest fact of each (by the payload's own time), as applying
/// them one by one would give.
pub fn newest_entities<'a>(
    projections: impl Iterator<Item = &'a Projection>,
    bots: &BotPolicy,
) -> (Vec<RepositoryRow<'a>>, Vec<MemberRow<'a>>) {
    let mut repositories = BTreeMap::new();
    let mut people = BTreeMap::new();
    for projection in projections {
        let (repository, members) = projection.entities(bots);
        if let Some(row) = repository {
            keep_newest(&mut repositories, row.github_id, row, |new, old| {
                new.version() > old.version()
            });
        }
        for member in members {
            keep_newest(&mut people, member.github_id, member, |new, old| {
                new.version() > old.version()
            });
        }
    }
    (
        repositories.into_values().collect(),
        people.into_values().collect(),
    )
}

/// Upserts the repositories and people of `projections` (see
/// [`newest_entities`]), taking facts that only repeat a row as well unless
/// `repeats` says `confirm_entities` took them. Returns the people whose
/// bot flag changed.
pub async fn upsert_entities<'a>(
    client: &impl GenericClient,
    projections: impl Iterator<Item = &'a Projection>,
    bots: &BotPolicy,
    repeats: Repeats,
) -> Result<Vec<i64>, StoreError> {
    let (repositories, mut people) = newest_entities(projections, bots);
    upsert_repositories(client, &repositories, repeats).await?;
    upsert_members(client, &mut people, repeats).await
}

/// Recomputes the metrics of every pull request that `reviewers` reviewed,
/// in key order (after their member rows, as the global lock order says).
pub async fn refresh_reviewed_by(
    client: &impl GenericClient,
    reviewers: &[i64],
) -> Result<(), StoreError> {
    let keys = reviewed_by(client, reviewers).await?;
    lock_and_recompute(client, &keys).await
}
