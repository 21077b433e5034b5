//! Every retry delay prpulse computes in-process comes from here (the
//! broker links' reconnects, the GitHub client's retries of server errors),
//! so the `backoff` crate (unmaintained, RUSTSEC-2025-0012) can be swapped
//! for `backon` in this one file. Retries across processes (the retry
//! tiers' TTLs) are the broker's, configured in prpulse-queue's topology.

use std::time::Duration;

use backoff::{ExponentialBackoff, ExponentialBackoffBuilder, backoff::Backoff};

/// Delays before retrying a request whose server failed (a 5xx, a lost
/// connection): `first`, doubling, at most `attempts` of them, then none.
/// Without jitter: one caller's few retries are not a thundering herd, and
/// the schedule stays the documented one (GitHub: 1 s, 2 s, 4 s).
pub struct ServerErrorDelays {
    schedule: ExponentialBackoff,
    left: u32,
}

impl ServerErrorDelays {
    pub fn new(first: Duration, attempts: u32) -> Self {
        Self {
            schedule: ExponentialBackoffBuilder::new()
                .with_initial_interval(first)
                .with_multiplier(2.0)
                .with_randomization_factor(0.0)
                .with_max_interval(first * 2u32.saturating_pow(attempts))
                .with_max_elapsed_time(None)
                .build(),
            left: attempts,
        }
    }

    /// The next delay, or `None` once the retries are spent.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.left = self.left.checked_sub(1)?;
        self.schedule.next_backoff()
    }
}

/// Delays between attempts to reach a service that is away: from 100 ms
/// growing to `max`, with jitter, forever.
pub struct ReconnectDelays(ExponentialBackoff);

impl ReconnectDelays {
    pub fn new(max: Duration) -> Self {
        Self(
            ExponentialBackoffBuilder::new()
                .with_initial_interval(Duration::from_millis(100))
                .with_multiplier(2.0)
                .with_randomization_factor(0.3)
                .with_max_interval(max)
                .with_max_elapsed_time(None)
                .build(),
        )
    }

    pub fn next_delay(&mut self) -> Duration {
        self.0.next_backoff().unwrap_or(self.0.max_interval)
    }

    /// Start again from the shortest delay after a success.
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_wait_one_two_four_seconds_then_give_up() {
        let mut delays = ServerErrorDelays::new(Duration::from_secs(1), 3);
        let taken: Vec<Duration> = std::iter::from_fn(|| delays.next_delay()).collect();
        assert_eq!(
            taken,
            [1, 2, 4].map(Duration::from_secs),
            "the schedule the GitHub client documents"
        );
        assert_eq!(delays.next_delay(), None);
    }

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut delays = ReconnectDelays::new(Duration::from_secs(2));
        let first = delays.next_delay();
        assert!(first <= Duration::from_millis(130), "{first:?}");
        let later: Vec<Duration> = (0..20).map(|_| delays.next_delay()).collect();
        assert!(later.iter().all(|d| *d <= Duration::from_millis(2600)));
        assert!(later.last().unwrap() >= &Duration::from_millis(1400));
        delays.reset();
        assert!(delays.next_delay() <= Duration::from_millis(130));
    }
}
