//! Secrets at rest: AES-256-GCM under `PRPULSE_SECRET_KEY`, bound to their
//! place (table, column, row key) as associated data.
//!
//! Stored formats:
//! - bound: `0x01 || fingerprint (8) || nonce (12) || ciphertext+tag`, with
//!   the place's associated data; the fingerprint (the first 8 bytes of
//!   SHA-256 of that data) only lets an error say "sealed for another
//!   place" instead of "wrong key": the tag is what binds.
//! - legacy: `nonce (12) || ciphertext+tag` without associated data, as
//!   releases before the binding wrote it. Still read, so an upgrade needs
//!   no downtime; `prpulse secrets rotate-key` (or `reseal`) rewrites it.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use sha2::{Digest, Sha256};

use crate::sealed::SealedPlace;

const BOUND: u8 = 1;
const FINGERPRINT_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const BOUND_HEADER_LEN: usize = 1 + FINGERPRINT_LEN;

/// The key that encrypts stored webhook secrets, tokens and App keys.
pub struct SecretKey(SecretBox<[u8; 32]>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretKeyError {
    #[error("PRPULSE_SECRET_KEY must be 32 bytes, written as 64 hex digits or base64")]
    Shape,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error(
        "{0} does not open with the configured key(s): it was sealed under another \
         PRPULSE_SECRET_KEY, or is corrupt"
    )]
    Decrypt(SealedPlace),
    #[error(
        "{0} holds a value sealed for another row or column (copied there?): it does not open here"
    )]
    WrongPlace(SealedPlace),
    #[error("secrets are stored in the database but PRPULSE_SECRET_KEY is not set")]
    NoKey,
}

/// How a stored value was sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealFormat {
    /// Bound to its place.
    Bound,
    /// Without associated data: opens anywhere until rewritten.
    Legacy,
}

/// Which key of the keyring opened a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUsed {
    Current,
    Previous,
}

/// A value that opened, and how it was sealed.
pub struct Opened {
    pub plaintext: SecretSlice<u8>,
    pub key: KeyUsed,
    pub format: SealFormat,
}

impl Opened {
    /// Sealed as `seal` seals now: under the current key, bound to its place.
    pub fn is_up_to_date(&self) -> bool {
        self.key == KeyUsed::Current && self.format == SealFormat::Bound
    }
}

impl SecretKey {
    pub fn parse(raw: &str) -> Result<Self, SecretKeyError> {
        let raw = raw.trim();
        let mut key = [0u8; 32];
        if hex::decode_to_slice(raw, &mut key).is_ok() {
            return Ok(Self(SecretBox::new(Box::new(key))));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| SecretKeyError::Shape)?;
        let key: [u8; 32] = decoded.try_into().map_err(|_| SecretKeyError::Shape)?;
        Ok(Self(SecretBox::new(Box::new(key))))
    }

    /// A fresh random key, hex-encoded (what `openssl rand -hex 32` prints).
    pub fn generate_hex() -> String {
        hex::encode(Aes256Gcm::generate_key(&mut OsRng))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.expose_secret().into())
    }

    fn seal(&self, place: &SealedPlace, plaintext: &[u8]) -> Vec<u8> {
        let aad = place.associated_data();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut stored = Vec::with_capacity(BOUND_HEADER_LEN + NONCE_LEN + sealed.len());
        stored.push(BOUND);
        stored.extend_from_slice(&fingerprint(&aad));
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        stored
    }

    /// `nonce || ciphertext+tag` opened with `aad`.
    fn open(&self, body: &[u8], aad: &[u8]) -> Option<SecretSlice<u8>> {
        if body.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
            .map(SecretSlice::from)
    }
}

fn fingerprint(aad: &[u8]) -> [u8; FINGERPRINT_LEN] {
    let digest = Sha256::digest(aad);
    let mut fingerprint = [0u8; FINGERPRINT_LEN];
    fingerprint.copy_from_slice(&digest[..FINGERPRINT_LEN]);
    fingerprint
}

/// The key secrets are encrypted with, and, while a key rotation is under
/// way, the key they may still be encrypted with. Services run with both
/// during the rotation, so no stored secret is unreadable at any moment.
#[derive(Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Option<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey, previous: Option<SecretKey>) -> Self {
        Self { current, previous }
    }

    pub fn is_rotating(&self) -> bool {
        self.previous.is_some()
    }

    /// Seals under the current key, bound to `place`.
    pub fn seal(&self, place: &SealedPlace, plaintext: &[u8]) -> Vec<u8> {
        self.current.seal(place, plaintext)
    }

    /// Opens a value stored at `place` with the current key, else the
    /// previous one; bound or legacy.
    pub fn open(&self, place: &SealedPlace, stored: &[u8]) -> Result<SecretSlice<u8>, CryptoError> {
        self.inspect(place, stored).map(|opened| opened.plaintext)
    }

    /// Opens like `open`, and says which key and format it took.
    pub fn inspect(&self, place: &SealedPlace, stored: &[u8]) -> Result<Opened, CryptoError> {
        let aad = place.associated_data();
        let header_is_ours = stored.len() > BOUND_HEADER_LEN
            && stored[0] == BOUND
            && stored[1..BOUND_HEADER_LEN] == fingerprint(&aad);
        // A legacy value starts with a random nonce, so 1 in 256 begins with
        // the version byte: a header is a hint, and legacy is always tried.
        let mut layouts = Vec::with_capacity(2);
        if header_is_ours {
            layouts.push((SealFormat::Bound, &stored[BOUND_HEADER_LEN..], &aad[..]));
        }
        layouts.push((SealFormat::Legacy, stored, &[][..]));
        let keys = std::iter::once((KeyUsed::Current, &self.current))
            .chain(self.previous.iter().map(|key| (KeyUsed::Previous, key)));
        for (used, key) in keys {
            for (format, body, aad) in &layouts {
                if let Some(plaintext) = key.open(body, aad) {
                    return Ok(Opened {
                        plaintext,
                        key: used,
                        format: *format,
                    });
                }
            }
        }
        if !header_is_ours && stored.len() > BOUND_HEADER_LEN && stored[0] == BOUND {
            Err(CryptoError::WrongPlace(place.clone()))
        } else {
            Err(CryptoError::Decrypt(place.clone()))
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealed::{Credential, HookSlot};

    fn key(byte: &str) -> SecretKey {
        SecretKey::parse(&byte.repeat(32)).unwrap()
    }

    fn hook(id: i64) -> SealedPlace {
        SealedPlace::hook_secret(HookSlot::Current, id)
    }

    /// What releases before the binding stored: `nonce || ciphertext+tag`
    /// without associated data, written here without the code under test.
    fn legacy(key_hex: &str, plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(&hex::decode(key_hex.repeat(32)).unwrap()).unwrap();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut stored = nonce.to_vec();
        stored.extend(cipher.encrypt(&nonce, plaintext).unwrap());
        stored
    }

    #[test]
    fn round_trips_and_uses_a_fresh_nonce() {
        let keyring = Keyring::new(SecretKey::parse(&SecretKey::generate_hex()).unwrap(), None);
        let first = keyring.seal(&hook(1), b"webhook secret");
        let second = keyring.seal(&hook(1), b"webhook secret");
        assert_ne!(first, second);
        let opened = keyring.inspect(&hook(1), &first).unwrap();
        assert_eq!(opened.plaintext.expose_secret(), b"webhook secret");
        assert!(opened.is_up_to_date());
    }

    #[test]
    fn another_key_or_tampering_fails() {
        let keyring = Keyring::new(key("11"), None);
        let other = Keyring::new(key("22"), None);
        let mut sealed = keyring.seal(&hook(1), b"s3cret");
        assert_eq!(
            other.open(&hook(1), &sealed).unwrap_err(),
            CryptoError::Decrypt(hook(1))
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            keyring.open(&hook(1), &sealed).unwrap_err(),
            CryptoError::Decrypt(hook(1))
        );
        assert_eq!(
            keyring.open(&hook(1), b"short").unwrap_err(),
            CryptoError::Decrypt(hook(1))
        );
    }

    #[test]
    fn a_value_opens_only_at_its_own_place() {
        let keyring = Keyring::new(key("11"), None);
        let token = SealedPlace::credential(Credential::Token, "acme");
        let sealed = keyring.seal(&token, b"ghp_token");
        for elsewhere in [
            SealedPlace::credential(Credential::Token, "other"),
            SealedPlace::credential(Credential::AppPrivateKey, "acme"),
            SealedPlace::hook_secret(HookSlot::Previous, 1),
        ] {
            assert_eq!(
                keyring.open(&elsewhere, &sealed).unwrap_err(),
                CryptoError::WrongPlace(elsewhere.clone())
            );
        }
        assert!(keyring.open(&token, &sealed).is_ok());
        // Stripping the header does not turn it into an unbound value.
        assert!(keyring.open(&token, &sealed[BOUND_HEADER_LEN..]).is_err());
    }

    #[test]
    fn legacy_values_open_anywhere_and_say_so() {
        let keyring = Keyring::new(key("22"), Some(key("11")));
        // Enough values that some nonces begin with the version byte.
        for n in 0..1024 {
            let stored = legacy("11", format!("secret {n}").as_bytes());
            let opened = keyring.inspect(&hook(n), &stored).unwrap();
            assert_eq!(
                opened.plaintext.expose_secret(),
                format!("secret {n}").as_bytes()
            );
            assert_eq!(
                (opened.key, opened.format),
                (KeyUsed::Previous, SealFormat::Legacy)
            );
        }
        let under_current = legacy("22", b"s");
        let opened = keyring.inspect(&hook(1), &under_current).unwrap();
        assert_eq!(
            (opened.key, opened.format),
            (KeyUsed::Current, SealFormat::Legacy)
        );
        assert!(!opened.is_up_to_date());
    }

    #[test]
    fn accepts_hex_or_base64_and_nothing_else() {
        assert!(SecretKey::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::parse("q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=").is_ok());
        assert_eq!(
            SecretKey::parse("short").unwrap_err(),
            SecretKeyError::Shape
        );
        assert_eq!(
            SecretKey::parse(&"ab".repeat(31)).unwrap_err(),
            SecretKeyError::Shape
        );
    }

    #[test]
    fn a_keyring_reads_both_keys_and_writes_the_current() {
        let place = hook(7);
        let under_old = Keyring::new(key("11"), None).seal(&place, b"hook secret");
        let rotating = Keyring::new(key("22"), Some(key("11")));
        let opened = rotating.inspect(&place, &under_old).unwrap();
        assert_eq!(opened.plaintext.expose_secret(), b"hook secret");
        assert_eq!(
            (opened.key, opened.format),
            (KeyUsed::Previous, SealFormat::Bound)
        );
        let under_new = rotating.seal(&place, b"hook secret");
        assert!(
            Keyring::new(key("11"), None)
                .open(&place, &under_new)
                .is_err()
        );
        let rotated = Keyring::new(key("22"), None);
        assert!(rotated.inspect(&place, &under_new).unwrap().is_up_to_date());
        assert_eq!(
            rotated.open(&place, &under_old).unwrap_err(),
            CryptoError::Decrypt(place)
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("abab"));
    }
}
