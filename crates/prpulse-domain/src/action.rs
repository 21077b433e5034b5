//! The `action` of the deliveries prpulse projects, as types: the ones
//! the projection and the backfill act on by name, every other one kept
//! as GitHub spelled it (GitHub adds actions; an unknown one is not an
//! error, only one prpulse has no rule for).

use std::fmt;

/// An action type: the names prpulse has rules for, each spelled as GitHub
/// spells it, and `Other` for the rest, kept as it came.
macro_rules! actions {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $spelled:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)+
            Other(String),
        }

        impl $name {
            #[cfg(test)]
            const NAMED: &[Self] = &[$(Self::$variant),+];

            pub fn parse(raw: &str) -> Self {
                match raw {
                    $($spelled => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $spelled,)+
                    Self::Other(action) => action,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

actions! {
    /// A `pull_request` delivery's action.
    PullRequestAction {
        Opened => "opened",
        Edited => "edited",
        Closed => "closed",
        Reopened => "reopened",
        Synchronize => "synchronize",
        ReadyForReview => "ready_for_review",
        ConvertedToDraft => "converted_to_draft",
        /// prpulse's own: a pull request as the REST API returned it,
        /// published by a backfill (GitHub never sends it).
        Backfill => "backfill",
    }
}

actions! {
    /// A `pull_request_review` delivery's action.
    ReviewAction {
        Submitted => "submitted",
        Edited => "edited",
        /// The review no longer counts as an approval; it still happened.
        Dismissed => "dismissed",
    }
}

actions! {
    /// A `team` delivery's action (`created`, `edited` and the repository
    /// grants change nothing prpulse keeps beyond the team's own row).
    TeamAction {
        Deleted => "deleted",
    }
}

actions! {
    /// A `membership` delivery's action.
    MembershipAction {
        Added => "added",
        Removed => "removed",
    }
}

actions! {
    /// An `issues` delivery's action: the ones that change what DORA's
    /// incidents read (labels, state, existence).
    IssueAction {
        Labeled => "labeled",
        Unlabeled => "unlabeled",
        Closed => "closed",
        Reopened => "reopened",
        Deleted => "deleted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_actions_read_back_as_github_spells_them() {
        for action in PullRequestAction::NAMED {
            assert_eq!(&PullRequestAction::parse(action.as_str()), action);
        }
        for action in ReviewAction::NAMED {
            assert_eq!(&ReviewAction::parse(action.as_str()), action);
        }
        for action in TeamAction::NAMED {
            assert_eq!(&TeamAction::parse(action.as_str()), action);
        }
        for action in MembershipAction::NAMED {
            assert_eq!(&MembershipAction::parse(action.as_str()), action);
        }
        for action in IssueAction::NAMED {
            assert_eq!(&IssueAction::parse(action.as_str()), action);
        }
        assert_eq!(
            PullRequestAction::parse("ready_for_review"),
            PullRequestAction::ReadyForReview
        );
        assert_eq!(ReviewAction::parse("dismissed"), ReviewAction::Dismissed);
        assert_eq!(
            MembershipAction::parse("removed"),
            MembershipAction::Removed
        );
        assert_eq!(TeamAction::parse("deleted"), TeamAction::Deleted);
        assert_eq!(IssueAction::parse("unlabeled"), IssueAction::Unlabeled);
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
