//! Jira issues in a summary grouped by project (`group_by=jira_project`):
//! per project and bucket, the distributions of issue lead time (in
//! progress -> last linked merge) and issue cycle time (in progress ->
//! resolved). The pull requests' contract holds for them too: a span
//! counts in the bucket in which it ended (lead time: the last linked
//! merge; cycle time: the resolution), the range selects by that same
//! time, and percentiles are [`Distribution::of`]'s.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Bucket, Distribution, Range};
use crate::metrics::Timestamp;

/// The issue spans, in the order the API lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueSpan {
    LeadTime,
    CycleTime,
}

impl IssueSpan {
    pub const ALL: [Self; 2] = [Self::LeadTime, Self::CycleTime];

    /// The `jira_issue_metrics` column, and the summary's field.
    pub fn column(self) -> &'static str {
        match self {
            Self::LeadTime => "issue_lead_time_seconds",
            Self::CycleTime => "issue_cycle_time_seconds",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One issue as its project's group sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueEntry {
    pub project: String,
    /// Indexed like [`IssueSpan::ALL`]: the span, measured the way the
    /// summary asks, and when it ended.
    pub spans: [Option<(f64, Timestamp)>; 2],
}

/// The issue spans of one project in one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IssueGroup {
    /// Indexed like [`IssueSpan::ALL`].
    pub spans: [Distribution; 2],
}

impl IssueGroup {
    pub fn span(&self, span: IssueSpan) -> &Distribution {
        &self.spans[span.index()]
    }
}

/// Gathers issue entries per project and bucket of a range, as
/// [`super::Rollup`] gathers pull requests'.
pub struct IssueRollup {
    bucket: Bucket,
    range: Range,
    buckets: Vec<Option<NaiveDate>>,
    first: i64,
    values: BTreeMap<String, Vec<[Vec<f64>; 2]>>,
}

impl IssueRollup {
    pub fn new(bucket: Bucket, range: Range) -> Self {
        let last_instant = range.until - chrono::Duration::seconds(1);
        Self {
            bucket,
            range,
            buckets: bucket.all_between(range.from, last_instant.max(range.from)),
            first: bucket.ordinal(range.from),
            values: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, entry: &IssueEntry) {
        let (bucket, first, range, count) =
            (self.bucket, self.first, self.range, self.buckets.len());
        // A span ending past the last bucket shown (a range ending within
        // a second of midnight) counts nowhere, as a pull request's.
        let slots = entry.spans.map(|span| {
            let (value, end) = span.filter(|(_, end)| range.contains(*end))?;
            let index = usize::try_from(bucket.ordinal(end) - first)
                .ok()
                .filter(|index| *index < count)?;
            Some((value, index))
        });
        if slots.iter().all(Option::is_none) {
            return;
        }
        if !self.values.contains_key(&entry.project) {
            self.values
                .insert(entry.project.clone(), vec![Default::default(); count]);
        }
        let Some(by_bucket) = self.values.get_mut(&entry.project) else {
            return;
        };
        for (span, slot) in slots.into_iter().enumerate() {
            if let Some((value, index)) = slot {
                by_bucket[index][span].push(value);
            }
        }
    }

    /// The projects with an issue span in the range.
    pub fn projects(&self) -> impl Iterator<Item = &String> {
        self.values.keys()
    }

    /// Every bucket of every project with a span in the range, empty
    /// buckets included, by project and bucket.
    pub fn finish(self) -> BTreeMap<(String, Option<NaiveDate>), IssueGroup> {
        let mut groups = BTreeMap::new();
        for (project, by_bucket) in self.values {
            for (bucket, spans) in self.buckets.iter().zip(by_bucket) {
                groups.insert(
                    (project.clone(), *bucket),
                    IssueGroup {
                        spans: spans.map(Distribution::of),
                    },
                );
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn utc(d: u32, h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }

    /// Monday 2 to Sunday 15 March 2026.
    fn two_weeks() -> Range {
        Range {
            from: utc(2, 0),
            until: utc(16, 0),
        }
    }

    fn issue(project: &str, lead: Option<(f64, u32)>, cycle: Option<(f64, u32)>) -> IssueEntry {
        IssueEntry {
            project: project.to_owned(),
            spans: [lead, cycle].map(|span| span.map(|(value, day)| (value, utc(day, 12)))),
        }
    }

    #[test]
    fn each_span_counts_in_the_bucket_it_ended_in_and_every_bucket_is_there() {
        let mut rollup = IssueRollup::new(Bucket::Week, two_weeks());
        // Merged in week 1, resolved in week 2.
        rollup.add(&issue("ABC", Some((10.0, 4)), Some((30.0, 10))));
        rollup.add(&issue("ABC", Some((20.0, 5)), None));
        // Only a cycle time, in week 2.
        rollup.add(&issue("OPS", None, Some((7.0, 11))));
        assert_eq!(rollup.projects().collect::<Vec<_>>(), ["ABC", "OPS"]);
        let groups = rollup.finish();
        assert_eq!(groups.len(), 4, "two projects, two weeks each");
        let week = |project: &str, day: u32| {
            &groups[&(project.to_owned(), NaiveDate::from_ymd_opt(2026, 3, day))]
        };
        let abc = week("ABC", 2);
        assert_eq!(abc.span(IssueSpan::LeadTime).count, 2);
        assert_eq!(abc.span(IssueSpan::LeadTime).p50, Some(15.0));
        assert_eq!(abc.span(IssueSpan::CycleTime).count, 0);
        assert_eq!(week("ABC", 9).span(IssueSpan::CycleTime).p50, Some(30.0));
        assert_eq!(week("OPS", 2), &IssueGroup::default());
        assert_eq!(week("OPS", 9).span(IssueSpan::CycleTime).mean, Some(7.0));
    }

    #[test]
    fn the_range_selects_by_the_end_of_each_span() {
        let mut rollup = IssueRollup::new(Bucket::None, two_weeks());
        // Merged before the range, resolved within it: only the cycle time.
        rollup.add(&issue("ABC", Some((1.0, 1)), Some((2.0, 3))));
        // Nothing ended within: no project.
        rollup.add(&issue("OPS", Some((1.0, 16)), Some((2.0, 20))));
        let groups = rollup.finish();
        assert_eq!(groups.len(), 1);
        let abc = &groups[&("ABC".to_owned(), None)];
        assert_eq!(abc.span(IssueSpan::LeadTime).count, 0);
        assert_eq!(abc.span(IssueSpan::CycleTime).count, 1);
    }
}
