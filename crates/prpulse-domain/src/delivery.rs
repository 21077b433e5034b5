use std::fmt;

/// The `X-GitHub-Delivery` GUID: the key that makes "apply once" work.
///
/// GitHub repeats it on a redelivery and shares it between every hook that
/// receives the same event. Synthetic deliveries (backfill) use the same type
/// with a deterministic value, so the charset allows `:` and `.` too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeliveryIdError {
    #[error("delivery id is empty")]
    Empty,
    #[error("delivery id is longer than {max} characters")]
    TooLong { max: usize },
    #[error("delivery id has a character outside [A-Za-z0-9-_.:]")]
    BadCharacter,
}

impl DeliveryId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, DeliveryIdError> {
        if raw.is_empty() {
            return Err(DeliveryIdError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(DeliveryIdError::TooLong { max: Self::MAX_LEN });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if !raw.chars().all(allowed) {
            return Err(DeliveryIdError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_github_guids_and_synthetic_ids() {
        for ok in [
            "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "backfill:pr:279147437:2019-05-15T15.20.33Z",
        ] {
            assert_eq!(DeliveryId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_ids() {
        assert_eq!(DeliveryId::parse(""), Err(DeliveryIdError::Empty));
        assert_eq!(
            DeliveryId::parse(&"a".repeat(129)),
            Err(DeliveryIdError::TooLong { max: 128 })
        );
        assert_eq!(
            DeliveryId::parse("abc def"),
            Err(DeliveryIdError::BadCharacter)
        );
        assert_eq!(
            DeliveryId::parse("abc\n"),
            Err(DeliveryIdError::BadCharacter)
        );
    }
}
