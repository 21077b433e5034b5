use std::{collections::HashMap, net::SocketAddr, time::Duration};

use anyhow::Context;
use prometheus::Registry;
use prpulse_github_api::{ClientSettings, GitHubClient};
use prpulse_runtime::wiring::{MetricsEndpoint, open_database};
use prpulse_store::{
    Keyring, Pool,
    tracking::{self, TrackedRepository},
};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    SchedulerConfig,
    hooks::{HookReconciler, Outcome},
    leader::Leadership,
    metrics::SchedulerMetrics,
};

const RECONCILE_HOOKS: &str = "reconcile_hooks";

pub struct Scheduler {
    config: SchedulerConfig,
    keyring: Keyring,
    pool: Pool,
    metrics: SchedulerMetrics,
    endpoint: MetricsEndpoint,
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
        Ok(Self {
            config,
            keyring,
            pool,
            metrics,
            endpoint,
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
            loop {
                self.reconcile_hooks().await;
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(self.config.reconcile_interval) => {}
                }
                if !leadership.still_held().await {
                    warn!("lost the scheduler lock; standing by");
                    break;
                }
            }
            self.metrics.is_leader.set(0);
            drop(leadership);
            if stop.is_cancelled() {
                break;
            }
        }
        self.endpoint.stop().await;
        info!("prpulse-sync-scheduler stopped");
        Ok(())
    }

    /// One pass over every tracked repository. A failing repository is
    /// recorded and does not stop the others.
    pub async fn reconcile_hooks(&self) {
        let repositories = match self.repositories().await {
            Ok(repositories) => repositories,
            Err(error) => {
                error!(error = %format!("{error:#}"), "cannot list tracked repositories");
                self.record(false);
                return;
            }
        };
        let mut clients: HashMap<String, GitHubClient> = HashMap::new();
        let mut all_ok = true;
        for repo in &repositories {
            let span = info_span!("reconcile", repository = %repo.full_name);
            let result = async {
                if !clients.contains_key(&repo.account) {
                    clients.insert(repo.account.clone(), self.github_for(&repo.account).await?);
                }
                let github = &clients[&repo.account];
                let reconciler = HookReconciler {
                    github,
                    pool: &self.pool,
                    keyring: &self.keyring,
                    hook_url: &self.config.hook_url,
                    rotate_after: self.config.rotate_after,
                    rotation_overlap: self.config.rotation_overlap,
                };
                let outcome = reconciler.reconcile(repo).await?;
                if let Some(remaining) = github.rate_limit().remaining {
                    self.metrics
                        .rate_limit_remaining
                        .with_label_values(&[&repo.account])
                        .set(i64::try_from(remaining).unwrap_or(i64::MAX));
                }
                anyhow::Ok(outcome)
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
        self.record(all_ok);
        self.count_webhooks().await;
    }

    async fn repositories(&self) -> anyhow::Result<Vec<TrackedRepository>> {
        let client = self.pool.get().await?;
        Ok(tracking::repositories(&client).await?)
    }

    async fn github_for(&self, account: &str) -> anyhow::Result<GitHubClient> {
        let client = self.pool.get().await?;
        let token: SecretString = tracking::integration_token(&client, &self.keyring, account)
            .await?
            .with_context(|| {
                format!("no integration for {account}: run `prpulse integration add {account}`")
            })?;
        Ok(GitHubClient::new(ClientSettings {
            base_url: self.config.github_api_url.clone(),
            token,
            timeout: Duration::from_secs(30),
            max_rate_limit_wait: self.config.github_max_wait,
        })?)
    }

    fn record(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.metrics
            .job_runs
            .with_label_values(&[RECONCILE_HOOKS, outcome])
            .inc();
        if ok {
            self.metrics
                .last_success
                .with_label_values(&[RECONCILE_HOOKS])
                .set(chrono::Utc::now().timestamp());
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
