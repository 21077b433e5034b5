//! GitHub's rate limits: what the last answer said, waiting for a spent
//! limit's reset before sending, and reading how long an answer asks us to
//! wait.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{
    StatusCode,
    header::{HeaderMap, RETRY_AFTER},
};

use super::{GitHubClient, lock, patience::Patience};
use crate::GitHubError;

/// What GitHub last said of the token's rate limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub remaining: Option<u64>,
    /// Unix seconds.
    pub reset_at: Option<u64>,
}

impl GitHubClient {
    pub(super) fn record_rate_limit(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(remaining) = number("x-ratelimit-remaining") {
            *lock(&self.rate_limit) = RateLimit {
                remaining: Some(remaining),
                reset_at: number("x-ratelimit-reset"),
            };
        }
    }

    /// With the limit spent, wait for its reset before sending at all.
    pub(super) async fn wait_for_rate_limit(
        &self,
        patience: &mut Patience,
    ) -> Result<(), GitHubError> {
        let RateLimit {
            remaining,
            reset_at,
        } = self.rate_limit();
        if remaining != Some(0) {
            return Ok(());
        }
        let wait = reset_at.map_or(Duration::ZERO, seconds_until);
        if !wait.is_zero() {
            patience.wait_out_rate_limit(wait).await?;
        }
        lock(&self.rate_limit).remaining = None;
        Ok(())
    }
}

/// How long GitHub asks us to wait, for a primary (`x-ratelimit-remaining:
/// 0`) or secondary (`retry-after`) rate limit; `None` if this is not one.
pub(super) fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    if let Some(seconds) = header(RETRY_AFTER.as_str()).and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        return Some(reset.map_or(Duration::from_secs(60), seconds_until));
    }
    None
}

fn seconds_until(epoch_seconds: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs(epoch_seconds.saturating_sub(now))
}
