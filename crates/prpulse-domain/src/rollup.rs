//! Summaries of many pull requests: per group and time bucket, the count
//! of merges and the distribution (p50, p75, p90, mean) of every span.
//!
//! The contract (README, "prpulse-api"): a span counts in the bucket in
//! which it ended, and a range selects by that same time; percentiles are
//! continuous, as Postgres' `percentile_cont`; missing spans are not
//! counted; an empty set has `count: 0` and no statistics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Serialize;

use crate::metrics::Timestamp;

/// The spans a summary describes, in the order the API lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Span {
    CycleTime,
    ReviewTime,
    PickupTime,
    TimeToFirstApproval,
    MergeAfterApproval,
}

impl Span {
    pub const ALL: [Self; 5] = [
        Self::CycleTime,
        Self::ReviewTime,
        Self::PickupTime,
        Self::TimeToFirstApproval,
        Self::MergeAfterApproval,
    ];

    /// The `pr_metrics` column, and the summary's field.
    pub fn column(self) -> &'static str {
        match self {
            Self::CycleTime => "cycle_time_seconds",
            Self::ReviewTime => "review_time_seconds",
            Self::PickupTime => "pickup_time_seconds",
            Self::TimeToFirstApproval => "time_to_first_approval_seconds",
            Self::MergeAfterApproval => "merge_after_approval_seconds",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Count, percentiles and mean of a set of numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Distribution {
    pub count: u64,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p90: Option<f64>,
    pub mean: Option<f64>,
}

impl Distribution {
    pub fn of(mut values: Vec<f64>) -> Self {
        values.retain(|value| value.is_finite());
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let sum: f64 = values.iter().sum();
        Self {
            count: values.len() as u64,
            p50: Some(percentile_cont(&values, 0.5)),
            p75: Some(percentile_cont(&values, 0.75)),
            p90: Some(percentile_cont(&values, 0.9)),
            mean: Some(sum / values.len() as f64),
        }
    }
}

/// Postgres' `percentile_cont` over sorted, non-empty values: the value
/// at position `fraction * (n - 1)`, interpolated linearly between the
/// two values around it.
pub fn percentile_cont(sorted: &[f64], fraction: f64) -> f64 {
    let position = fraction * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    None,
    /// Weeks start on Monday 00:00 UTC.
    Week,
    /// Calendar months, UTC.
    Month,
}

impl Bucket {
    /// The first day of the bucket `at` falls in; `None` for no buckets.
    pub fn start_of(self, at: Timestamp) -> Option<NaiveDate> {
        let date = at.date_naive();
        match self {
            Self::None => None,
            Self::Week => Some(date - Days::new(u64::from(date.weekday().num_days_from_monday()))),
            Self::Month => date.with_day(1),
        }
    }

    /// Every bucket from the one holding `from` to the one holding `to`.
    fn all_between(self, from: Timestamp, to: Timestamp) -> Vec<Option<NaiveDate>> {
        let (Some(first), Some(last)) = (self.start_of(from), self.start_of(to)) else {
            return vec![None];
        };
        let mut buckets = Vec::new();
        let mut bucket = first;
        while bucket <= last {
            buckets.push(Some(bucket));
            bucket = match self {
                Self::Week => bucket + Days::new(7),
                _ => bucket + Months::new(1),
            };
        }
        buckets
    }
}

/// The instants a summary selects: `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: Timestamp,
    pub until: Timestamp,
}

impl Range {
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.until
    }
}

/// One pull request as one group sees it: the spans measured the way the
/// summary asks (wall or business seconds) and the times they ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The group it counts in; `None` when not grouped.
    pub key: Option<String>,
    pub merged_at: Option<Timestamp>,
    pub first_review_at: Option<Timestamp>,
    pub first_approval_at: Option<Timestamp>,
    /// Indexed like [`Span::ALL`].
    pub spans: [Option<f64>; 5],
    pub review_rounds: Option<f64>,
}

impl Entry {
    /// When `span` ended, which decides its bucket.
    pub fn end_of(&self, span: Span) -> Option<Timestamp> {
        match span {
            Span::CycleTime | Span::MergeAfterApproval => self.merged_at,
            Span::ReviewTime | Span::PickupTime => self.first_review_at,
            Span::TimeToFirstApproval => self.first_approval_at,
        }
    }
}

/// The summary of one group in one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub key: Option<String>,
    pub bucket: Option<NaiveDate>,
    pub merged: u64,
    /// Indexed like [`Span::ALL`].
    pub spans: [Distribution; 5],
    /// Review rounds of the pull requests merged in the bucket.
    pub review_rounds: Distribution,
}

#[derive(Default)]
struct Values {
    merged: u64,
    spans: [Vec<f64>; 5],
    review_rounds: Vec<f64>,
}

/// Groups and buckets the entries. Every key that has anything in the
/// range gets every bucket of the range (empty ones too, so a chart has
/// no holes); with `always_one_key` (no grouping) that key appears even
/// when nothing happened.
pub fn rollup(
    entries: impl IntoIterator<Item = Entry>,
    bucket: Bucket,
    range: Range,
    always_one_key: bool,
) -> Vec<Group> {
    let mut values: BTreeMap<(Option<String>, Option<NaiveDate>), Values> = BTreeMap::new();
    let mut keys: BTreeSet<Option<String>> = BTreeSet::new();
    if always_one_key {
        keys.insert(None);
    }
    for entry in entries {
        let mut slot = |at: Timestamp| -> (Option<String>, Option<NaiveDate>) {
            keys.insert(entry.key.clone());
            (entry.key.clone(), bucket.start_of(at))
        };
        if let Some(merged_at) = entry.merged_at.filter(|at| range.contains(*at)) {
            let found = values.entry(slot(merged_at)).or_default();
            found.merged += 1;
            found.review_rounds.extend(entry.review_rounds);
        }
        for span in Span::ALL {
            let (Some(value), Some(end)) = (entry.spans[span.index()], entry.end_of(span)) else {
                continue;
            };
            if range.contains(end) {
                values.entry(slot(end)).or_default().spans[span.index()].push(value);
            }
        }
    }
    let last_instant = range.until - chrono::Duration::seconds(1);
    let buckets = bucket.all_between(range.from, last_instant.max(range.from));
    let mut groups = Vec::new();
    for key in keys {
        for bucket in &buckets {
            let found = values.remove(&(key.clone(), *bucket)).unwrap_or_default();
            groups.push(Group {
                key: key.clone(),
                bucket: *bucket,
                merged: found.merged,
                spans: found.spans.map(Distribution::of),
                review_rounds: Distribution::of(found.review_rounds),
            });
        }
    }
    groups
}

#[cfg(test)]
mod tests;
