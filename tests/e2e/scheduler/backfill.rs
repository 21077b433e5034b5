//! The backfill job: pull requests, reviews, deployments and their
//! statuses published once, the same rows however often it runs.

use super::*;

#[tokio::test]
async fn backfill_twice_gives_identical_rows() {
    let setup = Setup::start().await;
    let worker_addresses = AddressFile::new("worker");
    let (name, path) = worker_addresses.env();
    let mut stack_worker = setup
        .stack
        .worker_command()
        .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
        .env(name, path)
        .spawn()
        .unwrap();
    let github = &setup.github;
    github.add_repository("acme/api", 10);
    let ada = Person::user(1, "ada");
    let grace = Person::user(2, "grace");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let repo = Repo::new(10, "acme/api");
    let body = |delivery: &Delivery| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&delivery.body).unwrap()["pull_request"].clone()
    };
    let merged = PullRequestBuilder::new(&repo, 1, &ada, created);
    let review = |id: i64, state: &str, minutes: i64| {
        serde_json::json!({
            "id": id, "node_id": format!("PRR_{id}"), "user": {"login": "grace", "id": 2, "type": "User"},
            "body": "", "state": state, "author_association": "MEMBER",
            "submitted_at": (created + chrono::Duration::minutes(minutes)).to_rfc3339(),
            "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
        })
    };
    github.add_pull_request(
        "acme/api",
        body(&merged.merged(created + chrono::Duration::hours(3), &grace)),
        vec![review(501, "APPROVED", 90), review(502, "PENDING", 95)],
    );
    let open = PullRequestBuilder::new(&repo, 2, &grace, created);
    github.add_pull_request("acme/api", body(&open.opened()), vec![]);
    let old = PullRequestBuilder::new(
        &repo,
        3,
        &ada,
        Utc.with_ymd_and_hms(2025, 6, 1, 9, 0, 0).unwrap(),
    );
    github.add_pull_request("acme/api", body(&old.opened()), vec![]);

    let first = setup
        .prpulse(&["repo", "backfill", "acme/api", "--since", "2026-01-01"])
        .await;
    assert_success(&first);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("published 2 pull requests and 1 reviews")
    );
    setup.stack.wait_for_deliveries(3).await;
    let rows = setup.stack.db.pr_metrics().await;
    assert_eq!(
        rows.len(),
        2,
        "the pull request older than --since is left out"
    );
    let merged_row = setup.stack.db.pr("acme/api", 1).await;
    assert_eq!(merged_row["cycle_time_seconds"], 3 * 3600);
    assert_eq!(merged_row["review_time_seconds"], 90 * 60);
    assert_eq!(merged_row["first_approval_at"], "2026-03-02T10:30:00+00:00");

    assert_success(
        &setup
            .prpulse(&["repo", "backfill", "acme/api", "--since", "2026-01-01"])
            .await,
    );
    let worker_metrics = worker_addresses
        .wait_for("metrics", &mut stack_worker)
        .await
        .map(|addr| format!("http://{addr}/metrics"))
        .expect("the worker serves /metrics");
    // Settled, not just taken off the queue: the worker counts a delivery
    // once it committed and acked it.
    eventually(
        "the second backfill's three deliveries settled as duplicates",
        WITHIN,
        async || {
            let duplicates = worker_settled(&worker_metrics, "duplicate").await;
            if duplicates >= 3.0 {
                Ok(())
            } else {
                Err(duplicates)
            }
        },
    )
    .await;
    assert_eq!(
        setup.stack.db.deliveries().await,
        3,
        "the second run added nothing"
    );
    assert_eq!(setup.stack.db.pr_metrics().await, rows);
    let source = setup
        .stack
        .db
        .count("SELECT count(*) FROM deliveries WHERE source = 'backfill'")
        .await;
    assert_eq!(source, 3);
    let _ = stack_worker.start_kill();
}

#[tokio::test]
async fn backfill_publishes_deployments_and_their_statuses_once() {
    let mut setup = Setup::start().await;
    setup.stack.spawn_worker();
    setup.github.add_repository("acme/api", 10);
    let at = |hour| Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap();
    let dora = &setup.github.dora;
    dora.add_deployment(
        "acme/api",
        77,
        "abc",
        "production",
        at(9),
        &[(770, "in_progress", at(9)), (771, "success", at(10))],
    );
    dora.add_deployment(
        "acme/api",
        78,
        "def",
        "production",
        at(11),
        &[(780, "failure", at(12))],
    );
    let backfill = || setup.prpulse(&["repo", "backfill", "acme/api", "--since", "2026-01-01"]);
    let first = backfill().await;
    assert_success(&first);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("2 deployments and 3 deployment statuses"),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    setup.stack.wait_for_deliveries(5).await;
    let db = &setup.stack.db;
    let statuses = |sql: &'static str| async move { db.count(sql).await };
    assert_eq!(
        statuses("SELECT count(*) FROM deployments WHERE status = 'success'").await,
        1
    );
    assert_eq!(
        statuses("SELECT count(*) FROM dora_incidents WHERE source = 'failed_deploy'").await,
        1
    );
    assert_success(&backfill().await);
    let stack = &setup.stack;
    eventually(
        "the second backfill's deliveries to drain",
        WITHIN,
        async || prpulse_e2e::broker::ready_messages(&stack.topology.work_queue()).await == 0,
    )
    .await;
    assert_eq!(db.deliveries().await, 5, "the second run added nothing");
}
