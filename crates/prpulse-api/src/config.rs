use std::{net::SocketAddr, time::Duration};

use prpulse_runtime::{ConfigError, Env, ServiceConfig};

#[derive(Debug)]
pub struct ApiConfig {
    /// Database, metrics (`PRPULSE_METRICS_ADDR`, default `0.0.0.0:9103`).
    pub service: ServiceConfig,
    /// `PRPULSE_API_ADDR` (default `127.0.0.1:8081`): local by default,
    /// since the page and the API show a whole organisation's numbers.
    pub addr: SocketAddr,
    /// `PRPULSE_API_WORKERS` (default: one per core).
    pub http_workers: Option<usize>,
    /// `PRPULSE_SHUTDOWN_TIMEOUT_MS` (default 10000): in-flight requests
    /// get this long to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `PRPULSE_API_COOKIE_SECURE` (default false): mark the page's
    /// sign-in cookie `Secure`; turn on behind HTTPS.
    pub cookie_secure: bool,
    /// `PRPULSE_API_ROLLUP_REFRESH_MS` (default 1000; 0 turns it off):
    /// how often the summary rollup's dirty periods are looked for.
    /// Summaries are exact either way; without refreshes they read raw.
    pub rollup_refresh: Option<Duration>,
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env(env, 9103)?,
            addr: env.parse("PRPULSE_API_ADDR", SocketAddr::from(([127, 0, 0, 1], 8081)))?,
            http_workers: env
                .get("PRPULSE_API_WORKERS")
                .map(|_| env.parse("PRPULSE_API_WORKERS", 1))
                .transpose()?,
            shutdown_timeout: env.millis("PRPULSE_SHUTDOWN_TIMEOUT_MS", 10_000)?,
            cookie_secure: env.flag("PRPULSE_API_COOKIE_SECURE", false)?,
            rollup_refresh: Some(env.millis("PRPULSE_API_ROLLUP_REFRESH_MS", 1000)?)
                .filter(|every| !every.is_zero()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let config = ApiConfig::from_env(&Env::default()).unwrap();
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 8081)));
        assert_eq!(
            config.service.metrics_addr,
            Some(SocketAddr::from(([0, 0, 0, 0], 9103)))
        );
        assert!(!config.cookie_secure);
        assert_eq!(config.rollup_refresh, Some(Duration::from_secs(1)));
        let off = Env::from_pairs([("PRPULSE_API_ROLLUP_REFRESH_MS", "0")]);
        assert_eq!(ApiConfig::from_env(&off).unwrap().rollup_refresh, None);
        let env = Env::from_pairs([("PRPULSE_API_ADDR", "localhost")]);
        let error = ApiConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_API_ADDR"), "{error}");
    }
}
