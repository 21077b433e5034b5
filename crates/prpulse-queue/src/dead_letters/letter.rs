//! One dead letter as read from the queue: the headers a failed delivery
//! gathers, and the properties it is replayed with.

use chrono::{DateTime, Utc};
use lapin::{
    BasicProperties,
    message::BasicGetMessage,
    types::{AMQPValue, FieldTable},
};

use crate::{
    envelope::header as envelope_header,
    headers::{get_i64, get_str, put_str},
};

/// Headers a delivery gathers when it fails, written by the worker and
/// read here.
pub mod header {
    /// Times the delivery was sent to a retry tier.
    pub const RETRIES: &str = "prpulse-retries";
    pub const FIRST_ERROR: &str = "prpulse-first-error";
    pub const LAST_ERROR: &str = "prpulse-last-error";
    pub const LAST_ERROR_AT: &str = "prpulse-last-error-at";
    /// The routing key it was first published with (a retry comes back
    /// through the default exchange under the work queue's name).
    pub const ROUTING_KEY: &str = "prpulse-routing-key";
    pub const DEAD_REASON: &str = "prpulse-dead-reason";
    pub const DEAD_AT: &str = "prpulse-dead-at";
    /// Processing attempts, the last one included.
    pub const ATTEMPTS: &str = "prpulse-attempts";
    pub const REPLAYED_AT: &str = "prpulse-replayed-at";
    /// Set by quorum queues on every redelivery.
    pub const DELIVERY_COUNT: &str = "x-delivery-count";
    /// Failure bookkeeping that must not follow a replayed delivery.
    pub const FAILURE_STATE: &[&str] = &[
        RETRIES,
        FIRST_ERROR,
        LAST_ERROR,
        LAST_ERROR_AT,
        ROUTING_KEY,
        DEAD_REASON,
        DEAD_AT,
        ATTEMPTS,
        DELIVERY_COUNT,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    ];
}
/// One message of the dead-letter queue.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    /// The worker's reason, or the broker's (`delivery_limit`, `rejected`).
    pub reason: String,
    pub attempts: Option<i64>,
    pub dead_at: Option<DateTime<Utc>>,
    pub routing_key: String,
    pub properties: BasicProperties,
    pub body: Vec<u8>,
}

impl DeadLetter {
    pub(super) fn from_message(message: &BasicGetMessage) -> Self {
        let delivery = &message.delivery;
        let properties = &delivery.properties;
        let empty = FieldTable::default();
        let headers = properties.headers().as_ref().unwrap_or(&empty);
        let text = |key: &str| get_str(headers, key).map(str::to_owned);
        let reason = text(header::DEAD_REASON)
            .or_else(|| broker_reason(headers))
            .unwrap_or_else(|| "unknown".into());
        Self {
            delivery_id: text(envelope_header::DELIVERY)
                .or_else(|| properties.message_id().as_ref().map(|id| id.to_string()))
                .unwrap_or_else(|| "-".into()),
            event: text(envelope_header::EVENT).unwrap_or_else(|| "-".into()),
            action: text(envelope_header::ACTION),
            reason,
            attempts: get_i64(headers, header::ATTEMPTS)
                .or_else(|| get_i64(headers, header::DELIVERY_COUNT).map(|count| count + 1)),
            dead_at: text(header::DEAD_AT)
                .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| at.with_timezone(&Utc)),
            routing_key: text(header::ROUTING_KEY)
                .unwrap_or_else(|| delivery.routing_key.as_str().to_owned()),
            properties: properties.clone(),
            body: delivery.data.clone(),
        }
    }

    /// The properties to publish it with again: the envelope as it was,
    /// marked as a replay, without the failure bookkeeping.
    pub(super) fn replay_properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        if let Some(original) = self.properties.headers() {
            for (key, value) in original {
                if !header::FAILURE_STATE.contains(&key.as_str()) {
                    headers.insert(key.clone(), value.clone());
                }
            }
        }
        put_str(&mut headers, envelope_header::SOURCE, "replay");
        put_str(&mut headers, header::REPLAYED_AT, &Utc::now().to_rfc3339());
        self.properties
            .clone()
            .with_headers(headers)
            .with_delivery_mode(2)
    }
}

/// The reason the broker gave when it dead-lettered the message itself
/// (`x-death[0].reason`): `delivery_limit` for a crash loop.
fn broker_reason(headers: &FieldTable) -> Option<String> {
    if let Some(reason) = get_str(headers, "x-first-death-reason") {
        return Some(reason.to_owned());
    }
    let AMQPValue::FieldArray(deaths) = headers.inner().get("x-death")? else {
        return None;
    };
    match deaths.as_slice().first()? {
        AMQPValue::FieldTable(death) => get_str(death, "reason").map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::put_i64;
    use lapin::types::FieldArray;

    #[test]
    fn the_broker_reason_comes_from_x_death() {
        let mut death = FieldTable::default();
        put_str(&mut death, "reason", "delivery_limit");
        let mut headers = FieldTable::default();
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        assert_eq!(broker_reason(&headers).as_deref(), Some("delivery_limit"));
        assert_eq!(broker_reason(&FieldTable::default()), None);
    }

    #[test]
    fn a_replay_keeps_the_envelope_and_drops_the_failure_state() {
        let mut headers = FieldTable::default();
        put_str(&mut headers, envelope_header::DELIVERY, "abc");
        put_str(&mut headers, envelope_header::SOURCE, "webhook");
        put_str(&mut headers, header::DEAD_REASON, "bad");
        put_i64(&mut headers, "prpulse-retries", 4);
        put_i64(&mut headers, "x-delivery-count", 2);
        let letter = DeadLetter {
            delivery_id: "abc".into(),
            event: "pull_request".into(),
            action: None,
            reason: "bad".into(),
            attempts: Some(5),
            dead_at: None,
            routing_key: "pull_request.opened".into(),
            properties: BasicProperties::default().with_headers(headers),
            body: vec![],
        };
        let replay = letter.replay_properties();
        let headers = replay.headers().as_ref().unwrap();
        assert_eq!(get_str(headers, envelope_header::DELIVERY), Some("abc"));
        assert_eq!(get_str(headers, envelope_header::SOURCE), Some("replay"));
        assert!(get_str(headers, header::REPLAYED_AT).is_some());
        for gone in [header::DEAD_REASON, "prpulse-retries", "x-delivery-count"] {
            assert!(!headers.inner().contains_key(gone), "{gone}");
        }
    }
}
