//! What a dead letter carries: the original message and headers, plus why
//! it died, when, and after how many attempts.

use chrono::{SecondsFormat, Utc};
use prpulse_queue::{
    headers::{get_i64, put_i64, put_str},
    lapin::BasicProperties,
};

pub mod header {
    pub const REASON: &str = "prpulse-dead-reason";
    pub const AT: &str = "prpulse-dead-at";
    pub const ATTEMPTS: &str = "prpulse-attempts";
    pub const ROUTING_KEY: &str = "prpulse-routing-key";
    /// Set by quorum queues on every redelivery.
    pub const DELIVERY_COUNT: &str = "x-delivery-count";
}

/// How many times this message has been delivered, this time included.
pub fn attempts(properties: &BasicProperties) -> i64 {
    properties
        .headers()
        .as_ref()
        .and_then(|headers| get_i64(headers, header::DELIVERY_COUNT))
        .unwrap_or(0)
        + 1
}

pub fn properties(original: &BasicProperties, routing_key: &str, reason: &str) -> BasicProperties {
    let mut headers = original.headers().clone().unwrap_or_default();
    put_str(&mut headers, header::REASON, reason);
    put_str(
        &mut headers,
        header::AT,
        &Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    put_i64(&mut headers, header::ATTEMPTS, attempts(original));
    put_str(&mut headers, header::ROUTING_KEY, routing_key);
    original.clone().with_headers(headers).with_delivery_mode(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prpulse_queue::{headers::get_str, lapin::types::FieldTable};

    #[test]
    fn keeps_original_headers_and_adds_why() {
        let mut original_headers = FieldTable::default();
        put_str(&mut original_headers, "github-delivery", "abc");
        put_i64(&mut original_headers, header::DELIVERY_COUNT, 2);
        let original = BasicProperties::default()
            .with_message_id("abc".into())
            .with_headers(original_headers);
        let dead = properties(&original, "pull_request.opened", "bad shape");
        let headers = dead.headers().as_ref().unwrap();
        assert_eq!(get_str(headers, "github-delivery"), Some("abc"));
        assert_eq!(get_str(headers, header::REASON), Some("bad shape"));
        assert_eq!(get_i64(headers, header::ATTEMPTS), Some(3));
        assert_eq!(
            get_str(headers, header::ROUTING_KEY),
            Some("pull_request.opened")
        );
        assert_eq!(dead.message_id(), original.message_id());
    }
}
