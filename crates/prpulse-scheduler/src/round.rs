//! One round of the acting scheduler: the jobs, what a job's run can end
//! in, the checks between repositories, and the GitHub clients kept from
//! one round to the next.

use std::collections::HashMap;

use prpulse_github_api::GitHubClient;
use prpulse_store::{
    StoreError,
    integrations::{self, IntegrationCredentials},
};
use tokio_util::sync::CancellationToken;

use crate::{
    github::{client_with, same_credentials, stored_credentials},
    leader::Leadership,
    startup::Scheduler,
};

/// The scheduler's jobs, in the order a round runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Job {
    ReconcileHooks,
    Redeliver,
    Backfill,
    DoraLinks,
    TeamSync,
    Retention,
    Meta,
    ReconcileJira,
}

impl Job {
    /// The `task` label of the job's metrics (names kept from before the
    /// enum: dashboards and alerts use them).
    pub fn label(self) -> &'static str {
        match self {
            Self::ReconcileHooks => "reconcile_hooks",
            Self::Redeliver => "redeliver",
            Self::Backfill => "backfill",
            Self::DoraLinks => "dora_links",
            Self::TeamSync => "team_sync",
            Self::Retention => "retention",
            Self::Meta => "meta",
            Self::ReconcileJira => "reconcile_jira",
        }
    }
}

/// How a job's run ended, when it did not simply succeed.
#[derive(Debug)]
pub enum JobError {
    /// Counted as `outcome="error"`; the job's gauges keep their values.
    Failed(anyhow::Error),
    /// The round must end now; nothing is counted.
    Interrupted(Interrupted),
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.into())
    }
}

/// Why a round ended before its last job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupted {
    /// Another replica may be acting already.
    LostLock,
    Stopping,
}

/// A job's run that went through its work, or found none.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    Done,
    /// Not counted (a backfill with no new repository).
    NothingToDo,
}

/// What every job of one round shares.
pub struct Round<'a> {
    pub scheduler: &'a Scheduler,
    pub clients: &'a mut Clients,
    leadership: &'a Leadership,
    stop: &'a CancellationToken,
}

impl<'a> Round<'a> {
    pub fn new(
        scheduler: &'a Scheduler,
        clients: &'a mut Clients,
        leadership: &'a Leadership,
        stop: &'a CancellationToken,
    ) -> Self {
        Self {
            scheduler,
            clients,
            leadership,
            stop,
        }
    }

    /// Asked before each repository or organisation: a replica that lost
    /// the lock (a standby may hold it now) or is stopping acts no more.
    pub async fn go_on(&self) -> Result<(), JobError> {
        if self.stop.is_cancelled() {
            return Err(JobError::Interrupted(Interrupted::Stopping));
        }
        if !self.leadership.still_held().await {
            return Err(JobError::Interrupted(Interrupted::LostLock));
        }
        Ok(())
    }

    /// The client that acts for `account`.
    pub async fn github(&mut self, account: &str) -> anyhow::Result<&GitHubClient> {
        self.clients.get(self.scheduler, account).await
    }
}

/// One GitHub client per integration, kept across rounds so its ETag
/// cache and installation token are reused (a 304 costs no rate limit; a
/// token lasts an hour), and rebuilt when the integration's credentials
/// change or it is removed.
#[derive(Default)]
pub struct Clients {
    by_account: HashMap<String, (IntegrationCredentials, GitHubClient)>,
}

impl Clients {
    /// Drops the clients whose integration is gone or has other
    /// credentials now. If that cannot be checked, all are dropped: a
    /// client must not outlive a credential it cannot see.
    pub async fn forget_stale(&mut self, scheduler: &Scheduler) -> anyhow::Result<()> {
        if self.by_account.is_empty() {
            return Ok(());
        }
        let checked = async {
            let client = scheduler.pool.get().await?;
            let mut stale = Vec::new();
            for (account, (held, _)) in &self.by_account {
                let now = integrations::credentials(&client, &scheduler.keyring, account).await?;
                if !now.is_some_and(|now| same_credentials(&now, held)) {
                    stale.push(account.clone());
                }
            }
            anyhow::Ok(stale)
        }
        .await;
        match checked {
            Ok(stale) => {
                for account in stale {
                    self.by_account.remove(&account);
                }
                Ok(())
            }
            Err(error) => {
                self.by_account.clear();
                Err(error)
            }
        }
    }

    pub async fn get(
        &mut self,
        scheduler: &Scheduler,
        account: &str,
    ) -> anyhow::Result<&GitHubClient> {
        if !self.by_account.contains_key(account) {
            let client = scheduler.pool.get().await?;
            let stored = stored_credentials(&client, &scheduler.keyring, account).await?;
            let github = client_with(&scheduler.config.github, &stored, account)?;
            self.by_account.insert(account.to_owned(), (stored, github));
        }
        Ok(&self.by_account[account].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &GitHubClient)> {
        self.by_account
            .iter()
            .map(|(account, (_, client))| (account.as_str(), client))
    }
}
