//! Names and arguments of prpulse's exchanges and queues, declared
//! idempotently by every binary at start-up and after each reconnect.
//! Changing a queue argument here breaks redeclaration on running brokers
//! (PRECONDITION_FAILED): such a change needs a new queue name.

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
    retry_delays: Vec<Duration>,
}

/// GitHub-scale defaults: a deadlock clears in a second, a lock held by a
/// long migration in minutes.
pub const DEFAULT_RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(600),
];

impl Topology {
    /// `delivery_limit` is the quorum queue's crash-loop backstop: a message
    /// delivered this many times without an ack is dead-lettered.
    pub fn new(prefix: impl Into<String>, delivery_limit: u32) -> Self {
        Self {
            prefix: prefix.into(),
            delivery_limit,
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
        }
    }

    /// One retry tier per delay, tried in order. Each tier is a queue with
    /// one uniform TTL, because quorum queues expire messages only at the
    /// head: mixed per-message TTLs would hold short delays behind long.
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = delays;
        self
    }

    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// The queue of retry tier `tier` (0-based): `<prefix>.retry.<delay>`.
    /// The delay is in the name, so changing a tier's delay declares a new
    /// queue instead of failing on the old one's arguments.
    pub fn retry_queue(&self, tier: usize) -> Option<String> {
        let delay = self.retry_delays.get(tier)?;
        Some(format!(
            "{}.retry.{}",
            self.prefix,
            humantime::format_duration(*delay)
                .to_string()
                .replace(' ', "")
        ))
    }

    /// Every queue prpulse declares.
    pub fn queues(&self) -> Vec<String> {
        let mut queues = vec![self.work_queue(), self.dead_queue()];
        queues.extend((0..self.retry_delays.len()).filter_map(|tier| self.retry_queue(tier)));
        queues
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    /// The topic exchange ingest and backfill publish to (`<event>.<action>`).
    pub fn exchange(&self) -> String {
        format!("{}.deliveries", self.prefix)
    }

    /// The quorum queue the workers share.
    pub fn work_queue(&self) -> String {
        format!("{}.work", self.prefix)
    }

    /// Where messages go that cannot be processed: the broker routes here
    /// after the delivery limit, the worker for permanent errors.
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead-letter", self.prefix)
    }

    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_exchange().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;

        let queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        // No x-delivery-limit here, though RabbitMQ 4.x applies 20 to a
        // quorum queue without one and this queue has nowhere to
        // dead-letter to: adding it would fail redeclaration on every
        // running broker. Looking at dead letters therefore never requeues
        // them (dead_letters.rs puts back fresh copies).
        channel
            .queue_declare(self.dead_queue().into(), queue, quorum_arguments())
            .await?;
        channel
            .queue_bind(
                self.dead_queue().into(),
                self.dead_exchange().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(self.work_queue().into(), queue, self.work_arguments())
            .await?;
        for (tier, delay) in self.retry_delays.iter().enumerate() {
            let name = self.retry_queue(tier).expect("tier exists");
            channel
                .queue_declare(name.into(), queue, self.retry_arguments(*delay))
                .await?;
        }
        channel
            .queue_bind(
                self.work_queue().into(),
                self.exchange().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }

    fn work_arguments(&self) -> FieldTable {
        let mut arguments = quorum_arguments();
        arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
        );
        arguments.insert(
            "x-dead-letter-exchange".into(),
            long_string(&self.dead_exchange()),
        );
        // At-most-once is the default and can lose a dead letter if the
        // DLQ is unavailable; at-least-once requires reject-publish.
        arguments.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        arguments.insert("x-overflow".into(), long_string("reject-publish"));
        arguments
    }

    /// A retry tier holds each message for `delay`, then dead-letters it
    /// (through the default exchange) back onto the work queue.
    fn retry_arguments(&self, delay: Duration) -> FieldTable {
        let mut arguments = quorum_arguments();
        arguments.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        );
        arguments.insert("x-dead-letter-exchange".into(), long_string(""));
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            long_string(&self.work_queue()),
        );
        arguments.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        arguments.insert("x-overflow".into(), long_string("reject-publish"));
        arguments
    }
}

fn quorum_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), long_string("quorum"));
    arguments
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let topology = Topology::new("prpulse", 20);
        assert_eq!(topology.exchange(), "prpulse.deliveries");
        assert_eq!(topology.work_queue(), "prpulse.work");
        assert_eq!(topology.dead_exchange(), "prpulse.dead-letter");
        assert_eq!(topology.dead_queue(), "prpulse.dead");
    }

    #[test]
    fn work_queue_dead_letters_at_least_once_with_a_delivery_limit() {
        let arguments = Topology::new("p", 7).work_arguments();
        let get = |key: &str| arguments.inner().get(key).cloned();
        assert_eq!(get("x-delivery-limit"), Some(AMQPValue::LongLongInt(7)));
        assert_eq!(
            get("x-dead-letter-strategy"),
            Some(long_string("at-least-once"))
        );
        assert_eq!(get("x-overflow"), Some(long_string("reject-publish")));
        assert_eq!(get("x-queue-type"), Some(long_string("quorum")));
        assert_eq!(
            get("x-dead-letter-exchange"),
            Some(long_string("p.dead-letter"))
        );
    }

    #[test]
    fn retry_tiers_are_named_by_delay_and_return_to_work() {
        let topology = Topology::new("p", 7)
            .with_retry_delays(vec![Duration::from_millis(250), Duration::from_secs(600)]);
        assert_eq!(topology.retry_queue(0).as_deref(), Some("p.retry.250ms"));
        assert_eq!(topology.retry_queue(1).as_deref(), Some("p.retry.10m"));
        assert_eq!(topology.retry_queue(2), None);
        assert_eq!(topology.queues().len(), 4);
        let arguments = topology.retry_arguments(Duration::from_millis(250));
        let get = |key: &str| arguments.inner().get(key).cloned();
        assert_eq!(get("x-message-ttl"), Some(AMQPValue::LongLongInt(250)));
        assert_eq!(
            get("x-dead-letter-routing-key"),
            Some(long_string("p.work"))
        );
        assert_eq!(get("x-dead-letter-exchange"), Some(long_string("")));
    }

    #[test]
    fn default_tiers_grow() {
        let topology = Topology::new("prpulse", 20);
        let names: Vec<_> = (0..4).filter_map(|t| topology.retry_queue(t)).collect();
        assert_eq!(
            names,
            [
                "prpulse.retry.1s",
                "prpulse.retry.10s",
                "prpulse.retry.1m",
                "prpulse.retry.10m"
            ]
        );
    }
}
