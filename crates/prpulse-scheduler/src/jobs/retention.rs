//! Raw payloads older than the retention period are dropped (their
//! projections stay): whole month partitions of `delivery_payloads`, and
//! in short batches those still in `deliveries.payload` from before V18.
//! Each run also keeps the months ahead partitioned and moves a bounded
//! number of pre-V18 payloads into their partitions (the background half
//! of the online migration; `prpulse payloads migrate` does it all at once).

use std::time::Duration;

use chrono::Utc;
use prpulse_domain::PayloadEncoding;
use prpulse_store::{Pool, StoreError, payloads, retention::purge_payloads};
use tracing::info;

use crate::{
    round::{JobError, Ran},
    startup::Scheduler,
};

const BATCH: i64 = 1_000;

/// Pre-V18 payloads moved per run at most, so a run stays short.
const MOVE_BATCH: i64 = 500;
const MOVE_BATCHES_PER_RUN: usize = 20;

/// Returns how many payloads were dropped from `deliveries.payload`; logs
/// the partitions dropped.
pub async fn purge_old_payloads(pool: &Pool, retention: Duration) -> Result<u64, StoreError> {
    let now = Utc::now();
    let before = now - chrono::Duration::from_std(retention).unwrap_or_default();
    let mut client = pool.get().await?;
    payloads::ensure_partitions(&client, now).await?;
    let mut purged = 0;
    loop {
        let batch = purge_payloads(&client, before, BATCH).await?;
        purged += batch;
        if batch < BATCH as u64 {
            break;
        }
    }
    // After the purge, so nothing past retention is moved only to be dropped.
    for _ in 0..MOVE_BATCHES_PER_RUN {
        let transaction = client.transaction().await?;
        let moved =
            payloads::move_legacy_payloads(&transaction, MOVE_BATCH, PayloadEncoding::Lz4).await?;
        transaction.commit().await?;
        if moved < MOVE_BATCH as u64 {
            break;
        }
    }
    let dropped = payloads::drop_partitions_before(&client, before).await?;
    if !dropped.is_empty() {
        info!(?dropped, "dropped payload partitions past retention");
    }
    Ok(purged)
}

/// The `retention` job.
pub async fn run(scheduler: &Scheduler) -> Result<Ran, JobError> {
    let purged = purge_old_payloads(&scheduler.pool, scheduler.config.payload_retention).await?;
    if purged > 0 {
        info!(purged, "dropped raw payloads past retention");
    }
    Ok(Ran::Done)
}
