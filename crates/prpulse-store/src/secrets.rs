//! Webhook secrets of the hooks prpulse installed, by hook id.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretSlice};

use crate::{
    Keyring, StoreError,
    crypto::CryptoError,
    sealed::{HookSlot, SealedPlace},
};

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
    let current_place = SealedPlace::hook_secret(HookSlot::Current, hook_id);
    let current = key.seal(&current_place, secret);
    let Some(previous_valid_until) = previous_valid_until else {
        client
            .execute(
                "INSERT INTO webhook_secrets (hook_id, current_secret)
                 VALUES ($1, $2)
                 ON CONFLICT (hook_id) DO UPDATE SET
                     previous_secret = NULL,
                     previous_valid_until = NULL,
                     current_secret = EXCLUDED.current_secret,
                     rotated_at = now()",
                &[&hook_id, &current],
            )
            .await?;
        return Ok(());
    };
    // The replaced secret is bound to the current slot, so it is opened and
    // sealed again for the previous one rather than copied in SQL. The
    // write only lands if the row still holds what was read (callers need
    // not be in a transaction); a concurrent writer means reading again.
    for _ in 0..SET_ATTEMPTS {
        let row = client
            .query_opt(
                "SELECT current_secret FROM webhook_secrets WHERE hook_id = $1",
                &[&hook_id],
            )
            .await?;
        let written = match row {
            None => {
                client
                    .execute(
                        "INSERT INTO webhook_secrets (hook_id, current_secret) VALUES ($1, $2)
                         ON CONFLICT (hook_id) DO NOTHING",
                        &[&hook_id, &current],
                    )
                    .await?
            }
            Some(row) => {
                let replaced: &[u8] = row.get(0);
                let previous = key.seal(
                    &SealedPlace::hook_secret(HookSlot::Previous, hook_id),
                    key.open(&current_place, replaced)?.expose_secret(),
                );
                client
                    .execute(
                        "UPDATE webhook_secrets
                         SET current_secret = $2, previous_secret = $3,
                             previous_valid_until = $4, rotated_at = now()
                         WHERE hook_id = $1 AND current_secret = $5",
                        &[
                            &hook_id,
                            &current,
                            &previous,
                            &previous_valid_until,
                            &replaced,
                        ],
                    )
                    .await?
            }
        };
        if written == 1 {
            return Ok(());
        }
    }
    Err(StoreError::Contended("webhook_secrets"))
}

/// How often `set_hook_secret` reads again when another writer changed the
/// row between its read and its write; a few, since writers of one hook are
/// the scheduler and an operator's CLI.
const SET_ATTEMPTS: usize = 5;

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
    let mut secrets = vec![key.open(
        &SealedPlace::hook_secret(HookSlot::Current, hook_id),
        row.get(0),
    )?];
    if let Some(previous) = row.get::<_, Option<&[u8]>>(1) {
        secrets.push(key.open(
            &SealedPlace::hook_secret(HookSlot::Previous, hook_id),
            previous,
        )?);
    }
    Ok(Some(secrets))
}
