use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use prometheus::Registry;
use prpulse_queue::{Publisher, PublisherSettings};
use prpulse_runtime::metrics_endpoint;
use prpulse_runtime::metrics_endpoint::Server;
use prpulse_store::{connect_pool, migrate::migrate};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{WorkerConfig, consumer::Consumer, metrics::WorkerMetrics, process::Processor};

pub struct Worker {
    consumer: Arc<Consumer>,
    shutdown_timeout: Duration,
    metrics: Option<(Server, SocketAddr)>,
    publisher_stop: CancellationToken,
    publisher_task: JoinHandle<()>,
}

impl Worker {
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        let WorkerConfig {
            service,
            prefetch,
            concurrency,
            bots,
            shutdown_timeout,
        } = config;
        let database_url = service.database_url.expose_secret();
        if service.migrate {
            migrate(database_url)
                .await
                .context("applying database migrations")?;
        }
        let pool = connect_pool(database_url, &service.pool)?;
        let registry = Registry::new();
        metrics_endpoint::register_build_info(&registry, "worker");
        let metrics = WorkerMetrics::register(&registry)?;
        // Dead letters go out on their own connection: a broker alarm
        // blocks publishing connections, and must not stall the acks.
        let publisher_stop = CancellationToken::new();
        let (dead_letters, publisher_task) = Publisher::start(
            PublisherSettings {
                url: service.amqp_url.expose_secret().to_owned(),
                connection_name: "prpulse-worker-dead-letters".into(),
                topology: service.topology.clone(),
                confirm_timeout: Duration::from_secs(5),
                connect_timeout: service.amqp_connect_timeout,
            },
            publisher_stop.clone(),
        );
        let metrics_server = service
            .metrics_addr
            .map(|addr| {
                metrics_endpoint::serve(registry, addr)
                    .with_context(|| format!("binding PRPULSE_METRICS_ADDR={addr}"))
            })
            .transpose()?;
        let consumer = Arc::new(Consumer {
            processor: Processor::new(pool, bots),
            dead_letters,
            metrics,
            topology: service.topology.clone(),
            amqp_url: service.amqp_url.expose_secret().to_owned(),
            connect_timeout: service.amqp_connect_timeout,
            prefetch,
            concurrency,
        });
        Ok(Self {
            consumer,
            shutdown_timeout,
            metrics: metrics_server,
            publisher_stop,
            publisher_task,
        })
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// Consumes until `stop`; then settles what is in hand (for at most the
    /// shutdown timeout) and closes its connections.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let metrics_handle = self.metrics.as_ref().map(|(server, _)| server.handle());
        if let Some((server, addr)) = self.metrics {
            info!(metrics_addr = %addr, "serving /metrics");
            tokio::spawn(server);
        }
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
        self.publisher_stop.cancel();
        let _ = self.publisher_task.await;
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        info!("prpulse-worker stopped");
        Ok(())
    }
}
