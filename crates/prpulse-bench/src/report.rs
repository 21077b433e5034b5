//! The result of one run: a table for people, JSON for keeping.

use std::path::PathBuf;

use serde::Serialize;

use crate::{
    cpu::CpuPerRequest,
    drain::{Drain, Stored},
    load::{Latencies, Throughput},
    peers::{PeerFigures, SkippedPeer},
    sql_ceiling::SqlCeilings,
};

mod table;

#[derive(Clone, Debug, Serialize)]
pub struct LatencySummary {
    pub rate_per_second: u32,
    pub count: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub fn of(rate: u32, latencies: &Latencies) -> Self {
        Self {
            rate_per_second: rate,
            count: latencies.histogram.len(),
            failed: latencies.failed,
            p50_ms: latencies.ms(0.5),
            p99_ms: latencies.ms(0.99),
            p999_ms: latencies.ms(0.999),
            max_ms: latencies.histogram.max() as f64 / 1000.0,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub started_at: String,
    pub label: Option<String>,
    pub short: bool,
    pub machine: Machine,
    pub settings: Settings,
    pub broker_ceiling: Throughput,
    /// RabbitMQ's CPU per message in the broker-ceiling phase.
    pub broker_ceiling_cpu: CpuPerRequest,
    pub ingest: Throughput,
    pub ingest_ratio: f64,
    /// Ingest's, RabbitMQ's and the load generator's CPU per request in
    /// the ingest throughput phase.
    pub ingest_cpu: CpuPerRequest,
    pub ingest_latency: LatencySummary,
    pub peers: Vec<PeerFigures>,
    pub peers_skipped: Vec<SkippedPeer>,
    /// The independent ceiling: plain SQL of the worker's write shape.
    pub sql_ceilings: SqlCeilings,
    /// The worker's own transaction code without the broker.
    pub database_ceiling: Throughput,
    pub database_ceiling_batched: Option<Throughput>,
    pub drain_1_worker: Throughput,
    pub drain_1_ratio: f64,
    pub drain_2_workers: Throughput,
    pub drain_2_ratio: f64,
    pub drain_1_vs_sql: DrainDetail,
    pub drain_2_vs_sql: DrainDetail,
    pub end_to_end: LatencySummary,
    pub end_to_end_ingest: LatencySummary,
    pub end_to_end_missing: u64,
    pub ingest_peak_mib: Option<f64>,
    pub worker_peak_mib: Option<f64>,
}

/// A drain against the independent ceilings, and what it cost.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DrainDetail {
    pub to_sql_single_row: f64,
    pub to_sql_set_based: f64,
    pub worker_cpu_us_per_delivery: Option<f64>,
    pub postgres_cpu_us_per_delivery: Option<f64>,
    pub broker_cpu_us_per_delivery: Option<f64>,
    pub wal_bytes_per_delivery: Option<f64>,
    pub stored: Stored,
}

impl DrainDetail {
    pub fn of(drain: &Drain, sql: &SqlCeilings) -> Self {
        let ratio = |ceiling: &Throughput| {
            drain.throughput.per_second / ceiling.per_second.max(f64::EPSILON)
        };
        Self {
            to_sql_single_row: ratio(&sql.single_row.throughput),
            to_sql_set_based: ratio(&sql.set_based.throughput),
            worker_cpu_us_per_delivery: drain.worker_cpu_us,
            postgres_cpu_us_per_delivery: drain.postgres_cpu_us,
            broker_cpu_us_per_delivery: drain.broker_cpu_us,
            wal_bytes_per_delivery: drain.wal_bytes,
            stored: drain.stored,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub build: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub in_flight: usize,
    pub deliveries: usize,
    pub repositories: usize,
    pub people: usize,
    pub payload_mean_bytes: usize,
    pub payload_max_bytes: usize,
    pub worker_concurrency: usize,
    /// Connections of the plain-SQL ceiling.
    pub sql_connections: usize,
    pub worker_env: Vec<(String, String)>,
    pub e2e_workers: usize,
    pub batch_size: Option<usize>,
}

impl Report {
    /// Writes the JSON under `dir`: `<time>[-label].json`, or `short.json`
    /// for short runs (overwritten each time; not kept in git).
    pub fn write(&self, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let name = if self.short {
            "short.json".to_owned()
        } else {
            let stamp = self.started_at.replace(':', "");
            match &self.label {
                Some(label) => format!("{stamp}-{label}.json"),
                None => format!("{stamp}.json"),
            }
        };
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}
