//! A worker's memory is bounded in bytes: a burst of the largest
//! deliveries cannot push it past the limit deploy/k8s/worker.yaml gives
//! it (README.md, "Worker memory").

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker, direct, eventually,
};

const MIB: u64 = 1024 * 1024;
/// The worker's memory limit in deploy/k8s/worker.yaml, which the default
/// byte budget is sized for.
const DOCUMENTED_LIMIT: u64 = 640 * MIB;

/// A `pull_request` delivery of about `size` bytes: GitHub sends up to
/// 25 MB, most of it in fields prpulse does not read.
fn large_delivery(number: i64, size: usize) -> Delivery {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let delivery =
        PullRequestBuilder::new(&Repo::new(10, "acme/api"), number, &author, created).opened();
    let mut payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    let text: String = "a pull request description, and more of it; "
        .chars()
        .cycle()
        .take(size)
        .collect();
    payload["pull_request"]["body"] = serde_json::Value::String(text);
    Delivery {
        body: serde_json::to_vec(&payload).unwrap(),
        ..delivery
    }
}

/// `VmHWM` of process `pid`: the most memory it ever had resident.
fn peak_resident_bytes(pid: u32) -> u64 {
    memory_kib(pid, "VmHWM:") * 1024
}

/// A line of `/proc/<pid>/status`, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("reading the worker's /proc status (Linux only)")
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
}

#[tokio::test]
async fn a_burst_of_20_mib_deliveries_stays_within_the_documented_memory_limit() {
    let log = std::env::temp_dir().join(format!(
        "prpulse-worker-memory-{}.log",
        prpulse_e2e::unique_suffix()
    ));
    let mut stack = Stack::start_with(StackOptions {
        log_file: Some(log.clone()),
        ..StackOptions::ingest_only()
    })
    .await;
    // Every write of a pull request waits for a lock the test holds, so
    // the worker takes all the broker will give it before it can finish
    // (and ack) any: the worst case, where a slow database meets a burst.
    let holder = stack.db.client().await;
    holder
        .batch_execute(
            "SELECT pg_advisory_lock(4213);
             CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 PERFORM pg_advisory_xact_lock_shared(4213);
                 RETURN NEW;
             END $$;
             CREATE TRIGGER wait_for_the_test BEFORE INSERT ON pull_requests
                 FOR EACH ROW EXECUTE FUNCTION wait_for_the_test();",
        )
        .await
        .unwrap();
    let deliveries: Vec<Delivery> = (1..=20)
        .map(|n| large_delivery(n, 20 * MIB as usize))
        .collect();
    // Straight onto the exchange, as ingest would put them: the burst is
    // all on the work queue before the worker starts.
    broker::publish_confirmed(
        &stack.topology.exchange(),
        "pull_request.opened",
        deliveries.iter().map(|delivery| {
            (
                delivery.body.clone(),
                direct::envelope(delivery).to_properties(),
            )
        }),
    )
    .await;
    let deliveries_len: Vec<u64> = deliveries.iter().map(|d| d.body.len() as u64).collect();
    let burst: u64 = deliveries_len.iter().sum();
    drop(deliveries);
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        20
    );

    // The worker as deployed (default budget and prefetch), except that
    // it waits on the lock above as long as it is held.
    stack.spawn_worker_with(&[
        ("PRPULSE_WORKER_LOCK_TIMEOUT_MS", "0"),
        ("RUST_LOG", "prpulse_worker=info"),
        ("PRPULSE_LOG_FORMAT", "json"),
    ]);
    let pid = stack.worker_pids()[0];
    // Hold the lock until the worker has taken every delivery the broker
    // may hand it (its prefetch, as it logged it) and has most of their
    // bytes in memory: the burst in hand at once.
    let baseline = memory_kib(pid, "VmRSS:") * 1024;
    let in_hand = logged_prefetch(&log).await.min(20);
    let smallest = deliveries_len.iter().copied().min().unwrap_or_default();
    eventually(
        "the worker taking its share of the burst",
        Duration::from_secs(60),
        async || {
            let ready = broker::ready_messages(&stack.topology.work_queue()).await;
            let resident = memory_kib(pid, "VmRSS:") * 1024;
            if ready <= 20 - in_hand as u32 && resident >= baseline + in_hand * smallest * 4 / 5 {
                Ok(())
            } else {
                Err(format!(
                    "{ready} still ready, {} MiB resident",
                    resident / MIB
                ))
            }
        },
    )
    .await;
    let held = peak_resident_bytes(pid);
    holder
        .batch_execute("SELECT pg_advisory_unlock(4213)")
        .await
        .unwrap();
    let started = Instant::now();
    stack.wait_for_deliveries(20).await;
    let took = started.elapsed();
    let peak = peak_resident_bytes(pid);
    eprintln!(
        "burst of {} MiB: worker peak resident {} MiB while the database waited, {} MiB in all \
         (limit {} MiB); all processed in {took:?} once it went on",
        burst / MIB,
        held / MIB,
        peak / MIB,
        DOCUMENTED_LIMIT / MIB
    );
    assert!(
        peak < DOCUMENTED_LIMIT,
        "the worker peaked at {} MiB, over the documented {} MiB",
        peak / MIB,
        DOCUMENTED_LIMIT / MIB
    );
    assert_eq!(stack.db.pr_metrics().await.len(), 20);
    wait_until_empty(&stack.topology.work_queue()).await;
    let _ = std::fs::remove_file(&log);
}

/// The prefetch the worker says it consumes with.
async fn logged_prefetch(log: &std::path::Path) -> u64 {
    eventually("the worker logging its prefetch", WITHIN, async || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == "consuming")
            .find_map(|line| line["prefetch"].as_u64())
    })
    .await
}

async fn wait_until_empty(queue: &str) {
    eventually(&format!("{queue} empty"), WITHIN, async || {
        broker::ready_messages(queue).await == 0
    })
    .await;
}

const WITHIN: Duration = Duration::from_secs(30);
