//! The periods of the maintained summary rollup (migrations/V17): weeks
//! from Monday 00:00 UTC, cut where a month ends, so that a week and a
//! month are each a union of whole periods and a period lies in one
//! bucket of any kind. `summary_period(at)` in SQL is [`period_of`].

use chrono::{Datelike, Days, Months, NaiveDate};

use super::Range;
use crate::metrics::Timestamp;

/// The first day of the period `date` falls in.
pub fn period_of(date: NaiveDate) -> NaiveDate {
    let monday = date - Days::new(u64::from(date.weekday().num_days_from_monday()));
    let first_of_month = date.with_day(1).unwrap_or(date);
    monday.max(first_of_month)
}

/// The first day after the period starting `start`.
pub fn period_end(start: NaiveDate) -> NaiveDate {
    let next_monday = start + Days::new(7 - u64::from(start.weekday().num_days_from_monday()));
    let next_month = start.with_day(1).unwrap_or(start) + Months::new(1);
    next_monday.min(next_month)
}

pub fn midnight(date: NaiveDate) -> Timestamp {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The instants of the period starting `start`.
pub fn period_range(start: NaiveDate) -> Range {
    Range {
        from: midnight(start),
        until: midnight(period_end(start)),
    }
}

/// How a summary over `range` reads: the periods wholly inside it that
/// `is_served` accepts come from the rollup, the rest of the range
/// (`raw`, in order, adjacent stretches joined) from the raw rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub served: Vec<NaiveDate>,
    pub raw: Vec<Range>,
}

impl Plan {
    pub fn new(range: Range, mut is_served: impl FnMut(NaiveDate) -> bool) -> Self {
        let mut plan = Self::default();
        let mut start = period_of(range.from.date_naive());
        while midnight(start) < range.until {
            let period = period_range(start);
            let inside = range.from <= period.from && period.until <= range.until;
            if inside && is_served(start) {
                plan.served.push(start);
            } else {
                let piece = Range {
                    from: period.from.max(range.from),
                    until: period.until.min(range.until),
                };
                match plan.raw.last_mut() {
                    Some(last) if last.until == piece.from => last.until = piece.until,
                    _ => plan.raw.push(piece),
                }
            }
            start = period_end(start);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn days(from: &str, to_inclusive: &str) -> Range {
        Range {
            from: midnight(date(from)),
            until: midnight(date(to_inclusive) + Days::new(1)),
        }
    }

    #[test]
    fn periods_are_weeks_cut_at_month_ends() {
        // Monday 2026-03-30 to Sunday 2026-04-05 is two periods.
        assert_eq!(period_of(date("2026-03-31")), date("2026-03-30"));
        assert_eq!(period_end(date("2026-03-30")), date("2026-04-01"));
        assert_eq!(period_of(date("2026-04-05")), date("2026-04-01"));
        assert_eq!(period_end(date("2026-04-01")), date("2026-04-06"));
        // A whole week inside a month, from any of its days.
        assert_eq!(period_of(date("2026-03-15")), date("2026-03-09"));
        assert_eq!(period_end(date("2026-03-09")), date("2026-03-16"));
        // A month starting on a Monday; a year end.
        assert_eq!(period_of(date("2026-06-01")), date("2026-06-01"));
        assert_eq!(period_end(date("2025-12-29")), date("2026-01-01"));
        assert_eq!(period_of(date("2026-01-01")), date("2026-01-01"));
    }

    #[test]
    fn every_day_is_in_the_period_of_its_start() {
        let mut day = date("2024-01-01");
        while day < date("2027-01-01") {
            let start = period_of(day);
            assert!(start <= day && day < period_end(start), "{day}");
            assert_eq!(period_of(start), start);
            assert_eq!(start.month(), (period_end(start) - Days::new(1)).month());
            day = day + Days::new(1);
        }
    }

    #[test]
    fn a_plan_serves_whole_periods_and_reads_the_edges_raw() {
        // Wednesday 2026-03-04 to Wednesday 2026-03-25.
        let range = days("2026-03-04", "2026-03-25");
        let plan = Plan::new(range, |start| start != date("2026-03-16"));
        assert_eq!(plan.served, [date("2026-03-09")]);
        assert_eq!(
            plan.raw,
            [
                days("2026-03-04", "2026-03-08"),
                days("2026-03-16", "2026-03-25")
            ]
        );
        // A month-aligned range is all periods.
        let plan = Plan::new(days("2025-01-01", "2025-12-31"), |_| true);
        assert!(plan.raw.is_empty());
        assert_eq!(plan.served.first(), Some(&date("2025-01-01")));
        assert_eq!(plan.served.last(), Some(&date("2025-12-29")));
        // 52 Mondays, and 10 months of 2025 that start on another day.
        assert_eq!(plan.served.len(), 62);
        // Nothing served: the range itself, in one piece.
        let plan = Plan::new(range, |_| false);
        assert!(plan.served.is_empty());
        assert_eq!(plan.raw, [range]);
    }
}
