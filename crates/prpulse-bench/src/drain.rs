//! Worker drain: a queue pre-filled with N deliveries, then real
//! prpulse-worker processes, timed from the first committed row to the
//! last.

use std::time::{Duration, Instant};

use anyhow::Context;
use prpulse_testkit::Stack;
use serde::Serialize;

use crate::{
    broker::{self, BenchPublisher},
    cpu::{Meter, Reading},
    load::Throughput,
    rss,
    workload::Prepared,
};

pub struct Drain {
    pub throughput: Throughput,
    /// CPU microseconds per delivery of all workers together, and of the
    /// whole Postgres server (every backend: other load on it counts too),
    /// from the first commit to the last.
    pub worker_cpu_us: Option<f64>,
    pub postgres_cpu_us: Option<f64>,
    /// RabbitMQ's CPU per delivery it handed out (and was acked for).
    pub broker_cpu_us: Option<f64>,
    /// WAL Postgres wrote per delivery (server-wide, as the CPU).
    pub wal_bytes: Option<f64>,
    pub stored: Stored,
    /// The largest `VmHWM` of the workers, MiB.
    pub worker_peak_mib: Option<f64>,
}

/// What the drained deliveries take on disk.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Stored {
    /// The raw payload as received, mean bytes.
    pub payload_raw_mean_bytes: f64,
    /// The payload as Postgres stores it (lz4 since V6), mean bytes.
    pub payload_stored_mean_bytes: f64,
    /// The ledger (`deliveries`) and `delivery_payloads`' partitions, with
    /// their TOAST and indexes, per delivery (the JSON name is kept).
    pub deliveries_table_bytes_per_delivery: f64,
}

/// The processes whose CPU a drain reads.
#[derive(Clone, Copy, Debug)]
pub struct Servers {
    pub postgres: Option<u32>,
    pub broker: Option<u32>,
}

/// How often committed rows are counted: the resolution of the drain's
/// timing, coarse enough that counting costs Postgres little.
const POLL: Duration = Duration::from_millis(20);

pub async fn drain(
    stack: &mut Stack,
    publisher: &BenchPublisher,
    deliveries: &[Prepared],
    workers: usize,
    in_flight: usize,
    servers: Servers,
) -> anyhow::Result<Drain> {
    let work_queue = stack.topology.work_queue();
    stack.db.reset_projection().await;
    broker::purge(stack.amqp_url(), &work_queue).await?;
    broker::fill(publisher, deliveries, in_flight).await?;
    let total = deliveries.len() as i64;
    let depth = broker::depth(stack.amqp_url(), &work_queue).await;
    anyhow::ensure!(
        i64::from(depth) == total,
        "the work queue holds {depth} deliveries, not {total}"
    );
    let client = stack.db.client().await;
    let spawned = Instant::now();
    for _ in 0..workers {
        stack.spawn_worker();
    }
    let deadline = spawned + Duration::from_secs(60) + Duration::from_millis(total as u64 * 5);
    let mut first: Option<(Instant, i64)> = None;
    let mut cpu: Vec<Reading> = Vec::new();
    let mut server_cpu: [Option<Reading>; 2] = [None, None];
    let mut wal_at_first: Option<String> = None;
    let mut worker_peak_mib: Option<f64> = None;
    let finished = loop {
        let count: i64 = client
            .query_one("SELECT count(*) FROM deliveries", &[])
            .await
            .context("counting committed deliveries")?
            .get(0);
        let now = Instant::now();
        if count > 0 && first.is_none() {
            first = Some((now, count));
            cpu = stack
                .worker_pids()
                .into_iter()
                .map(|pid| Reading::start(Meter::Process(pid)))
                .collect();
            server_cpu = [
                servers.postgres.map(|pid| Reading::start(Meter::Tree(pid))),
                servers
                    .broker
                    .map(|pid| Reading::start(Meter::Process(pid))),
            ];
            wal_at_first = Some(wal_lsn(&client).await?);
        }
        for pid in stack.worker_pids() {
            worker_peak_mib = rss::larger(worker_peak_mib, rss::peak_mib(pid));
        }
        if count >= total {
            break now;
        }
        anyhow::ensure!(
            now < deadline,
            "only {count} of {total} deliveries committed in {:?}",
            now - spawned
        );
        tokio::time::sleep(POLL).await;
    };
    let applied = (total - first.map_or(0, |(_, count)| count)).max(1) as u64;
    let worker_cpu_us = cpu
        .iter()
        .map(|reading| reading.per_operation(applied))
        .sum::<Option<f64>>();
    let [postgres_cpu_us, broker_cpu_us] =
        server_cpu.map(|reading| reading.and_then(|reading| reading.per_operation(applied)));
    let wal_bytes = match wal_at_first {
        Some(start) => client
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8",
                &[&start],
            )
            .await
            .ok()
            .map(|row| row.get::<_, f64>(0) / applied as f64),
        None => None,
    };
    stack.terminate_workers().await;
    let stored = stored(&client).await?;
    let throughput = match first {
        // Timed from the first commit, so start-up (connecting, checking
        // migrations) is not counted.
        Some((at, count)) if count < total && finished > at => {
            Throughput::new((total - count) as u64, 0, finished - at)
        }
        _ => Throughput::new(total as u64, 0, finished - spawned),
    };
    Ok(Drain {
        throughput,
        worker_cpu_us,
        postgres_cpu_us,
        broker_cpu_us,
        wal_bytes,
        stored,
        worker_peak_mib,
    })
}

async fn wal_lsn(client: &tokio_postgres::Client) -> anyhow::Result<String> {
    Ok(client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .context("reading the WAL position")?
        .get(0))
}

async fn stored(client: &tokio_postgres::Client) -> anyhow::Result<Stored> {
    let row = client
        .query_one(
            // Payloads live in `delivery_payloads` (V18), partitioned by
            // month: a parent's own size is zero, so its partitions are
            // summed. An lz4 payload's first four bytes are its JSON's
            // length (little-endian).
            "SELECT coalesce(avg(CASE WHEN p.encoding = 'lz4'
                                      THEN get_byte(p.payload, 0) + get_byte(p.payload, 1) * 256
                                         + get_byte(p.payload, 2) * 65536
                                         + get_byte(p.payload, 3)::bigint * 16777216
                                      ELSE octet_length(p.payload) END), 0)::float8,
                    coalesce(avg(pg_column_size(p.payload)), 0)::float8,
                    (pg_total_relation_size('deliveries')
                     + (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)
                        FROM pg_partition_tree('delivery_payloads')))::float8
                    / greatest((SELECT count(*) FROM deliveries), 1)
             FROM delivery_payloads p",
            &[],
        )
        .await
        .context("measuring the stored payloads")?;
    Ok(Stored {
        payload_raw_mean_bytes: row.get(0),
        payload_stored_mean_bytes: row.get(1),
        deliveries_table_bytes_per_delivery: row.get(2),
    })
}
