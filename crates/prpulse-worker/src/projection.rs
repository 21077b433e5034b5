//! From a delivery's payload to rows. Parsing is pure and happens before
//! any transaction; applying writes through `prpulse_store::projection`.

use crate::dora::DoraEvent;
use prpulse_domain::{
    BotPolicy, DeliveryId, EventName, PullRequestAction, ReviewAction, ReviewState,
};
use prpulse_github::payload::{
    MembershipEvent, Organization, PullRequest, PullRequestEvent, PullRequestReviewEvent, Team,
    TeamEvent, User,
};
use prpulse_store::GenericClient;
use prpulse_store::{
    StoreError,
    projection::{
        MemberRow, PullRequestRow, RepositoryRow, ReviewRow, Timestamp, carried_rank,
        upsert_pull_request, upsert_review,
    },
    teams::{add_member, mark_team_deleted, remove_member, upsert_team},
};

/// What a delivery changes.
#[derive(Debug)]
pub enum Projection {
    PullRequest(Box<PullRequestEvent>),
    Review(Box<PullRequestReviewEvent>),
    Team(Box<TeamEvent>),
    Membership(Box<MembershipEvent>),
    /// A Jira issue event (`crate::jira`).
    Jira(Box<prpulse_jira::IssueEvent>),
    /// Deploys, their outcomes and incidents (the DORA keys).
    Dora(Box<DoraEvent>),
    /// Kept raw only: prpulse does not project this event (yet).
    RawOnly,
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("payload does not match the {event} shape: {source}")]
    Shape {
        event: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{field} is out of range: {value}")]
    OutOfRange { field: &'static str, value: i64 },
    #[error(transparent)]
    Jira(#[from] prpulse_jira::PayloadError),
    #[error("payload cannot be decoded: {0}")]
    Encoding(#[from] prpulse_domain::EncodingError),
}

impl Projection {
    pub fn parse(event: &EventName, body: &[u8]) -> Result<Self, PayloadError> {
        let shape = |source| PayloadError::Shape {
            event: event.to_string(),
            source,
        };
        let projection = match event.as_str() {
            EventName::PULL_REQUEST => {
                Self::PullRequest(Box::new(serde_json::from_slice(body).map_err(shape)?))
            }
            EventName::PULL_REQUEST_REVIEW => {
                Self::Review(Box::new(serde_json::from_slice(body).map_err(shape)?))
            }
            EventName::TEAM => Self::Team(Box::new(serde_json::from_slice(body).map_err(shape)?)),
            EventName::MEMBERSHIP => {
                Self::Membership(Box::new(serde_json::from_slice(body).map_err(shape)?))
            }
            prpulse_jira::EVENT => Self::Jira(Box::new(prpulse_jira::IssueEvent::parse(body)?)),
            _ => match DoraEvent::parse(event, body) {
                Some(dora) => Self::Dora(Box::new(dora.map_err(shape)?)),
                None => {
                    // Kept raw, but it must still be JSON to be worth keeping.
                    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(shape)?;
                    Self::RawOnly
                }
            },
        };
        projection.check_ranges()?;
        Ok(projection)
    }

    /// The pull request whose row this projection locks, if any: a batch
    /// applies its deliveries in this order.
    pub fn lock_key(&self) -> Option<(i64, i64)> {
        match self {
            Self::PullRequest(event) => Some((event.repository.id, event.pull_request.number)),
            Self::Review(event) => Some((event.repository.id, event.pull_request.number)),
            Self::Team(_) | Self::Membership(_) | Self::Jira(_) | Self::Dora(_) | Self::RawOnly => {
                None
            }
        }
    }

    /// [`Self::lock_key`] as the ledger stores it (ranges were checked).
    pub fn pull_request_key(&self) -> Option<(i64, i32)> {
        self.lock_key()
            .map(|(repository, number)| (repository, i32::try_from(number).unwrap_or(i32::MAX)))
    }

    /// The payload's own time: when what it shows was true. A pull
    /// request's `updated_at`; for a review the later of that and the
    /// review's submission (a dismissal keeps the original `submitted_at`).
    /// Team and membership payloads carry no time.
    pub fn observed_at(&self) -> Option<Timestamp> {
        match self {
            Self::PullRequest(event) => Some(version_at(&event.pull_request)),
            Self::Review(event) => Some(
                event
                    .review
                    .submitted_at
                    .map_or(version_at(&event.pull_request), |at| {
                        at.max(version_at(&event.pull_request))
                    }),
            ),
            Self::Dora(event) => Some(event.observed_at()),
            Self::Team(_) | Self::Membership(_) | Self::Jira(_) | Self::RawOnly => None,
        }
    }

    /// The DORA event this projection applies, if it is one.
    pub fn dora(&self) -> Option<&DoraEvent> {
        match self {
            Self::Dora(event) => Some(event),
            _ => None,
        }
    }

    pub fn is_projected(&self) -> bool {
        !matches!(self, Self::RawOnly)
    }

    fn check_ranges(&self) -> Result<(), PayloadError> {
        let pull_request = match self {
            Self::PullRequest(event) => &event.pull_request,
            Self::Review(event) => &event.pull_request,
            Self::Dora(event) => {
                return match event.out_of_range() {
                    Some((field, value)) => Err(PayloadError::OutOfRange { field, value }),
                    None => Ok(()),
                };
            }
            Self::Team(_) | Self::Membership(_) | Self::Jira(_) | Self::RawOnly => return Ok(()),
        };
        let in_range = |field: &'static str, value: Option<i64>| match value {
            Some(value) if i32::try_from(value).is_err() => {
                Err(PayloadError::OutOfRange { field, value })
            }
            _ => Ok(()),
        };
        in_range("pull_request.number", Some(pull_request.number))?;
        in_range("pull_request.additions", pull_request.additions)?;
        in_range("pull_request.deletions", pull_request.deletions)?;
        in_range("pull_request.changed_files", pull_request.changed_files)
    }

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

    /// The kinds applied per delivery rather than set-based (rare, or with
    /// tables of their own): writes what such a delivery changes, after the
    /// entities. A new kind (a DORA deployment, a Jira issue) gets its arm
    /// here; pull requests and reviews go through [`Self::rows`] instead.
    pub async fn apply_alone(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        match self {
            Self::RawOnly | Self::PullRequest(_) | Self::Review(_) => Ok(()),
            Self::Jira(event) => crate::jira::apply(client, event, delivery_id).await,
            Self::Dora(event) => event.apply(client, delivery_id).await,
            // Membership events carry no time, so the last applied wins; the
            // scheduler's periodic team listing corrects any misordering.
            Self::Team(event) => {
                let team = &event.team;
                record_team(client, team, &event.organization).await?;
                if event.action == "deleted" {
                    mark_team_deleted(client, team.id).await?;
                }
                Ok(())
            }
            Self::Membership(event) => {
                let team = &event.team;
                if record_team(client, team, &event.organization).await? {
                    return Ok(());
                }
                match event.action.as_str() {
                    "added" => add_member(client, team.id, event.member.id).await,
                    "removed" => remove_member(client, team.id, event.member.id).await,
                    _ => Ok(()),
                }
            }
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

    /// Writes everything but [`Self::entities`] and the metrics, for one
    /// delivery: how a rebuild re-applies every delivery of a pull request
    /// and then recomputes once. The entities must be upserted first.
    pub async fn apply_facts_only(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        self.apply_alone(client, delivery_id).await?;
        if let Some((pull_request, review)) = self.rows(delivery_id) {
            upsert_pull_request(client, &pull_request).await?;
            if let Some(review) = review {
                upsert_review(client, &review).await?;
            }
        }
        self.apply_links(client, delivery_id).await
    }

    /// The rows kept beside a pull request, as of this payload: the Jira
    /// issue keys its title, head branch and body name, and its merge
    /// commit (DORA). Written after the pull request's row is locked, so
    /// these rows follow the same global lock order.
    pub async fn apply_links(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        match self {
            Self::PullRequest(event) => {
                crate::jira::record_mentions(client, event, delivery_id).await?;
                let number = i32::try_from(event.pull_request.number)
                    .expect("check_ranges refused numbers out of range");
                crate::dora::record_merge(client, event, number).await
            }
            _ => Ok(()),
        }
    }
}

/// Upserts the team as the payload shows it; true if it is deleted.
async fn record_team(
    client: &impl GenericClient,
    team: &Team,
    organization: &Organization,
) -> Result<bool, StoreError> {
    upsert_team(
        client,
        team.id,
        &organization.login,
        team.slug.as_deref(),
        &team.name,
    )
    .await?;
    let deleted = team.deleted == Some(true);
    if deleted {
        mark_team_deleted(client, team.id).await?;
    }
    Ok(deleted)
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

fn version_at(pr: &PullRequest) -> Timestamp {
    pr.updated_at.unwrap_or(pr.created_at)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> EventName {
        EventName::parse(name).unwrap()
    }

    #[test]
    fn unprojected_events_must_still_be_json() {
        assert!(matches!(
            Projection::parse(&event("member"), br#"{"action":"added"}"#),
            Ok(Projection::RawOnly)
        ));
        assert!(matches!(
            Projection::parse(&event("member"), b"not json"),
            Err(PayloadError::Shape { .. })
        ));
    }

    #[test]
    fn a_pull_request_without_its_fields_is_a_shape_error() {
        let error = Projection::parse(&event("pull_request"), br#"{"action":"opened"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("pull_request shape"), "{error}");
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        let body = serde_json::json!({
            "action": "opened",
            "pull_request": {"id": 1, "number": 1, "user": null, "state": "open",
                             "created_at": "2026-01-05T09:00:00Z", "additions": 9_999_999_999i64},
            "repository": {"id": 2, "full_name": "acme/api"}
        });
        let error = Projection::parse(&event("pull_request"), body.to_string().as_bytes());
        assert!(matches!(
            error,
            Err(PayloadError::OutOfRange {
                field: "pull_request.additions",
                ..
            })
        ));
    }
}
