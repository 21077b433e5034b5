//! Which secret a delivery must be signed with: the hook's own (current or,
//! during a rotation, previous) when prpulse installed the hook, else the
//! global `PRPULSE_WEBHOOK_SECRET`. Found from the headers alone, before
//! the body is read ([`SecretResolver::candidates`]); checked once the body
//! is in ([`SecretResolver::verify`]).

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use prometheus::IntCounterVec;
use prpulse_github::{Signature, SignatureError, verify_parts};
use prpulse_store::{Keyring, Pool, StoreError, secrets::hook_secrets};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::{body::Body, error::IngestError, limits::HookKey};

/// A mismatch refetches a cached hook at most this often, so a rotation is
/// honoured at once without letting bad signatures hammer Postgres.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct SecretCacheSettings {
    /// `PRPULSE_HOOK_SECRET_CACHE_SIZE`: hooks whose lookup is remembered.
    pub size: u64,
    /// `PRPULSE_HOOK_SECRET_CACHE_TTL_MS`: how long a lookup is remembered,
    /// whether it found the hook or not.
    pub ttl: Duration,
}

/// One lookup of a hook id: its secrets, or `None` for a hook prpulse does
/// not store (remembered too, so a random `X-GitHub-Hook-ID` costs one
/// query per TTL, not one per request).
pub struct Lookup {
    fetched: Instant,
    secrets: Option<Vec<SecretSlice<u8>>>,
}

impl Lookup {
    pub fn new(secrets: Option<Vec<SecretSlice<u8>>>) -> Self {
        Self {
            fetched: Instant::now(),
            secrets,
        }
    }
}

/// Bounded in entries and in age (moka: TinyLFU admission, so a scan of
/// random ids does not evict the hooks that deliver every minute), and
/// concurrent misses for one id wait for a single lookup.
pub struct SecretCache {
    cache: moka::future::Cache<i64, Arc<Lookup>>,
}

impl SecretCache {
    pub fn new(settings: &SecretCacheSettings) -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(settings.size)
                .time_to_live(settings.ttl)
                .build(),
        }
    }

    /// The cached lookup of `hook_id`, or the result of `load`. Failures
    /// are not cached: the next request asks again.
    pub async fn get(
        &self,
        hook_id: i64,
        load: impl Future<Output = Result<Lookup, StoreError>>,
    ) -> Result<Arc<Lookup>, Arc<StoreError>> {
        self.cache
            .try_get_with(hook_id, async { load.await.map(Arc::new) })
            .await
    }

    /// A fresh lookup of `hook_id` in place of `seen`, unless `seen` is
    /// younger than [`REFRESH_AFTER`].
    pub async fn refresh(
        &self,
        hook_id: i64,
        seen: &Arc<Lookup>,
        load: impl Future<Output = Result<Lookup, StoreError>>,
    ) -> Result<Arc<Lookup>, Arc<StoreError>> {
        if seen.fetched.elapsed() < REFRESH_AFTER {
            return Ok(seen.clone());
        }
        let current = self.cache.get(&hook_id).await;
        if current.is_none_or(|current| Arc::ptr_eq(&current, seen)) {
            self.cache.invalidate(&hook_id).await;
        }
        self.get(hook_id, load).await
    }

    #[cfg(test)]
    async fn entries(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

/// What a delivery may be signed with.
pub enum Candidates {
    /// A hook prpulse stores: only its own secrets pass.
    Hook { hook_id: i64, lookup: Arc<Lookup> },
    /// No hook id, or one prpulse does not store: the global secret.
    Global,
    /// Postgres could not say whether the hook is ours: a delivery signed
    /// with the global secret still passes, any other is 503.
    GlobalWhileUnavailable(Arc<StoreError>),
}

impl Candidates {
    /// The failure budget a refusal of this delivery is charged to.
    pub fn hook_key(&self) -> HookKey {
        match self {
            Self::Hook { hook_id, .. } => HookKey::Known(*hook_id),
            Self::Global | Self::GlobalWhileUnavailable(_) => HookKey::Unknown,
        }
    }
}

pub struct SecretResolver {
    pool: Pool,
    key: Option<Keyring>,
    global: Option<SecretSlice<u8>>,
    cache: SecretCache,
    /// `prpulse_ingest_hook_secret_lookups_total{outcome}`.
    lookups: IntCounterVec,
}

impl SecretResolver {
    pub fn new(
        pool: Pool,
        key: Option<Keyring>,
        global: Option<&SecretString>,
        cache: &SecretCacheSettings,
        lookups: IntCounterVec,
    ) -> Self {
        Self {
            pool,
            key,
            global: global
                .map(|secret| SecretSlice::from(secret.expose_secret().as_bytes().to_vec())),
            cache: SecretCache::new(cache),
            lookups,
        }
    }

    /// The key stored secrets are sealed under (Jira's are read with it too).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.key.as_ref()
    }

    /// The secrets a delivery with `hook_id` may be signed with; an error
    /// when none can verify it, so it is refused before its body is read.
    pub async fn candidates(&self, hook_id: Option<i64>) -> Result<Candidates, IngestError> {
        let Some(hook_id) = hook_id else {
            return self.global_only();
        };
        match self.cache.get(hook_id, self.load(hook_id)).await {
            Ok(lookup) if lookup.secrets.is_some() => Ok(Candidates::Hook { hook_id, lookup }),
            Ok(_) => self.global_only(),
            Err(error) if error.is_transient() => match self.global {
                // Deliveries for the global secret need no database.
                Some(_) => Ok(Candidates::GlobalWhileUnavailable(error)),
                None => Err(IngestError::SecretsUnavailable(error)),
            },
            Err(error) => Err(IngestError::SecretsMisconfigured(error)),
        }
    }

    fn global_only(&self) -> Result<Candidates, IngestError> {
        match self.global {
            Some(_) => Ok(Candidates::Global),
            None => Err(SignatureError::NoSecret.into()),
        }
    }

    /// Ok when `signature` matches `body` under one of `candidates`.
    pub async fn verify(
        &self,
        candidates: &Candidates,
        body: &Body,
        signature: &Signature,
    ) -> Result<(), IngestError> {
        let matches = |secrets: &[SecretSlice<u8>]| {
            secrets
                .iter()
                .any(|secret| verify_parts(secret.expose_secret(), body.chunks(), signature))
        };
        let global = || matches(self.global.as_slice());
        match candidates {
            Candidates::Hook { hook_id, lookup } => {
                if lookup.secrets.as_deref().is_some_and(matches) {
                    return Ok(());
                }
                // A rotation may have happened since we cached.
                if let Ok(fresh) = self
                    .cache
                    .refresh(*hook_id, lookup, self.load(*hook_id))
                    .await
                    && !Arc::ptr_eq(&fresh, lookup)
                    && fresh.secrets.as_deref().is_some_and(matches)
                {
                    return Ok(());
                }
                Err(SignatureError::Mismatch.into())
            }
            Candidates::Global if global() => Ok(()),
            Candidates::Global => Err(SignatureError::Mismatch.into()),
            Candidates::GlobalWhileUnavailable(_) if global() => Ok(()),
            Candidates::GlobalWhileUnavailable(error) => {
                Err(IngestError::SecretsUnavailable(error.clone()))
            }
        }
    }

    async fn load(&self, hook_id: i64) -> Result<Lookup, StoreError> {
        let loaded = async {
            let client = self.pool.get().await?;
            hook_secrets(&client, self.key.as_ref(), hook_id, chrono::Utc::now()).await
        }
        .await;
        let outcome = match &loaded {
            Ok(Some(_)) => "found",
            Ok(None) => "unknown",
            Err(_) => "error",
        };
        self.lookups.with_label_values(&[outcome]).inc();
        loaded.map(Lookup::new)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn cache(size: u64, ttl: Duration) -> SecretCache {
        SecretCache::new(&SecretCacheSettings { size, ttl })
    }

    async fn counted(
        loads: &AtomicUsize,
        secrets: Option<&'static [u8]>,
    ) -> Result<Lookup, StoreError> {
        loads.fetch_add(1, Ordering::SeqCst);
        // Let concurrent callers pile up on the same miss.
        tokio::task::yield_now().await;
        Ok(Lookup::new(
            secrets.map(|secret| vec![SecretSlice::from(secret.to_vec())]),
        ))
    }

    #[tokio::test]
    async fn the_cache_is_bounded_however_many_ids_are_tried() {
        let cache = cache(16, Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        for hook_id in 0..1_000 {
            cache.get(hook_id, counted(&loads, None)).await.unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1_000);
        assert!(cache.entries().await <= 16, "{}", cache.entries().await);
    }

    #[tokio::test]
    async fn a_random_hook_id_costs_one_lookup_per_ttl_even_all_at_once() {
        let cache = cache(16, Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let requests = (0..50).map(|_| cache.get(987_654_321, counted(&loads, None)));
        for lookup in futures_util::future::join_all(requests).await {
            assert!(lookup.unwrap().secrets.is_none());
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // A mismatch under an unknown id never refreshes (it is not a
        // hook of ours), and a young entry is not refetched either.
        let seen = cache.get(987_654_321, counted(&loads, None)).await.unwrap();
        cache
            .refresh(987_654_321, &seen, counted(&loads, None))
            .await
            .unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lookups_expire_and_failures_are_not_remembered() {
        let cache = cache(16, Duration::from_millis(50));
        let loads = AtomicUsize::new(0);
        cache.get(7, counted(&loads, Some(b"s"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        cache.get(7, counted(&loads, Some(b"s"))).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2, "expired after the TTL");

        let failing = async { Err(StoreError::from(prpulse_store::crypto::CryptoError::NoKey)) };
        assert!(cache.get(8, failing).await.is_err());
        cache.get(8, counted(&loads, Some(b"s"))).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "the failure was not cached"
        );
    }

    #[tokio::test]
    async fn a_stale_entry_is_refreshed_once_for_a_mismatch() {
        let cache = cache(16, Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let stale = Arc::new(Lookup {
            fetched: Instant::now() - REFRESH_AFTER * 2,
            secrets: Some(vec![SecretSlice::from(b"old".to_vec())]),
        });
        cache.cache.insert(7, stale.clone()).await;
        let fresh = cache
            .refresh(7, &stale, counted(&loads, Some(b"new")))
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&fresh, &stale));
        // Whoever still holds the stale entry gets the fresh one, no query.
        let again = cache
            .refresh(7, &stale, counted(&loads, Some(b"newer")))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&again, &fresh));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
