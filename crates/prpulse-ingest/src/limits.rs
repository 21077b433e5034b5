//! Rate limits that spare GitHub. A source that fails verification spends
//! from its own token bucket; once it is empty the source gets 429 before
//! its body is even read, so a flood of bad signatures costs almost
//! nothing and cannot slow verified deliveries. Verified deliveries spend
//! only from one high global bucket (broker back-pressure answers 503
//! before that is reached in practice).

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock,
    clock::DefaultClock,
};
use ipnet::IpNet;

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

pub struct SourceLimits {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    verified: DefaultDirectRateLimiter,
    trusted_proxies: Vec<IpNet>,
}

impl SourceLimits {
    pub fn new(settings: &LimitSettings) -> Self {
        let failures =
            Quota::per_minute(settings.failures_per_minute).allow_burst(settings.failures_burst);
        Self {
            failures: RateLimiter::keyed(failures),
            blocked: Mutex::new(HashMap::new()),
            verified: RateLimiter::direct(Quota::per_second(settings.verified_per_second)),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// The source of a request: the peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` address that is not itself a
    /// trusted proxy (the left ones are whatever the client claimed).
    pub fn source(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else {
            return peer;
        };
        let mut source = peer;
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) => {
                    source = address;
                    if !self.is_trusted(address) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        source
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|net| net.contains(&address))
    }

    /// How long `source` must wait, if it spent its failure budget.
    pub fn blocked_for(&self, source: IpAddr) -> Option<Duration> {
        let mut blocked = self.lock_blocked();
        let until = *blocked.get(&source)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        blocked.remove(&source);
        None
    }

    /// Spends one failure of `source`; blocks it when none is left.
    pub fn record_failure(&self, source: IpAddr) {
        if let Err(not_until) = self.failures.check_key(&source) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.lock_blocked().insert(source, Instant::now() + wait);
        }
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
        let now = Instant::now();
        self.lock_blocked().retain(|_, until| *until > now);
    }

    fn lock_blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        self.blocked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32, trusted: &[&str]) -> SourceLimits {
        SourceLimits::new(&LimitSettings {
            failures_per_minute: NonZeroU32::new(1).unwrap(),
            failures_burst: NonZeroU32::new(burst).unwrap(),
            verified_per_second: NonZeroU32::new(2).unwrap(),
            trusted_proxies: trusted.iter().map(|net| net.parse().unwrap()).collect(),
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_is_blocked_after_its_burst_of_failures_and_only_it() {
        let limits = limits(3, &[]);
        let flooder = ip("203.0.113.9");
        for _ in 0..3 {
            assert_eq!(limits.blocked_for(flooder), None);
            limits.record_failure(flooder);
        }
        assert_eq!(
            limits.blocked_for(flooder),
            None,
            "the burst itself is allowed"
        );
        limits.record_failure(flooder);
        let wait = limits
            .blocked_for(flooder)
            .expect("blocked after the burst");
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(limits.blocked_for(ip("140.82.115.245")), None);
    }

    #[test]
    fn verified_deliveries_share_one_global_budget() {
        let limits = limits(1, &[]);
        assert!(limits.admit_verified().is_ok());
        assert!(limits.admit_verified().is_ok());
        assert!(limits.admit_verified().is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let limits = limits(1, &["10.0.0.0/8"]);
        let proxy = ip("10.1.2.3");
        let client = ip("198.51.100.7");
        // An untrusted peer is the source, whatever it claims.
        assert_eq!(limits.source(client, Some("1.2.3.4")), client);
        // A trusted proxy passes the client on.
        assert_eq!(limits.source(proxy, Some("198.51.100.7")), client);
        // The client's own claim (left) is not believed; the address the
        // proxies saw (right-most untrusted) is.
        assert_eq!(
            limits.source(proxy, Some("6.6.6.6, 198.51.100.7, 10.9.9.9")),
            client
        );
        assert_eq!(limits.source(proxy, None), proxy);
        assert_eq!(limits.source(proxy, Some("garbage")), proxy);
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let limits = limits(1, &[]);
        let source = ip("203.0.113.9");
        limits.record_failure(source);
        limits.record_failure(source);
        assert!(limits.blocked_for(source).is_some());
        limits.lock_blocked().insert(source, Instant::now());
        limits.forget_quiet_sources();
        assert!(limits.lock_blocked().is_empty());
    }
}
