//! Typed reads of `PRPULSE_*` environment variables with defaults and
//! errors that name the variable.

use std::{collections::HashMap, fmt::Display, str::FromStr, time::Duration};

use secrecy::SecretString;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is required but not set")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// A snapshot of the environment (or of a map, in tests).
#[derive(Clone, Debug, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// The value, with an empty one treated as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.trim().is_empty())
    }

    pub fn string(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    pub fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }

    pub fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::Invalid {
                    name,
                    value: value.to_owned(),
                    reason: error.to_string(),
                }),
        }
    }

    pub fn millis(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default).map(Duration::from_millis)
    }

    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                value: v,
                reason: "expected true or false".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parses_and_names_the_bad_variable() {
        let env = Env::from_pairs([("A", "12"), ("B", "x"), ("EMPTY", " "), ("F", "off")]);
        assert_eq!(env.parse::<u32>("A", 1), Ok(12));
        assert_eq!(env.parse::<u32>("EMPTY", 7), Ok(7));
        assert_eq!(env.string("MISSING", "d"), "d");
        assert_eq!(env.flag("F", true), Ok(false));
        let error = env.parse::<u32>("B", 1).unwrap_err();
        assert!(
            error.to_string().starts_with("B=\"x\" is invalid"),
            "{error}"
        );
        assert!(env.flag("B", true).is_err());
        assert_eq!(env.millis("A", 5), Ok(Duration::from_millis(12)));
    }
}
