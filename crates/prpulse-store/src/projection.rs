//! Upserts of the projection. Each one is written so that applying the
//! same set of rows in any order leaves the same table contents: scalar
//! fields are version-gated, accumulating facts take the minimum or the
//! first known value.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::{PullRequestFacts, ReviewFact, ReviewState, compute_metrics};

use crate::StoreError;

mod entities;

pub use entities::{
    MemberRow, RepositoryRow, keep_newest, reclassify_members, upsert_members, upsert_repository,
};

pub type Timestamp = DateTime<Utc>;

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

/// Upserts the pull request and leaves its row locked until the
/// transaction ends, so concurrent deliveries of one pull request apply
/// one after the other and each metrics refresh sees all committed facts.
pub async fn upsert_pull_request(
    client: &impl GenericClient,
    row: &PullRequestRow<'_>,
) -> Result<(), StoreError> {
    let insert = client
        .prepare_cached(
            "INSERT INTO pull_requests (
                 github_id, repository_id, number, author_id,
                 version_rank, version_at, version_delivery,
                 carried_rank, carried_at, carried_delivery,
                 title, state, draft, closed_at, additions, deletions, changed_files,
                 head_ref, base_ref, created_at, merged_at,
                 opened_as_draft, first_ready_for_review_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $7, $9, $10, coalesce($11, false),
                     $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
             ON CONFLICT (repository_id, number) DO NOTHING",
        )
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 21] = [
        &row.github_id,
        &row.repository_id,
        &row.number,
        &row.author_id,
        &row.version_rank,
        &row.version_at,
        &row.version_delivery,
        &row.carried_rank,
        &row.title,
        &row.state,
        &row.draft,
        &row.closed_at,
        &row.additions,
        &row.deletions,
        &row.changed_files,
        &row.head_ref,
        &row.base_ref,
        &row.created_at,
        &row.merged_at,
        &row.opened_as_draft,
        &row.ready_for_review_at,
    ];
    if client.execute(&insert, &params).await? == 1 {
        // Inserted: the row is ours (locked) and holds every fact already.
        return Ok(());
    }
    // Every delivery of the pull request takes its row lock here, also when
    // nothing changes. Each group of scalars is replaced only by a newer
    // version of that group; accumulated facts apply whatever the version.
    let update = client.prepare_cached(&UPDATE_STATEMENT).await?;
    client.execute(&update, &params).await?;
    Ok(())
}

/// The UPDATE half of [`upsert_pull_request`], with the parameters of its
/// INSERT.
static UPDATE_STATEMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(update_statement);

fn update_statement() -> String {
    let carried = "($6, $8, $7) > (pr.carried_at, pr.carried_rank, pr.carried_delivery)";
    let full = "($5, $6, $7) > (pr.version_rank, pr.version_at, pr.version_delivery)";
    let newer = |group: &str, column: &str, value: &str| {
        format!("{column} = CASE WHEN {group} THEN {value} ELSE pr.{column} END")
    };
    let sets = [
        newer(carried, "carried_rank", "$8"),
        newer(carried, "carried_at", "$6"),
        newer(carried, "carried_delivery", "$7"),
        // A deleted author shows as null in some payloads: keep who it was.
        newer(carried, "author_id", "coalesce($4, pr.author_id)"),
        newer(carried, "title", "coalesce($9, pr.title)"),
        newer(carried, "state", "$10"),
        newer(carried, "draft", "coalesce($11, pr.draft)"),
        newer(carried, "closed_at", "$12"),
        newer(carried, "head_ref", "coalesce($16, pr.head_ref)"),
        newer(carried, "base_ref", "coalesce($17, pr.base_ref)"),
        newer(full, "version_rank", "$5"),
        newer(full, "version_at", "$6"),
        newer(full, "version_delivery", "$7"),
        newer(full, "additions", "coalesce($13, pr.additions)"),
        newer(full, "deletions", "coalesce($14, pr.deletions)"),
        newer(full, "changed_files", "coalesce($15, pr.changed_files)"),
        "github_id = least(pr.github_id, $1)".to_owned(),
        "created_at = least(pr.created_at, $18)".to_owned(),
        "merged_at = least(pr.merged_at, $19)".to_owned(),
        "opened_as_draft = coalesce(pr.opened_as_draft, $20)".to_owned(),
        "first_ready_for_review_at = least(pr.first_ready_for_review_at, $21)".to_owned(),
    ];
    format!(
        "UPDATE pull_requests AS pr SET {} WHERE repository_id = $2 AND number = $3",
        sets.join(", ")
    )
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
    action: Option<&str>,
    full: bool,
    state: &str,
    closed_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
) -> i16 {
    if full && action == Some("reopened") {
        3
    } else if state == "closed" && closed_at.is_some() && closed_at == updated_at {
        2
    } else if full {
        1
    } else {
        0
    }
}

pub async fn upsert_review(client: &impl GenericClient, row: &ReviewRow) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO reviews AS r
                 (github_id, repository_id, pull_request_number, reviewer_id,
                  submitted_state, dismissed, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (github_id) DO UPDATE SET
                 reviewer_id = coalesce(r.reviewer_id, EXCLUDED.reviewer_id),
                 submitted_state = coalesce(r.submitted_state, EXCLUDED.submitted_state),
                 dismissed = r.dismissed OR EXCLUDED.dismissed,
                 submitted_at = least(r.submitted_at, EXCLUDED.submitted_at)",
        )
        .await?;
    let state = row.submitted_state.map(ReviewState::as_str);
    client
        .execute(
            &statement,
            &[
                &row.github_id,
                &row.repository_id,
                &row.pull_request_number,
                &row.reviewer_id,
                &state,
                &row.dismissed,
                &row.submitted_at,
            ],
        )
        .await?;
    Ok(())
}

/// Recomputes the pull request's metrics from everything stored about it.
/// Call after [`upsert_pull_request`] in the same transaction (it holds
/// the row lock that makes this see every committed review).
pub async fn refresh_metrics(
    client: &impl GenericClient,
    repository_id: i64,
    number: i32,
) -> Result<(), StoreError> {
    let facts_query = client
        .prepare_cached(
            "SELECT author_id, created_at, opened_as_draft, draft,
                    first_ready_for_review_at, merged_at
             FROM pull_requests WHERE repository_id = $1 AND number = $2",
        )
        .await?;
    let row = client
        .query_one(&facts_query, &[&repository_id, &number])
        .await?;
    let facts = PullRequestFacts {
        author_id: row.get(0),
        created_at: row.get(1),
        opened_as_draft: row.get(2),
        draft: row.get(3),
        first_ready_for_review_at: row.get(4),
        merged_at: row.get(5),
    };
    let reviews_query = client
        .prepare_cached(
            "SELECT r.reviewer_id, coalesce(m.is_bot, false), r.submitted_at,
                    CASE WHEN r.dismissed THEN 'dismissed'
                         ELSE coalesce(r.submitted_state, 'dismissed') END,
                    r.github_id
             FROM reviews r LEFT JOIN members m ON m.github_id = r.reviewer_id
             WHERE r.repository_id = $1 AND r.pull_request_number = $2
             ORDER BY r.submitted_at, r.github_id",
        )
        .await?;
    let reviews: Vec<ReviewFact> = client
        .query(&reviews_query, &[&repository_id, &number])
        .await?
        .iter()
        .map(|row| ReviewFact {
            review_id: row.get(4),
            reviewer_id: row.get(0),
            reviewer_is_bot: row.get(1),
            submitted_at: row.get(2),
            state: ReviewState::parse(row.get(3)).unwrap_or(ReviewState::Dismissed),
        })
        .collect();
    let metrics = compute_metrics(&facts, &reviews);
    let update = client
        .prepare_cached(
            "UPDATE pull_requests SET
                 ready_at = $3, first_review_at = $4, first_approval_at = $5,
                 cycle_time_seconds = $6, review_time_seconds = $7, pickup_time_seconds = $8,
                 time_to_first_approval_seconds = $9, merge_after_approval_seconds = $10,
                 review_rounds = $11
             WHERE repository_id = $1 AND number = $2",
        )
        .await?;
    client
        .execute(
            &update,
            &[
                &repository_id,
                &number,
                &metrics.ready_at,
                &metrics.first_review_at,
                &metrics.first_approval_at,
                &metrics.cycle_time_seconds,
                &metrics.review_time_seconds,
                &metrics.pickup_time_seconds,
                &metrics.time_to_first_approval_seconds,
                &metrics.merge_after_approval_seconds,
                &metrics.review_rounds,
            ],
        )
        .await?;
    Ok(())
}

/// Locks the pull request's row and recomputes its metrics: for a pull
/// request no delivery touched, whose reviewer became (or stopped being) a
/// bot. Nothing happens if it does not exist.
pub async fn lock_and_refresh_metrics(
    client: &impl GenericClient,
    repository_id: i64,
    number: i32,
) -> Result<(), StoreError> {
    let lock = client
        .prepare_cached(
            "SELECT 1 FROM pull_requests WHERE repository_id = $1 AND number = $2 FOR UPDATE",
        )
        .await?;
    if client
        .query_opt(&lock, &[&repository_id, &number])
        .await?
        .is_some()
    {
        refresh_metrics(client, repository_id, number).await?;
    }
    Ok(())
}

/// The pull requests (repository id, number) that any of `reviewers` reviewed.
pub async fn reviewed_by(
    client: &impl GenericClient,
    reviewers: &[i64],
) -> Result<Vec<(i64, i32)>, StoreError> {
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
        let reopened = carried_rank(Some("reopened"), true, "open", None, at(0));
        let closed_then = carried_rank(Some("closed"), true, "closed", at(0), at(0));
        let closed_review = carried_rank(None, false, "closed", at(0), at(0));
        let edited = carried_rank(Some("edited"), true, "open", None, at(0));
        let review = carried_rank(None, false, "open", None, at(0));
        assert!(reopened > closed_then);
        assert_eq!(closed_then, closed_review);
        assert!(closed_review > edited);
        assert!(edited > review);
        // Closed earlier and edited now: the edit is the change of this second.
        assert_eq!(
            carried_rank(Some("edited"), true, "closed", at(0), at(5)),
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
