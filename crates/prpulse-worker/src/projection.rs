//! From a delivery's payload to rows. Parsing is pure and happens before
//! any transaction; applying writes through `prpulse_store::projection`.
//!
//! The rows it writes are built in `rows`, the writes done one delivery at
//! a time in `write` (with the rows kept beside pull requests, `Links`).

mod rows;
mod write;

pub use write::Links;

use crate::dora::DoraEvent;
use prpulse_domain::EventName;
use prpulse_github::payload::{
    MembershipEvent, PullRequest, PullRequestEvent, PullRequestReviewEvent, TeamEvent,
};
use prpulse_store::projection::Timestamp;

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
}

fn version_at(pr: &PullRequest) -> Timestamp {
    pr.updated_at.unwrap_or(pr.created_at)
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
