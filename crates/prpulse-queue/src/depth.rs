//! How many messages wait in prpulse's queues, asked of the broker itself,
//! so operators see a backlog or a filling dead-letter queue without the
//! management plugin.

use lapin::{Channel, options::QueueDeclareOptions, types::FieldTable};

use crate::Topology;

/// A queue whose depth is watched, and the short name it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedQueue {
    /// The name without the topology prefix (`work`, `dead`): label values
    /// stay the same whatever `PRPULSE_TOPOLOGY_PREFIX` is, so dashboards
    /// and alerts need no rewriting per deployment.
    pub label: String,
    pub name: String,
}

/// Every queue of the topology that holds messages: the work queue, the
/// dead-letter queue, the retry tiers (`retry.1s`, `retry.10s`, ...) and
/// the large deliveries' queue and tiers (`work.large`, `retry-large.1s`, ...).
pub fn watched_queues(topology: &Topology) -> Vec<WatchedQueue> {
    topology
        .queues()
        .into_iter()
        .map(|name| WatchedQueue {
            label: label_of(topology.prefix(), &name),
            name,
        })
        .collect()
}

fn label_of(prefix: &str, name: &str) -> String {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(name)
        .to_owned()
}

/// Messages ready in `queue` (not those consumers hold unacked), by a
/// passive declare: it never creates or changes the queue. A queue that
/// does not exist is an error, and the broker closes `channel` with it.
pub async fn ready_messages(channel: &Channel, queue: &str) -> Result<u32, lapin::Error> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok(declared.message_count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_drop_the_prefix_so_dashboards_work_for_any_deployment() {
        let watched = watched_queues(&Topology::new("acme.prpulse", 20));
        let pairs: Vec<(&str, &str)> = watched
            .iter()
            .map(|queue| (queue.label.as_str(), queue.name.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("work", "acme.prpulse.work"),
                ("dead", "acme.prpulse.dead"),
                ("retry.1s", "acme.prpulse.retry.1s"),
                ("retry.10s", "acme.prpulse.retry.10s"),
                ("retry.1m", "acme.prpulse.retry.1m"),
                ("retry.10m", "acme.prpulse.retry.10m"),
                ("work.large", "acme.prpulse.work.large"),
                ("retry-large.1s", "acme.prpulse.retry-large.1s"),
                ("retry-large.10s", "acme.prpulse.retry-large.10s"),
                ("retry-large.1m", "acme.prpulse.retry-large.1m"),
                ("retry-large.10m", "acme.prpulse.retry-large.10m"),
            ]
        );
    }

    #[test]
    fn a_name_outside_the_prefix_is_reported_whole() {
        assert_eq!(label_of("prpulse", "other.queue"), "other.queue");
        assert_eq!(label_of("prpulse", "prpulsework"), "prpulsework");
    }
}
