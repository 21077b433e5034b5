//! How long and how often one call may try. Without a bound, a GitHub (or
//! a proxy) that keeps answering `Retry-After: 0`, or a rate limit that
//! resets into another one, keeps a scheduler round busy for ever.

use std::time::Duration;

use tracing::warn;

use crate::GitHubError;

/// Requests one call may send, the first included: room for the three
/// server-error retries, one token renewal and a rate-limit wait.
pub const MAX_ATTEMPTS: u32 = 6;

/// The shortest wait on a rate limit: `Retry-After: 0`, or a reset time
/// already past, would otherwise mean asking again at once.
pub const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

pub struct Patience {
    path: String,
    attempts: u32,
    /// All the waiting so far, back-offs included (for the error).
    waited: Duration,
    rate_limit_waited: Duration,
    /// Rate-limit waits of one call add up to at most this.
    max_rate_limit_wait: Duration,
}

impl Patience {
    pub fn new(path: &str, max_rate_limit_wait: Duration) -> Self {
        Self {
            path: path.to_owned(),
            attempts: 0,
            waited: Duration::ZERO,
            rate_limit_waited: Duration::ZERO,
            max_rate_limit_wait,
        }
    }

    /// Counts the request about to be sent; an error once the call has
    /// had all its attempts.
    pub fn attempt(&mut self) -> Result<(), GitHubError> {
        if self.attempts >= MAX_ATTEMPTS {
            return Err(GitHubError::GaveUp {
                path: self.path.clone(),
                attempts: self.attempts,
                waited: self.waited,
            });
        }
        self.attempts += 1;
        Ok(())
    }

    /// Waits out a rate limit GitHub asked for (at least
    /// [`MIN_RATE_LIMIT_WAIT`]), or fails if that would take the call's
    /// rate-limit waits past their bound.
    pub async fn wait_out_rate_limit(&mut self, asked: Duration) -> Result<(), GitHubError> {
        let wait = asked.max(MIN_RATE_LIMIT_WAIT);
        if self.rate_limit_waited + wait > self.max_rate_limit_wait {
            return Err(GitHubError::RateLimited(asked));
        }
        warn!(?wait, path = %self.path, "GitHub rate limit hit; waiting");
        self.sleep(wait, true).await;
        Ok(())
    }

    /// A fixed back-off before retrying a server error or a lost connection.
    pub async fn back_off(&mut self, delay: Duration) {
        self.sleep(delay, false).await;
    }

    async fn sleep(&mut self, wait: Duration, rate_limit: bool) {
        tokio::time::sleep(wait).await;
        self.waited += wait;
        if rate_limit {
            self.rate_limit_waited += wait;
        }
    }
}
