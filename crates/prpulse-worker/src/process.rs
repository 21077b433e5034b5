//! The worker's steps: one delivery in one transaction, or a batch of
//! deliveries in one transaction. Public so that tests (and the benchmark)
//! can drive them without a broker.

use prpulse_domain::{BotPolicy, DeliveryId, PayloadEncoding};
use prpulse_queue::Envelope;
use std::{borrow::Cow, time::Duration};

use prpulse_store::{
    GenericClient, Pool, StoreError,
    deliveries::{self, NewDelivery, Outcome, Recorded},
    projection::{Repeats, confirm_entities},
};

pub use crate::apply::{apply_projections, newest_entities, refresh_reviewed_by, upsert_entities};
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

/// What starts each batch's transaction: the planner setting, then the
/// timeouts that are on.
fn transaction_settings(timeouts: TransactionTimeouts) -> String {
    match timeouts.set_local() {
        Some(timeouts) => format!("{PLANNER_SETTINGS}; {timeouts}"),
        None => PLANNER_SETTINGS.to_owned(),
    }
}

pub struct Processor {
    pool: Pool,
    bots: BotPolicy,
    /// The `SET LOCAL`s that start each batch's transaction: the planner
    /// setting and the timeouts.
    transaction_settings: String,
    max_body: usize,
}

/// A batch finds its rows by key, joining `unnest` arrays (whose length
/// the planner does not know) to the tables. On `pull_requests`, which
/// every delivery updates twice, the planner still chose a sequential scan
/// and a hash join: with stale statistics or a table full of dead row
/// versions, two such updates took 2–3 ms of each batch
/// (`auto_explain` under the benchmark's drain). Pricing sequential scans
/// out for these transactions keeps them on the keys' indexes; a table
/// with no usable index is still scanned.
const PLANNER_SETTINGS: &str = "SET LOCAL enable_seqscan = off";

/// GitHub's cap on a webhook body, the default of `PRPULSE_MAX_BODY_BYTES`.
const GITHUB_MAX_BODY: usize = 25 * 1024 * 1024;

impl Processor {
    pub fn new(pool: Pool, bots: BotPolicy) -> Self {
        Self {
            pool,
            bots,
            transaction_settings: PLANNER_SETTINGS.to_owned(),
            max_body: GITHUB_MAX_BODY,
        }
    }

    pub fn with_timeouts(mut self, timeouts: TransactionTimeouts) -> Self {
        self.transaction_settings = transaction_settings(timeouts);
        self
    }

    async fn begin<'a>(
        &self,
        client: &'a mut prpulse_store::pool::Client,
    ) -> Result<prpulse_store::pool::Transaction<'a>, StoreError> {
        let transaction = client.transaction().await?;
        transaction
            .batch_execute(&self.transaction_settings)
            .await?;
        Ok(transaction)
    }

    /// The largest body a compressed message may expand to
    /// (`PRPULSE_MAX_BODY_BYTES`): a corrupt length prefix is refused, not
    /// allocated.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The largest body a compressed message may expand to.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Records the delivery (its plain JSON body) and applies its
    /// projection in one transaction. See [`Self::process_message`].
    pub async fn process(
        &self,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<Processed, ProcessError> {
        self.process_message(Message::plain(envelope, body)).await
    }

    /// Records the delivery and applies its projection in one transaction:
    /// the batch step with a batch of one (how a failed batch's deliveries
    /// are retried alone). A delivery id seen before changes nothing. The
    /// payload is decoded and parsed before the transaction opens, so a
    /// bad one costs no database work.
    pub async fn process_message(&self, message: Message<'_>) -> Result<Processed, ProcessError> {
        Ok(self.process_messages(&[message]).await?[0])
    }

    /// [`Self::process_messages`] for plain JSON bodies.
    pub async fn process_batch(
        &self,
        batch: &[(&Envelope, &[u8])],
    ) -> Result<Vec<Processed>, ProcessError> {
        let messages: Vec<Message<'_>> = batch
            .iter()
            .map(|(envelope, body)| Message::plain(envelope, body))
            .collect();
        self.process_messages(&messages).await
    }

    /// Records and projects every delivery of `batch` in one transaction:
    /// the outcome of each (in the order given) once all committed, or the
    /// first error, and then nothing was committed. On an error the caller
    /// processes the batch one by one with [`Self::process_message`], which
    /// decides each delivery's fate alone: one bad delivery must not retry
    /// or dead-letter the others.
    ///
    /// Each table is written with one statement for the whole batch (see
    /// `prpulse_store::projection`), and row locks are taken in one global
    /// order, so that concurrent batches wait for each other rather than
    /// deadlock: delivery ids, then repositories and members (each once,
    /// by id), then pull requests by (repository, number). The projection
    /// gives the same rows in any order, so this order is free to choose.
    ///
    /// Before the batch's transaction, a short one of its own moves the
    /// `observed_at` of repositories and people forward where the batch
    /// only repeats what they hold (`confirm_entities`): inside the batch,
    /// that write locked each row until commit and queued every batch of a
    /// repository behind the one before.
    ///
    /// A compressed body is stored as it came; a plain one is compressed
    /// first, so every stored payload is lz4.
    pub async fn process_messages(
        &self,
        batch: &[Message<'_>],
    ) -> Result<Vec<Processed>, ProcessError> {
        let mut projections = Vec::with_capacity(batch.len());
        let mut stored = Vec::with_capacity(batch.len());
        for message in batch {
            let json = message
                .encoding
                .decode(message.body, self.max_body)
                .map_err(PayloadError::from)?;
            projections.push(Projection::parse(&message.envelope.event, &json)?);
            stored.push(match message.encoding {
                PayloadEncoding::Lz4 => Cow::Borrowed(message.body),
                PayloadEncoding::Identity => PayloadEncoding::Lz4.encode(&json).into_owned().into(),
            });
        }
        let mut client = self.pool.get().await.map_err(StoreError::from)?;
        let (repositories, members) = newest_entities(projections.iter(), &self.bots);
        confirm_entities(&mut client, &repositories, &members).await?;
        let transaction = self.begin(&mut client).await?;
        let outcomes = record(&transaction, batch, &projections, &stored).await?;
        if outcomes
            .iter()
            .all(|outcome| *outcome == Processed::Duplicate)
        {
            // Dropping the transaction rolls it back.
            return Ok(outcomes);
        }
        let fresh: Vec<(&Projection, &DeliveryId)> = (0..batch.len())
            .filter(|&i| outcomes[i] != Processed::Duplicate)
            .map(|i| (&projections[i], &batch[i].envelope.delivery_id))
            .collect();
        apply_projections(&transaction, &fresh, &self.bots, Repeats::Confirmed).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(outcomes)
    }
}

/// One message as the worker takes it off the queue: the envelope and the
/// body in the encoding its `payload-encoding` header names.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub envelope: &'a Envelope,
    pub encoding: PayloadEncoding,
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// A message whose body is the JSON itself.
    pub fn plain(envelope: &'a Envelope, body: &'a [u8]) -> Self {
        Self {
            envelope,
            encoding: PayloadEncoding::Identity,
            body,
        }
    }
}

/// Records the deliveries in the apply-once ledger (one statement): for
/// each, `Duplicate` if its id was recorded before, else what applying it
/// will be.
async fn record(
    client: &impl GenericClient,
    batch: &[Message<'_>],
    projections: &[Projection],
    stored: &[Cow<'_, [u8]>],
) -> Result<Vec<Processed>, ProcessError> {
    let rows: Vec<NewDelivery<'_>> = batch
        .iter()
        .zip(projections)
        .zip(stored)
        .map(|((message, projection), payload)| NewDelivery {
            delivery_id: &message.envelope.delivery_id,
            event: message.envelope.event.as_str(),
            action: message.envelope.action.as_deref(),
            hook_id: message.envelope.hook_id,
            source: message.envelope.source.as_str(),
            received_at: message.envelope.received_at,
            outcome: outcome_of(projection),
            encoding: PayloadEncoding::Lz4,
            payload,
            pull_request: projection.pull_request_key(),
        })
        .collect();
    let recorded = deliveries::record_all(client, &rows).await?;
    Ok(recorded
        .into_iter()
        .zip(&rows)
        .map(|(recorded, row)| match (recorded, row.outcome) {
            (Recorded::Duplicate, _) => Processed::Duplicate,
            (Recorded::New, Outcome::Projected) => Processed::Projected,
            (Recorded::New, Outcome::Stored) => Processed::Stored,
        })
        .collect())
}

fn outcome_of(projection: &Projection) -> Outcome {
    if projection.is_projected() {
        Outcome::Projected
    } else {
        Outcome::Stored
    }
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
        assert_eq!(transaction_settings(none), "SET LOCAL enable_seqscan = off");
        assert_eq!(
            transaction_settings(both),
            "SET LOCAL enable_seqscan = off; SET LOCAL statement_timeout = 30000; \
             SET LOCAL lock_timeout = 1500"
        );
    }
}
