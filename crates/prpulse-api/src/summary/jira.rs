//! The issue half of a summary by Jira project: each issue of
//! `jira_issue_metrics` whose lead or cycle time ended in the range, its
//! spans in the hours asked for.

use prpulse_domain::rollup::issues::{IssueEntry, IssueRollup};
use prpulse_store::{
    GenericClient, StoreError,
    read::jira::{IssueSpanRow, each_issue_span_row},
};

use super::Clocks;
use crate::params::{Hours, SummaryParams};

pub async fn issue_rollup(
    client: &impl GenericClient,
    params: &SummaryParams,
    clocks: &Clocks<'_>,
) -> Result<IssueRollup, StoreError> {
    let range = params.range();
    let mut rollup = IssueRollup::new(params.bucket, range);
    each_issue_span_row(client, range.from, range.until, |row| {
        rollup.add(&issue_entry(&row, params.hours, clocks));
    })
    .await?;
    Ok(rollup)
}

/// Wall seconds as the view has them; business seconds in the default
/// calendar between the same instants (first in progress to the last
/// linked merge or the resolution): an issue has no GitHub author, so
/// no team whose calendar could be its.
pub fn issue_entry(row: &IssueSpanRow, hours: Hours, clocks: &Clocks<'_>) -> IssueEntry {
    let calendar = (hours == Hours::Business).then(|| clocks.of_team(None));
    let span = |wall: Option<i64>, end| {
        let (wall, end) = (wall?, end?);
        let seconds = match calendar {
            None => wall as f64,
            Some(calendar) => calendar.working_seconds(row.first_in_progress_at?, end) as f64,
        };
        Some((seconds, end))
    };
    IssueEntry {
        project: row.project.clone(),
        spans: [
            span(row.lead_time_seconds, row.last_linked_pr_merged_at),
            span(row.cycle_time_seconds, row.resolved_at),
        ],
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use prpulse_store::calendars::Calendars;

    use super::*;

    #[test]
    fn business_hours_of_an_issue_are_the_default_calendars() {
        // In progress Friday 2026-03-06 16:00 UTC, last linked merge
        // Monday 10:00, resolved Monday 12:00; default calendar UTC
        // Monday to Friday 09:00-17:00.
        let started = Utc.with_ymd_and_hms(2026, 3, 6, 16, 0, 0).unwrap();
        let merged = Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).unwrap();
        let resolved = Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap();
        let row = IssueSpanRow {
            project: "ABC".into(),
            first_in_progress_at: Some(started),
            last_linked_pr_merged_at: Some(merged),
            resolved_at: Some(resolved),
            lead_time_seconds: Some((merged - started).num_seconds()),
            cycle_time_seconds: Some((resolved - started).num_seconds()),
        };
        let calendars = Calendars::default();
        let range = prpulse_domain::rollup::Range {
            from: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            until: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
        };
        let clocks = Clocks::new(&calendars, range);
        let wall = issue_entry(&row, Hours::Wall, &clocks);
        assert_eq!(wall.spans[0], Some((66.0 * 3600.0, merged)));
        assert_eq!(wall.spans[1], Some((68.0 * 3600.0, resolved)));
        let business = issue_entry(&row, Hours::Business, &clocks);
        assert_eq!(business.spans[0], Some((2.0 * 3600.0, merged)));
        assert_eq!(business.spans[1], Some((4.0 * 3600.0, resolved)));
        // A phase that did not happen stays out.
        let unresolved = IssueSpanRow {
            resolved_at: None,
            cycle_time_seconds: None,
            ..row
        };
        assert_eq!(
            issue_entry(&unresolved, Hours::Business, &clocks).spans[1],
            None
        );
    }
}
