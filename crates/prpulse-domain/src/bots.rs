use std::collections::HashSet;

/// Who counts as a bot. Bots' reviews never count as a first review, and
/// their pull requests are flagged in `pr_metrics`.
#[derive(Clone, Debug, Default)]
pub struct BotPolicy {
    ignored_logins: HashSet<String>,
}

impl BotPolicy {
    /// `ignored_logins` are compared case-insensitively, as GitHub logins are.
    pub fn new<I, S>(ignored_logins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            ignored_logins: ignored_logins
                .into_iter()
                .map(|login| login.as_ref().trim().to_ascii_lowercase())
                .filter(|login| !login.is_empty())
                .collect(),
        }
    }

    /// Parses a comma-separated list such as `PRPULSE_BOT_LOGINS`.
    pub fn from_list(list: &str) -> Self {
        Self::new(list.split(','))
    }

    /// `user_type` is GitHub's `user.type` (`User`, `Bot`, `Organization`).
    pub fn is_bot(&self, login: &str, user_type: Option<&str>) -> bool {
        user_type == Some("Bot")
            || login.ends_with("[bot]")
            || self.ignored_logins.contains(&login.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_by_type_suffix_and_list() {
        let policy = BotPolicy::from_list("renovate-bot, CI-Runner ,");
        assert!(policy.is_bot("dependabot[bot]", Some("Bot")));
        assert!(policy.is_bot("github-actions[bot]", None));
        assert!(policy.is_bot("some-app", Some("Bot")));
        assert!(policy.is_bot("renovate-bot", Some("User")));
        assert!(policy.is_bot("ci-runner", Some("User")));
        assert!(!policy.is_bot("octocat", Some("User")));
        assert!(!policy.is_bot("botanist", Some("User")));
    }

    #[test]
    fn empty_policy_knows_only_github_bots() {
        let policy = BotPolicy::default();
        assert!(!policy.is_bot("renovate-bot", Some("User")));
        assert!(policy.is_bot("renovate[bot]", Some("Bot")));
    }
}
