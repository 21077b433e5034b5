//! Properties of the metric rules over arbitrary pull requests and reviews.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

const AUTHOR: i64 = 1;

fn minutes(offset: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + chrono::Duration::minutes(offset)
}

fn state() -> impl Strategy<Value = ReviewState> {
    prop_oneof![
        Just(ReviewState::Approved),
        Just(ReviewState::ChangesRequested),
        Just(ReviewState::Commented),
        Just(ReviewState::Dismissed),
    ]
}

fn review() -> impl Strategy<Value = ReviewFact> {
    (
        prop::option::of(1i64..5),
        any::<bool>(),
        prop::option::of(-100i64..10_000),
        state(),
    )
        .prop_map(|(reviewer_id, reviewer_is_bot, at, state)| ReviewFact {
            reviewer_id,
            reviewer_is_bot,
            submitted_at: at.map(minutes),
            state,
        })
}

fn pull_request() -> impl Strategy<Value = PullRequestFacts> {
    (
        prop::option::of(any::<bool>()),
        any::<bool>(),
        prop::option::of(-100i64..10_000),
        prop::option::of(-100i64..10_000),
    )
        .prop_map(|(opened_as_draft, draft, ready, merged)| PullRequestFacts {
            author_id: Some(AUTHOR),
            created_at: minutes(0),
            opened_as_draft,
            draft,
            first_ready_for_review_at: ready.map(minutes),
            merged_at: merged.map(minutes),
        })
}

proptest! {
    #[test]
    fn the_order_of_reviews_never_matters(
        pr in pull_request(),
        reviews in prop::collection::vec(review(), 0..8).prop_shuffle(),
    ) {
        let mut sorted = reviews.clone();
        sorted.sort_by_key(|review| (review.submitted_at, review.reviewer_id, review.state.as_str()));
        prop_assert_eq!(compute_metrics(&pr, &reviews), compute_metrics(&pr, &sorted));
    }

    #[test]
    fn spans_are_never_negative(
        pr in pull_request(),
        reviews in prop::collection::vec(review(), 0..8),
    ) {
        for span in compute_metrics(&pr, &reviews).spans().into_iter().flatten() {
            prop_assert!(span >= 0);
        }
    }

    #[test]
    fn the_first_review_is_the_earliest_human_review_by_someone_else(
        pr in pull_request(),
        reviews in prop::collection::vec(review(), 0..8),
    ) {
        let metrics = compute_metrics(&pr, &reviews);
        let counted: Vec<&ReviewFact> = reviews
            .iter()
            .filter(|r| !r.reviewer_is_bot && r.reviewer_id != Some(AUTHOR) && r.submitted_at.is_some())
            .collect();
        prop_assert_eq!(metrics.first_review_at, counted.iter().filter_map(|r| r.submitted_at).min());
        prop_assert_eq!(metrics.review_rounds == 0, counted.is_empty());
        if let Some(approval) = metrics.first_approval_at {
            prop_assert!(metrics.first_review_at.is_some_and(|first| first <= approval));
        }
    }
}
