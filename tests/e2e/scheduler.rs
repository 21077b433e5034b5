//! prpulse-sync-scheduler and `prpulse repo ...` against a fake GitHub
//! (GitHub's hook paths, payloads and errors) and the real Postgres, broker
//! and ingest: the hook prpulse installs is one whose deliveries the real
//! ingest accepts.

use std::{process::Output, time::Duration};

use chrono::{TimeZone, Utc};
use prpulse_domain::RepoFullName;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, eventually,
    fake_github::{self, FakeGitHub},
    listen::{ANY_LOCAL_PORT, AddressFile},
    metrics::worker_settled,
    payloads::membership,
};
use prpulse_store::tracking;

const HOOK_URL: &str = "https://prpulse.example.com/webhooks/github";
const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

struct Setup {
    stack: Stack,
    github: FakeGitHub,
}

impl Setup {
    /// A stack and a fake GitHub, with the token integration `acme`.
    async fn start() -> Self {
        let setup = Self::without_integration().await;
        let added = setup
            .stack
            .cli_with(
                &["integration", "add", "acme"],
                &[("PRPULSE_GITHUB_TOKEN", TOKEN)],
            )
            .await;
        assert_success(&added);
        setup
    }

    async fn without_integration() -> Self {
        let github = FakeGitHub::start().await;
        let stack = Stack::start_with(StackOptions {
            env: vec![
                ("PRPULSE_PUBLIC_URL".into(), HOOK_URL.into()),
                ("PRPULSE_GITHUB_API_URL".into(), github.uri()),
            ],
            ..StackOptions::ingest_only()
        })
        .await;
        Self { stack, github }
    }

    async fn prpulse(&self, args: &[&str]) -> Output {
        self.stack.cli(args).await
    }

    fn only_hook(&self, repo: &str) -> (i64, String) {
        let hooks = self.github.hooks(repo);
        assert_eq!(hooks.len(), 1, "{hooks:#?}");
        let id = hooks[0]["id"].as_i64().unwrap();
        (
            id,
            self.github
                .secret(id)
                .expect("GitHub has the hook's secret"),
        )
    }

    /// What the real ingest answers a delivery GitHub signs with `secret`
    /// for hook `hook_id`.
    async fn deliver_as_github(&self, hook_id: i64, secret: &str) -> u16 {
        let author = Person::user(1, "ada");
        let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let delivery: Delivery =
            PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &author, created).opened();
        self.stack
            .deliver_signed(&delivery, secret.as_bytes(), Some(hook_id))
            .await
            .status()
            .as_u16()
    }

    fn scheduler(&self, extra: &[(&str, &str)]) -> tokio::process::Child {
        self.stack
            .scheduler_command()
            .env("PRPULSE_RECONCILE_INTERVAL_MS", "200")
            .env("PRPULSE_LEADER_POLL_MS", "200")
            .envs(extra.iter().copied())
            .spawn()
            .expect("starting prpulse-sync-scheduler")
    }

    /// A scheduler serving `/metrics` on a port it picks, and that
    /// endpoint's URL once it is bound.
    async fn scheduler_with_metrics(
        &self,
        extra: &[(&str, &str)],
    ) -> (tokio::process::Child, String) {
        let addresses = AddressFile::new("scheduler");
        let (name, path) = addresses.env();
        let mut env = vec![("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT), (name, &path)];
        env.extend_from_slice(extra);
        let mut scheduler = self.scheduler(&env);
        let addr = addresses
            .wait_for("metrics", &mut scheduler)
            .await
            .expect("the scheduler exited before it served /metrics");
        (scheduler, format!("http://{addr}/metrics"))
    }
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "prpulse failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// How long a scheduler (reconciling every 200 ms) may take to do what a
/// test waits for.
const WITHIN: Duration = Duration::from_secs(20);

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

async fn is_leader(url: &str) -> Option<bool> {
    let text = prpulse_e2e::http_client()
        .build()
        .ok()?
        .get(url)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|line| line.starts_with("prpulse_scheduler_is_leader "))
        .map(|line| line.ends_with(" 1"))
}

#[tokio::test]
async fn of_two_schedulers_one_acts_and_the_other_takes_over_when_it_dies() {
    let setup = Setup::start().await;
    let (first, first_metrics) = setup.scheduler_with_metrics(&[]).await;
    let (second, second_metrics) = setup.scheduler_with_metrics(&[]).await;
    let mut schedulers = [first, second];
    let urls = [first_metrics, second_metrics];
    let leader = eventually("a single leader", WITHIN, async || {
        let states = [is_leader(&urls[0]).await, is_leader(&urls[1]).await];
        match states {
            [Some(a), Some(b)] if a != b => Ok(usize::from(b)),
            _ => Err(states),
        }
    })
    .await;
    // The leader acts: a repository marked for tracking gets its hook.
    let client = setup.stack.db.client().await;
    let pool = setup.stack.db.pool();
    tracking::track(
        &pool.get().await.unwrap(),
        &RepoFullName::parse("acme/api").unwrap(),
    )
    .await
    .unwrap();
    eventually("the leader's install", WITHIN, async || {
        setup.github.hooks("acme/api").len() == 1
    })
    .await;

    schedulers[leader].start_kill().unwrap();
    let _ = schedulers[leader].wait().await;
    let standby = 1 - leader;
    eventually("the standby taking over", WITHIN, async || {
        is_leader(&urls[standby]).await == Some(true)
    })
    .await;
    tracking::track(
        &pool.get().await.unwrap(),
        &RepoFullName::parse("acme/web").unwrap(),
    )
    .await
    .unwrap();
    eventually("the new leader's install", WITHIN, async || {
        setup.github.hooks("acme/web").len() == 1
    })
    .await;
    // GitHub has the hook before the new leader records it as tracked.
    eventually(
        "both repositories recorded as tracked",
        WITHIN,
        async || {
            client
                .query_one(
                    "SELECT count(*) FROM tracked_repositories WHERE state = 'tracked'",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
                == 2
        },
    )
    .await;
    let _ = schedulers[standby].start_kill();
}

#[tokio::test]
async fn only_failed_unstored_consumed_deliveries_are_redelivered_once() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let (hook, _) = setup.only_hook("acme/api");
    let github = &setup.github;
    github.add_delivery(
        hook,
        1,
        "11111111-0000-11f0-8000-000000000001",
        "pull_request",
        202,
        60,
    );
    github.add_delivery(
        hook,
        2,
        "22222222-0000-11f0-8000-000000000002",
        "pull_request",
        503,
        50,
    );
    github.add_delivery(
        hook,
        3,
        "33333333-0000-11f0-8000-000000000003",
        "push",
        500,
        40,
    );
    github.add_delivery(
        hook,
        4,
        "44444444-0000-11f0-8000-000000000004",
        "pull_request_review",
        503,
        30,
    );
    github.add_delivery(
        hook,
        5,
        "55555555-0000-11f0-8000-000000000005",
        "pull_request",
        503,
        20,
    );
    github.add_delivery(
        hook,
        6,
        "55555555-0000-11f0-8000-000000000005",
        "pull_request",
        202,
        10,
    );
    github.add_delivery(
        hook,
        7,
        "77777777-0000-11f0-8000-000000000007",
        "pull_request",
        503,
        5 * 24 * 60,
    );
    // #4 failed at GitHub's end, but prpulse has it (a second hook got it).
    setup
        .stack
        .db
        .client()
        .await
        .execute(
            "INSERT INTO deliveries (delivery_id, event, source, received_at, outcome)
             VALUES ('44444444-0000-11f0-8000-000000000004', 'pull_request_review', 'webhook', now(), 'stored')",
            &[],
        )
        .await
        .unwrap();
    let (mut scheduler, metrics_url) = setup.scheduler_with_metrics(&[]).await;
    eventually("a redelivery", WITHIN, async || {
        !github.redeliveries().is_empty()
    })
    .await;
    // Several more runs: the redelivered event now has a good attempt, so
    // none of them asks again.
    let runs_then = runs(&scrape(&metrics_url).await, "redeliver", "ok");
    eventually("three more redeliver runs", WITHIN, async || {
        let now = runs(&scrape(&metrics_url).await, "redeliver", "ok");
        if now >= runs_then + 3 {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;
    let _ = scheduler.start_kill();
    assert_eq!(github.redeliveries(), [(hook, 2)]);
}

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
async fn teams_are_synced_and_payloads_past_retention_dropped_and_meta_stored() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    let github = &setup.github;
    github.set_team("acme", 3253328, "platform", &[(1, "ada"), (2, "grace")]);
    github.set_meta_hooks(&["192.30.252.0/22", "185.199.108.0/22"]);
    let client = setup.stack.db.client().await;
    client
        .batch_execute(
            "INSERT INTO deliveries (delivery_id, event, source, received_at, outcome, payload) VALUES
             ('old', 'team', 'webhook', now() - interval '2 days', 'stored', '\\x7b7d'),
             ('new', 'team', 'webhook', now(), 'stored', '\\x7b7d')",
        )
        .await
        .unwrap();
    let mut scheduler = setup.scheduler(&[
        ("PRPULSE_TEAM_SYNC_INTERVAL", "200ms"),
        ("PRPULSE_PAYLOAD_RETENTION", "1d"),
    ]);
    let pool = setup.stack.db.pool();
    let members = async || {
        let client = pool.get().await.unwrap();
        prpulse_store::teams::member_logins(&client, 3253328)
            .await
            .unwrap()
    };
    eventually("the team sync", WITHIN, async || {
        members().await == ["ada", "grace"]
    })
    .await;
    github.set_team("acme", 3253328, "platform", &[(1, "ada")]);
    eventually("grace leaving the team", WITHIN, async || {
        members().await == ["ada"]
    })
    .await;
    let kept = |id: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT payload IS NOT NULL
                            OR EXISTS (SELECT 1 FROM delivery_payloads p
                                       WHERE p.delivery_id = d.delivery_id)
                     FROM deliveries d WHERE delivery_id = $1",
                    &[&id],
                )
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };
    assert!(!kept("old").await, "past retention");
    assert!(kept("new").await);
    // The background half of V18's online migration: the pre-V18 payload
    // moves into its month's partition, compressed.
    eventually(
        "the pre-V18 payload moving to delivery_payloads",
        WITHIN,
        async || {
            setup
                .stack
                .db
                .count(
                    "SELECT count(*) FROM delivery_payloads
                 WHERE delivery_id = 'new' AND encoding = 'lz4'",
                )
                .await
                == 1
        },
    )
    .await;
    let ranges = setup
        .stack
        .db
        .count("SELECT count(*) FROM allowed_sources WHERE origin = 'github'")
        .await;
    assert_eq!(ranges, 2);
    let _ = scheduler.start_kill();
}

async fn scrape(url: &str) -> String {
    let answer = prpulse_e2e::http_client()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await;
    match answer {
        Ok(answer) => answer.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Whether `metrics` counts a run of scheduler job `task` with `outcome`.
fn counted(metrics: &str, task: &str, outcome: &str) -> bool {
    metrics.lines().any(|line| {
        line.starts_with("prpulse_scheduler_job_runs_total{")
            && line.contains(&format!(r#"task="{task}""#))
            && line.contains(&format!(r#"outcome="{outcome}""#))
    })
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

/// How many runs of job `task` ended in `outcome`.
fn runs(metrics: &str, task: &str, outcome: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("prpulse_scheduler_job_runs_total{")
                && line.contains(&format!(r#"task="{task}""#))
                && line.contains(&format!(r#"outcome="{outcome}""#))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn gauge(metrics: &str, name: &str) -> Option<i64> {
    metrics
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
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

/// Item 10: the acting scheduler asks whether it still holds its lock
/// before each repository, so one whose lock session is gone stops
/// mid-round (a standby may be acting already).
#[tokio::test]
async fn a_scheduler_that_loses_its_lock_stops_before_the_next_repository() {
    use tokio::io::AsyncBufReadExt;

    let setup = Setup::start().await;
    for repo in ["acme/a", "acme/b", "acme/c"] {
        assert_success(&setup.prpulse(&["repo", "track", repo]).await);
    }
    setup.github.slow_hooks(Duration::from_millis(1_500));
    let before = setup.github.tokens_seen().len();
    let mut scheduler = setup
        .stack
        .scheduler_command()
        .env("PRPULSE_RECONCILE_INTERVAL_MS", "200")
        .env("PRPULSE_LEADER_POLL_MS", "200")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(scheduler.stdout.take().unwrap()).lines();
    eventually("the round's first hook call", WITHIN, async || {
        setup.github.tokens_seen().len() > before
    })
    .await;
    let client = setup.stack.db.client().await;
    let ended = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ended.len(), 1, "the scheduler's lock session");
    let stood_down = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("lost the scheduler lock mid-round") {
                return;
            }
        }
    })
    .await;
    assert!(stood_down.is_ok(), "the scheduler never stopped mid-round");
    let calls = setup.github.tokens_seen().len() - before;
    assert!(
        calls < 3,
        "it went on to other repositories after losing the lock: {calls} hook calls"
    );
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
}

/// Item 11: with the integrations table gone mid-run (as any failed query),
/// redelivery cannot see the organisation hooks. It must say `error` and
/// keep the unrecovered gauges, not report "nothing failed" and let the
/// alert on a delivery about to age out go quiet.
#[tokio::test]
async fn a_failed_query_is_a_failed_redeliver_run_and_the_gauges_keep_their_values() {
    let setup = Setup::start().await;
    let (mut scheduler, metrics_url) = setup
        .scheduler_with_metrics(&[
            // Nothing is redelivered, so the failed delivery stays unrecovered.
            ("PRPULSE_REDELIVERY_MAX_PER_RUN", "0"),
        ])
        .await;
    eventually("the organisation hook", WITHIN, async || {
        setup.github.hooks("orgs/acme").len() == 1
    })
    .await;
    let (hook, _) = setup.only_hook("orgs/acme");
    setup.github.add_delivery(
        hook,
        1,
        "66666666-0000-11f0-8000-000000000006",
        "membership",
        503,
        60,
    );
    eventually("the unrecovered delivery counted", WITHIN, async || {
        gauge(
            &scrape(&metrics_url).await,
            "prpulse_scheduler_unrecovered_deliveries",
        ) == Some(1)
    })
    .await;
    setup
        .stack
        .db
        .client()
        .await
        .batch_execute("ALTER TABLE integrations RENAME TO integrations_gone")
        .await
        .unwrap();
    eventually("a redeliver run counted as an error", WITHIN, async || {
        runs(&scrape(&metrics_url).await, "redeliver", "error") > 0
    })
    .await;
    let metrics = scrape(&metrics_url).await;
    assert_eq!(
        gauge(&metrics, "prpulse_scheduler_unrecovered_deliveries"),
        Some(1),
        "{metrics}"
    );
    assert!(
        gauge(
            &metrics,
            "prpulse_scheduler_oldest_unrecovered_delivery_age_seconds"
        )
        .is_some_and(|age| age >= 59 * 60),
        "{metrics}"
    );
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;
}

/// Item 11: a GitHub that hangs does not hold a stopping scheduler for the
/// request timeout and its retries (over two minutes): the round is cut
/// after the grace.
#[tokio::test]
async fn sigterm_ends_a_round_stuck_on_github_within_the_grace() {
    let setup = Setup::start().await;
    assert_success(&setup.prpulse(&["repo", "track", "acme/api"]).await);
    setup.github.slow_hooks(Duration::from_secs(300));
    let before = setup.github.tokens_seen().len();
    let mut scheduler = setup.scheduler(&[]);
    eventually("the scheduler waiting on GitHub", WITHIN, async || {
        setup.github.tokens_seen().len() > before
    })
    .await;
    let pid = scheduler.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    // The grace is 5 s; the request timeout alone is 30 s.
    let status = tokio::time::timeout(Duration::from_secs(20), scheduler.wait())
        .await
        .expect("the scheduler stopped within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
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
