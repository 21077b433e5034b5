//! The apply-once ledger.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::DeliveryId;

use crate::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The delivery changed the projection.
    Projected,
    /// Kept raw only (an event prpulse does not project yet).
    Stored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Projected => "projected",
            Self::Stored => "stored",
        }
    }
}

#[derive(Debug)]
pub struct NewDelivery<'a> {
    pub delivery_id: &'a DeliveryId,
    pub event: &'a str,
    pub action: Option<&'a str>,
    pub hook_id: Option<i64>,
    pub source: &'a str,
    pub received_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub payload: &'a [u8],
    /// The pull request (repository id, number) it is about, if any: how
    /// `prpulse rebuild` finds every delivery of one pull request.
    pub pull_request: Option<(i64, i32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// Already applied: a redelivery, a second hook, or a broker redelivery
    /// after a lost ack. The caller must apply nothing.
    Duplicate,
}

/// Inserts the delivery row; in the worker's transaction this is what
/// makes the projection apply once per delivery id.
pub async fn record(
    client: &impl GenericClient,
    delivery: &NewDelivery<'_>,
) -> Result<Recorded, StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO deliveries
                 (delivery_id, event, action, hook_id, source, received_at, outcome, payload,
                  repository_id, pull_request_number)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .await?;
    let inserted = client
        .execute(
            &statement,
            &[
                &delivery.delivery_id.as_str(),
                &delivery.event,
                &delivery.action,
                &delivery.hook_id,
                &delivery.source,
                &delivery.received_at,
                &delivery.outcome.as_str(),
                &delivery.payload,
                &delivery.pull_request.map(|(repository, _)| repository),
                &delivery.pull_request.map(|(_, number)| number),
            ],
        )
        .await?;
    Ok(if inserted == 1 {
        Recorded::New
    } else {
        Recorded::Duplicate
    })
}
