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
/// hand at worst, which with the copies made while writing them keeps a
/// worker under the 640 MiB limit of deploy/k8s/worker.yaml (README.md,
/// "Worker memory"). Half of it is the large queue's (a prefetch of 7 with
/// 25 MiB deliveries), the rest the work queue's (a prefetch of 128 at
/// 1 MiB each at most).
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 384 * 1024 * 1024;

/// `PRPULSE_MAX_BODY_BYTES` unless set: the largest payload GitHub sends,
/// and the largest ingest accepts (the same setting).
pub const DEFAULT_MAX_DELIVERY_BYTES: u64 = 25 * 1024 * 1024;

#[derive(Debug)]
pub struct WorkerConfig {
    pub service: ServiceConfig,
    /// `PRPULSE_WORKER_PREFETCH` (default 128): unacked deliveries the
    /// broker may hand this process at once from the work queue. To keep
    /// every transaction slot busy with full batches it takes batch size ×
    /// concurrency. Lowered to what the byte budget allows: see
    /// [`Prefetch::within`].
    pub prefetch: u16,
    /// Unacked deliveries at once from the large queue: half the byte
    /// budget over the largest delivery, at least one.
    pub large_prefetch: u16,
    /// `PRPULSE_WORKER_MAX_INFLIGHT_BYTES` (default 384 MiB): payload bytes
    /// this process may hold unacked, at worst.
    pub max_inflight_bytes: u64,
    /// `PRPULSE_LARGE_DELIVERY_BYTES` (default 1 MiB, the topology's):
    /// the largest delivery the work queue holds; larger ones travel the
    /// large queue.
    pub large_delivery_bytes: u64,
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
        let service = ServiceConfig::from_env(env, 9101)?;
        let large_delivery_bytes =
            u64::try_from(service.topology.large_delivery_bytes()).unwrap_or(u64::MAX);
        let Prefetch {
            standard: prefetch,
            large: large_prefetch,
        } = Prefetch::within(
            env.parse("PRPULSE_WORKER_PREFETCH", 128u16)?,
            max_inflight_bytes,
            large_delivery_bytes,
            max_delivery_bytes,
        );
        let concurrency = env
            .parse("PRPULSE_WORKER_CONCURRENCY", DEFAULT_CONCURRENCY)?
            .max(1);
        let batch_size = env
            .parse("PRPULSE_WORKER_BATCH_SIZE", DEFAULT_BATCH_SIZE)?
            .max(1);
        Ok(Self {
            service,
            prefetch,
            large_prefetch,
            max_inflight_bytes,
            large_delivery_bytes,
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

/// The prefetch of each work queue, so that the payloads in hand stay
/// within the byte budget whatever their sizes.
///
/// A count is the only bound RabbitMQ enforces (it does not implement a
/// prefetch size), and what it has pushed sits in the client's memory
/// whether or not the worker has taken it yet: waiting for bytes after
/// the delivery arrived bounds nothing. So the budget becomes counts, each
/// sized for the largest delivery its queue can hold: the large queue gets
/// half the budget in deliveries of `max_delivery_bytes`, the work queue
/// what is left in deliveries of `large_delivery_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefetch {
    pub standard: u16,
    pub large: u16,
}

impl Prefetch {
    pub fn within(
        requested: u16,
        max_inflight_bytes: u64,
        large_delivery_bytes: u64,
        max_delivery_bytes: u64,
    ) -> Self {
        if max_delivery_bytes <= large_delivery_bytes {
            // Nothing can be large: the large queue stays empty, and its
            // one prefetch slot costs nothing.
            return Self {
                standard: bounded_count(requested, max_inflight_bytes, max_delivery_bytes),
                large: 1,
            };
        }
        let large = bounded_count(u16::MAX, max_inflight_bytes / 2, max_delivery_bytes);
        let left = max_inflight_bytes.saturating_sub(u64::from(large) * max_delivery_bytes);
        Self {
            standard: bounded_count(requested, left, large_delivery_bytes),
            large,
        }
    }
}

/// At most `requested`, at most `budget / each`, never fewer than one.
fn bounded_count(requested: u16, budget: u64, each: u64) -> u16 {
    let fits = budget / each.max(1);
    requested
        .min(u16::try_from(fits).unwrap_or(u16::MAX))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_budget_bounds_each_queue_s_prefetch() {
        let mib = 1024 * 1024;
        let prefetch = |requested, budget, large, max| {
            let Prefetch { standard, large } = Prefetch::within(requested, budget, large, max);
            (standard, large)
        };
        // Half of 384 MiB in 25 MiB deliveries; 209 MiB left in 1 MiB ones.
        assert_eq!(prefetch(128, 384 * mib, mib, 25 * mib), (128, 7));
        assert_eq!(prefetch(128, 128 * mib, mib, 25 * mib), (78, 2));
        assert_eq!(prefetch(4, 128 * mib, mib, 25 * mib), (4, 2));
        // A budget smaller than one large delivery still takes one.
        assert_eq!(prefetch(128, 10 * mib, mib, 25 * mib), (1, 1));
        assert_eq!(prefetch(0, 128 * mib, mib, 25 * mib), (1, 2));
        // Nothing can be large: the work queue has the whole budget.
        assert_eq!(prefetch(128, 10 * mib, 25 * mib, 4 * mib), (2, 1));
        assert_eq!(prefetch(128, u64::MAX, 1, 1), (128, 1));

        let default = WorkerConfig::from_env(&Env::default()).unwrap();
        assert_eq!((default.prefetch, default.large_prefetch), (128, 7));
        assert_eq!(default.large_delivery_bytes, mib);
        assert_eq!(default.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(default.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(default.timeouts.statement, Duration::from_secs(30));
        assert_eq!(default.timeouts.lock, Duration::from_secs(10));
        let small = Env::from_pairs([("PRPULSE_LARGE_DELIVERY_BYTES", "16777216")]);
        let config = WorkerConfig::from_env(&small).unwrap();
        assert_eq!((config.prefetch, config.large_prefetch), (13, 7));
        assert_eq!(config.batch_size, 13);
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
