use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{StoreError, Target};

pub use deadpool_postgres::{Client, Pool, Transaction};

#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: usize,
    /// How long a caller waits for a free connection or a new one.
    pub timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A pool that checks each connection when it is taken
/// (`RecyclingMethod::Verified`): deadpool does no background health
/// checks, so this is what turns a database restart into one fresh
/// connection instead of one failed query per pooled connection.
pub fn connect_pool(database_url: &str, settings: &PoolSettings) -> Result<Pool, StoreError> {
    let Target { mut config, tls } = Target::parse(database_url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("prpulse");
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Verified,
    };
    let manager = match tls {
        Some(tls) => Manager::from_config(config, tls, manager_config),
        None => Manager::from_config(config, NoTls, manager_config),
    };
    let pool = Pool::builder(manager)
        .max_size(settings.max_size)
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .expect("a runtime is set, so timeouts are valid");
    Ok(pool)
}

/// Runs `SELECT 1`: the readiness probe.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}
