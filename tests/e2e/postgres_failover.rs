//! The Postgres primary lost under a stream of deliveries: a private
//! primary with a streaming hot standby (`pg_basebackup -R`); every prpulse
//! process is given both hosts with `target_session_attrs=read-write`.
//! Mid-stream the standby is promoted, the old primary keeps running for a
//! moment (a failover manager that promotes before it fences), then stops.
//!
//! With synchronous replication a commit on the old primary waits for the
//! standby, which left at promotion: the worker never acks it, the
//! delivery comes back and is applied on the new primary; nothing that was
//! acknowledged is lost, and the test asserts 0. With asynchronous
//! replication every commit the old primary took after the promotion (and
//! any it had not yet streamed) was acked and is gone from the new
//! primary: the test measures those, shows each one is in the old
//! primary's ledger and not the new one's, and recovers them by posting
//! them again as GitHub's redelivery does (same delivery ids).
//!
//! Both also check that two sync-schedulers' leader lock moves to the new
//! primary, and that no prpulse process is restarted.

use std::{
    collections::HashSet,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use prpulse_e2e::{
    Repo, Stack, StackOptions, TestDb, broker, direct,
    fault_stream::{
        APPLICATION_AUDIT, DeliveryStream, Figures, Probes, Tally, applied_twice,
        pull_requests_per_scenario, try_recorded_ids,
    },
    private_postgres::PrivatePostgres,
};

const LANES: usize = 4;
const STREAM_SECONDS: u64 = 6;
/// How long the old primary keeps taking connections after the promotion.
const SPLIT_BRAIN: Duration = Duration::from_millis(1000);
const LOCK_SESSION: &str = "prpulse-sync-scheduler lock";

/// Runs a blocking harness call off the async threads.
async fn blocking<T: Send + 'static>(op: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(op).await.unwrap()
}

async fn client(url: &str) -> Option<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(client)
}

/// Scheduler lock sessions holding their advisory lock on the server `url`.
async fn lock_holders(url: &str) -> i64 {
    let Some(client) = client(url).await else {
        return -1;
    };
    client
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1",
            &[&LOCK_SESSION],
        )
        .await
        .map_or(-1, |row| row.get(0))
}

async fn wait_for_one_lock_holder(url: &str, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let holders = lock_holders(url).await;
        if holders == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: {holders} scheduler lock holders after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every accepted delivery is in the new primary's ledger or
/// explained: recorded by the old primary only (acked there, so never
/// coming back), with no delivery left waiting on the broker.
async fn settle(
    stack: &Stack,
    both: &str,
    old_only: &HashSet<String>,
    accepted: &HashSet<String>,
) -> HashSet<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let recorded = try_recorded_ids(both).await.unwrap_or_default();
        let missing: HashSet<String> = accepted.difference(&recorded).cloned().collect();
        let mut waiting = 0;
        for queue in stack.topology.queues() {
            waiting += broker::ready_messages(&queue).await;
        }
        if waiting == 0 && missing.is_subset(old_only) {
            return missing;
        }
        assert!(
            Instant::now() < deadline,
            "{} accepted deliveries neither recorded nor explained after 2 minutes",
            missing.difference(old_only).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn failover(synchronous: bool) -> Figures {
    let settings: &[&str] = if synchronous {
        &["synchronous_standby_names=*"]
    } else {
        &[]
    };
    let primary = Arc::new(blocking(move || PrivatePostgres::start_with(settings)).await);
    let standby = {
        let primary = primary.clone();
        Arc::new(blocking(move || PrivatePostgres::standby_of(&primary)).await)
    };
    let hosts = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let mut stack = Stack::start_with(StackOptions {
        workers: 2,
        admin_database_url: Some(primary.url("postgres")),
        database_url_for_binaries: Some(hosts.clone()),
        env: vec![
            (
                "PRPULSE_PUBLIC_URL".into(),
                "http://127.0.0.1:9/webhooks/github".into(),
            ),
            ("PRPULSE_GITHUB_API_URL".into(), "http://127.0.0.1:9".into()),
            ("PRPULSE_RECONCILE_INTERVAL_MS".into(), "200".into()),
            ("PRPULSE_LEADER_POLL_MS".into(), "200".into()),
        ],
        ..StackOptions::default()
    })
    .await;
    let name = stack.db.name.clone();
    let both = prpulse_e2e::db::with_dbname(&hosts, &name);
    stack
        .db
        .client()
        .await
        .batch_execute(APPLICATION_AUDIT)
        .await
        .unwrap();
    let schedulers: Vec<_> = (0..2)
        .map(|_| stack.scheduler_command().spawn().unwrap())
        .collect();
    wait_for_one_lock_holder(&primary.url(&name), "before the failover").await;

    let repo = Repo::new(31, "acme/failover");
    let stream = DeliveryStream::new(&repo, pull_requests_per_scenario(24));
    let mut probes = Probes::new(Repo::new(91, "acme/probes"));
    let tally = Tally::default();
    let pace = Duration::from_secs(STREAM_SECONDS) * LANES as u32 / stream.deliveries.len() as u32;
    let third = stream.deliveries.len() / 3;
    let ((), time_to_recover) = tokio::join!(
        tally.post_paced(&stack, &stream.deliveries, LANES, pace),
        async {
            let deadline = Instant::now() + Duration::from_secs(60);
            while tally.accepted.load(Ordering::Relaxed) < third {
                assert!(Instant::now() < deadline, "the stream did not start");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let promoted = Instant::now();
            let new_primary = standby.clone();
            blocking(move || new_primary.promote()).await;
            tokio::time::sleep(SPLIT_BRAIN).await;
            let old_primary = primary.clone();
            blocking(move || old_primary.stop()).await;
            probes
                .time_to_recover(&stack, &both, &tally, promoted)
                .await
        }
    );
    wait_for_one_lock_holder(&standby.url(&name), "after the failover").await;

    // The old primary's ledger, read once it can change no more (started
    // read-only, so no prpulse process takes it for the primary again).
    let old_primary = primary.clone();
    blocking(move || old_primary.start_read_only()).await;
    let old_ids = try_recorded_ids(&primary.url(&name))
        .await
        .expect("the old primary's ledger");
    let new_ids = try_recorded_ids(&both)
        .await
        .expect("the new primary's ledger");
    let old_only: HashSet<String> = old_ids.difference(&new_ids).cloned().collect();
    let old_primary = primary.clone();
    blocking(move || old_primary.stop()).await;

    let accepted = tally.accepted_ids();
    let lost = settle(&stack, &both, &old_only, &accepted).await;
    let audit = client(&both).await.unwrap();
    let twice = applied_twice(&audit, &accepted).await;
    let figures = Figures::of(
        if synchronous {
            "postgres failover, synchronous replication"
        } else {
            "postgres failover, asynchronous replication"
        },
        &tally,
        lost.len(),
        twice,
        time_to_recover,
    );
    eprintln!(
        "{figures}; committed on the old primary only: {}",
        old_only.len()
    );
    assert_eq!(twice, 0, "{figures}");

    // What GitHub's redelivery brings back: the lost deliveries, posted
    // again under their own ids, are applied on the new primary.
    let mut redelivered = HashSet::new();
    let redelivery = Tally::default();
    for delivery in stream.deliveries.iter().chain(&probes.made) {
        if lost.contains(&delivery.id) && redelivered.insert(delivery.id.clone()) {
            redelivery.post_until_accepted(&stack, delivery).await;
        }
    }
    let recovered = settle(&stack, &both, &HashSet::new(), &accepted).await;
    assert!(recovered.is_empty(), "not recovered: {recovered:?}");

    let clean = TestDb::create().await;
    let processor = direct::processor(&clean);
    for delivery in stream.distinct.iter().chain(&probes.made) {
        direct::apply(&processor, delivery).await;
    }
    let rows: Vec<serde_json::Value> = client(&both)
        .await
        .unwrap()
        .query(
            "SELECT row_to_json(m)::text FROM pr_metrics m ORDER BY repository, number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
        .collect();
    assert_eq!(rows, clean.pr_metrics().await);
    // No prpulse process was restarted: ingest, workers and schedulers all
    // lived through the failover.
    assert!(stack.all_running(), "ingest or a worker exited");
    for mut scheduler in schedulers {
        assert!(
            scheduler.try_wait().unwrap().is_none(),
            "a scheduler exited"
        );
        let _ = scheduler.start_kill();
    }
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_synchronous_replication_a_failover_loses_no_acknowledged_delivery() {
    let figures = failover(true).await;
    assert_eq!(figures.lost, 0, "{figures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_asynchronous_replication_a_failover_loses_only_what_the_ledgers_show() {
    // What is lost is measured and printed, and recovered by redelivery
    // inside `failover`; how much depends on timing, so no count is
    // asserted beyond what `settle` proves: each loss is in the old
    // primary's ledger and not the new one's.
    let figures = failover(false).await;
    eprintln!("{figures}");
}
