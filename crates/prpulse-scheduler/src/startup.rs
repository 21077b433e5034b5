use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use prometheus::Registry;
use prpulse_runtime::wiring::{MetricsEndpoint, PublisherLink, open_database};
use prpulse_store::{Keyring, Pool, tracking};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{
    SchedulerConfig,
    jobs::{backfill_new, dora_links, jira, meta, reconcile, redelivery, retention, teams},
    leader::Leadership,
    metrics::SchedulerMetrics,
    round::{Clients, Interrupted, Job, JobError, Ran, Round},
};

const RETENTION_EVERY: Duration = Duration::from_secs(3_600);

/// After SIGTERM, the round in progress has this long to reach the end of
/// the repository it is on (it stops before the next); then it is dropped
/// where it stands. Every step is safe to cut: a secret is stored before
/// GitHub is told, and one GitHub may lack is sent again next round.
pub const ROUND_GRACE: Duration = Duration::from_secs(5);

pub struct Scheduler {
    pub(crate) config: SchedulerConfig,
    pub(crate) keyring: Keyring,
    pub(crate) pool: Pool,
    pub(crate) metrics: SchedulerMetrics,
    endpoint: MetricsEndpoint,
    pub(crate) broker: PublisherLink,
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
        let mut clients = Clients::default();
        while let Some(leadership) =
            Leadership::acquire(&database_url, self.config.leader_poll, &stop).await
        {
            info!("this scheduler is now the active one");
            self.metrics.is_leader.set(1);
            let mut last_runs = HashMap::new();
            loop {
                let round = self.act(&mut clients, &mut last_runs, &leadership, &stop);
                let ended = tokio::select! {
                    ended = round => ended,
                    () = cut_short(&stop) => {
                        warn!(grace = ?ROUND_GRACE, "stopping: the round in progress was cut short");
                        Err(Interrupted::Stopping)
                    }
                };
                if ended == Err(Interrupted::LostLock) {
                    warn!("lost the scheduler lock mid-round; standing by");
                    break;
                }
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

    /// One round of every job that is due; ends early if the lock is lost
    /// or the scheduler is stopping.
    async fn act(
        &self,
        clients: &mut Clients,
        last_runs: &mut HashMap<Job, Instant>,
        leadership: &Leadership,
        stop: &CancellationToken,
    ) -> Result<(), Interrupted> {
        if let Err(error) = clients.forget_stale(self).await {
            error!(error = %format!("{error:#}"), "cannot check the integrations' credentials; GitHub clients are rebuilt");
        }
        let mut round = Round::new(self, clients, leadership, stop);
        self.run(Job::ReconcileHooks, reconcile::run(&mut round))
            .await?;
        self.run(Job::ReconcileJira, jira::run(&mut round)).await?;
        self.run(Job::Redeliver, redelivery::run(&mut round))
            .await?;
        self.run(Job::Backfill, backfill_new::run(&mut round))
            .await?;
        self.run(Job::DoraLinks, dora_links::run(&mut round))
            .await?;
        if due(last_runs, Job::TeamSync, self.config.team_sync_interval) {
            self.run(Job::TeamSync, teams::run(&mut round)).await?;
        }
        if due(last_runs, Job::Retention, RETENTION_EVERY) {
            self.run(Job::Retention, retention::run(self)).await?;
        }
        if due(last_runs, Job::Meta, self.config.meta_interval) {
            self.run(Job::Meta, meta::run(&mut round)).await?;
        }
        for (account, client) in round.clients.iter() {
            if let Some(remaining) = client.rate_limit().remaining {
                self.metrics
                    .rate_limit_remaining
                    .with_label_values(&[account])
                    .set(i64::try_from(remaining).unwrap_or(i64::MAX));
            }
        }
        self.count_webhooks().await;
        Ok(())
    }

    /// Runs one job, and counts and logs its end the same way for every
    /// job; `Err` only when the round must stop.
    async fn run(
        &self,
        job: Job,
        work: impl Future<Output = Result<Ran, JobError>>,
    ) -> Result<(), Interrupted> {
        let started = Instant::now();
        let ended = work.await;
        let elapsed = started.elapsed();
        match ended {
            Ok(Ran::Done) => {
                debug!(task = job.label(), ?elapsed, "job done");
                self.metrics.record(job, true);
            }
            Ok(Ran::NothingToDo) => {}
            Err(JobError::Failed(error)) => {
                error!(task = job.label(), ?elapsed, error = %format!("{error:#}"), "job failed");
                self.metrics.record(job, false);
            }
            Err(JobError::Interrupted(why)) => {
                warn!(
                    task = job.label(),
                    ?elapsed,
                    ?why,
                    "job interrupted; the round ends here"
                );
                return Err(why);
            }
        }
        Ok(())
    }

    /// The `webhooks` gauge; left as it was if the repositories cannot be
    /// listed.
    async fn count_webhooks(&self) {
        let repositories = match self.pool.get().await {
            Ok(client) => tracking::repositories(&client)
                .await
                .map_err(anyhow::Error::from),
            Err(error) => Err(error.into()),
        };
        let repositories = match repositories {
            Ok(repositories) => repositories,
            Err(error) => {
                error!(error = %format!("{error:#}"), "cannot count webhooks; the gauge keeps its last value");
                return;
            }
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

/// Resolves `ROUND_GRACE` after `stop`.
async fn cut_short(stop: &CancellationToken) {
    stop.cancelled().await;
    tokio::time::sleep(ROUND_GRACE).await;
}

fn due(last_runs: &mut HashMap<Job, Instant>, job: Job, every: Duration) -> bool {
    let now = Instant::now();
    let is_due = last_runs
        .get(&job)
        .is_none_or(|last| now.duration_since(*last) >= every);
    if is_due {
        last_runs.insert(job, now);
    }
    is_due
}
