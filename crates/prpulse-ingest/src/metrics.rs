//! Every metric ingest exports, declared once.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use prpulse_domain::{EventDisposition, EventName};

#[derive(Clone)]
pub struct IngestMetrics {
    /// `prpulse_ingest_requests_total{event, status}`: answered deliveries.
    /// `event` is a handled event name, `ping`, or `other`.
    pub requests: IntCounterVec,
    /// `prpulse_ingest_request_duration_seconds{status}`.
    pub request_duration: HistogramVec,
    /// `prpulse_ingest_rejections_total{reason}`: refused deliveries by
    /// reason (`mismatch`, `missing`, `sha1_only`, `not_connected`, ...).
    pub rejections: IntCounterVec,
    /// `prpulse_ingest_publish_duration_seconds`: publish until confirm.
    pub publish_duration: Histogram,
    /// `prpulse_ingest_payload_bytes`: sizes of verified payloads.
    pub payload_bytes: Histogram,
    /// `prpulse_ingest_hook_secret_lookups_total{outcome}`: Postgres
    /// lookups of a hook's secrets (cache misses), by `found`, `unknown`
    /// (not a hook prpulse stores) or `error`.
    pub hook_secret_lookups: IntCounterVec,
}

impl IngestMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "prpulse_ingest_requests_total",
                    "Webhook deliveries answered, by event and HTTP status.",
                ),
                &["event", "status"],
            )?,
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "prpulse_ingest_request_duration_seconds",
                    "Time to answer a webhook delivery, by HTTP status.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["status"],
            )?,
            rejections: IntCounterVec::new(
                Opts::new(
                    "prpulse_ingest_rejections_total",
                    "Webhook deliveries refused, by reason.",
                ),
                &["reason"],
            )?,
            publish_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "prpulse_ingest_publish_duration_seconds",
                    "Time from publish to the broker's confirm.",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
                ]),
            )?,
            payload_bytes: Histogram::with_opts(
                HistogramOpts::new(
                    "prpulse_ingest_payload_bytes",
                    "Size of verified webhook payloads.",
                )
                .buckets(prometheus::exponential_buckets(1024.0, 4.0, 9)?),
            )?,
            hook_secret_lookups: IntCounterVec::new(
                Opts::new(
                    "prpulse_ingest_hook_secret_lookups_total",
                    "Hook-secret lookups in Postgres (cache misses), by outcome.",
                ),
                &["outcome"],
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        registry.register(Box::new(metrics.rejections.clone()))?;
        registry.register(Box::new(metrics.publish_duration.clone()))?;
        registry.register(Box::new(metrics.payload_bytes.clone()))?;
        registry.register(Box::new(metrics.hook_secret_lookups.clone()))?;
        Ok(metrics)
    }
}

/// The `event` label: bounded, whatever a sender puts in the header.
pub fn event_label(event: Option<&EventName>) -> &str {
    match event {
        Some(event) if event.disposition() != EventDisposition::Ignore => event.as_str(),
        Some(_) => "other",
        None => "unknown",
    }
}
