//! Business hours in SQL (`pr_business_seconds`, migrations/V14, what the
//! Grafana dashboard measures with) agree with the Rust calendar
//! (`WorkingCalendar::working_seconds`, what prpulse-api measures with):
//! a table of hard cases, a property over random spans and calendars, and
//! the choice of calendar by team.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use prpulse_api::{
    params::{GroupBy, Hours, SummaryParams},
    summary::{Clocks, entries},
};
use prpulse_domain::rollup::Bucket;
use prpulse_domain::{DailyHours, WorkingCalendar, WorkingDays, calendar::parse_time_zone};
use prpulse_e2e::TestDb;
use prpulse_store::{
    calendars::{Calendars, all_calendars, set_calendar},
    read::each_span_row,
};
use tokio_postgres::Client;

type Timestamp = DateTime<Utc>;

fn calendar(zone: &str, days: &str, hours: &str, holidays: &[&str]) -> WorkingCalendar {
    WorkingCalendar {
        time_zone: parse_time_zone(zone).unwrap(),
        days: days.parse().unwrap(),
        hours: hours.parse().unwrap(),
        holidays: holidays
            .iter()
            .map(|day| day.parse::<NaiveDate>().unwrap())
            .collect(),
    }
}

fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// `pr_business_seconds` on the calendar's fields.
async fn sql_seconds(
    client: &Client,
    calendar: &WorkingCalendar,
    start: Timestamp,
    end: Timestamp,
) -> i64 {
    let holidays: Vec<NaiveDate> = calendar.holidays.iter().copied().collect();
    client
        .query_one(
            "SELECT pr_business_seconds($1, $2, $3, $4, $5, $6, $7)",
            &[
                &start,
                &end,
                &calendar.time_zone.name(),
                &calendar.days.iso_numbers(),
                &calendar.hours.start,
                &calendar.hours.end,
                &holidays,
            ],
        )
        .await
        .unwrap_or_else(|error| panic!("pr_business_seconds({start}, {end}): {error:?}"))
        .get(0)
}

#[tokio::test]
async fn sql_and_rust_agree_on_the_hard_cases() {
    let db = TestDb::create().await;
    let client = db.client().await;
    let berlin = calendar("Europe/Berlin", "Mon-Fri", "09:00-17:00", &[]);
    // Clocks change inside these hours on the Sundays of the changes.
    let berlin_nights = calendar("Europe/Berlin", "Mon-Sun", "01:30-03:30", &[]);
    // 02:30 does not exist on 2026-03-29 and happens twice on 2026-10-25.
    let berlin_in_the_gap = calendar("Europe/Berlin", "Sun", "02:30-02:45", &[]);
    let christmas = calendar(
        "Europe/Berlin",
        "Mon-Fri",
        "09:00-17:00",
        &["2026-12-24", "2026-12-25"],
    );
    let utc = WorkingCalendar::default();
    let sydney = calendar("Australia/Sydney", "Mon-Fri", "08:30-16:45:30", &[]);
    let new_york = calendar("America/New_York", "Sun-Thu", "01:00-02:30", &[]);
    // (calendar, start, end, the working seconds worked out by hand)
    let cases: Vec<(&WorkingCalendar, &str, &str, i64)> = vec![
        // A Monday, inside hours.
        (&utc, "2026-03-02T10:00:00Z", "2026-03-02T11:30:00Z", 5400),
        // Friday evening to Monday morning: none.
        (&utc, "2026-03-06T17:00:00Z", "2026-03-09T09:00:00Z", 0),
        // Starts before hours on Friday, ends after hours on Monday.
        (
            &utc,
            "2026-03-06T06:00:00Z",
            "2026-03-09T20:00:00Z",
            16 * 3600,
        ),
        // Starts and ends at night inside one weekend.
        (&utc, "2026-03-07T02:00:00Z", "2026-03-08T23:00:00Z", 0),
        // Four weeks and a bit.
        (
            &utc,
            "2026-03-02T00:00:00Z",
            "2026-04-01T12:00:00Z",
            (22 * 8 + 3) * 3600,
        ),
        // End before start, and an empty span.
        (&utc, "2026-03-02T12:00:00Z", "2026-03-02T10:00:00Z", 0),
        (&utc, "2026-03-02T12:00:00Z", "2026-03-02T12:00:00Z", 0),
        // Fractions of seconds: each day's seconds truncated.
        (
            &utc,
            "2026-03-02T16:59:58.500Z",
            "2026-03-03T09:00:01.600Z",
            2,
        ),
        // Berlin is UTC+1 in winter: 09:00 local is 08:00 UTC.
        (
            &berlin,
            "2026-03-02T08:00:00Z",
            "2026-03-02T16:00:00Z",
            8 * 3600,
        ),
        // A week over the spring change (Sunday 2026-03-29 02:00 -> 03:00).
        (
            &berlin,
            "2026-03-27T00:00:00Z",
            "2026-04-03T00:00:00Z",
            5 * 8 * 3600,
        ),
        (
            &berlin_nights,
            "2026-03-28T22:00:00Z",
            "2026-03-29T22:00:00Z",
            3600,
        ),
        (
            &berlin_nights,
            "2026-10-24T22:00:00Z",
            "2026-10-25T22:00:00Z",
            3 * 3600,
        ),
        (
            &berlin_nights,
            "2026-03-26T22:00:00Z",
            "2026-04-02T22:00:00Z",
            6 * 2 * 3600 + 3600,
        ),
        (
            &berlin_nights,
            "2026-10-22T22:00:00Z",
            "2026-10-29T22:00:00Z",
            6 * 2 * 3600 + 3 * 3600,
        ),
        // In the gap, the window opens at the first minute after it
        // (03:00 CEST): 02:45 is skipped as well, so nothing is left.
        (
            &berlin_in_the_gap,
            "2026-03-28T00:00:00Z",
            "2026-03-30T00:00:00Z",
            0,
        ),
        // Twice: the earlier 02:30 (CEST, 00:30 UTC) to the earlier 02:45.
        (
            &berlin_in_the_gap,
            "2026-10-24T00:00:00Z",
            "2026-10-26T00:00:00Z",
            900,
        ),
        // Starts inside the window that happens twice.
        (
            &berlin_in_the_gap,
            "2026-10-25T00:40:00Z",
            "2026-10-25T02:00:00Z",
            300,
        ),
        // Holidays: the week of Christmas has three working days.
        (
            &christmas,
            "2026-12-21T00:00:00Z",
            "2026-12-28T00:00:00Z",
            3 * 8 * 3600,
        ),
        (
            &christmas,
            "2026-12-24T10:00:00Z",
            "2026-12-25T16:00:00Z",
            0,
        ),
        // Sydney (UTC+11 in summer, DST ends 2026-04-05); seconds in hours.
        (
            &sydney,
            "2026-03-31T13:00:00Z",
            "2026-04-07T14:00:00Z",
            5 * (8 * 3600 + 15 * 60 + 30),
        ),
        // New York's changes at 02:00, Sun-Thu: on 2026-03-08 02:30 does
        // not exist (the window closes at 03:00 EDT, an hour after 01:00
        // EST); on 2026-11-01 01:00 happens twice (the earlier, EDT).
        (
            &new_york,
            "2026-03-07T00:00:00Z",
            "2026-03-09T12:00:00Z",
            3600 + 5400,
        ),
        (
            &new_york,
            "2026-10-31T00:00:00Z",
            "2026-11-02T12:00:00Z",
            5400 + 3600 + 5400,
        ),
    ];
    let mut disagreements = Vec::new();
    for (calendar, start, end, by_hand) in &cases {
        let (start_at, end_at) = (at(start), at(end));
        let rust = calendar.working_seconds(start_at, end_at);
        let sql = sql_seconds(&client, calendar, start_at, end_at).await;
        if rust != sql || rust != *by_hand {
            disagreements.push(format!(
                "{} {} {} {start} .. {end}: by hand {by_hand}, Rust {rust}, SQL {sql}",
                calendar.time_zone.name(),
                calendar.days,
                calendar.hours
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

/// Zones with changes at 02:00, 03:00, midnight, by half an hour, ahead
/// and behind UTC, south and north, and none.
const ZONES: [&str; 10] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "America/Havana",
    "UTC",
];

fn any_calendar() -> impl Strategy<Value = WorkingCalendar> {
    let time = (
        0u32..24,
        prop_oneof![Just(0u32), Just(30), 0u32..60],
        0u32..60,
        any::<bool>(),
    )
        .prop_map(|(hour, minute, second, whole_minute)| {
            NaiveTime::from_hms_opt(hour, minute, if whole_minute { 0 } else { second }).unwrap()
        });
    (
        prop::sample::select(ZONES.as_slice()),
        1u8..128,
        time.clone(),
        time,
        prop::collection::btree_set(0u64..400, 0..8),
    )
        .prop_filter_map(
            "the day must end after it starts",
            |(zone, days, a, b, holidays)| {
                let hours = DailyHours::new(a.min(b), a.max(b))?;
                let days: Vec<i16> = (0..7)
                    .filter(|bit| days & (1 << bit) != 0)
                    .map(|bit| bit + 1)
                    .collect();
                let first = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
                Some(WorkingCalendar {
                    time_zone: parse_time_zone(zone).unwrap(),
                    days: WorkingDays::from_iso_numbers(&days)?,
                    hours,
                    holidays: holidays
                        .into_iter()
                        .map(|offset| first + Days::new(offset))
                        .collect::<BTreeSet<_>>(),
                })
            },
        )
}

/// A span in 2025-2026 (around the holidays), to the microsecond, from
/// nothing to seven weeks long, sometimes backwards.
fn any_span() -> impl Strategy<Value = (Timestamp, Timestamp)> {
    let first = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    (
        0i64..(400 * 86_400 * 1_000_000),
        prop_oneof![
            -86_400_000_000i64..0,
            0i64..(86_400 * 1_000_000),
            0i64..(49 * 86_400 * 1_000_000),
        ],
    )
        .prop_map(move |(from, length)| {
            let start = first + chrono::Duration::microseconds(from);
            (start, start + chrono::Duration::microseconds(length))
        })
}

#[test]
fn sql_and_rust_agree_on_random_spans_and_calendars() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (db, client) = runtime.block_on(async {
        let db = TestDb::create().await;
        let client = db.client().await;
        (db, client)
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let nonzero = std::cell::Cell::new(0u32);
    let result = runner.run(&(any_calendar(), any_span()), |(calendar, (start, end))| {
        let rust = calendar.working_seconds(start, end);
        let sql = runtime.block_on(sql_seconds(&client, &calendar, start, end));
        prop_assert_eq!(
            sql,
            rust,
            "{} {} {} holidays {:?}, {} .. {}",
            calendar.time_zone.name(),
            calendar.days,
            calendar.hours,
            calendar.holidays,
            start,
            end
        );
        if rust > 0 {
            nonzero.set(nonzero.get() + 1);
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    // Not vacuous: most random spans do hold working time.
    let nonzero = nonzero.get();
    assert!(
        nonzero > cases / 4,
        "{nonzero} of {cases} spans had working time"
    );
    drop(db);
    eprintln!(
        "business hours: SQL and Rust agree on {cases} random spans and calendars ({nonzero} nonzero)"
    );
}

#[tokio::test]
async fn sql_chooses_the_calendar_the_api_chooses() {
    let db = TestDb::create().await;
    let pool = db.pool();
    let client = pool.get().await.unwrap();
    let start = at("2026-03-27T06:00:00Z");
    let end = at("2026-04-08T19:00:00Z");
    // No calendar stored: UTC Monday to Friday 09:00-17:00.
    assert_eq!(
        by_team(&db, start, end, Some("core")).await,
        (9 * 8 * 3600, 9 * 8 * 3600)
    );
    let berlin = calendar("Europe/Berlin", "Mon-Thu", "08:00-16:00", &["2026-04-06"]);
    set_calendar(&client, None, &berlin).await.unwrap();
    let in_berlin = berlin.working_seconds(start, end);
    assert_ne!(in_berlin, 9 * 8 * 3600, "the calendars must differ to tell");
    assert_eq!(
        by_team(&db, start, end, Some("core")).await,
        (in_berlin, in_berlin),
        "the default"
    );
    let tokyo = calendar("Asia/Tokyo", "Mon-Sat", "10:00-18:30", &[]);
    set_calendar(&client, Some("core"), &tokyo).await.unwrap();
    let in_tokyo = tokyo.working_seconds(start, end);
    assert_ne!(in_tokyo, in_berlin);
    assert_eq!(
        by_team(&db, start, end, Some("core")).await,
        (in_tokyo, in_tokyo),
        "the team's"
    );
    assert_eq!(
        by_team(&db, start, end, Some("web")).await,
        (in_berlin, in_berlin),
        "another team's"
    );
    assert_eq!(
        by_team(&db, start, end, None).await,
        (in_berlin, in_berlin),
        "no team"
    );
}

/// `pr_business_seconds` by team slug, and the Rust calendar prpulse-api
/// would take for that slug.
async fn by_team(db: &TestDb, start: Timestamp, end: Timestamp, team: Option<&str>) -> (i64, i64) {
    let client = db.pool().get().await.unwrap();
    let sql: i64 = client
        .query_one(
            "SELECT pr_business_seconds($1, $2, $3)",
            &[&start, &end, &team],
        )
        .await
        .unwrap()
        .get(0);
    let calendars = all_calendars(&client).await.unwrap();
    (sql, calendars.of_team(team).working_seconds(start, end))
}

/// What Grafana reads (`pr_metrics_in_hours('business')`) is what
/// prpulse-api's summary measures, pull request by pull request: the same
/// calendar for each author (first team by slug with one, deleted teams
/// left out, else the default) and the same instants for each span.
#[tokio::test]
async fn grafana_business_spans_are_the_apis() {
    let db = TestDb::create().await;
    let pool = db.pool();
    let client = pool.get().await.unwrap();
    let berlin = calendar("Europe/Berlin", "Mon-Fri", "09:00-17:00", &["2026-03-30"]);
    let tokyo = calendar("Asia/Tokyo", "Mon-Sat", "10:00-18:30", &[]);
    let new_york = calendar("America/New_York", "Sun-Thu", "08:00-16:00", &[]);
    set_calendar(&client, None, &berlin).await.unwrap();
    set_calendar(&client, Some("core"), &tokyo).await.unwrap();
    set_calendar(&client, Some("web"), &new_york).await.unwrap();
    set_calendar(&client, Some("aaa"), &WorkingCalendar::default())
        .await
        .unwrap();
    // ada: api (no calendar), core, web -> core's. grace: api -> the
    // default. linus: no team -> the default. margaret: aaa (deleted), web
    // -> web's.
    client
        .batch_execute(
            "INSERT INTO repositories (github_id, full_name) VALUES (10, 'acme/api');
             INSERT INTO members (github_id, login, is_bot) VALUES
                 (1, 'ada', false), (2, 'grace', false), (3, 'linus', false), (4, 'margaret', false);
             INSERT INTO github_teams (github_id, organization, slug, name, deleted) VALUES
                 (100, 'acme', 'api', 'API', false), (101, 'acme', 'core', 'Core', false),
                 (102, 'acme', 'web', 'Web', false), (103, 'acme', 'aaa', 'Gone', true);
             INSERT INTO github_team_members (team_id, member_id) VALUES
                 (100, 1), (101, 1), (102, 1), (100, 2), (103, 4), (102, 4);",
        )
        .await
        .unwrap();
    // 48 pull requests, about 29 h apart, each span a different length,
    // some never ready, reviewed, approved or merged.
    client
        .batch_execute(
            "INSERT INTO pull_requests (repository_id, number, github_id, author_id, version_rank,
                 version_at, version_delivery, carried_at, carried_rank, carried_delivery, state,
                 draft, created_at, ready_at,
                 first_review_at, first_approval_at, merged_at)
             SELECT 10, n, 1000 + n, 1 + n % 4, 1, now(), 'd' || n, now(), 1, 'd' || n, 'closed',
                    false, created,
                    CASE WHEN n % 7 <> 0 THEN created + n * interval '17 minutes' END,
                    created + n * interval '17 minutes' + (n % 5) * interval '9 hours 13 minutes',
                    CASE WHEN n % 6 <> 0
                         THEN created + n * interval '17 minutes' + (n % 5 + 1) * interval '11 hours' END,
                    CASE WHEN n % 8 <> 0 THEN created + n * interval '3 hours 7 minutes 13.25 seconds' + interval '30 hours' END
             FROM (SELECT n, timestamptz '2026-03-02 07:45:00Z' + n * interval '29 hours 3 minutes' AS created
                   FROM generate_series(1, 48) n) prs;
             UPDATE pull_requests SET
                 cycle_time_seconds = extract(epoch FROM merged_at - created_at)::bigint,
                 review_time_seconds = extract(epoch FROM first_review_at - created_at)::bigint,
                 pickup_time_seconds = extract(epoch FROM first_review_at - ready_at)::bigint,
                 time_to_first_approval_seconds = extract(epoch FROM first_approval_at - ready_at)::bigint,
                 merge_after_approval_seconds = extract(epoch FROM merged_at - first_approval_at)::bigint;",
        )
        .await
        .unwrap();

    let calendars = all_calendars(&client).await.unwrap();
    let no_teams = Calendars {
        default: calendars.default.clone(),
        teams: Default::default(),
    };
    let (mut api, mut default_only) = (Vec::new(), Vec::new());
    let params = SummaryParams {
        group_by: GroupBy::None,
        bucket: Bucket::None,
        from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        include_bots: true,
        hours: Hours::Business,
    };
    let (from, until) = (at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
    let (clocks, no_team_clocks) = (
        Clocks::new(&calendars, params.range()),
        Clocks::new(&no_teams, params.range()),
    );
    each_span_row(&client, from, until, true, |row| {
        let spans = |clocks: &Clocks| {
            let [entry] = <[_; 1]>::try_from(entries(&row, &params, clocks)).unwrap();
            entry.spans.map(|span| span.map(|seconds| seconds as i64))
        };
        let key = (row.merged_at, row.first_review_at, row.ready_at);
        api.push((key.0, key.1, key.2, spans(&clocks)));
        default_only.push((key.0, key.1, key.2, spans(&no_team_clocks)));
    })
    .await
    .unwrap();
    api.sort();
    default_only.sort();
    assert_eq!(api.len(), 48);

    let grafana = |hours: &'static str| {
        let client = &client;
        async move {
            let mut rows: Vec<_> = client
                .query(
                    "SELECT merged_at, first_review_at, ready_at, cycle_time_seconds,
                            review_time_seconds, pickup_time_seconds,
                            time_to_first_approval_seconds, merge_after_approval_seconds
                     FROM pr_metrics_in_hours($1)",
                    &[&hours],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| {
                    let spans: [Option<i64>; 5] = std::array::from_fn(|index| row.get(3 + index));
                    (row.get(0), row.get(1), row.get(2), spans)
                })
                .collect();
            rows.sort();
            rows
        }
    };
    let business: Vec<(Option<Timestamp>, Option<Timestamp>, Option<Timestamp>, _)> =
        grafana("business").await;
    assert_eq!(business, api);
    let wall = grafana("wall").await;
    assert_ne!(wall, business, "business hours differ from the wall clock");
    // Not vacuous: the default calendar for everyone gives other spans.
    assert_ne!(default_only, api, "the teams' calendars count");

    // By team: each team's row in that team's calendar.
    let by_team_params = SummaryParams {
        group_by: GroupBy::Team,
        ..params
    };
    let mut api_by_team = Vec::new();
    each_span_row(&client, from, until, true, |row| {
        for entry in entries(&row, &by_team_params, &clocks) {
            let spans = entry.spans.map(|span| span.map(|seconds| seconds as i64));
            api_by_team.push((
                entry.key,
                row.merged_at,
                row.first_review_at,
                row.ready_at,
                spans,
            ));
        }
    })
    .await
    .unwrap();
    api_by_team.sort();
    let mut grafana_by_team: Vec<_> = client
        .query(
            "SELECT team, merged_at, first_review_at, ready_at, cycle_time_seconds,
                    review_time_seconds, pickup_time_seconds,
                    time_to_first_approval_seconds, merge_after_approval_seconds
             FROM pr_metrics_by_team('business')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let spans: [Option<i64>; 5] = std::array::from_fn(|index| row.get(4 + index));
            (row.get(0), row.get(1), row.get(2), row.get(3), spans)
        })
        .collect();
    grafana_by_team.sort();
    // ada's 12 in api, core and web; grace's 12 in api; margaret's 12 in web.
    assert_eq!(api_by_team.len(), 12 * 3 + 12 + 12);
    assert_eq!(grafana_by_team, api_by_team);
}
