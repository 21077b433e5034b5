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

mod size;
pub use size::{DEFAULT_LARGE_DELIVERY_BYTES, SizeClass};

#[derive(Clone, Debug)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
    retry_delays: Vec<Duration>,
    large_delivery_bytes: usize,
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
            large_delivery_bytes: DEFAULT_LARGE_DELIVERY_BYTES,
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

    /// The queue of retry tier `tier` (0-based) of standard deliveries:
    /// `<prefix>.retry.<delay>`.
    pub fn retry_queue(&self, tier: usize) -> Option<String> {
        self.retry_queue_for(SizeClass::Standard, tier)
    }

    /// The queue of retry tier `tier` (0-based) for `class`:
    /// `<prefix>.retry.<delay>`, or `<prefix>.retry-large.<delay>`, which
    /// returns its messages to the large work queue. The delay is in the
    /// name, so changing a tier's delay declares a new queue instead of
    /// failing on the old one's arguments.
    pub fn retry_queue_for(&self, class: SizeClass, tier: usize) -> Option<String> {
        let delay = self.retry_delays.get(tier)?;
        let kind = match class {
            SizeClass::Standard => "retry",
            SizeClass::Large => "retry-large",
        };
        Some(format!(
            "{}.{kind}.{}",
            self.prefix,
            humantime::format_duration(*delay)
                .to_string()
                .replace(' ', "")
        ))
    }

    /// Every queue prpulse declares.
    pub fn queues(&self) -> Vec<String> {
        let mut queues = vec![self.work_queue(), self.dead_queue()];
        for class in SizeClass::ALL {
            if class == SizeClass::Large {
                queues.push(self.work_queue_for(class));
            }
            queues.extend(
                (0..self.retry_delays.len()).filter_map(|tier| self.retry_queue_for(class, tier)),
            );
        }
        queues
    }

    /// Every exchange prpulse declares.
    pub fn exchanges(&self) -> Vec<String> {
        let mut exchanges: Vec<String> = SizeClass::ALL
            .into_iter()
            .map(|class| self.exchange_for(class))
            .collect();
        exchanges.push(self.dead_exchange());
        exchanges
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    /// The topic exchange ingest and backfill publish standard deliveries
    /// to (`<event>.<action>`).
    pub fn exchange(&self) -> String {
        self.exchange_for(SizeClass::Standard)
    }

    /// The topic exchange for `class`: `<prefix>.deliveries`, or
    /// `<prefix>.large-deliveries`.
    pub fn exchange_for(&self, class: SizeClass) -> String {
        match class {
            SizeClass::Standard => format!("{}.deliveries", self.prefix),
            SizeClass::Large => format!("{}.large-deliveries", self.prefix),
        }
    }

    /// The quorum queue the workers share for standard deliveries.
    pub fn work_queue(&self) -> String {
        self.work_queue_for(SizeClass::Standard)
    }

    /// The work queue of `class`: `<prefix>.work`, or `<prefix>.work.large`.
    pub fn work_queue_for(&self, class: SizeClass) -> String {
        match class {
            SizeClass::Standard => format!("{}.work", self.prefix),
            SizeClass::Large => format!("{}.work.large", self.prefix),
        }
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
        channel
            .exchange_declare(
                self.dead_exchange().into(),
                ExchangeKind::Fanout,
                DURABLE_EXCHANGE,
                FieldTable::default(),
            )
            .await?;
        // No x-delivery-limit here, though RabbitMQ 4.x applies 20 to a
        // quorum queue without one and this queue has nowhere to
        // dead-letter to: adding it would fail redeclaration on every
        // running broker. Looking at dead letters therefore never requeues
        // them (dead_letters.rs puts back fresh copies).
        channel
            .queue_declare(self.dead_queue().into(), DURABLE_QUEUE, quorum_arguments())
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
        for class in SizeClass::ALL {
            self.declare_work(channel, class).await?;
        }
        Ok(())
    }

    /// The exchange, work queue and retry tiers of `class`.
    async fn declare_work(&self, channel: &Channel, class: SizeClass) -> Result<(), lapin::Error> {
        let work_queue = self.work_queue_for(class);
        channel
            .exchange_declare(
                self.exchange_for(class).into(),
                ExchangeKind::Topic,
                DURABLE_EXCHANGE,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                work_queue.as_str().into(),
                DURABLE_QUEUE,
                self.work_arguments(),
            )
            .await?;
        for (tier, delay) in self.retry_delays.iter().enumerate() {
            let name = self.retry_queue_for(class, tier).expect("tier exists");
            channel
                .queue_declare(
                    name.into(),
                    DURABLE_QUEUE,
                    retry_arguments(*delay, &work_queue),
                )
                .await?;
        }
        channel
            .queue_bind(
                work_queue.as_str().into(),
                self.exchange_for(class).into(),
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
}

/// A retry tier holds each message for `delay`, then dead-letters it
/// (through the default exchange) back onto `work_queue`.
fn retry_arguments(delay: Duration, work_queue: &str) -> FieldTable {
    let mut arguments = quorum_arguments();
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
    );
    arguments.insert("x-dead-letter-exchange".into(), long_string(""));
    arguments.insert("x-dead-letter-routing-key".into(), long_string(work_queue));
    arguments.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    arguments.insert("x-overflow".into(), long_string("reject-publish"));
    arguments
}

const DURABLE_EXCHANGE: ExchangeDeclareOptions = ExchangeDeclareOptions {
    passive: false,
    durable: true,
    auto_delete: false,
    internal: false,
    nowait: false,
};

const DURABLE_QUEUE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

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
        assert_eq!(
            topology.retry_queue_for(SizeClass::Large, 1).as_deref(),
            Some("p.retry-large.10m")
        );
        assert_eq!(
            topology.queues(),
            [
                "p.work",
                "p.dead",
                "p.retry.250ms",
                "p.retry.10m",
                "p.work.large",
                "p.retry-large.250ms",
                "p.retry-large.10m"
            ]
        );
        let arguments = retry_arguments(Duration::from_millis(250), "p.work");
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
