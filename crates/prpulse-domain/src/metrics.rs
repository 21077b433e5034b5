//! The metric rules of DESIGN.md as pure functions over stored facts.
//!
//! The worker keeps order-independent facts per pull request (the newest
//! scalar fields, the earliest `ready_for_review`, every review ever
//! submitted) and calls [`compute_metrics`] after each change, so the
//! numbers depend only on the set of deliveries seen, never their order.

use chrono::{DateTime, Utc};

pub type Timestamp = DateTime<Utc>;

/// A review's state as submitted. GitHub spells it `approved` in webhooks
/// and `APPROVED` in the REST API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    /// Dismissed after it was submitted: it still counts as a review (it
    /// happened), never as an approval (it was withdrawn).
    Dismissed,
}

impl ReviewState {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "approved" => Some(Self::Approved),
            "changes_requested" => Some(Self::ChangesRequested),
            "commented" => Some(Self::Commented),
            "dismissed" => Some(Self::Dismissed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::ChangesRequested => "changes_requested",
            Self::Commented => "commented",
            Self::Dismissed => "dismissed",
        }
    }
}

/// What prpulse knows of one pull request, independent of delivery order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestFacts {
    /// GitHub user id of the author; `None` for a deleted ("ghost") account.
    pub author_id: Option<i64>,
    pub created_at: Timestamp,
    /// Whether it was opened as a draft; `None` when the `opened` delivery
    /// was never seen.
    pub opened_as_draft: Option<bool>,
    /// Whether it is a draft now (from the newest delivery).
    pub draft: bool,
    /// The earliest `ready_for_review` seen.
    pub first_ready_for_review_at: Option<Timestamp>,
    pub merged_at: Option<Timestamp>,
}

/// GitHub's user id of `ghost`, the placeholder it shows for every deleted
/// account: two ghosts are not one person.
pub const GHOST_USER_ID: i64 = 10137;

/// One review ever submitted on the pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewFact {
    /// GitHub's review id: orders reviews submitted in the same second
    /// (`submitted_at` has one-second precision), as GitHub numbers them.
    pub review_id: i64,
    pub reviewer_id: Option<i64>,
    pub reviewer_is_bot: bool,
    pub submitted_at: Option<Timestamp>,
    /// The state it was submitted with, or `Dismissed` once dismissed.
    pub state: ReviewState,
}

/// The metrics of one pull request. `None` means "did not happen" or "not
/// defined" (a negative span from clock skew), never zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrMetrics {
    pub ready_at: Option<Timestamp>,
    pub first_review_at: Option<Timestamp>,
    pub first_approval_at: Option<Timestamp>,
    /// `merged_at − created_at`.
    pub cycle_time_seconds: Option<i64>,
    /// `first_review_at − created_at`.
    pub review_time_seconds: Option<i64>,
    /// The first counted review at or after `ready_at`, minus `ready_at`:
    /// review time without the draft phase. A review made while it was
    /// still a draft is not a pickup, and does not hide a later one.
    pub pickup_time_seconds: Option<i64>,
    /// The first approval at or after `ready_at`, minus `ready_at` (the
    /// same rule as pickup).
    pub time_to_first_approval_seconds: Option<i64>,
    /// `merged_at − first_approval_at`.
    pub merge_after_approval_seconds: Option<i64>,
    /// 1 for the first round of review, plus one for every
    /// changes-requested review that was followed by another review.
    pub review_rounds: i32,
}

impl PrMetrics {
    /// Every duration the rules compute, known or not.
    pub fn spans(&self) -> [Option<i64>; 5] {
        [
            self.cycle_time_seconds,
            self.review_time_seconds,
            self.pickup_time_seconds,
            self.time_to_first_approval_seconds,
            self.merge_after_approval_seconds,
        ]
    }
}

pub fn compute_metrics(pr: &PullRequestFacts, reviews: &[ReviewFact]) -> PrMetrics {
    let ready_at = ready_at(pr);
    // (submitted_at, review id): a total order, so ties in the same second
    // give the same rounds whatever order the reviews were stored in.
    let mut counted: Vec<(Timestamp, i64, ReviewState)> = reviews
        .iter()
        .filter(|review| counts_as_review(pr, review))
        .filter_map(|review| {
            review
                .submitted_at
                .map(|at| (at, review.review_id, review.state))
        })
        .collect();
    counted.sort_by_key(|(at, id, _)| (*at, *id));

    let first_review_at = counted.first().map(|(at, ..)| *at);
    let approvals = || {
        counted
            .iter()
            .filter(|(_, _, state)| *state == ReviewState::Approved)
            .map(|(at, ..)| *at)
    };
    let first_approval_at = approvals().next();
    let first_review_since_ready = first_since(ready_at, counted.iter().map(|(at, ..)| *at));
    let first_approval_since_ready = first_since(ready_at, approvals());

    PrMetrics {
        ready_at,
        first_review_at,
        first_approval_at,
        cycle_time_seconds: span(Some(pr.created_at), pr.merged_at),
        review_time_seconds: span(Some(pr.created_at), first_review_at),
        pickup_time_seconds: span(ready_at, first_review_since_ready),
        time_to_first_approval_seconds: span(ready_at, first_approval_since_ready),
        merge_after_approval_seconds: span(first_approval_at, pr.merged_at),
        review_rounds: review_rounds(&counted),
    }
}

/// The moment the pull request asked for review: the first
/// `ready_for_review` of one opened as a draft, else its creation.
fn ready_at(pr: &PullRequestFacts) -> Option<Timestamp> {
    match pr.opened_as_draft {
        Some(false) => Some(pr.created_at),
        Some(true) => pr.first_ready_for_review_at,
        // The `opened` delivery was missed: a `ready_for_review` proves a
        // draft phase; a current draft has none yet; otherwise assume none.
        None => pr
            .first_ready_for_review_at
            .or((!pr.draft).then_some(pr.created_at)),
    }
}

/// A review by a human other than the author, in any state. Every deleted
/// account is the same `ghost`, so a ghost reviewing a ghost's pull
/// request is two people, not a self-review.
fn counts_as_review(pr: &PullRequestFacts, review: &ReviewFact) -> bool {
    let self_review = review.reviewer_id.is_some()
        && review.reviewer_id != Some(GHOST_USER_ID)
        && review.reviewer_id == pr.author_id;
    !review.reviewer_is_bot && !self_review
}

fn review_rounds(counted: &[(Timestamp, i64, ReviewState)]) -> i32 {
    if counted.is_empty() {
        return 0;
    }
    let re_reviews = counted
        .iter()
        .enumerate()
        .filter(|(index, (_, _, state))| {
            *state == ReviewState::ChangesRequested && index + 1 < counted.len()
        })
        .count();
    1 + i32::try_from(re_reviews).unwrap_or(i32::MAX - 1)
}

/// The first of `times` (in order) at or after `from`.
fn first_since(
    from: Option<Timestamp>,
    mut times: impl Iterator<Item = Timestamp>,
) -> Option<Timestamp> {
    let from = from?;
    times.find(|at| *at >= from)
}

/// Whole seconds from `from` to `to`; `None` if either is missing or the
/// span would be negative.
fn span(from: Option<Timestamp>, to: Option<Timestamp>) -> Option<i64> {
    let seconds = (to? - from?).num_seconds();
    (seconds >= 0).then_some(seconds)
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
