//! Secret hygiene: the key that encrypts stored secrets rotates without
//! downtime and takes every sealed column with it, each sealed value opens
//! only in its own row and column, values sealed by earlier releases keep
//! working until rewritten, and no secret ever reaches a log line, even at
//! debug level.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, AeadCore, OsRng},
};
use chrono::{Duration, TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, TestDb,
    stack::{SECRET_KEY, WEBHOOK_SECRET},
    unique_suffix,
};
use prpulse_store::{
    GenericClient, Keyring, SealedColumn, SecretKey,
    integrations::{self, AccountKind, IntegrationCredentials},
    jira_integrations::{self, NewJiraIntegration},
    secrets::{hook_secrets, set_hook_secret},
};
use secrecy::{ExposeSecret, SecretString};

const NEW_KEY: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";
/// A key no service holds.
const STRANGER_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const HOOK: i64 = 4242;
const HOOK_SECRET: &str = "hook-secret-5b1c0e7a9d";
const PREVIOUS_HOOK_SECRET: &str = "hook-secret-previous-77aa01";
const TOKEN: &str = "ghp_token_of_acme_0123456789";
const APP_KEY: &str = "-----BEGIN PRIVATE KEY-----\nnot a real key, the store does not parse it\n-----END PRIVATE KEY-----\n";

fn delivery(number: i64) -> Delivery {
    let author = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    PullRequestBuilder::new(&Repo::new(10, "acme/api"), number, &author, created).opened()
}

fn key(hex: &str) -> SecretKey {
    SecretKey::parse(hex).unwrap()
}

fn only(hex: &str) -> Keyring {
    Keyring::new(key(hex), None)
}

/// A value as releases before the binding stored it: `nonce ||
/// ciphertext+tag` without associated data. Written here with aes-gcm
/// directly, not by the code under test.
fn legacy_sealed(key_hex: &str, plaintext: &str) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(&hex::decode(key_hex).unwrap()).unwrap();
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut stored = nonce.to_vec();
    stored.extend(cipher.encrypt(&nonce, plaintext.as_bytes()).unwrap());
    stored
}

/// A hook with a current and a previous secret, an organisation with a
/// token and one acting as a GitHub App, all stored by an earlier release
/// under `key_hex`.
async fn store_legacy(client: &impl GenericClient, key_hex: &str, hook_id: i64, suffix: &str) {
    client
        .execute(
            "INSERT INTO webhook_secrets (hook_id, current_secret, previous_secret, previous_valid_until)
             VALUES ($1, $2, $3, now() + interval '1 hour')",
            &[
                &hook_id,
                &legacy_sealed(key_hex, HOOK_SECRET),
                &legacy_sealed(key_hex, PREVIOUS_HOOK_SECRET),
            ],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO integrations (account, kind, auth, token)
             VALUES ($1, 'organization', 'token', $2)",
            &[&format!("acme{suffix}"), &legacy_sealed(key_hex, TOKEN)],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO integrations (account, kind, auth, app_id, installation_id, private_key)
             VALUES ($1, 'organization', 'app', 1, 2, $2)",
            &[&format!("octo{suffix}"), &legacy_sealed(key_hex, APP_KEY)],
        )
        .await
        .unwrap();
}

/// Two Jira integrations as this release stores them (Jira's values were
/// sealed bound to their place from the start): a signed one mid-rotation
/// (current and previous secret) and an unsigned one with its URL token.
async fn store_jira(client: &impl GenericClient, keyring: &Keyring) {
    let token = SecretString::from(TOKEN);
    for (name, api, secret, url_token) in [
        ("jira-dc", "signed", Some(&b"first-secret"[..]), None),
        ("jira-old", "url_token", None, Some(&b"url-token"[..])),
    ] {
        let new = NewJiraIntegration {
            name,
            base_url: "https://jira.example.com",
            token: &token,
            webhook_api: api,
            webhook_id: 1,
            secret,
            url_token,
            projects: &[],
        };
        jira_integrations::insert(client, keyring, &new)
            .await
            .unwrap();
    }
    jira_integrations::rotate_secret(
        client,
        keyring,
        "jira-dc",
        b"second-secret",
        Utc::now() + Duration::hours(1),
    )
    .await
    .unwrap();
}

/// What `rotate-key` reseals in the rotation test: the GitHub values stored
/// twice (legacy and bound), the Jira ones as [`store_jira`] stores them.
fn rotated_count(column: SealedColumn) -> (usize, usize) {
    match column {
        SealedColumn::Jira(prpulse_store::JiraSecret::Token) => (2, 0),
        SealedColumn::Jira(_) => (1, 0),
        _ => (2, 0),
    }
}

/// The same, stored by this release (bound to their rows) under `keyring`.
async fn store_bound(client: &impl GenericClient, keyring: &Keyring, hook_id: i64, suffix: &str) {
    set_hook_secret(
        client,
        keyring,
        hook_id,
        PREVIOUS_HOOK_SECRET.as_bytes(),
        None,
    )
    .await
    .unwrap();
    set_hook_secret(
        client,
        keyring,
        hook_id,
        HOOK_SECRET.as_bytes(),
        Some(Utc::now() + Duration::hours(1)),
    )
    .await
    .unwrap();
    integrations::upsert(
        client,
        keyring,
        &format!("acme{suffix}"),
        AccountKind::Organization,
        &IntegrationCredentials::Token(SecretString::from(TOKEN)),
    )
    .await
    .unwrap();
    integrations::upsert(
        client,
        keyring,
        &format!("octo{suffix}"),
        AccountKind::Organization,
        &IntegrationCredentials::App {
            app_id: 1,
            installation_id: 2,
            private_key: SecretString::from(APP_KEY),
        },
    )
    .await
    .unwrap();
}

/// Every value `store_legacy` / `store_bound` wrote opens with `keyring`
/// and holds what was stored.
async fn assert_all_open(
    client: &impl GenericClient,
    keyring: &Keyring,
    hook_id: i64,
    suffix: &str,
) {
    let secrets = hook_secrets(client, Some(keyring), hook_id, Utc::now())
        .await
        .unwrap_or_else(|error| panic!("hook {hook_id}: {error}"))
        .unwrap();
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.expose_secret()).collect();
    assert_eq!(
        secrets,
        [HOOK_SECRET.as_bytes(), PREVIOUS_HOOK_SECRET.as_bytes()],
        "hook {hook_id}: current then previous"
    );
    match integrations::credentials(client, keyring, &format!("acme{suffix}"))
        .await
        .unwrap_or_else(|error| panic!("acme{suffix}: {error}"))
    {
        Some(IntegrationCredentials::Token(token)) => assert_eq!(token.expose_secret(), TOKEN),
        other => panic!("acme{suffix}: {other:?}"),
    }
    match integrations::credentials(client, keyring, &format!("octo{suffix}"))
        .await
        .unwrap_or_else(|error| panic!("octo{suffix}: {error}"))
    {
        Some(IntegrationCredentials::App { private_key, .. }) => {
            assert_eq!(private_key.expose_secret(), APP_KEY)
        }
        other => panic!("octo{suffix}: {other:?}"),
    }
}

/// None of them opens with `keyring`.
async fn assert_none_open(
    client: &impl GenericClient,
    keyring: &Keyring,
    hook_id: i64,
    suffix: &str,
) {
    assert!(
        hook_secrets(client, Some(keyring), hook_id, Utc::now())
            .await
            .is_err()
    );
    for account in [format!("acme{suffix}"), format!("octo{suffix}")] {
        assert!(
            integrations::credentials(client, keyring, &account)
                .await
                .is_err(),
            "{account} opened"
        );
    }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `(re-sealed, already up to date)` of `column` in the table that
/// `rotate-key` and `reseal` print.
fn resealed(output: &std::process::Output, column: SealedColumn) -> (usize, usize) {
    let out = stdout(output);
    let line = out
        .lines()
        .find(|line| line.split_whitespace().next() == Some(column.to_string().as_str()))
        .unwrap_or_else(|| panic!("no line for {column} in\n{out}"));
    let counts: Vec<usize> = line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    (counts[0], counts[1])
}

/// Every service holds the new key and the old one while the CLI
/// re-encrypts; the hook's deliveries verify before, during and after, and
/// afterwards every sealed column (hook secrets current and previous,
/// tokens, App private keys; written by an earlier release or by this one)
/// opens with the new key alone.
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
    // Stored before the rotation began, under the old key: by the release
    // before the binding, and by this one.
    store_legacy(&client, SECRET_KEY, HOOK, "").await;
    store_bound(&client, &only(SECRET_KEY), HOOK + 1, "-bound").await;
    store_jira(&client, &only(SECRET_KEY)).await;
    let stack = &stack;
    let status = |number, secret: &'static str, hook| async move {
        stack
            .deliver_signed(&delivery(number), secret.as_bytes(), Some(hook))
            .await
            .status()
    };
    for hook in [HOOK, HOOK + 1] {
        assert_eq!(status(1, HOOK_SECRET, hook).await, 202);
        assert_eq!(status(2, PREVIOUS_HOOK_SECRET, hook).await, 202);
    }

    let before = stack.cli(&["secrets", "check"]).await;
    assert!(!before.status.success(), "{}", stdout(&before));
    for place in [
        "webhook_secrets.current_secret (hook_id 4242)",
        "webhook_secrets.previous_secret (hook_id 4243)",
        "integrations.token (account acme)",
        "integrations.private_key (account octo-bound)",
    ] {
        assert!(
            stderr(&before).contains(&format!(
                "{place}: opens only with PRPULSE_PREVIOUS_SECRET_KEY"
            )),
            "{place} is not named in\n{}",
            stderr(&before)
        );
    }

    let rotated = stack.cli(&["secrets", "rotate-key"]).await;
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    for column in SealedColumn::ALL {
        assert_eq!(
            resealed(&rotated, column),
            rotated_count(column),
            "{column}"
        );
    }
    for hook in [HOOK, HOOK + 1] {
        assert_eq!(status(3, HOOK_SECRET, hook).await, 202);
        assert_eq!(status(4, PREVIOUS_HOOK_SECRET, hook).await, 202);
    }

    // The old key can go: everything opens with the new key alone, and
    // nothing with the old one.
    for (hook, suffix) in [(HOOK, ""), (HOOK + 1, "-bound")] {
        assert_all_open(&client, &only(NEW_KEY), hook, suffix).await;
        assert_none_open(&client, &only(SECRET_KEY), hook, suffix).await;
    }
    let after = stack
        .cli_with(
            &["secrets", "check"],
            &[("PRPULSE_PREVIOUS_SECRET_KEY", "")],
        )
        .await;
    assert!(after.status.success(), "{}", stderr(&after));
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

/// A value under a key no service holds is named by `secrets check` and
/// stops `rotate-key`, which then changes nothing: the old key is still
/// needed, and the operator is told which row holds what it cannot read.
#[tokio::test]
async fn check_and_rotate_key_name_a_row_sealed_under_an_unknown_key() {
    let stack = Stack::start_with(StackOptions {
        env: vec![
            ("PRPULSE_SECRET_KEY".into(), NEW_KEY.into()),
            ("PRPULSE_PREVIOUS_SECRET_KEY".into(), SECRET_KEY.into()),
        ],
        ..StackOptions::ingest_only()
    })
    .await;
    let client = stack.db.pool().get().await.unwrap();
    store_bound(&client, &only(SECRET_KEY), HOOK, "").await;
    integrations::upsert(
        &client,
        &only(STRANGER_KEY),
        "stranger",
        AccountKind::User,
        &IntegrationCredentials::Token(SecretString::from(TOKEN)),
    )
    .await
    .unwrap();

    let check = stack.cli(&["secrets", "check"]).await;
    assert!(!check.status.success());
    let named = stderr(&check);
    assert!(
        named.contains(
            "integrations.token (account stranger) does not open with the configured key(s)"
        ),
        "{named}"
    );
    assert!(
        named.contains(
            "integrations.token (account acme): opens only with PRPULSE_PREVIOUS_SECRET_KEY"
        ),
        "{named}"
    );

    let rotated = stack.cli(&["secrets", "rotate-key"]).await;
    assert!(!rotated.status.success(), "{}", stdout(&rotated));
    let refused = stderr(&rotated);
    assert!(refused.contains("nothing was changed"), "{refused}");
    assert!(
        refused.contains("integrations.token (account stranger)"),
        "{refused}"
    );
    assert!(!refused.contains("(account acme)"), "{refused}");
    // Rolled back: the readable values are still under the old key only.
    assert_all_open(&client, &only(SECRET_KEY), HOOK, "").await;
    assert_none_open(&client, &only(NEW_KEY), HOOK, "").await;
}

/// A ciphertext moved by SQL to another row, or another column of its
/// row, no longer opens, and says why; `secrets check` names where.
#[tokio::test]
async fn a_sealed_value_copied_to_another_row_does_not_open() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let client = stack.db.pool().get().await.unwrap();
    let keyring = only(SECRET_KEY);
    store_bound(&client, &keyring, HOOK, "").await;
    set_hook_secret(
        &client,
        &keyring,
        HOOK + 1,
        b"the other hook's secret",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        stack
            .deliver_signed(&delivery(1), HOOK_SECRET.as_bytes(), Some(HOOK))
            .await
            .status(),
        202
    );

    // Someone with write access to the database makes hook 4243 accept
    // deliveries signed with hook 4242's secret, and gives octo acme's token.
    client
        .batch_execute(
            "UPDATE webhook_secrets SET current_secret =
                 (SELECT current_secret FROM webhook_secrets WHERE hook_id = 4242)
             WHERE hook_id = 4243;
             UPDATE integrations SET private_key =
                 (SELECT token FROM integrations WHERE account = 'acme')
             WHERE account = 'octo'",
        )
        .await
        .unwrap();
    let error = hook_secrets(&client, Some(&keyring), HOOK + 1, Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("webhook_secrets.current_secret (hook_id 4243) holds a value sealed for another row or column"),
        "{error}"
    );
    let error = integrations::credentials(&client, &keyring, "octo")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "integrations.private_key (account octo) holds a value sealed for another row or column"
        ),
        "{error}"
    );
    assert_eq!(
        stack
            .deliver_signed(&delivery(2), HOOK_SECRET.as_bytes(), Some(HOOK + 1))
            .await
            .status(),
        500,
        "a secret that does not open is a configuration fault, not a match"
    );
    // The original row still opens.
    assert!(
        hook_secrets(&client, Some(&keyring), HOOK, Utc::now())
            .await
            .is_ok()
    );

    // Within a row too: the current secret copied into the previous slot.
    client
        .execute(
            "UPDATE webhook_secrets SET previous_secret = current_secret WHERE hook_id = $1",
            &[&HOOK],
        )
        .await
        .unwrap();
    let error = hook_secrets(&client, Some(&keyring), HOOK, Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "webhook_secrets.previous_secret (hook_id 4242) holds a value sealed for another row"
        ),
        "{error}"
    );

    let check = stack.cli(&["secrets", "check"]).await;
    assert!(!check.status.success());
    let named = stderr(&check);
    assert!(named.contains("3 sealed value(s)"), "{named}");
    for place in [
        "webhook_secrets.current_secret (hook_id 4243)",
        "webhook_secrets.previous_secret (hook_id 4242)",
        "integrations.private_key (account octo)",
    ] {
        assert!(named.contains(place), "{place} is not named in\n{named}");
    }
}

/// Values stored by a release before the binding still open (ingest
/// verifies with them, the scheduler reads them) until `secrets reseal`
/// (or `rotate-key`) rewrites them bound to their rows, without a key
/// change; afterwards they are no longer legacy and still open.
#[tokio::test]
async fn legacy_values_keep_working_until_reseal_binds_them() {
    let stack = Stack::start_with(StackOptions::ingest_only()).await;
    let client = stack.db.pool().get().await.unwrap();
    store_legacy(&client, SECRET_KEY, HOOK, "").await;
    let before = stored_bytes(&client).await;
    assert_all_open(&client, &only(SECRET_KEY), HOOK, "").await;
    for (number, secret) in [(1, HOOK_SECRET), (2, PREVIOUS_HOOK_SECRET)] {
        assert_eq!(
            stack
                .deliver_signed(&delivery(number), secret.as_bytes(), Some(HOOK))
                .await
                .status(),
            202
        );
    }
    let check = stack.cli(&["secrets", "check"]).await;
    assert!(!check.status.success());
    assert!(
        stderr(&check).contains(
            "integrations.token (account acme): sealed without its place (before the binding)"
        ),
        "{}",
        stderr(&check)
    );

    let resealed_output = stack.cli(&["secrets", "reseal"]).await;
    assert!(
        resealed_output.status.success(),
        "{}",
        stderr(&resealed_output)
    );
    for column in SealedColumn::ALL {
        // Jira's values were never stored unbound: nothing of theirs to bind.
        let legacy = if matches!(column, SealedColumn::Jira(_)) {
            0
        } else {
            1
        };
        assert_eq!(resealed(&resealed_output, column), (legacy, 0), "{column}");
    }
    let after = stored_bytes(&client).await;
    for (column, (before, after)) in before.iter().zip(&after).enumerate() {
        assert_ne!(before, after, "column {column} was rewritten");
    }
    assert_all_open(&client, &only(SECRET_KEY), HOOK, "").await;
    let check = stack.cli(&["secrets", "check"]).await;
    assert!(check.status.success(), "{}", stderr(&check));
    assert_eq!(
        stack
            .deliver_signed(&delivery(3), HOOK_SECRET.as_bytes(), Some(HOOK))
            .await
            .status(),
        202
    );
    // Run again: nothing left to do.
    let again = stack.cli(&["secrets", "reseal"]).await;
    assert_eq!(
        resealed(&again, SealedColumn::ALL[0]),
        (0, 1),
        "{}",
        stdout(&again)
    );
}

/// What `store_legacy` / `store_bound` wrote, as stored.
async fn stored_bytes(client: &impl GenericClient) -> Vec<Vec<u8>> {
    let row = client
        .query_one(
            "SELECT current_secret, previous_secret,
                    (SELECT token FROM integrations WHERE account = 'acme'),
                    (SELECT private_key FROM integrations WHERE account = 'octo')
             FROM webhook_secrets WHERE hook_id = 4242",
            &[],
        )
        .await
        .unwrap();
    (0..4).map(|column| row.get(column)).collect()
}

/// Every bytea column of the schema is either sealed (and so rotated,
/// checked and bound to its row) or declared plain here: a new secret
/// column cannot be forgotten by `rotate-key`.
#[tokio::test]
async fn every_binary_column_is_sealed_or_declared_plain() {
    const PLAIN: [(&str, &str); 4] = [
        ("deliveries", "payload"),
        // Raw payloads since V18 (its month partitions are the same column).
        ("delivery_payloads", "payload"),
        // A one-way hash: nothing to open, so nothing to rotate.
        ("api_tokens", "token_sha256"),
        // Span values of the summary rollup (seconds, counts): not secret.
        ("summary_rollup", "sorted_values"),
    ];
    let db = TestDb::create().await;
    let mut found: Vec<(String, String)> = db
        .client()
        .await
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type = 'bytea'
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                               WHERE c.relname = table_name::text)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    found.sort();
    let mut known: Vec<(String, String)> = SealedColumn::ALL
        .iter()
        .map(|column| (column.table().to_owned(), column.column().to_owned()))
        .chain(PLAIN.iter().map(|(t, c)| (t.to_string(), c.to_string())))
        .collect();
    known.sort();
    assert_eq!(found, known);
}
