//! Secret hygiene: the key that encrypts stored secrets rotates without
//! downtime, and no secret ever reaches a log line, even at debug level.

use chrono::{TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions,
    stack::{SECRET_KEY, WEBHOOK_SECRET},
    unique_suffix,
};
use prpulse_store::{
    Keyring, SecretKey,
    secrets::{hook_secrets, set_hook_secret},
};

const NEW_KEY: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";
const HOOK: i64 = 4242;
const HOOK_SECRET: &str = "hook-secret-5b1c0e7a9d";

fn delivery(number: i64) -> Delivery {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    PullRequestBuilder::new(&Repo::new(10, "acme/api"), number, &author, created).opened()
}

fn key(hex: &str) -> SecretKey {
    SecretKey::parse(hex).unwrap()
}

/// Every service holds the new key and the old one while the CLI
/// re-encrypts; the hook's deliveries verify before, during and after.
#[tokio::test]
async fn the_secret_key_rotates_without_downtime() {
    let stack = Stack::start_with(StackOptions {
        env: vec![
            ("PRPULSE_SECRET_KEY".into(), NEW_KEY.into()),
            ("PRPULSE_PREVIOUS_SECRET_KEY".into(), SECRET_KEY.into()),
        ],
        ..StackOptions::ingest_only()
    })
    .await;
    let client = stack.db.pool().get().await.unwrap();
    // Stored before the rotation began: under the old key.
    set_hook_secret(
        &client,
        &Keyring::new(key(SECRET_KEY), None),
        HOOK,
        HOOK_SECRET.as_bytes(),
        None,
    )
    .await
    .unwrap();
    let stack = &stack;
    let status = |number| async move {
        stack
            .deliver_signed(&delivery(number), HOOK_SECRET.as_bytes(), Some(HOOK))
            .await
            .status()
    };
    assert_eq!(status(1).await, 202);

    let rotated = stack.cli(&["secrets", "rotate-key"]).await;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("1 hooks"));
    assert_eq!(status(2).await, 202);

    // The stored secret now opens with the new key alone.
    let only_new = Keyring::new(key(NEW_KEY), None);
    let secrets = hook_secrets(&client, Some(&only_new), HOOK, Utc::now())
        .await
        .unwrap();
    assert_eq!(secrets.map(|s| s.len()), Some(1));
    let only_old = Keyring::new(key(SECRET_KEY), None);
    assert!(
        hook_secrets(&client, Some(&only_old), HOOK, Utc::now())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rotate_key_refuses_without_the_previous_key() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let output = stack.cli(&["secrets", "rotate-key"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PRPULSE_PREVIOUS_SECRET_KEY"));
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_debug_level() {
    let log = std::env::temp_dir().join(format!("prpulse-secrets-{}.log", unique_suffix()));
    let mut stack = Stack::start_with(StackOptions {
        env: vec![
            ("RUST_LOG".into(), "debug".into()),
            ("PRPULSE_SECRET_KEY".into(), NEW_KEY.into()),
            ("PRPULSE_PREVIOUS_SECRET_KEY".into(), SECRET_KEY.into()),
        ],
        log_file: Some(log.clone()),
        ..StackOptions::default()
    })
    .await;
    let client = stack.db.pool().get().await.unwrap();
    let keyring = Keyring::new(key(NEW_KEY), None);
    set_hook_secret(&client, &keyring, HOOK, HOOK_SECRET.as_bytes(), None)
        .await
        .unwrap();
    // Every path a secret takes: hook and global secrets, right and wrong
    // signatures, a rejected config, the CLI.
    let accepted = delivery(1);
    assert_eq!(
        stack
            .deliver_signed(&accepted, HOOK_SECRET.as_bytes(), Some(HOOK))
            .await
            .status(),
        202
    );
    assert_eq!(stack.deliver(&delivery(2)).await.status(), 202);
    assert_eq!(
        stack
            .deliver_signed(&delivery(3), b"wrong", Some(HOOK))
            .await
            .status(),
        401
    );
    assert_eq!(
        stack
            .deliver_signed(&delivery(4), b"wrong", None)
            .await
            .status(),
        401
    );
    stack.wait_for_deliveries(2).await;
    let _ = stack.cli(&["secrets", "rotate-key"]).await;
    stack.terminate_workers().await;
    stack.terminate_ingest().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        logs.contains(&accepted.id) && logs.contains("DEBUG"),
        "the binaries logged at debug level, with delivery ids"
    );
    for (what, secret) in [
        ("the global webhook secret", WEBHOOK_SECRET),
        ("a hook's secret", HOOK_SECRET),
        ("PRPULSE_SECRET_KEY", NEW_KEY),
        ("PRPULSE_PREVIOUS_SECRET_KEY", SECRET_KEY),
    ] {
        assert!(!logs.contains(secret), "{what} appears in the logs");
    }
}
