//! Upserts of the projection. Each one is written so that applying the
//! same set of rows in any order leaves the same table contents: scalar
//! fields are version-gated, accumulating facts take the minimum or the
//! first known value.

//!
//! Every write takes many rows at once (one statement per table for a
//! worker's batch), and takes row locks in one global order: repositories
//! and members by id, pull requests by (repository, number).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::{PullRequestAction, ReviewState};

use crate::StoreError;

mod entities;
mod metrics;
mod pull_requests;

pub use entities::{
    MemberRow, Repeats, RepositoryRow, confirm_entities, keep_newest, reclassify_members,
    upsert_members, upsert_repositories, upsert_repository,
};
pub use metrics::{MetricFacts, load_metric_facts, save_metrics};
pub use pull_requests::{lock_pull_requests, upsert_pull_requests, upsert_reviews};

pub type Timestamp = DateTime<Utc>;

/// A pull request's identity: (repository id, number).
pub type PullRequestKey = (i64, i32);

#[derive(Clone, Debug)]
pub struct PullRequestRow<'a> {
    pub github_id: i64,
    pub repository_id: i64,
    pub number: i32,
    pub author_id: Option<i64>,
    /// 1 for a full `pull_request` payload, 0 for the reduced copy inside
    /// a review payload: gates the fields only full payloads carry (sizes).
    pub version_rank: i16,
    /// The payload's own time (`updated_at`).
    pub version_at: Timestamp,
    pub version_delivery: &'a str,
    /// Breaks same-second ties between payloads for the fields reduced
    /// copies carry too (title, state, draft, closed_at, author, branches):
    /// see [`carried_rank`].
    pub carried_rank: i16,
    pub title: Option<&'a str>,
    pub state: &'a str,
    /// `None` when the payload does not say (a reduced copy without it).
    pub draft: Option<bool>,
    pub closed_at: Option<Timestamp>,
    pub additions: Option<i32>,
    pub deletions: Option<i32>,
    pub changed_files: Option<i32>,
    pub head_ref: Option<&'a str>,
    pub base_ref: Option<&'a str>,
    pub created_at: Timestamp,
    pub merged_at: Option<Timestamp>,
    /// Set only from an `opened` delivery.
    pub opened_as_draft: Option<bool>,
    /// Set only from a `ready_for_review` delivery.
    pub ready_for_review_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub struct ReviewRow {
    pub github_id: i64,
    pub repository_id: i64,
    pub pull_request_number: i32,
    pub reviewer_id: Option<i64>,
    /// `None` when the delivery does not tell the submitted state
    /// (a dismissal).
    pub submitted_state: Option<ReviewState>,
    pub dismissed: bool,
    pub submitted_at: Option<Timestamp>,
}

impl PullRequestRow<'_> {
    pub fn key(&self) -> PullRequestKey {
        (self.repository_id, self.number)
    }
}

/// One pull request's upsert: [`upsert_pull_requests`] with one row.
pub async fn upsert_pull_request(
    client: &impl GenericClient,
    row: &PullRequestRow<'_>,
) -> Result<(), StoreError> {
    upsert_pull_requests(client, std::slice::from_ref(row), &[]).await
}

/// The same-second tie rank of a payload's carried scalars. GitHub's
/// `updated_at` has one-second precision, so two deliveries of one second
/// can disagree; this follows what GitHub's events mean: a `reopened`
/// comes after a close (3); a payload closed in that very second
/// (`closed_at` = `updated_at`) shows the close, which the others of that
/// second may predate (2); a full `pull_request` payload is the change
/// itself (1); a review's reduced copy (0) may predate a change of that
/// second. Equal ranks fall back on the delivery id (arbitrary, but the
/// same in any order).
pub fn carried_rank(
    action: Option<&PullRequestAction>,
    full: bool,
    state: &str,
    closed_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
) -> i16 {
    if full && action == Some(&PullRequestAction::Reopened) {
        3
    } else if state == "closed" && closed_at.is_some() && closed_at == updated_at {
        2
    } else if full {
        1
    } else {
        0
    }
}

/// One review's upsert: [`upsert_reviews`] with one row.
pub async fn upsert_review(client: &impl GenericClient, row: &ReviewRow) -> Result<(), StoreError> {
    upsert_reviews(client, std::slice::from_ref(row)).await
}

/// The pull requests (repository id, number) that any of `reviewers` reviewed.
pub async fn reviewed_by(
    client: &impl GenericClient,
    reviewers: &[i64],
) -> Result<Vec<PullRequestKey>, StoreError> {
    if reviewers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(client
        .query(
            "SELECT DISTINCT repository_id, pull_request_number FROM reviews
             WHERE reviewer_id = ANY($1) ORDER BY 1, 2",
            &[&reviewers],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> Option<Timestamp> {
        Some(Utc.with_ymd_and_hms(2026, 4, 6, 9, 0, second).unwrap())
    }

    #[test]
    fn the_tie_rank_follows_what_githubs_events_mean() {
        let reopened = carried_rank(
            Some(&PullRequestAction::Reopened),
            true,
            "open",
            None,
            at(0),
        );
        let closed_then = carried_rank(
            Some(&PullRequestAction::Closed),
            true,
            "closed",
            at(0),
            at(0),
        );
        let closed_review = carried_rank(None, false, "closed", at(0), at(0));
        let edited = carried_rank(Some(&PullRequestAction::Edited), true, "open", None, at(0));
        let review = carried_rank(None, false, "open", None, at(0));
        assert!(reopened > closed_then);
        assert_eq!(closed_then, closed_review);
        assert!(closed_review > edited);
        assert!(edited > review);
        // Closed earlier and edited now: the edit is the change of this second.
        assert_eq!(
            carried_rank(
                Some(&PullRequestAction::Edited),
                true,
                "closed",
                at(0),
                at(5)
            ),
            edited
        );
    }

    #[test]
    fn the_newest_fact_wins_and_timeless_facts_never_beat_dated_ones() {
        let old = MemberRow {
            github_id: 1,
            login: "ada",
            user_type: Some("User"),
            is_bot: false,
            observed_at: at(0),
        };
        let renamed = MemberRow {
            login: "ada-l",
            observed_at: at(9),
            ..old.clone()
        };
        let timeless = MemberRow {
            login: "zz-from-a-membership-event",
            observed_at: None,
            ..old.clone()
        };
        let mut rows = std::collections::BTreeMap::new();
        for row in [renamed.clone(), timeless, old] {
            keep_newest(&mut rows, row.github_id, row, |new, old| {
                new.version() > old.version()
            });
        }
        assert_eq!(rows[&1], renamed);
    }
}
