//! What operators do with the dead-letter queue: look at it, replay what
//! they fixed through the normal path, purge it.
//!
//! Listing takes messages with `basic.get` and puts each back as a fresh
//! copy at the tail of the queue, confirmed before the original is acked.
//! Handing them back with a requeueing nack would count as a failed
//! delivery: RabbitMQ 4.x gives every quorum queue a delivery limit of 20
//! unless told otherwise, and the dead-letter queue has nowhere to
//! dead-letter to, so the 21st look would drop every letter. Setting the
//! limit on the queue instead is not possible in place: `x-delivery-limit`
//! is checked on redeclaration, and every running service would fail to
//! declare a queue that has one.
//!
//! A listing of the whole queue leaves it in its order; one with a
//! `limit` below the queue's length moves the letters it looked at behind
//! the others, so repeated listings page through the queue. A copy that
//! cannot be confirmed leaves its original to be requeued (counted, but
//! never lost); a lost ack after a confirmed copy leaves a duplicate,
//! which a replay applies once (the worker is idempotent by delivery id).

use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::{
    BasicProperties, Channel, Connection,
    message::BasicGetMessage,
    options::{
        BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
        ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
    },
    types::{AMQPValue, FieldTable},
};

use crate::{
    Envelope, Topology,
    connect::{self, ConnectError},
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
    fn from_message(message: &BasicGetMessage) -> Self {
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
    fn replay_properties(&self) -> BasicProperties {
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

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm the replay of {0}; it stays in the dead-letter queue")]
    NotConfirmed(String),
    #[error(
        "RabbitMQ did not confirm putting {0} back; it was requeued instead, which counts as a delivery attempt"
    )]
    NotKeptAside(String),
}

pub struct DeadLetterQueue {
    connection: Connection,
    channel: Channel,
    topology: Topology,
}

impl DeadLetterQueue {
    pub async fn open(
        url: &str,
        topology: &Topology,
        timeout: Duration,
    ) -> Result<Self, DeadLetterError> {
        // Passive: an operator's tool must not (re)declare queues, whose
        // arguments belong to the services.
        let (connection, channel) = connect::open_undeclared(url, "prpulse-cli", timeout).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            connection,
            channel,
            topology: topology.clone(),
        })
    }

    /// Messages waiting in the dead-letter queue.
    /// Fails with the broker's NOT_FOUND if the services never declared it.
    pub async fn waiting(&self) -> Result<u32, DeadLetterError> {
        let queue = self
            .channel
            .queue_declare(
                self.topology.dead_queue().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(queue.message_count())
    }

    /// Up to `limit` dead letters, left in the queue.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let held = self.take(limit).await?;
        let letters = held.iter().map(DeadLetter::from_message).collect();
        self.put_back(held).await?;
        Ok(letters)
    }

    /// Publishes the dead letters `select` picks (up to `limit` looked at)
    /// back to the deliveries exchange, each confirmed before it leaves
    /// the dead-letter queue. Returns the replayed ones.
    pub async fn replay(
        &self,
        limit: usize,
        select: impl Fn(&DeadLetter) -> bool,
    ) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let held = self.take(limit).await?;
        let mut replayed = Vec::new();
        let mut kept = Vec::new();
        let mut outcome = Ok(());
        for message in held {
            let letter = DeadLetter::from_message(&message);
            if outcome.is_err() || !select(&letter) {
                kept.push(message);
                continue;
            }
            match self.publish_again(&letter).await {
                Ok(()) => {
                    message
                        .delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await?;
                    replayed.push(letter);
                }
                Err(error) => {
                    kept.push(message);
                    outcome = Err(error);
                }
            }
        }
        let put_back = self.put_back(kept).await;
        outcome.and(put_back).map(|()| replayed)
    }

    /// Drops every dead letter; returns how many.
    pub async fn purge(&self) -> Result<u32, DeadLetterError> {
        Ok(self
            .channel
            .queue_purge(
                self.topology.dead_queue().into(),
                QueuePurgeOptions::default(),
            )
            .await?)
    }

    pub async fn close(self) {
        crate::connect::close(self.connection, self.channel, "prpulse-cli done").await;
    }

    async fn take(&self, limit: usize) -> Result<Vec<BasicGetMessage>, DeadLetterError> {
        let mut held = Vec::new();
        while held.len() < limit {
            let message = self
                .channel
                .basic_get(
                    self.topology.dead_queue().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?;
            match message {
                Some(message) => held.push(message),
                None => break,
            }
        }
        Ok(held)
    }

    /// Puts `held` back as fresh copies (in their order), each original
    /// acked once its copy is confirmed; an original whose copy was not
    /// confirmed is requeued instead.
    async fn put_back(&self, held: Vec<BasicGetMessage>) -> Result<(), DeadLetterError> {
        let mut pending = Vec::with_capacity(held.len());
        let mut failure = None;
        for message in held {
            if failure.is_some() {
                pending.push((message, None));
                continue;
            }
            let published = self
                .channel
                .basic_publish(
                    "".into(),
                    self.topology.dead_queue().as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.delivery.data,
                    fresh_copy_properties(&message.delivery.properties),
                )
                .await;
            match published {
                Ok(confirm) => pending.push((message, Some(confirm))),
                Err(error) => {
                    failure = Some(DeadLetterError::Broker(error));
                    pending.push((message, None));
                }
            }
        }
        let mut requeue = Vec::new();
        for (message, confirm) in pending {
            let confirmed = match confirm {
                Some(confirm) => matches!(confirm.await, Ok(lapin::Confirmation::Ack(None))),
                None => false,
            };
            if confirmed {
                message
                    .delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await?;
            } else {
                if failure.is_none() {
                    failure = Some(DeadLetterError::NotKeptAside(delivery_id_of(&message)));
                }
                requeue.push(message);
            }
        }
        give_back(requeue).await;
        failure.map_or(Ok(()), Err)
    }

    async fn publish_again(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        let routing_key = Envelope::from_properties(&letter.properties)
            .map(|envelope| envelope.routing_key())
            .unwrap_or_else(|_| letter.routing_key.clone());
        let confirmation = self
            .channel
            .basic_publish(
                self.topology.exchange().into(),
                routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &letter.body,
                letter.replay_properties(),
            )
            .await?
            .await?;
        match confirmation {
            lapin::Confirmation::Ack(None) => Ok(()),
            _ => Err(DeadLetterError::NotConfirmed(letter.delivery_id.clone())),
        }
    }
}

/// The properties a letter is put back with: as it was, without the
/// broker's delivery count (which counted this queue's redeliveries, not
/// the worker's attempts), so the copy starts uncounted.
fn fresh_copy_properties(properties: &BasicProperties) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(original) = properties.headers() {
        for (key, value) in original {
            if key.as_str() != header::DELIVERY_COUNT {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2)
}

fn delivery_id_of(message: &BasicGetMessage) -> String {
    DeadLetter::from_message(message).delivery_id
}

/// Requeues what could not be put back as a copy.
async fn give_back(held: Vec<BasicGetMessage>) {
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    for message in held {
        // If this fails the channel is gone, and the broker requeues
        // whatever it had handed out anyway.
        let _ = message.delivery.acker.nack(requeue).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::put_i64;
    use lapin::types::FieldArray;

    #[test]
    fn a_copy_put_back_starts_uncounted() {
        let mut headers = FieldTable::default();
        put_str(&mut headers, envelope_header::DELIVERY, "abc");
        put_i64(&mut headers, header::ATTEMPTS, 5);
        put_i64(&mut headers, header::DELIVERY_COUNT, 4);
        let copy = fresh_copy_properties(
            &BasicProperties::default()
                .with_headers(headers)
                .with_message_id("abc".into()),
        );
        let headers = copy.headers().as_ref().unwrap();
        assert!(!headers.inner().contains_key(header::DELIVERY_COUNT));
        assert_eq!(get_i64(headers, header::ATTEMPTS), Some(5));
        assert_eq!(get_str(headers, envelope_header::DELIVERY), Some("abc"));
        assert_eq!(
            copy.message_id().as_ref().map(|id| id.as_str()),
            Some("abc")
        );
        assert_eq!(copy.delivery_mode(), &Some(2));
    }

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
