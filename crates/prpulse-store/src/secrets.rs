//! Webhook secrets of the hooks prpulse installed, by hook id.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretSlice};

use crate::{Keyring, StoreError, crypto::CryptoError};

/// Stores `secret` as the hook's current secret. The one it replaces stays
/// valid until `previous_valid_until` (a rotation); with `None` the old one
/// is dropped at once (a first install or a forced reset).
pub async fn set_hook_secret(
    client: &impl GenericClient,
    key: &Keyring,
    hook_id: i64,
    secret: &[u8],
    previous_valid_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let sealed = key.encrypt(secret);
    client
        .execute(
            "INSERT INTO webhook_secrets (hook_id, current_secret)
             VALUES ($1, $2)
             ON CONFLICT (hook_id) DO UPDATE SET
                 previous_secret = CASE WHEN $3::timestamptz IS NULL THEN NULL
                                        ELSE webhook_secrets.current_secret END,
                 previous_valid_until = $3,
                 current_secret = EXCLUDED.current_secret,
                 rotated_at = now()",
            &[&hook_id, &sealed, &previous_valid_until],
        )
        .await?;
    Ok(())
}

/// Forgets a hook's secrets (the hook is gone): ingest stops accepting
/// deliveries signed with them once its cache expires.
pub async fn forget_hook(client: &impl GenericClient, hook_id: i64) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM webhook_secrets WHERE hook_id = $1",
            &[&hook_id],
        )
        .await?;
    Ok(())
}

/// The secrets a delivery from `hook_id` may be signed with at `now`,
/// current first; `None` when prpulse does not know the hook.
pub async fn hook_secrets(
    client: &impl GenericClient,
    key: Option<&Keyring>,
    hook_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Vec<SecretSlice<u8>>>, StoreError> {
    let row = client
        .query_opt(
            "SELECT current_secret,
                    CASE WHEN previous_valid_until > $2 THEN previous_secret END
             FROM webhook_secrets WHERE hook_id = $1",
            &[&hook_id, &now],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key = key.ok_or(CryptoError::NoKey)?;
    let current: Vec<u8> = row.get(0);
    let previous: Option<Vec<u8>> = row.get(1);
    let mut secrets = vec![key.decrypt(&current)?];
    if let Some(previous) = previous {
        secrets.push(key.decrypt(&previous)?);
    }
    Ok(Some(secrets))
}

/// Re-encrypts every stored secret under the keyring's current key. Run it
/// in one transaction while every service holds both keys; afterwards the
/// previous key can be dropped. Returns how many hooks were rewritten.
pub async fn reencrypt_all(
    client: &impl GenericClient,
    key: &Keyring,
) -> Result<usize, StoreError> {
    let rows = client
        .query(
            "SELECT hook_id, current_secret, previous_secret FROM webhook_secrets FOR UPDATE",
            &[],
        )
        .await?;
    for row in &rows {
        let hook_id: i64 = row.get(0);
        let current = key.encrypt(key.decrypt(row.get::<_, &[u8]>(1))?.expose_secret());
        let previous = row
            .get::<_, Option<&[u8]>>(2)
            .map(|sealed| {
                key.decrypt(sealed)
                    .map(|plain| key.encrypt(plain.expose_secret()))
            })
            .transpose()?;
        client
            .execute(
                "UPDATE webhook_secrets SET current_secret = $2, previous_secret = $3
                 WHERE hook_id = $1",
                &[&hook_id, &current, &previous],
            )
            .await?;
    }
    Ok(rows.len())
}
