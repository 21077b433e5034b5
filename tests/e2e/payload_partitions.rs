//! Raw payloads in a table partitioned by receive month (V18): retention
//! drops a whole month while the ledger keeps every delivery id, and the
//! payloads stored before V18 move into their partitions online.

use chrono::{Duration, Utc};
use prpulse_e2e::{Delivery, Person, PullRequestBuilder, Repo, TestDb, api, direct};
use prpulse_store::payloads;
use prpulse_worker::Processed;

fn opened(repository: i64, number: i64) -> Delivery {
    let ada = Person::user(1, "ada");
    PullRequestBuilder::new(
        &Repo::new(repository, "acme/api"),
        number,
        &ada,
        Utc::now() - Duration::days(200),
    )
    .opened()
}

/// Which partition holds each payload, by delivery id.
async fn partition_of(db: &TestDb, delivery_id: &str) -> Option<String> {
    db.client()
        .await
        .query_opt(
            "SELECT tableoid::regclass::text FROM delivery_payloads WHERE delivery_id = $1",
            &[&delivery_id],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

#[tokio::test]
async fn retention_drops_a_whole_month_and_the_ledger_still_applies_each_id_once() {
    let db = TestDb::create().await;
    let old_at = Utc::now() - Duration::days(150);
    let pool = db.pool();
    let client = pool.get().await.unwrap();
    // The months from five months back, as a long-running installation has.
    payloads::ensure_partitions(&client, old_at).await.unwrap();
    let processor = direct::processor(&db);
    let (old, new) = (opened(10, 1), opened(10, 2));
    let mut old_envelope = direct::envelope(&old);
    old_envelope.received_at = old_at;
    assert_eq!(
        processor.process(&old_envelope, &old.body).await.unwrap(),
        Processed::Projected
    );
    assert_eq!(direct::apply(&processor, &new).await, Processed::Projected);
    let old_month = format!("delivery_payloads_p{}", old_at.format("%Y%m"));
    assert_eq!(
        partition_of(&db, &old.id).await.as_deref(),
        Some(&*old_month)
    );
    assert_ne!(
        partition_of(&db, &new.id).await.as_deref(),
        Some(&*old_month)
    );

    let dropped = payloads::drop_partitions_before(&client, Utc::now() - Duration::days(90))
        .await
        .unwrap();
    assert!(dropped.contains(&old_month), "{dropped:?}");
    assert_eq!(
        partition_of(&db, &old.id).await,
        None,
        "its payload is gone"
    );
    assert!(
        partition_of(&db, &new.id).await.is_some(),
        "a recent one stays"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM deliveries").await,
        2,
        "the ledger keeps both ids"
    );
    // A redelivery of the old one, months later, is still applied once.
    assert_eq!(
        processor.process(&old_envelope, &old.body).await.unwrap(),
        Processed::Duplicate
    );
    // Deliveries go on finding their month's partition.
    assert_eq!(
        direct::apply(&processor, &opened(10, 3)).await,
        Processed::Projected
    );
}

#[tokio::test]
async fn payloads_stored_before_v18_move_into_their_partitions_online() {
    let db = TestDb::create().await;
    let client = db.client().await;
    // What a pre-V18 worker wrote: the payload on the ledger row.
    let legacy: Vec<Delivery> = (1..=40).map(|number| opened(20, number)).collect();
    for delivery in &legacy {
        client
            .execute(
                "INSERT INTO deliveries (delivery_id, event, source, received_at, outcome, payload)
                 VALUES ($1, 'pull_request', 'webhook', now(), 'projected', $2)",
                &[&delivery.id, &delivery.body],
            )
            .await
            .unwrap();
    }
    // Workers keep going while it moves.
    let live: Vec<Delivery> = (1..=20).map(|number| opened(21, number)).collect();
    let processor = direct::processor(&db);
    let working = async {
        for delivery in &live {
            direct::apply(&processor, delivery).await;
        }
    };
    let (output, ()) = tokio::join!(
        api::cli(&db.url, &["payloads", "migrate", "--batch", "7"]),
        working
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("moved 40 payloads"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM deliveries WHERE payload IS NOT NULL")
            .await,
        0
    );
    for delivery in legacy.iter().chain(&live) {
        let row = client
            .query_one(
                "SELECT encoding, payload FROM delivery_payloads WHERE delivery_id = $1",
                &[&delivery.id],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, &str>(0), "lz4");
        let stored: Vec<u8> = row.get(1);
        assert_eq!(
            prpulse_domain::PayloadEncoding::Lz4
                .decode(&stored, 1 << 20)
                .unwrap(),
            delivery.body,
            "{}",
            delivery.id
        );
    }
    // Run again: nothing left, nothing changed.
    let again = api::cli(&db.url, &["payloads", "migrate"]).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("moved 0 payloads"));
    assert_eq!(db.count("SELECT count(*) FROM delivery_payloads").await, 60);
}
