//! Acks and requeues that cannot hang. An ack or nack has no reply in
//! AMQP: lapin completes it once the frame is written, which on a live
//! link takes microseconds. When the link dies under a pending ack, lapin
//! (4.12) can leave it incomplete for good, and whoever waits on it (a
//! worker's lane, the CLI's replay) would wait for ever. Giving up leaves
//! the message unacked, and the broker redelivers what it did not see
//! settled.

use std::time::Duration;

use lapin::{
    Acker,
    options::{BasicAckOptions, BasicNackOptions},
};

/// How long one ack or nack may wait to be written.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the {0} was not written within {SETTLE_TIMEOUT:?}: the link is gone")]
    NotWritten(&'static str),
}

/// Acks one message.
pub async fn ack(acker: &Acker) -> Result<(), SettleError> {
    bounded("ack", acker.ack(BasicAckOptions::default())).await
}

/// Puts one message back at the head of its queue.
pub async fn requeue(acker: &Acker) -> Result<(), SettleError> {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    bounded("nack", acker.nack(options)).await
}

async fn bounded(
    what: &'static str,
    settling: impl Future<Output = lapin::Result<bool>>,
) -> Result<(), SettleError> {
    match tokio::time::timeout(SETTLE_TIMEOUT, settling).await {
        Ok(settled) => settled.map(drop).map_err(SettleError::from),
        Err(_) => Err(SettleError::NotWritten(what)),
    }
}
