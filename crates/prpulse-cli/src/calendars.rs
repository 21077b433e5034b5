use anyhow::Context;
use clap::{Args, Subcommand};
use prpulse_domain::{
    WorkingCalendar,
    calendar::{parse_holidays, parse_time_zone},
};
use prpulse_runtime::ServiceConfig;
use prpulse_store::{
    calendars::{all_calendars, set_calendar},
    connect_pool,
};
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Set the working calendar of a team (GitHub team slug), or the
    /// default one without --team. hours=business in prpulse-api counts
    /// only these hours.
    Set(SetCalendar),
    /// The default calendar and every team's.
    List,
}

#[derive(Debug, Args)]
pub struct SetCalendar {
    /// GitHub team slug; without it, the default calendar.
    #[arg(long)]
    team: Option<String>,
    /// IANA time zone, e.g. Europe/Berlin.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Working days, e.g. Mon-Fri or Mon,Tue,Thu.
    #[arg(long, default_value = "Mon-Fri")]
    days: String,
    /// Daily working hours, local time, e.g. 09:00-17:00.
    #[arg(long, default_value = "09:00-17:00")]
    hours: String,
    /// Days off, local dates, e.g. 2026-12-24,2026-12-25.
    #[arg(long, default_value = "")]
    holidays: String,
}

impl SetCalendar {
    fn calendar(&self) -> anyhow::Result<WorkingCalendar> {
        Ok(WorkingCalendar {
            time_zone: parse_time_zone(&self.tz).context("--tz")?,
            days: self.days.parse().context("--days")?,
            hours: self.hours.parse().context("--hours")?,
            holidays: parse_holidays(&self.holidays).context("--holidays")?,
        })
    }
}

pub async fn run(command: CalendarCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    // Check the arguments before touching the database.
    let set = match &command {
        CalendarCommand::Set(set) => Some((set.team.clone(), set.calendar()?)),
        CalendarCommand::List => None,
    };
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let client = pool.get().await.context("connecting to the database")?;
    match set {
        Some((team, calendar)) => {
            let team = team
                .map(|slug| slug.trim().to_owned())
                .filter(|s| !s.is_empty());
            set_calendar(&client, team.as_deref(), &calendar).await?;
            println!(
                "calendar of {} set: {}",
                team.as_deref()
                    .unwrap_or("everyone without a team calendar (the default)"),
                describe(&calendar).join(" ")
            );
        }
        None => {
            let calendars = all_calendars(&client).await?;
            let mut rows = vec![row(
                match calendars.default {
                    Some(_) => "(default)".into(),
                    None => "(default, built in)".into(),
                },
                calendars.fallback(),
            )];
            for (slug, calendar) in &calendars.teams {
                rows.push(row(slug.clone(), calendar));
            }
            println!(
                "{}",
                table::render(&["TEAM", "TIME ZONE", "DAYS", "HOURS", "HOLIDAYS"], &rows)
            );
        }
    }
    Ok(())
}

fn describe(calendar: &WorkingCalendar) -> Vec<String> {
    let holidays: Vec<String> = calendar.holidays.iter().map(|d| d.to_string()).collect();
    vec![
        calendar.time_zone.name().to_owned(),
        calendar.days.to_string(),
        calendar.hours.to_string(),
        if holidays.is_empty() {
            "-".into()
        } else {
            holidays.join(",")
        },
    ]
}

fn row(team: String, calendar: &WorkingCalendar) -> Vec<String> {
    let mut row = vec![team];
    row.extend(describe(calendar));
    row
}
