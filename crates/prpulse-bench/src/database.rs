//! The database ceiling: the worker's own transaction per delivery
//! (`Processor::process`: record the delivery id, project, recompute
//! metrics, commit), called directly at the workers' concurrency, with no
//! broker and no consume loop around it; and the same in batches
//! (`Processor::process_batch`), the ceiling batching can reach.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use futures_util::StreamExt;
use prpulse_domain::BotPolicy;
use prpulse_queue::Envelope;
use prpulse_testkit::TestDb;
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
    let (processor, envelopes) = prepare(db, deliveries).await;
    let failed = AtomicU64::new(0);
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
                failed.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
    Ok(applied(deliveries.len(), failed, started))
}

/// The same deliveries in batches of `size` per transaction, as the
/// worker batches them; a batch that fails is applied one by one.
pub async fn ceiling_batched(
    db: &TestDb,
    deliveries: &[Prepared],
    concurrency: usize,
    size: usize,
) -> anyhow::Result<Throughput> {
    let (processor, envelopes) = prepare(db, deliveries).await;
    let items: Vec<(&Envelope, &[u8])> = envelopes
        .iter()
        .zip(deliveries)
        .map(|(envelope, delivery)| (envelope, delivery.delivery.body.as_slice()))
        .collect();
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    futures_util::stream::iter(items.chunks(size.max(1)))
        .for_each_concurrent(concurrency, |batch| {
            let processor = &processor;
            let failed = &failed;
            async move {
                if processor.process_batch(batch).await.is_ok() {
                    return;
                }
                for (envelope, body) in batch {
                    if processor.process(envelope, body).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
        .await;
    Ok(applied(deliveries.len(), failed, started))
}

/// An empty projection, the worker's processor on it, and the deliveries'
/// envelopes.
async fn prepare(db: &TestDb, deliveries: &[Prepared]) -> (Processor, Vec<Envelope>) {
    db.reset_projection().await;
    let processor = Processor::new(db.pool(), BotPolicy::default());
    let envelopes = deliveries
        .iter()
        .map(|delivery| delivery.envelope(&delivery.delivery.id))
        .collect();
    (processor, envelopes)
}

fn applied(total: usize, failed: AtomicU64, started: Instant) -> Throughput {
    let failed = failed.into_inner();
    Throughput::new(total as u64 - failed, failed, started.elapsed())
}
