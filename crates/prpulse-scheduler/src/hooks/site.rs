//! The two places a prpulse hook lives (a repository, an organisation),
//! and what one reconciliation did to it.

use prpulse_github_api::hooks::HookOwner;
use prpulse_store::{
    GenericClient, StoreError,
    integrations::{self, Integration},
    tracking::{self, TrackedRepository},
};

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
    pub(super) fn lock_key(&self) -> String {
        match self {
            Self::Repository(repo) => format!("repo:{}", repo.full_name),
            Self::Organization(org) => format!("org:{}", org.account),
        }
    }

    pub(super) fn hook_id(&self) -> Option<i64> {
        match self {
            Self::Repository(repo) => repo.hook_id,
            Self::Organization(org) => org.org_hook_id,
        }
    }

    pub(super) fn secret_pending(&self) -> bool {
        match self {
            Self::Repository(repo) => repo.secret_pending,
            Self::Organization(org) => org.org_hook_secret_pending,
        }
    }

    /// Records the site's hook, and whether GitHub may lack its secret.
    pub(super) async fn record(
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
