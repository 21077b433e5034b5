//! Where a token may be sent. The client authenticates every request, so
//! the API base must be https (a loopback fake excepted), and a page URL
//! GitHub hands back in `Link` is followed only to the base's own origin.

use std::net::IpAddr;

use url::{Host, Url};

/// `raw` parsed, if it is https or points at this machine (tests, a local
/// fake). The error says what to set instead.
pub fn secure_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|error| format!("not a URL: {error}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "must be https (plain http is allowed only to a loopback address such as \
             127.0.0.1 or localhost); use https://{}{}",
            url.host_str().unwrap_or_default(),
            url.path()
        )),
        other => Err(format!("must be an https URL, not {other}:")),
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Scheme, host and port all equal (default ports resolved).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_only() {
        assert!(secure_url("https://api.github.com").is_ok());
        assert!(secure_url("https://ghe.example.com/api/v3").is_ok());
        assert!(secure_url("http://127.0.0.1:8080").is_ok());
        assert!(secure_url("http://127.3.0.1").is_ok());
        assert!(secure_url("http://localhost:3000").is_ok());
        assert!(secure_url("http://[::1]:9000").is_ok());
        let refused = secure_url("http://api.github.com").unwrap_err();
        assert!(refused.contains("must be https"), "{refused}");
        assert!(secure_url("http://10.0.0.5").is_err());
        assert!(secure_url("http://localhost.evil.example").is_err());
        assert!(secure_url("ftp://127.0.0.1").is_err());
        assert!(secure_url("api.github.com").is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let base = Url::parse("https://api.github.com/").unwrap();
        let same = Url::parse("https://api.github.com:443/repos/o/r/hooks?page=2").unwrap();
        assert!(same_origin(&base, &same));
        for other in [
            "https://evil.example/repos/o/r/hooks?page=2",
            "http://api.github.com/repos?page=2",
            "https://api.github.com:8443/repos?page=2",
            "https://api.github.com.evil.example/x",
        ] {
            assert!(!same_origin(&base, &Url::parse(other).unwrap()), "{other}");
        }
    }
}
