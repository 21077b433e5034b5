use std::fmt;

/// The `X-GitHub-Event` header, validated: GitHub's event names are short
/// snake_case words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventNameError {
    #[error("event name is empty")]
    Empty,
    #[error("event name is longer than 64 characters")]
    TooLong,
    #[error("event name has a character outside [a-z0-9_]")]
    BadCharacter,
}

/// What ingest does with a verified delivery of this event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventDisposition {
    /// GitHub's connectivity check: answered, never enqueued.
    Ping,
    /// Enqueued for the workers.
    Enqueue,
    /// Verified but of no use to prpulse: answered 204, not enqueued.
    Ignore,
}

/// Events the workers consume. `pull_request`, `pull_request_review`,
/// `team` and `membership` are projected; the others are kept raw for
/// audits and later projections.
const ENQUEUED: &[&str] = &[
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "team",
    "membership",
    "member",
    "organization",
    "repository",
    "installation",
    "installation_repositories",
    // The DORA keys: deploys, their outcomes, and incidents.
    "deployment",
    "deployment_status",
    "workflow_run",
    "issues",
];

/// The events of a repository hook that prpulse installs. Each one is
/// enqueued (a test below holds the two lists together).
pub const REPOSITORY_HOOK_EVENTS: &[&str] = &[
    EventName::PULL_REQUEST,
    EventName::PULL_REQUEST_REVIEW,
    EventName::DEPLOYMENT,
    EventName::DEPLOYMENT_STATUS,
    EventName::WORKFLOW_RUN,
    EventName::ISSUES,
];

/// The events of an organisation hook: team changes reach prpulse at once
/// instead of at the next periodic team listing.
pub const ORGANIZATION_HOOK_EVENTS: &[&str] = &[EventName::TEAM, EventName::MEMBERSHIP];

impl EventName {
    pub const PULL_REQUEST: &'static str = "pull_request";
    pub const PULL_REQUEST_REVIEW: &'static str = "pull_request_review";
    pub const TEAM: &'static str = "team";
    pub const MEMBERSHIP: &'static str = "membership";
    pub const DEPLOYMENT: &'static str = "deployment";
    pub const DEPLOYMENT_STATUS: &'static str = "deployment_status";
    pub const WORKFLOW_RUN: &'static str = "workflow_run";
    pub const ISSUES: &'static str = "issues";

    pub fn parse(raw: &str) -> Result<Self, EventNameError> {
        if raw.is_empty() {
            return Err(EventNameError::Empty);
        }
        if raw.len() > 64 {
            return Err(EventNameError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if !raw.chars().all(allowed) {
            return Err(EventNameError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn disposition(&self) -> EventDisposition {
        match self.0.as_str() {
            "ping" => EventDisposition::Ping,
            name if ENQUEUED.contains(&name) => EventDisposition::Enqueue,
            _ => EventDisposition::Ignore,
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_events() {
        let disposition = |name: &str| EventName::parse(name).unwrap().disposition();
        assert_eq!(disposition("ping"), EventDisposition::Ping);
        assert_eq!(disposition("pull_request"), EventDisposition::Enqueue);
        assert_eq!(
            disposition("pull_request_review"),
            EventDisposition::Enqueue
        );
        assert_eq!(disposition("membership"), EventDisposition::Enqueue);
        assert_eq!(disposition("push"), EventDisposition::Ignore);
        assert_eq!(disposition("issues"), EventDisposition::Enqueue);
        assert_eq!(disposition("deployment_status"), EventDisposition::Enqueue);
        assert_eq!(disposition("release"), EventDisposition::Ignore);
    }

    #[test]
    fn every_event_a_hook_subscribes_to_is_enqueued() {
        for name in REPOSITORY_HOOK_EVENTS
            .iter()
            .chain(ORGANIZATION_HOOK_EVENTS)
        {
            assert_eq!(
                EventName::parse(name).unwrap().disposition(),
                EventDisposition::Enqueue,
                "a hook would subscribe to {name}, which ingest does not enqueue"
            );
        }
    }

    #[test]
    fn rejects_malformed_names() {
        assert_eq!(EventName::parse(""), Err(EventNameError::Empty));
        assert_eq!(
            EventName::parse("Pull_Request"),
            Err(EventNameError::BadCharacter)
        );
        assert_eq!(
            EventName::parse("pull request"),
            Err(EventNameError::BadCharacter)
        );
        assert_eq!(
            EventName::parse(&"a".repeat(65)),
            Err(EventNameError::TooLong)
        );
    }
}
