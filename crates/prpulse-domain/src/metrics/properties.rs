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

/// Times from a small range, so that reviews often share a minute (the
/// tie that the review id breaks); ids are made unique by [`reviews`].
fn review() -> impl Strategy<Value = ReviewFact> {
    (
        prop::option::of(prop_oneof![1i64..5, Just(GHOST_USER_ID)]),
        any::<bool>(),
        prop::option::of(prop_oneof![-100i64..10_000, 0i64..4]),
        state(),
    )
        .prop_map(|(reviewer_id, reviewer_is_bot, at, state)| ReviewFact {
            review_id: 0,
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

fn reviews() -> impl Strategy<Value = Vec<ReviewFact>> {
    prop::collection::vec(review(), 0..8).prop_map(|mut reviews| {
        for (id, review) in reviews.iter_mut().enumerate() {
            review.review_id = id as i64 * 7 % 11;
        }
        reviews
    })
}

proptest! {
    #[test]
    fn the_order_of_reviews_never_matters(
        pr in pull_request(),
        reviews in reviews().prop_shuffle(),
    ) {
        let mut sorted = reviews.clone();
        sorted.sort_by_key(|review| review.review_id);
        prop_assert_eq!(compute_metrics(&pr, &reviews), compute_metrics(&pr, &sorted));
    }

    #[test]
    fn spans_are_never_negative(
        pr in pull_request(),
        reviews in reviews(),
    ) {
        for span in compute_metrics(&pr, &reviews).spans().into_iter().flatten() {
            prop_assert!(span >= 0);
        }
    }

    #[test]
    fn the_first_review_is_the_earliest_human_review_by_someone_else(
        pr in pull_request(),
        reviews in reviews(),
    ) {
        let metrics = compute_metrics(&pr, &reviews);
        let counted: Vec<&ReviewFact> = reviews
            .iter()
            .filter(|r| !r.reviewer_is_bot && r.reviewer_id != Some(AUTHOR) && r.submitted_at.is_some())
            .collect();
        // Pickup is measured to the first counted review at or after ready.
        let ready_pickup = metrics.ready_at.and_then(|ready| {
            counted.iter().filter_map(|r| r.submitted_at).filter(|at| *at >= ready).min()
        });
        prop_assert_eq!(
            metrics.pickup_time_seconds,
            metrics.ready_at.zip(ready_pickup).map(|(ready, at)| (at - ready).num_seconds())
        );
        prop_assert_eq!(metrics.first_review_at, counted.iter().filter_map(|r| r.submitted_at).min());
        prop_assert_eq!(metrics.review_rounds == 0, counted.is_empty());
        if let Some(approval) = metrics.first_approval_at {
            prop_assert!(metrics.first_review_at.is_some_and(|first| first <= approval));
        }
    }
}
