//! The table a run prints, each figure beside its target.

use std::fmt::Write as _;

use super::Report;

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
            "payloads: mean {:.1} KB, max {:.1} KB; {} in flight; {} deliveries over {} repositories, {} people; worker concurrency {}, plain SQL on {} connections{}",
            s.payload_mean_bytes as f64 / 1024.0,
            s.payload_max_bytes as f64 / 1024.0,
            s.in_flight,
            s.deliveries,
            s.repositories,
            s.people,
            s.worker_concurrency,
            s.sql_connections,
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
            let _ = writeln!(out, "  {figure:<36} {value:<38} {against}");
        };
        row(&mut out, "figure", "value".into(), "against target".into());
        row(
            &mut out,
            "broker ceiling (publish+confirm)",
            format!("{:>8.0} /s", self.broker_ceiling.per_second),
            format!(
                "RabbitMQ {} CPU per message",
                micros(self.broker_ceiling_cpu.broker_us)
            ),
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
        row(
            &mut out,
            "  CPU per request",
            format!("{:>8} ingest", micros(self.ingest_cpu.receiver_us)),
            format!(
                "RabbitMQ {}, load generator {}",
                micros(self.ingest_cpu.broker_us),
                micros(self.ingest_cpu.load_generator_us)
            ),
        );
        let l = &self.ingest_latency;
        row(
            &mut out,
            &format!("ingest latency @ {}/s", l.rate_per_second),
            latency(l),
            format!(
                "p99 ≤ 10 ms: {}",
                verdict(l.p99_ms <= 10.0 && l.failed == 0)
            ),
        );
        self.peer_rows(&mut out, &row);
        self.database_rows(&mut out, &row);
        self.storage_row(&mut out, &row);
        let e = &self.end_to_end;
        row(
            &mut out,
            &format!("end to end @ {}/s", e.rate_per_second),
            format!("{}{}", latency(e), missing(self.end_to_end_missing)),
            format!(
                "p99 ≤ 100 ms: {}",
                verdict(e.p99_ms <= 100.0 && e.failed + self.end_to_end_missing == 0)
            ),
        );
        let ei = &self.end_to_end_ingest;
        row(
            &mut out,
            "  ingest answers while workers drain",
            latency(ei),
            format!(
                "p99 ≤ 10 ms: {}",
                verdict(ei.p99_ms <= 10.0 && ei.failed == 0)
            ),
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
            self.worker_peak_mib
                .map(|peak| format!("≤ 64 MB: {}", verdict(peak <= 64.0)))
                .unwrap_or_default(),
        );
        out
    }

    fn peer_rows(&self, out: &mut String, row: &impl Fn(&mut String, &str, String, String)) {
        for peer in &self.peers {
            let t = &peer.throughput;
            let (min_ratio, max_cpu) = peer_targets(&peer.name);
            let mut against = format!("ingest {:.2}×", peer.ingest_throughput_ratio);
            if let Some(min) = min_ratio {
                let _ = write!(
                    against,
                    " (≥ {min}: {})",
                    verdict(peer.ingest_throughput_ratio >= min)
                );
            }
            if let Some(fraction) = peer.ingest_cpu_fraction {
                let _ = write!(against, "; ingest CPU {fraction:.2} of it");
                if let Some(max) = max_cpu {
                    let _ = write!(against, " (≤ {max:.2}: {})", verdict(fraction <= max));
                }
            }
            row(
                out,
                &format!("peer {}", peer.name),
                format!(
                    "{:>8.0} /s{}, {} CPU",
                    t.throughput.per_second,
                    failures(t.throughput.failed),
                    micros(t.cpu.receiver_us)
                ),
                against,
            );
            row(
                out,
                &format!("  latency @ {}/s", peer.latency.rate_per_second),
                latency(&peer.latency),
                format!("RabbitMQ {} CPU per request", micros(t.cpu.broker_us)),
            );
        }
        for skipped in &self.peers_skipped {
            row(
                out,
                &format!("peer {}", skipped.name),
                "skipped".into(),
                skipped.reason.clone(),
            );
        }
    }

    fn database_rows(&self, out: &mut String, row: &impl Fn(&mut String, &str, String, String)) {
        let sql = &self.sql_ceilings;
        let single = sql.single_row.throughput.per_second.max(f64::EPSILON);
        let of_single =
            |per_second: f64| format!("{:.2} of plain SQL 1 per tx", per_second / single);
        for (name, ceiling, against) in [
            ("plain SQL, 1 per tx", &sql.single_row, String::new()),
            (
                &format!("plain SQL, {} per tx, statements", sql.batch_size) as &str,
                &sql.statements,
                of_single(sql.statements.throughput.per_second),
            ),
            (
                &format!("plain SQL, {} per tx, set-based", sql.batch_size),
                &sql.set_based,
                of_single(sql.set_based.throughput.per_second),
            ),
        ] {
            row(
                out,
                name,
                format!(
                    "{:>8.0} /s{}, Postgres {} CPU",
                    ceiling.throughput.per_second,
                    failures(ceiling.throughput.failed),
                    micros(ceiling.postgres_cpu_us)
                ),
                against,
            );
        }
        row(
            out,
            "worker's code, no broker, 1 per tx",
            format!("{:>8.0} /s", self.database_ceiling.per_second),
            of_single(self.database_ceiling.per_second),
        );
        if let (Some(batched), Some(size)) =
            (&self.database_ceiling_batched, self.settings.batch_size)
        {
            row(
                out,
                &format!("worker's code, no broker, {size} per tx"),
                format!("{:>8.0} /s", batched.per_second),
                of_single(batched.per_second),
            );
        }
        for (name, drain, detail) in [
            (
                "worker drain, 1 worker",
                &self.drain_1_worker,
                &self.drain_1_vs_sql,
            ),
            (
                "worker drain, 2 workers",
                &self.drain_2_workers,
                &self.drain_2_vs_sql,
            ),
        ] {
            row(
                out,
                name,
                format!("{:>8.0} /s", drain.per_second),
                format!(
                    "{:.2} of plain SQL 1 per tx (≥ 2.00: {}), {:.2} of set-based",
                    detail.to_sql_single_row,
                    verdict(detail.to_sql_single_row >= 2.0),
                    detail.to_sql_set_based
                ),
            );
            row(
                out,
                "  CPU per delivery",
                format!("{:>8} workers", micros(detail.worker_cpu_us_per_delivery)),
                format!(
                    "Postgres {}, RabbitMQ {}; WAL {}",
                    micros(detail.postgres_cpu_us_per_delivery),
                    micros(detail.broker_cpu_us_per_delivery),
                    kb(detail.wal_bytes_per_delivery)
                ),
            );
        }
    }

    /// What a delivery takes in Postgres, after the first drain.
    fn storage_row(&self, out: &mut String, row: &impl Fn(&mut String, &str, String, String)) {
        let stored = &self.drain_1_vs_sql.stored;
        row(
            out,
            "payload at rest",
            format!(
                "{:>8} raw, {} stored",
                kb(Some(stored.payload_raw_mean_bytes)),
                kb(Some(stored.payload_stored_mean_bytes))
            ),
            format!(
                "ledger and payloads {} per delivery",
                kb(Some(stored.deliveries_table_bytes_per_delivery))
            ),
        );
    }
}

fn kb(bytes: Option<f64>) -> String {
    bytes.map_or_else(|| "?".into(), |bytes| format!("{:.1} KB", bytes / 1024.0))
}

/// The targets for the two peers in `../shared/peers`: ingest's
/// least throughput ratio and greatest CPU fraction.
fn peer_targets(name: &str) -> (Option<f64>, Option<f64>) {
    match name {
        "flask" => (Some(8.0), None),
        "node" => (Some(1.5), Some(1.0 / 3.0)),
        _ => (None, None),
    }
}

fn latency(l: &super::LatencySummary) -> String {
    format!(
        "p50 {:.1} p99 {:.1} p99.9 {:.1} ms{}",
        l.p50_ms,
        l.p99_ms,
        l.p999_ms,
        failures(l.failed)
    )
}

fn missing(count: u64) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(" ({count} never committed)")
    }
}

fn micros(value: Option<f64>) -> String {
    value.map_or_else(|| "?".into(), |us| format!("{us:.0} µs"))
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
