//! GitHub's error answers as errors that say what to fix.

use reqwest::{StatusCode, header::HeaderMap};

use crate::GitHubError;

pub(super) fn error_for(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> GitHubError {
    #[derive(serde::Deserialize, Default)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
    let message = if parsed.message.is_empty() {
        String::from_utf8_lossy(body).chars().take(200).collect()
    } else {
        parsed.message
    };
    match status {
        StatusCode::UNAUTHORIZED => GitHubError::Unauthorized,
        StatusCode::FORBIDDEN => GitHubError::Forbidden {
            message,
            missing_scopes: missing_scopes(headers),
        },
        StatusCode::NOT_FOUND => GitHubError::NotFound {
            path: path.to_owned(),
            missing_scopes: missing_scopes(headers),
        },
        StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Unprocessable {
            message,
            errors: parsed
                .errors
                .iter()
                .map(
                    |error| match error.get("message").and_then(|m| m.as_str()) {
                        Some(text) => text.to_owned(),
                        None => error.to_string(),
                    },
                )
                .collect(),
        },
        _ => GitHubError::Status {
            status: status.as_u16(),
            message,
        },
    }
}

/// The scopes the endpoint accepts (`X-Accepted-OAuth-Scopes`) that the
/// token does not have (`X-OAuth-Scopes`).
fn missing_scopes(headers: &HeaderMap) -> Option<String> {
    let list = |name: &str| -> Vec<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let granted = list("x-oauth-scopes");
    let missing: Vec<String> = list("x-accepted-oauth-scopes")
        .into_iter()
        .filter(|scope| !granted.contains(scope))
        .collect();
    (!missing.is_empty()).then(|| missing.join(" or "))
}
