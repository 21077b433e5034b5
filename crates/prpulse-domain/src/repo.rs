use std::fmt;

/// `owner/name`, as GitHub spells a repository's full name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoFullName {
    owner: String,
    name: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RepoFullNameError {
    #[error("repository must be written owner/name, got {0:?}")]
    Shape(String),
    #[error("repository owner or name has a character GitHub does not allow: {0:?}")]
    BadCharacter(String),
}

impl RepoFullName {
    pub fn parse(raw: &str) -> Result<Self, RepoFullNameError> {
        let (owner, name) = raw
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| RepoFullNameError::Shape(raw.to_owned()))?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !owner.chars().all(allowed) || !name.chars().all(allowed) || owner.len() > 100 {
            return Err(RepoFullNameError::BadCharacter(raw.to_owned()));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The form prpulse stores and looks repositories up by: GitHub
    /// compares owners and names without regard to case, and so must we.
    pub fn key(&self) -> String {
        self.to_string().to_lowercase()
    }
}

impl fmt::Display for RepoFullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_and_name() {
        let repo = RepoFullName::parse("Codertocat/Hello-World").unwrap();
        assert_eq!(repo.owner(), "Codertocat");
        assert_eq!(repo.name(), "Hello-World");
        assert_eq!(repo.to_string(), "Codertocat/Hello-World");
        assert_eq!(repo.key(), "codertocat/hello-world");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in ["", "acme", "acme/", "/api", "a/b/c"] {
            assert!(matches!(
                RepoFullName::parse(bad),
                Err(RepoFullNameError::Shape(_))
            ));
        }
        assert!(matches!(
            RepoFullName::parse("acme/a pi"),
            Err(RepoFullNameError::BadCharacter(_))
        ));
    }
}
