//! What one run measures and against which services. Every option has an
//! environment variable and a default that works on a developer machine.

use std::path::PathBuf;

use clap::Parser;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "prpulse-bench",
    about = "Measures prpulse beside the ceilings of its RabbitMQ and Postgres, in one run"
)]
pub struct BenchConfig {
    /// A few seconds in all: small counts and short phases (what
    /// scripts/test runs, so the benchmark cannot rot).
    #[arg(long, env = "PRPULSE_BENCH_SHORT")]
    pub short: bool,
    /// A Postgres database URL with the right to create databases; each
    /// run creates its own database there and drops it after.
    #[arg(
        long,
        env = "PRPULSE_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// RabbitMQ; each run declares its own exchanges and queues and
    /// deletes them after.
    #[arg(
        long,
        env = "PRPULSE_BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Publishes (broker ceiling) and HTTP requests (ingest) in flight.
    #[arg(long, env = "PRPULSE_BENCH_IN_FLIGHT", default_value_t = 32)]
    pub in_flight: usize,
    /// Seconds of each closed-loop throughput phase.
    #[arg(long, env = "PRPULSE_BENCH_SECONDS", default_value_t = 5.0)]
    pub seconds: f64,
    /// Deliveries per second of the open-loop latency phases.
    #[arg(long, env = "PRPULSE_BENCH_RATE", default_value_t = 1000)]
    pub rate: u32,
    /// Seconds of each open-loop latency phase.
    #[arg(long, env = "PRPULSE_BENCH_LATENCY_SECONDS", default_value_t = 5.0)]
    pub latency_seconds: f64,
    /// Deliveries in the pre-filled queue the workers drain, and that the
    /// database ceiling applies.
    #[arg(long, env = "PRPULSE_BENCH_DELIVERIES", default_value_t = 4000)]
    pub deliveries: usize,
    /// Repositories the deliveries spread over.
    #[arg(long, env = "PRPULSE_BENCH_REPOSITORIES", default_value_t = 16)]
    pub repositories: usize,
    /// People who author and review.
    #[arg(long, env = "PRPULSE_BENCH_PEOPLE", default_value_t = 64)]
    pub people: usize,
    /// `PRPULSE_WORKER_CONCURRENCY` of the workers (default: theirs), and
    /// the concurrency of the worker's code without the broker.
    #[arg(
        long,
        env = "PRPULSE_BENCH_WORKER_CONCURRENCY",
        default_value_t = prpulse_worker::config::DEFAULT_CONCURRENCY
    )]
    pub worker_concurrency: usize,
    /// Connections of the plain-SQL ceiling: its best on this machine, not
    /// the workers' concurrency, so the yardstick does not move with it.
    #[arg(long, env = "PRPULSE_BENCH_SQL_CONNECTIONS", default_value_t = 8)]
    pub sql_connections: usize,
    /// `PRPULSE_WORKER_BATCH_SIZE` of the workers (default: theirs), and
    /// the batch size of the batched database ceiling.
    #[arg(long, env = "PRPULSE_BENCH_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// More environment for every worker, `NAME=VALUE` (repeatable), e.g.
    /// `PRPULSE_WORKER_PREFETCH=64`.
    #[arg(long = "worker-env", value_parser = parse_pair)]
    pub worker_env: Vec<(String, String)>,
    /// A peer receiver to measure as ingest is, `NAME=COMMAND`
    /// (repeatable): the command runs under `sh -c` with `PORT`, `SECRET`,
    /// `QUEUE`, `AMQP` and `EXCHANGE` set (`scripts/bench-peers` passes
    /// the two in `../shared/peers`).
    #[arg(long = "peer", value_parser = crate::peers::parse_peer)]
    pub peers: Vec<crate::peers::PeerSpec>,
    /// Workers running during the end-to-end latency phase.
    #[arg(long, env = "PRPULSE_BENCH_E2E_WORKERS", default_value_t = 2)]
    pub e2e_workers: usize,
    /// Where the JSON result of each run is written.
    #[arg(long, env = "PRPULSE_BENCH_OUT", default_value = "bench/results")]
    pub out_dir: PathBuf,
    /// A label for this run, kept in its JSON (e.g. `before-batching`).
    #[arg(long, env = "PRPULSE_BENCH_LABEL")]
    pub label: Option<String>,
}

fn parse_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {raw:?}"))
}

impl BenchConfig {
    /// In short mode, counts and durations small enough for a test run.
    pub fn resolved(mut self) -> Self {
        if self.short {
            self.seconds = self.seconds.min(0.5);
            self.latency_seconds = self.latency_seconds.min(0.5);
            self.rate = self.rate.min(200);
            self.deliveries = self.deliveries.min(300);
            self.repositories = self.repositories.min(4);
            self.people = self.people.min(8);
        }
        self
    }

    /// The workers' environment: the concurrency, then `--worker-env`.
    pub fn worker_env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "PRPULSE_WORKER_CONCURRENCY".to_owned(),
            self.worker_concurrency.to_string(),
        )];
        if let Some(size) = self.batch_size {
            env.push(("PRPULSE_WORKER_BATCH_SIZE".to_owned(), size.to_string()));
        }
        env.extend(self.worker_env.iter().cloned());
        env
    }

    /// The workers' batch size: `--batch-size`, a `--worker-env` setting,
    /// or the workers' default.
    pub fn batch_size(&self) -> usize {
        self.worker_env()
            .iter()
            .rev()
            .find(|(name, _)| name == "PRPULSE_WORKER_BATCH_SIZE")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(prpulse_worker::config::DEFAULT_BATCH_SIZE)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_mode_caps_every_phase() {
        let config = BenchConfig::parse_from(["prpulse-bench", "--short"]).resolved();
        assert!(config.seconds <= 0.5 && config.latency_seconds <= 0.5);
        assert!(config.deliveries <= 300 && config.rate <= 200);
    }

    #[test]
    fn worker_env_takes_pairs() {
        let config = BenchConfig::parse_from([
            "prpulse-bench",
            "--worker-env",
            "PRPULSE_WORKER_PREFETCH=64",
        ]);
        assert_eq!(
            config.worker_env().last(),
            Some(&("PRPULSE_WORKER_PREFETCH".to_owned(), "64".to_owned()))
        );
    }
}
