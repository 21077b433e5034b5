//! The redelivery job: failed deliveries asked again once, and a failed
//! query reported as a failed run.

use super::*;

#[tokio::test]
async fn only_failed_unstored_consumed_deliveries_are_redelivered_once() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (hook, _) = setup.only_hook("acme/api");
    let github = &setup.github;
    github.add_delivery(
        hook,
        1,
        "11111111-0000-11f0-8000-000000000001",
        "pull_request",
        202,
        60,
    );
    github.add_delivery(
        hook,
        2,
        "22222222-0000-11f0-8000-000000000002",
        "pull_request",
        503,
        50,
    );
    github.add_delivery(
        hook,
        3,
        "33333333-0000-11f0-8000-000000000003",
        "push",
        500,
        40,
    );
    github.add_delivery(
        hook,
        4,
        "44444444-0000-11f0-8000-000000000004",
        "pull_request_review",
        503,
        30,
    );
    github.add_delivery(
        hook,
        5,
        "55555555-0000-11f0-8000-000000000005",
        "pull_request",
        503,
        20,
    );
    github.add_delivery(
        hook,
        6,
        "55555555-0000-11f0-8000-000000000005",
        "pull_request",
        202,
        10,
    );
    github.add_delivery(
        hook,
        7,
        "77777777-0000-11f0-8000-000000000007",
        "pull_request",
        503,
        5 * 24 * 60,
    );
    // #4 failed at GitHub's end, but prpulse has it (a second hook got it).
    setup
        .stack
        .db
        .client()
        .await
        .execute(
            "INSERT INTO deliveries (delivery_id, event, source, received_at, outcome)
             VALUES ('44444444-0000-11f0-8000-000000000004', 'pull_request_review', 'webhook', now(), 'stored')",
            &[],
        )
        .await
        .unwrap();
    let (mut scheduler, metrics_url) = setup.scheduler_with_metrics(&[]).await;
    eventually("a redelivery", WITHIN, async || {
        !github.redeliveries().is_empty()
    })
    .await;
    // Several more runs: the redelivered event now has a good attempt, so
    // none of them asks again.
    let runs_then = runs(&scrape(&metrics_url).await, "redeliver", "ok");
    eventually("three more redeliver runs", WITHIN, async || {
        let now = runs(&scrape(&metrics_url).await, "redeliver", "ok");
        if now >= runs_then + 3 {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;
    let _ = scheduler.start_kill();
    assert_eq!(github.redeliveries(), [(hook, 2)]);
}

/// Item 11: with the integrations table gone mid-run (as any failed query),
/// redelivery cannot see the organisation hooks. It must say `error` and
/// keep the unrecovered gauges, not report "nothing failed" and let the
/// alert on a delivery about to age out go quiet.
#[tokio::test]
async fn a_failed_query_is_a_failed_redeliver_run_and_the_gauges_keep_their_values() {
    let setup = Setup::start().await;
    let (mut scheduler, metrics_url) = setup
        .scheduler_with_metrics(&[
            // Nothing is redelivered, so the failed delivery stays unrecovered.
            ("PRPULSE_REDELIVERY_MAX_PER_RUN", "0"),
        ])
        .await;
    eventually("the organisation hook", WITHIN, async || {
        setup.github.hooks("orgs/acme").len() == 1
    })
    .await;
    let (hook, _) = setup.only_hook("orgs/acme");
    setup.github.add_delivery(
        hook,
        1,
        "66666666-0000-11f0-8000-000000000006",
        "membership",
        503,
        60,
    );
    eventually("the unrecovered delivery counted", WITHIN, async || {
        gauge(
            &scrape(&metrics_url).await,
            "prpulse_scheduler_unrecovered_deliveries",
        ) == Some(1)
    })
    .await;
    setup
        .stack
        .db
        .client()
        .await
        .batch_execute("ALTER TABLE integrations RENAME TO integrations_gone")
        .await
        .unwrap();
    eventually("a redeliver run counted as an error", WITHIN, async || {
        runs(&scrape(&metrics_url).await, "redeliver", "error") > 0
    })
    .await;
    let metrics = scrape(&metrics_url).await;
    assert_eq!(
        gauge(&metrics, "prpulse_scheduler_unrecovered_deliveries"),
        Some(1),
        "{metrics}"
    );
    assert!(
        gauge(
            &metrics,
            "prpulse_scheduler_oldest_unrecovered_delivery_age_seconds"
        )
        .is_some_and(|age| age >= 59 * 60),
        "{metrics}"
    );
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
}
