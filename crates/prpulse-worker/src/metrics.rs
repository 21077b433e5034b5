//! Every metric the worker exports, declared once.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// How the worker settled a delivery: the `outcome` label of
/// `prpulse_worker_deliveries_total`, which dashboards and alerts select.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Settled {
    /// Committed and projected into rows.
    Projected,
    /// Committed raw: an event prpulse keeps but does not project.
    Stored,
    /// Its delivery id was already recorded: acked, nothing applied.
    Duplicate,
    /// Sent to a retry tier after a transient failure.
    Retried,
    DeadLettered,
    /// Handed back to the broker unsettled (stopping, or held too long).
    Requeued,
}

impl Settled {
    pub const ALL: [Self; 6] = [
        Self::Projected,
        Self::Stored,
        Self::Duplicate,
        Self::Retried,
        Self::DeadLettered,
        Self::Requeued,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Projected => "projected",
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Retried => "retried",
            Self::DeadLettered => "dead_lettered",
            Self::Requeued => "requeued",
        }
    }
}

impl From<crate::process::Processed> for Settled {
    fn from(processed: crate::process::Processed) -> Self {
        use crate::process::Processed;
        match processed {
            Processed::Projected => Self::Projected,
            Processed::Stored => Self::Stored,
            Processed::Duplicate => Self::Duplicate,
        }
    }
}

#[derive(Clone)]
pub struct WorkerMetrics {
    /// `prpulse_worker_deliveries_total{outcome}`: one of [`Settled`]'s
    /// labels; count with [`WorkerMetrics::settled`].
    pub deliveries: IntCounterVec,
    /// `prpulse_worker_processing_duration_seconds`: one delivery, from
    /// taking it to settling it.
    pub processing_duration: Histogram,
    /// `prpulse_worker_delivery_lag_seconds`: from ingest's receipt to the
    /// commit of its projection.
    pub delivery_lag: Histogram,
    /// `prpulse_worker_batch_size`: deliveries per committed transaction.
    pub batch_size: Histogram,
    /// `prpulse_worker_batch_fallbacks_total`: batches that failed and
    /// were processed one delivery at a time.
    pub batch_fallbacks: IntCounter,
    /// `prpulse_worker_in_flight`: deliveries being processed now.
    pub in_flight: IntGauge,
    /// `prpulse_worker_transient_errors_total`: attempts that hit an
    /// unavailable database and were held and retried in place.
    pub transient_errors: IntCounter,
    /// `prpulse_queue_messages{queue}`: messages ready in a queue, polled
    /// from the broker; `queue` is `work` or `dead` (the name without the
    /// topology prefix). Every worker reports it: aggregate with `max`.
    pub queue_messages: IntGaugeVec,
}

impl WorkerMetrics {
    /// Counts one delivery settled as `outcome`.
    pub fn settled(&self, outcome: Settled) {
        self.deliveries.with_label_values(&[outcome.label()]).inc();
    }

    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let latency_buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0, 300.0,
        ];
        let metrics = Self {
            deliveries: IntCounterVec::new(
                Opts::new(
                    "prpulse_worker_deliveries_total",
                    "Deliveries settled by the worker, by outcome.",
                ),
                &["outcome"],
            )?,
            processing_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "prpulse_worker_processing_duration_seconds",
                    "Time to process and settle one delivery.",
                )
                .buckets(latency_buckets.clone()),
            )?,
            delivery_lag: Histogram::with_opts(
                HistogramOpts::new(
                    "prpulse_worker_delivery_lag_seconds",
                    "Time from ingest receiving a delivery to its projection committing.",
                )
                .buckets(latency_buckets),
            )?,
            batch_size: Histogram::with_opts(
                HistogramOpts::new(
                    "prpulse_worker_batch_size",
                    "Deliveries per committed transaction.",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
            )?,
            batch_fallbacks: IntCounter::new(
                "prpulse_worker_batch_fallbacks_total",
                "Batches that failed and were processed one delivery at a time.",
            )?,
            in_flight: IntGauge::new(
                "prpulse_worker_in_flight",
                "Deliveries being processed now.",
            )?,
            transient_errors: IntCounter::new(
                "prpulse_worker_transient_errors_total",
                "Processing attempts that failed on an unavailable database and were retried.",
            )?,
            queue_messages: IntGaugeVec::new(
                Opts::new(
                    "prpulse_queue_messages",
                    "Messages ready in a prpulse queue, as last polled from the broker.",
                ),
                &["queue"],
            )?,
        };
        registry.register(Box::new(metrics.deliveries.clone()))?;
        registry.register(Box::new(metrics.processing_duration.clone()))?;
        registry.register(Box::new(metrics.delivery_lag.clone()))?;
        registry.register(Box::new(metrics.batch_size.clone()))?;
        registry.register(Box::new(metrics.batch_fallbacks.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.transient_errors.clone()))?;
        registry.register(Box::new(metrics.queue_messages.clone()))?;
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_counts_under_its_own_label() {
        let metrics = WorkerMetrics::register(&Registry::new()).unwrap();
        metrics.settled(Settled::Duplicate);
        metrics.settled(Settled::Duplicate);
        metrics.settled(Settled::DeadLettered);
        let count = |label| metrics.deliveries.with_label_values(&[label]).get();
        assert_eq!(count("duplicate"), 2);
        assert_eq!(count("dead_lettered"), 1);
        assert_eq!(count("projected"), 0);
        let labels: std::collections::HashSet<_> = Settled::ALL.map(Settled::label).into();
        assert_eq!(labels.len(), Settled::ALL.len(), "labels are distinct");
    }

    #[test]
    fn a_processed_delivery_counts_under_the_label_it_always_had() {
        use crate::process::Processed;
        for processed in [
            Processed::Projected,
            Processed::Stored,
            Processed::Duplicate,
        ] {
            assert_eq!(Settled::from(processed).label(), processed.as_str());
        }
    }
}
