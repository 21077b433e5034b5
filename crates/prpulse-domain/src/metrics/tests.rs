use super::*;
use chrono::TimeZone;

const AUTHOR: i64 = 1;
const ALICE: i64 = 2;
const BOB: i64 = 3;
const BOT: i64 = 99;

/// Minutes after a fixed start, so each case reads as a timeline.
fn at(minutes: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn opened() -> PullRequestFacts {
    PullRequestFacts {
        author_id: Some(AUTHOR),
        created_at: at(0),
        opened_as_draft: Some(false),
        draft: false,
        first_ready_for_review_at: None,
        merged_at: None,
    }
}

/// Review ids grow with time, as GitHub's do.
fn review(reviewer: i64, minutes: i64, state: ReviewState) -> ReviewFact {
    ReviewFact {
        review_id: minutes * 100 + reviewer,
        reviewer_id: Some(reviewer),
        reviewer_is_bot: reviewer == BOT,
        submitted_at: Some(at(minutes)),
        state,
    }
}

#[test]
fn merged_pull_request_with_one_approval() {
    let pr = PullRequestFacts {
        merged_at: Some(at(120)),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(ALICE, 30, ReviewState::Approved)]);
    assert_eq!(metrics.ready_at, Some(at(0)));
    assert_eq!(metrics.first_review_at, Some(at(30)));
    assert_eq!(metrics.first_approval_at, Some(at(30)));
    assert_eq!(metrics.cycle_time_seconds, Some(120 * 60));
    assert_eq!(metrics.review_time_seconds, Some(30 * 60));
    assert_eq!(metrics.pickup_time_seconds, Some(30 * 60));
    assert_eq!(metrics.time_to_first_approval_seconds, Some(30 * 60));
    assert_eq!(metrics.merge_after_approval_seconds, Some(90 * 60));
    assert_eq!(metrics.review_rounds, 1);
}

#[test]
fn open_unreviewed_pull_request_has_no_spans_rather_than_zero() {
    let metrics = compute_metrics(&opened(), &[]);
    assert_eq!(
        metrics,
        PrMetrics {
            ready_at: Some(at(0)),
            ..PrMetrics::default()
        }
    );
}

#[test]
fn closed_without_merge_has_no_cycle_time() {
    let metrics = compute_metrics(&opened(), &[review(ALICE, 10, ReviewState::Commented)]);
    assert_eq!(metrics.cycle_time_seconds, None);
    assert_eq!(metrics.review_time_seconds, Some(10 * 60));
}

#[test]
fn first_review_is_the_earliest_whatever_the_order_given() {
    let reviews = [
        review(BOB, 50, ReviewState::Approved),
        review(ALICE, 20, ReviewState::Commented),
        review(ALICE, 40, ReviewState::ChangesRequested),
    ];
    let mut reversed = reviews.clone();
    reversed.reverse();
    let metrics = compute_metrics(&opened(), &reviews);
    assert_eq!(metrics, compute_metrics(&opened(), &reversed));
    assert_eq!(metrics.first_review_at, Some(at(20)));
    assert_eq!(metrics.first_approval_at, Some(at(50)));
}

#[test]
fn self_reviews_do_not_count() {
    let metrics = compute_metrics(
        &opened(),
        &[
            review(AUTHOR, 5, ReviewState::Commented),
            review(ALICE, 45, ReviewState::Approved),
        ],
    );
    assert_eq!(metrics.first_review_at, Some(at(45)));
    assert_eq!(metrics.review_time_seconds, Some(45 * 60));
}

#[test]
fn only_a_self_review_means_no_review() {
    let metrics = compute_metrics(&opened(), &[review(AUTHOR, 5, ReviewState::Approved)]);
    assert_eq!(metrics.first_review_at, None);
    assert_eq!(metrics.first_approval_at, None);
    assert_eq!(metrics.review_rounds, 0);
}

#[test]
fn bot_reviews_never_count_as_first_review() {
    let metrics = compute_metrics(
        &opened(),
        &[
            review(BOT, 1, ReviewState::Approved),
            review(ALICE, 60, ReviewState::Commented),
        ],
    );
    assert_eq!(metrics.first_review_at, Some(at(60)));
    assert_eq!(metrics.first_approval_at, None);
}

#[test]
fn a_dismissed_review_still_happened() {
    let dismissed_only = ReviewFact {
        review_id: 1,
        state: ReviewState::Dismissed,
        ..review(ALICE, 15, ReviewState::Dismissed)
    };
    let metrics = compute_metrics(&opened(), &[dismissed_only]);
    assert_eq!(metrics.first_review_at, Some(at(15)));
    assert_eq!(metrics.first_approval_at, None);
}

#[test]
fn ghost_reviewer_counts_and_ghost_author_is_not_self_review() {
    let ghost = ReviewFact {
        reviewer_id: None,
        ..review(ALICE, 7, ReviewState::Commented)
    };
    let pr = PullRequestFacts {
        author_id: None,
        ..opened()
    };
    assert_eq!(
        compute_metrics(&pr, std::slice::from_ref(&ghost)).first_review_at,
        Some(at(7))
    );
    assert_eq!(
        compute_metrics(&opened(), &[ghost]).first_review_at,
        Some(at(7))
    );
}

#[test]
fn review_without_submission_time_is_ignored() {
    let pending = ReviewFact {
        submitted_at: None,
        ..review(ALICE, 0, ReviewState::Commented)
    };
    assert_eq!(compute_metrics(&opened(), &[pending]).first_review_at, None);
}

#[test]
fn draft_time_counts_in_review_time_but_not_in_pickup_time() {
    let pr = PullRequestFacts {
        opened_as_draft: Some(true),
        first_ready_for_review_at: Some(at(100)),
        merged_at: Some(at(300)),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(ALICE, 130, ReviewState::Approved)]);
    assert_eq!(metrics.ready_at, Some(at(100)));
    assert_eq!(metrics.review_time_seconds, Some(130 * 60));
    assert_eq!(metrics.pickup_time_seconds, Some(30 * 60));
    assert_eq!(metrics.time_to_first_approval_seconds, Some(30 * 60));
    assert_eq!(metrics.cycle_time_seconds, Some(300 * 60));
}

#[test]
fn a_review_while_still_a_draft_does_not_hide_the_pickup_after_ready() {
    // Reviewed at 10 while a draft, made ready at 100, reviewed at 130.
    let pr = PullRequestFacts {
        opened_as_draft: Some(true),
        first_ready_for_review_at: Some(at(100)),
        ..opened()
    };
    let reviews = [
        review(ALICE, 10, ReviewState::Approved),
        review(BOB, 130, ReviewState::Approved),
    ];
    let metrics = compute_metrics(&pr, &reviews);
    assert_eq!(metrics.first_review_at, Some(at(10)));
    assert_eq!(metrics.review_time_seconds, Some(10 * 60));
    assert_eq!(metrics.pickup_time_seconds, Some(30 * 60));
    assert_eq!(metrics.first_approval_at, Some(at(10)));
    assert_eq!(metrics.time_to_first_approval_seconds, Some(30 * 60));
    // Only draft-time reviews: no pickup yet.
    let metrics = compute_metrics(&pr, &reviews[..1]);
    assert_eq!(metrics.pickup_time_seconds, None);
    assert_eq!(metrics.time_to_first_approval_seconds, None);
}

#[test]
fn a_review_in_the_second_it_was_made_ready_is_a_pickup_of_zero() {
    let pr = PullRequestFacts {
        opened_as_draft: Some(true),
        first_ready_for_review_at: Some(at(100)),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(ALICE, 100, ReviewState::Commented)]);
    assert_eq!(metrics.pickup_time_seconds, Some(0));
}

#[test]
fn a_ghost_reviewing_a_ghosts_pull_request_is_a_review() {
    let pr = PullRequestFacts {
        author_id: Some(GHOST_USER_ID),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(GHOST_USER_ID, 7, ReviewState::Approved)]);
    assert_eq!(metrics.first_review_at, Some(at(7)));
    assert_eq!(metrics.first_approval_at, Some(at(7)));
    // Anyone else reviewing their own pull request is still no review.
    let metrics = compute_metrics(&opened(), &[review(AUTHOR, 7, ReviewState::Approved)]);
    assert_eq!(metrics.first_review_at, None);
}

#[test]
fn reviews_in_the_same_second_are_ordered_by_review_id() {
    // Changes requested and an approval in one second: by id the approval
    // came last, so the request was answered (within that second) or not.
    let request = ReviewFact {
        review_id: 7,
        ..review(ALICE, 10, ReviewState::ChangesRequested)
    };
    let approval = ReviewFact {
        review_id: 8,
        ..review(BOB, 10, ReviewState::Approved)
    };
    let answered = [approval.clone(), request.clone()];
    assert_eq!(compute_metrics(&opened(), &answered).review_rounds, 2);
    let unanswered = [
        ReviewFact {
            review_id: 9,
            ..request
        },
        approval,
    ];
    assert_eq!(compute_metrics(&opened(), &unanswered).review_rounds, 1);
}

#[test]
fn draft_never_made_ready_has_no_ready_at() {
    let pr = PullRequestFacts {
        opened_as_draft: Some(true),
        draft: true,
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(ALICE, 10, ReviewState::Commented)]);
    assert_eq!(metrics.ready_at, None);
    assert_eq!(metrics.pickup_time_seconds, None);
    assert_eq!(metrics.review_time_seconds, Some(10 * 60));
}

#[test]
fn converted_to_draft_later_keeps_creation_as_ready_at() {
    let pr = PullRequestFacts {
        opened_as_draft: Some(false),
        draft: false,
        first_ready_for_review_at: Some(at(500)),
        ..opened()
    };
    assert_eq!(compute_metrics(&pr, &[]).ready_at, Some(at(0)));
}

#[test]
fn missed_opened_delivery_falls_back_on_what_was_seen() {
    let unknown = PullRequestFacts {
        opened_as_draft: None,
        ..opened()
    };
    assert_eq!(compute_metrics(&unknown, &[]).ready_at, Some(at(0)));
    let made_ready = PullRequestFacts {
        first_ready_for_review_at: Some(at(42)),
        ..unknown.clone()
    };
    assert_eq!(compute_metrics(&made_ready, &[]).ready_at, Some(at(42)));
    let still_draft = PullRequestFacts {
        draft: true,
        ..unknown
    };
    assert_eq!(compute_metrics(&still_draft, &[]).ready_at, None);
}

#[test]
fn reopened_pull_request_keeps_its_creation_time_and_first_review() {
    // Closed at 20, reopened at 40, reviewed at 60, merged at 90: the clock
    // starts at creation and is not reset by the reopen.
    let pr = PullRequestFacts {
        merged_at: Some(at(90)),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(BOB, 60, ReviewState::Approved)]);
    assert_eq!(metrics.cycle_time_seconds, Some(90 * 60));
    assert_eq!(metrics.review_time_seconds, Some(60 * 60));
}

#[test]
fn negative_spans_from_clock_skew_are_null() {
    let pr = PullRequestFacts {
        merged_at: Some(at(-5)),
        ..opened()
    };
    let metrics = compute_metrics(&pr, &[review(ALICE, -1, ReviewState::Approved)]);
    assert_eq!(metrics.first_review_at, Some(at(-1)));
    assert_eq!(metrics.cycle_time_seconds, None);
    assert_eq!(metrics.review_time_seconds, None);
    assert_eq!(metrics.pickup_time_seconds, None);
    assert_eq!(metrics.merge_after_approval_seconds, None);
}

#[test]
fn zero_span_is_zero_not_null() {
    let metrics = compute_metrics(&opened(), &[review(ALICE, 0, ReviewState::Commented)]);
    assert_eq!(metrics.review_time_seconds, Some(0));
}

#[test]
fn review_rounds_count_re_reviews_after_changes_requested() {
    let reviews = [
        review(ALICE, 10, ReviewState::ChangesRequested),
        review(ALICE, 30, ReviewState::ChangesRequested),
        review(ALICE, 50, ReviewState::Approved),
    ];
    assert_eq!(compute_metrics(&opened(), &reviews).review_rounds, 3);
    // A changes-requested review nobody followed up is one round, not two.
    let unanswered = [review(ALICE, 10, ReviewState::ChangesRequested)];
    assert_eq!(compute_metrics(&opened(), &unanswered).review_rounds, 1);
}

#[test]
fn review_states_parse_from_webhook_and_rest_spellings() {
    assert_eq!(ReviewState::parse("approved"), Some(ReviewState::Approved));
    assert_eq!(ReviewState::parse("APPROVED"), Some(ReviewState::Approved));
    assert_eq!(
        ReviewState::parse("CHANGES_REQUESTED"),
        Some(ReviewState::ChangesRequested)
    );
    assert_eq!(ReviewState::parse("pending"), None);
    for state in [
        ReviewState::Approved,
        ReviewState::ChangesRequested,
        ReviewState::Commented,
        ReviewState::Dismissed,
    ] {
        assert_eq!(ReviewState::parse(state.as_str()), Some(state));
    }
}
