//! prpulse-sync-scheduler and `prpulse repo ...` against a fake GitHub
//! (GitHub's hook paths, payloads and errors) and the real Postgres, broker
//! and ingest: the hook prpulse installs is one whose deliveries the real
//! ingest accepts.
//!
//! One module per job; this one holds the setup they share.

mod app;
mod backfill;
mod hooks;
mod leader;
mod redelivery;
mod teams_and_retention;

use std::{process::Output, time::Duration};

use chrono::{TimeZone, Utc};
use prpulse_domain::RepoFullName;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, eventually,
    fake_github::{self, FakeGitHub},
    listen::{ANY_LOCAL_PORT, AddressFile},
    metrics::{Scrape, sample, worker_settled},
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
    runs(metrics, task, outcome) > 0
}

/// How many runs of job `task` ended in `outcome`.
fn runs(metrics: &str, task: &str, outcome: &str) -> u64 {
    Scrape::parse(metrics.to_owned()).sum(
        "prpulse_scheduler_job_runs_total",
        &[("task", task), ("outcome", outcome)],
    ) as u64
}

fn gauge(metrics: &str, name: &str) -> Option<i64> {
    sample(metrics, name, &[]).map(|value| value as i64)
}
