//! The broker side: the ceiling (prpulse's own confirmed publisher, no
//! HTTP in front) and the helpers that fill and empty the work queue.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use prpulse_queue::{Publisher, PublisherSettings, Topology, lapin::options::QueuePurgeOptions};
use prpulse_testkit::broker;
use tokio_util::sync::CancellationToken;

use crate::{
    load::{Throughput, closed_loop},
    workload::Prepared,
};

/// A confirmed publisher on the run's topology: the same code ingest
/// publishes with (persistent, mandatory, one confirm per message).
pub struct BenchPublisher {
    pub publisher: Publisher,
    stop: CancellationToken,
}

impl BenchPublisher {
    pub async fn start(amqp_url: &str, topology: &Topology) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let (publisher, _) = Publisher::start(
            PublisherSettings {
                url: amqp_url.to_owned(),
                connection_name: "prpulse-bench".into(),
                topology: topology.clone(),
                confirm_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(5),
            },
            stop.clone(),
        );
        anyhow::ensure!(
            publisher.wait_ready(Duration::from_secs(10)).await,
            "cannot publish to RabbitMQ at {amqp_url}"
        );
        Ok(Self { publisher, stop })
    }

    pub async fn publish(&self, delivery: &Prepared, delivery_id: &str) -> bool {
        self.publisher
            .publish_delivery(&delivery.envelope(delivery_id), &delivery.delivery.body)
            .await
            .is_ok()
    }
}

impl Drop for BenchPublisher {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Confirmed persistent publishes of the workload's bodies to the work
/// queue, `in_flight` at a time, for `duration`.
pub async fn ceiling(
    publisher: &BenchPublisher,
    deliveries: &[Prepared],
    in_flight: usize,
    duration: Duration,
) -> Throughput {
    closed_loop(in_flight, duration, |i| async move {
        let delivery = &deliveries[i as usize % deliveries.len()];
        publisher
            .publish(delivery, &uuid::Uuid::new_v4().to_string())
            .await
    })
    .await
}

/// Publishes every delivery under its own id, `in_flight` at a time.
pub async fn fill(
    publisher: &BenchPublisher,
    deliveries: &[Prepared],
    in_flight: usize,
) -> anyhow::Result<()> {
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    futures_util::StreamExt::for_each_concurrent(
        futures_util::stream::iter(deliveries),
        in_flight,
        |delivery| {
            let failed = failed.clone();
            async move {
                if !publisher.publish(delivery, &delivery.delivery.id).await {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        },
    )
    .await;
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} publishes were not confirmed");
    Ok(())
}

/// Ready messages in `queue`.
pub async fn depth(amqp_url: &str, queue: &str) -> u32 {
    broker::ready_messages_at(amqp_url, queue).await
}

/// Empties `queue` (between phases, so each starts alike).
pub async fn purge(amqp_url: &str, queue: &str) -> anyhow::Result<()> {
    let connection = broker::connect_to(amqp_url).await;
    let channel = connection.create_channel().await?;
    channel
        .queue_purge(queue.into(), QueuePurgeOptions::default())
        .await
        .context("purging the work queue")?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
