use chrono::TimeZone;
use prpulse_domain::{WorkingCalendar, calendar::parse_time_zone};

use super::*;

fn params(group_by: GroupBy, hours: Hours) -> SummaryParams {
    SummaryParams {
        group_by,
        bucket: prpulse_domain::rollup::Bucket::None,
        from: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        include_bots: false,
        hours,
    }
}

/// Opened Friday 2026-03-06 16:00 UTC, reviewed Monday 10:00, merged
/// Monday 12:00 UTC, by an author in teams `core` and `web`.
fn row() -> SpanRow {
    let created = Utc.with_ymd_and_hms(2026, 3, 6, 16, 0, 0).unwrap();
    let reviewed = Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).unwrap();
    let merged = Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap();
    SpanRow {
        repository: "acme/api".into(),
        author: Some("ada".into()),
        teams: vec!["core".into(), "web".into()],
        merged_at: Some(merged),
        first_review_at: Some(reviewed),
        first_approval_at: None,
        ready_at: Some(created),
        spans: [
            Some((merged - created).num_seconds()),
            Some((reviewed - created).num_seconds()),
            Some((reviewed - created).num_seconds()),
            None,
            None,
        ],
        review_rounds: 1,
        author_is_bot: false,
        jira_projects: vec!["ABC".into(), "OPS".into()],
    }
}

fn clocks(calendars: &Calendars) -> Clocks<'_> {
    let params = params(GroupBy::None, Hours::Business);
    Clocks::new(calendars, params.range())
}

fn calendars() -> Calendars {
    let mut calendars = Calendars::default();
    // `web` works in Berlin (UTC+1 in March): 08:00-16:00 UTC.
    calendars.teams.insert(
        "web".into(),
        WorkingCalendar {
            time_zone: parse_time_zone("Europe/Berlin").unwrap(),
            ..WorkingCalendar::default()
        },
    );
    calendars
}

#[test]
fn wall_hours_are_the_stored_spans_and_each_team_counts_the_pull_request() {
    let entries = entries(
        &row(),
        &params(GroupBy::Team, Hours::Wall),
        &clocks(&calendars()),
    );
    let keys: Vec<_> = entries.iter().map(|e| e.key.clone().unwrap()).collect();
    assert_eq!(keys, ["core", "web"]);
    // Friday 16:00 to Monday 12:00 is 68 hours of wall time.
    assert_eq!(entries[0].spans[0], Some(68.0 * 3600.0));
    assert_eq!(entries[0].spans[3], None);
    let none = super::entries(
        &row(),
        &params(GroupBy::None, Hours::Wall),
        &clocks(&calendars()),
    );
    assert_eq!(none.len(), 1, "ungrouped, a pull request counts once");
    assert_eq!(none[0].key, None);
}

#[test]
fn business_hours_use_the_team_calendar_under_team_grouping() {
    let entries = entries(
        &row(),
        &params(GroupBy::Team, Hours::Business),
        &clocks(&calendars()),
    );
    // core has no calendar: the default, UTC 09-17. Friday 16-17 and
    // Monday 09-12: 4 hours of cycle time, 2 of review time.
    assert_eq!(entries[0].spans[0], Some(4.0 * 3600.0));
    assert_eq!(entries[0].spans[1], Some(2.0 * 3600.0));
    // web works 08:00-16:00 UTC: nothing on Friday after 16:00, Monday
    // 08-12: 4 hours; the review at 10:00 after 2.
    assert_eq!(entries[1].spans[0], Some(4.0 * 3600.0));
    assert_eq!(entries[1].spans[1], Some(2.0 * 3600.0));
}

#[test]
fn otherwise_business_hours_use_the_first_team_with_a_calendar() {
    // By repository: the author's teams are core (no calendar) and web
    // (Berlin): web's calendar is used. Opened Friday 16:30 UTC.
    let mut row = row();
    row.spans[0] = Some(row.spans[0].unwrap() - 1800);
    let by_repo = entries(
        &row,
        &params(GroupBy::Repository, Hours::Business),
        &clocks(&calendars()),
    );
    assert_eq!(by_repo[0].key.as_deref(), Some("acme/api"));
    // Berlin: nothing on Friday (closed at 16:00 UTC), Monday 08-12 UTC.
    assert_eq!(by_repo[0].spans[0], Some(4.0 * 3600.0));
    row.teams = vec!["core".into()];
    let default = entries(
        &row,
        &params(GroupBy::Repository, Hours::Business),
        &clocks(&calendars()),
    );
    // UTC 09-17: Friday 16:30-17:00 and Monday 09-12.
    assert_eq!(default[0].spans[0], Some(3.5 * 3600.0));
    row.teams.clear();
    let by_team = entries(
        &row,
        &params(GroupBy::Team, Hours::Business),
        &clocks(&calendars()),
    );
    assert!(by_team.is_empty(), "an author in no team has no team row");
}

#[test]
fn business_pickup_runs_from_ready_at_whatever_review_came_first() {
    // Opened as a draft Friday 16:00, reviewed while a draft on Friday at
    // 16:30, ready Monday 08:00, picked up (reviewed again) Monday 10:00:
    // one working hour (from 09:00) of pickup, though first_review_at is
    // Friday (measuring back from it would give Friday 14:30-16:30).
    let mut row = row();
    row.ready_at = Some(Utc.with_ymd_and_hms(2026, 3, 9, 8, 0, 0).unwrap());
    row.first_review_at = Some(Utc.with_ymd_and_hms(2026, 3, 6, 16, 30, 0).unwrap());
    row.spans[2] = Some(2 * 3600);
    row.teams.clear();
    let entries = entries(
        &row,
        &params(GroupBy::None, Hours::Business),
        &clocks(&calendars()),
    );
    assert_eq!(entries[0].spans[2], Some(3600.0));
}

#[test]
fn a_pull_request_counts_for_each_jira_project_it_is_linked_to_and_none_without_one() {
    let calendars = calendars();
    // Opened Friday 16:30 UTC.
    let mut opened_later = row();
    opened_later.spans[0] = Some(opened_later.spans[0].unwrap() - 1800);
    let by_project = entries(
        &opened_later,
        &params(GroupBy::JiraProject, Hours::Business),
        &clocks(&calendars),
    );
    let keys: Vec<_> = by_project.iter().map(|e| e.key.clone().unwrap()).collect();
    assert_eq!(keys, ["ABC", "OPS"]);
    // Both in the author's first team with a calendar (web, Berlin:
    // 08:00-16:00 UTC), as outside group_by=team: Monday 08:00-12:00
    // (the default calendar would give 3.5 hours).
    assert_eq!(by_project[0].spans[0], Some(4.0 * 3600.0));
    assert_eq!(by_project[0].spans, by_project[1].spans);
    let unlinked = SpanRow {
        jira_projects: Vec::new(),
        ..row()
    };
    assert!(
        entries(
            &unlinked,
            &params(GroupBy::JiraProject, Hours::Wall),
            &clocks(&calendars)
        )
        .is_empty()
    );
}
