use std::{net::SocketAddr, time::Instant};

use actix_web::{
    App, HttpServer,
    dev::{Server, Service},
    web,
};
use anyhow::Context;
use futures_util::FutureExt;
use prometheus::Registry;
use prpulse_runtime::wiring::{MetricsEndpoint, open_database};
use tracing::info;

use crate::{
    ApiConfig,
    health::{livez, readyz},
    metrics::ApiMetrics,
    page,
    routes::{self, AppState},
    summary,
};

pub struct Application {
    server: Server,
    addr: SocketAddr,
    metrics: MetricsEndpoint,
    rollup_refresher: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Migrates (unless disabled) and binds both listeners. Port 0 binds
    /// a free port: see [`Self::addr`].
    pub async fn build(config: ApiConfig) -> anyhow::Result<Self> {
        let ApiConfig {
            service,
            addr,
            http_workers,
            shutdown_timeout,
            cookie_secure,
            rollup_refresh,
        } = config;
        let pool = open_database(&service).await?;
        let rollup_refresher =
            rollup_refresh.map(|every| summary::refresh::spawn(pool.clone(), every));
        let registry = Registry::new();
        let api_metrics = ApiMetrics::register(&registry)?;
        let metrics = MetricsEndpoint::start(&service, registry, "api")?;
        let state = web::Data::new(AppState {
            pool,
            metrics: api_metrics,
            cookie_secure,
        });
        let mut server = HttpServer::new(move || {
            let state_for_metrics = state.clone();
            App::new()
                .app_data(state.clone())
                .wrap_fn(move |request, service| {
                    // The pattern, never the path: bounded labels, and no
                    // query string (or anything else a caller sent) in them.
                    let route = request
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".into());
                    let started = Instant::now();
                    let state = state_for_metrics.clone();
                    service.call(request).map(move |result| {
                        if let Ok(response) = &result {
                            state.metrics.observe(
                                &route,
                                response.status().as_u16(),
                                started.elapsed(),
                            );
                        }
                        result
                    })
                })
                .route("/api/v1/summary", web::get().to(routes::summary))
                .route("/api/v1/dora", web::get().to(routes::dora))
                .route(
                    "/api/v1/pull-requests",
                    web::get().to(routes::pull_requests),
                )
                .route("/api/v1/openapi.json", web::get().to(routes::openapi))
                .route("/livez", web::get().to(livez))
                .route("/readyz", web::get().to(readyz))
                .route("/", web::get().to(page::dashboard))
                .route("/sign-in", web::post().to(page::sign_in))
                .route("/sign-out", web::post().to(page::sign_out))
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(shutdown_timeout.as_secs().max(1));
        if let Some(workers) = http_workers {
            server = server.workers(workers);
        }
        let server = server
            .bind(addr)
            .with_context(|| format!("binding PRPULSE_API_ADDR={addr}"))?;
        let addr = server.addrs()[0];
        service
            .bound_addresses
            .report("api", addr)
            .context("reporting the api address")?;
        Ok(Self {
            server: server.run(),
            addr,
            metrics,
            rollup_refresher,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.addr()
    }

    /// Serves until SIGTERM or Ctrl-C; then stops accepting and lets
    /// in-flight requests finish (within PRPULSE_SHUTDOWN_TIMEOUT_MS).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        info!(addr = %self.addr, "prpulse-api listening");
        self.server.await.context("running the HTTP server")?;
        if let Some(refresher) = self.rollup_refresher {
            // A round cut short rolls back: its marks stay for the next.
            refresher.abort();
        }
        self.metrics.stop().await;
        info!("prpulse-api stopped");
        Ok(())
    }
}
