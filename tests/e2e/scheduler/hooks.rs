//! The webhook job: the hook `prpulse repo track` installs, adopted,
//! recreated, removed and rotated, organisation hooks, and the events an
//! old hook gains.

use super::*;

#[tokio::test]
async fn tracking_installs_a_hook_whose_deliveries_the_real_ingest_accepts() {
    let setup = Setup::start().await;
    let tracked = setup.prpulse(&["repo", "track", "Acme/API"]).await;
    assert_success(&tracked);
    assert!(String::from_utf8_lossy(&tracked.stdout).contains("acme/api: tracked (Installed)"));

    let hooks = setup.github.hooks("acme/api");
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0]["events"],
        serde_json::json!(prpulse_domain::event::REPOSITORY_HOOK_EVENTS)
    );
    assert_eq!(hooks[0]["config"]["url"], HOOK_URL);
    assert_eq!(hooks[0]["config"]["content_type"], "json");
    assert_eq!(hooks[0]["config"]["insecure_ssl"], "0");
    assert!(
        setup
            .github
            .tokens_seen()
            .iter()
            .all(|t| t == &format!("Bearer {TOKEN}"))
    );
    let (hook_id, secret) = setup.only_hook("acme/api");
    assert_eq!(secret.len(), 64, "32 random bytes, hex");
    assert_eq!(setup.deliver_as_github(hook_id, &secret).await, 202);
    assert_eq!(setup.deliver_as_github(hook_id, "a guess").await, 401);

    let listed = setup.prpulse(&["repo", "list"]).await;
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .contains(&format!("acme/api    tracked  {hook_id}"))
    );
    // Tracking again changes nothing.
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    assert_eq!(setup.github.hooks("acme/api").len(), 1);
}

#[tokio::test]
async fn an_existing_hook_to_our_url_is_adopted_with_a_fresh_secret() {
    let setup = Setup::start().await;
    let existing = setup.github.add_hook("acme/api", HOOK_URL);
    let tracked = setup.prpulse(&["repo", "track", "acme/api"]).await;
    assert_success(&tracked);
    assert!(String::from_utf8_lossy(&tracked.stdout).contains("(Adopted)"));
    let (hook_id, secret) = setup.only_hook("acme/api");
    assert_eq!(hook_id, existing);
    assert_ne!(secret, "someone-elses-secret");
    let hook = &setup.github.hooks("acme/api")[0];
    assert_eq!(
        hook["events"],
        serde_json::json!(prpulse_domain::event::REPOSITORY_HOOK_EVENTS)
    );
    assert_eq!(setup.deliver_as_github(hook_id, &secret).await, 202);
}

#[tokio::test]
async fn a_hook_deleted_on_github_is_recreated_by_the_scheduler() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (first, _) = setup.only_hook("acme/api");
    setup.github.delete_hook(first);
    let mut scheduler = setup.scheduler(&[]);
    eventually("the hook's recreation", WITHIN, async || {
        setup.github.hooks("acme/api").len() == 1
    })
    .await;
    let (second, secret) = setup.only_hook("acme/api");
    assert_ne!(second, first);
    eventually("the new hook's deliveries accepted", WITHIN, async || {
        setup.deliver_as_github(second, &secret).await == 202
    })
    .await;
    let _ = scheduler.start_kill();
}

#[tokio::test]
async fn untracking_removes_the_hook_and_a_hook_already_gone_is_fine() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    assert_success(&setup.prpulse(&["repo", "track", "acme/web"]).await);
    assert_success(&setup.prpulse(&["repo", "untrack", "acme/api"]).await);
    assert!(setup.github.hooks("acme/api").is_empty());
    let (gone, secret) = setup.only_hook("acme/web");
    setup.github.delete_hook(gone);
    let untracked = setup.prpulse(&["repo", "untrack", "acme/web"]).await;
    assert_success(&untracked);
    let client = setup.stack.db.client().await;
    let left = client
        .query_one("SELECT count(*) FROM tracked_repositories", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(left, 0);
    assert_eq!(
        setup.deliver_as_github(gone, &secret).await,
        401,
        "its secret is forgotten"
    );
    let again = setup.prpulse(&["repo", "untrack", "acme/web"]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not tracked"));
}

#[tokio::test]
async fn a_missing_scope_is_named_to_the_operator() {
    let setup = Setup::start().await;
    setup.github.revoke_hook_scope();
    let tracked = setup.prpulse(&["repo", "track", "acme/api"]).await;
    assert!(!tracked.status.success());
    let error = String::from_utf8_lossy(&tracked.stderr);
    assert!(error.contains("lacks the scope admin:repo_hook"), "{error}");
    let listed =
        String::from_utf8_lossy(&setup.prpulse(&["repo", "list"]).await.stdout).into_owned();
    assert!(
        listed.contains("pending") && listed.contains("admin:repo_hook"),
        "{listed}"
    );
}

#[tokio::test]
async fn a_due_rotation_keeps_the_old_secret_valid_through_the_overlap() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (hook_id, old) = setup.only_hook("acme/api");
    let mut scheduler = setup.scheduler(&[
        ("PRPULSE_SECRET_ROTATION", "1s"),
        ("PRPULSE_SECRET_OVERLAP", "1h"),
    ]);
    eventually("a rotation", WITHIN, async || {
        setup.github.secret(hook_id).is_some_and(|s| s != old)
    })
    .await;
    let _ = scheduler.start_kill();
    let new = setup.github.secret(hook_id).unwrap();
    assert_eq!(
        setup.deliver_as_github(hook_id, &new).await,
        202,
        "the new secret"
    );
    assert_eq!(
        setup.deliver_as_github(hook_id, &old).await,
        202,
        "the old one, during the overlap"
    );
}

/// Item 10: `prpulse repo track` and the scheduler reconcile the same new
/// repository at once. GitHub has the CLI's hook (and secret) but answers
/// late; a scheduler that acted on its own listing meanwhile would adopt
/// the hook with a secret of its own, and the CLI would then store its
/// secret over it: GitHub signing with one the database no longer holds.
#[tokio::test]
async fn track_and_the_scheduler_never_leave_github_with_a_secret_the_database_lacks() {
    let setup = Setup::start().await;
    setup.github.slow_next_hook_creation(Duration::from_secs(5));
    let race = async {
        eventually("the CLI's hook reaching GitHub", WITHIN, async || {
            setup.github.hooks("acme/api").len() == 1
        })
        .await;
        let (scheduler, metrics_url) = setup.scheduler_with_metrics(&[]).await;
        eventually("the scheduler's reconcile_hooks run", WITHIN, async || {
            let metrics = scrape(&metrics_url).await;
            runs(&metrics, "reconcile_hooks", "ok") + runs(&metrics, "reconcile_hooks", "error") > 0
        })
        .await;
        scheduler
    };
    let (tracked, mut scheduler) =
        tokio::join!(setup.prpulse(&["repo", "track", "acme/api"]), race);
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
    assert_success(&tracked);
    let (hook_id, secret) = setup.only_hook("acme/api");
    assert_eq!(
        setup.deliver_as_github(hook_id, &secret).await,
        202,
        "the secret GitHub signs with is one the database holds"
    );
}

#[tokio::test]
async fn an_organisation_hook_brings_team_events_the_real_ingest_accepts() {
    let setup = Setup::start().await;
    let mut scheduler = setup.scheduler(&[]);
    eventually("the organisation hook", WITHIN, async || {
        setup.github.hooks("orgs/acme").len() == 1
    })
    .await;
    let (hook_id, secret) = setup.only_hook("orgs/acme");
    let hook = &setup.github.hooks("orgs/acme")[0];
    assert_eq!(hook["events"], serde_json::json!(["team", "membership"]));
    assert_eq!(hook["type"], "Organization");

    let org = Person::user(900, "acme");
    let added = membership("added", &org, 31, "platform", &Person::user(1, "ada"));
    let answer = setup
        .stack
        .deliver_signed(&added, secret.as_bytes(), Some(hook_id))
        .await;
    assert_eq!(answer.status().as_u16(), 202);
    let forged = setup
        .stack
        .deliver_signed(&added, b"not-the-secret", Some(hook_id))
        .await;
    assert_eq!(forged.status().as_u16(), 401);

    let listed = setup.prpulse(&["integration", "list"]).await;
    assert_success(&listed);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&hook_id.to_string()), "{text}");
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;

    // Removing the integration takes its hook away, once nothing needs it.
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let refused = setup.prpulse(&["integration", "remove", "acme"]).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("acme/api"), "{said}");
    assert_success(&setup.prpulse(&["repo", "untrack", "acme/api"]).await);
    assert_success(&setup.prpulse(&["integration", "remove", "acme"]).await);
    assert!(setup.github.hooks("orgs/acme").is_empty());
    // (Ingest may still hold it for its 30 s cache; GitHub no longer signs.)
    let secrets = setup
        .stack
        .db
        .count(&format!(
            "SELECT count(*) FROM webhook_secrets WHERE hook_id = {hook_id}"
        ))
        .await;
    assert_eq!(secrets, 0, "the hook's secret is gone");
    let listed = setup.prpulse(&["integration", "list"]).await;
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("acme"));
}

#[tokio::test]
async fn without_admin_org_hook_repositories_are_still_served_and_the_scope_is_named() {
    let setup = Setup::start().await;
    setup.github.revoke_org_hook_scope();
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (mut scheduler, metrics_url) = setup.scheduler_with_metrics(&[]).await;
    eventually("the missing scope recorded", WITHIN, async || {
        let listed = setup.prpulse(&["integration", "list"]).await;
        String::from_utf8_lossy(&listed.stdout).contains("lacks the scope admin:org_hook")
    })
    .await;
    eventually("a counted reconcile_hooks run", WITHIN, async || {
        counted(&scrape(&metrics_url).await, "reconcile_hooks", "ok")
    })
    .await;
    let metrics = scrape(&metrics_url).await;
    assert!(
        !counted(&metrics, "reconcile_hooks", "error"),
        "a token without admin:org_hook is not a failing job:\n{metrics}"
    );
    assert!(setup.github.hooks("orgs/acme").is_empty());
    assert_eq!(setup.github.hooks("acme/api").len(), 1);
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
}

#[tokio::test]
async fn an_old_hook_gains_the_dora_events_and_the_scheduler_links_deploys() {
    let mut setup = Setup::start().await;
    setup.stack.spawn_worker();
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (hook_id, secret) = setup.only_hook("acme/api");
    // A hook installed before the DORA events were added.
    let patched = prpulse_e2e::http_client()
        .build()
        .unwrap()
        .patch(format!(
            "{}/repos/acme/api/hooks/{hook_id}",
            setup.github.uri()
        ))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"events": ["pull_request", "pull_request_review"]}))
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success());

    let repo = Repo::new(10, "acme/api");
    let ada = Person::user(1, "ada");
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let hours = |n| created + chrono::Duration::hours(n);
    let pr = PullRequestBuilder::new(&repo, 1, &ada, created);
    let earlier = prpulse_e2e::dora_payloads::DeploymentBuilder::new(
        &repo,
        899,
        "m0",
        "production",
        hours(-24),
    );
    let deploy = prpulse_e2e::dora_payloads::DeploymentBuilder::new(
        &repo,
        900,
        "m2",
        "production",
        hours(3),
    );
    let deliveries = [
        earlier.status(8990, "success", hours(-24)),
        deploy.status(9000, "success", hours(3)),
        pr.opened(),
        prpulse_e2e::dora_payloads::merged_with_commit(&pr, hours(2), &ada, "m1"),
    ];
    for delivery in &deliveries {
        let status = setup
            .stack
            .deliver_signed(delivery, secret.as_bytes(), Some(hook_id))
            .await
            .status();
        assert_eq!(status, 202, "{}", delivery.event);
    }
    setup.stack.wait_for_deliveries(4).await;
    let dora = &setup.github.dora;
    dora.set_comparison("acme/api", "m0", "m2", &["m1", "m2"]);
    dora.set_pull_commits("acme/api", 1, &[("c1", hours(-1))]);

    let mut scheduler = setup.scheduler(&[]);
    eventually("the hook's repair", WITHIN, async || {
        setup.github.hooks("acme/api")[0]["events"]
            == serde_json::json!(prpulse_domain::event::REPOSITORY_HOOK_EVENTS)
    })
    .await;
    let db = &setup.stack.db;
    eventually("the link of #1 to its deploy", WITHIN, async || {
        let row = db.pr("acme/api", 1).await;
        row["deployment_id"] == "deployment:900" && row["lead_time_seconds"] == 4 * 3600
    })
    .await;
    assert_eq!(dora.compares("m0", "m2"), 1);
    let _ = scheduler.start_kill();
}
