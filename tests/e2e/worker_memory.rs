//! A worker's memory is bounded in bytes: a burst of the largest
//! deliveries cannot push it past the limit deploy/k8s/worker.yaml gives
//! it (README.md, "Worker memory").

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker, direct, eventually,
};
use prpulse_queue::topology::SizeClass;

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

/// Both work queues full of the largest deliveries each may hold.
struct Burst {
    /// 20 MiB each, on the large queue.
    large: Vec<Delivery>,
    /// Just under the 1 MiB large-delivery size, on the work queue.
    standard: Vec<Delivery>,
}

impl Burst {
    fn new() -> Self {
        Self {
            large: (1..=20)
                .map(|n| large_delivery(n, 20 * MIB as usize))
                .collect(),
            standard: (101..=260)
                .map(|n| large_delivery(n, (MIB - 16 * 1024) as usize))
                .collect(),
        }
    }

    fn count(&self) -> usize {
        self.large.len() + self.standard.len()
    }

    fn bytes(&self) -> u64 {
        self.large
            .iter()
            .chain(&self.standard)
            .map(|delivery| delivery.body.len() as u64)
            .sum()
    }

    /// Straight onto the exchange of each delivery's class, where ingest
    /// would put them.
    async fn publish(&self, topology: &prpulse_queue::Topology) {
        for (class, deliveries) in [
            (SizeClass::Large, &self.large),
            (SizeClass::Standard, &self.standard),
        ] {
            assert!(deliveries.iter().all(|delivery| {
                topology.size_class(delivery.body.len(), delivery.body.len()) == class
            }));
            broker::publish_confirmed(
                &topology.exchange_for(class),
                "pull_request.opened",
                deliveries.iter().map(|delivery| {
                    (
                        delivery.body.clone(),
                        direct::envelope(delivery).to_properties(),
                    )
                }),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_burst_of_the_largest_deliveries_on_both_queues_stays_within_the_documented_memory_limit()
{
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
    let burst = Burst::new();
    burst.publish(&stack.topology).await;
    let (count, bytes) = (burst.count(), burst.bytes());
    let large_each = burst.large[0].body.len() as u64;
    let standard_each = burst.standard[0].body.len() as u64;
    let (large_count, standard_count) = (burst.large.len() as u32, burst.standard.len() as u32);
    drop(burst);
    let large_queue = stack.topology.work_queue_for(SizeClass::Large);
    let work_queue = stack.topology.work_queue();
    assert_eq!(broker::ready_messages(&large_queue).await, large_count);
    assert_eq!(broker::ready_messages(&work_queue).await, standard_count);

    // The worker as deployed (default budget and prefetch), except that
    // it waits on the lock above as long as it is held.
    stack.spawn_worker_with(&[
        ("PRPULSE_WORKER_LOCK_TIMEOUT_MS", "0"),
        ("RUST_LOG", "prpulse_worker=info"),
        ("PRPULSE_LOG_FORMAT", "json"),
    ]);
    let pid = stack.worker_pids()[0];
    // Hold the lock until the worker has taken every delivery the broker
    // may hand it from each queue (its prefetches, as it logged them) and
    // has most of their bytes in memory: the burst in hand at once.
    let baseline = memory_kib(pid, "VmRSS:") * 1024;
    let (standard_prefetch, large_prefetch) = logged_prefetches(&log).await;
    let large_in_hand = u32::try_from(large_prefetch).unwrap().min(large_count);
    let standard_in_hand = u32::try_from(standard_prefetch)
        .unwrap()
        .min(standard_count);
    let in_hand_bytes =
        u64::from(large_in_hand) * large_each + u64::from(standard_in_hand) * standard_each;
    eventually(
        "the worker taking its share of the burst from both queues",
        Duration::from_secs(90),
        async || {
            let large = broker::ready_messages(&large_queue).await;
            let standard = broker::ready_messages(&work_queue).await;
            let resident = memory_kib(pid, "VmRSS:") * 1024;
            if large <= large_count - large_in_hand
                && standard <= standard_count - standard_in_hand
                && resident >= baseline + in_hand_bytes * 4 / 5
            {
                Ok(())
            } else {
                Err(format!(
                    "{large} large and {standard} standard still ready, {} MiB resident",
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
    stack.wait_for_deliveries(count as i64).await;
    let took = started.elapsed();
    let peak = peak_resident_bytes(pid);
    eprintln!(
        "burst of {} MiB ({large_in_hand} large and {standard_in_hand} standard in hand, \
         {} MiB): worker peak resident {} MiB while the database waited, {} MiB in all \
         (limit {} MiB); all processed in {took:?} once it went on",
        bytes / MIB,
        in_hand_bytes / MIB,
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
    assert_eq!(stack.db.pr_metrics().await.len(), count);
    wait_until_empty(&large_queue).await;
    wait_until_empty(&work_queue).await;
    let _ = std::fs::remove_file(&log);
}

/// The prefetches the worker says it consumes the work queue and the
/// large queue with.
async fn logged_prefetches(log: &std::path::Path) -> (u64, u64) {
    eventually("the worker logging its prefetches", WITHIN, async || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == "consuming")
            .find_map(|line| Some((line["prefetch"].as_u64()?, line["large_prefetch"].as_u64()?)))
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
