//! The worker's steps: one delivery in one transaction, or a batch of
//! deliveries in one transaction. Public so that tests (and the benchmark)
//! can drive them without a broker.

use prpulse_domain::{BotPolicy, DeliveryId};
use prpulse_queue::Envelope;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use prpulse_store::{
    GenericClient, Pool, StoreError,
    deliveries::{self, NewDelivery, Outcome, Recorded},
    projection::{
        keep_newest, lock_and_refresh_metrics, refresh_metrics, reviewed_by, upsert_members,
        upsert_repository,
    },
};

use crate::projection::{PayloadError, Projection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    /// Recorded, and the projection changed.
    Projected,
    /// Recorded raw only.
    Stored,
    /// Already applied before: nothing changed.
    Duplicate,
}

impl Processed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Projected => "projected",
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Limits on each worker transaction, so a statement that hangs (a lock
/// held by a migration, a stuck server) ends as a transient error, retried
/// through the tiers, instead of holding the delivery and its connection
/// for ever. Postgres reports both as errors the worker retries (57014
/// query_canceled, 55P03 lock_not_available).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionTimeouts {
    /// `statement_timeout`: longest a statement may run; zero is none.
    pub statement: Duration,
    /// `lock_timeout`: longest a statement may wait for a lock; zero is none.
    pub lock: Duration,
}

impl TransactionTimeouts {
    fn set_local(self) -> Option<String> {
        let millis = |duration: Duration| duration.as_millis();
        let mut settings = Vec::new();
        if !self.statement.is_zero() {
            settings.push(format!(
                "SET LOCAL statement_timeout = {}",
                millis(self.statement)
            ));
        }
        if !self.lock.is_zero() {
            settings.push(format!("SET LOCAL lock_timeout = {}", millis(self.lock)));
        }
        (!settings.is_empty()).then(|| settings.join("; "))
    }
}

pub struct Processor {
    pool: Pool,
    bots: BotPolicy,
    /// The `SET LOCAL` that starts each transaction, if any.
    timeouts: Option<String>,
}

impl Processor {
    pub fn new(pool: Pool, bots: BotPolicy) -> Self {
        Self {
            pool,
            bots,
            timeouts: None,
        }
    }

    pub fn with_timeouts(mut self, timeouts: TransactionTimeouts) -> Self {
        self.timeouts = timeouts.set_local();
        self
    }

    async fn begin<'a>(
        &self,
        client: &'a mut prpulse_store::pool::Client,
    ) -> Result<prpulse_store::pool::Transaction<'a>, StoreError> {
        let transaction = client.transaction().await?;
        if let Some(timeouts) = &self.timeouts {
            transaction.batch_execute(timeouts).await?;
        }
        Ok(transaction)
    }

    /// Records the delivery and applies its projection in one transaction.
    /// A delivery id seen before changes nothing. The payload is parsed
    /// before the transaction opens, so a bad one costs no database work.
    pub async fn process(
        &self,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<Processed, ProcessError> {
        let projection = Projection::parse(&envelope.event, body)?;
        let mut client = self.pool.get().await.map_err(StoreError::from)?;
        let transaction = self.begin(&mut client).await?;
        let processed = record(&transaction, envelope, body, &projection).await?;
        if processed == Processed::Duplicate {
            // Dropping the transaction rolls it back.
            return Ok(processed);
        }
        apply_projections(
            &transaction,
            &[(&projection, &envelope.delivery_id)],
            &self.bots,
        )
        .await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(processed)
    }

    /// Records and projects every delivery of `batch` in one transaction:
    /// the outcome of each (in the order given) once all committed, or the
    /// first error, and then nothing was committed. On an error the caller
    /// processes the batch one by one with [`Self::process`], which decides
    /// each delivery's fate alone: one bad delivery must not retry or
    /// dead-letter the others.
    ///
    /// Row locks are taken in one global order, so that concurrent batches
    /// wait for each other rather than deadlock: delivery ids, then
    /// repositories and members (each once, by id), then pull requests by
    /// (repository, number). The projection gives the same rows in any
    /// order, so this order is free to choose.
    pub async fn process_batch(
        &self,
        batch: &[(&Envelope, &[u8])],
    ) -> Result<Vec<Processed>, ProcessError> {
        let projections = batch
            .iter()
            .map(|(envelope, body)| Projection::parse(&envelope.event, body))
            .collect::<Result<Vec<_>, _>>()?;
        let mut client = self.pool.get().await.map_err(StoreError::from)?;
        let transaction = self.begin(&mut client).await?;

        let mut by_id: Vec<usize> = (0..batch.len()).collect();
        by_id.sort_by(|&a, &b| {
            batch[a]
                .0
                .delivery_id
                .as_str()
                .cmp(batch[b].0.delivery_id.as_str())
        });
        let mut outcomes = vec![Processed::Duplicate; batch.len()];
        for i in by_id {
            let (envelope, body) = batch[i];
            outcomes[i] = record(&transaction, envelope, body, &projections[i]).await?;
        }
        let fresh: Vec<(&Projection, &DeliveryId)> = (0..batch.len())
            .filter(|&i| outcomes[i] != Processed::Duplicate)
            .map(|i| (&projections[i], &batch[i].0.delivery_id))
            .collect();
        apply_projections(&transaction, &fresh, &self.bots).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(outcomes)
    }
}

type PullRequestKey = Option<(i64, i32)>;

/// What [`apply_projections`] does to one pull request, in key order.
enum Step {
    /// Apply the facts of the i-th fresh delivery.
    Apply(usize),
    /// Only recompute the metrics (a reviewer's bot flag changed).
    Refresh,
}

/// Applies the projections of fresh deliveries in one transaction, taking
/// row locks in the global order: repositories and members once each by id,
/// then pull requests by (repository, number). Each repository and person
/// gets the newest fact among the deliveries (by the payload's own time),
/// as applying them one by one would give. A person whose bot flag changed
/// changes the metrics of every pull request they reviewed: those are
/// recomputed too, in the same order.
pub async fn apply_projections(
    client: &impl GenericClient,
    fresh: &[(&Projection, &DeliveryId)],
    bots: &BotPolicy,
) -> Result<(), StoreError> {
    let flipped = upsert_entities(
        client,
        fresh.iter().map(|(projection, _)| *projection),
        bots,
    )
    .await?;
    let applied: BTreeSet<(i64, i32)> = fresh
        .iter()
        .filter_map(|(projection, _)| projection.pull_request_key())
        .collect();
    let mut steps: Vec<(PullRequestKey, Step)> = fresh
        .iter()
        .enumerate()
        .map(|(i, (projection, _))| (projection.pull_request_key(), Step::Apply(i)))
        .collect();
    steps.extend(
        reviewed_by(client, &flipped)
            .await?
            .into_iter()
            .filter(|key| !applied.contains(key))
            .map(|key| (Some(key), Step::Refresh)),
    );
    steps.sort_by_key(|(key, _)| *key);
    // Each pull request's metrics are recomputed once, after the last of
    // its deliveries in the batch (they see every fact applied before).
    for (index, (key, step)) in steps.iter().enumerate() {
        let last_of_key = steps.get(index + 1).is_none_or(|(next, _)| next != key);
        match (step, key) {
            (Step::Apply(i), None) => fresh[*i].0.apply_facts(client, fresh[*i].1).await?,
            (Step::Apply(i), Some((repository, number))) => {
                fresh[*i].0.apply_facts_only(client, fresh[*i].1).await?;
                if last_of_key {
                    refresh_metrics(client, *repository, *number).await?;
                }
            }
            (Step::Refresh, Some((repository, number))) => {
                lock_and_refresh_metrics(client, *repository, *number).await?
            }
            (Step::Refresh, None) => {}
        }
    }
    Ok(())
}

/// Upserts the repositories and people of `projections`, each once, in id
/// order, with the newest fact of each (by the payload's own time), as
/// applying them one by one would give. Returns the people whose bot flag
/// changed.
pub async fn upsert_entities<'a>(
    client: &impl GenericClient,
    projections: impl Iterator<Item = &'a Projection>,
    bots: &BotPolicy,
) -> Result<Vec<i64>, StoreError> {
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
    for row in repositories.values() {
        upsert_repository(client, row).await?;
    }
    upsert_members(client, &mut people.into_values().collect::<Vec<_>>()).await
}

/// Recomputes the metrics of every pull request that `reviewers` reviewed,
/// in key order (after their member rows, as the global lock order says).
pub async fn refresh_reviewed_by(
    client: &impl GenericClient,
    reviewers: &[i64],
) -> Result<(), StoreError> {
    for (repository, number) in reviewed_by(client, reviewers).await? {
        lock_and_refresh_metrics(client, repository, number).await?;
    }
    Ok(())
}

/// Records the delivery in the apply-once ledger: `Duplicate` if its id
/// was recorded before, else what applying it will be.
async fn record(
    client: &impl GenericClient,
    envelope: &Envelope,
    body: &[u8],
    projection: &Projection,
) -> Result<Processed, ProcessError> {
    let outcome = if projection.is_projected() {
        Outcome::Projected
    } else {
        Outcome::Stored
    };
    let recorded = deliveries::record(
        client,
        &NewDelivery {
            delivery_id: &envelope.delivery_id,
            event: envelope.event.as_str(),
            action: envelope.action.as_deref(),
            hook_id: envelope.hook_id,
            source: envelope.source.as_str(),
            received_at: envelope.received_at,
            outcome,
            payload: body,
            pull_request: projection.pull_request_key(),
        },
    )
    .await?;
    Ok(match (recorded, outcome) {
        (Recorded::Duplicate, _) => Processed::Duplicate,
        (Recorded::New, Outcome::Projected) => Processed::Projected,
        (Recorded::New, Outcome::Stored) => Processed::Stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_set_for_the_transaction_only_and_zero_is_none() {
        let both = TransactionTimeouts {
            statement: Duration::from_secs(30),
            lock: Duration::from_millis(1500),
        };
        assert_eq!(
            both.set_local().as_deref(),
            Some("SET LOCAL statement_timeout = 30000; SET LOCAL lock_timeout = 1500")
        );
        let none = TransactionTimeouts {
            statement: Duration::ZERO,
            lock: Duration::ZERO,
        };
        assert_eq!(none.set_local(), None);
    }
}
