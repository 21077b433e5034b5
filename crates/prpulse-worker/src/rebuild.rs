//! `prpulse rebuild`: recomputes the projection from the raw payloads in
//! the ledger, after a definition, `PRPULSE_BOT_LOGINS` or a bug changed,
//! while workers keep consuming.
//!
//! Why that is safe beside live workers: the ledger is never touched (no
//! delivery is applied twice or lost), repositories and people only ever
//! take a newer fact (merging the ledger again cannot undo a worker's
//! newer one), and each pull request is reset and re-applied in one
//! transaction that first locks its row and only then reads its
//! deliveries: a worker's delivery of it either committed before (and is
//! re-applied) or waits for the lock and applies on top of the rebuilt row.
//! Either way the row ends as a replay of every delivery would leave it.
//!
//! Phases, each committed in small transactions with the checkpoint, so an
//! interrupted rebuild resumes where it stopped:
//! 1. deliveries: read every payload in scope (and every one not yet known
//!    to be about a pull request, to record which one it is), merging the
//!    newest facts about repositories and people; then classify every
//!    person again under the current bot policy;
//! 2. pull requests: for each one in scope, reset it, apply all its
//!    deliveries again, and recompute its metrics once.
//!
//! DORA facts (deployments, statuses, workflow runs, issues) are applied
//! again in phase 1; merge commits come with their pull requests in phase 2.
//!
//! Team rows and memberships are not rebuilt: membership events carry no
//! time, so the scheduler's team listing is their source of truth.

use prpulse_domain::{BotPolicy, DeliveryId, EventName};
use prpulse_store::{
    Pool, StoreError,
    projection::Repeats,
    rebuild::{self, Checkpoint, Phase, Scope, StoredDelivery},
};
use tokio_util::sync::CancellationToken;

use crate::process::{refresh_reviewed_by, upsert_entities};
use crate::projection::Projection;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the rebuild is doing, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A phase starts with this much work left.
    Phase { phase: Phase, total: u64 },
    /// This much more of the current phase is done.
    Advanced(u64),
}

/// A pull request rebuilt from fewer payloads than it had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialPullRequest {
    pub repository_id: i64,
    pub number: i32,
    /// Its deliveries whose payload retention removed (or that no longer
    /// parse).
    pub missing: usize,
    /// It may also have had deliveries among those that lost their payload
    /// before prpulse recorded which pull request they were about.
    pub maybe_more: bool,
}

/// Clock skew allowed between GitHub's `created_at` and prpulse's receive
/// time when deciding that a pull request is newer than a lost payload.
const SKEW: chrono::TimeDelta = chrono::TimeDelta::days(1);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// It continued a run that was interrupted before.
    pub resumed: bool,
    /// It stopped (cancelled) before the end; run it again to resume.
    pub interrupted: bool,
    pub deliveries_read: u64,
    pub pull_requests: u64,
    /// People whose bot flag the current policy changed.
    pub reclassified: usize,
    /// Pull requests some of whose payloads are gone: not reset (that
    /// would lose what only those payloads said) but merged with what
    /// remains and their metrics recomputed.
    pub partial: Vec<PartialPullRequest>,
    /// Projected deliveries whose payload is gone and that name no pull
    /// request (removed before prpulse recorded it, or team events).
    pub purged_unattributed: i64,
    /// Stored payloads that no longer parse, by delivery id.
    pub unparseable: Vec<String>,
}

pub struct Rebuild {
    pool: Pool,
    bots: BotPolicy,
    scope: Scope,
    page: i64,
}

impl Rebuild {
    pub fn new(pool: Pool, bots: BotPolicy, scope: Scope) -> Self {
        Self {
            pool,
            bots,
            scope,
            page: 200,
        }
    }

    /// Deliveries per transaction in the deliveries phase, pull requests
    /// per listing in the next (each pull request has its own transaction).
    pub fn page_size(mut self, page: i64) -> Self {
        self.page = page.max(1);
        self
    }

    /// Drops the unfinished run of this scope, so the next [`Self::run`]
    /// starts from the beginning.
    pub async fn restart(&self) -> Result<(), RebuildError> {
        let client = self.pool.get().await.map_err(StoreError::from)?;
        rebuild::abandon(&client, &self.scope).await?;
        Ok(())
    }

    /// Runs (or resumes) the rebuild of the scope until done or `cancel`led
    /// (checked between transactions).
    pub async fn run(
        &self,
        cancel: &CancellationToken,
        mut progress: impl FnMut(Progress),
    ) -> Result<Report, RebuildError> {
        let mut client = self.pool.get().await.map_err(StoreError::from)?;
        let mut checkpoint = rebuild::open_run(&client, &self.scope).await?;
        let mut report = Report {
            resumed: checkpoint.resumed,
            ..Report::default()
        };
        if checkpoint.phase == Phase::Deliveries {
            let after = checkpoint.last_delivery_id.clone().unwrap_or_default();
            let total = rebuild::count_deliveries_after(&client, &self.scope, &after).await?;
            progress(Progress::Phase {
                phase: Phase::Deliveries,
                total: u64::try_from(total).unwrap_or(0),
            });
            loop {
                if cancel.is_cancelled() {
                    report.interrupted = true;
                    return Ok(report);
                }
                let transaction = client.transaction().await.map_err(StoreError::from)?;
                let read = self
                    .deliveries_page(&transaction, &mut checkpoint, &mut report)
                    .await?;
                transaction.commit().await.map_err(StoreError::from)?;
                if read == 0 {
                    break;
                }
                progress(Progress::Advanced(read));
            }
            let transaction = client.transaction().await.map_err(StoreError::from)?;
            let flipped =
                prpulse_store::projection::reclassify_members(&transaction, &self.bots).await?;
            refresh_reviewed_by(&transaction, &flipped).await?;
            report.reclassified += flipped.len();
            checkpoint.phase = Phase::PullRequests;
            rebuild::save(&transaction, &checkpoint).await?;
            transaction.commit().await.map_err(StoreError::from)?;
        }
        if checkpoint.phase == Phase::PullRequests {
            let total = rebuild::count_pull_requests_after(
                &client,
                &self.scope,
                checkpoint.last_pull_request,
            )
            .await?;
            progress(Progress::Phase {
                phase: Phase::PullRequests,
                total: u64::try_from(total).unwrap_or(0),
            });
            let unattributed = rebuild::last_purge_without_pull_request(&client).await?;
            loop {
                let keys = rebuild::pull_requests_after(
                    &client,
                    &self.scope,
                    checkpoint.last_pull_request,
                    self.page,
                )
                .await?;
                if keys.is_empty() {
                    break;
                }
                for key in keys {
                    if cancel.is_cancelled() {
                        report.interrupted = true;
                        return Ok(report);
                    }
                    let transaction = client.transaction().await.map_err(StoreError::from)?;
                    self.pull_request(&transaction, key, unattributed, &mut report)
                        .await?;
                    checkpoint.last_pull_request = Some(key);
                    rebuild::save(&transaction, &checkpoint).await?;
                    transaction.commit().await.map_err(StoreError::from)?;
                    report.pull_requests += 1;
                    progress(Progress::Advanced(1));
                }
            }
            checkpoint.phase = Phase::Done;
            rebuild::save(&client, &checkpoint).await?;
        }
        report.purged_unattributed = rebuild::purged_without_pull_request(&client).await?;
        Ok(report)
    }

    /// One page of the deliveries phase; how many deliveries it read.
    async fn deliveries_page(
        &self,
        client: &prpulse_store::Transaction<'_>,
        checkpoint: &mut Checkpoint,
        report: &mut Report,
    ) -> Result<u64, StoreError> {
        let after = checkpoint.last_delivery_id.clone().unwrap_or_default();
        let page = rebuild::deliveries_after(client, &self.scope, &after, self.page).await?;
        let mut in_scope = Vec::new();
        let mut jira = Vec::new();
        for stored in &page {
            let Some(projection) = parse(stored) else {
                report.unparseable.push(stored.delivery_id.clone());
                continue;
            };
            let key = projection.pull_request_key();
            if let (None, Some(key)) = (stored.pull_request, key) {
                rebuild::set_pull_request(client, &stored.delivery_id, key).await?;
            }
            let repository = key
                .map(|(repository, _)| repository)
                .or_else(|| projection.dora().map(|event| event.repository().id));
            if self.scope.contains(repository, stored.received_at) {
                // Jira's rows are not reset: each write is idempotent and
                // order independent, so applying every delivery again
                // reproduces them (and applies a changed definition).
                match (&projection, DeliveryId::parse(&stored.delivery_id)) {
                    (Projection::Jira(_), Ok(id)) => jira.push((projection, id)),
                    _ => in_scope.push((projection, &stored.delivery_id)),
                }
            }
        }
        for (projection, id) in &jira {
            projection.apply_facts_only(client, id).await?;
        }
        let flipped = upsert_entities(
            client,
            in_scope.iter().map(|(projection, _)| projection),
            &self.bots,
            Repeats::Take,
        )
        .await?;
        // DORA facts are not about one pull request: their upserts keep
        // the newest version whatever was there, so applying them again
        // here, after their repositories, rebuilds them.
        for (projection, delivery_id) in &in_scope {
            if let (Some(event), Ok(id)) = (projection.dora(), DeliveryId::parse(delivery_id)) {
                event.apply(client, &id).await?;
            }
        }
        refresh_reviewed_by(client, &flipped).await?;
        report.reclassified += flipped.len();
        if let Some(last) = page.last() {
            checkpoint.last_delivery_id = Some(last.delivery_id.clone());
            rebuild::save(client, checkpoint).await?;
        }
        report.deliveries_read += page.len() as u64;
        Ok(page.len() as u64)
    }

    /// Resets the pull request and applies every delivery of it again; if
    /// some of its payloads are gone (or may be: `unattributed` is when the
    /// last payload of unknown pull request was removed), applies what
    /// remains on top of the row instead, so nothing only they said is lost.
    async fn pull_request(
        &self,
        client: &prpulse_store::Transaction<'_>,
        key: (i64, i32),
        unattributed: Option<chrono::DateTime<chrono::Utc>>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let (created_at, stored) = rebuild::lock_and_read_pull_request(client, key).await?;
        let maybe_more = unattributed
            .zip(created_at)
            .is_some_and(|(lost, created)| created <= lost + SKEW);
        let mut parsed = Vec::new();
        let mut missing = 0;
        for delivery in &stored {
            let id = DeliveryId::parse(&delivery.delivery_id).ok();
            match (parse(delivery), id) {
                (Some(projection), Some(id)) => parsed.push((projection, id)),
                _ => missing += 1,
            }
        }
        if missing == 0 && !maybe_more {
            rebuild::reset_pull_request(client, key).await?;
        } else {
            report.partial.push(PartialPullRequest {
                repository_id: key.0,
                number: key.1,
                missing,
                maybe_more,
            });
        }
        for (projection, id) in &parsed {
            projection.apply_facts_only(client, id).await?;
        }
        // Once, from everything applied (and with no delivery left to
        // apply, still under the current definitions).
        crate::recompute::lock_and_recompute(client, &[key]).await?;
        Ok(())
    }
}

/// The projection of a stored delivery; `None` if its payload is gone or
/// no longer parses.
fn parse(stored: &StoredDelivery) -> Option<Projection> {
    let event = EventName::parse(&stored.event).ok()?;
    let json = stored
        .encoding
        .decode(stored.payload.as_deref()?, LARGEST_STORED_PAYLOAD)
        .ok()?;
    Projection::parse(&event, &json).ok()
}

/// What a stored payload may expand to: prpulse stored it, so this only
/// guards against a corrupt row; GitHub's own cap is 25 MiB.
const LARGEST_STORED_PAYLOAD: usize = 256 * 1024 * 1024;
