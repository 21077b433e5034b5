//! The queries of `prpulse rebuild`: reading the ledger in pages, finding
//! every delivery of one pull request, resetting a pull request's rows,
//! and the checkpoint that lets an interrupted rebuild resume.
//!
//! The run and its checkpoint are here; what is read from and reset in the
//! ledger is in `ledger`.

mod ledger;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::StoreError;

pub use ledger::{
    StoredDelivery, count_deliveries_after, count_pull_requests_after, deliveries_after,
    last_purge_without_pull_request, lock_and_read_pull_request, pull_requests_after,
    purged_without_pull_request, reset_pull_request, set_pull_request,
};

/// Which part of the history a rebuild recomputes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only this repository's pull requests (GitHub's repository id).
    pub repository_id: Option<i64>,
    /// Only pull requests with a delivery received at or after this time
    /// (each rebuilt from all its deliveries, older ones too).
    pub since: Option<DateTime<Utc>>,
}

impl Scope {
    /// The scope as the checkpoint table keys it.
    pub fn key(&self) -> String {
        format!(
            "repository={};since={}",
            self.repository_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            self.since.map(|at| at.to_rfc3339()).unwrap_or_default()
        )
    }

    /// Whether a delivery of `repository_id` received at `received_at` is in scope.
    pub fn contains(&self, repository_id: Option<i64>, received_at: DateTime<Utc>) -> bool {
        self.repository_id
            .is_none_or(|id| repository_id == Some(id))
            && self.since.is_none_or(|since| received_at >= since)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading every delivery: filling in which pull request each is about,
    /// and the newest facts about repositories and people.
    Deliveries,
    /// Resetting and re-applying each pull request.
    PullRequests,
    Done,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Deliveries => "deliveries",
            Self::PullRequests => "pull_requests",
            Self::Done => "done",
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "deliveries" => Self::Deliveries,
            "pull_requests" => Self::PullRequests,
            _ => Self::Done,
        }
    }
}

/// Where a rebuild of one scope got to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub run_id: i64,
    pub phase: Phase,
    /// The last delivery id the deliveries phase finished.
    pub last_delivery_id: Option<String>,
    /// The last pull request the pull-requests phase finished.
    pub last_pull_request: Option<(i64, i32)>,
    /// True if this run was started before and is being resumed.
    pub resumed: bool,
}

/// The unfinished run of `scope`, or a new one.
pub async fn open_run(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Checkpoint, StoreError> {
    let key = scope.key();
    if let Some(row) = client
        .query_opt(
            "SELECT id, phase, last_delivery_id, last_repository_id, last_number
             FROM rebuild_runs WHERE scope = $1 AND finished_at IS NULL",
            &[&key],
        )
        .await?
    {
        let repository: Option<i64> = row.get(3);
        let number: Option<i32> = row.get(4);
        return Ok(Checkpoint {
            run_id: row.get(0),
            phase: Phase::parse(row.get(1)),
            last_delivery_id: row.get(2),
            last_pull_request: repository.zip(number),
            resumed: true,
        });
    }
    let row = client
        .query_one(
            "INSERT INTO rebuild_runs (scope, phase) VALUES ($1, $2) RETURNING id",
            &[&key, &Phase::Deliveries.as_str()],
        )
        .await?;
    Ok(Checkpoint {
        run_id: row.get(0),
        phase: Phase::Deliveries,
        last_delivery_id: None,
        last_pull_request: None,
        resumed: false,
    })
}

/// Stores where the run got to; in the transaction of the work it covers,
/// so the checkpoint and the work commit together.
pub async fn save(client: &impl GenericClient, checkpoint: &Checkpoint) -> Result<(), StoreError> {
    let (repository, number) = checkpoint.last_pull_request.unzip();
    client
        .execute(
            "UPDATE rebuild_runs SET phase = $2, last_delivery_id = $3, last_repository_id = $4,
                 last_number = $5, updated_at = now(),
                 finished_at = CASE WHEN $2 = 'done' THEN now() END
             WHERE id = $1",
            &[
                &checkpoint.run_id,
                &checkpoint.phase.as_str(),
                &checkpoint.last_delivery_id,
                &repository,
                &number,
            ],
        )
        .await?;
    Ok(())
}

/// The repository id of `owner/name` (case-insensitive, as GitHub's names).
pub async fn repository_id(
    client: &impl GenericClient,
    full_name: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT github_id FROM repositories WHERE lower(full_name) = lower($1)",
            &[&full_name],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Ends the unfinished run of `scope` without finishing it, so the next
/// rebuild of that scope starts over.
pub async fn abandon(client: &impl GenericClient, scope: &Scope) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE rebuild_runs SET phase = 'abandoned', finished_at = now(), updated_at = now()
             WHERE scope = $1 AND finished_at IS NULL",
            &[&scope.key()],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_scope_contains_its_repository_since_its_time() {
        let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let scope = Scope {
            repository_id: Some(10),
            since: Some(since),
        };
        assert!(scope.contains(Some(10), since));
        assert!(!scope.contains(Some(11), since));
        assert!(
            !scope.contains(None, since),
            "a team event names no repository"
        );
        assert!(!scope.contains(Some(10), since - chrono::TimeDelta::seconds(1)));
        assert!(Scope::default().contains(None, since));
        assert_ne!(scope.key(), Scope::default().key());
        assert_eq!(Scope::default().key(), "repository=;since=");
    }
}
