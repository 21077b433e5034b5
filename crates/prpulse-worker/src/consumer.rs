//! The consume loop around [`Processor::process`]: connect, consume with a
//! bounded prefetch, settle each delivery after its commit, reconnect with
//! backoff when the broker goes away.

use std::{sync::Arc, time::Duration, time::Instant};

use futures_util::StreamExt;
use prpulse_queue::{
    Envelope, Publisher, Topology, connect,
    lapin::{
        BasicProperties, Channel,
        message::Delivery,
        options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions},
        types::FieldTable,
    },
    retry::ReconnectDelays,
};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    disposition::Disposition,
    failures,
    metrics::WorkerMetrics,
    process::{Processed, Processor},
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
    pub prefetch: u16,
    pub concurrency: usize,
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
                    match self.consume_on(&channel, &stop).await {
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
    ) -> Result<(), prpulse_queue::lapin::Error> {
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                self.topology.work_queue().into(),
                format!("prpulse-worker-{}", std::process::id()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        info!(queue = %self.topology.work_queue(), prefetch = self.prefetch, "consuming");
        consumer
            .take_until(stop.cancelled())
            .for_each_concurrent(self.concurrency, |delivery| async {
                match delivery {
                    Ok(delivery) => self.handle(delivery, stop).await,
                    Err(error) => warn!(%error, "consumer error"),
                }
            })
            .await;
        Ok(())
    }

    async fn handle(&self, delivery: Delivery, stop: &CancellationToken) {
        let started = Instant::now();
        self.metrics.in_flight.inc();
        let disposition = match Envelope::from_properties(&delivery.properties) {
            Ok(envelope) => {
                let span = info_span!(
                    "delivery",
                    delivery_id = %envelope.delivery_id,
                    event = %envelope.event,
                    action = envelope.action.as_deref().unwrap_or("")
                );
                self.process(&envelope, &delivery, stop)
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
        delivery: &Delivery,
        stop: &CancellationToken,
    ) -> Disposition {
        let retries = failures::retries(&delivery.properties);
        let tiers = self.topology.retry_delays().len();
        // Short cap: once the database is back, held deliveries go on at once.
        let mut delays = ReconnectDelays::new(Duration::from_secs(5));
        loop {
            let result = self.processor.process(envelope, &delivery.data).await;
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
                processed.as_str()
            }
            Disposition::Retry { tier, error } => {
                let queue = self.topology.retry_queue(tier).expect("the tier exists");
                warn!(%error, retry_queue = %queue, "transient failure; retrying later");
                let properties =
                    failures::retry_properties(&delivery.properties, routing_key, &error);
                self.send_on(&delivery, "", &queue, properties, "retried", stop)
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
                    "dead_lettered",
                    stop,
                )
                .await
            }
            Disposition::Hold | Disposition::Requeue => {
                requeue(&delivery).await;
                "requeued"
            }
        };
        self.metrics.deliveries.with_label_values(&[outcome]).inc();
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
        outcome: &'static str,
        stop: &CancellationToken,
    ) -> &'static str {
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
                            return "requeued";
                        }
                        () = tokio::time::sleep(delays.next_delay()) => {}
                    }
                }
            }
        }
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        // The broker requeues what it did not see acked; the redelivery
        // will be recognised as a duplicate.
        warn!(%error, "ack lost; the broker will redeliver");
    }
}

async fn requeue(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(error) = delivery.acker.nack(options).await {
        warn!(%error, "nack lost; the broker will redeliver");
    }
}
