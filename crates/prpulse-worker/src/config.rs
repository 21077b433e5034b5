use std::time::Duration;

use prpulse_domain::BotPolicy;
use prpulse_runtime::{ConfigError, Env, ServiceConfig};

/// `PRPULSE_WORKER_BATCH_SIZE` unless set.
pub const DEFAULT_BATCH_SIZE: usize = 16;

#[derive(Debug)]
pub struct WorkerConfig {
    pub service: ServiceConfig,
    /// `PRPULSE_WORKER_PREFETCH` (default 128): unacked deliveries the
    /// broker may hand this process at once. To keep every transaction
    /// slot busy with full batches it takes batch size × concurrency.
    pub prefetch: u16,
    /// `PRPULSE_WORKER_CONCURRENCY` (default 8): transactions (batches) at
    /// once; at most the prefetch.
    pub concurrency: usize,
    /// `PRPULSE_WORKER_BATCH_SIZE` (default 16): deliveries at most in one
    /// transaction, taken from those the broker has already handed over;
    /// 1 turns batching off.
    pub batch_size: usize,
    /// `PRPULSE_BOT_LOGINS`: comma-separated logins treated as bots on top
    /// of GitHub's own (`type: Bot`, `[bot]` suffix).
    pub bots: BotPolicy,
    /// `PRPULSE_SHUTDOWN_TIMEOUT_MS` (default 10000): how long in-flight
    /// deliveries may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `PRPULSE_QUEUE_DEPTH_INTERVAL_MS` (default 15000): how often the
    /// depth of the work and dead-letter queues is asked of the broker.
    pub queue_depth_interval: Duration,
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let prefetch = env.parse("PRPULSE_WORKER_PREFETCH", 128u16)?.max(1);
        let concurrency = env.parse("PRPULSE_WORKER_CONCURRENCY", 8usize)?.max(1);
        let batch_size = env
            .parse("PRPULSE_WORKER_BATCH_SIZE", DEFAULT_BATCH_SIZE)?
            .max(1);
        Ok(Self {
            service: ServiceConfig::from_env(env, 9101)?,
            prefetch,
            concurrency: concurrency.min(usize::from(prefetch)),
            batch_size: batch_size.min(usize::from(prefetch)),
            bots: BotPolicy::from_list(env.get("PRPULSE_BOT_LOGINS").unwrap_or_default()),
            shutdown_timeout: env.millis("PRPULSE_SHUTDOWN_TIMEOUT_MS", 10_000)?,
            // A floor, so a typo cannot turn the poll into a busy loop
            // against the broker.
            queue_depth_interval: env
                .millis("PRPULSE_QUEUE_DEPTH_INTERVAL_MS", 15_000)?
                .max(Duration::from_millis(100)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_never_exceeds_prefetch() {
        let env = Env::from_pairs([
            ("PRPULSE_WORKER_PREFETCH", "4"),
            ("PRPULSE_WORKER_CONCURRENCY", "16"),
            ("PRPULSE_BOT_LOGINS", "ci-user"),
        ]);
        let config = WorkerConfig::from_env(&env).unwrap();
        assert_eq!(config.prefetch, 4);
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.batch_size, 4);
        assert!(config.bots.is_bot("ci-user", Some("User")));
        assert_eq!(
            config.service.metrics_addr.map(|addr| addr.port()),
            Some(9101)
        );
    }

    #[test]
    fn queue_depth_is_polled_every_15_s_unless_told_otherwise() {
        let default = WorkerConfig::from_env(&Env::default()).unwrap();
        assert_eq!(default.queue_depth_interval, Duration::from_secs(15));
        let env = Env::from_pairs([("PRPULSE_QUEUE_DEPTH_INTERVAL_MS", "0")]);
        let config = WorkerConfig::from_env(&env).unwrap();
        assert_eq!(config.queue_depth_interval, Duration::from_millis(100));
    }
}
