//! Deliveries applied by the worker's own step, without broker or HTTP:
//! for clean reference runs and property tests.

use chrono::Utc;
use prpulse_domain::{BotPolicy, DeliveryId, EventName};
use prpulse_queue::{Envelope, Source};
use prpulse_worker::{Processed, Processor};

use crate::{Delivery, TestDb};

pub fn processor(db: &TestDb) -> Processor {
    Processor::new(db.pool(), BotPolicy::default())
}

/// The envelope ingest would put on this delivery, received now.
pub fn envelope(delivery: &Delivery) -> Envelope {
    let action = serde_json::from_slice::<serde_json::Value>(&delivery.body)
        .ok()
        .and_then(|body| body["action"].as_str().map(str::to_owned));
    Envelope {
        delivery_id: DeliveryId::parse(&delivery.id).unwrap(),
        event: EventName::parse(&delivery.event).unwrap(),
        action,
        hook_id: None,
        received_at: Utc::now(),
        source: Source::Webhook,
    }
}

/// Applies `deliveries` in one transaction with the worker's batch step.
pub async fn apply_batch(
    processor: &Processor,
    deliveries: &[Delivery],
) -> Result<Vec<Processed>, prpulse_worker::process::ProcessError> {
    let envelopes: Vec<Envelope> = deliveries.iter().map(envelope).collect();
    let batch: Vec<(&Envelope, &[u8])> = envelopes
        .iter()
        .zip(deliveries)
        .map(|(envelope, delivery)| (envelope, delivery.body.as_slice()))
        .collect();
    processor.process_batch(&batch).await
}

/// Applies one delivery with the worker's single step.
pub async fn try_apply(
    processor: &Processor,
    delivery: &Delivery,
) -> Result<Processed, prpulse_worker::process::ProcessError> {
    processor.process(&envelope(delivery), &delivery.body).await
}

pub async fn apply(processor: &Processor, delivery: &Delivery) -> Processed {
    try_apply(processor, delivery)
        .await
        .unwrap_or_else(|error| panic!("{} {}: {error}", delivery.event, delivery.id))
}
