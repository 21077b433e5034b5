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

pub async fn apply(processor: &Processor, delivery: &Delivery) -> Processed {
    let envelope = envelope(delivery);
    processor
        .process(&envelope, &delivery.body)
        .await
        .unwrap_or_else(|error| panic!("{} {}: {error}", delivery.event, delivery.id))
}
