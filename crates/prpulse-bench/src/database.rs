//! The database ceiling: the worker's own transaction per delivery
//! (`Processor::process`: record the delivery id, project, recompute
//! metrics, commit), called directly at the workers' concurrency, with no
//! broker and no consume loop around it; and the same in batches
//! (`Processor::process_batch`) dealt to lanes as the worker deals them,
//! the ceiling batching can reach.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use futures_util::StreamExt;
use prpulse_domain::{BotPolicy, PayloadEncoding};
use prpulse_queue::Envelope;
use prpulse_testkit::TestDb;
use prpulse_worker::{Processor, lanes::LaneKey};

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

/// The same deliveries in batches of `size` per transaction, dealt to
/// `concurrency` lanes by pull request as the worker deals them
/// (`prpulse_worker::lanes`), each lane's batches one after another; a
/// batch that fails is applied one by one.
pub async fn ceiling_batched(
    db: &TestDb,
    deliveries: &[Prepared],
    concurrency: usize,
    size: usize,
) -> anyhow::Result<Throughput> {
    let (processor, envelopes) = prepare(db, deliveries).await;
    let lanes = concurrency.max(1);
    let mut dealt: Vec<Vec<(&Envelope, &[u8])>> = vec![Vec::new(); lanes];
    for (envelope, delivery) in envelopes.iter().zip(deliveries) {
        let body = delivery.delivery.body.as_slice();
        let key = LaneKey::of(
            PayloadEncoding::Identity,
            body,
            processor.max_body(),
            envelope.delivery_id.as_str(),
        );
        dealt[key.lane(lanes)].push((envelope, body));
    }
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    futures_util::future::join_all(dealt.iter().map(|lane| {
        let processor = &processor;
        let failed = &failed;
        async move {
            for batch in lane.chunks(size.max(1)) {
                if processor.process_batch(batch).await.is_ok() {
                    continue;
                }
                for (envelope, body) in batch {
                    if processor.process(envelope, body).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }))
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
