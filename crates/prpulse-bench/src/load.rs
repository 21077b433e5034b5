//! Two ways to apply load. Closed loop: a fixed number of operations in
//! flight, each starting when one ends (throughput). Open loop: operations
//! start at times fixed up-front, whatever happened to the ones before,
//! and each is timed from when it should have started, so a stall shows
//! up in every operation it delayed (no coordinated omission).

use std::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Throughput {
    pub completed: u64,
    pub failed: u64,
    pub seconds: f64,
    pub per_second: f64,
}

impl Throughput {
    pub fn new(completed: u64, failed: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Self {
            completed,
            failed,
            seconds,
            per_second: completed as f64 / seconds.max(f64::EPSILON),
        }
    }
}

/// Runs `op(i)` with `in_flight` at a time until `duration` has passed;
/// `op` says whether it succeeded.
pub async fn closed_loop<F, Fut>(in_flight: usize, duration: Duration, op: F) -> Throughput
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool>,
{
    let next = AtomicU64::new(0);
    let completed = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + duration;
    futures_util::future::join_all((0..in_flight.max(1)).map(|_| async {
        while Instant::now() < deadline {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let counter = if op(i).await { &completed } else { &failed };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }))
    .await;
    Throughput::new(
        completed.into_inner(),
        failed.into_inner(),
        started.elapsed(),
    )
}

/// When operation `i` of an open loop is due.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub start: Instant,
    pub rate: u32,
}

impl Schedule {
    pub fn at(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / f64::from(self.rate.max(1)))
    }
}

/// Latencies in microseconds, and how many operations failed.
pub struct Latencies {
    pub histogram: Histogram<u64>,
    pub failed: u64,
}

impl Latencies {
    pub fn new() -> Self {
        Self {
            // 1 µs to 10 min, 3 significant digits.
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            failed: 0,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    /// The latency at `quantile` (0.99 = p99), in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

/// How many operations an open loop at `rate` per second starts in
/// `duration`.
pub fn open_loop_count(rate: u32, duration: Duration) -> u64 {
    (f64::from(rate) * duration.as_secs_f64()).round().max(1.0) as u64
}

/// Starts `count` operations `op(i)` at `rate` per second, each on a task
/// of its own, and times each from its scheduled start to its end.
pub async fn open_loop<F, Fut>(rate: u32, count: u64, op: F) -> (Schedule, Latencies, Vec<bool>)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let schedule = Schedule {
        start: Instant::now() + Duration::from_millis(20),
        rate,
    };
    let mut tasks = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for i in 0..count {
        let at = schedule.at(i);
        tokio::time::sleep_until(at.into()).await;
        let operation = op(i);
        tasks.push(tokio::spawn(async move {
            let ok = operation.await;
            (ok, at.elapsed())
        }));
    }
    let mut latencies = Latencies::new();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (ok, took) = task.await.unwrap_or((false, Duration::ZERO));
        if ok {
            latencies.record(took);
        } else {
            latencies.failed += 1;
        }
        outcomes.push(ok);
    }
    (schedule, latencies, outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_open_loop_times_from_the_schedule() {
        // Every operation takes 5 ms: none may be timed shorter.
        let (_, latencies, outcomes) = open_loop(200, 10, |_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            true
        })
        .await;
        assert_eq!(outcomes.len(), 10);
        assert!(latencies.ms(0.0) >= 5.0);
    }

    #[tokio::test]
    async fn a_closed_loop_counts_failures_apart() {
        let throughput = closed_loop(4, Duration::from_millis(20), |i| async move {
            tokio::task::yield_now().await;
            i % 2 == 0
        })
        .await;
        assert!(throughput.completed > 0 && throughput.failed > 0);
    }
}
