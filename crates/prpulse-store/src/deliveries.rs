//! The apply-once ledger.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::{DeliveryId, PayloadEncoding};

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
    /// How `payload` is encoded; it is stored as it is.
    pub encoding: PayloadEncoding,
    /// Stored in `delivery_payloads`, the table partitioned by receive
    /// month, beside (not in) the ledger row.
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
    Ok(record_all(client, std::slice::from_ref(delivery)).await?[0])
}

/// Inserts the delivery rows in one statement, in id order (the first of
/// the global lock order); for each delivery, in the order given, whether
/// it is new. Of two deliveries with one id, the first is new and the
/// second a duplicate, as inserting them one by one would say.
pub async fn record_all(
    client: &impl GenericClient,
    deliveries: &[NewDelivery<'_>],
) -> Result<Vec<Recorded>, StoreError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    // The payload goes in with its ledger row, only for a new delivery id
    // (one per id, if a batch carries an id twice), in one statement.
    let statement = client
        .prepare_cached(
            "WITH incoming AS (
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                                      $5::text[], $6::timestamptz[], $7::text[], $8::text[],
                                      $9::bytea[], $10::bigint[], $11::int[])
                     AS i(delivery_id, event, action, hook_id, source, received_at, outcome,
                          encoding, payload, repository_id, pull_request_number)),
             recorded AS (
                 INSERT INTO deliveries
                     (delivery_id, event, action, hook_id, source, received_at, outcome,
                      repository_id, pull_request_number)
                 SELECT delivery_id, event, action, hook_id, source, received_at, outcome,
                        repository_id, pull_request_number
                 FROM incoming ORDER BY delivery_id
                 ON CONFLICT (delivery_id) DO NOTHING
                 RETURNING delivery_id, received_at),
             stored AS (
                 INSERT INTO delivery_payloads (delivery_id, received_at, encoding, payload)
                 SELECT DISTINCT ON (i.delivery_id) i.delivery_id, r.received_at, i.encoding,
                        i.payload
                 FROM incoming i JOIN recorded r USING (delivery_id)
                 ORDER BY i.delivery_id)
             SELECT delivery_id FROM recorded",
        )
        .await?;
    macro_rules! column {
        ($value:expr) => {
            deliveries.iter().map($value).collect::<Vec<_>>()
        };
    }
    let inserted: Vec<String> = client
        .query(
            &statement,
            &[
                &column!(|d| d.delivery_id.as_str()),
                &column!(|d| d.event),
                &column!(|d| d.action),
                &column!(|d| d.hook_id),
                &column!(|d| d.source),
                &column!(|d| d.received_at),
                &column!(|d| d.outcome.as_str()),
                &column!(|d| d.encoding.as_str()),
                &column!(|d| d.payload),
                &column!(|d| d.pull_request.map(|(repository, _)| repository)),
                &column!(|d| d.pull_request.map(|(_, number)| number)),
            ],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut claimed = vec![false; inserted.len()];
    Ok(deliveries
        .iter()
        .map(|delivery| {
            let first_unclaimed = inserted
                .iter()
                .zip(&claimed)
                .position(|(id, taken)| !taken && id == delivery.delivery_id.as_str());
            match first_unclaimed {
                Some(index) => {
                    claimed[index] = true;
                    Recorded::New
                }
                None => Recorded::Duplicate,
            }
        })
        .collect())
}
