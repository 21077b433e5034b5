//! Names and arguments of prpulse's exchanges and queues, declared
//! idempotently by every binary at start-up and after each reconnect.
//! Changing a queue argument here breaks redeclaration on running brokers
//! (PRECONDITION_FAILED): such a change needs a new queue name.

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};

#[derive(Clone, Debug)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
}

impl Topology {
    /// `delivery_limit` is the quorum queue's crash-loop backstop: a message
    /// delivered this many times without an ack is dead-lettered.
    pub fn new(prefix: impl Into<String>, delivery_limit: u32) -> Self {
        Self {
            prefix: prefix.into(),
            delivery_limit,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
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
}
