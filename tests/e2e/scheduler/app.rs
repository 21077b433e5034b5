//! A GitHub App installation instead of a token: the tokens it mints,
//! kept across rounds.

use super::*;

#[tokio::test]
async fn a_github_app_installation_acts_with_tokens_it_mints() {
    let setup = Setup::without_integration().await;
    let app_id = fake_github::APP_ID.to_string();
    let installation_id = fake_github::INSTALLATION_ID.to_string();
    let app_args = |key: &'static str| {
        vec![
            "integration".to_owned(),
            "add".into(),
            "acme".into(),
            "--app-id".into(),
            app_id.clone(),
            "--installation-id".into(),
            installation_id.clone(),
            "--private-key-file".into(),
            key.into(),
        ]
    };
    let bad_key = setup
        .stack
        .cli(
            &app_args("Cargo.toml")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
    assert!(!bad_key.status.success());
    let said = String::from_utf8_lossy(&bad_key.stderr);
    assert!(said.contains("private key cannot be used"), "{said}");

    let added = setup
        .stack
        .cli(
            &app_args(fake_github::APP_PRIVATE_KEY_FILE)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
    assert_success(&added);
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (hook_id, secret) = setup.only_hook("acme/api");
    assert_eq!(setup.deliver_as_github(hook_id, &secret).await, 202);

    let minted = setup.github.installation_tokens();
    assert_eq!(minted, ["ghs_1"], "one token for the whole command");
    let seen = setup.github.tokens_seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|token| token == "Bearer ghs_1"),
        "the hooks saw only the installation token: {seen:?}"
    );
    let listed = setup.prpulse(&["integration", "list"]).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("app"));
}

/// Item 11: the GitHub clients live across rounds, so an app's
/// installation token (good for an hour) is minted once, not every round.
#[tokio::test]
async fn an_app_installation_token_serves_many_rounds() {
    let setup = Setup::without_integration().await;
    let app_id = fake_github::APP_ID.to_string();
    let installation_id = fake_github::INSTALLATION_ID.to_string();
    assert_success(
        &setup
            .prpulse(&[
                "integration",
                "add",
                "acme",
                "--app-id",
                &app_id,
                "--installation-id",
                &installation_id,
                "--private-key-file",
                fake_github::APP_PRIVATE_KEY_FILE,
            ])
            .await,
    );
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let before = setup.github.installation_tokens().len();
    let (mut scheduler, metrics_url) = setup.scheduler_with_metrics(&[]).await;
    eventually("three reconcile_hooks runs", WITHIN, async || {
        runs(&scrape(&metrics_url).await, "reconcile_hooks", "ok") >= 3
    })
    .await;
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
    assert_eq!(
        setup.github.installation_tokens().len(),
        before + 1,
        "one token for every round"
    );
}
