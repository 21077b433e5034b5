//! Every way a request can fail, and the one place that turns each into
//! an answer: a JSON body `{"error": …, "reason": …}` (plus `parameter`
//! for bad input).

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use prpulse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no bearer token: send Authorization: Bearer <token> (prpulse api-token create)")]
    MissingToken,
    #[error("the bearer token is unknown or revoked")]
    BadToken,
    #[error("parameter {parameter:?}: {reason}")]
    BadParameter { parameter: String, reason: String },
    #[error("the database cannot answer right now: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn bad(parameter: &str, reason: impl Into<String>) -> Self {
        Self::BadParameter {
            parameter: parameter.to_owned(),
            reason: reason.into(),
        }
    }

    /// A stable, low-cardinality label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::BadToken => "bad_token",
            Self::BadParameter { .. } => "bad_parameter",
            Self::Store(_) => "database",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::BadToken => StatusCode::UNAUTHORIZED,
            Self::BadParameter { .. } => StatusCode::BAD_REQUEST,
            // Every query prpulse-api runs is a read that a healthy
            // database answers: a failure is the database being away.
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = serde_json::json!({ "error": self.to_string(), "reason": self.reason() });
        match self {
            Self::BadParameter { parameter, .. } => body["parameter"] = parameter.as_str().into(),
            Self::Store(error) => {
                // The cause goes to the logs, not to the caller.
                tracing::warn!(error = %error, "query failed");
                body["error"] = "the database cannot answer right now; try again".into();
            }
            Self::MissingToken | Self::BadToken => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::MissingToken | Self::BadToken) {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"prpulse\""));
        }
        response.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_maps_to_the_contract() {
        assert_eq!(
            ApiError::MissingToken.status_code(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(ApiError::BadToken.status_code(), StatusCode::UNAUTHORIZED);
        let bad = ApiError::bad("group_by", "expected none, repository, team or author");
        assert_eq!(bad.status_code(), StatusCode::BAD_REQUEST);
        assert!(bad.to_string().contains("group_by"), "{bad}");
        let response = ApiError::BadToken.error_response();
        assert!(response.headers().contains_key("www-authenticate"));
    }
}
