//! `GET /api/v1/summary?group_by=jira_project` end to end: Jira issue
//! deliveries and GitHub pull-request deliveries that name them, through
//! ingest, the queue and the worker, read by the real prpulse-api. The
//! expected numbers are worked out here from the timeline the test sends
//! (business hours by Postgres' own `pr_business_seconds`, an
//! implementation apart from the API's).

use chrono::{DateTime, TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack,
    api::ApiServer,
    jira_payloads::{
        DONE, IN_PROGRESS, JiraIssueBuilder, deliver_signed, register, with_branch_and_body,
    },
    payloads::membership,
};
use serde_json::Value;

const SECRET: &str = "jira-s3cret";
const RANGE: &str = "from=2026-03-02&to=2026-03-15";

type Timestamp = DateTime<Utc>;

fn at(day: u32, hour: u32, minute: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
}

/// Postgres' `percentile_cont` over the values, as the contract says.
fn percentile(values: &[f64], fraction: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = fraction * (sorted.len() - 1) as f64;
    let (lower, upper) = (position.floor() as usize, position.ceil() as usize);
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

/// A distribution of the answer equals the one of `values`, to the bit
/// for counts and within float noise for the statistics.
fn assert_distribution(found: &Value, values: &[f64], what: &str) {
    assert_eq!(found["count"], values.len(), "{what}: {found}");
    if values.is_empty() {
        assert!(
            found["p50"].is_null() && found["mean"].is_null(),
            "{what}: {found}"
        );
        return;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    for (name, expected) in [
        ("p50", percentile(values, 0.5)),
        ("p75", percentile(values, 0.75)),
        ("p90", percentile(values, 0.9)),
        ("mean", mean),
    ] {
        let got = found[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}.{name}: {found}"));
        assert!(
            (got - expected).abs() < 1e-6,
            "{what}.{name}: expected {expected}, got {got}"
        );
    }
}

fn group<'a>(summary: &'a Value, key: &str, bucket: Option<&str>) -> &'a Value {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key && g["bucket"].as_str() == bucket)
        .unwrap_or_else(|| panic!("no group {key:?} {bucket:?} in {summary}"))
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    (to - from).num_seconds() as f64
}

/// A pull request of the timeline: opened, merged, and the projects it
/// names.
struct Pull {
    opened: Timestamp,
    merged: Timestamp,
    projects: &'static [&'static str],
}

/// An issue of the timeline: when work started (first in progress, or its
/// creation in an in-progress status), its last linked merge, resolution.
struct Issue {
    project: &'static str,
    started: Timestamp,
    last_merge: Option<Timestamp>,
    resolved: Option<Timestamp>,
}

/// Two weeks of March 2026 (Mondays the 2nd and the 9th), UTC; author
/// `dev` is in team `web`, whose calendar is Berlin's (08:00-16:00 UTC in
/// March); the default calendar is UTC 09:00-17:00.
///
/// | issue | created            | in progress    | resolved      | linked pulls |
/// |-------|--------------------|----------------|---------------|--------------|
/// | ABC-1 | Mon 2 09h, To Do   | Mon 2 10h      | Wed 4 16h     | #1, #2       |
/// | ABC-2 | Tue 3 09h, **In Progress** (no changelog) | = created | Fri 6 17h | #3 |
/// | OPS-2 | Mon 2 15h          | Tue 3 08h      | -             | #2, #4       |
/// | OPS-3 | Mon 9 09h          | Mon 9 10h      | Wed 11 10h    | none         |
///
/// | pull | names (where)                 | opened    | merged       |
/// |------|-------------------------------|-----------|--------------|
/// | #1   | ABC-1 (title)                 | Mon 2 11h | Tue 3 16:30  |
/// | #2   | ABC-1, OPS-2 (branch)         | Tue 3 09h | Wed 4 12h    |
/// | #3   | ABC-2 (title)                 | Tue 3 10h | Thu 5 10h    |
/// | #4   | OPS-2 (body)                  | Mon 9 09h | Tue 10 13h   |
/// | #5   | nothing                       | Mon 2 09h | Mon 2 17h    |
/// | #6   | XYZ-1, a project nobody knows | Mon 2 09h | Mon 2 18h    |
#[tokio::test]
async fn by_jira_project_pull_requests_count_per_project_with_the_issue_lead_and_cycle_times() {
    let stack = Stack::start().await;
    register(&stack.db, "acme", Some(SECRET), None, &["ABC", "OPS"]).await;

    let mut abc1 = JiraIssueBuilder::new(1001, "ABC-1", at(2, 9, 0));
    let mut abc2 = JiraIssueBuilder::new(1002, "ABC-2", at(3, 9, 0)).created_in(IN_PROGRESS);
    let mut ops2 = JiraIssueBuilder::new(2002, "OPS-2", at(2, 15, 0));
    let mut ops3 = JiraIssueBuilder::new(2003, "OPS-3", at(9, 9, 0));
    let jira: Vec<Delivery> = vec![
        abc1.created(),
        abc1.transition(1, at(2, 10, 0), IN_PROGRESS),
        abc1.transition(2, at(4, 16, 0), DONE),
        abc2.created(),
        abc2.transition(3, at(6, 17, 0), DONE),
        ops2.created(),
        ops2.transition(4, at(3, 8, 0), IN_PROGRESS),
        ops3.created(),
        ops3.transition(5, at(9, 10, 0), IN_PROGRESS),
        ops3.transition(6, at(11, 10, 0), DONE),
    ];

    let repo = Repo::new(555, "acme/api");
    let dev = Person::user(41, "dev");
    let org = Person::user(100, "acme");
    let pulls = [
        Pull {
            opened: at(2, 11, 0),
            merged: at(3, 16, 30),
            projects: &["ABC"],
        },
        Pull {
            opened: at(3, 9, 0),
            merged: at(4, 12, 0),
            projects: &["ABC", "OPS"],
        },
        Pull {
            opened: at(3, 10, 0),
            merged: at(5, 10, 0),
            projects: &["ABC"],
        },
        Pull {
            opened: at(9, 9, 0),
            merged: at(10, 13, 0),
            projects: &["OPS"],
        },
        Pull {
            opened: at(2, 9, 0),
            merged: at(2, 17, 0),
            projects: &[],
        },
        Pull {
            opened: at(2, 9, 0),
            merged: at(2, 18, 0),
            projects: &[],
        },
    ];
    let builder = |number: usize, title: &str| {
        PullRequestBuilder::new(&repo, number as i64 + 1, &dev, pulls[number].opened).title(title)
    };
    let pair = |number: usize, title: &str, branch_and_body: Option<(&str, &str)>| {
        let pr = builder(number, title);
        let deliveries = [pr.opened(), pr.merged(pulls[number].merged, &dev)];
        deliveries.map(|delivery| match branch_and_body {
            Some((branch, body)) => with_branch_and_body(delivery, branch, body),
            None => delivery,
        })
    };
    let mut github = vec![membership("added", &org, 32, "web", &dev)];
    github.extend(pair(0, "ABC-1: the first half", None));
    github.extend(pair(
        1,
        "A shared module",
        Some(("abc-1-ops-2-shared", "Both.")),
    ));
    github.extend(pair(2, "[ABC-2] the fix", None));
    github.extend(pair(3, "Follow-up", Some(("follow-up", "Closes OPS-2."))));
    github.extend(pair(4, "Tidy up", None));
    github.extend(pair(5, "XYZ-1 elsewhere", None));

    let set = stack
        .cli(&["calendar", "set", "--team", "web", "--tz", "Europe/Berlin"])
        .await;
    assert!(set.status.success(), "{set:?}");
    for delivery in &jira {
        assert_eq!(
            deliver_signed(&stack, "acme", SECRET, delivery)
                .await
                .status(),
            202
        );
    }
    for delivery in &github {
        assert_eq!(stack.deliver(delivery).await.status(), 202);
    }
    stack
        .wait_for_deliveries((jira.len() + github.len()) as i64)
        .await;

    let issues = [
        Issue {
            project: "ABC",
            started: at(2, 10, 0),
            last_merge: Some(pulls[1].merged),
            resolved: Some(at(4, 16, 0)),
        },
        // Created in progress: its creation is when work started.
        Issue {
            project: "ABC",
            started: at(3, 9, 0),
            last_merge: Some(pulls[2].merged),
            resolved: Some(at(6, 17, 0)),
        },
        Issue {
            project: "OPS",
            started: at(3, 8, 0),
            last_merge: Some(pulls[3].merged),
            resolved: None,
        },
        Issue {
            project: "OPS",
            started: at(9, 10, 0),
            last_merge: None,
            resolved: Some(at(11, 10, 0)),
        },
    ];
    let client = stack.db.client().await;
    let started: Vec<Timestamp> = client
        .query(
            "SELECT first_in_progress_at FROM jira_issue_metrics ORDER BY key",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        started,
        issues.iter().map(|issue| issue.started).collect::<Vec<_>>()
    );

    let api = ApiServer::start(&stack.db).await;
    let token = api.create_token("lead").await;

    // Business seconds as Postgres measures them: `team` NULL is the
    // default calendar.
    let business = async |from: Timestamp, to: Timestamp, team: Option<&str>| -> f64 {
        let row = client
            .query_one(
                "SELECT pr_business_seconds($1, $2, $3::text)",
                &[&from, &to, &team],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) as f64
    };
    for hours in ["wall", "business"] {
        let summary = api
            .json(
                &format!("/api/v1/summary?{RANGE}&group_by=jira_project&hours={hours}"),
                &token,
            )
            .await;
        assert_eq!(summary["group_by"], "jira_project");
        let keys: Vec<&str> = summary["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["ABC", "OPS"],
            "no group for unlinked pull requests or unknown projects"
        );
        for project in ["ABC", "OPS"] {
            let found = group(&summary, project, None);
            let linked: Vec<&Pull> = pulls
                .iter()
                .filter(|p| p.projects.contains(&project))
                .collect();
            assert_eq!(found["merged"], linked.len(), "{project} merged");
            let mut cycle = Vec::new();
            for pull in &linked {
                cycle.push(match hours {
                    "wall" => seconds(pull.opened, pull.merged),
                    _ => business(pull.opened, pull.merged, Some("web")).await,
                });
            }
            assert_distribution(
                &found["cycle_time_seconds"],
                &cycle,
                &format!("{project} {hours} cycle"),
            );
            let (mut lead, mut issue_cycle) = (Vec::new(), Vec::new());
            for issue in issues.iter().filter(|issue| issue.project == project) {
                let measure = async |end: Timestamp| match hours {
                    "wall" => seconds(issue.started, end),
                    _ => business(issue.started, end, None).await,
                };
                if let Some(end) = issue.last_merge {
                    lead.push(measure(end).await);
                }
                if let Some(end) = issue.resolved {
                    issue_cycle.push(measure(end).await);
                }
            }
            assert_distribution(
                &found["issue_lead_time_seconds"],
                &lead,
                &format!("{project} {hours} issue lead"),
            );
            assert_distribution(
                &found["issue_cycle_time_seconds"],
                &issue_cycle,
                &format!("{project} {hours} issue cycle"),
            );
        }
    }
    // Not vacuous: the calendars differ on this timeline. ABC-2's cycle in
    // the default calendar is not its cycle in web's, #1's cycle in web's
    // is not the default's.
    let abc2 = &issues[1];
    assert_ne!(
        business(abc2.started, abc2.resolved.unwrap(), None).await,
        business(abc2.started, abc2.resolved.unwrap(), Some("web")).await
    );
    assert_ne!(
        business(pulls[0].opened, pulls[0].merged, Some("web")).await,
        business(pulls[0].opened, pulls[0].merged, None).await
    );

    // Weeks: each span in the week it ended; every project has both weeks.
    let weekly = api
        .json(
            &format!("/api/v1/summary?{RANGE}&group_by=jira_project&bucket=week"),
            &token,
        )
        .await;
    assert_eq!(weekly["groups"].as_array().unwrap().len(), 4);
    let ops_first = group(&weekly, "OPS", Some("2026-03-02"));
    assert_eq!(ops_first["merged"], 1);
    assert_distribution(
        &ops_first["issue_lead_time_seconds"],
        &[],
        "OPS week 1 lead",
    );
    let ops_second = group(&weekly, "OPS", Some("2026-03-09"));
    assert_eq!(ops_second["merged"], 1);
    assert_distribution(
        &ops_second["issue_lead_time_seconds"],
        &[seconds(issues[2].started, pulls[3].merged)],
        "OPS week 2 lead",
    );
    assert_distribution(
        &ops_second["issue_cycle_time_seconds"],
        &[seconds(issues[3].started, at(11, 10, 0))],
        "OPS week 2 cycle",
    );
    let abc_second = group(&weekly, "ABC", Some("2026-03-09"));
    assert_eq!(abc_second["merged"], 0);
    assert_distribution(
        &abc_second["issue_cycle_time_seconds"],
        &[],
        "ABC week 2 cycle",
    );

    // A range with OPS-3's resolution alone: a project with issues but no
    // pull request still has its group.
    let late = api
        .json(
            "/api/v1/summary?from=2026-03-11&to=2026-03-11&group_by=jira_project",
            &token,
        )
        .await;
    let ops = group(&late, "OPS", None);
    assert_eq!(ops["merged"], 0);
    assert_eq!(ops["issue_cycle_time_seconds"]["count"], 1);
    assert_eq!(late["groups"].as_array().unwrap().len(), 1);

    // Other groupings carry no issue fields; DORA has no such grouping.
    let by_repository = api
        .json(
            &format!("/api/v1/summary?{RANGE}&group_by=repository"),
            &token,
        )
        .await;
    assert!(
        by_repository["groups"][0]
            .get("issue_lead_time_seconds")
            .is_none()
    );
    assert_eq!(by_repository["groups"][0]["merged"], pulls.len());
    let dora = api
        .get("/api/v1/dora?group_by=jira_project", Some(&token))
        .await;
    assert_eq!(dora.status(), 400);
    let refused: Value = dora.json().await.unwrap();
    assert_eq!(refused["parameter"], "group_by");

    // The leads' page offers the grouping and shows the API's numbers.
    let page = api
        .http()
        .get(format!("{}/?{RANGE}&group_by=jira_project", api.url))
        .header("Cookie", format!("prpulse_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<option value="jira_project" selected>"#),
        "the select keeps the choice"
    );
    let summary = api
        .json(
            &format!("/api/v1/summary?{RANGE}&group_by=jira_project"),
            &token,
        )
        .await;
    for (key, field) in [
        ("ABC", "cycle_time_seconds"),
        ("ABC", "issue_lead_time_seconds"),
        ("ABC", "issue_cycle_time_seconds"),
        ("OPS", "issue_lead_time_seconds"),
    ] {
        let p50 = group(&summary, key, None)[field]["p50"].as_f64().unwrap();
        let cell = format!(r#"data-key="{key}" data-field="{field}.p50" data-value="{p50}""#);
        assert!(html.contains(&cell), "{cell} not in the page");
    }
}
