//! End-to-end latency: deliveries posted to ingest at a fixed rate while
//! workers run, each timed from its scheduled send to the moment its
//! `deliveries` row became visible (committed).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use prpulse_testkit::Stack;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    broker,
    ingest::IngestClient,
    load::{Latencies, open_loop},
    rss,
    workload::Prepared,
};

/// How often committed rows are looked for: the resolution of the
/// end-to-end figures.
pub const POLL: Duration = Duration::from_millis(5);

pub struct EndToEnd {
    /// Scheduled send → 202 from ingest.
    pub ingest: Latencies,
    /// Scheduled send → row committed.
    pub committed: Latencies,
    /// Accepted deliveries whose row never appeared.
    pub missing: u64,
    pub worker_peak_mib: Option<f64>,
}

pub async fn end_to_end(
    stack: &mut Stack,
    client: &IngestClient,
    deliveries: &[Prepared],
    workers: usize,
    rate: u32,
    count: u64,
) -> anyhow::Result<EndToEnd> {
    stack.db.reset_projection().await;
    broker::purge(stack.amqp_url(), &stack.topology.work_queue()).await?;
    for _ in 0..workers {
        stack.spawn_worker();
    }
    let watcher = Watcher::start(stack).await?;
    // Warm up: the workers are consuming once these are committed.
    let warm_up: Vec<String> = (0..workers * 4).map(|_| fresh_id()).collect();
    for (i, id) in warm_up.iter().enumerate() {
        anyhow::ensure!(
            client.post(&deliveries[i % deliveries.len()], id).await,
            "ingest refused a warm-up delivery"
        );
    }
    watcher
        .wait_for(&warm_up, Duration::from_secs(60))
        .await
        .context("the workers did not start")?;

    let ids: Vec<String> = (0..count).map(|_| fresh_id()).collect();
    let (schedule, ingest, outcomes) = open_loop(rate, count, |i| {
        let client = client.clone();
        let delivery = deliveries[i as usize % deliveries.len()].clone();
        let id = ids[i as usize].clone();
        async move { client.post(&delivery, &id).await }
    })
    .await;
    let accepted: Vec<String> = ids
        .iter()
        .zip(&outcomes)
        .filter(|(_, ok)| **ok)
        .map(|(id, _)| id.clone())
        .collect();
    let _ = watcher.wait_for(&accepted, Duration::from_secs(60)).await;
    let mut worker_peak_mib: Option<f64> = None;
    for pid in stack.worker_pids() {
        worker_peak_mib = rss::larger(worker_peak_mib, rss::peak_mib(pid));
    }
    let seen = watcher.stop().await?;
    stack.terminate_workers().await;

    let mut committed = Latencies::new();
    let mut missing = 0;
    for (i, (id, ok)) in ids.iter().zip(&outcomes).enumerate() {
        if !ok {
            continue;
        }
        match seen.get(id) {
            Some(at) => committed.record(at.saturating_duration_since(schedule.at(i as u64))),
            None => missing += 1,
        }
    }
    Ok(EndToEnd {
        ingest,
        committed,
        missing,
        worker_peak_mib,
    })
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Notes when each delivery's row first became visible. Rows are found by
/// the id of the transaction that wrote them: every transaction older than
/// the previous poll's snapshot horizon was finished then, so only rows of
/// newer ones need reading again, and each poll stays small.
struct Watcher {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Watcher {
    async fn start(stack: &Stack) -> anyhow::Result<Self> {
        let client = stack.db.client().await;
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let seen = seen.clone();
            let stop = stop.clone();
            async move {
                let poll = client
                    .prepare(
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296,
                                ARRAY(SELECT delivery_id FROM deliveries
                                      WHERE xmin::text::bigint >= $1)",
                    )
                    .await?;
                let mut horizon = 0i64;
                while !stop.is_cancelled() {
                    let row = client.query_one(&poll, &[&horizon]).await?;
                    let now = Instant::now();
                    horizon = row.get(0);
                    let ids: Vec<String> = row.get(1);
                    {
                        let mut seen = seen.lock().expect("not poisoned");
                        for id in ids {
                            seen.entry(id).or_insert(now);
                        }
                    }
                    tokio::time::sleep(POLL).await;
                }
                Ok(())
            }
        });
        Ok(Self { seen, stop, task })
    }

    async fn wait_for(&self, ids: &[String], timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let missing = {
                let seen = self.seen.lock().expect("not poisoned");
                ids.iter().filter(|id| !seen.contains_key(*id)).count()
            };
            if missing == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{missing} of {} deliveries not committed within {timeout:?}",
                ids.len()
            );
            anyhow::ensure!(!self.task.is_finished(), "the commit watcher stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> anyhow::Result<HashMap<String, Instant>> {
        self.stop.cancel();
        self.task.await??;
        Ok(Arc::try_unwrap(self.seen)
            .map(|seen| seen.into_inner().expect("not poisoned"))
            .unwrap_or_default())
    }
}
