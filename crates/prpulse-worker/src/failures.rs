//! What a failed delivery carries when it is sent on: to a retry tier
//! (how many retries so far, the first and last error) or to the
//! dead-letter queue (why it died, when, after how many attempts). The
//! original properties and headers are always kept.

use chrono::{SecondsFormat, Utc};
use prpulse_queue::{
    dead_letters::header,
    headers::{get_i64, get_str, put_i64, put_str},
    lapin::{BasicProperties, types::FieldTable},
};

/// Times this delivery was already sent to a retry tier.
pub fn retries(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|headers| get_i64(headers, header::RETRIES))
        .and_then(|retries| u32::try_from(retries).ok())
        .unwrap_or(0)
}

pub fn retry_properties(
    original: &BasicProperties,
    routing_key: &str,
    error: &str,
) -> BasicProperties {
    let mut headers = failure_headers(original, routing_key, error);
    put_i64(
        &mut headers,
        header::RETRIES,
        i64::from(retries(original)) + 1,
    );
    original.clone().with_headers(headers).with_delivery_mode(2)
}

pub fn dead_letter_properties(
    original: &BasicProperties,
    routing_key: &str,
    reason: &str,
) -> BasicProperties {
    let mut headers = failure_headers(original, routing_key, reason);
    put_str(&mut headers, header::DEAD_REASON, reason);
    put_str(&mut headers, header::DEAD_AT, &now());
    put_i64(
        &mut headers,
        header::ATTEMPTS,
        i64::from(retries(original)) + 1,
    );
    original.clone().with_headers(headers).with_delivery_mode(2)
}

fn failure_headers(original: &BasicProperties, routing_key: &str, error: &str) -> FieldTable {
    let mut headers = original.headers().clone().unwrap_or_default();
    if get_str(&headers, header::FIRST_ERROR).is_none() {
        put_str(&mut headers, header::FIRST_ERROR, error);
    }
    if get_str(&headers, header::ROUTING_KEY).is_none() {
        put_str(&mut headers, header::ROUTING_KEY, routing_key);
    }
    put_str(&mut headers, header::LAST_ERROR, error);
    put_str(&mut headers, header::LAST_ERROR_AT, &now());
    headers
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original() -> BasicProperties {
        let mut headers = FieldTable::default();
        put_str(&mut headers, "github-delivery", "abc");
        BasicProperties::default()
            .with_message_id("abc".into())
            .with_headers(headers)
    }

    fn text(properties: &BasicProperties, key: &str) -> Option<String> {
        get_str(properties.headers().as_ref().unwrap(), key).map(str::to_owned)
    }

    #[test]
    fn retries_count_up_and_keep_the_first_error_and_routing_key() {
        let first = retry_properties(&original(), "pull_request.opened", "deadlock");
        assert_eq!(retries(&original()), 0);
        assert_eq!(retries(&first), 1);
        let second = retry_properties(&first, "prpulse.work", "lock timeout");
        assert_eq!(retries(&second), 2);
        assert_eq!(
            text(&second, header::FIRST_ERROR).as_deref(),
            Some("deadlock")
        );
        assert_eq!(
            text(&second, header::LAST_ERROR).as_deref(),
            Some("lock timeout")
        );
        assert_eq!(
            text(&second, header::ROUTING_KEY).as_deref(),
            Some("pull_request.opened")
        );
        assert_eq!(text(&second, "github-delivery").as_deref(), Some("abc"));
    }

    #[test]
    fn a_dead_letter_says_why_when_and_after_how_many_attempts() {
        let retried = retry_properties(&original(), "pull_request.opened", "deadlock");
        let dead = dead_letter_properties(&retried, "prpulse.work", "gave up");
        let headers = dead.headers().as_ref().unwrap();
        assert_eq!(get_str(headers, header::DEAD_REASON), Some("gave up"));
        assert_eq!(get_i64(headers, header::ATTEMPTS), Some(2));
        assert_eq!(get_str(headers, header::FIRST_ERROR), Some("deadlock"));
        assert_eq!(
            get_str(headers, header::ROUTING_KEY),
            Some("pull_request.opened")
        );
        assert!(get_str(headers, header::DEAD_AT).is_some());
        assert_eq!(dead.message_id(), original().message_id());
        assert_eq!(*dead.delivery_mode(), Some(2));
    }
}
