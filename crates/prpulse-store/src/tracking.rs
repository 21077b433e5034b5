//! Tracked repositories and the state of their webhooks. A repository is
//! stored and found by [`RepoFullName::key`], its one folded form: every
//! query here compares `full_name` with a key, never with text as given.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::RepoFullName;

use crate::{StoreError, secrets};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackState {
    Pending,
    Tracked,
    Untracking,
}

impl TrackState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Tracked => "tracked",
            Self::Untracking => "untracking",
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "tracked" => Self::Tracked,
            "untracking" => Self::Untracking,
            _ => Self::Pending,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TrackedRepository {
    /// As stored: the key (folded to lower case).
    pub full_name: RepoFullName,
    pub account: String,
    pub state: TrackState,
    pub hook_id: Option<i64>,
    pub secret_pending: bool,
    pub last_error: Option<String>,
    pub reconciled_at: Option<DateTime<Utc>>,
    pub backfilled_at: Option<DateTime<Utc>>,
}

/// Marks a repository to be tracked; the scheduler installs its hook.
pub async fn track(client: &impl GenericClient, repo: &RepoFullName) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO tracked_repositories (full_name, account, state)
             VALUES ($1, lower($2), 'pending')
             ON CONFLICT (full_name) DO UPDATE SET state = 'pending', last_error = NULL
             WHERE tracked_repositories.state = 'untracking'",
            &[&repo.key(), &repo.owner()],
        )
        .await?;
    Ok(())
}

/// Marks a repository to be untracked; false if it was not tracked.
pub async fn untrack(
    client: &impl GenericClient,
    full_name: &RepoFullName,
) -> Result<bool, StoreError> {
    Ok(client
        .execute(
            "UPDATE tracked_repositories SET state = 'untracking' WHERE full_name = $1",
            &[&full_name.key()],
        )
        .await?
        == 1)
}

const COLUMNS: &str = "full_name, account, state, hook_id, secret_pending, last_error,
                       reconciled_at, backfilled_at";

fn from_row(row: &tokio_postgres::Row) -> Result<TrackedRepository, StoreError> {
    let full_name: &str = row.get(0);
    Ok(TrackedRepository {
        full_name: RepoFullName::parse(full_name)
            .map_err(|error| StoreError::Corrupt(format!("tracked_repositories: {error}")))?,
        account: row.get(1),
        state: TrackState::parse(row.get(2)),
        hook_id: row.get(3),
        secret_pending: row.get(4),
        last_error: row.get(5),
        reconciled_at: row.get(6),
        backfilled_at: row.get(7),
    })
}

pub async fn repositories(
    client: &impl GenericClient,
) -> Result<Vec<TrackedRepository>, StoreError> {
    client
        .query(
            &format!("SELECT {COLUMNS} FROM tracked_repositories ORDER BY full_name"),
            &[],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// One tracked repository as it is now (`None` once it is forgotten).
pub async fn repository(
    client: &impl GenericClient,
    full_name: &RepoFullName,
) -> Result<Option<TrackedRepository>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM tracked_repositories WHERE full_name = $1"),
            &[&full_name.key()],
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Records the repository's hook and whether GitHub may lack its secret.
pub async fn set_hook(
    client: &impl GenericClient,
    full_name: &RepoFullName,
    hook_id: i64,
    secret_pending: bool,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tracked_repositories
             SET hook_id = $2, secret_pending = $3, state = 'tracked', last_error = NULL,
                 reconciled_at = now()
             WHERE full_name = $1",
            &[&full_name.key(), &hook_id, &secret_pending],
        )
        .await?;
    Ok(())
}

pub async fn set_error(
    client: &impl GenericClient,
    full_name: &RepoFullName,
    error: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tracked_repositories SET last_error = $2, reconciled_at = now()
             WHERE full_name = $1",
            &[&full_name.key(), &error],
        )
        .await?;
    Ok(())
}

/// Forgets an untracked repository and its hook's secrets.
pub async fn forget(
    client: &impl GenericClient,
    full_name: &RepoFullName,
    hook_id: Option<i64>,
) -> Result<(), StoreError> {
    if let Some(hook_id) = hook_id {
        secrets::forget_hook(client, hook_id).await?;
    }
    client
        .execute(
            "DELETE FROM tracked_repositories WHERE full_name = $1",
            &[&full_name.key()],
        )
        .await?;
    Ok(())
}

/// When the hook's secret last changed.
pub async fn secret_rotated_at(
    client: &impl GenericClient,
    hook_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT rotated_at FROM webhook_secrets WHERE hook_id = $1",
            &[&hook_id],
        )
        .await?
        .map(|row| row.get(0)))
}

pub async fn set_backfilled(
    client: &impl GenericClient,
    full_name: &RepoFullName,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tracked_repositories SET backfilled_at = now() WHERE full_name = $1",
            &[&full_name.key()],
        )
        .await?;
    Ok(())
}
