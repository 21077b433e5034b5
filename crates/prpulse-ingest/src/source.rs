//! Who sent a request, as far as ingest can tell: the peer, or for a peer
//! in `PRPULSE_TRUSTED_PROXIES` the address its proxies saw. Budgets are
//! kept per [`SourceKey`]: an IPv4 address, an IPv6 /64 (one subscriber
//! gets a whole /64, so a budget per address would be a budget per guess),
//! or, when the proxy chain names something that is not an address, that
//! text itself, so it never falls back to the proxy's own address that
//! every client behind it shares.

use std::{
    collections::hash_map::DefaultHasher,
    fmt,
    hash::{Hash, Hasher},
    net::{IpAddr, Ipv6Addr},
};

use ipnet::IpNet;

/// The key budgets are kept by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKey {
    V4(std::net::Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Net(u64),
    /// A forwarded hop that is not an address, by a hash of its text.
    Unparsed(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// The address, when there is one (the allow-list needs it).
    pub addr: Option<IpAddr>,
    pub key: SourceKey,
}

impl Source {
    pub fn of(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        let key = match addr {
            IpAddr::V4(v4) => SourceKey::V4(v4),
            IpAddr::V6(v6) => SourceKey::V6Net((u128::from(v6) >> 64) as u64),
        };
        Self {
            addr: Some(addr),
            key,
        }
    }

    fn unparsed(hop: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        hop.hash(&mut hasher);
        Self {
            addr: None,
            key: SourceKey::Unparsed(hasher.finish()),
        }
    }

    /// The source of a request from `peer`. When `peer` is a trusted proxy,
    /// `forwarded_for` holds every `X-Forwarded-For` line in order; the
    /// source is the right-most hop that is not itself a trusted proxy (the
    /// hops to its left are whatever the client claimed).
    pub fn resolve<'a>(
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
        trusted_proxies: &[IpNet],
    ) -> Self {
        let is_trusted = |address: IpAddr| trusted_proxies.iter().any(|net| net.contains(&address));
        let peer = peer.to_canonical();
        if !is_trusted(peer) {
            return Self::of(peer);
        }
        let lines: Vec<&str> = forwarded_for.into_iter().collect();
        let hops = lines
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty());
        let mut source = Self::of(peer);
        for hop in hops.rev() {
            match parse_hop(hop) {
                Some(address) => {
                    source = Self::of(address);
                    if !is_trusted(address.to_canonical()) {
                        break;
                    }
                }
                None => return Self::unparsed(hop),
            }
        }
        source
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.addr, self.key) {
            (Some(addr), _) => write!(f, "{addr}"),
            (None, SourceKey::Unparsed(hash)) => write!(f, "unparsed-hop-{hash:016x}"),
            (None, key) => write!(f, "{key:?}"),
        }
    }
}

/// One `X-Forwarded-For` hop: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    // A bare IPv6 address has more than one colon and was handled above.
    let (host, port) = hop.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]
    }

    fn resolve(peer: &str, lines: &[&str]) -> Source {
        Source::resolve(ip(peer), lines.iter().copied(), &trusted())
    }

    #[test]
    fn hops_lose_their_ports() {
        assert_eq!(parse_hop("198.51.100.7"), Some(ip("198.51.100.7")));
        assert_eq!(parse_hop("198.51.100.7:54321"), Some(ip("198.51.100.7")));
        assert_eq!(parse_hop("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        for garbage in [
            "unknown",
            "198.51.100.7:",
            "198.51.100.7:99999",
            "[2001:db8::1]:x",
            "[198.51.100.7]",
            "[2001:db8::1",
            "_hidden",
        ] {
            assert_eq!(parse_hop(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let client = Source::of(ip("198.51.100.7"));
        // An untrusted peer is the source, whatever it claims.
        assert_eq!(resolve("198.51.100.7", &["1.2.3.4"]), client);
        // A trusted proxy passes the client on, with or without a port.
        assert_eq!(resolve("10.1.2.3", &["198.51.100.7"]), client);
        assert_eq!(resolve("10.1.2.3", &["198.51.100.7:40001"]), client);
        // The client's own claim (left) is not believed; the address the
        // proxies saw (right-most untrusted) is.
        assert_eq!(
            resolve("10.1.2.3", &["6.6.6.6, 198.51.100.7, 10.9.9.9:80"]),
            client
        );
        // Without the header, the proxy itself is the client (a probe).
        assert_eq!(resolve("10.1.2.3", &[]), Source::of(ip("10.1.2.3")));
    }

    #[test]
    fn every_header_line_is_read_in_order() {
        // A second line is appended by the proxy nearest to us; reading
        // only the first would believe the client's claim.
        assert_eq!(
            resolve("10.1.2.3", &["6.6.6.6", "198.51.100.7, 10.9.9.9"]),
            Source::of(ip("198.51.100.7"))
        );
    }

    #[test]
    fn a_hop_that_does_not_parse_is_its_own_source_never_the_proxy() {
        let proxy = Source::of(ip("10.1.2.3"));
        let garbage = resolve("10.1.2.3", &["garbage"]);
        assert_ne!(garbage, proxy);
        assert_eq!(garbage.addr, None);
        assert_ne!(resolve("10.1.2.3", &["other garbage"]), garbage);
        assert_eq!(resolve("10.1.2.3", &["garbage"]), garbage, "stable");
        // Behind a trusted hop too.
        assert_ne!(resolve("10.1.2.3", &["garbage, 10.4.4.4"]), proxy);
        assert_ne!(
            resolve("10.1.2.3", &["garbage, 10.4.4.4"]),
            Source::of(ip("10.4.4.4"))
        );
    }

    #[test]
    fn ipv6_sources_are_kept_per_64_and_mapped_ipv4_is_ipv4() {
        let one = Source::of(ip("2001:db8:1:2::1"));
        let same_64 = Source::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let other_64 = Source::of(ip("2001:db8:1:3::1"));
        assert_eq!(one.key, same_64.key);
        assert_ne!(one.key, other_64.key);
        assert_eq!(
            Source::of(ip("::ffff:198.51.100.7")),
            Source::of(ip("198.51.100.7"))
        );
        assert_eq!(resolve("fd00::1", &["[2001:db8:1:2::99]:443"]).key, one.key);
    }
}
