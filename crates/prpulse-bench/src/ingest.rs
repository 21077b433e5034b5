//! Signed deliveries posted to the real prpulse-ingest, as GitHub posts
//! them.

use std::time::Duration;

use crate::workload::Prepared;

#[derive(Clone)]
pub struct IngestClient {
    http: reqwest::Client,
    url: String,
}

impl IngestClient {
    pub fn new(ingest_url: &str, in_flight: usize) -> anyhow::Result<Self> {
        let http = prpulse_testkit::http_client()
            .pool_max_idle_per_host(in_flight.max(1))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self {
            http,
            url: format!("{ingest_url}/webhooks/github"),
        })
    }

    /// Posts `delivery` under `delivery_id`; true on 202.
    pub async fn post(&self, delivery: &Prepared, delivery_id: &str) -> bool {
        let response = self
            .http
            .post(&self.url)
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", &delivery.delivery.event)
            .header("X-GitHub-Delivery", delivery_id)
            .header("X-Hub-Signature-256", &delivery.signature)
            .body(delivery.body.clone())
            .send()
            .await;
        response.is_ok_and(|response| response.status() == reqwest::StatusCode::ACCEPTED)
    }
}
