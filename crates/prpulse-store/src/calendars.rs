//! Working calendars, per GitHub team slug and a default (slug NULL).

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use prpulse_domain::{DailyHours, WorkingCalendar, WorkingDays, calendar::parse_time_zone};

use crate::StoreError;

static BUILT_IN: LazyLock<WorkingCalendar> = LazyLock::new(WorkingCalendar::default);

/// The stored calendars: the default one (if set) and each team's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calendars {
    pub default: Option<WorkingCalendar>,
    pub teams: BTreeMap<String, WorkingCalendar>,
}

impl Calendars {
    /// The calendar of people with no team calendar: the stored default,
    /// else UTC Monday to Friday 09:00-17:00.
    pub fn fallback(&self) -> &WorkingCalendar {
        self.default.as_ref().unwrap_or(&BUILT_IN)
    }

    /// The calendar of `team_slug`, else the fallback.
    pub fn of_team(&self, team_slug: Option<&str>) -> &WorkingCalendar {
        team_slug
            .and_then(|slug| self.teams.get(slug))
            .unwrap_or_else(|| self.fallback())
    }
}

/// Sets the calendar of `team_slug`, or the default with `None`.
pub async fn set_calendar(
    client: &impl GenericClient,
    team_slug: Option<&str>,
    calendar: &WorkingCalendar,
) -> Result<(), StoreError> {
    let holidays: Vec<NaiveDate> = calendar.holidays.iter().copied().collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &team_slug,
        &calendar.time_zone.name(),
        &calendar.days.iso_numbers(),
        &calendar.hours.start,
        &calendar.hours.end,
        &holidays,
    ];
    let updated = client
        .execute(
            "UPDATE working_calendars SET time_zone = $2, working_days = $3, day_start = $4,
                 day_end = $5, holidays = $6, updated_at = now()
             WHERE team_slug IS NOT DISTINCT FROM $1",
            &params,
        )
        .await?;
    if updated == 0 {
        client
            .execute(
                "INSERT INTO working_calendars
                     (team_slug, time_zone, working_days, day_start, day_end, holidays)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &params,
            )
            .await?;
    }
    Ok(())
}

pub async fn all_calendars(client: &impl GenericClient) -> Result<Calendars, StoreError> {
    let rows = client
        .query(
            "SELECT team_slug, time_zone, working_days, day_start, day_end, holidays
             FROM working_calendars ORDER BY team_slug NULLS FIRST",
            &[],
        )
        .await?;
    let mut calendars = Calendars::default();
    for row in rows {
        let slug: Option<String> = row.get(0);
        let zone: String = row.get(1);
        let days: Vec<i16> = row.get(2);
        let holidays: Vec<NaiveDate> = row.get(5);
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!(
                "working calendar {}: {what}",
                slug.as_deref().unwrap_or("(default)")
            ))
        };
        let calendar = WorkingCalendar {
            time_zone: parse_time_zone(&zone).map_err(|e| corrupt(&e.to_string()))?,
            days: WorkingDays::from_iso_numbers(&days)
                .ok_or_else(|| corrupt("working days out of 1..7"))?,
            hours: DailyHours::new(row.get(3), row.get(4))
                .ok_or_else(|| corrupt("day ends before it starts"))?,
            holidays: holidays.into_iter().collect(),
        };
        match slug {
            Some(slug) => {
                calendars.teams.insert(slug, calendar);
            }
            None => calendars.default = Some(calendar),
        }
    }
    Ok(calendars)
}
