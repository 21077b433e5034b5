//! Postgres over TLS, as a managed database requires it: a worker whose
//! `PRPULSE_DATABASE_URL` says `sslmode=verify-full` with `sslrootcert`
//! projects over a verified TLS session, and one that cannot verify the
//! server refuses to connect. The machine's Postgres serves Debian's
//! self-signed "snakeoil" certificate for `localhost`. Debian also lists it
//! among the system's certificates, so the binaries here get empty system
//! roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`): trust comes from `sslrootcert`
//! alone.

use chrono::{TimeZone, Utc};
use prpulse_e2e::{Person, PullRequestBuilder, Repo, Stack, StackOptions};

const SERVER_CERTIFICATE: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

async fn require_server_tls(stack: &Stack) {
    let ssl: String = stack
        .db
        .client()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ssl, "on",
        "these tests need Postgres with ssl = on (Debian's default, serving {SERVER_CERTIFICATE})"
    );
    assert!(
        std::path::Path::new(SERVER_CERTIFICATE).exists(),
        "{SERVER_CERTIFICATE} is missing: install Debian's ssl-cert package"
    );
}

fn url(stack: &Stack, host: &str, query: &str) -> String {
    format!("postgres://postgres@{host}:5432/{}?{query}", stack.db.name)
}

/// Environment that leaves a binary no system certificates to trust.
fn no_system_roots() -> [(&'static str, String); 2] {
    let empty = std::env::temp_dir().join(format!("prpulse-no-roots-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let file = empty.join("none.pem");
    std::fs::write(&file, "").unwrap();
    [
        ("SSL_CERT_DIR", empty.display().to_string()),
        ("SSL_CERT_FILE", file.display().to_string()),
    ]
}

#[tokio::test]
async fn a_worker_that_verifies_the_server_projects_over_tls() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    require_server_tls(&stack).await;
    let tls_url = url(
        &stack,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={SERVER_CERTIFICATE}"),
    );
    let mut worker = stack
        .worker_command()
        .envs(no_system_roots())
        .env("PRPULSE_DATABASE_URL", &tls_url)
        .spawn()
        .expect("starting prpulse-worker");

    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let opened = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &author, created).opened();
    assert_eq!(stack.deliver(&opened).await.status().as_u16(), 202);
    stack.wait_for_deliveries(1).await;
    assert_eq!(
        stack.db.count("SELECT count(*) FROM pull_requests").await,
        1
    );

    let over_tls = stack
        .db
        .count(&format!(
            "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid)
             WHERE datname = '{}' AND ssl AND application_name = 'prpulse'",
            stack.db.name
        ))
        .await;
    assert!(over_tls >= 1, "the worker's connections use TLS");
    let _ = worker.start_kill();
    let _ = worker.wait().await;
}

#[tokio::test]
async fn a_server_prpulse_cannot_verify_is_refused_with_the_reason() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    require_server_tls(&stack).await;
    let rooted = format!("sslmode=require&sslrootcert={SERVER_CERTIFICATE}");
    for (host, query, reason) in [
        ("localhost", "sslmode=require", "no trusted certificate"),
        (
            "localhost",
            "sslmode=require&sslrootcert=/nonexistent/ca.pem",
            "/nonexistent/ca.pem",
        ),
        // The certificate names localhost, not the address.
        ("127.0.0.1", rooted.as_str(), "certificate"),
    ] {
        let mut env = no_system_roots().to_vec();
        env.push(("PRPULSE_DATABASE_URL", url(&stack, host, query)));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = stack.cli_with(&["migrate"], &env).await;
        assert!(!output.status.success(), "{host} {query} connected");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(reason), "{host} {query}: {said}");
    }
    // The same with the right name connects.
    let mut env = no_system_roots().to_vec();
    env.push(("PRPULSE_DATABASE_URL", url(&stack, "localhost", &rooted)));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = stack.cli_with(&["migrate"], &env).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
