use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

const HOUR: i64 = 3600;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn berlin() -> WorkingCalendar {
    WorkingCalendar {
        time_zone: parse_time_zone("Europe/Berlin").unwrap(),
        ..WorkingCalendar::default()
    }
}

#[test]
fn the_default_is_utc_weekdays_nine_to_five() {
    let calendar = WorkingCalendar::default();
    assert_eq!(calendar.time_zone, Tz::UTC);
    assert_eq!(calendar.days.to_string(), "Mon-Fri");
    assert_eq!(calendar.hours.to_string(), "09:00-17:00");
    // Monday 2026-03-02, 10:00 to 12:30.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 12, 30)),
        2 * HOUR + 30 * 60
    );
}

#[test]
fn a_span_over_a_weekend_counts_only_the_weekdays() {
    let calendar = WorkingCalendar::default();
    // Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 6, 16, 0), utc(2026, 3, 9, 10, 0)),
        2 * HOUR
    );
    // Entirely inside a weekend.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 7, 9, 0), utc(2026, 3, 8, 17, 0)),
        0
    );
    // A whole week, Monday 00:00 to the next Monday 00:00: five days of 8 h.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0)),
        40 * HOUR
    );
}

#[test]
fn spans_that_start_and_end_outside_working_hours() {
    let calendar = WorkingCalendar::default();
    // Monday 20:00 to Tuesday 07:00: a night, no working time.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 20, 0), utc(2026, 3, 3, 7, 0)),
        0
    );
    // Monday 06:00 to Tuesday 20:00: two full days.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 6, 0), utc(2026, 3, 3, 20, 0)),
        16 * HOUR
    );
    // Monday 20:00 to Wednesday 07:00: all of Tuesday.
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 20, 0), utc(2026, 3, 4, 7, 0)),
        8 * HOUR
    );
}

#[test]
fn holidays_are_not_working_days() {
    let calendar = WorkingCalendar {
        holidays: parse_holidays("2026-12-24, 2026-12-25").unwrap(),
        ..WorkingCalendar::default()
    };
    // Wednesday 23 Dec 16:00 to Monday 28 Dec 10:00: Thu and Fri are holidays.
    assert_eq!(
        calendar.working_seconds(utc(2026, 12, 23, 16, 0), utc(2026, 12, 28, 10, 0)),
        2 * HOUR
    );
    assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()));
    assert!(calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 12, 23).unwrap()));
}

#[test]
fn a_time_zone_moves_the_window() {
    // 09:00-17:00 in Berlin in winter (UTC+1) is 08:00-16:00 UTC.
    let calendar = berlin();
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 7, 0), utc(2026, 3, 2, 9, 0)),
        HOUR
    );
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 2, 15, 0), utc(2026, 3, 2, 18, 0)),
        HOUR
    );
    // Days are local dates: Tokyo's Monday 09:00 is Monday 00:00 UTC.
    let tokyo = WorkingCalendar {
        time_zone: parse_time_zone("Asia/Tokyo").unwrap(),
        ..WorkingCalendar::default()
    };
    assert_eq!(
        tokyo.working_seconds(utc(2026, 3, 1, 23, 0), utc(2026, 3, 2, 1, 0)),
        HOUR
    );
}

#[test]
fn clocks_changing_keep_the_local_hours() {
    // Berlin goes to summer time on Sunday 2026-03-29. Friday 27 March
    // 09:00-17:00 is 08:00-16:00 UTC; Monday 30 March is 07:00-15:00 UTC.
    let calendar = berlin();
    let friday_open = utc(2026, 3, 27, 8, 0);
    let monday_close = utc(2026, 3, 30, 15, 0);
    assert_eq!(
        calendar.working_seconds(friday_open, monday_close),
        16 * HOUR
    );
    // 07:30 UTC on Monday is already working time (09:30 local).
    assert_eq!(
        calendar.working_seconds(utc(2026, 3, 30, 7, 0), utc(2026, 3, 30, 7, 30)),
        30 * 60
    );
    // Back to winter time on Sunday 2026-10-25: Monday 26 Oct opens at 08:00 UTC.
    assert_eq!(
        calendar.working_seconds(utc(2026, 10, 26, 7, 0), utc(2026, 10, 26, 9, 0)),
        HOUR
    );
}

#[test]
fn working_hours_across_a_clock_change_are_the_hours_that_really_passed() {
    // A calendar that works every day 01:00-04:00 in Berlin: on the night
    // clocks go forward (02:00 -> 03:00) only two hours pass; on the night
    // they go back (03:00 -> 02:00) four do.
    let night = WorkingCalendar {
        time_zone: parse_time_zone("Europe/Berlin").unwrap(),
        days: "Mon-Sun".parse().unwrap(),
        hours: "01:00-04:00".parse().unwrap(),
        holidays: BTreeSet::new(),
    };
    let spring = night.working_seconds(utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 12, 0));
    assert_eq!(spring, 2 * HOUR);
    let autumn = night.working_seconds(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 12, 0));
    assert_eq!(autumn, 4 * HOUR);
    // A window opening in the hour that does not exist opens when it ends.
    let gap = WorkingCalendar {
        hours: "02:30-05:00".parse().unwrap(),
        ..night
    };
    assert_eq!(
        gap.working_seconds(utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 12, 0)),
        2 * HOUR
    );
}

#[test]
fn an_empty_or_reversed_span_is_zero() {
    let calendar = WorkingCalendar::default();
    let at = utc(2026, 3, 2, 10, 0);
    assert_eq!(calendar.working_seconds(at, at), 0);
    assert_eq!(
        calendar.working_seconds(at, at - chrono::Duration::hours(1)),
        0
    );
}

#[test]
fn days_hours_zones_and_holidays_parse_and_name_what_is_wrong() {
    assert_eq!(
        "mon-fri".parse::<WorkingDays>().unwrap().to_string(),
        "Mon-Fri"
    );
    assert_eq!(
        "Sun-Thu".parse::<WorkingDays>().unwrap().to_string(),
        "Mon-Thu,Sun"
    );
    assert_eq!(
        "Mon,Wed,Thu".parse::<WorkingDays>().unwrap().to_string(),
        "Mon,Wed-Thu"
    );
    let days: WorkingDays = "Tue,Sat".parse().unwrap();
    assert_eq!(days.iso_numbers(), [2, 6]);
    assert_eq!(WorkingDays::from_iso_numbers(&[2, 6]), Some(days));
    assert_eq!(WorkingDays::from_iso_numbers(&[8]), None);
    assert_eq!(WorkingDays::from_iso_numbers(&[]), None);
    assert!("Mon-Funday".parse::<WorkingDays>().is_err());
    assert!("".parse::<WorkingDays>().is_err());

    assert_eq!(
        "08:30-16:45".parse::<DailyHours>().unwrap().to_string(),
        "08:30-16:45"
    );
    for bad in ["17:00-09:00", "09:00", "9-5", "09:00-24:00", "10:00-10:00"] {
        assert!(bad.parse::<DailyHours>().is_err(), "{bad}");
    }
    assert_eq!(
        parse_time_zone("Mars/Olympus"),
        Err(CalendarError::TimeZone("Mars/Olympus".into()))
    );
    assert!(parse_holidays("").unwrap().is_empty());
    assert!(parse_holidays("2026-02-30").is_err());
}

fn calendar() -> impl Strategy<Value = WorkingCalendar> {
    let zones = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
    ];
    (
        0..zones.len(),
        1u8..128,
        0u32..23 * 60,
        1u32..12 * 60,
        prop::collection::btree_set(0i64..400, 0..10),
    )
        .prop_map(move |(zone, days, start, length, holidays)| {
            let start_time = NaiveTime::from_num_seconds_from_midnight_opt(start * 60, 0).unwrap();
            let end_minutes = (start + length).min(24 * 60 - 1);
            let end_time =
                NaiveTime::from_num_seconds_from_midnight_opt(end_minutes * 60, 0).unwrap();
            let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            WorkingCalendar {
                time_zone: parse_time_zone(zones[zone]).unwrap(),
                days: WorkingDays(days),
                hours: DailyHours::new(start_time, end_time).unwrap(),
                holidays: holidays
                    .into_iter()
                    .map(|offset| base + Days::new(offset as u64))
                    .collect(),
            }
        })
}

proptest! {
    #[test]
    fn business_time_never_exceeds_wall_time_and_adds_up(
        calendar in calendar(),
        start in 0i64..400 * 24 * 60,
        first in 0i64..30 * 24 * 60,
        second in 0i64..30 * 24 * 60,
    ) {
        let base = utc(2026, 1, 1, 0, 0);
        let a = base + chrono::Duration::minutes(start);
        let b = a + chrono::Duration::minutes(first);
        let c = b + chrono::Duration::minutes(second);
        let whole = calendar.working_seconds(a, c);
        prop_assert!(whole >= 0);
        prop_assert!(whole <= (c - a).num_seconds());
        // Splitting a span anywhere loses and adds nothing.
        prop_assert_eq!(whole, calendar.working_seconds(a, b) + calendar.working_seconds(b, c));
    }
}

proptest! {
    #[test]
    fn precomputed_windows_give_the_calendars_seconds(
        calendar in calendar(),
        start in -5i64 * 24 * 3600..420 * 24 * 3600,
        length in 0i64..40 * 24 * 3600,
        start_nanos in 0u32..1_000_000_000,
        end_nanos in 0u32..1_000_000_000,
    ) {
        let base = utc(2026, 1, 1, 0, 0);
        let a = base
            + chrono::Duration::seconds(start)
            + chrono::Duration::nanoseconds(i64::from(start_nanos));
        let b = base
            + chrono::Duration::seconds(start + length)
            + chrono::Duration::nanoseconds(i64::from(end_nanos));
        // The dates cover most spans, not all: both ways are checked.
        let windows = WorkingWindows::new(
            &calendar,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
        );
        prop_assert_eq!(windows.working_seconds(a, b), calendar.working_seconds(a, b));
        prop_assert_eq!(windows.working_seconds(b, a), calendar.working_seconds(b, a));
    }
}

#[test]
fn windows_across_a_clock_change_and_a_holiday_match_the_calendar() {
    let mut calendar = berlin();
    calendar
        .holidays
        .insert(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    let windows = WorkingWindows::new(
        &calendar,
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
    );
    // Clocks go forward on Sunday 2026-03-29; Tuesday the 31st is off.
    let (start, end) = (utc(2026, 3, 27, 15, 30), utc(2026, 4, 1, 7, 45));
    // Friday 16:30-17:00 CET (15:30-16:00 UTC), Monday 09-17 CEST, and
    // Wednesday 09:00-09:45 CEST.
    let expected = 30 * 60 + 8 * HOUR + 45 * 60;
    assert_eq!(calendar.working_seconds(start, end), expected);
    assert_eq!(windows.working_seconds(start, end), expected);
}
