use std::{
    net::SocketAddr,
    num::{NonZeroU32, NonZeroU64, NonZeroUsize},
    time::Duration,
};

use ipnet::IpNet;
use prpulse_runtime::{ConfigError, Env, ServiceConfig};
use secrecy::SecretString;

use crate::{
    budget::{BodySettings, LARGE_UPLOAD_BYTES},
    limits::LimitSettings,
    secrets::SecretCacheSettings,
};

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
    /// `PRPULSE_FAILED_AUTH_PER_MINUTE` (60), `PRPULSE_FAILED_AUTH_BURST`
    /// (30), `PRPULSE_VERIFIED_PER_SECOND` (5000), `PRPULSE_TRUSTED_PROXIES`
    /// (comma-separated addresses or CIDRs; none).
    pub limits: LimitSettings,
    /// `PRPULSE_HEADER_TIMEOUT_MS` (5000): a client slower to send its
    /// request head gets 408.
    pub header_timeout: Duration,
    /// `PRPULSE_BODY_TIMEOUT_MS` (8000): a client slower to send its body
    /// gets 408. GitHub itself gives up after 10 s.
    pub body_timeout: Duration,
    /// `PRPULSE_KEEP_ALIVE_MS` (15000): idle keep-alive connections close.
    pub keep_alive: Duration,
    /// `PRPULSE_MAX_CONNECTIONS` (10000): open connections per HTTP worker.
    pub max_connections: usize,
    /// `PRPULSE_SOURCE_ALLOWLIST` (false): serve only sources in the stored
    /// allow-list, reloaded every `PRPULSE_ALLOWLIST_REFRESH_MS` (60000).
    pub source_allowlist: bool,
    pub allowlist_refresh: Duration,
    /// `PRPULSE_BODY_BUDGET_BYTES` (96 MiB): body bytes held at once, all
    /// requests together; `PRPULSE_UPLOADS_PER_SOURCE` (2): bodies over
    /// 1 MiB one source may send at once.
    pub body: BodySettings,
    /// `PRPULSE_HOOK_SECRET_CACHE_SIZE` (10000 hooks) and
    /// `PRPULSE_HOOK_SECRET_CACHE_TTL_MS` (30000).
    pub secret_cache: SecretCacheSettings,
    /// `PRPULSE_READINESS_PROBE_MS` (2000): how often Postgres is pinged
    /// for `/readyz`.
    pub readiness_probe: Duration,
}

impl IngestConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config = Self {
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
            limits: LimitSettings {
                failures_per_minute: env.parse("PRPULSE_FAILED_AUTH_PER_MINUTE", nonzero(60))?,
                failures_burst: env.parse("PRPULSE_FAILED_AUTH_BURST", nonzero(30))?,
                verified_per_second: env.parse("PRPULSE_VERIFIED_PER_SECOND", nonzero(5_000))?,
                trusted_proxies: trusted_proxies(env)?,
            },
            header_timeout: env.millis("PRPULSE_HEADER_TIMEOUT_MS", 5_000)?,
            body_timeout: env.millis("PRPULSE_BODY_TIMEOUT_MS", 8_000)?,
            keep_alive: env.millis("PRPULSE_KEEP_ALIVE_MS", 15_000)?,
            max_connections: env.parse("PRPULSE_MAX_CONNECTIONS", 10_000)?,
            source_allowlist: env.flag("PRPULSE_SOURCE_ALLOWLIST", false)?,
            allowlist_refresh: env.millis("PRPULSE_ALLOWLIST_REFRESH_MS", 60_000)?,
            body: BodySettings {
                budget_bytes: env.parse("PRPULSE_BODY_BUDGET_BYTES", 96 * 1024 * 1024)?,
                uploads_per_source: env
                    .parse(
                        "PRPULSE_UPLOADS_PER_SOURCE",
                        NonZeroUsize::new(2).expect("not zero"),
                    )?
                    .get(),
            },
            secret_cache: SecretCacheSettings {
                size: env
                    .parse(
                        "PRPULSE_HOOK_SECRET_CACHE_SIZE",
                        NonZeroU64::new(10_000).expect("not zero"),
                    )?
                    .get(),
                ttl: env.millis("PRPULSE_HOOK_SECRET_CACHE_TTL_MS", 30_000)?,
            },
            readiness_probe: env.millis("PRPULSE_READINESS_PROBE_MS", 2_000)?,
        };
        config.check_body_budget(env)?;
        Ok(config)
    }

    /// The largest accepted body must fit the share of the budget it may
    /// use, or it could never be accepted.
    fn check_body_budget(&self, env: &Env) -> Result<(), ConfigError> {
        let budget = self.body.budget_bytes;
        let usable = if self.max_body_bytes > LARGE_UPLOAD_BYTES {
            budget / 4 * 3
        } else {
            budget
        };
        if usable >= self.max_body_bytes {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            name: "PRPULSE_BODY_BUDGET_BYTES",
            value: env
                .get("PRPULSE_BODY_BUDGET_BYTES")
                .unwrap_or_default()
                .to_owned(),
            reason: format!(
                "bodies over 1 MiB may use 3/4 of it, which must hold PRPULSE_MAX_BODY_BYTES={}",
                self.max_body_bytes
            ),
        })
    }
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("defaults are not zero")
}

fn trusted_proxies(env: &Env) -> Result<Vec<IpNet>, ConfigError> {
    let Some(list) = env.get("PRPULSE_TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    name: "PRPULSE_TRUSTED_PROXIES",
                    value: list.to_owned(),
                    reason: format!("{entry:?} is not an address or CIDR"),
                })
        })
        .collect()
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
    fn trusted_proxies_are_addresses_or_networks() {
        let env = Env::from_pairs([("PRPULSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")]);
        let config = IngestConfig::from_env(&env).unwrap();
        assert_eq!(config.limits.trusted_proxies.len(), 2);
        let env = Env::from_pairs([("PRPULSE_TRUSTED_PROXIES", "10.0.0.0/8,proxy")]);
        let error = IngestConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("\"proxy\" is not an address"), "{error}");
        let env = Env::from_pairs([("PRPULSE_FAILED_AUTH_BURST", "0")]);
        assert!(IngestConfig::from_env(&env).is_err());
    }

    #[test]
    fn the_body_budget_must_hold_the_largest_body() {
        let config = IngestConfig::from_env(&Env::default()).unwrap();
        assert!(config.body.budget_bytes / 4 * 3 >= config.max_body_bytes);
        assert_eq!(config.body.uploads_per_source, 2);
        let env = Env::from_pairs([("PRPULSE_BODY_BUDGET_BYTES", "30000000")]);
        let error = IngestConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_BODY_BUDGET_BYTES"), "{error}");
        let env = Env::from_pairs([
            ("PRPULSE_BODY_BUDGET_BYTES", "1048576"),
            ("PRPULSE_MAX_BODY_BYTES", "1048576"),
        ]);
        assert!(IngestConfig::from_env(&env).is_ok());
        let env = Env::from_pairs([("PRPULSE_UPLOADS_PER_SOURCE", "0")]);
        assert!(IngestConfig::from_env(&env).is_err());
        let env = Env::from_pairs([("PRPULSE_HOOK_SECRET_CACHE_SIZE", "0")]);
        assert!(IngestConfig::from_env(&env).is_err());
    }

    #[test]
    fn a_bad_address_is_named() {
        let env = Env::from_pairs([("PRPULSE_INGEST_ADDR", "localhost")]);
        let error = IngestConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_INGEST_ADDR"), "{error}");
    }
}
