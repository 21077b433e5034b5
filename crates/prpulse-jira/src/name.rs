use std::fmt;

/// The name of a Jira integration: the `{integration}` of its webhook URL
/// and the second part of its deliveries' ids, so it is limited to
/// characters that need no escaping in either (and contain no `:`, the
/// delivery id's separator). Stored lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntegrationName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntegrationNameError {
    #[error(
        "an integration name is 1 to 40 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
    )]
    Invalid,
}

impl IntegrationName {
    pub const MAX_LEN: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, IntegrationNameError> {
        let name = raw.to_ascii_lowercase();
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !first_ok || !rest_ok || name.len() > Self::MAX_LEN {
            return Err(IntegrationNameError::Invalid);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IntegrationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased_and_limited() {
        assert_eq!(
            IntegrationName::parse("Acme-Jira").unwrap().as_str(),
            "acme-jira"
        );
        for bad in ["", "-x", "a:b", "a/b", "a b", &"a".repeat(41)] {
            assert_eq!(
                IntegrationName::parse(bad),
                Err(IntegrationNameError::Invalid),
                "{bad}"
            );
        }
    }
}
