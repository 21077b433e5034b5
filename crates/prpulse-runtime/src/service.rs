//! The part of configuration every prpulse binary shares.

use std::{net::SocketAddr, time::Duration};

use prpulse_queue::{
    PayloadEncoding, Topology,
    topology::{DEFAULT_LARGE_DELIVERY_BYTES, DEFAULT_RETRY_DELAYS},
};
use prpulse_store::{Keyring, PoolSettings, SecretKey};
use secrecy::{ExposeSecret, SecretString};

use crate::{BoundAddresses, ConfigError, Env};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/prpulse";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Debug)]
pub struct ServiceConfig {
    /// `PRPULSE_DATABASE_URL`; a secret, since URLs carry passwords.
    pub database_url: SecretString,
    /// `PRPULSE_AMQP_URL`.
    pub amqp_url: SecretString,
    /// `PRPULSE_TOPOLOGY_PREFIX`, `PRPULSE_DELIVERY_LIMIT` and
    /// `PRPULSE_RETRY_DELAYS` (comma-separated, e.g. `1s,10s,1m,10m`).
    pub topology: Topology,
    /// `PRPULSE_METRICS_ADDR`; `off` disables the endpoint.
    pub metrics_addr: Option<SocketAddr>,
    /// `PRPULSE_MIGRATE`: apply migrations at start-up (default true).
    pub migrate: bool,
    /// `PRPULSE_DB_POOL_SIZE`, `PRPULSE_DB_TIMEOUT_MS`.
    pub pool: PoolSettings,
    /// `PRPULSE_AMQP_CONNECT_TIMEOUT_MS`.
    pub amqp_connect_timeout: Duration,
    /// `PRPULSE_SECRET_KEY` (encrypts stored webhook secrets and tokens)
    /// and, during a key rotation, `PRPULSE_PREVIOUS_SECRET_KEY`.
    pub secret_key: Option<Keyring>,
    /// `PRPULSE_BOUND_ADDRESSES_FILE`: where listeners report the address
    /// they bound (port 0 binds a free one).
    pub bound_addresses: BoundAddresses,
    /// `PRPULSE_PAYLOAD_ENCODING`: how published deliveries' bodies are
    /// encoded, `lz4` (default) or `identity`.
    pub payload_encoding: PayloadEncoding,
}

impl ServiceConfig {
    pub fn from_env(env: &Env, default_metrics_port: u16) -> Result<Self, ConfigError> {
        let metrics_addr = match env.get("PRPULSE_METRICS_ADDR") {
            Some(value) if value.eq_ignore_ascii_case("off") => None,
            _ => Some(env.parse(
                "PRPULSE_METRICS_ADDR",
                SocketAddr::from(([0, 0, 0, 0], default_metrics_port)),
            )?),
        };
        let current = secret_key(env, "PRPULSE_SECRET_KEY")?;
        let previous = secret_key(env, "PRPULSE_PREVIOUS_SECRET_KEY")?;
        let secret_key = match (current, previous) {
            (Some(current), previous) => Some(Keyring::new(current, previous)),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "PRPULSE_PREVIOUS_SECRET_KEY",
                    value: "[REDACTED]".into(),
                    reason: "set PRPULSE_SECRET_KEY too: the previous key only reads".into(),
                });
            }
        };
        let prefix = env.string("PRPULSE_TOPOLOGY_PREFIX", "prpulse");
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError::Invalid {
                name: "PRPULSE_TOPOLOGY_PREFIX",
                value: prefix,
                reason: "use letters, digits, '-', '_' or '.'".into(),
            });
        }
        Ok(Self {
            database_url: env
                .secret("PRPULSE_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            amqp_url: env
                .secret("PRPULSE_AMQP_URL")
                .unwrap_or_else(|| DEFAULT_AMQP_URL.into()),
            topology: Topology::new(prefix, env.parse("PRPULSE_DELIVERY_LIMIT", 20)?)
                .with_retry_delays(retry_delays(env)?)
                .with_large_delivery_bytes(
                    env.parse("PRPULSE_LARGE_DELIVERY_BYTES", DEFAULT_LARGE_DELIVERY_BYTES)?,
                ),
            metrics_addr,
            migrate: env.flag("PRPULSE_MIGRATE", true)?,
            pool: PoolSettings {
                max_size: env.parse("PRPULSE_DB_POOL_SIZE", 16)?,
                timeout: env.millis("PRPULSE_DB_TIMEOUT_MS", 5_000)?,
            },
            amqp_connect_timeout: env.millis("PRPULSE_AMQP_CONNECT_TIMEOUT_MS", 3_000)?,
            secret_key,
            bound_addresses: BoundAddresses::from_env(env),
            payload_encoding: payload_encoding(env)?,
        })
    }
}

fn secret_key(env: &Env, name: &'static str) -> Result<Option<SecretKey>, ConfigError> {
    env.secret(name)
        .map(|raw| {
            SecretKey::parse(raw.expose_secret()).map_err(|error| ConfigError::Invalid {
                name,
                value: "[REDACTED]".into(),
                reason: error.to_string(),
            })
        })
        .transpose()
}

fn payload_encoding(env: &Env) -> Result<PayloadEncoding, ConfigError> {
    let Some(raw) = env.get("PRPULSE_PAYLOAD_ENCODING") else {
        return Ok(PayloadEncoding::Lz4);
    };
    PayloadEncoding::parse(raw).map_err(|error| ConfigError::Invalid {
        name: "PRPULSE_PAYLOAD_ENCODING",
        value: raw.to_owned(),
        reason: format!("{error}; use lz4 or identity"),
    })
}

fn retry_delays(env: &Env) -> Result<Vec<Duration>, ConfigError> {
    let Some(list) = env.get("PRPULSE_RETRY_DELAYS") else {
        return Ok(DEFAULT_RETRY_DELAYS.to_vec());
    };
    let invalid = |reason: String| ConfigError::Invalid {
        name: "PRPULSE_RETRY_DELAYS",
        value: list.to_owned(),
        reason,
    };
    let delays = list
        .split(',')
        .map(|delay| humantime::parse_duration(delay.trim()).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if delays.iter().any(Duration::is_zero) {
        return Err(invalid("a delay must be more than zero".into()));
    }
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let config = ServiceConfig::from_env(&Env::default(), 9100).unwrap();
        assert_eq!(config.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(config.topology.work_queue(), "prpulse.work");
        assert_eq!(
            config.topology.large_delivery_bytes(),
            DEFAULT_LARGE_DELIVERY_BYTES
        );
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
        );
        assert!(config.migrate);
        assert!(config.secret_key.is_none());
        assert_eq!(config.payload_encoding, PayloadEncoding::Lz4);
    }

    #[test]
    fn payloads_can_be_published_uncompressed_and_unknown_encodings_are_named() {
        let env = Env::from_pairs([("PRPULSE_PAYLOAD_ENCODING", "identity")]);
        let config = ServiceConfig::from_env(&env, 9100).unwrap();
        assert_eq!(config.payload_encoding, PayloadEncoding::Identity);
        let env = Env::from_pairs([("PRPULSE_PAYLOAD_ENCODING", "zip")]);
        let error = ServiceConfig::from_env(&env, 9100).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_PAYLOAD_ENCODING"), "{error}");
    }

    #[test]
    fn metrics_can_be_turned_off_and_bad_values_are_named() {
        let env = Env::from_pairs([("PRPULSE_METRICS_ADDR", "off")]);
        assert_eq!(ServiceConfig::from_env(&env, 1).unwrap().metrics_addr, None);
        let env = Env::from_pairs([("PRPULSE_SECRET_KEY", "too-short")]);
        let error = ServiceConfig::from_env(&env, 1).unwrap_err().to_string();
        assert!(error.contains("PRPULSE_SECRET_KEY"), "{error}");
        assert!(
            !error.contains("too-short"),
            "the key must not be echoed: {error}"
        );
        let env = Env::from_pairs([("PRPULSE_TOPOLOGY_PREFIX", "a b")]);
        assert!(ServiceConfig::from_env(&env, 1).is_err());
    }

    #[test]
    fn retry_delays_parse_as_human_durations() {
        let env = Env::from_pairs([("PRPULSE_RETRY_DELAYS", "250ms, 2s,1m")]);
        let config = ServiceConfig::from_env(&env, 1).unwrap();
        assert_eq!(
            config.topology.retry_delays(),
            [
                Duration::from_millis(250),
                Duration::from_secs(2),
                Duration::from_secs(60)
            ]
        );
        for bad in ["soon", "1s,,2s", "0s"] {
            let env = Env::from_pairs([("PRPULSE_RETRY_DELAYS", bad)]);
            let error = ServiceConfig::from_env(&env, 1).unwrap_err().to_string();
            assert!(error.contains("PRPULSE_RETRY_DELAYS"), "{bad}: {error}");
        }
        let defaults = ServiceConfig::from_env(&Env::default(), 1).unwrap();
        assert_eq!(defaults.topology.retry_delays(), DEFAULT_RETRY_DELAYS);
    }
}
