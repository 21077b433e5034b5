//! The database ceiling: the worker's own transaction per delivery
//! (`Processor::process`: record the delivery id, project, recompute
//! metrics, commit), called directly at the workers' concurrency, with no
//! broker and no consume loop around it.

use std::time::Instant;

use futures_util::StreamExt;
use prpulse_domain::BotPolicy;
use prpulse_e2e::TestDb;
use prpulse_worker::Processor;

use crate::{load::Throughput, workload::Prepared};

/// Applies every delivery once, `concurrency` at a time, through a pool
/// of the workers' default size. A delivery that loses a race
/// (deadlock, serialization) is tried again, as the worker would.
pub async fn ceiling(
    db: &TestDb,
    deliveries: &[Prepared],
    concurrency: usize,
) -> anyhow::Result<Throughput> {
    db.reset_projection().await;
    let processor = Processor::new(db.pool(), BotPolicy::default());
    let envelopes: Vec<_> = deliveries
        .iter()
        .map(|delivery| delivery.envelope(&delivery.delivery.id))
        .collect();
    let failed = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    futures_util::stream::iter(deliveries.iter().zip(&envelopes))
        .for_each_concurrent(concurrency, |(delivery, envelope)| {
            let processor = &processor;
            let failed = &failed;
            async move {
                for _ in 0..5 {
                    if processor
                        .process(envelope, &delivery.delivery.body)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .await;
    let elapsed = started.elapsed();
    let failed = failed.into_inner();
    Ok(Throughput::new(
        deliveries.len() as u64 - failed,
        failed,
        elapsed,
    ))
}
