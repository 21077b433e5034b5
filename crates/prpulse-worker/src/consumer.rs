//! The consume loop around [`Processor::process_batch`] and
//! [`Processor::process`]: connect, consume the work queue and the large
//! queue (each with a prefetch bounded in bytes), deal each delivery to its
//! lane (by pull request, `lanes.rs`), take what a lane holds (up to the
//! batch size) into one transaction, settle each delivery after the
//! commit, and reconnect with backoff when the broker goes away. A batch
//! that fails is processed one delivery at a time, so each delivery's fate
//! is decided alone.

use std::{sync::Arc, time::Duration, time::Instant};

use futures_util::StreamExt;
use prpulse_queue::{
    Envelope, PayloadEncoding, Publisher, Topology, connect,
    envelope::payload_encoding,
    lapin::{BasicProperties, Channel, message::Delivery},
    settle,
    topology::SizeClass,
};
use prpulse_retry::ReconnectDelays;
use prpulse_runtime::Readiness;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    disposition::Disposition,
    failures,
    lanes::LaneKey,
    metrics::{Settled, WorkerMetrics},
    process::{Message, Processed, Processor},
    work_queues,
};

pub struct Consumer {
    pub processor: Processor,
    /// Publishes retries and dead letters, on a connection of its own: a
    /// broker alarm blocks publishing connections and must not stall acks.
    pub resend: Publisher,
    pub metrics: WorkerMetrics,
    pub topology: Topology,
    pub amqp_url: String,
    pub connect_timeout: Duration,
    /// Unacked deliveries at once from the work queue.
    pub prefetch: u16,
    /// Unacked deliveries at once from the large queue.
    pub large_prefetch: u16,
    /// Transactions at once: one per lane.
    pub concurrency: usize,
    /// Deliveries at most in one transaction.
    pub batch_size: usize,
    /// Set while a consumer is attached to the work queue.
    pub consuming: Readiness,
}

impl Consumer {
    /// Consumes until `stop` is cancelled and the deliveries in hand are
    /// settled.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut delays = ReconnectDelays::new(Duration::from_secs(5));
        while !stop.is_cancelled() {
            // A delivery that must be retried or dead-lettered needs the
            // resend link; consuming without it would requeue such
            // deliveries at once and spend their delivery attempts.
            if !self.resend.is_ready() {
                info!("waiting for the resend link before consuming");
                while !self.resend.wait_ready(Duration::from_secs(1)).await {
                    if stop.is_cancelled() {
                        return;
                    }
                }
            }
            match connect::open(
                &self.amqp_url,
                "prpulse-worker",
                &self.topology,
                self.connect_timeout,
            )
            .await
            {
                Ok((connection, channel)) => {
                    delays.reset();
                    let consumed = self.consume_on(&channel, &stop).await;
                    self.consuming.set(false);
                    match consumed {
                        Ok(()) if stop.is_cancelled() => {}
                        Ok(()) => warn!("the broker ended the consumer; reconnecting"),
                        Err(error) => warn!(%error, "consuming failed; reconnecting"),
                    }
                    connect::close(connection, channel, "prpulse-worker closing").await;
                }
                Err(error) => warn!(%error, "worker cannot reach RabbitMQ; retrying"),
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(delays.next_delay()) => {}
            }
        }
    }

    async fn consume_on(
        &self,
        channel: &Channel,
        stop: &CancellationToken,
    ) -> Result<(), prpulse_queue::connect::ConnectError> {
        let consumer = work_queues::consume(
            channel,
            &self.topology,
            work_queues::Prefetches {
                standard: self.prefetch,
                large: self.large_prefetch,
            },
            self.connect_timeout,
        )
        .await?;
        self.consuming.set(true);
        info!(
            queue = %self.topology.work_queue(),
            prefetch = self.prefetch,
            large_queue = %self.topology.work_queue_for(SizeClass::Large),
            large_prefetch = self.large_prefetch,
            batch_size = self.batch_size,
            "consuming"
        );
        // One lane per transaction slot; a pull request's deliveries always
        // go to the same lane (`lanes.rs`). A lane takes what has already
        // arrived for it, up to the batch size, without waiting for more: a
        // quiet queue gives batches of one, and no delivery waits for a
        // batch to fill.
        let lanes = self.concurrency.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..lanes).map(|_| mpsc::unbounded_channel()).unzip();
        let dispatch = async move {
            let mut deliveries = std::pin::pin!(consumer.take_until(stop.cancelled()));
            while let Some(delivery) = deliveries.next().await {
                match delivery {
                    Ok(delivery) => {
                        let lane =
                            LaneKey::of_delivery(&delivery, self.processor.max_body()).lane(lanes);
                        // A lane ends only after every sender is dropped.
                        let _ = senders[lane].send(delivery);
                    }
                    Err(error) => warn!(%error, "consumer error"),
                }
            }
        };
        let batch_size = self.batch_size.max(1);
        let work =
            futures_util::future::join_all(receivers.into_iter().map(|mut lane| async move {
                let mut batch = Vec::with_capacity(batch_size);
                while lane.recv_many(&mut batch, batch_size).await > 0 {
                    self.handle_batch(std::mem::take(&mut batch), stop).await;
                }
            }));
        tokio::join!(dispatch, work);
        Ok(())
    }

    /// Processes `deliveries` in one transaction and acks them after the
    /// commit; if anything fails (or there is only one), one at a time.
    async fn handle_batch(&self, deliveries: Vec<Delivery>, stop: &CancellationToken) {
        if deliveries.len() > 1 && self.try_batch(&deliveries).await {
            return;
        }
        for delivery in deliveries {
            self.handle(delivery, stop).await;
        }
    }

    /// True if the whole batch committed and was acked.
    async fn try_batch(&self, deliveries: &[Delivery]) -> bool {
        let Some(envelopes) = deliveries
            .iter()
            .map(|delivery| {
                let envelope = Envelope::from_properties(&delivery.properties).ok()?;
                let encoding = payload_encoding(&delivery.properties).ok()?;
                Some((envelope, encoding))
            })
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        let started = Instant::now();
        let count = i64::try_from(deliveries.len()).unwrap_or(i64::MAX);
        self.metrics.in_flight.add(count);
        let batch: Vec<Message<'_>> = envelopes
            .iter()
            .zip(deliveries)
            .map(|((envelope, encoding), delivery)| Message {
                envelope,
                encoding: *encoding,
                body: delivery.data.as_slice(),
            })
            .collect();
        let result = self.processor.process_messages(&batch).await;
        self.metrics.in_flight.sub(count);
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(error) => {
                warn!(%error, deliveries = deliveries.len(), "batch failed; processing its deliveries one by one");
                self.metrics.batch_fallbacks.inc();
                return false;
            }
        };
        self.metrics.batch_size.observe(deliveries.len() as f64);
        let now = chrono::Utc::now();
        for ((delivery, (envelope, _)), processed) in
            deliveries.iter().zip(&envelopes).zip(outcomes)
        {
            if processed != Processed::Duplicate {
                let lag = now - envelope.received_at;
                self.metrics
                    .delivery_lag
                    .observe(lag.as_seconds_f64().max(0.0));
            }
            info!(
                delivery_id = %envelope.delivery_id,
                event = %envelope.event,
                outcome = processed.as_str(),
                "delivery processed"
            );
            ack(delivery).await;
            self.metrics.settled(processed.into());
            self.metrics
                .processing_duration
                .observe(started.elapsed().as_secs_f64());
        }
        true
    }

    async fn handle(&self, delivery: Delivery, stop: &CancellationToken) {
        let started = Instant::now();
        self.metrics.in_flight.inc();
        let read = Envelope::from_properties(&delivery.properties).and_then(|envelope| {
            payload_encoding(&delivery.properties).map(|encoding| (envelope, encoding))
        });
        let disposition = match read {
            Ok((envelope, encoding)) => {
                let span = info_span!(
                    "delivery",
                    delivery_id = %envelope.delivery_id,
                    event = %envelope.event,
                    action = envelope.action.as_deref().unwrap_or("")
                );
                self.process(&envelope, encoding, &delivery, stop)
                    .instrument(span.clone())
                    .await
            }
            Err(error) => Disposition::DeadLetter(format!("unreadable envelope: {error}")),
        };
        self.settle(delivery, disposition, stop).await;
        self.metrics.in_flight.dec();
        self.metrics
            .processing_duration
            .observe(started.elapsed().as_secs_f64());
    }

    async fn process(
        &self,
        envelope: &Envelope,
        encoding: PayloadEncoding,
        delivery: &Delivery,
        stop: &CancellationToken,
    ) -> Disposition {
        let retries = failures::retries(&delivery.properties);
        let tiers = self.topology.retry_delays().len();
        // Short cap: once the database is back, held deliveries go on at once.
        let mut delays = ReconnectDelays::new(Duration::from_secs(5));
        loop {
            let message = Message {
                envelope,
                encoding,
                body: &delivery.data,
            };
            let result = self.processor.process_message(message).await;
            match Disposition::of(&result, retries, tiers) {
                Disposition::Hold => {
                    if let Err(error) = &result {
                        warn!(%error, "database unavailable; holding the delivery and retrying");
                    }
                    self.metrics.transient_errors.inc();
                    tokio::select! {
                        () = stop.cancelled() => return Disposition::Requeue,
                        () = tokio::time::sleep(delays.next_delay()) => {}
                    }
                }
                Disposition::Ack(processed) => {
                    self.metrics.batch_size.observe(1.0);
                    if processed != Processed::Duplicate {
                        let lag = chrono::Utc::now() - envelope.received_at;
                        self.metrics
                            .delivery_lag
                            .observe(lag.as_seconds_f64().max(0.0));
                    }
                    info!(outcome = processed.as_str(), "delivery processed");
                    return Disposition::Ack(processed);
                }
                other => return other,
            }
        }
    }

    async fn settle(&self, delivery: Delivery, disposition: Disposition, stop: &CancellationToken) {
        let routing_key = delivery.routing_key.as_str();
        let outcome = match disposition {
            Disposition::Ack(processed) => {
                ack(&delivery).await;
                processed.into()
            }
            Disposition::Retry { tier, error } => {
                // Back to the work queue it came from, by the rule that
                // routed it there: the large queue's tiers return to it.
                let class = self
                    .topology
                    .size_class_of(&delivery.properties, &delivery.data);
                let queue = self
                    .topology
                    .retry_queue_for(class, tier)
                    .expect("the tier exists");
                warn!(%error, retry_queue = %queue, "transient failure; retrying later");
                let properties =
                    failures::retry_properties(&delivery.properties, routing_key, &error);
                self.send_on(&delivery, "", &queue, properties, Settled::Retried, stop)
                    .await
            }
            Disposition::DeadLetter(reason) => {
                error!(%reason, routing_key, "dead-lettering delivery");
                let properties =
                    failures::dead_letter_properties(&delivery.properties, routing_key, &reason);
                let exchange = self.topology.dead_exchange();
                self.send_on(
                    &delivery,
                    &exchange,
                    routing_key,
                    properties,
                    Settled::DeadLettered,
                    stop,
                )
                .await
            }
            Disposition::Hold | Disposition::Requeue => {
                requeue(&delivery).await;
                Settled::Requeued
            }
        };
        self.metrics.settled(outcome);
    }

    /// Publishes the delivery on (to a retry tier or the dead-letter queue)
    /// and acks it once the broker confirmed. While the publish fails the
    /// delivery is held, not requeued: a requeue would spend one of its
    /// delivery attempts on a broker problem. At shutdown it is requeued.
    async fn send_on(
        &self,
        delivery: &Delivery,
        exchange: &str,
        routing_key: &str,
        properties: BasicProperties,
        outcome: Settled,
        stop: &CancellationToken,
    ) -> Settled {
        let mut delays = ReconnectDelays::new(Duration::from_secs(5));
        loop {
            match self
                .resend
                .publish(exchange, routing_key, &delivery.data, properties.clone())
                .await
            {
                Ok(()) => {
                    ack(delivery).await;
                    return outcome;
                }
                Err(error) => {
                    warn!(%error, "could not send the delivery on; holding it and trying again");
                    tokio::select! {
                        () = stop.cancelled() => {
                            requeue(delivery).await;
                            return Settled::Requeued;
                        }
                        () = tokio::time::sleep(delays.next_delay()) => {}
                    }
                }
            }
        }
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(error) = settle::ack(&delivery.acker).await {
        // The broker requeues what it did not see acked; the redelivery
        // will be recognised as a duplicate.
        warn!(%error, "ack lost; the broker will redeliver");
    }
}

async fn requeue(delivery: &Delivery) {
    if let Err(error) = settle::requeue(&delivery.acker).await {
        warn!(%error, "nack lost; the broker will redeliver");
    }
}
