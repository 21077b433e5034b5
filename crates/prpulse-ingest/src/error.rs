//! Every way a delivery can be refused, and the one place that turns each
//! into an HTTP answer.

use std::{sync::Arc, time::Duration};

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use prpulse_github::{HeaderError, SignatureError};
use prpulse_jira::JiraRefusal;
use prpulse_queue::PublishError;
use prpulse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("deliveries are not accepted from this address")]
    SourceNotAllowed,
    #[error("too many refused requests from this source; retry in {}s", retry_after.as_secs().max(1))]
    SourceRateLimited { retry_after: Duration },
    #[error("more deliveries than ingest takes per second; retry in {}s", retry_after.as_secs().max(1))]
    GlobalRateLimited { retry_after: Duration },
    #[error("too many large bodies from this source at once; retry in {}s", retry_after.as_secs().max(1))]
    SourceUploadsBusy { retry_after: Duration },
    #[error("too many body bytes in flight; retry in {}s", retry_after.as_secs().max(1))]
    BodyBudgetExhausted { retry_after: Duration },
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body did not arrive within {0:?}")]
    BodyTimeout(Duration),
    #[error("the body could not be read: {0}")]
    BadBody(String),
    #[error("the request body is empty")]
    EmptyBody,
    #[error(transparent)]
    Headers(#[from] HeaderError),
    #[error("the payload is not usable: {0}")]
    BadPayload(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Jira(#[from] JiraRefusal),
    #[error("webhook secrets cannot be read right now: {0}")]
    SecretsUnavailable(#[source] Arc<StoreError>),
    #[error("webhook secrets are misconfigured: {0}")]
    SecretsMisconfigured(#[source] Arc<StoreError>),
    #[error("the delivery could not be handed to the broker: {0}")]
    Publish(#[from] PublishError),
}

impl IngestError {
    /// A stable, low-cardinality label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SourceNotAllowed => "source_not_allowed",
            Self::SourceRateLimited { .. } => "source_rate_limited",
            Self::GlobalRateLimited { .. } => "global_rate_limited",
            Self::SourceUploadsBusy { .. } => "source_uploads_busy",
            Self::BodyBudgetExhausted { .. } => "body_budget_exhausted",
            Self::TooLarge { .. } => "too_large",
            Self::BodyTimeout(_) => "body_timeout",
            Self::BadBody(_) => "bad_body",
            Self::EmptyBody => "empty_body",
            Self::Headers(_) => "bad_headers",
            Self::BadPayload(_) => "bad_payload",
            Self::Signature(error) => error.reason(),
            Self::Jira(refusal) => refusal.reason(),
            Self::SecretsUnavailable(_) => "secrets_unavailable",
            Self::SecretsMisconfigured(_) => "secrets_misconfigured",
            Self::Publish(error) => error.reason(),
        }
    }
}

impl IngestError {
    /// Refusals of requests nobody proved to come from GitHub: these spend
    /// the source's failure budget. A hook-secret lookup that found no
    /// connection counts too: a flood of random hook ids is what drains
    /// the pool.
    pub fn counts_against_source(&self) -> bool {
        matches!(
            self,
            Self::EmptyBody
                | Self::Headers(_)
                | Self::Signature(_)
                | Self::Jira(_)
                | Self::TooLarge { .. }
                | Self::BodyTimeout(_)
                | Self::BadBody(_)
                | Self::SecretsUnavailable(_)
        )
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::SourceRateLimited { retry_after }
            | Self::GlobalRateLimited { retry_after }
            | Self::SourceUploadsBusy { retry_after }
            | Self::BodyBudgetExhausted { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SourceNotAllowed => StatusCode::FORBIDDEN,
            Self::SourceRateLimited { .. }
            | Self::GlobalRateLimited { .. }
            | Self::SourceUploadsBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::EmptyBody | Self::Headers(_) | Self::BadPayload(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) | Self::Jira(_) => StatusCode::UNAUTHORIZED,
            // GitHub does not retry on its own; 503 tells the operator (and
            // the scheduler's redelivery) that this one is worth sending again.
            Self::SecretsUnavailable(_) | Self::Publish(_) | Self::BodyBudgetExhausted { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
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
        let mut response = HttpResponse::build(self.status_code());
        if let Some(retry_after) = self.retry_after() {
            // Whole seconds, rounded up: Retry-After has no fractions.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, seconds.max(1).to_string()));
        }
        response.json(serde_json::json!({
            "error": message,
            "reason": self.reason(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_say_when_to_come_back() {
        let limited = IngestError::SourceRateLimited {
            retry_after: Duration::from_millis(2_100),
        };
        assert_eq!(limited.status_code(), StatusCode::TOO_MANY_REQUESTS);
        let response = limited.error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "3");
        assert!(!limited.counts_against_source());
        assert!(IngestError::Signature(SignatureError::Mismatch).counts_against_source());
        assert!(IngestError::Jira(JiraRefusal::WrongToken).counts_against_source());
        assert_eq!(
            IngestError::Jira(JiraRefusal::MissingToken).status_code(),
            StatusCode::UNAUTHORIZED
        );
        assert!(!IngestError::BadPayload("x".into()).counts_against_source());
        let busy = IngestError::SourceUploadsBusy {
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(busy.status_code(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            busy.error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        let full = IngestError::BodyBudgetExhausted {
            retry_after: Duration::from_millis(1),
        };
        assert_eq!(full.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            full.error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        assert!(!full.counts_against_source() && !busy.counts_against_source());
        assert_eq!(
            IngestError::BodyTimeout(Duration::from_secs(1)).status_code(),
            StatusCode::REQUEST_TIMEOUT
        );
        assert_eq!(
            IngestError::TooLarge { limit: 1 }.status_code(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn a_lookup_that_found_no_connection_counts_against_the_source() {
        use deadpool_postgres::{PoolError, TimeoutType};
        let exhausted = StoreError::Pool(PoolError::Timeout(TimeoutType::Wait));
        assert!(exhausted.is_transient());
        let refusal = IngestError::SecretsUnavailable(Arc::new(exhausted));
        assert!(refusal.counts_against_source());
        assert_eq!(refusal.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

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
