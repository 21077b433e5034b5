use std::time::Duration;

use prpulse_domain::BotPolicy;
use prpulse_runtime::{ConfigError, Env, ServiceConfig};

use crate::process::TransactionTimeouts;

/// `PRPULSE_WORKER_CONCURRENCY` unless set: lanes, each one transaction at a
/// time. On the 2-core machine of the benchmark (Postgres on the same
/// host), the drain of 4,000 deliveries measured 625, 644, 458, 447 and
/// 339 per second with 1, 2, 3, 4 and 8 lanes (one worker), and Postgres's
/// CPU per delivery rose from 1.0 to 3.2 ms: past about one transaction per
/// Postgres core, more of them only contend. Two keep one transaction
/// working while the other waits for its commit.
pub const DEFAULT_CONCURRENCY: usize = 2;

/// `PRPULSE_WORKER_BATCH_SIZE` unless set.
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// `PRPULSE_WORKER_MAX_INFLIGHT_BYTES` unless set: 384 MiB of payloads in
/// hand (a prefetch of 15 with 25 MiB deliveries), which with the copies
/// made while writing them keeps a worker under the 640 MiB limit of
/// deploy/k8s/worker.yaml (README.md, "Worker memory"). 128 MiB (a prefetch
/// of 5) cost the drain about 40%; 15 deliveries in hand gave nearly all
/// of it back.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 384 * 1024 * 1024;

/// `PRPULSE_MAX_BODY_BYTES` unless set: the largest payload GitHub sends,
/// and the largest ingest accepts (the same setting).
pub const DEFAULT_MAX_DELIVERY_BYTES: u64 = 25 * 1024 * 1024;

#[derive(Debug)]
pub struct WorkerConfig {
    pub service: ServiceConfig,
    /// `PRPULSE_WORKER_PREFETCH` (default 128): unacked deliveries the
    /// broker may hand this process at once. To keep every transaction
    /// slot busy with full batches it takes batch size × concurrency.
    /// Lowered to what the byte budget allows: see [`byte_bounded_prefetch`].
    pub prefetch: u16,
    /// `PRPULSE_WORKER_MAX_INFLIGHT_BYTES` (default 384 MiB): payload bytes
    /// this process may hold unacked, at worst.
    pub max_inflight_bytes: u64,
    /// `PRPULSE_MAX_BODY_BYTES` (default 25 MiB): the largest delivery the
    /// broker may hand over; set it as ingest's (the same name).
    pub max_delivery_bytes: u64,
    /// `PRPULSE_WORKER_STATEMENT_TIMEOUT_MS` (default 30000) and
    /// `PRPULSE_WORKER_LOCK_TIMEOUT_MS` (default 10000), set on every
    /// worker transaction; 0 turns one off.
    pub timeouts: TransactionTimeouts,
    /// `PRPULSE_WORKER_CONCURRENCY` (default 2, [`DEFAULT_CONCURRENCY`]):
    /// lanes, each running one transaction (a batch) at a time; at most the
    /// prefetch.
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
        let max_inflight_bytes = env.parse(
            "PRPULSE_WORKER_MAX_INFLIGHT_BYTES",
            DEFAULT_MAX_INFLIGHT_BYTES,
        )?;
        let max_delivery_bytes = env
            .parse("PRPULSE_MAX_BODY_BYTES", DEFAULT_MAX_DELIVERY_BYTES)?
            .max(1);
        let prefetch = byte_bounded_prefetch(
            env.parse("PRPULSE_WORKER_PREFETCH", 128u16)?,
            max_inflight_bytes,
            max_delivery_bytes,
        );
        let concurrency = env
            .parse("PRPULSE_WORKER_CONCURRENCY", DEFAULT_CONCURRENCY)?
            .max(1);
        let batch_size = env
            .parse("PRPULSE_WORKER_BATCH_SIZE", DEFAULT_BATCH_SIZE)?
            .max(1);
        Ok(Self {
            service: ServiceConfig::from_env(env, 9101)?,
            prefetch,
            max_inflight_bytes,
            max_delivery_bytes,
            timeouts: TransactionTimeouts {
                statement: env.millis("PRPULSE_WORKER_STATEMENT_TIMEOUT_MS", 30_000)?,
                lock: env.millis("PRPULSE_WORKER_LOCK_TIMEOUT_MS", 10_000)?,
            },
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

/// The prefetch that keeps the payloads in hand within `max_inflight_bytes`
/// whatever their sizes: at most `max_inflight_bytes / max_delivery_bytes`
/// deliveries, and never fewer than one.
///
/// A count is the only bound RabbitMQ enforces (it does not implement a
/// prefetch size), and what it has pushed sits in the client's memory
/// whether or not the worker has taken it yet: waiting for bytes after
/// the delivery arrived bounds nothing. So the byte budget becomes a count,
/// sized for the largest delivery there can be.
pub fn byte_bounded_prefetch(
    requested: u16,
    max_inflight_bytes: u64,
    max_delivery_bytes: u64,
) -> u16 {
    let fits = max_inflight_bytes / max_delivery_bytes.max(1);
    requested
        .min(u16::try_from(fits).unwrap_or(u16::MAX))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_budget_bounds_the_prefetch() {
        let mib = 1024 * 1024;
        assert_eq!(byte_bounded_prefetch(128, 128 * mib, 25 * mib), 5);
        assert_eq!(byte_bounded_prefetch(4, 128 * mib, 25 * mib), 4);
        assert_eq!(byte_bounded_prefetch(128, 10 * mib, 25 * mib), 1);
        assert_eq!(byte_bounded_prefetch(0, 128 * mib, 25 * mib), 1);
        assert_eq!(byte_bounded_prefetch(128, u64::MAX, 1), 128);

        let default = WorkerConfig::from_env(&Env::default()).unwrap();
        assert_eq!(default.prefetch, 15, "384 MiB of 25 MiB deliveries");
        assert_eq!(default.batch_size, 15);
        assert_eq!(default.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(default.timeouts.statement, Duration::from_secs(30));
        assert_eq!(default.timeouts.lock, Duration::from_secs(10));
        let small = Env::from_pairs([("PRPULSE_MAX_BODY_BYTES", "1048576")]);
        assert_eq!(WorkerConfig::from_env(&small).unwrap().prefetch, 128);
    }

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
