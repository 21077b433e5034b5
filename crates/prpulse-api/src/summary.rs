//! `GET /api/v1/summary`: the rows of `pr_metrics` a range selects,
//! measured in wall or business seconds, grouped and bucketed by
//! `prpulse_domain::rollup`; whole periods that the maintained rollup
//! holds clean come from it (`refresh` keeps it), the rest from the raw
//! rows, in one snapshot. By Jira project, the projects' issue spans
//! (`jira`) come from the same snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use prpulse_domain::{
    calendar::WorkingWindows,
    rollup::{
        Distribution, Entry, Group, Range, Rollup, Span,
        issues::{IssueGroup, IssueRollup, IssueSpan},
        periods::{Plan, midnight},
    },
};
use prpulse_store::{
    GenericClient, Pool, StoreError,
    calendars::{Calendars, all_calendars},
    read::{SpanRow, each_span_row, each_span_row_with_jira_projects},
    summary_rollup::{clean_periods, each_rollup_row, read_snapshot},
};
use serde::Serialize;

use crate::params::{GroupBy, Hours, SummaryParams};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub group_by: &'static str,
    pub bucket: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub hours: &'static str,
    pub bots: &'static str,
    pub groups: Vec<GroupOut>,
}

/// One group in one bucket, as the API spells it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupOut {
    pub key: Option<String>,
    pub bucket: Option<NaiveDate>,
    pub merged: u64,
    pub cycle_time_seconds: Distribution,
    pub review_time_seconds: Distribution,
    pub pickup_time_seconds: Distribution,
    pub time_to_first_approval_seconds: Distribution,
    pub merge_after_approval_seconds: Distribution,
    pub review_rounds: Distribution,
    /// Under `group_by=jira_project` only: the project's issues whose
    /// lead time (in progress -> last linked merge) ended in the bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_lead_time_seconds: Option<Distribution>,
    /// Under `group_by=jira_project` only: the project's issues whose
    /// cycle time (in progress -> resolved) ended in the bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_cycle_time_seconds: Option<Distribution>,
}

impl From<Group> for GroupOut {
    fn from(group: Group) -> Self {
        let [cycle, review, pickup, approval, merge] = group.spans;
        Self {
            key: group.key,
            bucket: group.bucket,
            merged: group.merged,
            cycle_time_seconds: cycle,
            review_time_seconds: review,
            pickup_time_seconds: pickup,
            time_to_first_approval_seconds: approval,
            merge_after_approval_seconds: merge,
            review_rounds: group.review_rounds,
            issue_lead_time_seconds: None,
            issue_cycle_time_seconds: None,
        }
    }
}

impl GroupOut {
    pub fn span(&self, span: Span) -> &Distribution {
        match span {
            Span::CycleTime => &self.cycle_time_seconds,
            Span::ReviewTime => &self.review_time_seconds,
            Span::PickupTime => &self.pickup_time_seconds,
            Span::TimeToFirstApproval => &self.time_to_first_approval_seconds,
            Span::MergeAfterApproval => &self.merge_after_approval_seconds,
        }
    }

    /// Under `group_by=jira_project`, the project's `span`.
    pub fn issue_span(&self, span: IssueSpan) -> Option<&Distribution> {
        match span {
            IssueSpan::LeadTime => self.issue_lead_time_seconds.as_ref(),
            IssueSpan::CycleTime => self.issue_cycle_time_seconds.as_ref(),
        }
    }

    /// The group with its Jira project's issue spans.
    pub fn with_issues(self, issues: IssueGroup) -> Self {
        let [lead, cycle] = issues.spans;
        Self {
            issue_lead_time_seconds: Some(lead),
            issue_cycle_time_seconds: Some(cycle),
            ..self
        }
    }
}

/// The groupings the maintained rollup keeps (migrations/V17); a summary
/// by any other reads only raw rows.
pub const ROLLED_UP: [GroupBy; 4] = [
    GroupBy::None,
    GroupBy::Repository,
    GroupBy::Team,
    GroupBy::Author,
];

/// Where a summary's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Whole periods built and clean from the maintained rollup, the rest
    /// from the raw rows: what the API answers with.
    Rollup,
    /// Every value from the raw rows (what the rollup is held equal to).
    Raw,
}

pub async fn summarise(pool: &Pool, params: &SummaryParams) -> Result<Summary, StoreError> {
    summarise_from(pool, params, Source::Rollup).await
}

pub async fn summarise_from(
    pool: &Pool,
    params: &SummaryParams,
    source: Source,
) -> Result<Summary, StoreError> {
    let mut client = pool.get().await?;
    let tx = read_snapshot(&mut client).await?;
    let range = params.range();
    let plan = match source {
        Source::Rollup => plan(&tx, params).await?,
        Source::Raw => Plan {
            served: Vec::new(),
            raw: vec![range],
        },
    };
    let by_project = params.group_by == GroupBy::JiraProject;
    let mut rollup = Rollup::new(params.bucket, range, params.group_by == GroupBy::None);
    if !plan.served.is_empty() {
        each_rollup_row(
            &tx,
            params.group_by.as_str(),
            params.hours.as_str(),
            &plan.served,
            params.include_bots,
            |key, period, values| rollup.add_values(key, midnight(period), values),
        )
        .await?;
    }
    let mut issues = None;
    if !plan.raw.is_empty() || by_project {
        let calendars = match params.hours {
            Hours::Business => all_calendars(&tx).await?,
            Hours::Wall => Calendars::default(),
        };
        let clocks = Clocks::new(&calendars, range);
        for piece in &plan.raw {
            // Each row's entries go straight into the rollup: holding
            // them all took ~20 MB more for 100,000 pull requests.
            let mut add = |row: SpanRow| {
                for entry in entries(&row, params, &clocks) {
                    rollup.add_within(&entry, *piece);
                }
            };
            let (from, until, bots) = (piece.from, piece.until, params.include_bots);
            if by_project {
                each_span_row_with_jira_projects(&tx, from, until, bots, &mut add).await?;
            } else {
                each_span_row(&tx, from, until, bots, &mut add).await?;
            }
        }
        if by_project {
            issues = Some(jira::issue_rollup(&tx, params, &clocks).await?);
        }
    }
    tx.commit().await?;
    drop(client);
    if let Some(issues) = &issues {
        for project in issues.projects() {
            rollup.include_key(Some(project.clone()));
        }
    }
    let groups = rollup.finish();
    let mut issue_groups = issues.map(IssueRollup::finish);
    let groups = groups.into_iter().map(|group| {
        let issues = issue_groups.as_mut().map(|found| {
            let at = (group.key.clone().unwrap_or_default(), group.bucket);
            found.remove(&at).unwrap_or_default()
        });
        let out = GroupOut::from(group);
        match issues {
            Some(issues) => out.with_issues(issues),
            None => out,
        }
    });
    Ok(Summary {
        group_by: params.group_by.as_str(),
        bucket: match params.bucket {
            prpulse_domain::rollup::Bucket::None => "none",
            prpulse_domain::rollup::Bucket::Week => "week",
            prpulse_domain::rollup::Bucket::Month => "month",
        },
        from: params.from,
        to: params.to,
        hours: params.hours.as_str(),
        bots: if params.include_bots {
            "include"
        } else {
            "exclude"
        },
        groups: groups.collect(),
    })
}

/// Which periods of the summary's range the maintained rollup serves (in
/// `client`'s snapshot) and which stretches are read raw.
pub async fn plan(client: &impl GenericClient, params: &SummaryParams) -> Result<Plan, StoreError> {
    let range = params.range();
    if !ROLLED_UP.contains(&params.group_by) {
        return Ok(Plan {
            served: Vec::new(),
            raw: vec![range],
        });
    }
    let clean = clean_periods(client, params.from, params.to + Days::new(1)).await?;
    Ok(Plan::new(range, |start| clean.contains(&start)))
}

/// The entries one pull request contributes: one per group it counts in
/// (each team of its author under `group_by=team`, each Jira project it
/// is linked to under `group_by=jira_project`, else one), its spans in
/// the hours asked for.
///
/// Business hours use, under `group_by=team`, the calendar of the team
/// the entry counts for (so each team's row is in its own working
/// hours); otherwise the calendar of the author's first team (by slug)
/// that has one; otherwise the default calendar.
pub fn entries(row: &SpanRow, params: &SummaryParams, clocks: &Clocks) -> Vec<Entry> {
    let keys: Vec<Option<String>> = match params.group_by {
        GroupBy::None => vec![None],
        GroupBy::Repository => vec![Some(row.repository.clone())],
        GroupBy::Author => vec![row.author.clone()],
        GroupBy::Team => row.teams.iter().cloned().map(Some).collect(),
        GroupBy::JiraProject => row.jira_projects.iter().cloned().map(Some).collect(),
    };
    keys.into_iter()
        .map(|key| {
            let calendar = (params.hours == Hours::Business).then(|| {
                let team = match params.group_by {
                    GroupBy::Team => key.as_deref(),
                    _ => row
                        .teams
                        .iter()
                        .find(|slug| clocks.calendars.teams.contains_key(*slug))
                        .map(String::as_str),
                };
                clocks.of_team(team)
            });
            entry(row, key, calendar)
        })
        .collect()
}

fn entry(row: &SpanRow, key: Option<String>, calendar: Option<&WorkingWindows>) -> Entry {
    let mut entry = Entry {
        key,
        merged_at: row.merged_at,
        first_review_at: row.first_review_at,
        first_approval_at: row.first_approval_at,
        spans: [None; 5],
        review_rounds: Some(f64::from(row.review_rounds)),
    };
    for (index, span) in Span::ALL.into_iter().enumerate() {
        entry.spans[index] = match (row.spans[index], calendar) {
            (Some(wall), None) => Some(wall as f64),
            (Some(wall), Some(calendar)) => {
                // The stored wall span and one end give the other, so the
                // rule behind each span stays the worker's. Pickup and
                // approval run from ready_at (pickup's end need not be
                // first_review_at: a review while still a draft is not a
                // pickup); the others end at the time they are bucketed by.
                let (start, end): (DateTime<Utc>, DateTime<Utc>) = match span {
                    Span::PickupTime | Span::TimeToFirstApproval => {
                        let Some(start) = row.ready_at else { continue };
                        (start, start + chrono::Duration::seconds(wall))
                    }
                    _ => {
                        let Some(end) = entry.end_of(span) else {
                            continue;
                        };
                        (end - chrono::Duration::seconds(wall), end)
                    }
                };
                Some(calendar.working_seconds(start, end) as f64)
            }
            _ => None,
        };
    }
    entry
}

/// Every calendar's working windows over the dates a summary's spans
/// fall in, worked out once per request (`Calendars::of_team`'s choice).
pub struct Clocks<'a> {
    calendars: &'a Calendars,
    fallback: WorkingWindows<'a>,
    teams: BTreeMap<&'a str, WorkingWindows<'a>>,
}

/// How far before the range the windows reach: spans that started
/// earlier still measure right, day by day.
const WINDOWS_BEFORE_RANGE: Days = Days::new(92);

impl<'a> Clocks<'a> {
    pub fn new(calendars: &'a Calendars, range: Range) -> Self {
        let first = range.from.date_naive() - WINDOWS_BEFORE_RANGE;
        let last = range.until.date_naive() + Days::new(2);
        let windows = |calendar| WorkingWindows::new(calendar, first, last);
        Self {
            calendars,
            fallback: windows(calendars.fallback()),
            teams: calendars
                .teams
                .iter()
                .map(|(slug, calendar)| (slug.as_str(), windows(calendar)))
                .collect(),
        }
    }

    /// The windows of `team_slug`'s calendar, else of the fallback.
    pub fn of_team(&self, team_slug: Option<&str>) -> &WorkingWindows<'a> {
        team_slug
            .and_then(|slug| self.teams.get(slug))
            .unwrap_or(&self.fallback)
    }
}

mod jira;
pub mod refresh;

#[cfg(test)]
mod tests;
