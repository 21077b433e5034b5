//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, `sha256=` prefix.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";

/// A parsed `X-Hub-Signature-256` value: the 32 bytes of the MAC.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature([u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header")]
    Missing,
    #[error("only the SHA-1 X-Hub-Signature header was sent; prpulse requires X-Hub-Signature-256")]
    OnlySha1,
    #[error("X-Hub-Signature-256 is not sha256= followed by 64 hex digits")]
    Malformed,
    #[error("the signature does not match the body for any known secret")]
    Mismatch,
    #[error("no webhook secret is known for this hook")]
    NoSecret,
}

impl SignatureError {
    /// A stable, low-cardinality label for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::OnlySha1 => "sha1_only",
            Self::Malformed => "malformed",
            Self::Mismatch => "mismatch",
            Self::NoSecret => "no_secret",
        }
    }
}

impl Signature {
    /// Parses the header value. GitHub sends lower-case hex; upper case is
    /// accepted since hex is case-insensitive.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let digits = header
            .strip_prefix(PREFIX)
            .ok_or(SignatureError::Malformed)?;
        let mut mac = [0u8; 32];
        hex::decode_to_slice(digits, &mut mac).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(mac))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({PREFIX}{})", hex::encode(self.0))
    }
}

/// True when `signature` is the HMAC of `body` under `secret`, compared in
/// constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: &Signature) -> bool {
    verify_parts(secret, [body], signature)
}

/// [`verify`] for a body held in the pieces it arrived in, so an
/// unverified body never has to be copied into one buffer.
pub fn verify_parts<'a>(
    secret: &[u8],
    parts: impl IntoIterator<Item = &'a [u8]>,
    signature: &Signature,
) -> bool {
    let mut mac = mac(secret, b"");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&signature.0).is_ok()
}

/// The `X-Hub-Signature-256` header value GitHub would send for `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented test vector ("Testing the webhook payload validation").
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_documented_vector_verifies() {
        assert_eq!(sign(SECRET, BODY), HEADER);
        assert!(verify(SECRET, BODY, &Signature::parse(HEADER).unwrap()));
    }

    #[test]
    fn upper_case_hex_is_the_same_signature() {
        let upper = format!("sha256={}", HEADER[7..].to_ascii_uppercase());
        assert!(verify(SECRET, BODY, &Signature::parse(&upper).unwrap()));
    }

    #[test]
    fn a_body_in_pieces_verifies_as_the_whole() {
        let signature = Signature::parse(HEADER).unwrap();
        assert!(verify_parts(
            SECRET,
            [&b"Hello"[..], b", ", b"World!"],
            &signature
        ));
        assert!(!verify_parts(
            SECRET,
            [&b"Hello"[..], b"World!"],
            &signature
        ));
    }

    #[test]
    fn wrong_secret_or_changed_body_fails() {
        let signature = Signature::parse(HEADER).unwrap();
        assert!(!verify(b"It's a Secret to Everybody!", BODY, &signature));
        assert!(!verify(SECRET, b"Hello, World?", &signature));
        assert!(!verify(SECRET, b"", &signature));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "sha256=",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700",
        ] {
            assert_eq!(
                Signature::parse(bad),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }
}
