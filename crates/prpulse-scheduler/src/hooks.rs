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
    Keyring, Pool, StoreError,
    integrations::{self, Integration},
    secrets::set_hook_secret,
    tracking::{self, TrackState, TrackedRepository},
};
use secrecy::{ExposeSecret, SecretString};
use tracing::warn;

use crate::config::HookSettings;

mod lock;
mod secret;
mod site;

use lock::HOOK_LOCK_WAIT;
pub use secret::new_secret;
pub use site::{HookSite, Outcome};

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
}
