//! The rows a projection writes, built from the payload without I/O:
//! the repository and people first, then the pull request and review rows
//! of the set-based upserts.

use prpulse_domain::{BotPolicy, DeliveryId, PullRequestAction, ReviewAction, ReviewState};
use prpulse_github::payload::{PullRequest, User};
use prpulse_store::projection::{
    MemberRow, PullRequestRow, RepositoryRow, ReviewRow, Timestamp, carried_rank,
};

use super::{Projection, version_at};

impl Projection {
    /// The repository and the people this projection upserts before its
    /// facts. A batch upserts those of all its deliveries first, each once
    /// and in id order, so that concurrent batches take these row locks in
    /// one order.
    /// Each fact carries the payload's own time ([`Self::observed_at`]).
    pub fn entities<'a>(
        &'a self,
        bots: &BotPolicy,
    ) -> (Option<RepositoryRow<'a>>, Vec<MemberRow<'a>>) {
        let at = self.observed_at();
        let repository = |repository: &'a prpulse_github::payload::Repository| RepositoryRow {
            github_id: repository.id,
            full_name: &repository.full_name,
            observed_at: at,
        };
        match self {
            Self::RawOnly | Self::Team(_) | Self::Jira(_) => (None, Vec::new()),
            Self::Dora(event) => (Some(repository(event.repository())), Vec::new()),
            Self::Membership(event) => (None, members(bots, at, [Some(&event.member)])),
            Self::PullRequest(event) => (
                Some(repository(&event.repository)),
                members(bots, at, [event.pull_request.user.as_ref()]),
            ),
            Self::Review(event) => (
                Some(repository(&event.repository)),
                members(
                    bots,
                    at,
                    [event.pull_request.user.as_ref(), event.review.user.as_ref()],
                ),
            ),
        }
    }

    /// The pull-request row (and the review row) this delivery writes, for
    /// the set-based upserts of a batch.
    pub fn rows<'a>(
        &'a self,
        delivery_id: &'a DeliveryId,
    ) -> Option<(PullRequestRow<'a>, Option<ReviewRow>)> {
        match self {
            Self::RawOnly | Self::Team(_) | Self::Membership(_) | Self::Jira(_) | Self::Dora(_) => {
                None
            }
            Self::PullRequest(event) => {
                let pr = &event.pull_request;
                let action = PullRequestAction::parse(&event.action);
                let mut row = pull_request_row(event.repository.id, pr, delivery_id, 1);
                row.draft = Some(pr.draft.unwrap_or(false));
                row.carried_rank =
                    carried_rank(Some(&action), true, &pr.state, pr.closed_at, pr.updated_at);
                row.opened_as_draft =
                    (action == PullRequestAction::Opened).then(|| pr.draft.unwrap_or(false));
                row.ready_for_review_at = (action == PullRequestAction::ReadyForReview)
                    .then(|| pr.updated_at.unwrap_or(pr.created_at));
                Some((row, None))
            }
            Self::Review(event) => {
                let pr = &event.pull_request;
                let review = &event.review;
                let mut row = pull_request_row(event.repository.id, pr, delivery_id, 0);
                row.carried_rank =
                    carried_rank(None, false, &pr.state, pr.closed_at, pr.updated_at);
                // Webhooks say `dismissed`, the REST API (backfill) `DISMISSED`.
                let dismissed = ReviewAction::parse(&event.action) == ReviewAction::Dismissed
                    || ReviewState::parse(&review.state) == Some(ReviewState::Dismissed);
                let submitted_state = if dismissed {
                    None
                } else {
                    ReviewState::parse(&review.state)
                };
                let review = ReviewRow {
                    github_id: review.id,
                    repository_id: row.repository_id,
                    pull_request_number: row.number,
                    reviewer_id: review.user.as_ref().map(|user| user.id),
                    submitted_state,
                    dismissed,
                    submitted_at: review.submitted_at,
                };
                Some((row, Some(review)))
            }
        }
    }
}

fn members<'a, const N: usize>(
    bots: &BotPolicy,
    at: Option<Timestamp>,
    users: [Option<&'a User>; N],
) -> Vec<MemberRow<'a>> {
    users
        .into_iter()
        .flatten()
        .map(|user| {
            MemberRow::classified(user.id, &user.login, user.kind.as_deref(), bots).seen_at(at)
        })
        .collect()
}

/// Ranges were checked in [`Projection::parse`].
fn pull_request_row<'a>(
    repository_id: i64,
    pr: &'a PullRequest,
    delivery_id: &'a DeliveryId,
    version_rank: i16,
) -> PullRequestRow<'a> {
    let small = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
    PullRequestRow {
        github_id: pr.id,
        repository_id,
        number: small(pr.number),
        author_id: pr.user.as_ref().map(|user| user.id),
        version_rank,
        version_at: version_at(pr),
        version_delivery: delivery_id.as_str(),
        carried_rank: 0,
        title: pr.title.as_deref(),
        state: &pr.state,
        draft: pr.draft,
        closed_at: pr.closed_at,
        additions: pr.additions.map(small),
        deletions: pr.deletions.map(small),
        changed_files: pr.changed_files.map(small),
        head_ref: pr.head.as_ref().map(|head| head.name.as_str()),
        base_ref: pr.base.as_ref().map(|base| base.name.as_str()),
        created_at: pr.created_at,
        merged_at: pr.merged_at,
        opened_as_draft: None,
        ready_for_review_at: None,
    }
}
