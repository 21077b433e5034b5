//! The message on the queue: the payload bytes exactly as GitHub sent them
//! (form-encoded deliveries are unwrapped to their JSON), and the
//! delivery's identity in AMQP properties and headers, under a version
//! number so that a new shape can be added while old messages are still
//! in flight.
//!
//! | where | what |
//! |---|---|
//! | `message_id` | the delivery id |
//! | `type` | the event name |
//! | `timestamp` | receive time, whole seconds |
//! | header `prpulse-envelope` | `1` |
//! | header `github-delivery`, `github-event` | as received |
//! | header `github-action` | the payload's `action`, when it has one |
//! | header `github-hook-id` | `X-GitHub-Hook-ID`, when sent |
//! | header `received-at` | RFC 3339 with milliseconds |
//! | header `source` | `webhook`, `backfill` or `replay` |
//! | header `payload-encoding` | `lz4` when the body is compressed (set by the publisher); absent: the JSON itself |

use chrono::{DateTime, SecondsFormat, Utc};
use lapin::{BasicProperties, types::FieldTable};
use prpulse_domain::{
    DeliveryId, DeliveryIdError, EncodingError, EventName, EventNameError, PayloadEncoding,
};

use crate::headers::{get_i64, get_str, put_i64, put_str};

pub const VERSION: i64 = 1;

pub mod header {
    pub const VERSION: &str = "prpulse-envelope";
    pub const DELIVERY: &str = "github-delivery";
    pub const EVENT: &str = "github-event";
    pub const ACTION: &str = "github-action";
    pub const HOOK_ID: &str = "github-hook-id";
    pub const RECEIVED_AT: &str = "received-at";
    pub const SOURCE: &str = "source";
    /// How the body is encoded ([`PayloadEncoding`]); absent on messages
    /// published before compression (and by publishers that do not
    /// compress): the body is then the JSON itself.
    pub const PAYLOAD_ENCODING: &str = "payload-encoding";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Posted by GitHub to ingest.
    Webhook,
    /// Synthesised by the scheduler from the REST API.
    Backfill,
    /// Sent again by an operator from the dead-letter queue.
    Replay,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Backfill => "backfill",
            Self::Replay => "replay",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "webhook" => Some(Self::Webhook),
            "backfill" => Some(Self::Backfill),
            "replay" => Some(Self::Replay),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub delivery_id: DeliveryId,
    pub event: EventName,
    pub action: Option<String>,
    pub hook_id: Option<i64>,
    pub received_at: DateTime<Utc>,
    pub source: Source,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("message has no headers")]
    NoHeaders,
    #[error("unsupported envelope version {0:?}")]
    Version(Option<i64>),
    #[error("header {0} is missing or not text")]
    Missing(&'static str),
    #[error("bad delivery id: {0}")]
    Delivery(#[from] DeliveryIdError),
    #[error("bad event name: {0}")]
    Event(#[from] EventNameError),
    #[error("header {0} has an invalid value")]
    Invalid(&'static str),
    #[error("header payload-encoding: {0}")]
    Encoding(#[from] EncodingError),
}

impl Envelope {
    /// `<event>.<action>`, or `<event>` for events without an action.
    pub fn routing_key(&self) -> String {
        match self.action.as_deref().filter(|action| is_routable(action)) {
            Some(action) => format!("{}.{action}", self.event),
            None => self.event.to_string(),
        }
    }

    /// Properties for a persistent publish.
    pub fn to_properties(&self) -> BasicProperties {
        self.to_properties_in(PayloadEncoding::Identity)
    }

    /// Properties for a persistent publish of a body in `encoding`: what
    /// [`with_payload_encoding`] makes of [`Self::to_properties`], built in
    /// one go rather than by copying every header into a second table
    /// (this runs once per delivery ingest accepts).
    pub fn to_properties_in(&self, encoding: PayloadEncoding) -> BasicProperties {
        let mut headers = FieldTable::default();
        put_i64(&mut headers, header::VERSION, VERSION);
        put_str(&mut headers, header::DELIVERY, self.delivery_id.as_str());
        put_str(&mut headers, header::EVENT, self.event.as_str());
        if let Some(action) = &self.action {
            put_str(&mut headers, header::ACTION, action);
        }
        if let Some(hook_id) = self.hook_id {
            put_i64(&mut headers, header::HOOK_ID, hook_id);
        }
        put_str(
            &mut headers,
            header::RECEIVED_AT,
            &self
                .received_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        put_str(&mut headers, header::SOURCE, self.source.as_str());
        if encoding != PayloadEncoding::Identity {
            put_str(&mut headers, header::PAYLOAD_ENCODING, encoding.as_str());
        }
        let properties = BasicProperties::default()
            .with_message_id(self.delivery_id.as_str().into())
            .with_type(self.event.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_timestamp(u64::try_from(self.received_at.timestamp()).unwrap_or(0))
            .with_headers(headers);
        match encoding {
            PayloadEncoding::Identity => properties,
            _ => properties.with_content_encoding(encoding.as_str().into()),
        }
    }

    pub fn from_properties(properties: &BasicProperties) -> Result<Self, EnvelopeError> {
        let headers = properties
            .headers()
            .as_ref()
            .ok_or(EnvelopeError::NoHeaders)?;
        match get_i64(headers, header::VERSION) {
            Some(VERSION) => {}
            other => return Err(EnvelopeError::Version(other)),
        }
        let text = |key: &'static str| get_str(headers, key).ok_or(EnvelopeError::Missing(key));
        let received_at = DateTime::parse_from_rfc3339(text(header::RECEIVED_AT)?)
            .map_err(|_| EnvelopeError::Invalid(header::RECEIVED_AT))?
            .with_timezone(&Utc);
        let source =
            Source::parse(text(header::SOURCE)?).ok_or(EnvelopeError::Invalid(header::SOURCE))?;
        Ok(Self {
            delivery_id: DeliveryId::parse(text(header::DELIVERY)?)?,
            event: EventName::parse(text(header::EVENT)?)?,
            action: get_str(headers, header::ACTION).map(str::to_owned),
            hook_id: get_i64(headers, header::HOOK_ID),
            received_at,
            source,
        })
    }
}

/// How the message's body is encoded: its `payload-encoding` header, or
/// the JSON itself when there is none (messages queued before
/// compression, dead letters of those).
pub fn payload_encoding(properties: &BasicProperties) -> Result<PayloadEncoding, EnvelopeError> {
    let Some(headers) = properties.headers().as_ref() else {
        return Ok(PayloadEncoding::Identity);
    };
    match get_str(headers, header::PAYLOAD_ENCODING) {
        None => Ok(PayloadEncoding::Identity),
        Some(raw) => Ok(PayloadEncoding::parse(raw)?),
    }
}

/// `properties` saying the body is in `encoding` (header and AMQP
/// `content-encoding`, the latter for tools that show messages).
pub fn with_payload_encoding(
    properties: BasicProperties,
    encoding: PayloadEncoding,
) -> BasicProperties {
    if encoding == PayloadEncoding::Identity {
        return properties;
    }
    let mut headers = properties.headers().clone().unwrap_or_default();
    put_str(&mut headers, header::PAYLOAD_ENCODING, encoding.as_str());
    properties
        .with_headers(headers)
        .with_content_encoding(encoding.as_str().into())
}

/// Actions become routing-key words, so only plain snake_case ones do.
fn is_routable(action: &str) -> bool {
    !action.is_empty()
        && action.len() <= 64
        && action
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn envelope(action: Option<&str>) -> Envelope {
        Envelope {
            delivery_id: DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").unwrap(),
            event: EventName::parse("pull_request").unwrap(),
            action: action.map(str::to_owned),
            hook_id: Some(292430182),
            received_at: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
                + chrono::Duration::milliseconds(250),
            source: Source::Webhook,
        }
    }

    #[test]
    fn round_trips_through_properties() {
        let original = envelope(Some("opened"));
        let properties = original.to_properties();
        assert_eq!(Envelope::from_properties(&properties).unwrap(), original);
        assert_eq!(
            properties.message_id().as_ref().unwrap().as_str(),
            original.delivery_id.as_str()
        );
        assert_eq!(*properties.delivery_mode(), Some(2));
    }

    #[test]
    fn the_encoding_travels_in_a_header_and_its_absence_means_plain_json() {
        let plain = envelope(Some("opened")).to_properties();
        assert_eq!(payload_encoding(&plain), Ok(PayloadEncoding::Identity));
        assert_eq!(
            payload_encoding(&BasicProperties::default()),
            Ok(PayloadEncoding::Identity)
        );
        let compressed = with_payload_encoding(plain.clone(), PayloadEncoding::Lz4);
        assert_eq!(payload_encoding(&compressed), Ok(PayloadEncoding::Lz4));
        assert_eq!(
            Envelope::from_properties(&compressed).unwrap(),
            envelope(Some("opened")),
            "the envelope itself is unchanged"
        );
        assert_eq!(
            envelope(Some("opened")).to_properties_in(PayloadEncoding::Lz4),
            compressed,
            "built in one go or added after, the properties are the same"
        );
        let mut headers = plain.headers().clone().unwrap();
        put_str(&mut headers, header::PAYLOAD_ENCODING, "brotli");
        assert!(matches!(
            payload_encoding(&plain.with_headers(headers)),
            Err(EnvelopeError::Encoding(_))
        ));
    }

    #[test]
    fn routing_key_is_event_dot_action() {
        assert_eq!(
            envelope(Some("opened")).routing_key(),
            "pull_request.opened"
        );
        assert_eq!(envelope(None).routing_key(), "pull_request");
        assert_eq!(envelope(Some("we.ird#")).routing_key(), "pull_request");
    }

    #[test]
    fn rejects_foreign_or_incomplete_messages() {
        assert_eq!(
            Envelope::from_properties(&BasicProperties::default()),
            Err(EnvelopeError::NoHeaders)
        );
        let mut headers = FieldTable::default();
        put_i64(&mut headers, header::VERSION, 99);
        let foreign = BasicProperties::default().with_headers(headers.clone());
        assert_eq!(
            Envelope::from_properties(&foreign),
            Err(EnvelopeError::Version(Some(99)))
        );
        put_i64(&mut headers, header::VERSION, VERSION);
        let incomplete = BasicProperties::default().with_headers(headers);
        assert_eq!(
            Envelope::from_properties(&incomplete),
            Err(EnvelopeError::Missing(header::RECEIVED_AT))
        );
    }
}
