use std::time::Duration;

use lapin::{
    Channel, Connection,
    message::BasicGetMessage,
    options::{
        BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
        QueuePurgeOptions,
    },
    types::FieldTable,
};

use super::DeadLetter;
use crate::{
    Envelope, Topology,
    connect::{self, ConnectError},
    settle::{self, SettleError},
};

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error("RabbitMQ did not confirm the replay of {0}; it stays in the dead-letter queue")]
    NotConfirmed(String),
    #[error(
        "RabbitMQ did not confirm putting {0} back; it was requeued instead, which counts as a delivery attempt"
    )]
    NotKeptAside(String),
}
pub struct DeadLetterQueue {
    connection: Connection,
    pub(super) channel: Channel,
    pub(super) topology: Topology,
    /// How long a publish may wait for its confirm (the CLI's connect
    /// timeout): a link that died under it must not hold the command.
    pub(super) confirm_timeout: Duration,
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
            confirm_timeout: timeout,
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
                    settle::ack(&message.delivery.acker).await?;
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

    async fn publish_again(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        let routing_key = Envelope::from_properties(&letter.properties)
            .map(|envelope| envelope.routing_key())
            .unwrap_or_else(|_| letter.routing_key.clone());
        let exchange = self.topology.exchange_for(
            self.topology
                .size_class_of(&letter.properties, &letter.body),
        );
        let confirm = self
            .channel
            .basic_publish(
                exchange.as_str().into(),
                routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &letter.body,
                letter.replay_properties(),
            )
            .await?;
        match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Ok(Ok(lapin::Confirmation::Ack(None))) => Ok(()),
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok(_)) | Err(_) => Err(DeadLetterError::NotConfirmed(letter.delivery_id.clone())),
        }
    }
}
