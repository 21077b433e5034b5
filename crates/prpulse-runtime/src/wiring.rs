//! The parts every binary starts the same way: the database (migrated),
//! a confirmed publisher on its own connection, and the `/metrics`
//! endpoint. Each comes with the way to stop it.

use std::{net::SocketAddr, time::Duration};

use actix_web::dev::ServerHandle;
use anyhow::Context;
use prometheus::Registry;
use prpulse_queue::{Publisher, PublisherSettings};
use prpulse_store::{Pool, connect_pool, migrate::migrate};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    ServiceConfig,
    metrics_endpoint::{self, Readiness},
};

/// Applies pending migrations (unless `PRPULSE_MIGRATE=false`) and opens
/// the pool.
pub async fn open_database(service: &ServiceConfig) -> anyhow::Result<Pool> {
    let database_url = service.database_url.expose_secret();
    if service.migrate {
        migrate(database_url)
            .await
            .context("applying database migrations")?;
    }
    Ok(connect_pool(database_url, &service.pool)?)
}

/// A publisher and the task that keeps its connection.
pub struct PublisherLink {
    pub publisher: Publisher,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PublisherLink {
    pub fn start(
        service: &ServiceConfig,
        connection_name: &str,
        confirm_timeout: Duration,
    ) -> Self {
        let stop = CancellationToken::new();
        let (publisher, task) = Publisher::start(
            PublisherSettings {
                url: service.amqp_url.expose_secret().to_owned(),
                connection_name: connection_name.to_owned(),
                topology: service.topology.clone(),
                confirm_timeout,
                connect_timeout: service.amqp_connect_timeout,
            },
            stop.clone(),
        );
        let publisher = publisher.with_payload_encoding(service.payload_encoding);
        Self {
            publisher,
            stop,
            task,
        }
    }

    /// Closes the connection; call once nothing publishes any more.
    pub async fn close(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// `/metrics` on `PRPULSE_METRICS_ADDR`, serving from the moment it starts.
pub struct MetricsEndpoint {
    running: Option<(ServerHandle, SocketAddr)>,
}

impl MetricsEndpoint {
    /// Registers `prpulse_build_info` for `binary` and serves `registry`,
    /// unless the endpoint is turned off.
    pub fn start(
        service: &ServiceConfig,
        registry: Registry,
        binary: &str,
    ) -> anyhow::Result<Self> {
        Self::start_reporting(service, registry, binary, Readiness::new(true))
    }

    /// The same, with `/readyz` answering what `readiness` says.
    pub fn start_reporting(
        service: &ServiceConfig,
        registry: Registry,
        binary: &str,
        readiness: Readiness,
    ) -> anyhow::Result<Self> {
        metrics_endpoint::register_build_info(&registry, binary);
        let Some(addr) = service.metrics_addr else {
            return Ok(Self { running: None });
        };
        let (server, bound) = metrics_endpoint::serve(registry, readiness, addr)
            .with_context(|| format!("binding PRPULSE_METRICS_ADDR={addr}"))?;
        let handle = server.handle();
        tokio::spawn(server);
        service
            .bound_addresses
            .report("metrics", bound)
            .context("reporting the metrics address")?;
        Ok(Self {
            running: Some((handle, bound)),
        })
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().map(|(_, addr)| *addr)
    }

    pub async fn stop(self) {
        if let Some((handle, _)) = self.running {
            handle.stop(true).await;
        }
    }
}
