//! prpulse-api's bearer tokens. A token is shown once, when made; only
//! its SHA-256 is stored, so the table grants nothing to whoever reads it.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// What every token starts with, so a leaked one is recognisable (secret
/// scanners match prefixes).
pub const TOKEN_PREFIX: &str = "prpulse_";

/// A fresh token: 32 random bytes, hex, after [`TOKEN_PREFIX`]. A plain
/// hash suffices to store it (no salt, no slow KDF): with 256 random bits
/// there is no dictionary to run against it.
pub fn generate_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

pub fn token_sha256(token: &SecretString) -> Vec<u8> {
    Sha256::digest(token.expose_secret().as_bytes()).to_vec()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTokenError {
    #[error("a token named {0:?} exists: revoke it first or choose another name")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores the hash of `token` under `name` (unique among active tokens).
pub async fn create_token(
    client: &impl GenericClient,
    name: &str,
    token: &SecretString,
) -> Result<i64, CreateTokenError> {
    let inserted = client
        .query_opt(
            "INSERT INTO api_tokens (name, token_sha256) VALUES ($1, $2)
             ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING id",
            &[&name, &token_sha256(token)],
        )
        .await
        .map_err(StoreError::from)?;
    match inserted {
        Some(row) => Ok(row.get(0)),
        None => Err(CreateTokenError::NameTaken(name.to_owned())),
    }
}

/// The active token `token` is, if any: its id and name.
pub async fn find_active_token(
    client: &impl GenericClient,
    token: &SecretString,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT id, name FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
            &[&token_sha256(token)],
        )
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

/// Every token ever made, revoked ones too, oldest first.
pub async fn list_tokens(client: &impl GenericClient) -> Result<Vec<TokenRecord>, StoreError> {
    Ok(client
        .query(
            "SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|row| TokenRecord {
            id: row.get(0),
            name: row.get(1),
            created_at: row.get(2),
            revoked_at: row.get(3),
        })
        .collect())
}

/// Revokes the active token named `name`; false if there is none.
pub async fn revoke_token(client: &impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            &[&name],
        )
        .await?
        == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_to_32_bytes() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose_secret().len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(token_sha256(&a).len(), 32);
        assert_ne!(token_sha256(&a), token_sha256(&b));
        // SHA-256("abc"), the FIPS 180-2 example.
        assert_eq!(
            hex::encode(token_sha256(&SecretString::from("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
