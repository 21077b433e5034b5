//! Upserts of the projection. Each one is written so that applying the
//! same set of rows in any order leaves the same table contents: scalar
//! fields are version-gated, accumulating facts take the minimum or the
//! first known value.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use prpulse_domain::{BotPolicy, PullRequestFacts, ReviewFact, ReviewState, compute_metrics};

use crate::StoreError;

pub type Timestamp = DateTime<Utc>;

#[derive(Clone, Debug)]
pub struct MemberRow<'a> {
    pub github_id: i64,
    pub login: &'a str,
    pub user_type: Option<&'a str>,
    pub is_bot: bool,
}

impl<'a> MemberRow<'a> {
    /// A GitHub account as a payload or the API shows it, a bot or not as
    /// `bots` decides.
    pub fn classified(
        github_id: i64,
        login: &'a str,
        user_type: Option<&'a str>,
        bots: &BotPolicy,
    ) -> Self {
        Self {
            github_id,
            login,
            user_type,
            is_bot: bots.is_bot(login, user_type),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PullRequestRow<'a> {
    pub github_id: i64,
    pub repository_id: i64,
    pub number: i32,
    pub author_id: Option<i64>,
    /// 1 for a full `pull_request` payload, 0 for the reduced copy inside
    /// a review payload.
    pub version_rank: i16,
    pub version_at: Timestamp,
    pub version_delivery: &'a str,
    pub title: Option<&'a str>,
    pub state: &'a str,
    pub draft: bool,
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

pub async fn upsert_repository(
    client: &impl GenericClient,
    github_id: i64,
    full_name: &str,
) -> Result<(), StoreError> {
    // Not `INSERT … ON CONFLICT DO UPDATE … WHERE changed`: that locks the
    // existing row even when the WHERE is false, until commit, so every
    // delivery of a repository queued behind the one before. An UPDATE
    // whose WHERE is false locks nothing.
    let statement = client
        .prepare_cached(
            "WITH updated AS (
                 UPDATE repositories SET full_name = $2, updated_at = now()
                 WHERE github_id = $1 AND full_name IS DISTINCT FROM $2
                 RETURNING 1),
             inserted AS (
                 INSERT INTO repositories (github_id, full_name)
                 SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM repositories WHERE github_id = $1)
                 ON CONFLICT (github_id) DO NOTHING
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM repositories WHERE github_id = $1)
                    OR EXISTS (SELECT 1 FROM updated) OR EXISTS (SELECT 1 FROM inserted)",
        )
        .await?;
    let settled: bool = client
        .query_one(&statement, &[&github_id, &full_name])
        .await?
        .get(0);
    if !settled {
        // Another transaction inserted it since our snapshot: its row is
        // committed now, so update it as the later writer.
        let update = client
            .prepare_cached(
                "UPDATE repositories SET full_name = $2, updated_at = now()
                 WHERE github_id = $1 AND full_name IS DISTINCT FROM $2",
            )
            .await?;
        client.execute(&update, &[&github_id, &full_name]).await?;
    }
    Ok(())
}

/// Upserts members in ascending id order, so that two transactions that
/// touch the same people lock them in the same order and cannot deadlock.
pub async fn upsert_members(
    client: &impl GenericClient,
    members: &mut [MemberRow<'_>],
) -> Result<(), StoreError> {
    members.sort_by_key(|member| member.github_id);
    // As for repositories: an unchanged member is not locked.
    let statement = client
        .prepare_cached(
            "WITH updated AS (
                 UPDATE members SET login = $2, user_type = $3, is_bot = $4, updated_at = now()
                 WHERE github_id = $1
                   AND (login, user_type, is_bot) IS DISTINCT FROM ($2, $3, $4)
                 RETURNING 1),
             inserted AS (
                 INSERT INTO members (github_id, login, user_type, is_bot)
                 SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM members WHERE github_id = $1)
                 ON CONFLICT (github_id) DO NOTHING
                 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM members WHERE github_id = $1)
                    OR EXISTS (SELECT 1 FROM updated) OR EXISTS (SELECT 1 FROM inserted)",
        )
        .await?;
    let update = client
        .prepare_cached(
            "UPDATE members SET login = $2, user_type = $3, is_bot = $4, updated_at = now()
             WHERE github_id = $1
               AND (login, user_type, is_bot) IS DISTINCT FROM ($2, $3, $4)",
        )
        .await?;
    let mut previous = None;
    for member in members.iter() {
        if previous == Some(member.github_id) {
            continue;
        }
        previous = Some(member.github_id);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &member.github_id,
            &member.login,
            &member.user_type,
            &member.is_bot,
        ];
        let settled: bool = client.query_one(&statement, &params).await?.get(0);
        if !settled {
            // Inserted by another transaction since our snapshot.
            client.execute(&update, &params).await?;
        }
    }
    Ok(())
}

/// Upserts the pull request and leaves its row locked until the
/// transaction ends, so concurrent deliveries of one pull request apply
/// one after the other and each metrics refresh sees all committed facts.
pub async fn upsert_pull_request(
    client: &impl GenericClient,
    row: &PullRequestRow<'_>,
) -> Result<(), StoreError> {
    let versioned = client
        .prepare_cached(
            "INSERT INTO pull_requests AS pr (
                 github_id, repository_id, number, author_id,
                 version_rank, version_at, version_delivery,
                 title, state, draft, closed_at, additions, deletions, changed_files,
                 head_ref, base_ref, created_at, merged_at,
                 opened_as_draft, first_ready_for_review_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     $15, $16, $17, $18, $19, $20)
             ON CONFLICT (repository_id, number) DO UPDATE SET
                 author_id = coalesce(EXCLUDED.author_id, pr.author_id),
                 version_rank = EXCLUDED.version_rank,
                 version_at = EXCLUDED.version_at,
                 version_delivery = EXCLUDED.version_delivery,
                 title = EXCLUDED.title,
                 state = EXCLUDED.state,
                 draft = EXCLUDED.draft,
                 closed_at = EXCLUDED.closed_at,
                 additions = coalesce(EXCLUDED.additions, pr.additions),
                 deletions = coalesce(EXCLUDED.deletions, pr.deletions),
                 changed_files = coalesce(EXCLUDED.changed_files, pr.changed_files),
                 head_ref = coalesce(EXCLUDED.head_ref, pr.head_ref),
                 base_ref = coalesce(EXCLUDED.base_ref, pr.base_ref)
             WHERE (EXCLUDED.version_rank, EXCLUDED.version_at, EXCLUDED.version_delivery)
                 > (pr.version_rank, pr.version_at, pr.version_delivery)",
        )
        .await?;
    client
        .execute(
            &versioned,
            &[
                &row.github_id,
                &row.repository_id,
                &row.number,
                &row.author_id,
                &row.version_rank,
                &row.version_at,
                &row.version_delivery,
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
            ],
        )
        .await?;
    // Facts that only accumulate are applied whatever the version; this
    // UPDATE also takes the row lock when the upsert above changed nothing.
    let accumulated = client
        .prepare_cached(
            "UPDATE pull_requests SET
                 github_id = least(github_id, $3),
                 created_at = least(created_at, $4),
                 merged_at = least(merged_at, $5),
                 opened_as_draft = coalesce(opened_as_draft, $6),
                 first_ready_for_review_at = least(first_ready_for_review_at, $7)
             WHERE repository_id = $1 AND number = $2",
        )
        .await?;
    client
        .execute(
            &accumulated,
            &[
                &row.repository_id,
                &row.number,
                &row.github_id,
                &row.created_at,
                &row.merged_at,
                &row.opened_as_draft,
                &row.ready_for_review_at,
            ],
        )
        .await?;
    Ok(())
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
                         ELSE coalesce(r.submitted_state, 'dismissed') END
             FROM reviews r LEFT JOIN members m ON m.github_id = r.reviewer_id
             WHERE r.repository_id = $1 AND r.pull_request_number = $2",
        )
        .await?;
    let reviews: Vec<ReviewFact> = client
        .query(&reviews_query, &[&repository_id, &number])
        .await?
        .iter()
        .map(|row| ReviewFact {
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
