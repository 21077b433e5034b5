//! The fault suite: streams of deliveries (real-fixture-shaped, with
//! duplicates, shuffled) while workers are killed, the broker link and the
//! database go away and come back. Each scenario asserts the invariant:
//! every delivery that got 202 is processed or dead-lettered, nothing
//! else is, and the rows equal those of a clean run.
//!
//! Faults touch only what the suite owns: worker processes, TCP proxies in
//! front of the machine's services, and a private Postgres cluster. The
//! machine's Postgres and RabbitMQ are never stopped.
//!
//! `PRPULSE_FAULT_PULL_REQUESTS` (default 250, about 1,500 deliveries per
//! scenario) scales the streams up for longer runs.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, TestDb, broker, direct,
    eventually, private_postgres::PrivatePostgres, proxy::FaultProxy,
};
use prpulse_queue::dead_letters::DeadLetterQueue;
use rand::{Rng, seq::SliceRandom};

const POSTGRES: &str = "127.0.0.1:5432";
const RABBITMQ: &str = "127.0.0.1:5672";

/// The pull-request histories of one scenario, posted in shuffled order
/// with a fifth of them posted twice.
struct DeliveryStream {
    deliveries: Vec<Delivery>,
    distinct: Vec<Delivery>,
}

fn delivery_stream() -> DeliveryStream {
    let pull_requests: i64 = std::env::var("PRPULSE_FAULT_PULL_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(250);
    let people = [
        Person::user(1, "ada"),
        Person::user(2, "grace"),
        Person::user(3, "linus"),
        Person::bot(4, "renovate[bot]"),
    ];
    let repos = [Repo::new(10, "acme/api"), Repo::new(11, "acme/web")];
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let minutes = |m: i64| chrono::Duration::minutes(m);
    let mut distinct = Vec::new();
    for number in 1..=pull_requests {
        let author = &people[(number % 4) as usize];
        let reviewer = &people[((number + 1) % 3) as usize];
        let created = start + minutes(number * 7);
        let pr = PullRequestBuilder::new(&repos[(number % 2) as usize], number, author, created);
        let pr = if number % 5 == 0 { pr.draft() } else { pr };
        distinct.push(pr.opened());
        if number % 5 == 0 {
            distinct.push(pr.ready_for_review(created + minutes(30)));
        }
        distinct.push(pr.review(
            number * 10,
            reviewer,
            "changes_requested",
            created + minutes(45),
        ));
        distinct.push(pr.synchronize(created + minutes(60)));
        distinct.push(pr.review(number * 10 + 1, reviewer, "approved", created + minutes(90)));
        match number % 4 {
            0 => {}
            1 => distinct.push(pr.closed(created + minutes(120))),
            _ => distinct.push(pr.merged(created + minutes(120), reviewer)),
        }
    }
    let mut rng = rand::rng();
    let mut deliveries = distinct.clone();
    for _ in 0..distinct.len() / 5 {
        deliveries.push(distinct[rng.random_range(0..distinct.len())].clone());
    }
    deliveries.shuffle(&mut rng);
    DeliveryStream {
        deliveries,
        distinct,
    }
}

/// What a scenario did, for the report.
#[derive(Debug, Default)]
struct Tally {
    posted: AtomicUsize,
    unavailable: AtomicUsize,
    faults: AtomicUsize,
}

/// Posts every delivery, 8 at a time. A 503 is what GitHub would see; the
/// delivery is then sent again (GitHub's redelivery) until it gets 202.
/// Returns the ids that got 202.
async fn post_all(stack: &Stack, deliveries: &[Delivery], tally: &Tally) -> HashSet<String> {
    let accepted = Mutex::new(HashSet::new());
    futures_util::stream::iter(deliveries)
        .for_each_concurrent(8, |delivery| async {
            eventually(
                "a 202 (503s for two minutes)",
                Duration::from_secs(120),
                async || {
                    tally.posted.fetch_add(1, Ordering::Relaxed);
                    match stack.deliver(delivery).await.status().as_u16() {
                        202 => Ok(()),
                        503 => {
                            tally.unavailable.fetch_add(1, Ordering::Relaxed);
                            Err(503)
                        }
                        other => panic!("{other} for delivery {}", delivery.id),
                    }
                },
            )
            .await;
            accepted.lock().unwrap().insert(delivery.id.clone());
        })
        .await;
    accepted.into_inner().unwrap()
}

async fn processed_ids(db: &TestDb) -> HashSet<String> {
    try_processed_ids(db)
        .await
        .expect("the database answers once the faults are over")
}

/// `None` while the database is away (a scenario may have stopped it).
async fn try_processed_ids(db: &TestDb) -> Option<HashSet<String>> {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let rows = client
        .query("SELECT delivery_id FROM deliveries", &[])
        .await
        .ok()?;
    Some(rows.iter().map(|row| row.get(0)).collect())
}

async fn dead_ids(stack: &Stack) -> HashSet<String> {
    let queue = DeadLetterQueue::open(&broker::amqp_url(), &stack.topology, Duration::from_secs(5))
        .await
        .unwrap();
    let ids = queue
        .list(100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|letter| letter.delivery_id)
        .collect();
    queue.close().await;
    ids
}

/// Waits until every accepted delivery is processed or dead-lettered, and
/// checks that nothing else is. A duplicate may be dead-lettered twice
/// (harmless: replay is idempotent), so dead letters count by id.
async fn assert_settled(stack: &Stack, accepted: &HashSet<String>, expect_dead: usize) {
    let (processed, dead, settled) = eventually(
        "every accepted delivery settled",
        SETTLE_WITHIN,
        async || {
            let processed = processed_ids(&stack.db).await;
            let dead = dead_ids(stack).await;
            let settled: HashSet<String> = processed.union(&dead).cloned().collect();
            if settled.len() >= accepted.len() {
                Ok((processed, dead, settled))
            } else {
                Err(format!(
                    "{} processed + {} dead of {} accepted",
                    processed.len(),
                    dead.len(),
                    accepted.len()
                ))
            }
        },
    )
    .await;
    assert_eq!(dead.len(), expect_dead, "dead letters");
    assert_eq!(
        processed.len() + dead.len(),
        settled.len(),
        "processed and dead-lettered"
    );
    assert_eq!(&settled, accepted, "accepted = processed ∪ dead-lettered");
}

/// How long the workers may take to catch up once a stream is posted.
const SETTLE_WITHIN: Duration = Duration::from_secs(180);

/// The rows a clean run gives: each distinct delivery processed once, in
/// order, by the worker's own step, with no broker and no fault.
async fn clean_rows(distinct: &[Delivery]) -> Vec<serde_json::Value> {
    let db = TestDb::create().await;
    let processor = direct::processor(&db);
    for delivery in distinct {
        direct::apply(&processor, delivery).await;
    }
    db.pr_metrics().await
}

/// Runs `faults` until the stream is posted and settled, then checks the
/// rows against a clean run.
async fn run_scenario<F>(name: &str, stack: &Stack, expect_dead: usize, faults: F)
where
    F: AsyncFnOnce(&AtomicBool, &Tally),
{
    let stream = delivery_stream();
    let tally = Tally::default();
    let done = AtomicBool::new(false);
    let accepted = tokio::join!(
        async {
            let accepted = post_all(stack, &stream.deliveries, &tally).await;
            // Faults go on while the workers catch up.
            eventually(
                "the stream settling under faults",
                SETTLE_WITHIN,
                async || {
                    let processed = try_processed_ids(&stack.db).await.map(|ids| ids.len());
                    let dead = broker::ready_messages(&stack.topology.dead_queue()).await as usize;
                    if processed.is_some_and(|processed| processed + dead >= accepted.len()) {
                        Ok(())
                    } else {
                        // Ready work says whether deliveries wait for a
                        // worker that stopped taking them or were lost.
                        let waiting = broker::ready_messages(&stack.topology.work_queue()).await;
                        Err(format!(
                            "{processed:?} processed + {dead} dead of {} accepted; {waiting} ready in the work queue",
                            accepted.len()
                        ))
                    }
                },
            )
            .await;
            done.store(true, Ordering::Relaxed);
            accepted
        },
        faults(&done, &tally),
    )
    .0;
    assert_settled(stack, &accepted, expect_dead).await;
    if expect_dead == 0 {
        assert_eq!(
            stack.db.pr_metrics().await,
            clean_rows(&stream.distinct).await
        );
    }
    eprintln!(
        "fault scenario {name}: {} deliveries ({} distinct, {} duplicates), {} posts, {} answered 503, {} faults, {} dead-lettered",
        stream.deliveries.len(),
        stream.distinct.len(),
        stream.deliveries.len() - stream.distinct.len(),
        tally.posted.load(Ordering::Relaxed),
        tally.unavailable.load(Ordering::Relaxed),
        tally.faults.load(Ordering::Relaxed),
        expect_dead,
    );
}

/// Cuts the proxy for `down`, restores it for `up`, until `done`. The
/// first cut comes early, while deliveries are still being posted.
async fn flap(proxy: &FaultProxy, done: &AtomicBool, tally: &Tally, down: Duration, up: Duration) {
    let mut wait = Duration::from_millis(150);
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(wait).await;
        wait = up;
        if done.load(Ordering::Relaxed) {
            break;
        }
        proxy.cut();
        tally.faults.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(down).await;
        proxy.restore();
    }
    proxy.restore();
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_repeatedly_lose_nothing_and_apply_nothing_twice() {
    let stack = Stack::start_with(StackOptions {
        // Kills count as deliveries too; the production limit, not the
        // test stacks' low one, is what a crash-prone fleet would run with.
        delivery_limit: 20,
        ..StackOptions::ingest_only()
    })
    .await;
    run_scenario("workers killed", &stack, 0, async |done, tally| {
        let mut workers = vec![
            stack.worker_command().spawn().unwrap(),
            stack.worker_command().spawn().unwrap(),
        ];
        let mut victim = 0;
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(600)).await;
            workers[victim].start_kill().unwrap();
            let _ = workers[victim].wait().await;
            tally.faults.fetch_add(1, Ordering::Relaxed);
            workers[victim] = stack.worker_command().spawn().unwrap();
            victim = 1 - victim;
        }
        // Every delivery is settled by now (that is what `done` says); a
        // duplicate still held goes back to the queue, harmlessly.
        for mut worker in workers {
            let _ = worker.start_kill();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_going_away_means_503_never_a_lost_202() {
    let proxy = FaultProxy::start(addr(RABBITMQ)).await;
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        amqp_url: Some(format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port())),
        ..StackOptions::default()
    })
    .await;
    run_scenario("broker link cut", &stack, 0, async |done, tally| {
        flap(
            &proxy,
            done,
            tally,
            Duration::from_millis(1500),
            Duration::from_secs(3),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_holds_deliveries_and_dead_letters_none() {
    let postgres = Arc::new(
        tokio::task::spawn_blocking(PrivatePostgres::start)
            .await
            .unwrap(),
    );
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        admin_database_url: Some(postgres.url("postgres")),
        ..StackOptions::default()
    })
    .await;
    run_scenario("postgres restarted", &stack, 0, async |done, tally| {
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            if done.load(Ordering::Relaxed) {
                break;
            }
            let cluster = postgres.clone();
            tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .unwrap();
            tally.faults.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2000)).await;
            let cluster = postgres.clone();
            tokio::task::spawn_blocking(move || cluster.start_again())
                .await
                .unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_link_cut_and_restored_loses_nothing() {
    let proxy = FaultProxy::start(addr(POSTGRES)).await;
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        database_port_for_binaries: Some(proxy.port()),
        ..StackOptions::default()
    })
    .await;
    run_scenario("postgres link cut", &stack, 0, async |done, tally| {
        flap(
            &proxy,
            done,
            tally,
            Duration::from_millis(1500),
            Duration::from_secs(3),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_in_the_stream_is_dead_lettered_and_replayed_once_fixed() {
    let stack = Stack::start().await;
    // Every write of pull request #7 fails as a serialization failure: a
    // transient error that never clears until an operator fixes it.
    stack
        .db
        .inject_pull_request_fault(7, "", "RAISE EXCEPTION 'poison' USING ERRCODE = '40001';")
        .await;
    let stream = delivery_stream();
    let poisoned: HashSet<String> = stream
        .distinct
        .iter()
        .filter(|delivery| {
            let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
            body["pull_request"]["number"] == 7
        })
        .map(|delivery| delivery.id.clone())
        .collect();
    let tally = Tally::default();
    let accepted = post_all(&stack, &stream.deliveries, &tally).await;
    assert_settled(&stack, &accepted, poisoned.len()).await;
    assert_eq!(dead_ids(&stack).await, poisoned);

    stack.db.clear_pull_request_fault().await;
    let replay = stack.cli(&["dlq", "replay", "--all"]).await;
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    stack.wait_for_deliveries(accepted.len() as i64).await;
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );
    assert_eq!(
        stack.db.pr_metrics().await,
        clean_rows(&stream.distinct).await
    );
    eprintln!(
        "fault scenario poison: {} deliveries ({} distinct), {} poisoned, dead-lettered and replayed",
        stream.deliveries.len(),
        stream.distinct.len(),
        poisoned.len()
    );
}
