//! Rate limits that spare GitHub. Anyone can point a hook at ingest with a
//! wrong secret, and GitHub then sends those failures from the very
//! addresses that carry our own deliveries; so a budget of failures never
//! stands between a request and its verification. A request that can be
//! verified is verified (HMAC over 25 KB costs ~13 µs); only a refusal is
//! charged, to a budget keyed by the source *and* the hook it claims
//! ([`FailureKey`]), and once that budget is spent the refusal is 429 with
//! `Retry-After` instead of 400/401. Memory is what a flood can really
//! cost, and [`crate::budget`] bounds that. Verified deliveries spend only
//! from one high global bucket (broker back-pressure answers 503 before
//! that is reached in practice).

use std::{num::NonZeroU32, time::Duration};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock,
    clock::DefaultClock,
};
use ipnet::IpNet;

use crate::source::SourceKey;

#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Failed verifications one source may make per minute, sustained.
    pub failures_per_minute: NonZeroU32,
    /// ...and in a burst.
    pub failures_burst: NonZeroU32,
    /// Verified deliveries per second, all sources together.
    pub verified_per_second: NonZeroU32,
    /// Proxies whose `X-Forwarded-For` names the real source.
    pub trusted_proxies: Vec<IpNet>,
}

/// Which hook a refused request claimed. A hook prpulse stores secrets
/// for is its own budget: only GitHub sends its id from GitHub's
/// addresses, so an outsider cannot spend it. Every other hook id (unknown
/// ones, random ones, none at all) shares one budget per source, so
/// inventing ids does not buy fresh budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKey {
    Known(i64),
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FailureKey {
    pub source: SourceKey,
    pub hook: HookKey,
}

pub struct SourceLimits {
    failures: DefaultKeyedRateLimiter<FailureKey>,
    verified: DefaultDirectRateLimiter,
}

impl SourceLimits {
    pub fn new(settings: &LimitSettings) -> Self {
        let failures =
            Quota::per_minute(settings.failures_per_minute).allow_burst(settings.failures_burst);
        Self {
            failures: RateLimiter::keyed(failures),
            verified: RateLimiter::direct(Quota::per_second(settings.verified_per_second)),
        }
    }

    /// Charges one refusal to `key`. `Some(wait)` once the budget is spent:
    /// the refusal is then answered 429 with that `Retry-After`.
    pub fn record_failure(&self, key: FailureKey) -> Option<Duration> {
        self.failures
            .check_key(&key)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Admits one verified delivery, or says how long to wait.
    pub fn admit_verified(&self) -> Result<(), Duration> {
        self.verified
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets sources that have been quiet; call now and then so a scan
    /// from many addresses does not grow memory for ever.
    pub fn forget_quiet_sources(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn limits(burst: u32) -> SourceLimits {
        SourceLimits::new(&LimitSettings {
            failures_per_minute: NonZeroU32::new(1).unwrap(),
            failures_burst: NonZeroU32::new(burst).unwrap(),
            verified_per_second: NonZeroU32::new(2).unwrap(),
            trusted_proxies: Vec::new(),
        })
    }

    fn key(source: &str, hook: HookKey) -> FailureKey {
        FailureKey {
            source: Source::of(source.parse().unwrap()).key,
            hook,
        }
    }

    #[test]
    fn a_key_is_limited_after_its_burst_of_failures_and_only_it() {
        let limits = limits(3);
        let flooder = key("203.0.113.9", HookKey::Unknown);
        for _ in 0..3 {
            assert_eq!(limits.record_failure(flooder), None, "the burst is allowed");
        }
        let wait = limits
            .record_failure(flooder)
            .expect("limited after the burst");
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(
            limits.record_failure(key("140.82.115.245", HookKey::Unknown)),
            None
        );
    }

    #[test]
    fn failures_under_unknown_hooks_do_not_spend_a_stored_hooks_budget() {
        // GitHub's address carries both an outsider's hook (unknown to us)
        // and ours (stored): the outsider's flood leaves ours whole.
        let limits = limits(1);
        let github = "140.82.115.245";
        limits.record_failure(key(github, HookKey::Unknown));
        assert!(
            limits
                .record_failure(key(github, HookKey::Unknown))
                .is_some()
        );
        assert_eq!(limits.record_failure(key(github, HookKey::Known(7))), None);
        // And an IPv6 flooder rotating addresses inside its /64 is one key.
        limits.record_failure(key("2001:db8:1:2::1", HookKey::Unknown));
        assert!(
            limits
                .record_failure(key("2001:db8:1:2::beef", HookKey::Unknown))
                .is_some()
        );
    }

    #[test]
    fn verified_deliveries_share_one_global_budget() {
        let limits = limits(1);
        assert!(limits.admit_verified().is_ok());
        assert!(limits.admit_verified().is_ok());
        assert!(limits.admit_verified().is_err());
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let limits = SourceLimits::new(&LimitSettings {
            failures_per_minute: NonZeroU32::new(u32::MAX).unwrap(),
            failures_burst: NonZeroU32::new(1).unwrap(),
            verified_per_second: NonZeroU32::new(2).unwrap(),
            trusted_proxies: Vec::new(),
        });
        limits.record_failure(key("203.0.113.9", HookKey::Unknown));
        assert_eq!(limits.tracked(), 1);
        // The bucket refills within nanoseconds at this rate, so the key
        // is indistinguishable from a fresh one and can go.
        std::thread::sleep(Duration::from_millis(1));
        limits.forget_quiet_sources();
        assert_eq!(limits.tracked(), 0);
    }
}
