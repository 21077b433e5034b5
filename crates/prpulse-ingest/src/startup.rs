use std::net::SocketAddr;

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use prometheus::Registry;
use prpulse_runtime::wiring::{MetricsEndpoint, PublisherLink, open_database};
use prpulse_store::{PoolSettings, connect_pool};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tracing::info;

use crate::{
    IngestConfig,
    allowlist::SourceAllowlist,
    budget::BodyBudget,
    health::{DatabaseProbe, Readiness, livez, readyz},
    jira::{self, JiraReceiver},
    limits::SourceLimits,
    metrics::IngestMetrics,
    secrets::SecretResolver,
    webhook::{self, WebhookState},
};

pub struct Application {
    server: Server,
    addr: SocketAddr,
    metrics: MetricsEndpoint,
    broker: PublisherLink,
    housekeeping: JoinHandle<()>,
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
            limits,
            header_timeout,
            body_timeout,
            keep_alive,
            max_connections,
            source_allowlist,
            allowlist_refresh,
            body,
            secret_cache,
            readiness_probe,
        } = config;
        let bound_addresses = service.bound_addresses.clone();
        let pool = open_database(&service).await?;
        // Its own connection, so neither a flood of /readyz nor a flood of
        // hook-secret lookups can starve the other.
        let probe_pool = connect_pool(
            service.database_url.expose_secret(),
            &PoolSettings {
                max_size: 1,
                ..service.pool.clone()
            },
        )?;
        let database = DatabaseProbe::start(probe_pool).await;
        let registry = Registry::new();
        let ingest_metrics = IngestMetrics::register(&registry)?;
        let broker = PublisherLink::start(&service, "prpulse-ingest", publish_timeout);
        let publisher = broker.publisher.clone();
        let metrics = MetricsEndpoint::start(&service, registry, "ingest")?;

        let jira = web::Data::new(JiraReceiver::new(pool.clone(), &secret_cache));
        let pool_for_allowlist = pool.clone();
        let webhook_state = web::Data::new(WebhookState {
            secrets: SecretResolver::new(
                pool.clone(),
                service.secret_key,
                webhook_secret.as_ref(),
                &secret_cache,
                ingest_metrics.hook_secret_lookups.clone(),
            ),
            publisher: publisher.clone(),
            metrics: ingest_metrics,
            limits: SourceLimits::new(&limits),
            trusted_proxies: limits.trusted_proxies.clone(),
            allowlist: SourceAllowlist::new(source_allowlist),
            bodies: BodyBudget::new(&body),
            max_body_bytes,
            body_timeout,
        });
        let state = webhook_state.clone().into_inner();
        let probing = database.clone();
        let housekeeping = tokio::spawn(async move {
            tokio::join!(
                forget_quiet_sources(&state),
                state
                    .allowlist
                    .keep_fresh(pool_for_allowlist, allowlist_refresh),
                probing.keep_probing(readiness_probe),
            );
        });
        let readiness = web::Data::new(Readiness {
            publisher,
            database,
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(webhook_state.clone())
                .app_data(readiness.clone())
                .app_data(jira.clone())
                .route("/webhooks/github", web::post().to(webhook::receive))
                .route(
                    "/webhooks/jira/{integration}",
                    web::post().to(jira::receive_signed),
                )
                .route(
                    "/webhooks/jira/{integration}/{token}",
                    web::post().to(jira::receive_with_token),
                )
                .route("/livez", web::get().to(livez))
                .route("/readyz", web::get().to(readyz))
        })
        .shutdown_timeout(shutdown_timeout.as_secs().max(1))
        .client_request_timeout(header_timeout)
        .keep_alive(keep_alive)
        .max_connections(max_connections);
        if let Some(workers) = http_workers {
            server = server.workers(workers);
        }
        let server = server
            .bind(addr)
            .with_context(|| format!("binding PRPULSE_INGEST_ADDR={addr}"))?;
        let addr = server.addrs()[0];
        bound_addresses
            .report("ingest", addr)
            .context("reporting the ingest address")?;
        Ok(Self {
            server: server.run(),
            addr,
            metrics,
            broker,
            housekeeping,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.addr()
    }

    /// Serves until SIGTERM or Ctrl-C; then stops accepting, lets in-flight
    /// deliveries finish their publish, closes the broker link and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        info!(addr = %self.addr, "prpulse-ingest listening");
        self.server.await.context("running the HTTP server")?;
        self.housekeeping.abort();
        self.broker.close().await;
        self.metrics.stop().await;
        info!("prpulse-ingest stopped");
        Ok(())
    }
}

/// Keeps the rate limiter's memory bounded by the sources of the last
/// minutes, however many addresses a scan comes from.
async fn forget_quiet_sources(state: &WebhookState) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        state.limits.forget_quiet_sources();
    }
}
