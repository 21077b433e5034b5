//! The headers that identify a delivery. Header names are case-insensitive
//! (recorders show `X-Github-Event` or `x-github-event`), so lookups go
//! through a caller-supplied function backed by a case-insensitive map.

use prpulse_domain::{DeliveryId, DeliveryIdError, EventName, EventNameError};

use crate::signature::{Signature, SignatureError};

pub const EVENT: &str = "x-github-event";
pub const DELIVERY: &str = "x-github-delivery";
pub const HOOK_ID: &str = "x-github-hook-id";
pub const SIGNATURE_256: &str = "x-hub-signature-256";
pub const SIGNATURE_SHA1: &str = "x-hub-signature";

/// A delivery's identity, parsed once at the edge.
#[derive(Clone, Debug)]
pub struct DeliveryHeaders {
    pub event: EventName,
    pub delivery_id: DeliveryId,
    /// Absent on organisation/app hooks of old GitHub versions and on
    /// deliveries from before GitHub added the header.
    pub hook_id: Option<i64>,
    pub signature: Result<Signature, SignatureError>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("missing X-GitHub-Event header")]
    MissingEvent,
    #[error("malformed X-GitHub-Event header: {0}")]
    BadEvent(#[source] EventNameError),
    #[error("missing X-GitHub-Delivery header")]
    MissingDelivery,
    #[error("malformed X-GitHub-Delivery header: {0}")]
    BadDelivery(#[source] DeliveryIdError),
    #[error("X-GitHub-Hook-ID is not a positive integer")]
    BadHookId,
}

impl DeliveryHeaders {
    /// `header` returns a header's value by lower-case name, or `None` when
    /// it is absent or not visible ASCII.
    pub fn parse<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Result<Self, HeaderError> {
        let event = header(EVENT).ok_or(HeaderError::MissingEvent)?;
        let event = EventName::parse(event.trim()).map_err(HeaderError::BadEvent)?;
        let delivery = header(DELIVERY).ok_or(HeaderError::MissingDelivery)?;
        let delivery_id = DeliveryId::parse(delivery.trim()).map_err(HeaderError::BadDelivery)?;
        let hook_id = header(HOOK_ID)
            .map(|raw| {
                raw.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or(HeaderError::BadHookId)
            })
            .transpose()?;
        let signature = match (header(SIGNATURE_256), header(SIGNATURE_SHA1)) {
            (Some(value), _) => Signature::parse(value.trim()),
            (None, Some(_)) => Err(SignatureError::OnlySha1),
            (None, None) => Err(SignatureError::Missing),
        };
        Ok(Self {
            event,
            delivery_id,
            hook_id,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<DeliveryHeaders, HeaderError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        DeliveryHeaders::parse(|name| map.get(name).map(String::as_str))
    }

    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn parses_a_github_delivery() {
        let headers = parse(&[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("X-GitHub-Hook-ID", "292430182"),
            ("X-Hub-Signature-256", SIG),
        ])
        .unwrap();
        assert_eq!(headers.event.as_str(), "pull_request");
        assert_eq!(
            headers.delivery_id.as_str(),
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        assert_eq!(headers.hook_id, Some(292430182));
        assert!(headers.signature.is_ok());
    }

    #[test]
    fn missing_or_malformed_identity_is_an_error() {
        assert_eq!(
            parse(&[("X-GitHub-Delivery", "abc")]).unwrap_err(),
            HeaderError::MissingEvent
        );
        assert_eq!(
            parse(&[("X-GitHub-Event", "ping")]).unwrap_err(),
            HeaderError::MissingDelivery
        );
        assert!(matches!(
            parse(&[("X-GitHub-Event", "Ping!"), ("X-GitHub-Delivery", "abc")]).unwrap_err(),
            HeaderError::BadEvent(_)
        ));
        assert!(matches!(
            parse(&[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "a b")]).unwrap_err(),
            HeaderError::BadDelivery(_)
        ));
        assert_eq!(
            parse(&[
                ("X-GitHub-Event", "ping"),
                ("X-GitHub-Delivery", "abc"),
                ("X-GitHub-Hook-ID", "-4")
            ])
            .unwrap_err(),
            HeaderError::BadHookId
        );
    }

    #[test]
    fn signature_problems_are_kept_for_the_verifier() {
        let base = [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "abc")];
        let only_sha1 = parse(&[base[0], base[1], ("X-Hub-Signature", "sha1=00")]).unwrap();
        assert_eq!(only_sha1.signature, Err(SignatureError::OnlySha1));
        let none = parse(&base).unwrap();
        assert_eq!(none.signature, Err(SignatureError::Missing));
        assert_eq!(none.hook_id, None);
    }
}
