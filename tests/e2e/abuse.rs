//! The public endpoint under abuse: slow clients are cut off, a flood of
//! bad signatures is limited without ever costing a verified delivery its
//! 202 (even one from the flooder's own address, which is GitHub's when
//! an outsider points a hook with a wrong secret at us), unverified bodies
//! stay within a memory budget, `/readyz` costs Postgres nothing, and
//! `X-Forwarded-For` counts only from trusted proxies. Sources are told
//! apart by binding clients to other loopback addresses (127.0.0.0/8 is
//! all loopback).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use futures_util::{StreamExt, stream};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, broker, eventually,
    listen::ANY_LOCAL_PORT,
    proxy::FaultProxy,
    stack::{SECRET_KEY, WEBHOOK_SECRET},
};
use prpulse_store::{Keyring, SecretKey, secrets::set_hook_secret};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::Barrier,
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

/// An HTTP client whose requests come from `source`.
fn client_from(source: &str) -> reqwest::Client {
    prpulse_e2e::http_client()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Posts `delivery` from `source`, signed with `secret`, with extra headers.
async fn post_from(
    stack: &Stack,
    source: &str,
    delivery: &Delivery,
    secret: &[u8],
    extra: &[(&str, &str)],
) -> reqwest::Response {
    post_with(&client_from(source), stack, delivery, secret, extra).await
}

async fn post_with(
    client: &reqwest::Client,
    stack: &Stack,
    delivery: &Delivery,
    secret: &[u8],
    extra: &[(&str, &str)],
) -> reqwest::Response {
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
/// and returns what the server answered, how long that took, and when.
async fn trickle(stack: &Stack, head: &[u8], body: &[u8]) -> (String, Duration, Instant) {
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
        Instant::now(),
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
            let status = stack.deliver(&delivery(2)).await.status();
            (status, Instant::now())
        }
    );
    let (status, verified_at) = verified;
    assert_eq!(status, 202);
    for (what, (answer, took, cut_at)) in [("slow head", head_answer), ("slow body", body_answer)] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{what}: {answer:?}");
        assert!(
            took < Duration::from_secs(4),
            "{what}: cut off after {took:?}"
        );
        // Not held behind them: answered while they were still connected.
        assert!(
            verified_at < cut_at,
            "the verified delivery was answered only after the {what} was cut off"
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
        // Not made to wait out the flooder's budget (a minute per refusal).
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(&statuses[..5], &[401; 5], "the burst is answered 401");
    assert!(
        statuses[6..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    let retry_after: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

/// Sends wrong-signature deliveries from `peer` with these extra headers
/// until one is answered 429; panics if the burst never runs out.
async fn spend_budget(stack: &Stack, peer: &str, extra: &[(&str, &str)]) {
    let client = client_from(peer);
    for number in 0..20 {
        let status = post_with(&client, stack, &delivery(number), b"guessed", extra)
            .await
            .status();
        if status == 429 {
            return;
        }
        assert_eq!(status, 401, "a wrong signature, within the burst");
    }
    panic!("20 wrong signatures from {peer} {extra:?} never got 429");
}

async fn wrong_signature_status(stack: &Stack, peer: &str, extra: &[(&str, &str)]) -> u16 {
    post_from(stack, peer, &delivery(99), b"guessed", extra)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let stack = Stack::start_with(options()).await;
    let proxy = "127.0.0.3";
    // Through the trusted proxy, each client is its own source; the port
    // a proxy may append is not part of it.
    spend_budget(&stack, proxy, &[("X-Forwarded-For", "198.51.100.66:40001")]).await;
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[("X-Forwarded-For", "198.51.100.66:40002")]).await,
        429,
        "the flooding client is limited, whatever its port"
    );
    let verified = post_from(
        &stack,
        proxy,
        &delivery(50),
        WEBHOOK_SECRET.as_bytes(),
        &[("X-Forwarded-For", "198.51.100.66")],
    )
    .await;
    assert_eq!(
        verified.status(),
        202,
        "but its verified deliveries are not"
    );
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[("X-Forwarded-For", "198.51.100.7")]).await,
        401,
        "another client behind the same proxy has its own budget"
    );
    // The proxy nearest to us appends its own line: every line is read,
    // so the client's own claim in the first does not name a fresh source.
    let two_lines = post_from(
        &stack,
        proxy,
        &delivery(51),
        b"guessed",
        &[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-For", "198.51.100.66"),
        ],
    )
    .await;
    assert_eq!(two_lines.status(), 429);

    // From an untrusted peer, the header is a claim, not a source.
    spend_budget(&stack, "127.0.0.4", &[("X-Forwarded-For", "198.51.100.8")]).await;
    assert_eq!(
        wrong_signature_status(&stack, "127.0.0.4", &[("X-Forwarded-For", "198.51.100.9")]).await,
        429,
        "a forged header does not escape the limit"
    );
}

#[tokio::test]
async fn a_forwarded_hop_that_does_not_parse_never_spends_the_proxys_budget() {
    let stack = Stack::start_with(options()).await;
    let proxy = "127.0.0.3";
    spend_budget(&stack, proxy, &[("X-Forwarded-For", "unknown")]).await;
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[]).await,
        401,
        "the proxy's own requests (no header) are another source"
    );
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[("X-Forwarded-For", "198.51.100.7")]).await,
        401
    );
    // IPv6 clients are budgeted per /64, written with or without a port.
    spend_budget(
        &stack,
        proxy,
        &[("X-Forwarded-For", "[2001:db8:1:2::1]:443")],
    )
    .await;
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[("X-Forwarded-For", "2001:db8:1:2::ffff")]).await,
        429,
        "another address in the same /64"
    );
    assert_eq!(
        wrong_signature_status(&stack, proxy, &[("X-Forwarded-For", "2001:db8:1:3::1")]).await,
        401,
        "the next /64"
    );
}

/// The secret of a hook prpulse installed, stored as the scheduler would.
async fn store_hook_secret(stack: &Stack, hook_id: i64, secret: &[u8]) {
    let key = Keyring::new(SecretKey::parse(SECRET_KEY).unwrap(), None);
    let client = stack.db.pool().get().await.unwrap();
    set_hook_secret(&client, &key, hook_id, secret, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_flood_of_wrong_signatures_never_costs_a_verified_delivery_its_202() {
    let stack = Stack::start_with(options()).await;
    let ours = 4242;
    store_hook_secret(&stack, ours, b"our hook's own secret").await;
    // GitHub's address, carrying an outsider's hook (wrong secret) and ours.
    let client = client_from("127.0.0.7");
    let jobs = (0..2_100_i64).map(|n| {
        let client = &client;
        let stack = &stack;
        async move {
            let delivery = delivery(1_000 + n);
            let (verified, secret, hook): (bool, &[u8], Option<String>) = match (n % 21, n % 4) {
                // Our stored hook, and an organisation hook on the global secret.
                (0, 0 | 1) => (true, b"our hook's own secret", Some(ours.to_string())),
                (0, _) => (true, WEBHOOK_SECRET.as_bytes(), Some("777".into())),
                // The outsider's hook, with and without an id, and forgeries of ours.
                (_, 0) => (false, b"outsider", Some("31337".into())),
                (_, 1) => (false, b"outsider", None),
                (_, 2) => (false, b"outsider", Some(ours.to_string())),
                (_, _) => (false, b"outsider", Some("777".into())),
            };
            let mut extra = Vec::new();
            if let Some(hook) = &hook {
                extra.push(("X-GitHub-Hook-ID", hook.as_str()));
            }
            let status = post_with(client, stack, &delivery, secret, &extra)
                .await
                .status()
                .as_u16();
            (verified, status)
        }
    });
    let answers: Vec<(bool, u16)> = stream::iter(jobs).buffer_unordered(8).collect().await;
    let verified: Vec<u16> = answers
        .iter()
        .filter(|(v, _)| *v)
        .map(|(_, s)| *s)
        .collect();
    let refused: Vec<u16> = answers
        .iter()
        .filter(|(v, _)| !*v)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(refused.len(), 2_000);
    assert_eq!(verified.len(), 100);
    assert!(
        verified.iter().all(|status| *status == 202),
        "verified deliveries refused: {:?}",
        verified
            .iter()
            .filter(|status| **status != 202)
            .collect::<Vec<_>>()
    );
    assert!(refused.iter().all(|status| [401, 429].contains(status)));
    let limited = refused.iter().filter(|status| **status == 429).count();
    assert!(limited >= 1_900, "only {limited} of the flood got 429");
    assert_eq!(
        broker::ready_messages(&stack.topology.work_queue()).await,
        100,
        "every 202 is on the queue"
    );
}

fn large_upload_head(declared: usize, signature: &str, hook_id: Option<i64>) -> Vec<u8> {
    let delivery = delivery(7);
    let hook = hook_id.map_or(String::new(), |id| format!("X-GitHub-Hook-ID: {id}\r\n"));
    format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: prpulse\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {}\r\n{hook}X-Hub-Signature-256: {signature}\r\n\
         Content-Length: {declared}\r\n\r\n",
        delivery.id,
    )
    .into_bytes()
}

const WRONG_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn ingest_addr(stack: &Stack) -> SocketAddr {
    stack
        .ingest_url
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

async fn connect_from(ingest: SocketAddr, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(ingest).await.unwrap()
}

/// The status line of what ingest answered, or why there is none.
async fn answer(stream: &mut TcpStream) -> String {
    let mut answer = vec![0u8; 1024];
    match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut answer)).await {
        Ok(Ok(read)) => String::from_utf8_lossy(&answer[..read]).into_owned(),
        Ok(Err(error)) => format!("closed: {error}"),
        Err(_) => "no answer in 20 s".to_owned(),
    }
}

/// `VmHWM` (peak resident memory) of `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_large_unverified_uploads_from_one_address_stay_within_memory() {
    const MIB: usize = 1024 * 1024;
    const UPLOADS: usize = 40;
    let stack = Stack::start_with(StackOptions {
        ingest_env: vec![("PRPULSE_FAILED_AUTH_BURST".into(), "5".into())],
        ..StackOptions::ingest_only()
    })
    .await;
    let source = "127.0.0.8";
    let chunk = Arc::new(vec![b'x'; MIB]);
    // Every upload sends its head and a first mebibyte, then waits until
    // a verified delivery has been sent from the same address.
    let started = Arc::new(Barrier::new(UPLOADS + 1));
    let go = Arc::new(Barrier::new(UPLOADS + 1));
    let ingest = ingest_addr(&stack);
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let (chunk, started, go) = (chunk.clone(), started.clone(), go.clone());
            let head = large_upload_head(25 * MIB, WRONG_SIGNATURE, None);
            tokio::spawn(async move {
                let mut stream = connect_from(ingest, source).await;
                let mut open =
                    stream.write_all(&head).await.is_ok() && stream.write_all(&chunk).await.is_ok();
                started.wait().await;
                go.wait().await;
                for _ in 1..25 {
                    open = open && stream.write_all(&chunk).await.is_ok();
                }
                answer(&mut stream).await
            })
        })
        .collect();
    started.wait().await;
    let verified = post_from(&stack, source, &delivery(1), WEBHOOK_SECRET.as_bytes(), &[]).await;
    assert_eq!(
        verified.status(),
        202,
        "a verified delivery during the uploads"
    );
    go.wait().await;
    let answers: Vec<String> = futures_util::future::join_all(uploads)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let peak = peak_rss(stack.ingest_pid().unwrap());
    eprintln!(
        "ingest peak RSS after {UPLOADS} concurrent 25 MiB unverified uploads: {:.1} MB",
        peak as f64 / 1e6
    );
    assert!(
        peak < 200_000_000,
        "ingest peaked at {:.1} MB",
        peak as f64 / 1e6
    );
    assert!(
        answers
            .iter()
            .all(|answer| !answer.starts_with("HTTP/1.1 2")),
        "{answers:?}"
    );
    let read_to_the_end = answers
        .iter()
        .filter(|answer| answer.starts_with("HTTP/1.1 401"))
        .count();
    let refused_unread = answers
        .iter()
        .filter(|answer| answer.starts_with("HTTP/1.1 429") || answer.starts_with("closed"))
        .count();
    assert!(refused_unread >= UPLOADS - 2, "{answers:?}");
    assert!(
        read_to_the_end <= 2,
        "{read_to_the_end} bodies were read: {answers:?}"
    );
}

#[tokio::test]
async fn a_body_that_does_not_fit_the_budget_is_503_with_retry_after_before_it_is_read() {
    let stack = Stack::start_with(StackOptions {
        ingest_env: [
            ("PRPULSE_MAX_BODY_BYTES", "2097152"),
            ("PRPULSE_BODY_BUDGET_BYTES", "3145728"),
            ("PRPULSE_BODY_TIMEOUT_MS", "3000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec(),
        ..StackOptions::ingest_only()
    })
    .await;
    // 2 MiB declared and held open: most of the share large bodies may use.
    let mut held = connect_from(ingest_addr(&stack), "127.0.0.9").await;
    held.write_all(&large_upload_head(2 * 1024 * 1024, WRONG_SIGNATURE, None))
        .await
        .unwrap();
    held.write_all(b"{").await.unwrap();
    // Another source's 1.5 MiB does not fit beside it. Which of the two
    // ingest reserves first is up to its scheduling (on a loaded machine
    // the second head is sometimes read first), so the first answer, from
    // either, must be the refusal: the one that fits waits for its body,
    // which never comes, until the body timeout.
    let mut other = connect_from(ingest_addr(&stack), "127.0.0.10").await;
    other
        .write_all(&large_upload_head(1536 * 1024, WRONG_SIGNATURE, None))
        .await
        .unwrap();
    other.write_all(b"{").await.unwrap();
    let answer = tokio::select! {
        answer = answer(&mut held) => answer,
        answer = answer(&mut other) => answer,
    };
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
    assert!(answer.contains("body_budget_exhausted"), "{answer}");
    // The small deliveries GitHub sends almost always still fit.
    let verified = post_from(
        &stack,
        "127.0.0.10",
        &delivery(2),
        WEBHOOK_SECRET.as_bytes(),
        &[],
    )
    .await;
    assert_eq!(verified.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_costs_postgres_nothing_and_a_flood_of_it_leaves_lookups_their_pool() {
    let postgres = FaultProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let stack = Stack::start_with(StackOptions {
        database_port_for_binaries: Some(postgres.port()),
        ingest_env: vec![("PRPULSE_DB_POOL_SIZE".into(), "1".into())],
        ..StackOptions::ingest_only()
    })
    .await;
    let http = prpulse_e2e::http_client().build().unwrap();
    let before = postgres.bytes_from_target();
    let probes = stream::iter(0..500)
        .map(|_| {
            let http = &http;
            let url = format!("{}/readyz", stack.ingest_url);
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(32);
    // Meanwhile, deliveries whose hook ids are not cached: each needs a
    // lookup on the (one-connection) pool.
    let client = client_from("127.0.0.1");
    let lookups = stream::iter(0..20_i64)
        .map(|n| {
            let (client, stack) = (&client, &stack);
            async move {
                let hook = (5_000 + n).to_string();
                post_with(
                    client,
                    stack,
                    &delivery(n),
                    WEBHOOK_SECRET.as_bytes(),
                    &[("X-GitHub-Hook-ID", &hook)],
                )
                .await
                .status()
                .as_u16()
            }
        })
        .buffer_unordered(4);
    let (probes, lookups): (Vec<u16>, Vec<u16>) = tokio::join!(probes.collect(), lookups.collect());
    let spent = postgres.bytes_from_target();
    eprintln!(
        "bytes from Postgres during 500 /readyz and 20 lookups: {}",
        spent - before
    );
    assert!(probes.iter().all(|status| *status == 200), "{probes:?}");
    assert!(lookups.iter().all(|status| *status == 202), "{lookups:?}");
    // Twenty lookups and a background probe or two answer a few KB; one
    // `SELECT 1` per request would be at least 58 bytes each, 29 KB.
    let per_probe = (spent - before).saturating_sub(20 * 400) / 500;
    assert!(
        per_probe < 10,
        "{} bytes from Postgres during 500 /readyz and 20 lookups",
        spent - before
    );
}

#[tokio::test]
async fn a_random_hook_id_costs_one_lookup_per_ttl() {
    let mut options = options();
    options.webhook_secret = None;
    options
        .ingest_env
        .push(("PRPULSE_METRICS_ADDR".into(), ANY_LOCAL_PORT.into()));
    let stack = Stack::start_with(options).await;
    let client = client_from("127.0.0.11");
    // Forty at once with the same made-up hook id: one query.
    let random = stream::iter(0..40)
        .map(|n| {
            let (client, stack) = (&client, &stack);
            async move {
                post_with(
                    client,
                    stack,
                    &delivery(n),
                    b"guessed",
                    &[("X-GitHub-Hook-ID", "918273645")],
                )
                .await
                .status()
                .as_u16()
            }
        })
        .buffer_unordered(40)
        .collect::<Vec<u16>>()
        .await;
    assert!(
        random.iter().all(|status| [401, 429].contains(status)),
        "{random:?}"
    );
    let metrics = prpulse_e2e::http_client()
        .build()
        .unwrap()
        .get(stack.ingest_metrics_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("prpulse_ingest_hook_secret_lookups_total{outcome=\"unknown\"} 1\n"),
        "{}",
        metrics
            .lines()
            .filter(|line| line.contains("lookups"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn a_hook_secret_lookup_without_a_connection_counts_against_the_source() {
    let postgres = FaultProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let mut options = options();
    options.webhook_secret = None;
    options.database_port_for_binaries = Some(postgres.port());
    let stack = Stack::start_with(options).await;
    let unknown_hook = [("X-GitHub-Hook-ID", "918273645")];
    assert_eq!(
        wrong_signature_status(&stack, "127.0.0.12", &unknown_hook).await,
        401
    );
    // With Postgres away, a lookup finds no connection: 503, and charged
    // to the source like any failure, so after the burst its next refusal
    // is 429 even once Postgres is back.
    postgres.cut();
    let other = client_from("127.0.0.12");
    for n in 0..4_i64 {
        let hook = (60_000 + n).to_string();
        let status = post_with(
            &other,
            &stack,
            &delivery(n),
            b"guessed",
            &[("X-GitHub-Hook-ID", &hook)],
        )
        .await
        .status();
        assert_eq!(status, 503, "no connection for the lookup");
    }
    postgres.restore();
    let after = post_with(
        &other,
        &stack,
        &delivery(9),
        b"guessed",
        &[("X-GitHub-Hook-ID", "918273645")],
    )
    .await
    .status();
    assert_eq!(after, 429, "the failed lookups spent the source's budget");
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

    eventually(
        "the loaded allow-list applied",
        Duration::from_secs(10),
        async || signed(2).await == 202,
    )
    .await;
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
