//! Payload → domain parsing → metric rules: arbitrary bytes as a
//! `pull_request` or `pull_request_review` payload never panic, and the
//! metrics of whatever parses are never negative.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prpulse_domain::{PullRequestFacts, ReviewFact, ReviewState, compute_metrics};
use prpulse_github::payload::{ActionOnly, PullRequest, PullRequestEvent, PullRequestReviewEvent};

fn facts(pr: &PullRequest, action: &str) -> PullRequestFacts {
    PullRequestFacts {
        author_id: pr.user.as_ref().map(|user| user.id),
        created_at: pr.created_at,
        opened_as_draft: (action == "opened").then(|| pr.draft.unwrap_or(false)),
        draft: pr.draft.unwrap_or(false),
        first_ready_for_review_at: (action == "ready_for_review")
            .then(|| pr.updated_at.unwrap_or(pr.created_at)),
        merged_at: pr.merged_at,
    }
}

fn check(pr: &PullRequestFacts, reviews: &[ReviewFact]) {
    for span in compute_metrics(pr, reviews).spans().into_iter().flatten() {
        assert!(span >= 0);
    }
}

fuzz_target!(|input: &[u8]| {
    let _ = serde_json::from_slice::<ActionOnly>(input);
    if let Ok(event) = serde_json::from_slice::<PullRequestEvent>(input) {
        check(&facts(&event.pull_request, &event.action), &[]);
    }
    if let Ok(event) = serde_json::from_slice::<PullRequestReviewEvent>(input) {
        let review = ReviewFact {
            review_id: event.review.id,
            reviewer_id: event.review.user.as_ref().map(|user| user.id),
            reviewer_is_bot: false,
            submitted_at: event.review.submitted_at,
            state: ReviewState::parse(&event.review.state).unwrap_or(ReviewState::Dismissed),
        };
        check(&facts(&event.pull_request, &event.action), &[review]);
    }
});
