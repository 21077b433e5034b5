//! Retries with growing delays, dead-lettering when they run out or a
//! worker crash-loops, and the operator's `prpulse dlq` commands.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker, direct, eventually,
};
use prpulse_queue::{
    Topology,
    headers::{get_str, put_str},
    lapin::{
        options::{QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions},
        types::{AMQPValue, FieldTable},
    },
    topology::SizeClass,
};

fn pull_request(number: i64) -> PullRequestBuilder {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    PullRequestBuilder::new(&Repo::new(10, "acme/api"), number, &author, created)
}

/// Makes every write of pull request `number` fail as a serialization
/// failure (SQLSTATE 40001, which prpulse treats as transient) for its
/// first `failures` attempts; `None` fails forever.
async fn inject_transient_failures(stack: &Stack, number: i64, failures: Option<i64>) {
    let limit = failures.map_or("NULL".to_owned(), |n| n.to_string());
    stack
        .db
        .inject_pull_request_fault(
            number,
            "CREATE SEQUENCE injected_attempts;",
            &format!(
                "IF {limit} IS NULL OR nextval('injected_attempts') <= {limit} THEN
                     RAISE EXCEPTION 'injected failure' USING ERRCODE = '40001';
                 END IF;"
            ),
        )
        .await;
}

async fn fix_the_cause(stack: &Stack) {
    stack.db.clear_pull_request_fault().await;
}

async fn wait_for_dead_letters(stack: &Stack, count: u32) {
    let dead = eventually(
        &format!("{count} dead letters"),
        Duration::from_secs(60),
        async || {
            let dead = broker::ready_messages(&stack.topology.dead_queue()).await;
            if dead >= count { Ok(dead) } else { Err(dead) }
        },
    )
    .await;
    assert_eq!(dead, count);
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "prpulse failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn a_transient_failure_is_retried_after_a_delay_and_then_applied() {
    let stack = Stack::start().await;
    inject_transient_failures(&stack, 7, Some(2)).await;
    assert_eq!(stack.deliver(&pull_request(7).opened()).await.status(), 202);
    stack.wait_for_deliveries(1).await;
    let attempts = stack
        .db
        .count("SELECT last_value FROM injected_attempts")
        .await;
    assert_eq!(attempts, 3, "two failed attempts, then the one that worked");
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );
    assert_eq!(stack.db.pr("acme/api", 7).await["author"], "ada");
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_lettered_then_replayed_once_fixed() {
    let stack = Stack::start().await;
    inject_transient_failures(&stack, 13, None).await;
    let doomed = pull_request(13).opened();
    let fine = pull_request(14).opened();
    assert_eq!(stack.deliver(&doomed).await.status(), 202);
    assert_eq!(stack.deliver(&fine).await.status(), 202);
    wait_for_dead_letters(&stack, 1).await;
    assert_eq!(
        stack.db.deliveries().await,
        1,
        "the other delivery went through"
    );

    // The dead letter says what happened, without being consumed by looking.
    let listing = stdout(&stack.cli(&["dlq", "list"]).await);
    assert!(listing.starts_with("DELIVERY ID"), "{listing}");
    let row = listing
        .lines()
        .find(|line| line.starts_with(&doomed.id))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(row.contains("pull_request.opened"), "{row}");
    assert!(row.contains("gave up after 4 attempts"), "{row}");
    let shown = stdout(&stack.cli(&["dlq", "show", &doomed.id]).await);
    assert!(
        shown.contains("prpulse-first-error: database error"),
        "{shown}"
    );
    assert!(shown.contains("\"number\": 13"), "{shown}");
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        1
    );

    fix_the_cause(&stack).await;
    let replayed = stdout(&stack.cli(&["dlq", "replay", &doomed.id]).await);
    assert!(replayed.contains("1 replayed"), "{replayed}");
    stack.wait_for_deliveries(2).await;
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );
    let source = stack
        .db
        .client()
        .await
        .query_one(
            "SELECT source FROM deliveries WHERE delivery_id = $1",
            &[&doomed.id],
        )
        .await
        .unwrap()
        .get::<_, String>(0);
    assert_eq!(source, "replay");
    assert!(stdout(&stack.cli(&["dlq", "list"]).await).contains("is empty"));
}

/// `delivery` with its pull request's description grown to `bytes`.
fn padded(delivery: Delivery, bytes: usize) -> Delivery {
    let mut payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    payload["pull_request"]["body"] = serde_json::Value::String("x".repeat(bytes));
    Delivery {
        body: serde_json::to_vec(&payload).unwrap(),
        ..delivery
    }
}

#[tokio::test]
async fn a_large_delivery_keeps_to_its_own_queue_through_retries_dead_letters_and_replay() {
    let mut stack = Stack::start_with(StackOptions {
        env: vec![("PRPULSE_LARGE_DELIVERY_BYTES".into(), "4096".into())],
        ..StackOptions::ingest_only()
    })
    .await;
    let large_queue = stack.topology.work_queue_for(SizeClass::Large);
    let large = padded(pull_request(21).opened(), 8192);
    let small = pull_request(22).opened();
    assert!(small.body.len() < 4096, "{} bytes", small.body.len());
    assert_eq!(stack.deliver(&large).await.status(), 202);
    assert_eq!(stack.deliver(&small).await.status(), 202);
    assert_eq!(broker::ready_messages(&large_queue).await, 1);
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        1
    );

    // Its retries wait in the large queue's tiers and come back to it.
    inject_transient_failures(&stack, 21, None).await;
    stack.spawn_worker();
    wait_for_dead_letters(&stack, 1).await;
    assert_eq!(stack.db.deliveries().await, 1, "the small one went through");
    let shown = stdout(&stack.cli(&["dlq", "show", &large.id]).await);
    let large_tier = stack.topology.retry_queue_for(SizeClass::Large, 0).unwrap();
    let standard_tier = stack.topology.retry_queue(0).unwrap();
    assert!(shown.contains(&format!("queue: {large_tier}")), "{shown}");
    assert!(
        !shown.contains(&format!("queue: {standard_tier}")),
        "{shown}"
    );
    assert!(shown.contains("gave up after 4 attempts"), "{shown}");

    // Replayed, it goes back to the large queue too.
    for status in stack.terminate_workers().await {
        assert!(status.success(), "{status}");
    }
    fix_the_cause(&stack).await;
    let replayed = stdout(&stack.cli(&["dlq", "replay", &large.id]).await);
    assert!(replayed.contains("1 replayed"), "{replayed}");
    assert_eq!(broker::ready_messages(&large_queue).await, 1);
    stack.spawn_worker();
    stack.wait_for_deliveries(2).await;
    assert_eq!(stack.db.pr("acme/api", 21).await["author"], "ada");
}

#[tokio::test]
async fn replaying_an_unknown_id_fails_and_purging_asks_first() {
    let stack = Stack::start().await;
    let poison = Delivery::new("pull_request", &serde_json::json!({"action": "opened"}));
    assert_eq!(stack.deliver(&poison).await.status(), 202);
    wait_for_dead_letters(&stack, 1).await;

    let unknown = stack.cli(&["dlq", "replay", "no-such-delivery"]).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-delivery"));
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        1
    );

    // No terminal to ask on: refuse rather than purge.
    let unasked = stack.cli(&["dlq", "purge"]).await;
    assert!(!unasked.status.success());
    assert!(String::from_utf8_lossy(&unasked.stderr).contains("--yes"));
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        1
    );

    let purged = stdout(&stack.cli(&["dlq", "purge", "--yes"]).await);
    assert!(purged.contains("purged 1"), "{purged}");
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );
}

#[tokio::test]
async fn a_delivery_that_crashes_workers_is_stopped_by_the_delivery_limit() {
    let mut stack = Stack::start_with(prpulse_e2e::StackOptions::ingest_only()).await;
    // Each worker hangs on this pull request until it is killed: a crash
    // loop, as far as the broker can tell.
    stack
        .db
        .inject_pull_request_fault(66, "", "PERFORM pg_sleep(600);")
        .await;
    let poison = pull_request(66).opened();
    assert_eq!(stack.deliver(&poison).await.status(), 202);
    let work = stack.topology.work_queue();
    let dead = stack.topology.dead_queue();
    let mut crashes = 0;
    while broker::ready_messages(&dead).await == 0 {
        assert!(
            crashes < 10,
            "still not dead-lettered after {crashes} crashes"
        );
        stack.spawn_worker();
        // A delivery handed to a consumer whose connection dies counts as
        // one attempt, whether or not it had started on it.
        eventually("the worker taking the delivery", WITHIN, async || {
            broker::ready_messages(&work).await == 0
        })
        .await;
        stack.kill_workers().await;
        crashes += 1;
        // Back with the broker: on the work queue, or past the limit on
        // the dead-letter queue.
        eventually("the delivery back with the broker", WITHIN, async || {
            broker::ready_messages(&work).await + broker::ready_messages(&dead).await == 1
        })
        .await;
    }
    // PRPULSE_DELIVERY_LIMIT is 5 in test stacks.
    assert!(crashes >= 5, "dead-lettered after only {crashes} crashes");
    let letter = broker::take_one(&dead).await.unwrap();
    let headers = letter.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        get_str(&headers, "github-delivery"),
        Some(poison.id.as_str())
    );
    assert_eq!(
        get_str(&headers, "x-first-death-reason"),
        Some("delivery_limit")
    );
    assert_eq!(stack.db.deliveries().await, 0);
}

/// Makes every write of pull request `number` fail with a permanent error
/// (`RAISE`'s own SQLSTATE, P0001).
async fn poison_pull_request(stack: &Stack, number: i64) {
    stack
        .db
        .inject_pull_request_fault(number, "", "RAISE EXCEPTION 'poison';")
        .await;
}

#[tokio::test]
async fn a_failing_batch_commits_nothing_and_one_by_one_only_the_poison_fails() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    poison_pull_request(&stack, 8).await;
    let deliveries: Vec<Delivery> = (1..=15).map(|n| pull_request(n).opened()).collect();
    let processor = direct::processor(&stack.db);
    assert!(direct::apply_batch(&processor, &deliveries).await.is_err());
    assert_eq!(
        stack.db.deliveries().await,
        0,
        "the failed batch left nothing"
    );
    let failed: Vec<&str> = futures_util::future::join_all(
        deliveries
            .iter()
            .map(|delivery| direct::try_apply(&processor, delivery)),
    )
    .await
    .into_iter()
    .zip(&deliveries)
    .filter(|(result, _)| result.is_err())
    .map(|(_, delivery)| delivery.id.as_str())
    .collect();
    assert_eq!(failed, [deliveries[7].id.as_str()]);
    assert_eq!(stack.db.deliveries().await, 14);
}

#[tokio::test]
async fn a_poison_delivery_amid_a_batch_is_dead_lettered_alone_and_the_rest_commit() {
    let log = std::env::temp_dir().join(format!("prpulse-batch-{}.log", uuid_suffix()));
    let mut stack = Stack::start_with(StackOptions {
        log_file: Some(log.clone()),
        ..StackOptions::ingest_only()
    })
    .await;
    poison_pull_request(&stack, 20).await;
    let mut deliveries: Vec<Delivery> = (1..=30).map(|n| pull_request(n).opened()).collect();
    // A redelivery of the first one: a duplicate inside a batch.
    deliveries.push(deliveries[0].clone());
    for delivery in &deliveries {
        assert_eq!(stack.deliver(delivery).await.status(), 202);
    }
    // All of them wait on the queue. One transaction at a time: after the
    // first, the worker holds the rest and takes them 16 at a time.
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        31
    );
    stack.spawn_worker_with(&[
        ("PRPULSE_WORKER_BATCH_SIZE", "16"),
        ("PRPULSE_WORKER_CONCURRENCY", "1"),
        // Small payloads only: the byte budget then allows the full
        // prefetch, and batches of 16.
        ("PRPULSE_MAX_BODY_BYTES", "1048576"),
        ("RUST_LOG", "warn"),
    ]);
    wait_for_dead_letters(&stack, 1).await;
    stack.wait_for_deliveries(29).await;
    let letter = broker::take_one(&stack.topology.dead_queue())
        .await
        .unwrap();
    let headers = letter.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        get_str(&headers, "github-delivery"),
        Some(deliveries[19].id.as_str())
    );
    let reason = get_str(&headers, "prpulse-dead-reason").unwrap_or_default();
    assert!(
        reason.contains("ERROR: poison (SQLSTATE P0001)"),
        "the reason names Postgres' error: {reason}"
    );
    let numbers: Vec<i64> = stack
        .db
        .pr_metrics()
        .await
        .iter()
        .map(|row| row["number"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=30).filter(|&n| n != 20).collect();
    assert_eq!(numbers, expected);
    // Nothing left behind, nothing retried, the duplicate acked.
    wait_until_empty(&stack.topology.work_queue()).await;
    assert_eq!(stack.db.deliveries().await, 29);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        output.contains("batch failed; processing its deliveries one by one"),
        "the poison was never in a batch:\n{output}"
    );
}

fn uuid_suffix() -> String {
    prpulse_e2e::unique_suffix()
}

async fn wait_until_empty(queue: &str) {
    eventually(&format!("{queue} empty"), WITHIN, async || {
        broker::ready_messages(queue).await == 0
    })
    .await;
}

/// How long the pipeline may take to do what a test waits for.
const WITHIN: Duration = Duration::from_secs(30);

/// Runs `prpulse` against `topology` on the test broker, with no stack:
/// the CLI's dead-letter commands need only RabbitMQ.
async fn cli_on(topology: &Topology, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::new(prpulse_e2e::stack::binary_path("prpulse"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PRPULSE_")) {
        command.env_remove(name);
    }
    command
        .env("PRPULSE_AMQP_URL", broker::amqp_url())
        .env("PRPULSE_TOPOLOGY_PREFIX", topology.prefix())
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("running prpulse")
}

#[tokio::test]
async fn listing_the_dead_letter_queue_30_times_keeps_every_letter_for_replay() {
    let topology = Topology::new(format!("dlq-looks-{}", uuid_suffix()), 5);
    let connection = broker::connect().await;
    let channel = connection.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();
    // The dead-letter queue as RabbitMQ 4.x has it unless told otherwise:
    // a delivery limit of 20 and nowhere to dead-letter to. Set here
    // explicitly, so a 3.x broker drops letters just the same.
    let dead = topology.dead_queue();
    channel
        .queue_delete(dead.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(20));
    channel
        .queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            dead.as_str().into(),
            topology.dead_exchange().as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "declared".into()).await;

    let letters: Vec<Delivery> = (1..=3).map(|n| pull_request(n).opened()).collect();
    broker::publish_confirmed(
        &topology.dead_exchange(),
        "pull_request.opened",
        letters.iter().map(|letter| {
            let mut properties = direct::envelope(letter).to_properties();
            let mut headers = properties.headers().clone().unwrap_or_default();
            put_str(&mut headers, "prpulse-dead-reason", "poison");
            properties = properties.with_headers(headers);
            (letter.body.clone(), properties)
        }),
    )
    .await;
    assert_eq!(broker::ready_messages(&dead).await, 3);

    for look in 1..=30 {
        let listing = stdout(&cli_on(&topology, &["dlq", "list"]).await);
        for letter in &letters {
            assert!(
                listing.contains(&letter.id),
                "look {look} no longer shows {}:\n{listing}",
                letter.id
            );
        }
    }
    assert_eq!(broker::ready_messages(&dead).await, 3);

    let replayed = stdout(&cli_on(&topology, &["dlq", "replay", "--all"]).await);
    assert!(replayed.contains("3 replayed"), "{replayed}");
    assert_eq!(broker::ready_messages(&dead).await, 0);
    let mut on_work_queue = Vec::new();
    while let Some(message) = broker::take_one(&topology.work_queue()).await {
        let headers = message.delivery.properties.headers().clone().unwrap();
        on_work_queue.push(get_str(&headers, "github-delivery").unwrap().to_owned());
    }
    on_work_queue.sort();
    let mut expected: Vec<String> = letters.iter().map(|letter| letter.id.clone()).collect();
    expected.sort();
    assert_eq!(on_work_queue, expected, "every letter replayed, once");
    broker::delete_topology(&topology).await;
}

#[tokio::test]
async fn a_statement_that_hangs_times_out_and_is_retried_instead_of_holding_the_worker() {
    let stack = Stack::start_with(StackOptions {
        worker_env: vec![("PRPULSE_WORKER_STATEMENT_TIMEOUT_MS".into(), "500".into())],
        ..StackOptions::default()
    })
    .await;
    // The first write of pull request 9 hangs, as a stuck server would;
    // the next one goes through.
    stack
        .db
        .inject_pull_request_fault(
            9,
            "CREATE SEQUENCE hang_attempts;",
            "IF nextval('hang_attempts') = 1 THEN PERFORM pg_sleep(600); END IF;",
        )
        .await;
    assert_eq!(stack.deliver(&pull_request(9).opened()).await.status(), 202);
    stack.wait_for_deliveries(1).await;
    let attempts = stack.db.count("SELECT last_value FROM hang_attempts").await;
    assert_eq!(attempts, 2, "the hung attempt, then its retry");
    assert_eq!(stack.db.pr("acme/api", 9).await["author"], "ada");
}

#[tokio::test]
async fn a_lock_never_granted_ends_in_lock_timeouts_and_the_dead_letter_queue() {
    let stack = Stack::start_with(StackOptions {
        worker_env: vec![
            ("PRPULSE_WORKER_STATEMENT_TIMEOUT_MS".into(), "0".into()),
            ("PRPULSE_WORKER_LOCK_TIMEOUT_MS".into(), "300".into()),
        ],
        ..StackOptions::default()
    })
    .await;
    // Someone holds a lock the write of pull request 12 needs, and keeps it.
    let holder = stack.db.client().await;
    holder
        .execute("SELECT pg_advisory_lock(4212)", &[])
        .await
        .unwrap();
    stack
        .db
        .inject_pull_request_fault(12, "", "PERFORM pg_advisory_xact_lock(4212);")
        .await;
    let blocked = pull_request(12).opened();
    assert_eq!(stack.deliver(&blocked).await.status(), 202);
    wait_for_dead_letters(&stack, 1).await;
    let letter = broker::take_one(&stack.topology.dead_queue())
        .await
        .unwrap();
    let headers = letter.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        get_str(&headers, "github-delivery"),
        Some(blocked.id.as_str())
    );
    let reason = get_str(&headers, "prpulse-dead-reason").unwrap_or_default();
    assert!(
        reason.starts_with("gave up after 4 attempts") && reason.contains("SQLSTATE 55P03"),
        "each attempt gave up on the lock and was retried: {reason}"
    );
    drop(holder);
}
