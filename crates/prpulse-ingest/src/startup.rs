use std::net::SocketAddr;

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use prometheus::Registry;
use prpulse_queue::{Publisher, PublisherSettings};
use prpulse_runtime::metrics_endpoint;
use prpulse_store::{connect_pool, migrate::migrate};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    IngestConfig,
    health::{Readiness, livez, readyz},
    metrics::IngestMetrics,
    secrets::SecretResolver,
    webhook::{self, WebhookState},
};

pub struct Application {
    server: Server,
    addr: SocketAddr,
    metrics: Option<(Server, SocketAddr)>,
    publisher_stop: CancellationToken,
    publisher_task: JoinHandle<()>,
}

impl Application {
    /// Migrates (unless disabled), binds both listeners and starts the
    /// broker link. Port 0 binds a free port: see [`Self::addr`].
    pub async fn build(config: IngestConfig) -> anyhow::Result<Self> {
        let IngestConfig {
            service,
            addr,
            webhook_secret,
            publish_timeout,
            max_body_bytes,
            http_workers,
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
        metrics_endpoint::register_build_info(&registry, "ingest");
        let metrics = IngestMetrics::register(&registry)?;

        let publisher_stop = CancellationToken::new();
        let (publisher, publisher_task) = Publisher::start(
            PublisherSettings {
                url: service.amqp_url.expose_secret().to_owned(),
                connection_name: "prpulse-ingest".into(),
                topology: service.topology.clone(),
                confirm_timeout: publish_timeout,
                connect_timeout: service.amqp_connect_timeout,
            },
            publisher_stop.clone(),
        );

        let webhook_state = web::Data::new(WebhookState {
            secrets: SecretResolver::new(pool.clone(), service.secret_key, webhook_secret.as_ref()),
            publisher: publisher.clone(),
            metrics,
        });
        let readiness = web::Data::new(Readiness { publisher, pool });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(web::PayloadConfig::new(max_body_bytes))
                .app_data(webhook_state.clone())
                .app_data(readiness.clone())
                .route("/webhooks/github", web::post().to(webhook::receive))
                .route("/livez", web::get().to(livez))
                .route("/readyz", web::get().to(readyz))
        })
        .shutdown_timeout(shutdown_timeout.as_secs().max(1));
        if let Some(workers) = http_workers {
            server = server.workers(workers);
        }
        let server = server
            .bind(addr)
            .with_context(|| format!("binding PRPULSE_INGEST_ADDR={addr}"))?;
        let addr = server.addrs()[0];
        let metrics = service
            .metrics_addr
            .map(|metrics_addr| {
                metrics_endpoint::serve(registry, metrics_addr)
                    .with_context(|| format!("binding PRPULSE_METRICS_ADDR={metrics_addr}"))
            })
            .transpose()?;
        Ok(Self {
            server: server.run(),
            addr,
            metrics,
            publisher_stop,
            publisher_task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// Serves until SIGTERM or Ctrl-C; then stops accepting, lets in-flight
    /// deliveries finish their publish, closes the broker link and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let metrics_handle = self.metrics.as_ref().map(|(server, _)| server.handle());
        if let Some((metrics_server, metrics_addr)) = self.metrics {
            info!(%metrics_addr, "serving /metrics");
            tokio::spawn(metrics_server);
        }
        info!(addr = %self.addr, "prpulse-ingest listening");
        self.server.await.context("running the HTTP server")?;
        self.publisher_stop.cancel();
        let _ = self.publisher_task.await;
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        info!("prpulse-ingest stopped");
        Ok(())
    }
}
