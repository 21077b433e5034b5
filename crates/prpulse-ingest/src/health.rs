//! `/livez` (the process answers) and `/readyz` (it can accept deliveries:
//! the broker link is up and Postgres answered the last probe). `/readyz`
//! is on the public port, so it reads a flag and never touches Postgres:
//! a background [`DatabaseProbe`] asks on its own one-connection pool,
//! and a flood of probes can neither drain the pool hook-secret lookups
//! need nor be starved by it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpResponse, web};
use prpulse_queue::Publisher;
use prpulse_store::Pool;
use tracing::warn;

/// A ping slower than this counts as Postgres being away.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Readiness {
    pub publisher: Publisher,
    pub database: DatabaseProbe,
}

/// The last answer of Postgres to a ping, refreshed in the background.
#[derive(Clone)]
pub struct DatabaseProbe {
    pool: Pool,
    up: Arc<AtomicBool>,
}

impl DatabaseProbe {
    /// Probes once, so readiness is known from the first request on.
    pub async fn start(pool: Pool) -> Self {
        let probe = Self {
            pool,
            up: Arc::new(AtomicBool::new(false)),
        };
        probe.probe().await;
        probe
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    async fn probe(&self) {
        let up = matches!(
            tokio::time::timeout(PING_TIMEOUT, prpulse_store::pool::ping(&self.pool)).await,
            Ok(Ok(()))
        );
        if self.up.swap(up, Ordering::Relaxed) && !up {
            warn!("Postgres did not answer the readiness probe");
        }
    }

    /// Probes every `every` until the task is dropped.
    pub async fn keep_probing(&self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.probe().await;
        }
    }
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive" }))
}

pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let broker = readiness.publisher.is_ready();
    let database = readiness.database.is_up();
    let body = serde_json::json!({ "broker": broker, "database": database });
    if broker && database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
