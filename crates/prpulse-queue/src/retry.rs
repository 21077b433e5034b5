//! Every retry delay prpulse computes in-process comes from here, so the
//! `backoff` crate (unmaintained, RUSTSEC-2025-0012) can be swapped for
//! `backon` in this one file.

use std::time::Duration;

use backoff::{ExponentialBackoff, ExponentialBackoffBuilder, backoff::Backoff};

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
