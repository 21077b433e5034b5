//! The result of one run: a table for people, JSON for keeping.

use std::{fmt::Write as _, path::PathBuf};

use serde::Serialize;

use crate::load::{Latencies, Throughput};

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
    pub ingest: Throughput,
    pub ingest_ratio: f64,
    pub ingest_latency: LatencySummary,
    pub database_ceiling: Throughput,
    pub database_ceiling_batched: Option<Throughput>,
    pub drain_1_worker: Throughput,
    pub drain_1_ratio: f64,
    pub drain_2_workers: Throughput,
    pub drain_2_ratio: f64,
    pub end_to_end: LatencySummary,
    pub end_to_end_ingest: LatencySummary,
    pub end_to_end_missing: u64,
    pub ingest_peak_mib: Option<f64>,
    pub worker_peak_mib: Option<f64>,
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
    pub worker_env: Vec<(String, String)>,
    pub e2e_workers: usize,
    pub batch_size: Option<usize>,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "MISSES" }
}

impl Report {
    pub fn table(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "prpulse-bench {} ({} build, {} cores){}{}",
            self.started_at,
            self.machine.build,
            self.machine.cores,
            if self.short { ", SHORT run" } else { "" },
            self.label
                .as_deref()
                .map(|label| format!(", {label}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "payloads: mean {:.1} KB, max {:.1} KB; {} in flight; {} deliveries over {} repositories, {} people; worker concurrency {}{}",
            s.payload_mean_bytes as f64 / 1024.0,
            s.payload_max_bytes as f64 / 1024.0,
            s.in_flight,
            s.deliveries,
            s.repositories,
            s.people,
            s.worker_concurrency,
            if s.worker_env.is_empty() {
                String::new()
            } else {
                format!(
                    "; worker env {}",
                    s.worker_env
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        );
        let row = |out: &mut String, figure: &str, value: String, against: String| {
            let _ = writeln!(out, "  {figure:<34} {value:<38} {against}");
        };
        row(&mut out, "figure", "value".into(), "against target".into());
        row(
            &mut out,
            "broker ceiling (publish+confirm)",
            format!("{:>8.0} /s", self.broker_ceiling.per_second),
            String::new(),
        );
        row(
            &mut out,
            "ingest (HTTP, signed)",
            format!(
                "{:>8.0} /s{}",
                self.ingest.per_second,
                failures(self.ingest.failed)
            ),
            format!(
                "{:.2} of broker ceiling (≥ 0.85: {})",
                self.ingest_ratio,
                verdict(self.ingest_ratio >= 0.85)
            ),
        );
        let l = &self.ingest_latency;
        row(
            &mut out,
            &format!("ingest latency @ {}/s", l.rate_per_second),
            format!(
                "p50 {:.1} p99 {:.1} p99.9 {:.1} ms{}",
                l.p50_ms,
                l.p99_ms,
                l.p999_ms,
                failures(l.failed)
            ),
            format!(
                "p99 ≤ 10 ms: {}",
                verdict(l.p99_ms <= 10.0 && l.failed == 0)
            ),
        );
        row(
            &mut out,
            "database ceiling (1 per tx)",
            format!("{:>8.0} /s", self.database_ceiling.per_second),
            String::new(),
        );
        if let (Some(batched), Some(size)) = (&self.database_ceiling_batched, s.batch_size) {
            row(
                &mut out,
                &format!("database ceiling ({size} per tx)"),
                format!("{:>8.0} /s", batched.per_second),
                format!(
                    "{:.2} of 1 per tx",
                    batched.per_second / self.database_ceiling.per_second.max(f64::EPSILON)
                ),
            );
        }
        for (name, drain, ratio) in [
            (
                "worker drain, 1 worker",
                &self.drain_1_worker,
                self.drain_1_ratio,
            ),
            (
                "worker drain, 2 workers",
                &self.drain_2_workers,
                self.drain_2_ratio,
            ),
        ] {
            row(
                &mut out,
                name,
                format!("{:>8.0} /s", drain.per_second),
                format!(
                    "{ratio:.2} of database ceiling (≥ 1.00: {})",
                    verdict(ratio >= 1.0)
                ),
            );
        }
        let e = &self.end_to_end;
        row(
            &mut out,
            &format!("end to end @ {}/s", e.rate_per_second),
            format!(
                "p50 {:.1} p99 {:.1} p99.9 {:.1} ms{}",
                e.p50_ms,
                e.p99_ms,
                e.p999_ms,
                failures(e.failed + self.end_to_end_missing)
            ),
            format!(
                "p99 ≤ 100 ms: {}",
                verdict(e.p99_ms <= 100.0 && e.failed + self.end_to_end_missing == 0)
            ),
        );
        let ei = &self.end_to_end_ingest;
        row(
            &mut out,
            "  (its ingest answers)",
            format!(
                "p50 {:.1} p99 {:.1} p99.9 {:.1} ms",
                ei.p50_ms, ei.p99_ms, ei.p999_ms
            ),
            String::new(),
        );
        row(
            &mut out,
            "ingest peak RSS",
            mib(self.ingest_peak_mib),
            self.ingest_peak_mib
                .map(|peak| format!("≤ 64 MB: {}", verdict(peak <= 64.0)))
                .unwrap_or_default(),
        );
        row(
            &mut out,
            "worker peak RSS",
            mib(self.worker_peak_mib),
            String::new(),
        );
        out
    }

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

fn failures(failed: u64) -> String {
    if failed == 0 {
        String::new()
    } else {
        format!(" ({failed} failed)")
    }
}

fn mib(value: Option<f64>) -> String {
    value
        .map(|mib| format!("{mib:>8.1} MB"))
        .unwrap_or_else(|| "unknown".into())
}
