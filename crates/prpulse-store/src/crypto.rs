//! Secrets at rest: AES-256-GCM under `PRPULSE_SECRET_KEY`, stored as
//! `nonce (12 bytes) || ciphertext+tag`.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng},
};
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretSlice};

const NONCE_LEN: usize = 12;

/// The key that encrypts stored webhook secrets and tokens.
pub struct SecretKey(SecretBox<[u8; 32]>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretKeyError {
    #[error("PRPULSE_SECRET_KEY must be 32 bytes, written as 64 hex digits or base64")]
    Shape,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("a stored secret could not be decrypted: wrong PRPULSE_SECRET_KEY or corrupt data")]
    Decrypt,
    #[error("secrets are stored in the database but PRPULSE_SECRET_KEY is not set")]
    NoKey,
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

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        stored
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<SecretSlice<u8>, CryptoError> {
        if stored.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map(SecretSlice::from)
            .map_err(|_| CryptoError::Decrypt)
    }
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

    /// Encrypts under the current key.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        self.current.encrypt(plaintext)
    }

    /// Decrypts under the current key, else the previous one.
    pub fn decrypt(&self, stored: &[u8]) -> Result<SecretSlice<u8>, CryptoError> {
        self.current
            .decrypt(stored)
            .or_else(|error| match &self.previous {
                Some(previous) => previous.decrypt(stored),
                None => Err(error),
            })
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

    #[test]
    fn round_trips_and_uses_a_fresh_nonce() {
        let key = SecretKey::parse(&SecretKey::generate_hex()).unwrap();
        let first = key.encrypt(b"webhook secret");
        let second = key.encrypt(b"webhook secret");
        assert_ne!(first, second);
        assert_eq!(
            key.decrypt(&first).unwrap().expose_secret(),
            b"webhook secret"
        );
    }

    #[test]
    fn another_key_or_tampering_fails() {
        let key = SecretKey::parse(&"11".repeat(32)).unwrap();
        let other = SecretKey::parse(&"22".repeat(32)).unwrap();
        let mut sealed = key.encrypt(b"s3cret");
        assert_eq!(other.decrypt(&sealed).unwrap_err(), CryptoError::Decrypt);
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(key.decrypt(&sealed).unwrap_err(), CryptoError::Decrypt);
        assert_eq!(key.decrypt(b"short").unwrap_err(), CryptoError::Decrypt);
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
        let old = || SecretKey::parse(&"11".repeat(32)).unwrap();
        let new = || SecretKey::parse(&"22".repeat(32)).unwrap();
        let under_old = old().encrypt(b"hook secret");
        let rotating = Keyring::new(new(), Some(old()));
        assert_eq!(
            rotating.decrypt(&under_old).unwrap().expose_secret(),
            b"hook secret"
        );
        let under_new = rotating.encrypt(b"hook secret");
        assert_eq!(old().decrypt(&under_new).unwrap_err(), CryptoError::Decrypt);
        let rotated = Keyring::new(new(), None);
        assert!(rotated.decrypt(&under_new).is_ok());
        assert_eq!(
            rotated.decrypt(&under_old).unwrap_err(),
            CryptoError::Decrypt
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("abab"));
    }
}
