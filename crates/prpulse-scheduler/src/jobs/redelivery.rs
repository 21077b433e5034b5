//! Asks GitHub to redeliver what failed. GitHub keeps a hook's deliveries
//! for three days and never retries by itself; ingest may have answered
//! 503 (broker away) or been unreachable. Only events prpulse consumes and
//! has not stored are asked for, oldest first (closest to ageing out).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use prpulse_domain::{EventDisposition, EventName};
use prpulse_github_api::{
    GitHubClient, GitHubError,
    deliveries::{self, HookDelivery},
    hooks::HookOwner,
};
use prpulse_store::{
    Pool, StoreError, integrations,
    retention::known_delivery_ids,
    tracking::{self, TrackState},
};
use tracing::{error, info};

use crate::round::{JobError, Ran, Round};

/// How far back GitHub keeps deliveries.
pub const WINDOW: Duration = Duration::days(3);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Redeliveries requested this run.
    pub requested: usize,
    /// Failed events still not stored (requested or not).
    pub unrecovered: usize,
    /// When the oldest of those was first delivered.
    pub oldest_unrecovered: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeliveryError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The events of `attempts` worth redelivering: consumed by prpulse, no
/// attempt succeeded, and not a redelivery already under way. Each with
/// the attempt to redeliver (its latest) and when it was first delivered.
pub fn failed_events(
    attempts: &[HookDelivery],
    now: DateTime<Utc>,
) -> Vec<(String, i64, DateTime<Utc>)> {
    let mut by_guid: BTreeMap<&str, Vec<&HookDelivery>> = BTreeMap::new();
    for attempt in attempts {
        by_guid.entry(&attempt.guid).or_default().push(attempt);
    }
    let mut failed: Vec<(String, i64, DateTime<Utc>)> = by_guid
        .into_iter()
        .filter(|(_, attempts)| !attempts.iter().any(|a| a.succeeded()))
        .filter(|(_, attempts)| {
            EventName::parse(&attempts[0].event)
                .is_ok_and(|event| event.disposition() == EventDisposition::Enqueue)
        })
        .filter_map(|(guid, attempts)| {
            let latest = attempts.iter().max_by_key(|a| a.delivered_at)?;
            // GitHub shows a requested redelivery as an attempt at once;
            // give it a minute before asking again.
            let in_flight = latest.redelivery && now - latest.delivered_at < Duration::minutes(1);
            let first = attempts.iter().map(|a| a.delivered_at).min()?;
            (!in_flight).then(|| (guid.to_owned(), latest.id, first))
        })
        .collect();
    failed.sort_by_key(|(_, _, first)| *first);
    failed
}

pub async fn redeliver_failed(
    github: &GitHubClient,
    pool: &Pool,
    owner: HookOwner<'_>,
    hook_id: i64,
    max_per_run: usize,
) -> Result<Report, RedeliveryError> {
    let now = Utc::now();
    let attempts = deliveries::since(github, owner, hook_id, now - WINDOW).await?;
    let failed = failed_events(&attempts, now);
    let guids: Vec<String> = failed.iter().map(|(guid, _, _)| guid.clone()).collect();
    let client = pool.get().await.map_err(StoreError::from)?;
    let stored = known_delivery_ids(&client, &guids).await?;
    let missing: Vec<_> = failed
        .into_iter()
        .filter(|(guid, _, _)| !stored.contains(guid))
        .collect();
    let mut report = Report {
        unrecovered: missing.len(),
        oldest_unrecovered: missing.first().map(|(_, _, first)| *first),
        ..Report::default()
    };
    for (_, attempt, _) in missing.iter().take(max_per_run) {
        deliveries::redeliver(github, owner, hook_id, *attempt).await?;
        report.requested += 1;
    }
    Ok(report)
}

/// The `redeliver` job: every tracked repository's hook and every
/// organisation hook (a lost team event is worth redelivering too). The
/// unrecovered gauges are set only from a run that saw every hook: a
/// partial count (a Postgres blip, one hook's GitHub error) would look
/// like recovered deliveries and silence the alert on those about to
/// age out, so a failed run leaves them as they were.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let client = scheduler.pool.get().await.map_err(StoreError::from)?;
    let repositories = tracking::repositories(&client).await?;
    let organizations = integrations::organizations(&client).await?;
    drop(client);
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
    let mut failed = 0;
    let mut unrecovered = 0;
    let mut oldest: Option<DateTime<Utc>> = None;
    for (account, owner, hook_id) in hooks {
        round.go_on().await?;
        let result = async {
            let github = round.github(account).await?;
            anyhow::Ok(
                redeliver_failed(
                    github,
                    &scheduler.pool,
                    owner,
                    hook_id,
                    scheduler.config.redelivery_max_per_run,
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
                scheduler
                    .metrics
                    .redeliveries
                    .inc_by(report.requested as u64);
                unrecovered += report.unrecovered;
                oldest = match (oldest, report.oldest_unrecovered) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Err(error) => {
                failed += 1;
                error!(%owner, error = %format!("{error:#}"), "redelivery failed");
            }
        }
    }
    if failed > 0 {
        return Err(anyhow::anyhow!(
            "redelivery failed for {failed} hooks; the unrecovered gauges keep their last values"
        )
        .into());
    }
    let metrics = &scheduler.metrics;
    metrics
        .unrecovered
        .set(i64::try_from(unrecovered).unwrap_or(i64::MAX));
    metrics
        .oldest_unrecovered_age
        .set(oldest.map_or(0, |first| (Utc::now() - first).num_seconds().max(0)));
    Ok(Ran::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(
        id: i64,
        guid: &str,
        minutes_ago: i64,
        status: i64,
        event: &str,
        redelivery: bool,
    ) -> HookDelivery {
        HookDelivery {
            id,
            guid: guid.into(),
            delivered_at: Utc::now() - Duration::minutes(minutes_ago),
            redelivery,
            status_code: status,
            event: event.into(),
            action: Some("opened".into()),
        }
    }

    #[test]
    fn only_failed_consumed_events_not_in_flight_oldest_first() {
        let attempts = [
            attempt(1, "ok", 50, 202, "pull_request", false),
            attempt(2, "failed-then-ok", 40, 503, "pull_request", false),
            attempt(3, "failed-then-ok", 30, 202, "pull_request", true),
            attempt(4, "push-failed", 35, 500, "push", false),
            attempt(5, "failed-new", 10, 503, "pull_request_review", false),
            attempt(6, "failed-old", 60, 0, "pull_request", false),
            attempt(7, "failed-old", 20, 503, "pull_request", true),
            attempt(8, "in-flight", 90, 503, "pull_request", false),
            attempt(9, "in-flight", 0, 0, "pull_request", true),
        ];
        let failed = failed_events(&attempts, Utc::now());
        let picked: Vec<(&str, i64)> = failed.iter().map(|(g, id, _)| (g.as_str(), *id)).collect();
        assert_eq!(picked, [("failed-old", 7), ("failed-new", 5)]);
    }
}
