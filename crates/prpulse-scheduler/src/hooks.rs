//! Webhook reconciliation: for each tracked repository, one prpulse hook
//! that posts `pull_request` and `pull_request_review` as JSON to
//! `PRPULSE_PUBLIC_URL`, signed with a secret only prpulse knows; for each
//! organisation integration whose token allows it, one organisation hook
//! for `team` and `membership`.
//!
//! Secrets are stored before GitHub is told about them whenever the hook
//! id is known, so ingest can always verify what GitHub signs: a rotation
//! keeps the old secret valid for the overlap, and a change GitHub may not
//! have received is marked `secret_pending` and sent again next run.
//!
//! One writer per hook at a time: the scheduler and `prpulse repo
//! track/untrack` (or `integration remove`) each hold the site's advisory
//! lock from before they read its state to after GitHub answered and the
//! secret was stored, and act on the state as it is once the lock is
//! theirs. Without it, two writers each storing their own secret and each
//! telling GitHub theirs could leave GitHub signing with the one the
//! database no longer holds.

use std::time::Duration;

use chrono::Utc;
use prpulse_github_api::{
    GitHubClient, GitHubError,
    hooks::{self, DesiredHook, HookOwner},
};
use prpulse_store::{
    GenericClient, Keyring, Pool, StoreError,
    integrations::{self, Integration},
    secrets::{hook_secrets, set_hook_secret},
    tracking::{self, TrackState, TrackedRepository},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::error::SqlState;
use tracing::warn;

use crate::config::HookSettings;

/// Where a prpulse hook lives, and where its state is kept.
#[derive(Clone, Copy, Debug)]
pub enum HookSite<'a> {
    Repository(&'a TrackedRepository),
    Organization(&'a Integration),
}

impl HookSite<'_> {
    pub fn owner(&self) -> HookOwner<'_> {
        match self {
            Self::Repository(repo) => HookOwner::Repository(&repo.full_name),
            Self::Organization(org) => HookOwner::Organization(&org.account),
        }
    }

    /// The advisory lock's key, within [`HOOK_LOCK_CLASS`].
    fn lock_key(&self) -> String {
        match self {
            Self::Repository(repo) => format!("repo:{}", repo.full_name),
            Self::Organization(org) => format!("org:{}", org.account),
        }
    }

    fn hook_id(&self) -> Option<i64> {
        match self {
            Self::Repository(repo) => repo.hook_id,
            Self::Organization(org) => org.org_hook_id,
        }
    }

    fn secret_pending(&self) -> bool {
        match self {
            Self::Repository(repo) => repo.secret_pending,
            Self::Organization(org) => org.org_hook_secret_pending,
        }
    }

    /// Records the site's hook, and whether GitHub may lack its secret.
    async fn record(
        &self,
        client: &impl GenericClient,
        hook_id: i64,
        secret_pending: bool,
    ) -> Result<(), StoreError> {
        match self {
            Self::Repository(repo) => {
                tracking::set_hook(client, &repo.full_name, hook_id, secret_pending).await
            }
            Self::Organization(org) => {
                integrations::set_org_hook(client, &org.account, hook_id, secret_pending).await
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Installed,
    /// A hook to our URL already existed: taken over with a fresh secret.
    Adopted,
    /// Our hook was deleted on GitHub: made again.
    Recreated,
    /// Its events or config had drifted, or a secret was pending: repaired.
    Repaired,
    Rotated,
    Unchanged,
    Removed,
    /// Gone from the database by the time its lock was held (untracked
    /// and removed by another writer): nothing to do.
    Gone,
}

/// The advisory-lock class (first key) of hook sites; the second key is a
/// hash of [`HookSite::lock_key`]. The scheduler's leader lock uses the
/// one-bigint form, a different key space.
const HOOK_LOCK_CLASS: i32 = 0x7072_686b;

/// How long a writer waits for another to finish with the same hook: one
/// reconciliation is a few bounded GitHub calls.
const HOOK_LOCK_WAIT: &str = "120s";

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("GitHub says a hook exists, but none posts to {0}")]
    NoHookToAdopt(String),
    #[error(
        "another prpulse (the scheduler or a `prpulse repo` command) has been changing the hook of {0} for over {HOOK_LOCK_WAIT}; try again"
    )]
    Busy(String),
}

pub struct HookReconciler<'a> {
    pub github: &'a GitHubClient,
    pub pool: &'a Pool,
    pub keyring: &'a Keyring,
    pub hook_url: &'a str,
    pub rotate_after: Duration,
    pub rotation_overlap: Duration,
}

impl<'a> HookReconciler<'a> {
    /// The reconciler the scheduler's settings describe, acting with `github`.
    pub fn new(
        settings: &'a HookSettings,
        github: &'a GitHubClient,
        pool: &'a Pool,
        keyring: &'a Keyring,
    ) -> Self {
        Self {
            github,
            pool,
            keyring,
            hook_url: &settings.hook_url,
            rotate_after: settings.rotate_after,
            rotation_overlap: settings.rotation_overlap,
        }
    }
}

impl HookReconciler<'_> {
    /// Brings `site`'s hook in line with its state in the database, read
    /// afresh once this writer holds the site's lock (`site` itself may be
    /// a stale listing).
    pub async fn reconcile(&self, site: HookSite<'_>) -> Result<Outcome, ReconcileError> {
        self.locked(site, async || {
            let client = self.pool.get().await.map_err(StoreError::from)?;
            match site {
                HookSite::Repository(listed) => {
                    let now = tracking::repository(&client, &listed.full_name).await?;
                    drop(client);
                    match now {
                        Some(repo) => self.reconcile_locked(HookSite::Repository(&repo)).await,
                        None => Ok(Outcome::Gone),
                    }
                }
                HookSite::Organization(listed) => {
                    let now = integrations::organizations(&client)
                        .await?
                        .into_iter()
                        .find(|org| org.account == listed.account);
                    drop(client);
                    match now {
                        Some(org) => self.reconcile_locked(HookSite::Organization(&org)).await,
                        None => Ok(Outcome::Gone),
                    }
                }
            }
        })
        .await
    }

    /// Runs `work` holding `site`'s advisory lock. The lock is
    /// transaction-scoped on a connection of its own, so it is released
    /// when `work` ends, and also when this future is dropped (a cancelled
    /// round): the transaction rolls back, whereas a session lock would
    /// stay with the pooled connection.
    async fn locked<T>(
        &self,
        site: HookSite<'_>,
        work: impl AsyncFnOnce() -> Result<T, ReconcileError>,
    ) -> Result<T, ReconcileError> {
        let mut connection = self.pool.get().await.map_err(StoreError::from)?;
        let lock = connection.transaction().await.map_err(StoreError::from)?;
        // The server's keepalives too: a writer cut off mid-call must not
        // keep the hook's lock for the kernel's two hours.
        lock.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{HOOK_LOCK_WAIT}'; {}",
            crate::leader::server_keepalives("LOCAL")
        ))
        .await
        .map_err(StoreError::from)?;
        let key = site.lock_key();
        if let Err(error) = lock
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&HOOK_LOCK_CLASS, &key],
            )
            .await
        {
            return Err(if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                ReconcileError::Busy(site.owner().to_string())
            } else {
                StoreError::from(error).into()
            });
        }
        let outcome = work().await;
        // Nothing was written in this transaction: ending it frees the lock.
        let released = lock.rollback().await;
        let outcome = outcome?;
        released.map_err(StoreError::from)?;
        Ok(outcome)
    }

    async fn reconcile_locked(&self, site: HookSite<'_>) -> Result<Outcome, ReconcileError> {
        if let HookSite::Repository(repo) = site
            && repo.state == TrackState::Untracking
        {
            return self.remove(repo).await;
        }
        let Some(hook_id) = site.hook_id() else {
            return self.install(site).await;
        };
        let hook = match hooks::get(self.github, site.owner(), hook_id).await {
            Ok(hook) => hook,
            Err(GitHubError::NotFound { .. }) => {
                warn!(owner = %site.owner(), hook_id, "prpulse's hook was deleted on GitHub; recreating it");
                self.install(site).await?;
                return Ok(Outcome::Recreated);
            }
            Err(error) => return Err(error.into()),
        };
        let client = self.pool.get().await.map_err(StoreError::from)?;
        let rotated_at = tracking::secret_rotated_at(&client, hook_id).await?;
        let rotation_due = rotated_at
            .is_none_or(|at| (Utc::now() - at).to_std().unwrap_or_default() >= self.rotate_after);
        let current = self.current_secret(&client, hook_id).await?;
        let Some(current) = current.filter(|_| !rotation_due) else {
            let secret = new_secret();
            let previous_until =
                Utc::now() + chrono::Duration::from_std(self.rotation_overlap).unwrap_or_default();
            set_hook_secret(
                &client,
                self.keyring,
                hook_id,
                secret.expose_secret().as_bytes(),
                Some(previous_until),
            )
            .await?;
            site.record(&client, hook_id, true).await?;
            self.send_secret(&client, site, hook_id, &secret).await?;
            return Ok(Outcome::Rotated);
        };
        if site.secret_pending() || !self.desired(site, &current).is_met_by(&hook) {
            self.send_secret(&client, site, hook_id, &current).await?;
            return Ok(Outcome::Repaired);
        }
        site.record(&client, hook_id, false).await?;
        Ok(Outcome::Unchanged)
    }

    fn desired<'s>(&'s self, site: HookSite<'_>, secret: &'s SecretString) -> DesiredHook<'s> {
        DesiredHook {
            url: self.hook_url,
            secret,
            events: site.owner().events(),
        }
    }

    async fn install(&self, site: HookSite<'_>) -> Result<Outcome, ReconcileError> {
        let secret = new_secret();
        let client = self.pool.get().await.map_err(StoreError::from)?;
        match hooks::create(self.github, site.owner(), &self.desired(site, &secret)).await {
            Ok(hook) => {
                self.store_secret(&client, hook.id, &secret).await?;
                site.record(&client, hook.id, false).await?;
                Ok(Outcome::Installed)
            }
            Err(error) if error.already_exists() => {
                let existing = hooks::list(self.github, site.owner()).await?;
                let Some(hook) = existing
                    .iter()
                    .find(|hook| hook.config.url.as_deref() == Some(self.hook_url))
                else {
                    return Err(ReconcileError::NoHookToAdopt(self.hook_url.to_owned()));
                };
                // Its old secret is unknown to us: replace it, storing ours first.
                self.store_secret(&client, hook.id, &secret).await?;
                site.record(&client, hook.id, true).await?;
                self.send_secret(&client, site, hook.id, &secret).await?;
                Ok(Outcome::Adopted)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Stores `secret` as the hook's only secret.
    async fn store_secret(
        &self,
        client: &impl GenericClient,
        hook_id: i64,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        set_hook_secret(
            client,
            self.keyring,
            hook_id,
            secret.expose_secret().as_bytes(),
            None,
        )
        .await
    }

    /// Sends the hook its full desired config with `secret`, and clears
    /// `secret_pending` once GitHub took it.
    async fn send_secret(
        &self,
        client: &impl GenericClient,
        site: HookSite<'_>,
        hook_id: i64,
        secret: &SecretString,
    ) -> Result<(), ReconcileError> {
        hooks::update(
            self.github,
            site.owner(),
            hook_id,
            &self.desired(site, secret),
        )
        .await?;
        site.record(client, hook_id, false).await?;
        Ok(())
    }

    async fn remove(&self, repo: &TrackedRepository) -> Result<Outcome, ReconcileError> {
        if let Some(hook_id) = repo.hook_id {
            self.delete_hook(HookOwner::Repository(&repo.full_name), hook_id)
                .await?;
        }
        let client = self.pool.get().await.map_err(StoreError::from)?;
        tracking::forget(&client, &repo.full_name, repo.hook_id).await?;
        Ok(Outcome::Removed)
    }

    /// Deletes the organisation's hook (if any) and then the integration;
    /// the caller makes sure no tracked repository needs it any more.
    pub async fn remove_integration(&self, org: &Integration) -> Result<(), ReconcileError> {
        self.locked(HookSite::Organization(org), async || {
            let client = self.pool.get().await.map_err(StoreError::from)?;
            // The hook as it is now: the scheduler may have made one since
            // `org` was read.
            let hook_id = integrations::list(&client)
                .await?
                .into_iter()
                .find(|now| now.account == org.account)
                .map_or(org.org_hook_id, |now| now.org_hook_id);
            drop(client);
            if let Some(hook_id) = hook_id {
                self.delete_hook(HookOwner::Organization(&org.account), hook_id)
                    .await?;
            }
            let client = self.pool.get().await.map_err(StoreError::from)?;
            integrations::delete(&client, &org.account, hook_id).await?;
            Ok(())
        })
        .await
    }

    async fn delete_hook(&self, owner: HookOwner<'_>, hook_id: i64) -> Result<(), ReconcileError> {
        match hooks::delete(self.github, owner, hook_id).await {
            Ok(()) => Ok(()),
            Err(GitHubError::NotFound { .. }) => {
                warn!(%owner, hook_id, "the hook was already gone on GitHub");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn current_secret(
        &self,
        client: &impl GenericClient,
        hook_id: i64,
    ) -> Result<Option<SecretString>, ReconcileError> {
        let secrets = hook_secrets(client, Some(self.keyring), hook_id, Utc::now())
            .await?
            .unwrap_or_default();
        Ok(secrets.first().map(|secret| {
            SecretString::from(String::from_utf8_lossy(secret.expose_secret()).into_owned())
        }))
    }
}

/// 32 random bytes, hex-encoded: what GitHub's docs recommend for a hook
/// secret (high entropy, printable).
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}
