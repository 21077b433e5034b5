//! Which secret a delivery must be signed with: the hook's own (current or,
//! during a rotation, previous) when prpulse installed the hook, else the
//! global `PRPULSE_WEBHOOK_SECRET`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prpulse_github::{Signature, SignatureError, verify};
use prpulse_store::{Keyring, Pool, StoreError, secrets::hook_secrets};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::error::IngestError;

type Secrets = Arc<Vec<SecretSlice<u8>>>;

/// Cached hook secrets live this long; a mismatch refetches sooner (at most
/// once per [`REFRESH_AFTER`]), so a rotation is honoured at once.
const CACHE_TTL: Duration = Duration::from_secs(30);
const REFRESH_AFTER: Duration = Duration::from_secs(1);

pub struct SecretResolver {
    pool: Pool,
    key: Option<Keyring>,
    global: Option<SecretSlice<u8>>,
    cache: Mutex<HashMap<i64, Cached>>,
}

struct Cached {
    fetched: Instant,
    secrets: Option<Secrets>,
}

impl SecretResolver {
    pub fn new(pool: Pool, key: Option<Keyring>, global: Option<&SecretString>) -> Self {
        Self {
            pool,
            key,
            global: global
                .map(|secret| SecretSlice::from(secret.expose_secret().as_bytes().to_vec())),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Ok when `signature` matches `body` under a secret this delivery may use.
    pub async fn verify(
        &self,
        hook_id: Option<i64>,
        body: &[u8],
        signature: &Signature,
    ) -> Result<(), IngestError> {
        let matches = |secrets: &[SecretSlice<u8>]| {
            secrets
                .iter()
                .any(|secret| verify(secret.expose_secret(), body, signature))
        };
        if let Some(hook_id) = hook_id {
            match self.hook_secrets(hook_id, false).await {
                Ok(Some(secrets)) => {
                    if matches(&secrets) {
                        return Ok(());
                    }
                    // A rotation may have happened since we cached.
                    if let Ok(Some(fresh)) = self.hook_secrets(hook_id, true).await
                        && !Arc::ptr_eq(&fresh, &secrets)
                        && matches(&fresh)
                    {
                        return Ok(());
                    }
                    return Err(SignatureError::Mismatch.into());
                }
                Ok(None) => {}
                Err(error) if error.is_transient() => {
                    // Deliveries for the global secret need no database.
                    return match &self.global {
                        Some(global) if matches(std::slice::from_ref(global)) => Ok(()),
                        _ => Err(IngestError::SecretsUnavailable(error)),
                    };
                }
                Err(error) => return Err(IngestError::SecretsMisconfigured(error)),
            }
        }
        match &self.global {
            Some(global) if matches(std::slice::from_ref(global)) => Ok(()),
            Some(_) => Err(SignatureError::Mismatch.into()),
            None => Err(SignatureError::NoSecret.into()),
        }
    }

    async fn hook_secrets(
        &self,
        hook_id: i64,
        refresh: bool,
    ) -> Result<Option<Secrets>, StoreError> {
        let now = Instant::now();
        if let Some(cached) = self.lock_cache().get(&hook_id) {
            let age = now.duration_since(cached.fetched);
            if age < CACHE_TTL && (!refresh || age < REFRESH_AFTER) {
                return Ok(cached.secrets.clone());
            }
        }
        let client = self.pool.get().await?;
        let secrets = hook_secrets(&client, self.key.as_ref(), hook_id, chrono::Utc::now())
            .await?
            .map(Arc::new);
        self.lock_cache().insert(
            hook_id,
            Cached {
                fetched: now,
                secrets: secrets.clone(),
            },
        );
        Ok(secrets)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
