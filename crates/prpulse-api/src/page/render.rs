//! The page's HTML. Everything from the database (names, titles) is
//! escaped; numbers carry their raw value in `data-value` so a test (or
//! a script) reads exactly what the API would answer.

use std::fmt::Write;

use chrono::Utc;
use prpulse_domain::rollup::{Distribution, Span, issues::IssueSpan};

use super::{View, chart};
use crate::params::{GroupBy, Hours, SummaryParams};

const STYLE: &str = "
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;padding:.75rem 1rem;background:#111827;color:#f9fafb}
header h1{font-size:1.1rem;margin:0}
main{max-width:1240px;margin:0 auto;padding:1rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#374151}
input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid #d1d5db;border-radius:6px;background:#fff}
button{background:#2563eb;color:#fff;border-color:#2563eb;cursor:pointer}
header button{background:transparent;border-color:#6b7280}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.75rem;margin-bottom:1rem}
.card h2{font-size:1rem;margin:0 0 .5rem}
svg.chart{width:100%;height:auto;display:block}
.legend span{display:inline-block;margin-right:1rem;font-size:.8rem}
.legend i{display:inline-block;width:.8rem;height:.2rem;margin-right:.3rem;vertical-align:middle}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.title{text-align:left;white-space:normal;min-width:12rem}
.muted{color:#6b7280}
.error{color:#b91c1c}
.switch a{margin-right:.5rem}
.switch a.on{font-weight:600;text-decoration:none;color:#111827}
.big{font-size:1.4rem;margin:.25rem 0}
h2.wide{grid-column:1/-1;font-size:1.1rem;margin:0}
";

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds for people: `45m`, `3h 20m`, `2d 4h`; `–` when unknown.
pub fn duration(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else {
        return "–".to_owned();
    };
    let minutes = (seconds / 60.0).round() as i64;
    let (days, hours, minutes) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

fn document(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>"#,
        title = escape(title)
    )
}

pub fn sign_in(message: Option<&str>) -> String {
    let message = message
        .map(|m| format!(r#"<p class="error" id="sign-in-error">{}</p>"#, escape(m)))
        .unwrap_or_default();
    document(
        "prpulse: sign in",
        &format!(
            r#"<header><h1>prpulse</h1></header><main><div class="card" style="max-width:28rem">
<h2>Sign in</h2>{message}
<form method="post" action="/sign-in"><p><label>API token<br><input type="password" name="token" id="token" autocomplete="off" required style="width:100%"></label></p>
<p><button type="submit" id="sign-in">Sign in</button></p></form>
<p class="muted">An operator makes tokens with <code>prpulse api-token create NAME</code>.</p></div></main>"#
        ),
    )
}

pub fn error_page(message: &str) -> String {
    document(
        "prpulse",
        &format!(
            r#"<header><h1>prpulse</h1></header><main><p class="error">{}</p><p><a href="/">Back</a></p></main>"#,
            escape(message)
        ),
    )
}

fn query(params: &SummaryParams, hours: Hours) -> String {
    format!(
        "/?from={}&to={}&group_by={}&hours={}",
        params.from,
        params.to,
        params.group_by.as_str(),
        hours.as_str()
    )
}

pub fn dashboard(params: &SummaryParams, view: &View) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<header><h1>prpulse · pull requests</h1><form method="post" action="/sign-out"><button type="submit">Sign out</button></form></header><main>"#
    );
    let selected = |on: bool| if on { " selected" } else { "" };
    let _ = write!(
        body,
        r#"<form class="filters" method="get" action="/">
<label>From<input type="date" name="from" value="{from}"></label>
<label>To<input type="date" name="to" value="{to}"></label>
<label>Group by<select name="group_by"><option value="team"{team}>Team</option><option value="repository"{repo}>Repository</option><option value="jira_project"{jira}>Jira project</option></select></label>
<label>Hours<select name="hours"><option value="wall"{wall}>Wall clock</option><option value="business"{business}>Business hours</option></select></label>
<button type="submit">Show</button></form>
<p class="switch">Hours: <a href="{wall_link}" class="{wall_on}" id="hours-wall">wall clock</a><a href="{business_link}" class="{business_on}" id="hours-business">business hours</a></p>"#,
        from = params.from,
        to = params.to,
        team = selected(params.group_by == GroupBy::Team),
        repo = selected(params.group_by == GroupBy::Repository),
        jira = selected(params.group_by == GroupBy::JiraProject),
        wall = selected(params.hours == Hours::Wall),
        business = selected(params.hours == Hours::Business),
        wall_link = escape(&query(params, Hours::Wall)),
        business_link = escape(&query(params, Hours::Business)),
        wall_on = if params.hours == Hours::Wall {
            "on"
        } else {
            ""
        },
        business_on = if params.hours == Hours::Business {
            "on"
        } else {
            ""
        },
    );
    body.push_str(r#"<section class="charts">"#);
    for (span, title) in [
        (Span::CycleTime, "Cycle time"),
        (Span::ReviewTime, "Review time"),
        (Span::PickupTime, "Pickup time"),
    ] {
        let _ = write!(
            body,
            r##"<div class="card"><h2>{title}</h2><p class="legend"><span><i style="background:#2563eb"></i>p50</span><span><i style="background:#dc2626"></i>p90</span></p>{chart}</div>"##,
            chart = chart::weekly(span, title, &view.weekly.groups)
        );
    }
    body.push_str("</section>");
    super::dora_keys::section(&mut body, view.dora.groups.first());
    summary_table(&mut body, params, view);
    waiting_table(&mut body, view);
    let _ = write!(
        body,
        r#"<p class="muted">{hours}; bots excluded; weeks start Monday (UTC). The same numbers: <code>GET /api/v1/summary</code> (<a href="/api/v1/openapi.json">OpenAPI</a>).</p></main>"#,
        hours = match params.hours {
            Hours::Wall => "Wall-clock time",
            Hours::Business if params.group_by == GroupBy::JiraProject =>
                "Business hours of each author's team's calendar (issues: the default calendar)",
            Hours::Business => "Business hours of each team's calendar",
        }
    );
    document("prpulse", &body)
}

fn cell(key: &str, field: &str, value: Option<f64>, text: String) -> String {
    let raw = value.map(|v| v.to_string()).unwrap_or_default();
    format!(
        r#"<td data-key="{key}" data-field="{field}" data-value="{raw}">{text}</td>"#,
        key = escape(key),
        text = escape(&text),
    )
}

fn summary_table(body: &mut String, params: &SummaryParams, view: &View) {
    let heading = match params.group_by {
        GroupBy::Repository => "Repository",
        GroupBy::JiraProject => "Jira project",
        _ => "Team",
    };
    let by_project = params.group_by == GroupBy::JiraProject;
    let issue_headings = if by_project {
        "<th>Issue lead p50</th><th>Issue lead p90</th><th>Issue cycle p50</th><th>Issue cycle p90</th>"
    } else {
        ""
    };
    let _ = write!(
        body,
        r#"<div class="card"><h2>Summary by {lower}</h2><div class="scroll"><table id="summary"><thead><tr><th>{heading}</th><th>Merged</th><th>Cycle p50</th><th>Cycle p90</th><th>Review p50</th><th>Review p90</th><th>Pickup p50</th><th>Pickup p90</th><th>Rounds (mean)</th>{issue_headings}</tr></thead><tbody>"#,
        lower = heading.to_lowercase(),
    );
    if view.table.groups.is_empty() {
        let _ = write!(
            body,
            r#"<tr><td colspan="{columns}" class="muted">Nothing {what} in this period{whose}.</td></tr>"#,
            columns = if by_project { 13 } else { 9 },
            what = if by_project {
                "merged, reviewed or resolved"
            } else {
                "merged or reviewed"
            },
            whose = match params.group_by {
                GroupBy::Team => " by members of a team",
                GroupBy::JiraProject => " under a Jira project",
                _ => "",
            }
        );
    }
    for group in &view.table.groups {
        let key = group.key.clone().unwrap_or_default();
        let _ = write!(body, "<tr><td>{}</td>", escape(&key));
        body.push_str(&cell(
            &key,
            "merged",
            Some(group.merged as f64),
            group.merged.to_string(),
        ));
        for span in [Span::CycleTime, Span::ReviewTime, Span::PickupTime] {
            let distribution: &Distribution = group.span(span);
            for (name, value) in [("p50", distribution.p50), ("p90", distribution.p90)] {
                body.push_str(&cell(
                    &key,
                    &format!("{}.{name}", span.column()),
                    value,
                    duration(value),
                ));
            }
        }
        let rounds = group.review_rounds.mean;
        body.push_str(&cell(
            &key,
            "review_rounds.mean",
            rounds,
            rounds
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "–".into()),
        ));
        for span in IssueSpan::ALL {
            let Some(distribution) = group.issue_span(span) else {
                continue;
            };
            for (name, value) in [("p50", distribution.p50), ("p90", distribution.p90)] {
                body.push_str(&cell(
                    &key,
                    &format!("{}.{name}", span.column()),
                    value,
                    duration(value),
                ));
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div></div>");
}

fn waiting_table(body: &mut String, view: &View) {
    body.push_str(r#"<div class="card"><h2>Waiting for review</h2><div class="scroll"><table id="waiting"><thead><tr><th>Pull request</th><th>Title</th><th>Author</th><th>Teams</th><th>Waiting</th></tr></thead><tbody>"#);
    if view.waiting.is_empty() {
        body.push_str(
            r#"<tr><td colspan="5" class="muted">Nothing is waiting for a first review.</td></tr>"#,
        );
    }
    let now = Utc::now();
    for row in &view.waiting {
        let name = format!("{}#{}", row.repository, row.number);
        let waited = (now - row.ready_at).num_seconds().max(0) as f64;
        let _ = write!(
            body,
            r#"<tr data-pull-request="{name}"><td>{name}</td><td class="title">{title}</td><td>{author}</td><td>{teams}</td><td data-value="{waited}">{text}</td></tr>"#,
            name = escape(&name),
            title = escape(row.title.as_deref().unwrap_or("")),
            author = escape(row.author.as_deref().unwrap_or("ghost")),
            teams = escape(&row.teams.join(", ")),
            text = duration(Some(waited)),
        );
    }
    body.push_str("</tbody></table></div></div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(duration(None), "–");
        assert_eq!(duration(Some(45.0 * 60.0)), "45m");
        assert_eq!(duration(Some(3.0 * 3600.0 + 20.0 * 60.0)), "3h 20m");
        assert_eq!(duration(Some(2.0 * 86400.0 + 4.0 * 3600.0)), "2d 4h");
    }

    #[test]
    fn what_comes_from_github_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
