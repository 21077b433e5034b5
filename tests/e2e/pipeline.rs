//! The whole path with the real binaries: signed deliveries in, rows of
//! `pr_metrics` out; duplicates, order, poison and an absent database.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker, eventually,
    listen::ANY_LOCAL_PORT,
    metrics::{sample, scrape, worker_settled},
    stack::free_port,
};
use prpulse_queue::headers::get_str;
use rand::seq::SliceRandom;

fn at(hours: i64, minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
        + chrono::Duration::hours(hours)
        + chrono::Duration::minutes(minutes)
}

fn people() -> (Person, Person, Person, Person) {
    (
        Person::user(1, "ada"),
        Person::user(2, "grace"),
        Person::user(3, "linus"),
        Person::bot(4, "dependabot[bot]"),
    )
}

/// Several pull requests with the histories the metric rules care about.
fn histories() -> Vec<Delivery> {
    let (ada, grace, linus, bot) = people();
    let api = Repo::new(10, "acme/api");
    let web = Repo::new(11, "acme/web");

    // Opened as a draft, made ready after 2 h; a bot and the author
    // comment first; grace asks for changes at 3 h and approves at 5 h.
    let drafted = PullRequestBuilder::new(&api, 1, &ada, at(0, 0))
        .draft()
        .size(120, 30, 4);
    // Closed without merge after a review.
    let abandoned = PullRequestBuilder::new(&api, 2, &grace, at(1, 0));
    // Closed, reopened, then merged.
    let reopened = PullRequestBuilder::new(&web, 3, &linus, at(2, 0));
    // Written by a bot, merged unreviewed.
    let bumped = PullRequestBuilder::new(&web, 4, &bot, at(3, 0)).title("Bump serde");
    vec![
        drafted.opened(),
        drafted.review(101, &bot, "approved", at(0, 5)),
        drafted.review(102, &ada, "commented", at(0, 10)),
        drafted.ready_for_review(at(2, 0)),
        drafted.review(103, &grace, "changes_requested", at(3, 0)),
        drafted.synchronize(at(4, 0)),
        drafted.review(104, &grace, "approved", at(5, 0)),
        drafted.merged(at(6, 0), &grace),
        abandoned.opened(),
        abandoned.review(201, &linus, "commented", at(1, 30)),
        abandoned.closed(at(2, 0)),
        reopened.opened(),
        reopened.closed(at(2, 30)),
        reopened.reopened(at(3, 0)),
        reopened.review(301, &ada, "approved", at(4, 0)),
        reopened.review_dismissed(301, &ada, at(4, 0)),
        reopened.review(302, &grace, "approved", at(5, 0)),
        reopened.merged(at(7, 0), &grace),
        bumped.opened(),
        bumped.merged(at(3, 10), &linus),
    ]
}

async fn deliver_all(stack: &Stack, deliveries: &[Delivery]) {
    for delivery in deliveries {
        let response = stack.deliver(delivery).await;
        assert_eq!(response.status(), 202, "{} {}", delivery.event, delivery.id);
    }
}

#[tokio::test]
async fn signed_deliveries_become_the_metrics_design_defines() {
    let stack = Stack::start().await;
    let deliveries = histories();
    deliver_all(&stack, &deliveries).await;
    stack.wait_for_deliveries(deliveries.len() as i64).await;

    let drafted = stack.db.pr("acme/api", 1).await;
    assert_eq!(drafted["state"], "merged");
    assert_eq!(drafted["author"], "ada");
    assert_eq!(drafted["author_is_bot"], false);
    assert_eq!(drafted["draft"], false);
    assert_eq!(drafted["created_at"], "2026-03-02T09:00:00+00:00");
    assert_eq!(drafted["ready_at"], "2026-03-02T11:00:00+00:00");
    // Neither the bot's approval nor the author's own comment counts.
    assert_eq!(drafted["first_review_at"], "2026-03-02T12:00:00+00:00");
    assert_eq!(drafted["first_approval_at"], "2026-03-02T14:00:00+00:00");
    assert_eq!(drafted["merged_at"], "2026-03-02T15:00:00+00:00");
    assert_eq!(drafted["cycle_time_seconds"], 6 * 3600);
    assert_eq!(drafted["review_time_seconds"], 3 * 3600);
    assert_eq!(
        drafted["pickup_time_seconds"], 3600,
        "draft time does not count"
    );
    assert_eq!(drafted["merge_after_approval_seconds"], 3600);
    assert_eq!(drafted["review_rounds"], 2);
    assert_eq!(
        (
            &drafted["additions"],
            &drafted["deletions"],
            &drafted["changed_files"]
        ),
        (&120.into(), &30.into(), &4.into())
    );

    let abandoned = stack.db.pr("acme/api", 2).await;
    assert_eq!(abandoned["state"], "closed");
    assert_eq!(abandoned["closed_at"], "2026-03-02T11:00:00+00:00");
    assert_eq!(abandoned["cycle_time_seconds"], serde_json::Value::Null);
    assert_eq!(abandoned["review_time_seconds"], 1800);

    let reopened = stack.db.pr("acme/web", 3).await;
    assert_eq!(reopened["state"], "merged");
    assert_eq!(reopened["cycle_time_seconds"], 5 * 3600);
    // The dismissed approval still was the first review, but not an approval.
    assert_eq!(reopened["review_time_seconds"], 2 * 3600);
    assert_eq!(reopened["first_approval_at"], "2026-03-02T14:00:00+00:00");

    let bumped = stack.db.pr("acme/web", 4).await;
    assert_eq!(bumped["author_is_bot"], true);
    assert_eq!(bumped["cycle_time_seconds"], 600);
    assert_eq!(bumped["review_time_seconds"], serde_json::Value::Null);
    assert_eq!(bumped["title"], "Bump serde");
}

#[tokio::test]
async fn a_github_sized_payload_is_compressed_once_by_ingest_and_stored_as_it_travelled() {
    let stack = Stack::start().await;
    let (ada, _, _, _) = people();
    let opened = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 5, &ada, at(0, 0))
        .github_sized()
        .opened();
    assert!(opened.body.len() > 8_000, "{} bytes", opened.body.len());
    assert_eq!(stack.deliver(&opened).await.status(), 202);
    stack.wait_for_deliveries(1).await;
    let row = stack
        .db
        .client()
        .await
        .query_one(
            "SELECT encoding, payload, pg_column_compression(payload),
                    (SELECT payload IS NULL FROM deliveries)
             FROM delivery_payloads",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "lz4");
    let stored: Vec<u8> = row.get(1);
    assert!(
        stored.len() * 3 < opened.body.len(),
        "{} bytes",
        stored.len()
    );
    assert_eq!(
        prpulse_queue::PayloadEncoding::Lz4
            .decode(&stored, 1 << 20)
            .unwrap(),
        opened.body,
        "byte for byte"
    );
    assert_eq!(
        row.get::<_, Option<String>>(2),
        None,
        "Postgres did not compress it again"
    );
    assert!(row.get::<_, bool>(3), "the ledger row holds no copy");
}

#[tokio::test]
async fn a_message_without_the_encoding_header_is_read_as_plain_json() {
    // Queued before ingest compressed, or replayed from the dead-letter queue.
    let stack = Stack::start().await;
    let (ada, _, _, _) = people();
    let opened = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 6, &ada, at(0, 0)).opened();
    let envelope = prpulse_e2e::direct::envelope(&opened);
    broker::publish_confirmed(
        &stack.topology.exchange(),
        &envelope.routing_key(),
        [(opened.body.clone(), envelope.to_properties())],
    )
    .await;
    stack.wait_for_deliveries(1).await;
    assert_eq!(stack.db.pr("acme/api", 6).await["author"], "ada");
    let stored: Vec<u8> = stack
        .db
        .client()
        .await
        .query_one("SELECT payload FROM delivery_payloads", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        prpulse_queue::PayloadEncoding::Lz4
            .decode(&stored, 1 << 20)
            .unwrap(),
        opened.body,
        "compressed by the worker, so every stored payload is lz4"
    );
}

#[tokio::test]
async fn a_delivery_posted_twice_is_applied_once() {
    let mut stack = Stack::start_with(worker_metrics_on()).await;
    let (ada, grace, _, _) = people();
    let pr = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 9, &ada, at(0, 0));
    let review = pr.review(901, &grace, "approved", at(1, 0));
    let deliveries = [
        pr.opened(),
        review.clone(),
        review.clone(),
        pr.merged(at(2, 0), &grace),
    ];
    deliver_all(&stack, &deliveries).await;
    // Redelivered by GitHub later, after everything else.
    assert_eq!(stack.deliver(&review).await.status(), 202);
    stack.wait_for_deliveries(3).await;
    // Once the worker has settled both duplicates, nothing changed.
    let worker_metrics = stack.worker_metrics_url(0).await;
    eventually("both duplicates settled", WITHIN, async || {
        let duplicates = worker_settled(&worker_metrics, "duplicate").await;
        if duplicates >= 2.0 {
            Ok(())
        } else {
            Err(duplicates)
        }
    })
    .await;
    assert_eq!(stack.db.deliveries().await, 3);
    assert_eq!(stack.db.count("SELECT count(*) FROM reviews").await, 1);
    let row = stack.db.pr("acme/api", 9).await;
    assert_eq!(row["review_time_seconds"], 3600);
    assert_eq!(row["cycle_time_seconds"], 7200);
}

#[tokio::test]
async fn any_order_gives_the_same_rows() {
    let in_order = Stack::start().await;
    let shuffled = Stack::start_with(StackOptions {
        workers: 2,
        ..StackOptions::default()
    })
    .await;
    let deliveries = histories();
    let mut reordered = deliveries.clone();
    reordered.reverse();
    reordered.shuffle(&mut rand::rng());
    deliver_all(&in_order, &deliveries).await;
    deliver_all(&shuffled, &reordered).await;
    in_order.wait_for_deliveries(deliveries.len() as i64).await;
    shuffled.wait_for_deliveries(deliveries.len() as i64).await;
    let expected = in_order.db.pr_metrics().await;
    assert_eq!(expected.len(), 4);
    assert_eq!(shuffled.db.pr_metrics().await, expected);
}

#[tokio::test]
async fn a_delivery_that_can_never_be_processed_is_dead_lettered_with_its_reason() {
    let stack = Stack::start().await;
    // Signed and JSON, so ingest accepts it, but not a pull request.
    let wrong_shape = Delivery::new(
        "pull_request",
        &serde_json::json!({"action": "opened", "number": 1}),
    );
    assert_eq!(stack.deliver(&wrong_shape).await.status(), 202);
    let dead_queue = stack.topology.dead_queue();
    let dead = eventually("a dead letter", WITHIN, async || {
        broker::take_one(&dead_queue).await
    })
    .await;
    let headers = dead.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        get_str(&headers, "github-delivery"),
        Some(wrong_shape.id.as_str())
    );
    let reason = get_str(&headers, "prpulse-dead-reason").unwrap();
    assert!(reason.contains("pull_request shape"), "{reason}");
    assert_eq!(
        broker::decoded_body(&dead.delivery),
        wrong_shape.body,
        "the payload is kept as received"
    );
    assert_eq!(stack.db.deliveries().await, 0, "nothing of it was applied");
    // The pipeline goes on with the next delivery.
    let (ada, ..) = people();
    let good = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, at(0, 0)).opened();
    assert_eq!(stack.deliver(&good).await.status(), 202);
    stack.wait_for_deliveries(1).await;
}

#[tokio::test]
async fn while_postgres_is_unreachable_a_delivery_is_held_then_applied() {
    let mut stack = Stack::start_with(StackOptions::ingest_only()).await;
    let unreachable = format!("postgres://postgres@127.0.0.1:{}/prpulse", free_port());
    stack.spawn_worker_with(&[
        ("PRPULSE_DATABASE_URL", &unreachable),
        ("PRPULSE_MIGRATE", "false"),
        ("PRPULSE_DB_TIMEOUT_MS", "200"),
        ("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT),
    ]);
    let worker_metrics = stack.worker_metrics_url(0).await;
    let (ada, ..) = people();
    let delivery = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, at(0, 0)).opened();
    assert_eq!(stack.deliver(&delivery).await.status(), 202);
    // The worker takes it and holds it, trying again and again: not
    // acked, not dead-lettered.
    eventually("three attempts held on the database", WITHIN, async || {
        let held = sample(
            &scrape(&worker_metrics).await,
            "prpulse_worker_transient_errors_total",
            &[],
        );
        if held >= Some(3.0) { Ok(()) } else { Err(held) }
    })
    .await;
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        0
    );
    // Stopped, it gives the delivery back; a worker that reaches the
    // database applies it.
    for status in stack.terminate_workers().await {
        assert!(status.success(), "{status}");
    }
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        1
    );
    stack.spawn_worker();
    stack.wait_for_deliveries(1).await;
    assert_eq!(stack.db.pr("acme/api", 1).await["author"], "ada");
}

/// How long the pipeline may take to do what a test waits for.
const WITHIN: Duration = Duration::from_secs(30);

/// The default stack with its worker's `/metrics` on, so a test can wait
/// for the worker to count what it settled.
fn worker_metrics_on() -> StackOptions {
    StackOptions {
        worker_env: vec![("PRPULSE_METRICS_ADDR".into(), ANY_LOCAL_PORT.into())],
        ..StackOptions::default()
    }
}
