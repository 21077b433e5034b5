use std::{net::SocketAddr, time::Duration};

use prpulse_runtime::{ConfigError, Env, ServiceConfig};
use secrecy::SecretString;

/// GitHub caps webhook payloads at 25 MB.
pub const GITHUB_MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

#[derive(Debug)]
pub struct IngestConfig {
    pub service: ServiceConfig,
    /// `PRPULSE_INGEST_ADDR` (default `0.0.0.0:8080`).
    pub addr: SocketAddr,
    /// `PRPULSE_WEBHOOK_SECRET`: for organisation, app and hand-made hooks.
    pub webhook_secret: Option<SecretString>,
    /// `PRPULSE_PUBLISH_TIMEOUT_MS` (default 3000): how long a delivery
    /// may wait for the broker's confirm before the answer is 503. GitHub
    /// gives up after 10 s.
    pub publish_timeout: Duration,
    /// `PRPULSE_MAX_BODY_BYTES` (default 25 MiB).
    pub max_body_bytes: usize,
    /// `PRPULSE_INGEST_WORKERS` (default: one per core).
    pub http_workers: Option<usize>,
    /// `PRPULSE_SHUTDOWN_TIMEOUT_MS` (default 10000): in-flight requests
    /// get this long to finish after SIGTERM.
    pub shutdown_timeout: Duration,
}

impl IngestConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env(env, 9100)?,
            addr: env.parse(
                "PRPULSE_INGEST_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 8080)),
            )?,
            webhook_secret: env.secret("PRPULSE_WEBHOOK_SECRET"),
            publish_timeout: env.millis("PRPULSE_PUBLISH_TIMEOUT_MS", 3_000)?,
            max_body_bytes: env.parse("PRPULSE_MAX_BODY_BYTES", GITHUB_MAX_PAYLOAD_BYTES)?,
            http_workers: env
                .get("PRPULSE_INGEST_WORKERS")
                .map(|_| env.parse("PRPULSE_INGEST_WORKERS", 1))
                .transpose()?,
            shutdown_timeout: env.millis("PRPULSE_SHUTDOWN_TIMEOUT_MS", 10_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let config = IngestConfig::from_env(&Env::default()).unwrap();
        assert_eq!(config.addr, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(config.max_body_bytes, 25 * 1024 * 1024);
        assert!(config.publish_timeout < Duration::from_secs(10));
        assert!(config.webhook_secret.is_none());
    }

    #[test]
    fn a_bad_address_is_named() {
        let env = Env::from_pairs([("PRPULSE_INGEST_ADDR", "localhost")]);
        let error = IngestConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_INGEST_ADDR"), "{error}");
    }
}
