//! What the metric rules read and what they produce, for many pull
//! requests in one statement each. The store only loads the facts and saves
//! the metrics; `prpulse_domain::compute_metrics` computes them (the worker
//! calls it in between).

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use prpulse_domain::{PrMetrics, PullRequestFacts, ReviewFact, ReviewState};

use super::PullRequestKey;
use crate::StoreError;

/// Everything stored about one pull request that its metrics follow from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricFacts {
    pub pull_request: PullRequestFacts,
    /// Ordered by (`submitted_at`, review id), as the rules expect.
    pub reviews: Vec<ReviewFact>,
}

const REVIEWS_QUERY: &str = "SELECT r.repository_id, r.pull_request_number,
                    r.reviewer_id, coalesce(m.is_bot, false), r.submitted_at,
                    CASE WHEN r.dismissed THEN 'dismissed'
                         ELSE coalesce(r.submitted_state, 'dismissed') END,
                    r.github_id
             FROM reviews r LEFT JOIN members m ON m.github_id = r.reviewer_id
             WHERE (r.repository_id, r.pull_request_number)
                   IN (SELECT * FROM unnest($1::bigint[], $2::int[]))
             ORDER BY r.repository_id, r.pull_request_number, r.submitted_at, r.github_id";

/// The facts of each pull request of `keys` that exists. Call with the
/// rows locked (the upsert or [`super::lock_pull_requests`] did), so no
/// committed review is missed.
pub async fn load_metric_facts(
    client: &impl GenericClient,
    keys: &[PullRequestKey],
) -> Result<BTreeMap<PullRequestKey, MetricFacts>, StoreError> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (repositories, numbers): (Vec<i64>, Vec<i32>) = keys.iter().copied().unzip();
    let facts_query = client
        .prepare_cached(
            "SELECT repository_id, number, author_id, created_at, opened_as_draft, draft,
                    first_ready_for_review_at, merged_at
             FROM pull_requests
             WHERE (repository_id, number) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))",
        )
        .await?;
    let reviews_query = client.prepare_cached(REVIEWS_QUERY).await?;
    // One round trip: both requests are pipelined.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&repositories, &numbers];
    let (pull_requests, reviews) = futures_util::try_join!(
        client.query(&facts_query, &params),
        client.query(&reviews_query, &params)
    )?;
    let mut facts: BTreeMap<PullRequestKey, MetricFacts> = pull_requests
        .iter()
        .map(|row| {
            let key = (row.get(0), row.get(1));
            let pull_request = PullRequestFacts {
                author_id: row.get(2),
                created_at: row.get(3),
                opened_as_draft: row.get(4),
                draft: row.get(5),
                first_ready_for_review_at: row.get(6),
                merged_at: row.get(7),
            };
            (
                key,
                MetricFacts {
                    pull_request,
                    reviews: Vec::new(),
                },
            )
        })
        .collect();
    for row in reviews {
        let key: PullRequestKey = (row.get(0), row.get(1));
        if let Some(entry) = facts.get_mut(&key) {
            entry.reviews.push(ReviewFact {
                review_id: row.get(6),
                reviewer_id: row.get(2),
                reviewer_is_bot: row.get(3),
                submitted_at: row.get(4),
                state: ReviewState::parse(row.get(5)).unwrap_or(ReviewState::Dismissed),
            });
        }
    }
    Ok(facts)
}

/// Stores each pull request's metrics, in one statement. A row whose
/// metrics did not change is not written: most deliveries (an edit, a
/// push, a comment) leave them as they were, and an unchanged write would
/// still cost a row version, its index entries and the rollup trigger's
/// comparison.
pub async fn save_metrics(
    client: &impl GenericClient,
    metrics: &[(PullRequestKey, PrMetrics)],
) -> Result<(), StoreError> {
    if metrics.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare_cached(
            "UPDATE pull_requests pr SET
                 ready_at = m.ready_at, first_review_at = m.first_review_at,
                 first_approval_at = m.first_approval_at,
                 cycle_time_seconds = m.cycle, review_time_seconds = m.review,
                 pickup_time_seconds = m.pickup, time_to_first_approval_seconds = m.approval,
                 merge_after_approval_seconds = m.merge, review_rounds = m.rounds
             FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[],
                         $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[],
                         $9::bigint[], $10::bigint[], $11::int[])
                  AS m(repository_id, number, ready_at, first_review_at, first_approval_at,
                       cycle, review, pickup, approval, merge, rounds)
             WHERE pr.repository_id = m.repository_id AND pr.number = m.number
               AND (pr.ready_at, pr.first_review_at, pr.first_approval_at,
                    pr.cycle_time_seconds, pr.review_time_seconds, pr.pickup_time_seconds,
                    pr.time_to_first_approval_seconds, pr.merge_after_approval_seconds,
                    pr.review_rounds)
                   IS DISTINCT FROM
                   (m.ready_at, m.first_review_at, m.first_approval_at, m.cycle, m.review,
                    m.pickup, m.approval, m.merge, m.rounds)",
        )
        .await?;
    macro_rules! column {
        ($value:expr) => {
            metrics.iter().map($value).collect::<Vec<_>>()
        };
    }
    client
        .execute(
            &statement,
            &[
                &column!(|((repository, _), _)| *repository),
                &column!(|((_, number), _)| *number),
                &column!(|(_, m)| m.ready_at),
                &column!(|(_, m)| m.first_review_at),
                &column!(|(_, m)| m.first_approval_at),
                &column!(|(_, m)| m.cycle_time_seconds),
                &column!(|(_, m)| m.review_time_seconds),
                &column!(|(_, m)| m.pickup_time_seconds),
                &column!(|(_, m)| m.time_to_first_approval_seconds),
                &column!(|(_, m)| m.merge_after_approval_seconds),
                &column!(|(_, m)| m.review_rounds),
            ],
        )
        .await?;
    Ok(())
}
