//! What SREs see: ingest's and the worker's `/metrics` after real traffic
//! count that traffic, the worker reports the depth of the dead-letter
//! queue, the sync-scheduler's say it acts and count its reconciliation, and
//! the dashboards and alerts in `deploy/` query only metrics that exist.
//!
//! One module per surface; this one holds the stack, the traffic and the
//! scrape they share.

mod dashboards;
mod endpoints;
mod reporting_role;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{TimeZone, Utc};
use prpulse_domain::RepoFullName;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions, eventually,
    fake_github::{FakeGitHub, RATE_LIMIT_REMAINING},
    listen::{ANY_LOCAL_PORT, AddressFile},
    metrics::Scrape,
};
use prpulse_store::tracking;

/// A stack with ingest's and the worker's `/metrics` endpoints on, the
/// queue depth polled fast; a scheduler once `start_scheduler` is called.
struct Observed {
    stack: Stack,
    ingest_metrics: String,
    worker_metrics: String,
    /// Known once `start_scheduler` has started it.
    scheduler_metrics: String,
    http: reqwest::Client,
}

/// A sync-scheduler of the observed stack, against a fake GitHub.
struct Scheduler {
    github: FakeGitHub,
    _process: tokio::process::Child,
}

const HOOK_URL: &str = "https://prpulse.example.com/webhooks/github";

impl Observed {
    async fn start() -> Self {
        let metrics_on = || vec![("PRPULSE_METRICS_ADDR".to_owned(), ANY_LOCAL_PORT.to_owned())];
        let mut worker_env = metrics_on();
        worker_env.push(("PRPULSE_QUEUE_DEPTH_INTERVAL_MS".into(), "200".into()));
        let mut stack = Stack::start_with(StackOptions {
            ingest_env: metrics_on(),
            worker_env,
            ..StackOptions::default()
        })
        .await;
        Self {
            ingest_metrics: stack.ingest_metrics_url(),
            worker_metrics: stack.worker_metrics_url(0).await,
            scheduler_metrics: String::new(),
            stack,
            http: prpulse_e2e::http_client().build().unwrap(),
        }
    }

    /// Starts a scheduler (reconciling every 200 ms) against a fake GitHub,
    /// with an integration for `acme` to act with, and tracks `acme/api`
    /// for it to reconcile.
    async fn start_scheduler(&mut self) -> Scheduler {
        let github = FakeGitHub::start().await;
        github.add_repository("acme/api", 10);
        let added = self
            .stack
            .cli_with(
                &["integration", "add", "acme"],
                &[(
                    "PRPULSE_GITHUB_TOKEN",
                    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                )],
            )
            .await;
        assert!(
            added.status.success(),
            "prpulse integration add: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let addresses = AddressFile::new("scheduler");
        let (name, path) = addresses.env();
        let mut process = self
            .stack
            .scheduler_command()
            .env("PRPULSE_PUBLIC_URL", HOOK_URL)
            .env("PRPULSE_GITHUB_API_URL", github.uri())
            .env("PRPULSE_RECONCILE_INTERVAL_MS", "200")
            .env("PRPULSE_LEADER_POLL_MS", "200")
            .env("PRPULSE_METRICS_ADDR", ANY_LOCAL_PORT)
            .env(name, path)
            .spawn()
            .expect("starting prpulse-sync-scheduler");
        let metrics = addresses
            .wait_for("metrics", &mut process)
            .await
            .expect("the scheduler exited before it served /metrics");
        self.scheduler_metrics = format!("http://{metrics}/metrics");
        let pool = self.stack.db.pool();
        tracking::track(
            &pool.get().await.unwrap(),
            &RepoFullName::parse("acme/api").unwrap(),
        )
        .await
        .unwrap();
        Scheduler {
            github,
            _process: process,
        }
    }

    async fn scrape(&self, url: &str) -> Option<Scrape> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 200, "GET {url}");
        Some(Scrape::parse(response.text().await.ok()?))
    }

    async fn scrape_ingest(&self) -> Scrape {
        self.scrape(&self.ingest_metrics)
            .await
            .expect("ingest serves /metrics once it is ready")
    }

    /// Scrapes the worker until `done` holds (its endpoint may still be
    /// starting, and it settles deliveries after ingest answered).
    async fn scrape_worker_until(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        self.scrape_until("worker", &self.worker_metrics, what, done)
            .await
    }

    /// Scrapes the scheduler until `done` holds (it starts, takes the lock,
    /// then acts every reconcile interval).
    async fn scrape_scheduler_until(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        self.scrape_until("scheduler", &self.scheduler_metrics, what, done)
            .await
    }

    async fn scrape_until(
        &self,
        binary: &str,
        url: &str,
        what: &str,
        done: impl Fn(&Scrape) -> bool,
    ) -> Scrape {
        eventually(
            &format!("the {binary}'s /metrics showing {what}"),
            Duration::from_secs(30),
            async || match self.scrape(url).await {
                Some(scrape) if done(&scrape) => Ok(scrape),
                Some(scrape) => Err(scrape.text),
                None => Err("(none: the endpoint did not answer)".to_owned()),
            },
        )
        .await
    }
}

/// What one stack receives: four deliveries projected (one pull request
/// reviewed and merged, another left open), one that can never be
/// (dead-lettered), a ping, an event prpulse ignores, a forged one.
async fn send_traffic(observed: &Observed) {
    let stack = &observed.stack;
    let ada = Person::user(1, "ada");
    let grace = Person::user(2, "grace");
    let at =
        |hours| Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::Duration::hours(hours);
    let pr = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, at(0));
    let still_open = PullRequestBuilder::new(&Repo::new(11, "acme/web"), 2, &grace, at(1));
    for delivery in [
        pr.opened(),
        pr.review(101, &grace, "approved", at(1)),
        pr.merged(at(2), &grace),
        still_open.opened(),
    ] {
        assert_eq!(stack.deliver(&delivery).await.status(), 202);
    }
    // A worker that takes a delivery before its dead-letter publisher has
    // connected requeues it instead of dead-lettering it, so the one that
    // must be dead-lettered waits until the worker is well under way.
    stack.wait_for_deliveries(4).await;
    observed
        .scrape_worker_until("the first queue depths", |scrape| {
            scrape.has_series("prpulse_queue_messages")
        })
        .await;
    let wrong_shape = Delivery::new(
        "pull_request",
        &serde_json::json!({"action": "opened", "number": 2}),
    );
    assert_eq!(stack.deliver(&wrong_shape).await.status(), 202);
    let ping = Delivery::new("ping", &serde_json::json!({"zen": "Design for failure."}));
    assert_eq!(stack.deliver(&ping).await.status(), 200);
    let push = Delivery::new("push", &serde_json::json!({"ref": "refs/heads/main"}));
    assert_eq!(stack.deliver(&push).await.status(), 204);
    let forged = pr.closed(at(3));
    let answer = stack.deliver_signed(&forged, b"not the secret", None).await;
    assert_eq!(answer.status(), 401);
}

/// Starts an observed stack, sends the traffic, and returns both scrapes
/// once the worker has settled all five enqueued deliveries.
async fn observe_traffic() -> (Observed, Scrape, Scrape) {
    let observed = Observed::start().await;
    send_traffic(&observed).await;
    let ingest = observed.scrape_ingest().await;
    let worker = observed
        .scrape_worker_until("five settled deliveries", |scrape| {
            scrape.sum("prpulse_worker_deliveries_total", &[]) >= 5.0
                && scrape.sum("prpulse_worker_processing_duration_seconds_count", &[]) >= 5.0
        })
        .await;
    (observed, ingest, worker)
}

/// Whether the scheduler acts, has reconciled `acme/api` (installed its
/// hook) and finished that run: the webhook counts are set last, after the
/// rate limit GitHub reported, so every gauge a run sets is exported.
fn reconciled(scrape: &Scrape) -> bool {
    scrape.value("prpulse_scheduler_is_leader", &[]) == Some(1.0)
        && scrape.value("prpulse_scheduler_webhooks", &[("state", "tracked")]) == Some(1.0)
        && scrape.value(
            "prpulse_scheduler_job_runs_total",
            &[("task", "reconcile_hooks"), ("outcome", "ok")],
        ) >= Some(1.0)
        && scrape.has_series("prpulse_scheduler_github_rate_limit_remaining")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}
