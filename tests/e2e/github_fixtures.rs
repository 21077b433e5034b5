//! The real GitHub payloads and captured deliveries in ../shared/fixtures,
//! read in place: each is answered as the contract says, parses, and
//! projects to the figures its README documents, in any order.

use std::path::Path;

use prpulse_domain::{EventDisposition, EventName};
use prpulse_e2e::{Delivery, Stack, StackOptions, broker, fixtures};
use rand::seq::SliceRandom;

/// The secret the captured ctbur/ci-server deliveries were signed with
/// (marked "not a valid secret, just for testing" at the source).
const CAPTURE_SECRET: &str = "sLBCQgxE29C1mgA0EVt4n2RMBPdH6iq1";

/// Every payload fixture as a delivery of its event, with the answer the
/// contract gives it.
fn payload_fixtures(root: &Path) -> Vec<(String, Delivery, u16)> {
    let mut found = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() && !path.ends_with("captures"))
        .collect();
    dirs.sort();
    for dir in dirs {
        let event = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        for file in files {
            let relative = file.strip_prefix(root).unwrap().display().to_string();
            found.push((
                relative,
                delivery(&event, std::fs::read(&file).unwrap()),
                status_for(&event),
            ));
        }
    }
    for (file, event) in [
        (
            "captures/pull_request.opened.reallyfastci-pr3.json",
            "pull_request",
        ),
        (
            "captures/pull_request_review.submitted.approved.go-playground.json",
            "pull_request_review",
        ),
    ] {
        found.push((
            file.to_owned(),
            delivery(event, fixtures::read(root, file)),
            202,
        ));
    }
    found
}

fn delivery(event: &str, body: Vec<u8>) -> Delivery {
    Delivery {
        event: event.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        body,
    }
}

/// The contract's answer for a verified delivery of `event`: 200 for the
/// ping, 202 for what prpulse consumes, 204 for the rest. The fixtures'
/// folder grows with events prpulse does not use (check_suite, release…),
/// so the answer comes from the one list of consumed events.
fn status_for(event: &str) -> u16 {
    match EventName::parse(event)
        .unwrap_or_else(|error| panic!("fixture folder {event}: {error}"))
        .disposition()
    {
        EventDisposition::Ping => 200,
        EventDisposition::Enqueue => 202,
        EventDisposition::Ignore => 204,
    }
}

async fn deliver_all(stack: &Stack, deliveries: &[(String, Delivery, u16)]) -> i64 {
    let mut enqueued = 0;
    for (file, delivery, expected) in deliveries {
        let status = stack.deliver(delivery).await.status().as_u16();
        assert_eq!(status, *expected, "{file}");
        enqueued += i64::from(status == 202);
    }
    enqueued
}

#[test]
fn every_pull_request_and_review_fixture_parses() {
    let Some(root) = fixtures::available() else {
        return;
    };
    let mut parsed = 0;
    for (file, delivery, _) in payload_fixtures(&root) {
        match delivery.event.as_str() {
            "pull_request" => {
                serde_json::from_slice::<prpulse_github::payload::PullRequestEvent>(&delivery.body)
                    .unwrap_or_else(|error| panic!("{file}: {error}"));
            }
            "pull_request_review" => {
                serde_json::from_slice::<prpulse_github::payload::PullRequestReviewEvent>(
                    &delivery.body,
                )
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            }
            _ => continue,
        }
        parsed += 1;
    }
    assert!(parsed >= 17, "only {parsed} pull request fixtures found");
}

#[test]
fn every_deployment_workflow_and_issue_fixture_parses() {
    use prpulse_github::dora_events::{
        DeploymentEvent, DeploymentStatusEvent, IssuesEvent, WorkflowRunEvent,
    };
    let Some(root) = fixtures::available() else {
        return;
    };
    let mut parsed = 0;
    for (file, delivery, _) in payload_fixtures(&root) {
        let body = &delivery.body;
        let result = match delivery.event.as_str() {
            "deployment" => serde_json::from_slice::<DeploymentEvent>(body).err(),
            "deployment_status" => serde_json::from_slice::<DeploymentStatusEvent>(body).err(),
            "workflow_run" => serde_json::from_slice::<WorkflowRunEvent>(body)
                .map(|event| assert!(event.workflow_path().is_some(), "{file}: no path"))
                .err(),
            "issues" => serde_json::from_slice::<IssuesEvent>(body).err(),
            _ => continue,
        };
        assert!(result.is_none(), "{file}: {result:?}");
        parsed += 1;
    }
    assert!(parsed >= 26, "only {parsed} DORA fixtures found");
}

#[tokio::test]
async fn every_fixture_is_answered_by_the_contract_and_projected() {
    let Some(root) = fixtures::available() else {
        return;
    };
    let stack = Stack::start().await;
    let deliveries = payload_fixtures(&root);
    let enqueued = deliver_all(&stack, &deliveries).await;
    stack.wait_for_deliveries(enqueued).await;
    assert_eq!(
        broker::ready_messages(&stack.topology.dead_queue()).await,
        0
    );

    let rows = stack.db.pr_metrics().await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    // Opened 2019-11-13T01:28:51Z, merged 2019-11-26T07:01:13Z, no review.
    let merged = stack.db.pr("ailisp/gcbapp-buildconfig-example", 3).await;
    assert_eq!(merged["state"], "merged");
    assert_eq!(merged["author"], "byao1276");
    assert_eq!(merged["cycle_time_seconds"], 1_143_142);
    assert_eq!(merged["review_time_seconds"], serde_json::Value::Null);
    // skalnik's PR, approved by baxterthehacker 86 s after it was opened.
    let approved = stack.db.pr("baxterthehacker/public-repo", 8).await;
    assert_eq!(approved["review_time_seconds"], 86);
    assert_eq!(approved["first_approval_at"], "2016-10-03T23:39:09+00:00");
    // Codertocat reviewed their own PR: no review time. Never merged.
    let own = stack.db.pr("Codertocat/Hello-World", 2).await;
    assert_eq!(own["author"], "Codertocat");
    assert_eq!(own["created_at"], "2019-05-15T15:20:33+00:00");
    assert_eq!(own["ready_at"], "2019-05-15T15:20:33+00:00");
    assert_eq!(own["review_time_seconds"], serde_json::Value::Null);
    assert_eq!(own["cycle_time_seconds"], serde_json::Value::Null);
    assert_eq!(own["pull_request_id"], 279_147_437);
    // Unprojected events are kept raw.
    let raw = stack
        .db
        .count(
            "SELECT count(*) FROM deliveries d JOIN delivery_payloads p USING (delivery_id)
             WHERE d.outcome = 'stored'",
        )
        .await;
    assert!(raw >= 5, "{raw} raw deliveries stored");
    // team and membership are projected: the deleted team has no members.
    let teams = stack
        .db
        .count("SELECT count(*) FROM github_teams WHERE github_id = 3253328 AND deleted")
        .await;
    assert_eq!(
        teams, 1,
        "team/deleted.json and the deleted-team membership"
    );
}

#[tokio::test]
async fn fixtures_in_any_order_give_identical_rows() {
    let Some(root) = fixtures::available() else {
        return;
    };
    let in_order = Stack::start().await;
    let shuffled = Stack::start_with(StackOptions {
        workers: 2,
        ..StackOptions::default()
    })
    .await;
    let deliveries = payload_fixtures(&root);
    let mut reordered = deliveries.clone();
    reordered.reverse();
    reordered.shuffle(&mut rand::rng());
    let enqueued = deliver_all(&in_order, &deliveries).await;
    assert_eq!(deliver_all(&shuffled, &reordered).await, enqueued);
    in_order.wait_for_deliveries(enqueued).await;
    shuffled.wait_for_deliveries(enqueued).await;
    assert_eq!(
        shuffled.db.pr_metrics().await,
        in_order.db.pr_metrics().await
    );
}

#[tokio::test]
async fn captured_deliveries_verify_with_githubs_own_signatures() {
    let Some(root) = fixtures::available() else {
        return;
    };
    let stack = Stack::start_with(StackOptions {
        webhook_secret: Some(CAPTURE_SECRET.into()),
        ..StackOptions::ingest_only()
    })
    .await;
    let other = Stack::start_with(StackOptions {
        webhook_secret: Some("some other secret".into()),
        ..StackOptions::ingest_only()
    })
    .await;
    for capture in [
        "push.ctbur-ci-server",
        "push.branch-deleted.ctbur-ci-server",
    ] {
        let body = fixtures::read(&root, &format!("captures/{capture}.delivery.body.json"));
        let headers: Vec<(String, String)> =
            fixtures::headers(&root, &format!("captures/{capture}.delivery.headers.txt"))
                .into_iter()
                .filter(|(name, _)| name != "user-agent")
                .collect();
        let headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        // push is verified but not handled.
        assert_eq!(
            stack.post(&headers, body.clone()).await.status(),
            204,
            "{capture}"
        );
        assert_eq!(
            other.post(&headers, body.clone()).await.status(),
            401,
            "{capture}: other secret"
        );
        let mut tampered = body.clone();
        tampered[body.len() / 2] ^= 0x01;
        assert_eq!(
            stack.post(&headers, tampered).await.status(),
            401,
            "{capture}: one byte changed"
        );
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(
            stack.post(&headers, pretty).await.status(),
            401,
            "{capture}: re-serialised"
        );
    }
}

#[tokio::test]
async fn a_captured_ping_without_signature_or_hook_id_is_refused() {
    let Some(root) = fixtures::available() else {
        return;
    };
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let body = fixtures::read(&root, "captures/ping.reallyfastci.json");
    let headers: Vec<(String, String)> =
        fixtures::headers(&root, "captures/ping.reallyfastci.headers.txt")
            .into_iter()
            .filter(|(name, _)| name.starts_with("x-github"))
            .collect();
    assert!(headers.iter().all(|(name, _)| name != "x-github-hook-id"));
    let headers: Vec<(&str, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    let response = stack.post(&headers, body).await;
    assert_eq!(response.status(), 401);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["reason"], "missing");
}
