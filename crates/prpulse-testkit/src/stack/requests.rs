//! What a test sends to ingest: deliveries signed as GitHub signs them,
//! raw posts, and plain reads.

use std::time::Duration;

use super::Stack;
use crate::payloads::Delivery;

impl Stack {
    /// Posts a delivery as GitHub would: JSON, signed with the stack's secret.
    pub async fn deliver(&self, delivery: &Delivery) -> reqwest::Response {
        let secret = self
            .secret
            .as_deref()
            .expect("this stack has a webhook secret");
        self.deliver_signed(delivery, secret.as_bytes(), None).await
    }

    pub async fn deliver_signed(
        &self,
        delivery: &Delivery,
        secret: &[u8],
        hook_id: Option<i64>,
    ) -> reqwest::Response {
        let signature = prpulse_github::sign(secret, &delivery.body);
        let mut headers = vec![
            ("X-GitHub-Event", delivery.event.clone()),
            ("X-GitHub-Delivery", delivery.id.clone()),
            ("X-Hub-Signature-256", signature),
            ("Content-Type", "application/json".to_owned()),
        ];
        if let Some(hook_id) = hook_id {
            headers.push(("X-GitHub-Hook-ID", hook_id.to_string()));
        }
        self.post(&headers, delivery.body.clone()).await
    }

    /// Posts exactly these headers and body to the webhook endpoint.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/webhooks/github", self.ingest_url))
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .timeout(Duration::from_secs(15))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("ingest answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.ingest_url))
            .send()
            .await
            .expect("ingest answers")
    }
}
