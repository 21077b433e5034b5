//! Summaries of many pull requests: per group and time bucket, the count
//! of merges and the distribution (p50, p75, p90, mean) of every span.
//!
//! The contract (README, "prpulse-api"): a span counts in the bucket in
//! which it ended, and a range selects by that same time; percentiles are
//! continuous, as Postgres' `percentile_cont`; missing spans are not
//! counted; an empty set has `count: 0` and no statistics.

use std::collections::BTreeMap;

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

    /// Consecutive buckets have consecutive numbers: weeks since the
    /// Monday before the epoch, months since year 0; 0 for no buckets.
    fn ordinal(self, at: Timestamp) -> i64 {
        match self {
            Self::None => 0,
            // 1970-01-01 was a Thursday, three days after a Monday.
            Self::Week => (at.timestamp().div_euclid(86_400) + 3).div_euclid(7),
            Self::Month => {
                let date = at.date_naive();
                i64::from(date.year()) * 12 + i64::from(date.month0())
            }
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

/// What one group holds for one bucket, or for one period of the
/// maintained rollup (`periods`): the merges and every value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values {
    pub merged: u64,
    /// Indexed like [`Span::ALL`].
    pub spans: [Vec<f64>; 5],
    pub review_rounds: Vec<f64>,
}

impl Values {
    fn extend(&mut self, more: Self) {
        self.merged += more.merged;
        for (values, more) in self.spans.iter_mut().zip(more.spans) {
            append(values, more);
        }
        append(&mut self.review_rounds, more.review_rounds);
    }

    /// Each list sorted, as [`Distribution::of`] would sort it.
    fn sorted(mut self) -> Self {
        for values in self.spans.iter_mut().chain([&mut self.review_rounds]) {
            values.sort_by(f64::total_cmp);
        }
        self
    }
}

/// Moves `more` in; a first list is taken whole, not copied.
fn append(values: &mut Vec<f64>, mut more: Vec<f64>) {
    if values.is_empty() {
        *values = more;
    } else {
        values.append(&mut more);
    }
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
    let mut rollup = Rollup::new(bucket, range, always_one_key);
    for entry in entries {
        rollup.add(&entry);
    }
    rollup.finish()
}

/// [`rollup`] one entry at a time, so a caller streaming rows never holds
/// them all (an entry is gone once its values are taken).
///
/// Values are kept per key, then per bucket: an entry finds its key by
/// reference, so a key is copied once per group rather than once per
/// value (the copies were most of the allocations of a 100,000-row
/// summary), and its bucket by arithmetic on the instant, an index into
/// the range's buckets.
pub struct Rollup {
    bucket: Bucket,
    range: Range,
    buckets: Vec<Option<NaiveDate>>,
    first: i64,
    values: BTreeMap<Option<String>, Vec<Option<Box<Values>>>>,
}

impl Rollup {
    pub fn new(bucket: Bucket, range: Range, always_one_key: bool) -> Self {
        let last_instant = range.until - chrono::Duration::seconds(1);
        let buckets = bucket.all_between(range.from, last_instant.max(range.from));
        let mut rollup = Self {
            bucket,
            range,
            first: bucket.ordinal(range.from),
            values: BTreeMap::new(),
            buckets,
        };
        if always_one_key {
            rollup.values.insert(None, rollup.empty());
        }
        rollup
    }

    /// Makes `key` appear, with every bucket, even when nothing of it
    /// counts in the range (a Jira project whose issues ended in the
    /// range but none of whose pull requests did).
    pub fn include_key(&mut self, key: Option<String>) {
        if !self.values.contains_key(&key) {
            let empty = self.empty();
            self.values.insert(key, empty);
        }
    }

    fn empty(&self) -> Vec<Option<Box<Values>>> {
        (0..self.buckets.len()).map(|_| None).collect()
    }

    pub fn add(&mut self, entry: &Entry) {
        self.add_within(entry, self.range);
    }

    /// [`Self::add`] counting only what ended within `within` too: a
    /// summary reading part of its range raw (the rest from the
    /// maintained rollup) takes from each row only that part's values.
    pub fn add_within(&mut self, entry: &Entry, within: Range) {
        let counts = |at: &Timestamp| self.range.contains(*at) && within.contains(*at);
        let merged_at = entry.merged_at.filter(counts);
        let ends = Span::ALL.map(|span| {
            entry.spans[span.index()]
                .zip(entry.end_of(span))
                .filter(|(_, end)| counts(end))
        });
        if merged_at.is_none() && ends.iter().all(Option::is_none) {
            return;
        }
        let (bucket, first) = (self.bucket, self.first);
        if !self.values.contains_key(&entry.key) {
            let empty = self.empty();
            self.values.insert(entry.key.clone(), empty);
        }
        let Some(by_bucket) = self.values.get_mut(&entry.key) else {
            return;
        };
        // A value past the last bucket (a range ending within a second of
        // midnight) belongs to no bucket shown, as before.
        let index = |at: Timestamp| usize::try_from(bucket.ordinal(at) - first).ok();
        if let Some(merged_at) = merged_at
            && let Some(slot) = index(merged_at).and_then(|at| by_bucket.get_mut(at))
        {
            let found = slot.get_or_insert_with(Box::default);
            found.merged += 1;
            found.review_rounds.extend(entry.review_rounds);
        }
        for (span, end) in ends.into_iter().enumerate() {
            if let Some((value, end)) = end
                && let Some(slot) = index(end).and_then(|at| by_bucket.get_mut(at))
            {
                slot.get_or_insert_with(Box::default).spans[span].push(value);
            }
        }
    }

    /// Values already gathered for `key` (a period of the maintained
    /// rollup), all of which ended in the bucket holding `at`.
    pub fn add_values(&mut self, key: Option<String>, at: Timestamp, values: Values) {
        if !self.range.contains(at) {
            return;
        }
        let Some(index) = usize::try_from(self.bucket.ordinal(at) - self.first).ok() else {
            return;
        };
        let empty = self.empty();
        let by_bucket = self.values.entry(key).or_insert(empty);
        if let Some(slot) = by_bucket.get_mut(index) {
            slot.get_or_insert_with(Box::default).extend(values);
        }
    }

    /// Each key's values (of the first bucket, all there is without
    /// buckets), sorted: what the maintained rollup keeps of a period.
    pub fn into_values(self) -> Vec<(Option<String>, Values)> {
        self.values
            .into_iter()
            .filter_map(|(key, by_bucket)| {
                let found = by_bucket.into_iter().next().flatten()?;
                Some((key, found.sorted()))
            })
            .collect()
    }

    pub fn finish(self) -> Vec<Group> {
        let mut groups = Vec::new();
        for (key, by_bucket) in self.values {
            for (bucket, found) in self.buckets.iter().zip(by_bucket) {
                let found = found.map(|found| *found).unwrap_or_default();
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
}

pub mod issues;
pub mod periods;

#[cfg(test)]
mod tests;
