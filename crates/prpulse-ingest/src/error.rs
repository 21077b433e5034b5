//! Every way a delivery can be refused, and the one place that turns each
//! into an HTTP answer.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use prpulse_github::{HeaderError, SignatureError};
use prpulse_queue::PublishError;
use prpulse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the request body is empty")]
    EmptyBody,
    #[error(transparent)]
    Headers(#[from] HeaderError),
    #[error("the payload is not usable: {0}")]
    BadPayload(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("webhook secrets cannot be read right now: {0}")]
    SecretsUnavailable(#[source] StoreError),
    #[error("webhook secrets are misconfigured: {0}")]
    SecretsMisconfigured(#[source] StoreError),
    #[error("the delivery could not be handed to the broker: {0}")]
    Publish(#[from] PublishError),
}

impl IngestError {
    /// A stable, low-cardinality label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::EmptyBody => "empty_body",
            Self::Headers(_) => "bad_headers",
            Self::BadPayload(_) => "bad_payload",
            Self::Signature(error) => error.reason(),
            Self::SecretsUnavailable(_) => "secrets_unavailable",
            Self::SecretsMisconfigured(_) => "secrets_misconfigured",
            Self::Publish(error) => error.reason(),
        }
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::EmptyBody | Self::Headers(_) | Self::BadPayload(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
            // GitHub does not retry on its own; 503 tells the operator (and
            // the scheduler's redelivery) that this one is worth sending again.
            Self::SecretsUnavailable(_) | Self::Publish(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::SecretsMisconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The cause chain goes to the logs; the body says what the sender
        // can act on, and never more about our internals than that.
        let message = match self.status_code() {
            StatusCode::SERVICE_UNAVAILABLE => {
                "temporarily unable to accept deliveries; redeliver later".to_owned()
            }
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            _ => self.to_string(),
        };
        HttpResponse::build(self.status_code()).json(serde_json::json!({
            "error": message,
            "reason": self.reason(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_maps_to_the_contract() {
        assert_eq!(
            IngestError::EmptyBody.status_code(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            IngestError::Headers(HeaderError::MissingEvent).status_code(),
            StatusCode::BAD_REQUEST
        );
        for signature in [
            SignatureError::Missing,
            SignatureError::OnlySha1,
            SignatureError::Malformed,
            SignatureError::Mismatch,
            SignatureError::NoSecret,
        ] {
            assert_eq!(
                IngestError::Signature(signature).status_code(),
                StatusCode::UNAUTHORIZED
            );
        }
        for publish in [
            PublishError::NotConnected,
            PublishError::Blocked,
            PublishError::Nacked,
            PublishError::Unroutable("NO_ROUTE".into()),
            PublishError::Timeout(std::time::Duration::from_secs(1)),
        ] {
            assert_eq!(
                IngestError::Publish(publish).status_code(),
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
    }
}
