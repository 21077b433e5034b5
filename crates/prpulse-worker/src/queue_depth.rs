//! `prpulse_queue_messages{queue}`: the depth of the work and dead-letter
//! queues, polled from the broker. A backlog and a filling DLQ are what an
//! operator must see first, and only the broker knows them.

use std::time::Duration;

use prometheus::IntGaugeVec;
use prpulse_queue::{
    Topology,
    connect::{self, ConnectError},
    depth::{self, WatchedQueue},
    lapin::{Channel, Connection},
};
use tokio::{task::JoinHandle, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub struct QueueDepthSettings {
    pub amqp_url: String,
    pub topology: Topology,
    /// Bounds connecting and each poll, so a hung broker cannot stall it.
    pub timeout: Duration,
    pub interval: Duration,
}

/// The polling task and the way to stop it.
pub struct QueueDepthPoller {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl QueueDepthPoller {
    pub fn start(settings: QueueDepthSettings, gauge: IntGaugeVec) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(poll_until_stopped(settings, gauge, stop.clone()));
        Self { stop, task }
    }

    /// Stops polling and closes its connection.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn poll_until_stopped(
    settings: QueueDepthSettings,
    gauge: IntGaugeVec,
    stop: CancellationToken,
) {
    let watched = depth::watched_queues(&settings.topology);
    // Its own connection: the consumer's reconnects and the dead-letter
    // publisher's flow control must not delay or block the poll.
    let mut link: Option<(Connection, Channel)> = None;
    let mut healthy = true;
    let mut ticks = tokio::time::interval(settings.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if stop.run_until_cancelled(ticks.tick()).await.is_none() {
            break;
        }
        let polling = poll_once(&settings, &mut link, &watched, &gauge);
        let Some(polled) = stop.run_until_cancelled(polling).await else {
            break;
        };
        match polled {
            Ok(()) if !healthy => {
                info!("queue depths are readable again");
                healthy = true;
            }
            Ok(()) => {}
            Err(error) => {
                if healthy {
                    warn!(%error, interval = ?settings.interval, "cannot read queue depths from RabbitMQ; retrying");
                    healthy = false;
                }
                // An unknown depth is not exported: a stale number would
                // tell operators the DLQ is as it was.
                for queue in &watched {
                    let _ = gauge.remove_label_values(&[&queue.label]);
                }
                if let Some((connection, channel)) = link.take() {
                    close(connection, channel).await;
                }
            }
        }
    }
    if let Some((connection, channel)) = link {
        close(connection, channel).await;
    }
}

async fn poll_once(
    settings: &QueueDepthSettings,
    link: &mut Option<(Connection, Channel)>,
    watched: &[WatchedQueue],
    gauge: &IntGaugeVec,
) -> Result<(), ConnectError> {
    let (_, channel) = match link.take() {
        Some((connection, channel)) if connect::is_open(&connection, &channel) => {
            link.insert((connection, channel))
        }
        stale => {
            if let Some((connection, channel)) = stale {
                close(connection, channel).await;
            }
            let opened = connect::open(
                &settings.amqp_url,
                "prpulse-worker-queue-depth",
                &settings.topology,
                settings.timeout,
            )
            .await?;
            link.insert(opened)
        }
    };
    for queue in watched {
        let messages = tokio::time::timeout(
            settings.timeout,
            depth::ready_messages(channel, &queue.name),
        )
        .await
        .map_err(|_| ConnectError::Timeout(settings.timeout))??;
        gauge
            .with_label_values(&[&queue.label])
            .set(i64::from(messages));
    }
    Ok(())
}

async fn close(connection: Connection, channel: Channel) {
    connect::close(connection, channel, "prpulse-worker queue depth closing").await;
}
