//! The public endpoint under abuse: slow clients are cut off, a flood of
//! bad signatures from one source is limited without slowing verified
//! deliveries from others, and `X-Forwarded-For` counts only from trusted
//! proxies. Sources are told apart by binding clients to other loopback
//! addresses (127.0.0.0/8 is all loopback).

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, stack::WEBHOOK_SECRET,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
};

fn options() -> StackOptions {
    StackOptions {
        ingest_env: [
            ("PRPULSE_HEADER_TIMEOUT_MS", "1000"),
            ("PRPULSE_BODY_TIMEOUT_MS", "1000"),
            ("PRPULSE_FAILED_AUTH_BURST", "5"),
            ("PRPULSE_FAILED_AUTH_PER_MINUTE", "1"),
            ("PRPULSE_TRUSTED_PROXIES", "127.0.0.3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec(),
        ..StackOptions::ingest_only()
    }
}

fn delivery(number: i64) -> Delivery {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    PullRequestBuilder::new(&Repo::new(10, "acme/api"), number, &author, created).opened()
}

/// Posts `delivery` from `source`, signed with `secret`, with extra headers.
async fn post_from(
    stack: &Stack,
    source: &str,
    delivery: &Delivery,
    secret: &[u8],
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let client = prpulse_e2e::http_client()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut request = client
        .post(format!("{}/webhooks/github", stack.ingest_url))
        .header("X-GitHub-Event", &delivery.event)
        .header("X-GitHub-Delivery", &delivery.id)
        .header(
            "X-Hub-Signature-256",
            prpulse_github::sign(secret, &delivery.body),
        )
        .header("Content-Type", "application/json")
        .timeout(Duration::from_secs(10))
        .body(delivery.body.clone());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Opens a connection, sends `head` (and `body`) one byte every 200 ms,
/// and returns what the server answered and how long that took.
async fn trickle(stack: &Stack, head: &[u8], body: &[u8]) -> (String, Duration) {
    let addr = stack
        .ingest_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let mut stream = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap();
    let started = Instant::now();
    let sender = async {
        stream.write_all(&head[..head.len() - body.len()]).await?;
        for byte in body {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stream.write_all(&[*byte]).await?;
        }
        std::future::pending::<std::io::Result<()>>().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), sender).await;
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .map_or(0, |read| read.unwrap_or(0));
    (
        String::from_utf8_lossy(&answer[..read]).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_clients_are_cut_off_while_a_verified_delivery_goes_through() {
    let stack = Stack::start_with(options()).await;
    let signed = delivery(1);
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: prpulse\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {}\r\nX-Hub-Signature-256: {}\r\n\
         Content-Length: {}\r\n\r\n",
        signed.id,
        prpulse_github::sign(WEBHOOK_SECRET.as_bytes(), &signed.body),
        signed.body.len()
    );
    let slow_head = head.as_bytes().to_vec();
    let mut slow_body = head.as_bytes().to_vec();
    slow_body.extend_from_slice(&signed.body);
    let (head_answer, body_answer, verified) = tokio::join!(
        // The whole request head, a byte at a time.
        trickle(&stack, &slow_head, &slow_head),
        // The head at once, then the body a byte at a time.
        trickle(&stack, &slow_body, &signed.body),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let started = Instant::now();
            let status = stack.deliver(&delivery(2)).await.status();
            (status, started.elapsed())
        }
    );
    assert_eq!(verified.0, 202);
    assert!(
        verified.1 < Duration::from_secs(1),
        "verified took {:?}",
        verified.1
    );
    for (what, (answer, took)) in [("slow head", head_answer), ("slow body", body_answer)] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{what}: {answer:?}");
        assert!(
            took < Duration::from_secs(4),
            "{what}: cut off after {took:?}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_bad_signatures_is_limited_without_slowing_github() {
    let stack = Stack::start_with(options()).await;
    let flooder = "127.0.0.2";
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for number in 0..20 {
        let response = post_from(&stack, flooder, &delivery(number), b"guessed", &[]).await;
        if response.status() == 429 {
            retry_after = response.headers().get("retry-after").cloned();
        }
        statuses.push(response.status().as_u16());
        // Verified deliveries from GitHub's address keep going, promptly.
        let started = Instant::now();
        let genuine = post_from(
            &stack,
            "127.0.0.1",
            &delivery(100 + number),
            WEBHOOK_SECRET.as_bytes(),
            &[],
        )
        .await;
        assert_eq!(genuine.status(), 202, "genuine delivery during the flood");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    assert_eq!(&statuses[..5], &[401; 5], "the burst is answered 401");
    assert!(
        statuses[6..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    let retry_after: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let stack = Stack::start_with(options()).await;
    let proxy = "127.0.0.3";
    // Through the trusted proxy, each client is its own source.
    for number in 0..8 {
        post_from(
            &stack,
            proxy,
            &delivery(number),
            b"guessed",
            &[("X-Forwarded-For", "198.51.100.66")],
        )
        .await;
    }
    let blocked = post_from(
        &stack,
        proxy,
        &delivery(50),
        WEBHOOK_SECRET.as_bytes(),
        &[("X-Forwarded-For", "198.51.100.66")],
    )
    .await;
    assert_eq!(blocked.status(), 429, "the flooding client is limited");
    let other = post_from(
        &stack,
        proxy,
        &delivery(51),
        WEBHOOK_SECRET.as_bytes(),
        &[("X-Forwarded-For", "198.51.100.7")],
    )
    .await;
    assert_eq!(
        other.status(),
        202,
        "another client behind the same proxy is not"
    );
    // From an untrusted peer, the header is a claim, not a source.
    for number in 0..8 {
        post_from(
            &stack,
            "127.0.0.4",
            &delivery(60 + number),
            b"guessed",
            &[("X-Forwarded-For", "198.51.100.8")],
        )
        .await;
    }
    let claimed = post_from(
        &stack,
        "127.0.0.4",
        &delivery(70),
        WEBHOOK_SECRET.as_bytes(),
        &[("X-Forwarded-For", "198.51.100.9")],
    )
    .await;
    assert_eq!(
        claimed.status(),
        429,
        "a forged header does not escape the limit"
    );
}

#[tokio::test]
async fn with_the_allow_list_on_only_listed_sources_are_served() {
    let mut options = options();
    options.ingest_env.extend(
        [
            ("PRPULSE_SOURCE_ALLOWLIST", "true"),
            ("PRPULSE_ALLOWLIST_REFRESH_MS", "100"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let stack = &Stack::start_with(options).await;
    let signed = |number| async move {
        post_from(
            stack,
            "127.0.0.5",
            &delivery(number),
            WEBHOOK_SECRET.as_bytes(),
            &[],
        )
        .await
        .status()
    };
    // On but empty: nobody is served.
    assert_eq!(signed(1).await, 403);

    let meta = std::env::temp_dir().join(format!("meta-{}.json", prpulse_e2e::unique_suffix()));
    std::fs::write(
        &meta,
        r#"{"hooks": ["127.0.0.5/32", "192.30.252.0/22"], "web": []}"#,
    )
    .unwrap();
    let loaded = stack
        .cli(&["sources", "load-github-meta", meta.to_str().unwrap()])
        .await;
    let _ = std::fs::remove_file(&meta);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let listed = stack.cli(&["sources", "list"]).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("github  127.0.0.5/32"));

    let deadline = Instant::now() + Duration::from_secs(10);
    while signed(2).await != 202 {
        assert!(
            Instant::now() < deadline,
            "the loaded allow-list was never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outsider = post_from(
        stack,
        "127.0.0.6",
        &delivery(3),
        WEBHOOK_SECRET.as_bytes(),
        &[],
    )
    .await;
    assert_eq!(outsider.status(), 403);
}
