//! The two work queues a worker consumes on one channel: the work queue
//! and the large deliveries' queue, each with its own prefetch (config.rs,
//! `Prefetch`), merged into one stream of deliveries.

use futures_util::{Stream, StreamExt};
use prpulse_queue::{
    Topology,
    connect::{self, ConnectError},
    lapin::{self, Channel, message::Delivery},
    topology::SizeClass,
};

/// Unacked deliveries at once from each queue.
#[derive(Clone, Copy, Debug)]
pub struct Prefetches {
    pub standard: u16,
    pub large: u16,
}

/// Starts both consumers on `channel`. A `basic.qos` applies to the
/// consumers started after it, so each gets its own prefetch: the large
/// queue's sized for the largest delivery, the work queue's for the
/// largest it holds.
pub async fn consume(
    channel: &Channel,
    topology: &Topology,
    prefetches: Prefetches,
    timeout: std::time::Duration,
) -> Result<impl Stream<Item = Result<Delivery, lapin::Error>>, ConnectError> {
    let tag = format!("prpulse-worker-{}", std::process::id());
    let standard = connect::consume(
        channel,
        &topology.work_queue_for(SizeClass::Standard),
        &tag,
        prefetches.standard,
        timeout,
    )
    .await?;
    let large = connect::consume(
        channel,
        &topology.work_queue_for(SizeClass::Large),
        &format!("{tag}-large"),
        prefetches.large,
        timeout,
    )
    .await?;
    Ok(until_either_ends(standard, large))
}

/// The items of both streams as they come, ending as soon as either ends:
/// a consumer the broker cancelled (its queue deleted, say) must end the
/// other too, so that the worker reconnects and declares the topology
/// again instead of going on with one queue unwatched.
fn until_either_ends<T>(
    first: impl Stream<Item = T>,
    second: impl Stream<Item = T>,
) -> impl Stream<Item = T> {
    let ended = || futures_util::stream::once(std::future::ready(None));
    futures_util::stream::select(
        first.map(Some).chain(ended()),
        second.map(Some).chain(ended()),
    )
    .take_while(|item| std::future::ready(item.is_some()))
    .filter_map(std::future::ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use std::time::Duration;

    #[tokio::test]
    async fn both_consumers_end_when_either_does() {
        let endless = stream::iter([1, 2]).chain(stream::pending());
        let ends = stream::iter([10]);
        // A plain `select` would wait for the endless one for ever.
        let items: Vec<i32> = tokio::time::timeout(
            Duration::from_secs(5),
            until_either_ends(endless, ends).collect(),
        )
        .await
        .expect("the merged stream ends with its shorter half");
        assert!(items.contains(&10), "{items:?}");
        assert!(items.len() <= 3, "{items:?}");
        let items: Vec<i32> = until_either_ends(stream::iter([1, 2, 3]), stream::pending())
            .collect()
            .await;
        assert_eq!(items, [1, 2, 3]);
    }
}
