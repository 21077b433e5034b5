use std::{fmt, hash::Hash, ops::Deref};

/// `owner/name`, as GitHub spells a repository's full name, parsed once
/// at the edge (a payload, a command line, a query string, a row) and
/// carried as this type from there.
///
/// GitHub compares owners and names without regard to case, and so does
/// this type: two names that differ only in case are equal, and
/// [`key`](Self::key) is the one folded form prpulse stores and looks
/// repositories up by. Display keeps GitHub's spelling.
#[derive(Clone, Debug)]
pub struct RepoFullName {
    full: String,
    /// Where the `/` is.
    slash: usize,
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
            full: raw.to_owned(),
            slash: owner.len(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.full[..self.slash]
    }

    pub fn name(&self) -> &str {
        &self.full[self.slash + 1..]
    }

    /// `owner/name` as GitHub spelled it (what its URLs take).
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The form prpulse stores and looks repositories up by: the name
    /// folded to lower case. Only ASCII is allowed in a name, so this is
    /// also what Postgres' `lower()` gives for it: a query may fold a
    /// column with `lower(column)` and compare it with this key.
    pub fn key(&self) -> String {
        self.full.to_ascii_lowercase()
    }
}

impl PartialEq for RepoFullName {
    fn eq(&self, other: &Self) -> bool {
        self.full.eq_ignore_ascii_case(&other.full)
    }
}

impl Eq for RepoFullName {}

impl Hash for RepoFullName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Reads as the text GitHub's URLs take, so an API call can be given one
/// where it asks for `owner/name`.
impl Deref for RepoFullName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.full
    }
}

impl AsRef<str> for RepoFullName {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for RepoFullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
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
    fn names_differing_only_in_case_are_one_repository() {
        let spelled = RepoFullName::parse("Acme/API").unwrap();
        let folded = RepoFullName::parse("acme/api").unwrap();
        assert_eq!(spelled, folded);
        assert_eq!(spelled.key(), folded.key());
        assert_eq!(
            spelled.to_string(),
            "Acme/API",
            "display keeps GitHub's spelling"
        );
        assert_ne!(spelled, RepoFullName::parse("acme/web").unwrap());
        let set: std::collections::HashSet<_> = [spelled, folded].into();
        assert_eq!(set.len(), 1);
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
