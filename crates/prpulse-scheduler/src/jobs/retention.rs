//! Raw payloads older than the retention period are dropped (their
//! projections stay), in short batches so no transaction holds long.

use std::time::Duration;

use chrono::Utc;
use prpulse_store::{Pool, StoreError, retention::purge_payloads};
use tracing::info;

use crate::{
    round::{JobError, Ran},
    startup::Scheduler,
};

const BATCH: i64 = 1_000;

/// Returns how many payloads were dropped.
pub async fn purge_old_payloads(pool: &Pool, retention: Duration) -> Result<u64, StoreError> {
    let before = Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
    let client = pool.get().await?;
    let mut purged = 0;
    loop {
        let batch = purge_payloads(&client, before, BATCH).await?;
        purged += batch;
        if batch < BATCH as u64 {
            return Ok(purged);
        }
    }
}

/// The `retention` job.
pub async fn run(scheduler: &Scheduler) -> Result<Ran, JobError> {
    let purged = purge_old_payloads(&scheduler.pool, scheduler.config.payload_retention).await?;
    if purged > 0 {
        info!(purged, "dropped raw payloads past retention");
    }
    Ok(Ran::Done)
}
