//! A publisher whose `Ok` means "the broker has it": a persistent,
//! mandatory publish that was routed to a queue and confirmed, within a
//! deadline. A supervisor task keeps its connection open, reconnecting
//! with backoff, so a caller never waits on a broker that is away.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, Event,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use prpulse_retry::ReconnectDelays;

use prpulse_domain::PayloadEncoding;

use crate::{Envelope, Topology, connect};

#[derive(Clone, Debug)]
pub struct PublisherSettings {
    pub url: String,
    pub connection_name: String,
    pub topology: Topology,
    /// Deadline for one publish and its confirm.
    pub confirm_timeout: Duration,
    /// Deadline for opening a connection and declaring the topology.
    pub connect_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to RabbitMQ")]
    NotConnected,
    #[error("RabbitMQ is blocking publishers (memory or disk alarm)")]
    Blocked,
    #[error("RabbitMQ did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("RabbitMQ returned the message as unroutable: {0}")]
    Unroutable(String),
    #[error("RabbitMQ refused the message (queue full or internal error)")]
    Nacked,
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
}

impl PublishError {
    /// A stable, low-cardinality label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::Blocked => "blocked",
            Self::Timeout(_) => "timeout",
            Self::Unroutable(_) => "unroutable",
            Self::Nacked => "nacked",
            Self::Broker(_) => "broker_error",
        }
    }
}

#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
    /// How [`Self::publish_delivery`] encodes bodies (lz4 unless told).
    encoding: PayloadEncoding,
}

struct Inner {
    settings: PublisherSettings,
    channel: RwLock<Option<Channel>>,
    blocked: AtomicBool,
    /// Woken by a failed publish, so the supervisor checks the link now
    /// rather than at its next tick.
    suspect: Notify,
    /// Woken by a nack. A channel that first published to a quorum queue
    /// while its leader was being elected (a cluster node just died) can
    /// go on nacking every publish after the election (RabbitMQ 3.10); a
    /// fresh connection and channel publish to the new leader.
    refused: Notify,
    /// Whether a channel is held and the broker has not blocked us, sent on
    /// every change so [`Publisher::wait_ready`] waits without polling.
    ready: watch::Sender<bool>,
}

impl Publisher {
    /// Starts the supervisor and returns at once; publishes fail with
    /// [`PublishError::NotConnected`] until the first connection is up.
    /// Cancelling `stop` closes the connection: cancel it only after the
    /// last publish has finished.
    pub fn start(settings: PublisherSettings, stop: CancellationToken) -> (Self, JoinHandle<()>) {
        let inner = Arc::new(Inner {
            settings,
            channel: RwLock::new(None),
            blocked: AtomicBool::new(false),
            suspect: Notify::new(),
            refused: Notify::new(),
            ready: watch::Sender::new(false),
        });
        let task = tokio::spawn(supervise(inner.clone(), stop));
        let publisher = Self {
            inner,
            encoding: PayloadEncoding::Lz4,
        };
        (publisher, task)
    }

    /// The same publisher, encoding delivery bodies with `encoding`
    /// (`PRPULSE_PAYLOAD_ENCODING`; `identity` sends the JSON itself).
    pub fn with_payload_encoding(mut self, encoding: PayloadEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.settings.topology
    }

    /// Connected, with a usable channel, and not blocked by the broker.
    pub fn is_ready(&self) -> bool {
        !self.inner.blocked.load(Ordering::Relaxed)
            && self
                .current_channel()
                .is_some_and(|channel| channel.status().connected())
    }

    /// Waits up to `timeout` for [`Self::is_ready`].
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.inner.ready.subscribe();
        let settled = async {
            loop {
                if ready.wait_for(|ready| *ready).await.is_err() {
                    return false;
                }
                // Announced, but the channel may have closed since: wait
                // for the supervisor's next word on it.
                if self.is_ready() || ready.changed().await.is_err() {
                    return self.is_ready();
                }
            }
        };
        tokio::time::timeout(timeout, settled)
            .await
            .unwrap_or(false)
    }

    /// Publishes a delivery (its JSON body) to the deliveries exchange of
    /// its size class, compressed once here: the broker carries the
    /// compressed bytes and the worker stores them as they are, so every
    /// source (webhooks, backfill, any other route) gets it by publishing
    /// through this.
    pub async fn publish_delivery(
        &self,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<(), PublishError> {
        let encoded = self.encoding.encode(body);
        let topology = self.topology();
        let exchange = topology.exchange_for(topology.size_class(body.len(), encoded.len()));
        self.publish(
            &exchange,
            &envelope.routing_key(),
            &encoded,
            envelope.to_properties_in(self.encoding),
        )
        .await
    }

    /// Publishes with `mandatory` and waits for the confirm. Only an ack
    /// with no returned message is success: the broker acks unroutable
    /// messages too.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        if self.inner.blocked.load(Ordering::Relaxed) {
            return Err(PublishError::Blocked);
        }
        let channel = self.current_channel().ok_or(PublishError::NotConnected)?;
        let timeout = self.inner.settings.confirm_timeout;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let publish = async {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    options,
                    body,
                    properties,
                )
                .await?
                .await
        };
        let confirmation = match tokio::time::timeout(timeout, publish).await {
            Err(_) => Err(PublishError::Timeout(timeout)),
            Ok(Err(error)) => Err(PublishError::Broker(error)),
            Ok(Ok(confirmation)) => Ok(confirmation),
        };
        match confirmation {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => Err(PublishError::Unroutable(
                returned.reply_text.as_str().to_owned(),
            )),
            Ok(Confirmation::Nack(_)) => {
                self.inner.refused.notify_one();
                Err(PublishError::Nacked)
            }
            Ok(Confirmation::NotRequested) => {
                unreachable!("the supervisor enables confirms before sharing a channel")
            }
            Err(error) => {
                self.inner.suspect.notify_one();
                Err(error)
            }
        }
    }

    fn current_channel(&self) -> Option<Channel> {
        self.inner
            .channel
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn supervise(inner: Arc<Inner>, stop: CancellationToken) {
    let settings = &inner.settings;
    let mut delays = ReconnectDelays::new(Duration::from_secs(5));
    while !stop.is_cancelled() {
        match open_confirmed(settings).await {
            Ok((connection, channel)) => {
                delays.reset();
                info!(connection = %settings.connection_name, "publisher connected to RabbitMQ");
                hold(&inner, &connection, channel.clone(), &stop).await;
                set_channel(&inner, None);
                set_blocked(&inner, false);
                crate::connect::close(connection, channel, "prpulse publisher closing").await;
                if stop.is_cancelled() {
                    break;
                }
                warn!(connection = %settings.connection_name, "publisher lost RabbitMQ; reconnecting");
            }
            Err(error) => {
                warn!(connection = %settings.connection_name, %error, "publisher cannot reach RabbitMQ; retrying");
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(delays.next_delay()) => {}
        }
    }
}

async fn open_confirmed(settings: &PublisherSettings) -> Result<(Connection, Channel), String> {
    let (connection, channel) = connect::open(
        &settings.url,
        &settings.connection_name,
        &settings.topology,
        settings.connect_timeout,
    )
    .await
    .map_err(|error| error.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|error| error.to_string())?;
    Ok((connection, channel))
}

/// Shares `channel` until the link breaks or `stop` is cancelled.
async fn hold(inner: &Inner, connection: &Connection, channel: Channel, stop: &CancellationToken) {
    let mut events = connection.events_listener();
    set_channel(inner, Some(channel.clone()));
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = inner.suspect.notified() => {}
            () = inner.refused.notified() => {
                warn!("RabbitMQ refused a publish; reconnecting for a fresh channel");
                return;
            }
            _ = tick.tick() => {}
            event = events.next() => match event {
                Some(Event::ConnectionBlocked(reason)) => {
                    warn!(%reason, "RabbitMQ blocked publishing; answering 503 until unblocked");
                    set_blocked(inner, true);
                }
                Some(Event::ConnectionUnblocked) => {
                    info!("RabbitMQ unblocked publishing");
                    set_blocked(inner, false);
                }
                Some(Event::Error(error)) => {
                    warn!(%error, "RabbitMQ connection error");
                    return;
                }
                None => return,
                Some(_) => {}
            },
        }
        if !connect::is_open(connection, &channel) {
            return;
        }
    }
}

fn set_channel(inner: &Inner, channel: Option<Channel>) {
    *inner
        .channel
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = channel;
    announce(inner);
}

fn set_blocked(inner: &Inner, blocked: bool) {
    inner.blocked.store(blocked, Ordering::Relaxed);
    announce(inner);
}

fn announce(inner: &Inner) {
    let ready = !inner.blocked.load(Ordering::Relaxed)
        && inner
            .channel
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some();
    inner.ready.send_replace(ready);
}
