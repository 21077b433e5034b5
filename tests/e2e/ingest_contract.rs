//! Every row of the ingest contract (DESIGN.md), through real HTTP against
//! the real prpulse-ingest binary, real RabbitMQ and real Postgres.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker,
    stack::{SECRET_KEY, WEBHOOK_SECRET, free_port},
};
use prpulse_store::{Keyring, SecretKey, secrets::set_hook_secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn opened_pull_request() -> Delivery {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    PullRequestBuilder::new(&Repo::new(10, "acme/api"), 7, &author, created).opened()
}

type Headers = Vec<(&'static str, String)>;

/// A refused request: what it is, its headers, its body.
type Case = (&'static str, Headers, Vec<u8>);

fn headers_of(delivery: &Delivery, signature: String) -> Headers {
    vec![
        ("X-GitHub-Event", delivery.event.clone()),
        ("X-GitHub-Delivery", delivery.id.clone()),
        ("X-Hub-Signature-256", signature),
        ("Content-Type", "application/json".into()),
    ]
}

fn without(mut headers: Headers, name: &str) -> Headers {
    headers.retain(|(header, _)| *header != name);
    headers
}

fn replacing(headers: Headers, name: &'static str, value: &str) -> Headers {
    let mut headers = without(headers, name);
    headers.push((name, value.to_owned()));
    headers
}

async fn queued(stack: &Stack) -> u32 {
    broker::ready_messages(&stack.topology.work_queue()).await
}

#[tokio::test]
async fn a_verified_delivery_is_confirmed_by_the_broker_before_202() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let delivery = opened_pull_request();
    let response = stack.deliver(&delivery).await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["delivery_id"], delivery.id.as_str());
    // 202 means the message is already on the queue, not on its way.
    assert_eq!(queued(&stack).await, 1);
    let message = broker::take_one(&stack.topology.work_queue())
        .await
        .unwrap();
    assert_eq!(
        prpulse_queue::envelope::payload_encoding(&message.delivery.properties),
        Ok(prpulse_queue::PayloadEncoding::Lz4),
        "ingest compresses once, and says so"
    );
    assert!(message.delivery.data.len() < delivery.body.len());
    assert_eq!(
        broker::decoded_body(&message.delivery),
        delivery.body,
        "the body is the raw payload, compressed"
    );
    assert_eq!(message.delivery.routing_key.as_str(), "pull_request.opened");
    assert_eq!(*message.delivery.properties.delivery_mode(), Some(2));
}

#[tokio::test]
async fn ping_is_answered_and_unhandled_events_get_204_without_enqueueing() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let ping = Delivery::new(
        "ping",
        &serde_json::json!({"zen": "Keep it logically awesome.", "hook_id": 1}),
    );
    assert_eq!(stack.deliver(&ping).await.status(), 200);
    let push = Delivery::new("push", &serde_json::json!({"ref": "refs/heads/main"}));
    assert_eq!(stack.deliver(&push).await.status(), 204);
    assert_eq!(queued(&stack).await, 0);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let delivery = opened_pull_request();
    let signature = prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), &delivery.body);
    let signed = headers_of(&delivery, signature);
    let body = delivery.body.clone();
    let empty_signed = headers_of(
        &delivery,
        prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), b""),
    );
    let cases: Vec<Case> = vec![
        ("empty body", empty_signed, vec![]),
        (
            "no event",
            without(signed.clone(), "X-GitHub-Event"),
            body.clone(),
        ),
        (
            "malformed event",
            replacing(signed.clone(), "X-GitHub-Event", "Pull Request"),
            body.clone(),
        ),
        (
            "no delivery id",
            without(signed.clone(), "X-GitHub-Delivery"),
            body.clone(),
        ),
        (
            "malformed delivery id",
            replacing(signed.clone(), "X-GitHub-Delivery", "not a guid!"),
            body.clone(),
        ),
    ];
    for (case, headers, body) in cases {
        let response = stack.post(&headers, body).await;
        assert_eq!(response.status(), 400, "{case}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: {error}"
        );
    }
    // A signed body that is not a JSON object cannot be routed.
    let not_json = Delivery {
        body: b"definitely not json".to_vec(),
        ..delivery
    };
    assert_eq!(stack.deliver(&not_json).await.status(), 400);
    assert_eq!(queued(&stack).await, 0);
}

#[tokio::test]
async fn bad_signatures_are_401() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let delivery = opened_pull_request();
    let right = prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), &delivery.body);
    let wrong = prpulse_github::sign(b"another secret", &delivery.body);
    let mut tampered = delivery.body.clone();
    tampered.push(b' ');
    let signed = headers_of(&delivery, right.clone());
    let body = delivery.body.clone();
    let sha1_only = replacing(
        without(signed.clone(), "X-Hub-Signature-256"),
        "X-Hub-Signature",
        "sha1=0123456789abcdef0123456789abcdef01234567",
    );
    let cases: Vec<Case> = vec![
        ("wrong secret", headers_of(&delivery, wrong), body.clone()),
        ("body changed after signing", signed.clone(), tampered),
        (
            "malformed",
            headers_of(&delivery, "sha256=zz".into()),
            body.clone(),
        ),
        (
            "no prefix",
            headers_of(&delivery, right[7..].to_owned()),
            body.clone(),
        ),
        (
            "missing",
            without(signed.clone(), "X-Hub-Signature-256"),
            body.clone(),
        ),
        ("SHA-1 only", sha1_only, body),
    ];
    for (case, headers, body) in cases {
        let response = stack.post(&headers, body).await;
        assert_eq!(response.status(), 401, "{case}");
    }
    assert_eq!(queued(&stack).await, 0);
    // The same delivery, rightly signed, goes through.
    assert_eq!(stack.deliver(&delivery).await.status(), 202);
}

#[tokio::test]
async fn without_any_known_secret_every_delivery_is_401() {
    let stack = Stack::start_with(StackOptions {
        webhook_secret: None,
        ..StackOptions::ingest_only()
    })
    .await;
    let delivery = opened_pull_request();
    let response = stack
        .deliver_signed(&delivery, WEBHOOK_SECRET.as_bytes(), Some(424242))
        .await;
    assert_eq!(response.status(), 401);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["reason"], "no_secret");
}

#[tokio::test]
async fn hooks_prpulse_installed_use_their_own_secrets_through_a_rotation() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let key = Keyring::new(SecretKey::parse(SECRET_KEY).unwrap(), None);
    let client = stack.db.pool().get().await.unwrap();
    let in_an_hour = Some(Utc::now() + chrono::Duration::hours(1));
    let an_hour_ago = Some(Utc::now() - chrono::Duration::hours(1));
    // Hook 1 was rotated from "old-1" to "new-1" and is inside the overlap.
    set_hook_secret(&client, &key, 1, b"old-1", None)
        .await
        .unwrap();
    set_hook_secret(&client, &key, 1, b"new-1", in_an_hour)
        .await
        .unwrap();
    // Hook 2 was rotated from "old-2" to "new-2" and the overlap is over.
    set_hook_secret(&client, &key, 2, b"old-2", None)
        .await
        .unwrap();
    set_hook_secret(&client, &key, 2, b"new-2", an_hour_ago)
        .await
        .unwrap();

    let status = |secret: &'static str, hook: Option<i64>| {
        let stack = &stack;
        async move {
            stack
                .deliver_signed(&opened_pull_request(), secret.as_bytes(), hook)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("new-1", Some(1)).await, 202);
    assert_eq!(
        status("old-1", Some(1)).await,
        202,
        "previous secret during overlap"
    );
    assert_eq!(status("new-2", Some(2)).await, 202);
    assert_eq!(
        status("old-2", Some(2)).await,
        401,
        "previous secret after overlap"
    );
    assert_eq!(status("new-2", Some(1)).await, 401, "another hook's secret");
    assert_eq!(
        status(WEBHOOK_SECRET, Some(1)).await,
        401,
        "a hook with its own secret does not take the global one"
    );
    assert_eq!(
        status(WEBHOOK_SECRET, Some(3)).await,
        202,
        "unknown hook: global secret"
    );
    assert_eq!(
        status(WEBHOOK_SECRET, None).await,
        202,
        "no hook id: global secret"
    );
    assert_eq!(queued(&stack).await, 5);
}

#[tokio::test]
async fn form_encoded_deliveries_are_verified_on_the_raw_body_and_unwrapped() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let delivery = opened_pull_request();
    let form = format!(
        "payload={}",
        url_encode(std::str::from_utf8(&delivery.body).unwrap())
    )
    .into_bytes();
    let signature = prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), &form);
    let headers = replacing(
        headers_of(&delivery, signature),
        "Content-Type",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(stack.post(&headers, form).await.status(), 202);
    let message = broker::take_one(&stack.topology.work_queue())
        .await
        .unwrap();
    assert_eq!(broker::decoded_body(&message.delivery), delivery.body);
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_body_over_25_mib_is_413_before_it_is_read() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let addr = stack.ingest_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Announce 30 MB, send one byte, and never send the rest.
    stream
        .write_all(
            b"POST /webhooks/github HTTP/1.1\r\nHost: prpulse\r\nContent-Type: application/json\r\n\
              X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: 0b989ba4-242f-11e5-81e1-c7b6966d2516\r\n\
              X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n\
              Content-Length: 30000000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("ingest answers without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn headers_and_signature_format_are_refused_before_the_body_is_read() {
    let stack = Stack::start_with(StackOptions {
        webhook_secret: None,
        ..StackOptions::ingest_only()
    })
    .await;
    let addr = stack.ingest_url.trim_start_matches("http://").to_owned();
    let id = "X-GitHub-Delivery: 0b989ba4-242f-11e5-81e1-c7b6966d2516\r\n";
    let event = "X-GitHub-Event: pull_request\r\n";
    let signature = "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n";
    let cases = [
        ("no signature", format!("{event}{id}"), "401", "\"missing\""),
        (
            "malformed signature",
            format!("{event}{id}X-Hub-Signature-256: sha256=zz\r\n"),
            "401",
            "\"malformed\"",
        ),
        (
            "SHA-1 only",
            format!(
                "{event}{id}X-Hub-Signature: sha1=0123456789abcdef0123456789abcdef01234567\r\n"
            ),
            "401",
            "\"sha1_only\"",
        ),
        (
            "no event",
            format!("{id}{signature}"),
            "400",
            "\"bad_headers\"",
        ),
        (
            "no secret known for the hook",
            format!("{event}{id}X-GitHub-Hook-ID: 77\r\n{signature}"),
            "401",
            "\"no_secret\"",
        ),
    ];
    for (case, headers, status, reason) in cases {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // Announce a megabyte, send one byte, and never send the rest.
        stream
            .write_all(
                format!(
                    "POST /webhooks/github HTTP/1.1\r\nHost: prpulse\r\nContent-Type: application/json\r\n\
                     {headers}Content-Length: 1000000\r\n\r\n{{"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = vec![0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{case}: ingest waited for the body"))
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{case}: {answer}"
        );
        assert!(answer.contains(reason), "{case}: {answer}");
    }
}

#[tokio::test]
async fn an_unreachable_broker_means_503_at_once_and_not_ready() {
    let closed_port = free_port();
    let stack = Stack::start_with(StackOptions {
        amqp_url: Some(format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f")),
        wait_ready: false,
        ..StackOptions::ingest_only()
    })
    .await;
    let started = Instant::now();
    let response = stack.deliver(&opened_pull_request()).await;
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "GitHub waits 10 s at most; ingest took {:?}",
        started.elapsed()
    );
    let ready = stack.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["broker"], false);
    assert_eq!(ready["database"], true);
    assert_eq!(stack.get("/livez").await.status(), 200);
}

#[tokio::test]
async fn sigterm_stops_ingest_and_worker_cleanly() {
    let mut stack = Stack::start().await;
    assert_eq!(stack.deliver(&opened_pull_request()).await.status(), 202);
    stack.wait_for_deliveries(1).await;
    assert!(stack.terminate_ingest().await.success());
    for status in stack.terminate_workers().await {
        assert!(status.success(), "{status}");
    }
}
