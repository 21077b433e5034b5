//! Every metric prpulse-api exports, declared once.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct ApiMetrics {
    /// `prpulse_api_requests_total{route, status}`: answered requests;
    /// `route` is the matched pattern (`/api/v1/summary`) or `unmatched`.
    pub requests: IntCounterVec,
    /// `prpulse_api_request_duration_seconds{route}`.
    pub request_duration: HistogramVec,
}

impl ApiMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "prpulse_api_requests_total",
                    "Requests prpulse-api answered, by route and HTTP status.",
                ),
                &["route", "status"],
            )?,
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "prpulse_api_request_duration_seconds",
                    "Time to answer a request, by route.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["route"],
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        Ok(metrics)
    }

    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.request_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }
}
