//! Query strings become typed requests here, once: past this module no
//! handler holds an unchecked value. Every refusal names the parameter.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Days, NaiveDate, Utc};
use prpulse_domain::{
    RepoFullName,
    rollup::{Bucket, Range},
};
use prpulse_store::read::{PageKey, PullRequestFilter};

use crate::error::ApiError;

mod dora;
pub use dora::{DORA_GROUP_BY_VALUES, DORA_PARAMETERS, dora_params};

/// Every parameter `GET /api/v1/summary` takes.
pub const SUMMARY_PARAMETERS: [&str; 6] = ["group_by", "bucket", "from", "to", "bots", "hours"];
/// Every parameter `GET /api/v1/pull-requests` takes.
pub const PULL_REQUEST_PARAMETERS: [&str; 9] = [
    "repository",
    "team",
    "author",
    "state",
    "from",
    "to",
    "bots",
    "cursor",
    "limit",
];

pub const GROUP_BY_VALUES: [&str; 5] = ["none", "repository", "team", "author", "jira_project"];
pub const BUCKET_VALUES: [&str; 3] = ["none", "week", "month"];
pub const BOTS_VALUES: [&str; 2] = ["exclude", "include"];
pub const HOURS_VALUES: [&str; 2] = ["wall", "business"];
pub const STATE_VALUES: [&str; 3] = ["open", "closed", "merged"];

/// Days a summary covers when `from` is not given (ending at `to`).
pub const DEFAULT_DAYS: u64 = 90;
/// The longest summary range: three years of weeks is ~160 buckets a group.
pub const MAX_DAYS: u64 = 1096;
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// Names, logins and slugs are far shorter; this bounds what we send on.
pub const MAX_TEXT_LEN: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Repository,
    Team,
    Author,
    /// Pull requests by the projects of the Jira issues they name, and
    /// those projects' issue lead and cycle times (summary only).
    JiraProject,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        GROUP_BY_VALUES[self as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hours {
    Wall,
    Business,
}

impl Hours {
    pub fn as_str(self) -> &'static str {
        HOURS_VALUES[self as usize]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryParams {
    pub group_by: GroupBy,
    pub bucket: Bucket,
    /// First and last day (UTC), both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub include_bots: bool,
    pub hours: Hours,
}

impl SummaryParams {
    pub fn parse(query: &str, today: NaiveDate) -> Result<Self, ApiError> {
        let mut params = Params::parse(query, &SUMMARY_PARAMETERS)?;
        let group_by = match params.choice("group_by", &GROUP_BY_VALUES)? {
            Some(1) => GroupBy::Repository,
            Some(2) => GroupBy::Team,
            Some(3) => GroupBy::Author,
            Some(4) => GroupBy::JiraProject,
            _ => GroupBy::None,
        };
        let bucket = match params.choice("bucket", &BUCKET_VALUES)? {
            Some(1) => Bucket::Week,
            Some(2) => Bucket::Month,
            _ => Bucket::None,
        };
        let include_bots = params.choice("bots", &BOTS_VALUES)? == Some(1);
        let hours = match params.choice("hours", &HOURS_VALUES)? {
            Some(1) => Hours::Business,
            _ => Hours::Wall,
        };
        let to = params.date("to")?;
        let from = params.date("from")?;
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, today.max(from)),
            (None, to) => {
                let to = to.unwrap_or(today);
                (to - Days::new(DEFAULT_DAYS - 1), to)
            }
        };
        check_range(from, to)?;
        if (to - from).num_days() >= MAX_DAYS as i64 {
            return Err(ApiError::bad(
                "to",
                format!("a summary covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(Self {
            group_by,
            bucket,
            from,
            to,
            include_bots,
            hours,
        })
    }

    /// The instants selected: `from` 00:00 UTC up to the end of `to`.
    pub fn range(&self) -> Range {
        Range {
            from: start_of(self.from),
            until: start_of(self.to + Days::new(1)),
        }
    }
}

/// The filters and page of `GET /api/v1/pull-requests`.
pub fn pull_request_filter(query: &str) -> Result<PullRequestFilter, ApiError> {
    let mut params = Params::parse(query, &PULL_REQUEST_PARAMETERS)?;
    let from = params.date("from")?;
    let to = params.date("to")?;
    if let (Some(from), Some(to)) = (from, to) {
        check_range(from, to)?;
    }
    let limit = match params.take("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::bad("limit", format!("expected a whole number 1 to {MAX_LIMIT}"))
            })?,
    };
    Ok(PullRequestFilter {
        repository: params
            .text("repository")?
            .map(|raw| RepoFullName::parse(&raw))
            .transpose()
            .map_err(|error| ApiError::bad("repository", error.to_string()))?,
        team: params.text("team")?,
        author: params.text("author")?,
        state: params
            .choice("state", &STATE_VALUES)?
            .map(|index| STATE_VALUES[index].to_owned()),
        created_from: from.map(start_of),
        created_until: to.map(|to| start_of(to + Days::new(1))),
        include_bots: params.choice("bots", &BOTS_VALUES)? == Some(1),
        after: params
            .take("cursor")
            .map(|raw| decode_cursor(&raw))
            .transpose()?,
        limit,
    })
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    if from > to {
        return Err(ApiError::bad("from", format!("{from} is after to ({to})")));
    }
    Ok(())
}

fn start_of(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// The opaque cursor of the page after `key`.
pub fn encode_cursor(key: &PageKey) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}.{}",
        key.created_at.timestamp_micros(),
        key.repository_id,
        key.number
    ))
}

fn decode_cursor(raw: &str) -> Result<PageKey, ApiError> {
    let bad = || ApiError::bad("cursor", "not a cursor this API handed out");
    let text = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let mut parts = text.split('.');
    let (Some(micros), Some(repository_id), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(PageKey {
        created_at: micros
            .parse()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            // Within what Postgres stores, so a forged cursor is a 400.
            .filter(|at| (1970..=9999).contains(&chrono::Datelike::year(at)))
            .ok_or_else(bad)?,
        repository_id: repository_id.parse().map_err(|_| bad())?,
        number: number.parse().map_err(|_| bad())?,
    })
}

/// The pairs of a query string, each name known and given once.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(query: &str, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|error| ApiError::bad("query", format!("not a query string: {error}")))?;
        let mut params = BTreeMap::new();
        for (name, value) in pairs {
            if !known.contains(&name.as_str()) {
                let name = name.chars().take(MAX_TEXT_LEN).collect::<String>();
                return Err(ApiError::bad(
                    &name,
                    format!("unknown parameter; known are {}", known.join(", ")),
                ));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad(&name, "given more than once"));
            }
        }
        Ok(Self(params))
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Free text, non-empty, bounded, without NUL (which Postgres refuses).
    fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        if value.is_empty() || value.chars().count() > MAX_TEXT_LEN || value.contains('\0') {
            return Err(ApiError::bad(
                name,
                format!("expected 1 to {MAX_TEXT_LEN} characters, no NUL"),
            ));
        }
        Ok(Some(value))
    }

    /// The index of the value among `choices`.
    fn choice(&mut self, name: &str, choices: &[&str]) -> Result<Option<usize>, ApiError> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        choices
            .iter()
            .position(|choice| *choice == value)
            .map(Some)
            .ok_or_else(|| ApiError::bad(name, format!("expected one of {}", choices.join(", "))))
    }

    fn date(&mut self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        NaiveDate::parse_from_str(&value, "%Y-%m-%d")
            .ok()
            // chrono reads "2026-3-2" too; the contract says YYYY-MM-DD.
            .filter(|_| value.len() == 10)
            .map(Some)
            .ok_or_else(|| ApiError::bad(name, "expected a date, YYYY-MM-DD (UTC)"))
    }
}

#[cfg(test)]
mod tests;
