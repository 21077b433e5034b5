//! The binaries' own endpoints after real traffic: ingest's and the
//! worker's `/metrics` count it, the scheduler's say which replica acts,
//! and the worker's probes tell live from ready.

use super::*;

#[tokio::test]
async fn ingest_metrics_count_each_answer_by_event_status_and_reason() {
    let (_observed, ingest, _) = observe_traffic().await;
    let requests = |event, status| {
        ingest.value(
            "prpulse_ingest_requests_total",
            &[("event", event), ("status", status)],
        )
    };
    assert_eq!(
        requests("pull_request", "202"),
        Some(4.0),
        "{}",
        ingest.text
    );
    assert_eq!(requests("pull_request_review", "202"), Some(1.0));
    assert_eq!(requests("ping", "200"), Some(1.0));
    assert_eq!(requests("other", "204"), Some(1.0));
    assert_eq!(requests("pull_request", "401"), Some(1.0));
    assert_eq!(ingest.sum("prpulse_ingest_requests_total", &[]), 8.0);
    assert_eq!(
        ingest.value("prpulse_ingest_rejections_total", &[("reason", "mismatch")]),
        Some(1.0)
    );
    assert_eq!(ingest.sum("prpulse_ingest_rejections_total", &[]), 1.0);
    let answered = |status| {
        ingest.value(
            "prpulse_ingest_request_duration_seconds_count",
            &[("status", status)],
        )
    };
    assert_eq!(answered("202"), Some(5.0));
    assert_eq!(answered("401"), Some(1.0));
    // Only what went to the broker was confirmed and measured.
    assert_eq!(
        ingest.value("prpulse_ingest_publish_duration_seconds_count", &[]),
        Some(5.0)
    );
    assert!(ingest.value("prpulse_ingest_publish_duration_seconds_sum", &[]) > Some(0.0));
    assert_eq!(
        ingest.value("prpulse_ingest_payload_bytes_count", &[]),
        Some(5.0)
    );
    assert_eq!(
        ingest.value(
            "prpulse_build_info",
            &[("binary", "ingest"), ("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn worker_metrics_count_outcomes_and_the_dead_letter_queue_fills() {
    let (observed, _, worker) = observe_traffic().await;
    let outcome =
        |outcome| worker.value("prpulse_worker_deliveries_total", &[("outcome", outcome)]);
    assert_eq!(outcome("projected"), Some(4.0), "{}", worker.text);
    assert_eq!(outcome("dead_lettered"), Some(1.0));
    assert_eq!(worker.sum("prpulse_worker_deliveries_total", &[]), 5.0);
    assert_eq!(
        worker.value("prpulse_worker_processing_duration_seconds_count", &[]),
        Some(5.0)
    );
    // Lag is measured for what was committed, not for the dead letter.
    assert_eq!(
        worker.value("prpulse_worker_delivery_lag_seconds_count", &[]),
        Some(4.0)
    );
    assert_eq!(worker.value("prpulse_worker_in_flight", &[]), Some(0.0));
    assert_eq!(
        worker.value("prpulse_worker_transient_errors_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        worker.value("prpulse_build_info", &[("binary", "worker")]),
        Some(1.0)
    );
    assert_eq!(observed.stack.db.deliveries().await, 4);

    // The depth comes from the broker, on the next poll after the dead
    // letter was confirmed; the work queue is empty by then.
    let depths = observed
        .scrape_worker_until("the dead letter in prpulse_queue_messages", |scrape| {
            scrape.value("prpulse_queue_messages", &[("queue", "dead")]) >= Some(1.0)
                && scrape.value("prpulse_queue_messages", &[("queue", "work")]) == Some(0.0)
        })
        .await;
    assert_eq!(
        depths.value("prpulse_queue_messages", &[("queue", "dead")]),
        Some(1.0)
    );
    assert_eq!(
        depths
            .families
            .get("prpulse_queue_messages")
            .map(String::as_str),
        Some("gauge")
    );
}

#[tokio::test]
async fn scheduler_metrics_show_the_acting_replica_and_count_reconciliation() {
    let mut observed = Observed::start().await;
    let scheduler = observed.start_scheduler().await;
    let scrape = observed
        .scrape_scheduler_until("acme/api reconciled", reconciled)
        .await;
    assert_eq!(
        scheduler.github.hooks("acme/api").len(),
        1,
        "the reconciled repository has its hook"
    );
    let runs = |outcome| {
        scrape.value(
            "prpulse_scheduler_job_runs_total",
            &[("task", "reconcile_hooks"), ("outcome", outcome)],
        )
    };
    assert!(runs("ok") >= Some(1.0), "{}", scrape.text);
    assert_eq!(runs("error").unwrap_or(0.0), 0.0, "{}", scrape.text);
    let last_success = scrape
        .value(
            "prpulse_scheduler_last_success_timestamp_seconds",
            &[("task", "reconcile_hooks")],
        )
        .expect("a last success for reconcile_hooks");
    let now = Utc::now().timestamp() as f64;
    assert!(
        (now - 60.0..=now + 1.0).contains(&last_success),
        "last success {last_success}, now {now}"
    );
    assert_eq!(
        scrape.value("prpulse_scheduler_webhooks", &[("state", "error")]),
        Some(0.0)
    );
    assert_eq!(
        scrape.value(
            "prpulse_scheduler_github_rate_limit_remaining",
            &[("account", "acme")]
        ),
        Some(RATE_LIMIT_REMAINING as f64),
        "{}",
        scrape.text
    );
    assert_eq!(
        scrape.value("prpulse_scheduler_unrecovered_deliveries", &[]),
        Some(0.0)
    );
    for (name, kind) in [
        ("prpulse_scheduler_is_leader", "gauge"),
        ("prpulse_scheduler_job_runs_total", "counter"),
        ("prpulse_scheduler_redeliveries_requested_total", "counter"),
    ] {
        assert_eq!(
            scrape.families.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
}

async fn status(url: &str) -> Option<u16> {
    let response = prpulse_e2e::http_client()
        .build()
        .unwrap()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// Waits until `url` answers `expected` (20 s at most).
async fn wait_for_status(url: &str, expected: u16) {
    eventually(
        &format!("{url} answering {expected}"),
        Duration::from_secs(20),
        async || {
            let last = status(url).await;
            if last == Some(expected) {
                Ok(())
            } else {
                Err(last)
            }
        },
    )
    .await;
}

/// A worker of `stack` serving `/metrics` on a port it picks, and the
/// `http://<addr>` it bound.
async fn worker_serving(stack: &Stack, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let addresses = AddressFile::new("worker");
    let (name, path) = addresses.env();
    let mut worker = stack
        .worker_command()
        .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
        .env(name, path)
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    let addr = addresses
        .wait_for("metrics", &mut worker)
        .await
        .expect("the worker exited before it served /metrics");
    (worker, format!("http://{addr}"))
}

#[tokio::test]
async fn the_worker_is_live_at_once_and_ready_while_it_consumes() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    // Its broker is away: the process answers, but consumes nothing.
    let (mut away, base) = worker_serving(
        &stack,
        &[("PRPULSE_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    )
    .await;
    wait_for_status(&format!("{base}/livez"), 200).await;
    assert_eq!(status(&format!("{base}/readyz")).await, Some(503));
    let _ = away.start_kill();

    let (mut consuming, base) = worker_serving(&stack, &[]).await;
    wait_for_status(&format!("{base}/readyz"), 200).await;
    assert_eq!(status(&format!("{base}/livez")).await, Some(200));
    let _ = consuming.start_kill();
    let _ = consuming.wait().await;
    let _ = away.wait().await;
}
