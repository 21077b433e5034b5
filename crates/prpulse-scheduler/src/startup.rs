use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use prometheus::Registry;
use prpulse_github_api::{GitHubClient, GitHubError, hooks::HookOwner};
use prpulse_runtime::wiring::{MetricsEndpoint, PublisherLink, open_database};
use prpulse_store::{
    Keyring, Pool,
    integrations::{self, Integration},
    tracking::{self, TrackState, TrackedRepository},
};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    SchedulerConfig,
    hooks::{HookReconciler, HookSite, Outcome, ReconcileError},
    jobs::{backfill, meta, redelivery, retention, teams},
    leader::Leadership,
    metrics::SchedulerMetrics,
};

const RETENTION_EVERY: Duration = Duration::from_secs(3_600);

pub struct Scheduler {
    config: SchedulerConfig,
    keyring: Keyring,
    pool: Pool,
    metrics: SchedulerMetrics,
    endpoint: MetricsEndpoint,
    broker: PublisherLink,
}

impl Scheduler {
    pub async fn build(mut config: SchedulerConfig) -> anyhow::Result<Self> {
        let keyring = config
            .service
            .secret_key
            .take()
            .context("PRPULSE_SECRET_KEY is required")?;
        let pool = open_database(&config.service).await?;
        let registry = Registry::new();
        let metrics = SchedulerMetrics::register(&registry)?;
        let endpoint = MetricsEndpoint::start(&config.service, registry, "scheduler")?;
        // Backfill publishes synthetic deliveries into the same exchange.
        let broker = PublisherLink::start(
            &config.service,
            "prpulse-sync-scheduler",
            Duration::from_secs(5),
        );
        Ok(Self {
            config,
            keyring,
            pool,
            metrics,
            endpoint,
            broker,
        })
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.endpoint.addr()
    }

    /// Stands by until it holds the scheduler lock, then acts every
    /// reconcile interval until `stop` (or until the lock is lost, when it
    /// stands by again).
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let database_url = self.config.service.database_url.expose_secret().to_owned();
        while let Some(leadership) =
            Leadership::acquire(&database_url, self.config.leader_poll, &stop).await
        {
            info!("this scheduler is now the active one");
            self.metrics.is_leader.set(1);
            let mut last_runs = HashMap::new();
            loop {
                self.act(&mut last_runs).await;
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(self.config.reconcile_interval) => {}
                }
                if !leadership.still_held().await {
                    warn!("lost the scheduler lock; standing by");
                    break;
                }
            }
            self.metrics.stand_down();
            drop(leadership);
            if stop.is_cancelled() {
                break;
            }
        }
        self.broker.close().await;
        self.endpoint.stop().await;
        info!("prpulse-sync-scheduler stopped");
        Ok(())
    }

    /// One round of every job that is due.
    async fn act(&self, last_runs: &mut HashMap<&'static str, Instant>) {
        let mut clients = Clients::default();
        let repositories = match self.repositories().await {
            Ok(repositories) => repositories,
            Err(error) => {
                error!(error = %format!("{error:#}"), "cannot list tracked repositories");
                self.record("reconcile_hooks", false);
                return;
            }
        };
        let repositories_ok = self.reconcile_hooks(&repositories, &mut clients).await;
        let organizations_ok = self.reconcile_org_hooks(&mut clients).await;
        self.record("reconcile_hooks", repositories_ok && organizations_ok);
        let repositories = self.repositories().await.unwrap_or_default();
        let ok = self.redeliver(&repositories, &mut clients).await;
        self.record("redeliver", ok);
        if repositories.iter().any(needs_backfill) {
            let ok = self.backfill_new(&repositories, &mut clients).await;
            self.record("backfill", ok);
        }
        if due(last_runs, "team_sync", self.config.team_sync_interval) {
            let ok = self.sync_teams(&mut clients).await;
            self.record("team_sync", ok);
        }
        if due(last_runs, "retention", RETENTION_EVERY) {
            let ok = match retention::purge_old_payloads(&self.pool, self.config.payload_retention)
                .await
            {
                Ok(purged) => {
                    if purged > 0 {
                        info!(purged, "dropped raw payloads past retention");
                    }
                    true
                }
                Err(error) => {
                    error!(%error, "payload retention failed");
                    false
                }
            };
            self.record("retention", ok);
        }
        if due(last_runs, "meta", self.config.meta_interval) {
            let ok = self.refresh_meta(&repositories, &mut clients).await;
            self.record("meta", ok);
        }
        for (account, client) in &clients.by_account {
            if let Some(remaining) = client.rate_limit().remaining {
                self.metrics
                    .rate_limit_remaining
                    .with_label_values(&[account])
                    .set(i64::try_from(remaining).unwrap_or(i64::MAX));
            }
        }
        self.count_webhooks().await;
    }

    /// One pass over every tracked repository; a failing one is recorded
    /// on its row and does not stop the others. True if all went well.
    async fn reconcile_hooks(
        &self,
        repositories: &[TrackedRepository],
        clients: &mut Clients,
    ) -> bool {
        let mut all_ok = true;
        for repo in repositories {
            let span = info_span!("reconcile", repository = %repo.full_name);
            let result = async {
                let github = clients.get(self, &repo.account).await?;
                anyhow::Ok(
                    self.reconciler(github)
                        .reconcile(HookSite::Repository(repo))
                        .await?,
                )
            }
            .instrument(span.clone())
            .await;
            let _entered = span.enter();
            match result {
                Ok(Outcome::Unchanged) => {}
                Ok(outcome) => info!(?outcome, "webhook reconciled"),
                Err(error) => {
                    all_ok = false;
                    let message = format!("{error:#}");
                    error!(error = %message, "webhook reconciliation failed");
                    if let Ok(client) = self.pool.get().await {
                        let _ = tracking::set_error(&client, &repo.full_name, &message).await;
                    }
                }
            }
        }
        all_ok
    }

    fn reconciler<'a>(&'a self, github: &'a GitHubClient) -> HookReconciler<'a> {
        HookReconciler::new(&self.config, github, &self.pool, &self.keyring)
    }

    /// One organisation hook per organisation integration, where the token
    /// allows it: GitHub's 403 or 404 (no `admin:org_hook`, or an app
    /// without the organisation hooks permission) is recorded on the
    /// integration for `prpulse integration list` and is not a failure;
    /// teams then come from the periodic listing only.
    async fn reconcile_org_hooks(&self, clients: &mut Clients) -> bool {
        let organizations = match self.organizations().await {
            Ok(organizations) => organizations,
            Err(error) => {
                error!(error = %format!("{error:#}"), "cannot list integrations");
                return false;
            }
        };
        let mut all_ok = true;
        for org in &organizations {
            let result = async {
                let github = clients.get(self, &org.account).await?;
                Ok::<_, anyhow::Error>(
                    self.reconciler(github)
                        .reconcile(HookSite::Organization(org))
                        .await,
                )
            }
            .await;
            let unavailable = match result {
                Ok(Ok(Outcome::Unchanged)) => continue,
                Ok(Ok(outcome)) => {
                    info!(organization = %org.account, ?outcome, "organisation webhook reconciled");
                    continue;
                }
                Ok(Err(ReconcileError::GitHub(
                    error @ (GitHubError::Forbidden { .. } | GitHubError::NotFound { .. }),
                ))) => format!(
                    "{error} (an organisation hook needs the admin:org_hook scope, or an app \
                     with the organization_hooks permission; teams come from the periodic listing)"
                ),
                Ok(Err(error)) => {
                    all_ok = false;
                    format!("{error}")
                }
                Err(error) => {
                    all_ok = false;
                    format!("{error:#}")
                }
            };
            if org.org_hook_error.as_deref() != Some(unavailable.as_str()) {
                warn!(organization = %org.account, error = %unavailable, "no organisation webhook");
            }
            if let Ok(client) = self.pool.get().await {
                let _ = integrations::set_org_hook_error(&client, &org.account, &unavailable).await;
            }
        }
        all_ok
    }

    async fn organizations(&self) -> anyhow::Result<Vec<Integration>> {
        let client = self.pool.get().await?;
        Ok(integrations::organizations(&client).await?)
    }

    async fn redeliver(&self, repositories: &[TrackedRepository], clients: &mut Clients) -> bool {
        let mut all_ok = true;
        let mut unrecovered = 0;
        let mut oldest: Option<chrono::DateTime<Utc>> = None;
        // Organisation hooks too: a lost team event is worth redelivering.
        let organizations = self.organizations().await.unwrap_or_default();
        let hooks = repositories
            .iter()
            .filter(|repo| repo.state == TrackState::Tracked)
            .filter_map(|repo| {
                let owner = HookOwner::Repository(&repo.full_name);
                repo.hook_id.map(|id| (repo.account.as_str(), owner, id))
            })
            .chain(organizations.iter().filter_map(|org| {
                let owner = HookOwner::Organization(&org.account);
                org.org_hook_id.map(|id| (org.account.as_str(), owner, id))
            }));
        for (account, owner, hook_id) in hooks {
            let result = async {
                let github = clients.get(self, account).await?;
                anyhow::Ok(
                    redelivery::redeliver_failed(
                        github,
                        &self.pool,
                        owner,
                        hook_id,
                        self.config.redelivery_max_per_run,
                    )
                    .await?,
                )
            }
            .await;
            match result {
                Ok(report) => {
                    if report.requested > 0 {
                        info!(%owner, requested = report.requested, "asked GitHub to redeliver failed deliveries");
                    }
                    self.metrics.redeliveries.inc_by(report.requested as u64);
                    unrecovered += report.unrecovered;
                    oldest = match (oldest, report.oldest_unrecovered) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Err(error) => {
                    all_ok = false;
                    error!(%owner, error = %format!("{error:#}"), "redelivery failed");
                }
            }
        }
        self.metrics
            .unrecovered
            .set(i64::try_from(unrecovered).unwrap_or(i64::MAX));
        self.metrics
            .oldest_unrecovered_age
            .set(oldest.map_or(0, |first| (Utc::now() - first).num_seconds().max(0)));
        all_ok
    }

    async fn backfill_new(
        &self,
        repositories: &[TrackedRepository],
        clients: &mut Clients,
    ) -> bool {
        let since =
            Utc::now() - chrono::Duration::from_std(self.config.backfill_since).unwrap_or_default();
        let mut all_ok = true;
        for repo in repositories.iter().filter(|repo| needs_backfill(repo)) {
            let result = async {
                let github = clients.get(self, &repo.account).await?;
                let report = backfill::backfill(
                    github,
                    &self.broker.publisher,
                    &repo.full_name,
                    since,
                    |_| {},
                )
                .await?;
                let client = self.pool.get().await?;
                tracking::set_backfilled(&client, &repo.full_name).await?;
                anyhow::Ok(report)
            }
            .await;
            match result {
                Ok(report) => {
                    info!(repository = %repo.full_name, pull_requests = report.pull_requests, reviews = report.reviews, "backfilled")
                }
                Err(error) => {
                    all_ok = false;
                    error!(repository = %repo.full_name, error = %format!("{error:#}"), "backfill failed; it is tried again next run");
                }
            }
        }
        all_ok
    }

    async fn sync_teams(&self, clients: &mut Clients) -> bool {
        let organizations = match self.pool.get().await {
            Ok(client) => integrations::organizations(&client)
                .await
                .unwrap_or_default(),
            Err(_) => return false,
        };
        let mut all_ok = true;
        for org in organizations
            .iter()
            .map(|integration| integration.account.as_str())
        {
            let result = async {
                let github = clients.get(self, org).await?;
                anyhow::Ok(teams::sync_teams(github, &self.pool, org, &self.config.bots).await?)
            }
            .await;
            match result {
                Ok(count) => info!(organization = %org, teams = count, "teams synced"),
                Err(error) => {
                    all_ok = false;
                    error!(organization = %org, error = %format!("{error:#}"), "team sync failed");
                }
            }
        }
        all_ok
    }

    async fn refresh_meta(
        &self,
        repositories: &[TrackedRepository],
        clients: &mut Clients,
    ) -> bool {
        // Any integration's token will do: /meta is the same for everyone.
        let Some(account) = repositories.first().map(|repo| repo.account.clone()) else {
            return true;
        };
        let result = async {
            let github = clients.get(self, &account).await?;
            anyhow::Ok(meta::refresh_hook_ranges(github, &self.pool).await?)
        }
        .await;
        match result {
            Ok(ranges) => {
                info!(ranges, "GitHub hook ranges refreshed");
                true
            }
            Err(error) => {
                error!(error = %format!("{error:#}"), "refreshing GitHub's hook ranges failed");
                false
            }
        }
    }

    async fn repositories(&self) -> anyhow::Result<Vec<TrackedRepository>> {
        let client = self.pool.get().await?;
        Ok(tracking::repositories(&client).await?)
    }

    fn record(&self, job: &'static str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.metrics
            .job_runs
            .with_label_values(&[job, outcome])
            .inc();
        if ok {
            self.metrics
                .last_success
                .with_label_values(&[job])
                .set(Utc::now().timestamp());
        }
    }

    async fn count_webhooks(&self) {
        let Ok(repositories) = self.repositories().await else {
            return;
        };
        for state in ["pending", "tracked", "untracking", "error"] {
            let count = repositories
                .iter()
                .filter(|repo| match state {
                    "error" => repo.last_error.is_some(),
                    _ => repo.state.as_str() == state && repo.last_error.is_none(),
                })
                .count();
            self.metrics
                .webhooks
                .with_label_values(&[state])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}

fn needs_backfill(repo: &TrackedRepository) -> bool {
    repo.state == TrackState::Tracked && repo.backfilled_at.is_none()
}

fn due(last_runs: &mut HashMap<&'static str, Instant>, job: &'static str, every: Duration) -> bool {
    let now = Instant::now();
    let is_due = last_runs
        .get(job)
        .is_none_or(|last| now.duration_since(*last) >= every);
    if is_due {
        last_runs.insert(job, now);
    }
    is_due
}

/// One GitHub client per integration, for one round.
#[derive(Default)]
struct Clients {
    by_account: HashMap<String, GitHubClient>,
}

impl Clients {
    async fn get(&mut self, scheduler: &Scheduler, account: &str) -> anyhow::Result<&GitHubClient> {
        if !self.by_account.contains_key(account) {
            let client = scheduler.pool.get().await?;
            let github =
                crate::github::client_for(&scheduler.config, &client, &scheduler.keyring, account)
                    .await?;
            self.by_account.insert(account.to_owned(), github);
        }
        Ok(&self.by_account[account])
    }
}
