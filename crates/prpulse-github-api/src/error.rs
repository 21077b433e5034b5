use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub refused the token (401): it is wrong, expired or revoked")]
    Unauthorized,
    #[error("GitHub forbids this (403): {message}{}", missing_scopes.as_ref().map(|s| format!("; the token lacks the scope {s}")).unwrap_or_default())]
    Forbidden {
        message: String,
        /// Scopes the endpoint accepts that the token does not have.
        missing_scopes: Option<String>,
    },
    /// GitHub answers 404 rather than 403 to hide what a token may not see.
    #[error("GitHub has no {path} (404), or the token cannot see it{}", missing_scopes.as_ref().map(|s| format!("; the token lacks the scope {s}")).unwrap_or_default())]
    NotFound {
        path: String,
        missing_scopes: Option<String>,
    },
    #[error("GitHub rejected the request (422): {message}{}", if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) })]
    Unprocessable {
        message: String,
        errors: Vec<String>,
    },
    #[error("GitHub's rate limit is spent for another {0:?}, longer than prpulse waits")]
    RateLimited(Duration),
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("GitHub could not be reached: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("GitHub's answer was not what prpulse expects: {0}")]
    Decode(String),
    #[error(
        "GitHub did not answer {path} after {attempts} attempts and {waited:?} of waiting; prpulse gives up on this call"
    )]
    GaveUp {
        path: String,
        attempts: u32,
        waited: Duration,
    },
    #[error("invalid GitHub API URL: {0}")]
    BadUrl(String),
    /// A `Link` header pointing away from the API (another host, scheme
    /// or port) would be sent the token: refused.
    #[error("GitHub's Link header points to {link}, outside {base}; not followed")]
    ForeignLink { link: String, base: String },
    #[error("GitHub's Link header leads back to {0}, a page already read; not followed")]
    LinkLoop(String),
    #[error("the GitHub App private key cannot be used: {0}")]
    BadAppKey(String),
    #[error(
        "GitHub issued no installation token for app {app_id}, installation {installation_id}: {source}"
    )]
    InstallationToken {
        app_id: u64,
        installation_id: u64,
        #[source]
        source: Box<GitHubError>,
    },
}

impl GitHubError {
    /// True for a 422 whose message says the thing already exists.
    pub fn already_exists(&self) -> bool {
        match self {
            Self::Unprocessable { message, errors } => std::iter::once(message)
                .chain(errors)
                .any(|text| text.to_ascii_lowercase().contains("already exists")),
            _ => false,
        }
    }
}
