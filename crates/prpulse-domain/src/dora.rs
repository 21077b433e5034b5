//! The four DORA keys per group and time bucket, and the 2023 DORA
//! performance band of each (the 2023 Accelerate State of DevOps report;
//! where its bands overlap, the boundary is DevLake's reading of them).
//!
//! - deployment frequency: successful production deploys, and the days
//!   with at least one, in the bucket (by when each finished);
//! - lead time for changes: p50/p75/p90 of `lead_time_seconds` of the
//!   changes deployed in the bucket;
//! - change failure rate: of the deploys that finished (succeeded or
//!   failed) in the bucket, the share an incident followed before the next;
//! - failed deployment recovery time: p50/p75/p90 of the incidents
//!   resolved in the bucket, opened → resolved.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::metrics::Timestamp;
use crate::rollup::{Bucket, Distribution, Range};

/// A production deploy that finished, in each group it counts for.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployFact {
    pub keys: Vec<Option<String>>,
    pub finished_at: Timestamp,
    pub succeeded: bool,
    /// An incident followed it before the next deploy.
    pub failed_change: bool,
}

/// A change (pull request) a deploy shipped.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeFact {
    pub keys: Vec<Option<String>>,
    pub deployed_at: Timestamp,
    pub lead_time_seconds: Option<f64>,
}

/// An incident that was resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryFact {
    pub keys: Vec<Option<String>>,
    pub resolved_at: Timestamp,
    pub recovery_seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;

impl Band {
    /// "On demand" is at least a deploy a day; then once a week, once a
    /// month. `days` is how long the bucket is.
    pub fn of_deploy_frequency(deploys: u64, days: f64) -> Option<Self> {
        if days <= 0.0 {
            return None;
        }
        let per_day = deploys as f64 / days;
        Some(if per_day >= 1.0 {
            Self::Elite
        } else if per_day * 7.0 >= 1.0 {
            Self::High
        } else if per_day * 30.0 >= 1.0 {
            Self::Medium
        } else {
            Self::Low
        })
    }

    /// By the median: less than a day, a week, a month.
    pub fn of_lead_time(p50_seconds: Option<f64>) -> Option<Self> {
        let p50 = p50_seconds?;
        Some(if p50 < DAY {
            Self::Elite
        } else if p50 < WEEK {
            Self::High
        } else if p50 < MONTH {
            Self::Medium
        } else {
            Self::Low
        })
    }

    /// At most 5 %, 10 %, 15 %.
    pub fn of_change_failure_rate(rate: Option<f64>) -> Option<Self> {
        let rate = rate?;
        Some(if rate <= 0.05 {
            Self::Elite
        } else if rate <= 0.10 {
            Self::High
        } else if rate <= 0.15 {
            Self::Medium
        } else {
            Self::Low
        })
    }

    /// By the median: less than an hour, a day, a week.
    pub fn of_recovery_time(p50_seconds: Option<f64>) -> Option<Self> {
        let p50 = p50_seconds?;
        Some(if p50 < HOUR {
            Self::Elite
        } else if p50 < DAY {
            Self::High
        } else if p50 < WEEK {
            Self::Medium
        } else {
            Self::Low
        })
    }
}

/// The four keys of one group in one bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoraGroup {
    pub key: Option<String>,
    pub bucket: Option<NaiveDate>,
    pub deployment_frequency: Frequency,
    pub lead_time_seconds: Keyed<Distribution>,
    pub change_failure_rate: Rate,
    pub recovery_time_seconds: Keyed<Distribution>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Frequency {
    pub deploys: u64,
    pub deploy_days: u64,
    pub band: Option<Band>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// Deploys that finished, succeeded or failed.
    pub deploys: u64,
    pub failed: u64,
    pub rate: Option<f64>,
    pub band: Option<Band>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Keyed<T> {
    #[serde(flatten)]
    pub value: T,
    pub band: Option<Band>,
}

#[derive(Default)]
struct Values {
    deploys: u64,
    deploy_days: BTreeSet<NaiveDate>,
    finished: u64,
    failed: u64,
    lead_times: Vec<f64>,
    recoveries: Vec<f64>,
}

/// Groups and buckets the facts as the summary does: each key with
/// anything in the range gets every bucket of it, and without grouping
/// (`always_one_key`) the one key appears even when nothing happened.
pub fn dora_rollup(
    bucket: Bucket,
    range: Range,
    always_one_key: bool,
    deploys: &[DeployFact],
    changes: &[ChangeFact],
    recoveries: &[RecoveryFact],
) -> Vec<DoraGroup> {
    let buckets = buckets_of(bucket, range);
    let mut values: BTreeMap<Option<String>, BTreeMap<Option<NaiveDate>, Values>> = BTreeMap::new();
    if always_one_key {
        values.insert(None, BTreeMap::new());
    }
    let slot =
        |keys: &[Option<String>], at: Timestamp| -> Vec<(Option<String>, Option<NaiveDate>)> {
            if !range.contains(at) {
                return Vec::new();
            }
            keys.iter()
                .map(|key| (key.clone(), bucket.start_of(at)))
                .collect()
        };
    let mut found = Vec::new();
    for deploy in deploys {
        for (key, at) in slot(&deploy.keys, deploy.finished_at) {
            found.push((key, at, Fact::Deploy(deploy)));
        }
    }
    for change in changes {
        for (key, at) in slot(&change.keys, change.deployed_at) {
            found.push((key, at, Fact::Change(change)));
        }
    }
    for recovery in recoveries {
        for (key, at) in slot(&recovery.keys, recovery.resolved_at) {
            found.push((key, at, Fact::Recovery(recovery)));
        }
    }
    for (key, at, fact) in found {
        let entry = values.entry(key).or_default().entry(at).or_default();
        match fact {
            Fact::Deploy(deploy) => {
                entry.finished += 1;
                entry.failed += u64::from(deploy.failed_change);
                if deploy.succeeded {
                    entry.deploys += 1;
                    entry.deploy_days.insert(deploy.finished_at.date_naive());
                }
            }
            Fact::Change(change) => entry.lead_times.extend(change.lead_time_seconds),
            Fact::Recovery(recovery) => entry.recoveries.push(recovery.recovery_seconds),
        }
    }
    let mut groups = Vec::new();
    for (key, mut by_bucket) in values {
        for (start, days) in &buckets {
            let found = by_bucket.remove(start).unwrap_or_default();
            groups.push(group(key.clone(), *start, *days, found));
        }
    }
    groups
}

enum Fact<'a> {
    Deploy(&'a DeployFact),
    Change(&'a ChangeFact),
    Recovery(&'a RecoveryFact),
}

fn group(key: Option<String>, bucket: Option<NaiveDate>, days: f64, values: Values) -> DoraGroup {
    let rate = (values.finished > 0).then(|| values.failed as f64 / values.finished as f64);
    let lead = Distribution::of(values.lead_times);
    let recovery = Distribution::of(values.recoveries);
    DoraGroup {
        key,
        bucket,
        deployment_frequency: Frequency {
            deploys: values.deploys,
            deploy_days: values.deploy_days.len() as u64,
            band: Band::of_deploy_frequency(values.deploys, days),
        },
        lead_time_seconds: Keyed {
            band: Band::of_lead_time(lead.p50),
            value: lead,
        },
        change_failure_rate: Rate {
            deploys: values.finished,
            failed: values.failed,
            rate,
            band: Band::of_change_failure_rate(rate),
        },
        recovery_time_seconds: Keyed {
            band: Band::of_recovery_time(recovery.p50),
            value: recovery,
        },
    }
}

/// Each bucket of the range and how many days of the range it covers
/// (a partial first or last week counts only its days in the range).
fn buckets_of(bucket: Bucket, range: Range) -> Vec<(Option<NaiveDate>, f64)> {
    let seconds = |from: Timestamp, until: Timestamp| (until - from).num_seconds() as f64;
    let last = range.until - chrono::Duration::seconds(1);
    let (Some(first), Some(_)) = (bucket.start_of(range.from), bucket.start_of(last)) else {
        return vec![(None, seconds(range.from, range.until) / DAY)];
    };
    let mut out = Vec::new();
    let mut start = first;
    while let Some(begin) = start.and_hms_opt(0, 0, 0).map(|at| at.and_utc()) {
        if begin >= range.until {
            break;
        }
        let next = match bucket {
            Bucket::Week => start + chrono::Days::new(7),
            _ => start + chrono::Months::new(1),
        };
        let end = next
            .and_hms_opt(0, 0, 0)
            .map_or(range.until, |at| at.and_utc());
        let covered = seconds(begin.max(range.from), end.min(range.until));
        out.push((Some(start), covered / DAY));
        start = next;
    }
    out
}

#[cfg(test)]
mod tests;
