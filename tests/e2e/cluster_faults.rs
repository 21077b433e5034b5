//! RabbitMQ nodes lost under a stream of deliveries: a private three-node
//! cluster (quorum queues over three members, prpulse given every node's
//! URL) loses its work queue's leader, a follower, every node in turn, and
//! raises memory and disk alarms; a private single node stops and starts
//! its application. One ingest and two workers live through all of it.
//!
//! Per scenario the test prints what the report gives: deliveries sent,
//! answered 202, answered 503, lost, applied twice, and the time to
//! recover (from the fault, or from its end for alarms and a stopped
//! application, until a delivery posted after it was answered 202 and
//! recorded). It asserts nothing answered 202 is lost, nothing is applied
//! twice, every 503 came within GitHub's 10 s, and the rows equal a clean
//! run's.
//!
//! `PRPULSE_FAULT_PULL_REQUESTS` (default 24, about 170 deliveries per
//! scenario) scales the streams; 400 gives thousands.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use prpulse_e2e::{
    Delivery, Repo, Stack, StackOptions, TestDb, broker, direct,
    fault_stream::{
        APPLICATION_AUDIT, DeliveryStream, Figures, Probes, Tally, applied_twice, missing_after,
        pull_requests_per_scenario,
    },
    rabbit_cluster::RabbitCluster,
};

/// Posts at once; each lane paces itself so a stream lasts about
/// [`STREAM_SECONDS`] and runs through the fault.
const LANES: usize = 4;
const STREAM_SECONDS: u64 = 4;
/// GitHub gives up on a delivery after 10 s; ingest's 503 must come first.
const GITHUB_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `op` on the cluster off the async threads (the harness blocks).
async fn on<T: Send + 'static>(
    cluster: &Arc<RabbitCluster>,
    op: impl FnOnce(&RabbitCluster) -> T + Send + 'static,
) -> T {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || op(&cluster))
        .await
        .unwrap()
}

struct Run<'a> {
    stack: &'a Stack,
    probes: Probes,
    /// Every distinct delivery posted so far, for the clean run.
    distinct: Vec<Delivery>,
    figures: Vec<Figures>,
}

impl<'a> Run<'a> {
    async fn start(stack: &'a Stack) -> Self {
        stack
            .db
            .client()
            .await
            .batch_execute(APPLICATION_AUDIT)
            .await
            .unwrap();
        Self {
            stack,
            probes: Probes::new(Repo::new(90, "acme/probes")),
            distinct: Vec::new(),
            figures: Vec::new(),
        }
    }

    /// Posts a stream of `repo`'s deliveries and, once a third of it is
    /// accepted, runs `fault`, which returns the time to recover.
    async fn scenario<F>(&mut self, name: &'static str, repo: Repo, fault: F)
    where
        F: AsyncFnOnce(&Tally, &mut Probes) -> Duration,
    {
        let stream = DeliveryStream::new(&repo, pull_requests_per_scenario(24));
        let tally = Tally::default();
        let pace = Duration::from_secs(STREAM_SECONDS) * LANES as u32
            / stream.deliveries.len().max(1) as u32;
        let third = stream.deliveries.len() / 3;
        let probes = &mut self.probes;
        let stack = self.stack;
        let ((), time_to_recover) = tokio::join!(
            tally.post_paced(stack, &stream.deliveries, LANES, pace),
            async {
                let deadline = Instant::now() + Duration::from_secs(60);
                while tally.accepted.load(Ordering::Relaxed) < third {
                    assert!(
                        Instant::now() < deadline,
                        "{name}: the stream did not start"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                fault(&tally, probes).await
            }
        );
        let accepted = tally.accepted_ids();
        let lost = missing_after(&stack.db.url, &accepted, Duration::from_secs(120)).await;
        let twice = applied_twice(&stack.db.client().await, &accepted).await;
        let figures = Figures::of(name, &tally, lost.len(), twice, time_to_recover);
        eprintln!("{figures}");
        assert!(lost.is_empty(), "{figures}; lost: {lost:?}");
        assert_eq!(twice, 0, "{figures}");
        assert!(
            figures.slowest_unavailable < GITHUB_TIMEOUT,
            "{figures}: a 503 took longer than GitHub waits"
        );
        self.distinct.extend(stream.distinct);
        self.figures.push(figures);
    }

    /// Every refused probe comes again and is recorded, the dead-letter
    /// queue is empty, and the rows equal a clean run's.
    async fn finish(mut self) {
        let redelivered = self
            .probes
            .redeliver_refused(self.stack, &Tally::default())
            .await;
        let lost = missing_after(&self.stack.db.url, &redelivered, Duration::from_secs(120)).await;
        assert!(lost.is_empty(), "redelivered probes lost: {lost:?}");
        assert_eq!(
            broker::ready_messages_at(self.stack.amqp_url(), &self.stack.topology.dead_queue())
                .await,
            0,
            "dead letters"
        );
        let clean = TestDb::create().await;
        let processor = direct::processor(&clean);
        for delivery in self.distinct.iter().chain(&self.probes.made) {
            direct::apply(&processor, delivery).await;
        }
        assert_eq!(self.stack.db.pr_metrics().await, clean.pr_metrics().await);
        for figures in &self.figures {
            eprintln!("{figures}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_loses_nodes_and_raises_alarms_without_losing_a_delivery() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(|| RabbitCluster::start(3))
            .await
            .unwrap(),
    );
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        amqp_url: Some(cluster.amqp_urls()),
        // Lost consumers count as deliveries too: the production limit.
        delivery_limit: 20,
        ..StackOptions::default()
    })
    .await;
    let work_queue = stack.topology.work_queue();
    let database_url = stack.db.url.clone();
    let mut run = Run::start(&stack).await;

    let (queue, c) = (work_queue.clone(), cluster.clone());
    let url = database_url.clone();
    run.scenario(
        "kill -9 of the work queue's leader",
        Repo::new(21, "acme/leader"),
        async |tally, probes| {
            let queue = queue.clone();
            let leader = on(&c, move |cluster| cluster.leader_of(&queue, 0)).await;
            let killed = Instant::now();
            on(&c, move |cluster| cluster.kill(leader)).await;
            let recovered = probes.time_to_recover(&stack, &url, tally, killed).await;
            on(&c, move |cluster| cluster.restart(leader)).await;
            recovered
        },
    )
    .await;

    let (queue, c) = (work_queue.clone(), cluster.clone());
    let url = database_url.clone();
    run.scenario(
        "kill -9 of a follower",
        Repo::new(22, "acme/follower"),
        async |tally, probes| {
            let queue = queue.clone();
            let leader = on(&c, move |cluster| cluster.leader_of(&queue, 0)).await;
            let follower = (leader + 1) % 3;
            on(&c, move |cluster| cluster.wait_until_safe_to_stop(follower)).await;
            let killed = Instant::now();
            on(&c, move |cluster| cluster.kill(follower)).await;
            let recovered = probes.time_to_recover(&stack, &url, tally, killed).await;
            on(&c, move |cluster| cluster.restart(follower)).await;
            recovered
        },
    )
    .await;

    let c = cluster.clone();
    let url = database_url.clone();
    run.scenario(
        "rolling restart of all three",
        Repo::new(23, "acme/rolling"),
        async |tally, probes| {
            // The longest any node's restart kept deliveries from flowing.
            let mut slowest = Duration::ZERO;
            for node in 0..3 {
                on(&c, move |cluster| cluster.wait_until_safe_to_stop(node)).await;
                let stopped = Instant::now();
                on(&c, move |cluster| cluster.stop(node)).await;
                slowest = slowest.max(probes.time_to_recover(&stack, &url, tally, stopped).await);
                on(&c, move |cluster| cluster.restart(node)).await;
            }
            slowest
        },
    )
    .await;

    let c = cluster.clone();
    let url = database_url.clone();
    run.scenario(
        "memory alarm",
        Repo::new(24, "acme/memory"),
        async |tally, probes| {
            on(&c, |cluster| cluster.wait_until_safe_to_stop(0)).await;
            on(&c, |cluster| {
                cluster.ctl_all(&["set_vm_memory_high_watermark", "0.0001"]);
            })
            .await;
            probes.until_refused(&stack, tally, "memory alarm").await;
            on(&c, |cluster| {
                cluster.ctl_all(&["set_vm_memory_high_watermark", "0.4"]);
            })
            .await;
            let cleared = Instant::now();
            probes.time_to_recover(&stack, &url, tally, cleared).await
        },
    )
    .await;

    let c = cluster.clone();
    let url = database_url.clone();
    run.scenario(
        "disk alarm",
        Repo::new(25, "acme/disk"),
        async |tally, probes| {
            // More free disk than any machine has.
            on(&c, |cluster| {
                cluster.ctl_all(&["set_disk_free_limit", "1000000000000000"]);
            })
            .await;
            probes.until_refused(&stack, tally, "disk alarm").await;
            on(&c, |cluster| {
                cluster.ctl_all(&["set_disk_free_limit", "50MB"])
            })
            .await;
            let cleared = Instant::now();
            probes.time_to_recover(&stack, &url, tally, cleared).await
        },
    )
    .await;

    run.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_stopping_its_application_holds_deliveries_until_it_starts() {
    let node = Arc::new(
        tokio::task::spawn_blocking(|| RabbitCluster::start(1))
            .await
            .unwrap(),
    );
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        amqp_url: Some(node.amqp_urls()),
        delivery_limit: 20,
        ..StackOptions::default()
    })
    .await;
    let url = stack.db.url.clone();
    let mut run = Run::start(&stack).await;
    let c = node.clone();
    run.scenario(
        "stop_app and start_app of a single node",
        Repo::new(26, "acme/single"),
        async |tally, probes| {
            on(&c, |node| node.ctl(0, &["stop_app"])).await;
            probes
                .until_refused(&stack, tally, "stopped application")
                .await;
            on(&c, |node| node.ctl(0, &["start_app"])).await;
            let started = Instant::now();
            probes.time_to_recover(&stack, &url, tally, started).await
        },
    )
    .await;
    run.finish().await;
}
