//! `prpulse report`: the summary of `GET /api/v1/summary` in a terminal,
//! computed by the same code, straight from the database.

use std::time::Duration;

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use prpulse_api::{
    params::{GroupBy, Hours, SummaryParams},
    summary::{GroupOut, Summary, summarise},
};
use prpulse_domain::rollup::{Bucket, Distribution, Span, issues::IssueSpan};
use prpulse_runtime::ServiceConfig;
use prpulse_store::connect_pool;
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "none")]
    group_by: GroupByArg,
    #[arg(long, value_enum, default_value = "none")]
    bucket: BucketArg,
    /// How far back, ending with --to: e.g. 30d, 12w.
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The last day (UTC, YYYY-MM-DD), included; default today.
    #[arg(long)]
    to: Option<NaiveDate>,
    #[arg(long, value_enum, default_value = "wall")]
    hours: HoursArg,
    /// Count pull requests written by bots too.
    #[arg(long)]
    include_bots: bool,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GroupByArg {
    None,
    Repository,
    Team,
    Author,
    /// The projects of the Jira issues pull requests name, with the
    /// projects' issue lead and cycle times.
    JiraProject,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BucketArg {
    None,
    Week,
    Month,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum HoursArg {
    Wall,
    Business,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

impl ReportArgs {
    fn params(&self) -> anyhow::Result<SummaryParams> {
        let days = self.since.as_secs().div_ceil(86_400).max(1);
        anyhow::ensure!(
            days <= prpulse_api::params::MAX_DAYS,
            "--since covers at most {} days",
            prpulse_api::params::MAX_DAYS
        );
        let to = self.to.unwrap_or_else(|| Utc::now().date_naive());
        Ok(SummaryParams {
            group_by: match self.group_by {
                GroupByArg::None => GroupBy::None,
                GroupByArg::Repository => GroupBy::Repository,
                GroupByArg::Team => GroupBy::Team,
                GroupByArg::Author => GroupBy::Author,
                GroupByArg::JiraProject => GroupBy::JiraProject,
            },
            bucket: match self.bucket {
                BucketArg::None => Bucket::None,
                BucketArg::Week => Bucket::Week,
                BucketArg::Month => Bucket::Month,
            },
            from: to - Days::new(days - 1),
            to,
            include_bots: self.include_bots,
            hours: match self.hours {
                HoursArg::Wall => Hours::Wall,
                HoursArg::Business => Hours::Business,
            },
        })
    }
}

pub async fn run(args: ReportArgs, service: &ServiceConfig) -> anyhow::Result<()> {
    let params = args.params()?;
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let summary = summarise(&pool, &params)
        .await
        .context("reading the summary")?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Csv => print!("{}", csv(&summary)),
        Format::Table => println!("{}", text_table(&summary)),
    }
    Ok(())
}

const SPANS: [(Span, &str); 3] = [
    (Span::CycleTime, "CYCLE"),
    (Span::ReviewTime, "REVIEW"),
    (Span::PickupTime, "PICKUP"),
];

fn hours(value: Option<f64>) -> String {
    value
        .map(|seconds| format!("{:.1}h", seconds / 3600.0))
        .unwrap_or_else(|| "-".into())
}

const ISSUE_SPANS: [(IssueSpan, &str); 2] = [
    (IssueSpan::LeadTime, "ISSUE LEAD"),
    (IssueSpan::CycleTime, "ISSUE CYCLE"),
];

/// Whether the summary's groups carry Jira issue spans (by project).
fn has_issues(summary: &Summary) -> bool {
    summary.group_by == GroupBy::JiraProject.as_str()
}

fn text_table(summary: &Summary) -> String {
    let mut header = vec!["KEY", "BUCKET", "MERGED"];
    let issue_titles = ISSUE_SPANS
        .iter()
        .filter(|_| has_issues(summary))
        .map(|(_, name)| *name);
    let titles: Vec<String> = SPANS
        .iter()
        .map(|(_, name)| *name)
        .chain(issue_titles)
        .flat_map(|name| [format!("{name} P50"), format!("{name} P90")])
        .collect();
    header.extend(titles.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = summary
        .groups
        .iter()
        .map(|group| {
            let mut row = vec![
                group.key.clone().unwrap_or_else(|| "(all)".into()),
                group
                    .bucket
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "-".into()),
                group.merged.to_string(),
            ];
            for (span, _) in SPANS {
                let distribution = group.span(span);
                row.push(hours(distribution.p50));
                row.push(hours(distribution.p90));
            }
            for (span, _) in ISSUE_SPANS {
                if let Some(distribution) = group.issue_span(span) {
                    row.push(hours(distribution.p50));
                    row.push(hours(distribution.p90));
                }
            }
            row
        })
        .collect();
    format!(
        "{} to {}, {} hours\n{}",
        summary.from,
        summary.to,
        summary.hours,
        table::render(&header, &rows)
    )
}

/// One line per group and bucket; every statistic of every span, in
/// seconds, empty when unknown.
fn csv(summary: &Summary) -> String {
    let mut header = vec!["key".to_owned(), "bucket".into(), "merged".into()];
    let statistics = ["count", "p50", "p75", "p90", "mean"];
    let issue_columns = IssueSpan::ALL
        .map(IssueSpan::column)
        .into_iter()
        .filter(|_| has_issues(summary));
    for name in Span::ALL
        .map(Span::column)
        .into_iter()
        .chain(["review_rounds"])
        .chain(issue_columns)
    {
        header.extend(statistics.iter().map(|s| format!("{name}_{s}")));
    }
    let mut out = header.join(",") + "\n";
    for group in &summary.groups {
        let mut cells = vec![
            csv_text(group.key.as_deref().unwrap_or("")),
            group.bucket.map(|b| b.to_string()).unwrap_or_default(),
            group.merged.to_string(),
        ];
        for distribution in distributions(group) {
            cells.push(distribution.count.to_string());
            for value in [
                distribution.p50,
                distribution.p75,
                distribution.p90,
                distribution.mean,
            ] {
                cells.push(value.map(|v| v.to_string()).unwrap_or_default());
            }
        }
        out += &(cells.join(",") + "\n");
    }
    out
}

fn distributions(group: &GroupOut) -> Vec<&Distribution> {
    let mut all: Vec<&Distribution> = Span::ALL.iter().map(|span| group.span(*span)).collect();
    all.push(&group.review_rounds);
    all.extend(
        IssueSpan::ALL
            .iter()
            .filter_map(|span| group.issue_span(*span)),
    );
    all
}

/// Quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use prpulse_domain::rollup::{Entry, Range, rollup};

    use super::*;

    fn summary() -> Summary {
        let at = |d| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
        };
        let entry = |key: &str, day, cycle: f64| Entry {
            key: Some(key.into()),
            merged_at: Some(at(day)),
            first_review_at: None,
            first_approval_at: None,
            spans: [Some(cycle), None, None, None, None],
            review_rounds: Some(1.0),
        };
        let groups = rollup(
            vec![entry("core", 2, 7200.0), entry("a,\"b\"", 3, 3600.0)],
            Bucket::None,
            Range {
                from: at(1),
                until: at(9),
            },
            false,
        );
        Summary {
            group_by: "team",
            bucket: "none",
            from: at(1).date_naive(),
            to: at(8).date_naive(),
            hours: "wall",
            bots: "exclude",
            groups: groups.into_iter().map(GroupOut::from).collect(),
        }
    }

    #[test]
    fn csv_has_every_statistic_and_quotes_what_needs_it() {
        let csv = csv(&summary());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].split(',').count(), 3 + 6 * 5);
        assert!(
            lines[0]
                .starts_with("key,bucket,merged,cycle_time_seconds_count,cycle_time_seconds_p50")
        );
        assert!(
            lines[1].starts_with("\"a,\"\"b\"\"\",,1,1,3600,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("core,,1,1,7200,7200,7200,7200,0,,,,"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn by_jira_project_the_issue_spans_follow() {
        let mut summary = summary();
        summary.group_by = "jira_project";
        summary.groups = summary
            .groups
            .into_iter()
            .map(|group| group.with_issues(Default::default()))
            .collect();
        let csv = csv(&summary);
        let header = csv.lines().next().unwrap();
        assert_eq!(header.split(',').count(), 3 + 8 * 5);
        assert!(
            header.ends_with("issue_cycle_time_seconds_mean"),
            "{header}"
        );
        assert_eq!(csv.lines().nth(2).unwrap().split(',').count(), 3 + 8 * 5);
        let table = text_table(&summary);
        assert!(table.contains("ISSUE LEAD P50"), "{table}");
    }

    #[test]
    fn the_table_shows_hours() {
        let table = text_table(&summary());
        assert!(table.contains("CYCLE P50"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("core") && l.contains("2.0h")),
            "{table}"
        );
    }
}
