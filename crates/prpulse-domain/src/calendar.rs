//! Working calendars and business hours: how many working seconds lie
//! between two instants, in a team's time zone, on its working days and
//! hours, without its holidays (DESIGN.md, "Business hours").

use std::{collections::BTreeSet, fmt, str::FromStr};

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::metrics::Timestamp;

mod windows;

pub use windows::WorkingWindows;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("{0:?} is not an IANA time zone (e.g. Europe/Berlin)")]
    TimeZone(String),
    #[error("{0:?} is not a list of days (e.g. Mon-Fri or Mon,Wed,Fri)")]
    Days(String),
    #[error("{0:?} is not a range of hours (e.g. 09:00-17:00, start before end)")]
    Hours(String),
    #[error("{0:?} is not a list of dates (e.g. 2026-12-24,2026-12-25)")]
    Holidays(String),
}

/// The days of the week a calendar works, as a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkingDays(u8);

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl WorkingDays {
    pub const MONDAY_TO_FRIDAY: Self = Self(0b001_1111);

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// ISO weekday numbers (Monday = 1), as stored.
    pub fn iso_numbers(self) -> Vec<i16> {
        (0..7)
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| bit + 1)
            .collect()
    }

    pub fn from_iso_numbers(numbers: &[i16]) -> Option<Self> {
        let mut bits = 0u8;
        for number in numbers {
            if !(1..=7).contains(number) {
                return None;
            }
            bits |= 1 << (number - 1);
        }
        (bits != 0).then_some(Self(bits))
    }
}

impl FromStr for WorkingDays {
    type Err = CalendarError;

    /// `Mon-Fri`, `Mon,Wed,Fri`, `Sun-Thu` (a range may wrap), any case.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let error = || CalendarError::Days(raw.to_owned());
        let day = |name: &str| {
            DAY_NAMES
                .iter()
                .position(|day| day.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(error)
        };
        let mut bits = 0u8;
        for part in raw.split(',') {
            match part.split_once('-') {
                Some((first, last)) => {
                    let (first, last) = (day(first)?, day(last)?);
                    let mut index = first;
                    loop {
                        bits |= 1 << index;
                        if index == last {
                            break;
                        }
                        index = (index + 1) % 7;
                    }
                }
                None => bits |= 1 << day(part)?,
            }
        }
        Ok(Self(bits))
    }
}

impl fmt::Display for WorkingDays {
    /// Runs of days as ranges: `Mon-Fri`, `Mon,Wed-Thu`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut index = 0;
        while index < 7 {
            if self.0 & (1 << index) == 0 {
                index += 1;
                continue;
            }
            let start = index;
            while index + 1 < 7 && self.0 & (1 << (index + 1)) != 0 {
                index += 1;
            }
            parts.push(match index - start {
                0 => DAY_NAMES[start].to_owned(),
                _ => format!("{}-{}", DAY_NAMES[start], DAY_NAMES[index]),
            });
            index += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// Daily working hours, start before end, within one local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl DailyHours {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }
}

impl FromStr for DailyHours {
    type Err = CalendarError;

    /// `09:00-17:00`; `24:00` is not a time: use `23:59:59` or less.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let error = || CalendarError::Hours(raw.to_owned());
        let (start, end) = raw.split_once('-').ok_or_else(error)?;
        let time = |text: &str| {
            let text = text.trim();
            NaiveTime::parse_from_str(text, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
                .map_err(|_| error())
        };
        Self::new(time(start)?, time(end)?).ok_or_else(error)
    }
}

impl fmt::Display for DailyHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

pub fn parse_time_zone(raw: &str) -> Result<Tz, CalendarError> {
    raw.trim()
        .parse::<Tz>()
        .map_err(|_| CalendarError::TimeZone(raw.to_owned()))
}

/// `2026-12-24,2026-12-25`; an empty string is no holidays.
pub fn parse_holidays(raw: &str) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            NaiveDate::parse_from_str(part, "%Y-%m-%d")
                .map_err(|_| CalendarError::Holidays(raw.to_owned()))
        })
        .collect()
}

/// When a team works: the hours of its working days in its time zone,
/// less its holidays (local dates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingCalendar {
    pub time_zone: Tz,
    pub days: WorkingDays,
    pub hours: DailyHours,
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for WorkingCalendar {
    /// UTC, Monday to Friday, 09:00-17:00, no holidays: the calendar of
    /// everyone until an operator sets one.
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            days: WorkingDays::MONDAY_TO_FRIDAY,
            hours: DailyHours {
                start: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
                end: NaiveTime::from_hms_opt(17, 0, 0).expect("valid time"),
            },
            holidays: BTreeSet::new(),
        }
    }
}

impl WorkingCalendar {
    /// Working seconds in `[start, end)`; 0 when `end` is not after `start`.
    ///
    /// Each working day's window is the local start and end time on that
    /// date turned into instants, so a day on which clocks change has the
    /// hours it really had (an hour more or less only when the change falls
    /// inside working hours).
    pub fn working_seconds(&self, start: Timestamp, end: Timestamp) -> i64 {
        if end <= start {
            return 0;
        }
        // One day of margin each side: a window on the previous local
        // date can reach past midnight UTC in time zones ahead of it.
        let first = start.with_timezone(&self.time_zone).date_naive() - Days::new(1);
        let last = end.with_timezone(&self.time_zone).date_naive() + Days::new(1);
        first
            .iter_days()
            .take_while(|date| *date <= last)
            .filter(|date| self.is_working_day(*date))
            .map(|date| {
                let open = self.instant(date, self.hours.start);
                let close = self.instant(date, self.hours.end);
                (close.min(end) - open.max(start)).num_seconds().max(0)
            })
            .sum()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.days.contains(date.weekday()) && !self.holidays.contains(&date)
    }

    /// The instant a local clock shows `time` on `date`: the earlier one
    /// when clocks go back (the time happens twice), the first existing
    /// minute after it when clocks go forward (it never happens).
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        (0..=24 * 60)
            .find_map(|minutes| {
                match self
                    .time_zone
                    .from_local_datetime(&(local + chrono::Duration::minutes(minutes)))
                {
                    LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                        Some(at.with_timezone(&Utc))
                    }
                    LocalResult::None => None,
                }
            })
            .expect("no time zone skips a whole day")
    }
}

#[cfg(test)]
mod tests;
