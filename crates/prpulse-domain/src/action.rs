//! The `action` of the deliveries prpulse projects, as types: the ones
//! the projection and the backfill act on by name, every other one kept
//! as GitHub spelled it (GitHub adds actions; an unknown one is not an
//! error, only one prpulse has no rule for).

use std::fmt;

/// A `pull_request` delivery's action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PullRequestAction {
    Opened,
    Edited,
    Closed,
    Reopened,
    Synchronize,
    ReadyForReview,
    ConvertedToDraft,
    /// prpulse's own: a pull request as the REST API returned it, published
    /// by a backfill (GitHub never sends it).
    Backfill,
    Other(String),
}

impl PullRequestAction {
    const NAMED: [Self; 8] = [
        Self::Opened,
        Self::Edited,
        Self::Closed,
        Self::Reopened,
        Self::Synchronize,
        Self::ReadyForReview,
        Self::ConvertedToDraft,
        Self::Backfill,
    ];

    pub fn parse(raw: &str) -> Self {
        Self::NAMED
            .into_iter()
            .find(|action| action.as_str() == raw)
            .unwrap_or_else(|| Self::Other(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Opened => "opened",
            Self::Edited => "edited",
            Self::Closed => "closed",
            Self::Reopened => "reopened",
            Self::Synchronize => "synchronize",
            Self::ReadyForReview => "ready_for_review",
            Self::ConvertedToDraft => "converted_to_draft",
            Self::Backfill => "backfill",
            Self::Other(action) => action,
        }
    }
}

/// A `pull_request_review` delivery's action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReviewAction {
    Submitted,
    Edited,
    /// The review no longer counts as an approval; it still happened.
    Dismissed,
    Other(String),
}

impl ReviewAction {
    const NAMED: [Self; 3] = [Self::Submitted, Self::Edited, Self::Dismissed];

    pub fn parse(raw: &str) -> Self {
        Self::NAMED
            .into_iter()
            .find(|action| action.as_str() == raw)
            .unwrap_or_else(|| Self::Other(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Submitted => "submitted",
            Self::Edited => "edited",
            Self::Dismissed => "dismissed",
            Self::Other(action) => action,
        }
    }
}

impl fmt::Display for PullRequestAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ReviewAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_actions_read_back_as_github_spells_them() {
        for action in PullRequestAction::NAMED {
            assert_eq!(PullRequestAction::parse(action.as_str()), action);
        }
        for action in ReviewAction::NAMED {
            assert_eq!(ReviewAction::parse(action.as_str()), action);
        }
        assert_eq!(
            PullRequestAction::parse("ready_for_review"),
            PullRequestAction::ReadyForReview
        );
        assert_eq!(ReviewAction::parse("dismissed"), ReviewAction::Dismissed);
    }

    #[test]
    fn an_action_prpulse_has_no_rule_for_is_kept_as_it_came() {
        let labeled = PullRequestAction::parse("labeled");
        assert_eq!(labeled, PullRequestAction::Other("labeled".into()));
        assert_eq!(labeled.to_string(), "labeled");
        assert_eq!(
            ReviewAction::parse("Submitted"),
            ReviewAction::Other("Submitted".into()),
            "GitHub's actions are lower case; another spelling is another action"
        );
    }
}
