//! Worker drain: a queue pre-filled with N deliveries, then real
//! prpulse-worker processes, timed from the first committed row to the
//! last.

use std::time::{Duration, Instant};

use anyhow::Context;
use prpulse_e2e::Stack;

use crate::{
    broker::{self, BenchPublisher},
    load::Throughput,
    rss,
    workload::Prepared,
};

pub struct Drain {
    pub throughput: Throughput,
    /// The largest `VmHWM` of the workers, MiB.
    pub worker_peak_mib: Option<f64>,
}

pub async fn drain(
    stack: &mut Stack,
    publisher: &BenchPublisher,
    deliveries: &[Prepared],
    workers: usize,
    in_flight: usize,
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    stack.terminate_workers().await;
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
        worker_peak_mib,
    })
}
