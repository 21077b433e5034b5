use std::{net::SocketAddr, sync::Arc, time::Duration};

use prometheus::Registry;
use prpulse_runtime::{
    Readiness,
    wiring::{MetricsEndpoint, PublisherLink, open_database},
};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    WorkerConfig,
    consumer::Consumer,
    metrics::WorkerMetrics,
    process::Processor,
    queue_depth::{QueueDepthPoller, QueueDepthSettings},
};

pub struct Worker {
    consumer: Arc<Consumer>,
    shutdown_timeout: Duration,
    metrics: MetricsEndpoint,
    resend: PublisherLink,
    queue_depth: Option<QueueDepthPoller>,
}

impl Worker {
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        let WorkerConfig {
            service,
            prefetch,
            large_prefetch,
            max_inflight_bytes,
            large_delivery_bytes,
            max_delivery_bytes,
            timeouts,
            concurrency,
            batch_size,
            bots,
            shutdown_timeout,
            queue_depth_interval,
        } = config;
        info!(
            prefetch,
            large_prefetch,
            max_inflight_bytes,
            large_delivery_bytes,
            max_delivery_bytes,
            "deliveries in hand at most: each queue's prefetch × the largest delivery it holds"
        );
        let pool = open_database(&service).await?;
        ensure_payload_partitions(&pool).await;
        let registry = Registry::new();
        let worker_metrics = WorkerMetrics::register(&registry)?;
        let resend =
            PublisherLink::start(&service, "prpulse-worker-resend", Duration::from_secs(5));
        // `/readyz` on the metrics port: ready while consuming.
        let consuming = Readiness::new(false);
        let metrics =
            MetricsEndpoint::start_reporting(&service, registry, "worker", consuming.clone())?;
        // Polling the broker is only worth it when someone can scrape it.
        let queue_depth = metrics.addr().map(|_| {
            QueueDepthPoller::start(
                QueueDepthSettings {
                    amqp_url: service.amqp_url.expose_secret().to_owned(),
                    topology: service.topology.clone(),
                    timeout: service.amqp_connect_timeout,
                    interval: queue_depth_interval,
                },
                worker_metrics.queue_messages.clone(),
            )
        });
        let consumer = Arc::new(Consumer {
            processor: Processor::new(pool, bots)
                .with_timeouts(timeouts)
                .with_max_body(usize::try_from(max_delivery_bytes).unwrap_or(usize::MAX)),
            resend: resend.publisher.clone(),
            metrics: worker_metrics,
            topology: service.topology.clone(),
            amqp_url: service.amqp_url.expose_secret().to_owned(),
            connect_timeout: service.amqp_connect_timeout,
            prefetch,
            large_prefetch,
            concurrency,
            batch_size,
            consuming,
        });
        Ok(Self {
            consumer,
            shutdown_timeout,
            metrics,
            resend,
            queue_depth,
        })
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.addr()
    }

    /// Consumes until `stop`; then settles what is in hand (for at most the
    /// shutdown timeout) and closes its connections.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        info!("prpulse-worker started");
        let consuming = self.consumer.clone().run(stop.clone());
        let deadline = async {
            stop.cancelled().await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        tokio::select! {
            () = consuming => {}
            () = deadline => warn!("in-flight deliveries did not settle in time; the broker will redeliver them"),
        }
        if let Some(queue_depth) = self.queue_depth {
            queue_depth.stop().await;
        }
        self.resend.close().await;
        self.metrics.stop().await;
        info!("prpulse-worker stopped");
        Ok(())
    }
}

/// This month's and the next ones' payload partitions, in case no
/// scheduler runs to keep them ahead. Best effort: a worker starts (and
/// holds its deliveries) while Postgres is away, and a delivery whose month
/// has no partition still lands in the default one.
async fn ensure_payload_partitions(pool: &prpulse_store::Pool) {
    let ensured = async {
        let client = pool.get().await.map_err(prpulse_store::StoreError::from)?;
        prpulse_store::payloads::ensure_partitions(&client, chrono::Utc::now()).await
    };
    if let Err(error) = ensured.await {
        warn!(%error, "could not create the coming months' payload partitions");
    }
}
