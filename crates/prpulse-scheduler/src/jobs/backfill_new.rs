//! The `backfill` job: each newly tracked repository is backfilled once
//! (see [`super::backfill`]); one that fails is tried again next round.

use chrono::Utc;
use prpulse_store::{
    StoreError,
    tracking::{self, TrackState, TrackedRepository},
};
use tracing::{error, info};

use crate::{
    jobs::backfill,
    round::{JobError, Ran, Round},
};

fn needs_backfill(repo: &TrackedRepository) -> bool {
    repo.state == TrackState::Tracked && repo.backfilled_at.is_none()
}

/// Counted only when some repository needed it.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let repositories = {
        let client = scheduler.pool.get().await.map_err(StoreError::from)?;
        tracking::repositories(&client).await?
    };
    let new: Vec<_> = repositories
        .iter()
        .filter(|repo| needs_backfill(repo))
        .collect();
    if new.is_empty() {
        return Ok(Ran::NothingToDo);
    }
    let since = Utc::now()
        - chrono::Duration::from_std(scheduler.config.backfill_since).unwrap_or_default();
    let mut failed = 0;
    for repo in &new {
        round.go_on().await?;
        let result = async {
            let github = round.github(&repo.account).await?;
            let report = backfill::backfill(
                github,
                &scheduler.broker.publisher,
                &repo.full_name,
                since,
                |_| {},
            )
            .await?;
            let client = scheduler.pool.get().await?;
            tracking::set_backfilled(&client, &repo.full_name).await?;
            anyhow::Ok(report)
        }
        .await;
        match result {
            Ok(report) => {
                info!(repository = %repo.full_name, pull_requests = report.pull_requests, reviews = report.reviews, "backfilled");
            }
            Err(error) => {
                failed += 1;
                error!(repository = %repo.full_name, error = %format!("{error:#}"), "backfill failed; it is tried again next run");
            }
        }
    }
    if failed > 0 {
        return Err(
            anyhow::anyhow!("backfill failed for {failed} of {} repositories", new.len()).into(),
        );
    }
    Ok(Ran::Done)
}
