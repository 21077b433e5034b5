//! A calendar's working windows over a stretch of dates, worked out once,
//! so that many spans (a summary measures five per pull request) cost a
//! binary search each instead of two time-zone conversions per day.

use chrono::{Days, NaiveDate};

use super::WorkingCalendar;
use crate::metrics::Timestamp;

const NANOS: i64 = 1_000_000_000;

/// [`WorkingCalendar::working_seconds`], the same to the second, for spans
/// within the dates given; spans reaching outside them take the
/// calendar's own day-by-day way.
#[derive(Clone, Debug)]
pub struct WorkingWindows<'a> {
    calendar: &'a WorkingCalendar,
    /// Each working day's opening and closing instant (nanoseconds since
    /// the epoch), in order.
    open: Vec<i64>,
    close: Vec<i64>,
    /// `before[k]`: the working seconds of the first `k` windows.
    before: Vec<i64>,
    /// The instants a span must lie within to be measured here: far
    /// enough inside the dates that every window it touches is known
    /// (local dates are within a day of UTC ones). `None` when the
    /// windows are not in order, which no time zone should produce.
    covers: Option<(i64, i64)>,
}

impl<'a> WorkingWindows<'a> {
    /// The windows of the working days from `first` to `last` (local dates).
    pub fn new(calendar: &'a WorkingCalendar, first: NaiveDate, last: NaiveDate) -> Self {
        let (mut open, mut close, mut before) = (Vec::new(), Vec::new(), vec![0]);
        let mut in_order = true;
        for date in first.iter_days().take_while(|date| *date <= last) {
            if !calendar.is_working_day(date) {
                continue;
            }
            let opens = calendar
                .instant(date, calendar.hours.start)
                .timestamp_nanos_opt();
            let closes = calendar
                .instant(date, calendar.hours.end)
                .timestamp_nanos_opt();
            let (Some(opens), Some(closes)) = (opens, closes) else {
                in_order = false;
                break;
            };
            in_order &= opens <= closes && close.last().is_none_or(|last| *last <= opens);
            before.push(before.last().copied().unwrap_or(0) + (closes - opens) / NANOS);
            open.push(opens);
            close.push(closes);
        }
        let midnight = |date: NaiveDate| {
            date.and_hms_opt(0, 0, 0)
                .and_then(|at| at.and_utc().timestamp_nanos_opt())
        };
        let low = first.checked_add_days(Days::new(2)).and_then(midnight);
        let high = last.checked_sub_days(Days::new(1)).and_then(midnight);
        let covers = match (low, high) {
            (Some(low), Some(high)) if in_order && low < high => Some((low, high)),
            _ => None,
        };
        Self {
            calendar,
            open,
            close,
            before,
            covers,
        }
    }

    /// Working seconds in `[start, end)`; 0 when `end` is not after `start`.
    pub fn working_seconds(&self, start: Timestamp, end: Timestamp) -> i64 {
        if end <= start {
            return 0;
        }
        let (Some(start_ns), Some(end_ns)) =
            (start.timestamp_nanos_opt(), end.timestamp_nanos_opt())
        else {
            return self.calendar.working_seconds(start, end);
        };
        match self.covers {
            Some((low, high)) if low <= start_ns && end_ns <= high => {}
            _ => return self.calendar.working_seconds(start, end),
        }
        // Windows closing by `start` or opening at `end` or later add
        // nothing; the ones between the first and the last touched lie
        // wholly inside the span.
        let first = self.close.partition_point(|close| *close <= start_ns);
        let past = self.open.partition_point(|open| *open < end_ns);
        if first >= past {
            return 0;
        }
        // Whole seconds of each window's share, truncated per window as
        // the calendar does.
        let share =
            |at: usize| ((self.close[at].min(end_ns) - self.open[at].max(start_ns)) / NANOS).max(0);
        if past - first == 1 {
            return share(first);
        }
        share(first) + (self.before[past - 1] - self.before[first + 1]) + share(past - 1)
    }
}
