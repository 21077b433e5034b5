//! The worker's single step: one delivery, one transaction. Public so that
//! tests (and a future batch mode) can drive it without a broker.

use prpulse_domain::BotPolicy;
use prpulse_queue::Envelope;
use prpulse_store::{
    Pool, StoreError,
    deliveries::{self, NewDelivery, Outcome, Recorded},
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

pub struct Processor {
    pool: Pool,
    bots: BotPolicy,
}

impl Processor {
    pub fn new(pool: Pool, bots: BotPolicy) -> Self {
        Self { pool, bots }
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
        let outcome = if projection.is_projected() {
            Outcome::Projected
        } else {
            Outcome::Stored
        };
        let mut client = self.pool.get().await.map_err(StoreError::from)?;
        let transaction = client.transaction().await.map_err(StoreError::from)?;
        let recorded = deliveries::record(
            &transaction,
            &NewDelivery {
                delivery_id: &envelope.delivery_id,
                event: envelope.event.as_str(),
                action: envelope.action.as_deref(),
                hook_id: envelope.hook_id,
                source: envelope.source.as_str(),
                received_at: envelope.received_at,
                outcome,
                payload: body,
            },
        )
        .await?;
        if recorded == Recorded::Duplicate {
            // Dropping the transaction rolls it back.
            return Ok(Processed::Duplicate);
        }
        projection
            .apply(&transaction, &envelope.delivery_id, &self.bots)
            .await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(match outcome {
            Outcome::Projected => Processed::Projected,
            Outcome::Stored => Processed::Stored,
        })
    }
}
