//! The dashboards' SQL as Grafana runs it, as the `prpulse_reporting`
//! role: every query of the pull-request and DORA dashboards runs with its
//! numbers checked, and the role reads nothing else that matters.

use super::*;

/// The window the dashboard queries are run over; the traffic is inside it.
const FROM: &str = "2026-01-01T00:00:00Z";
const TO: &str = "2027-01-01T00:00:00Z";

#[tokio::test]
async fn the_pull_request_dashboard_queries_run_on_pr_metrics() {
    let (observed, _, _) = observe_traffic().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/dashboards/prpulse-pull-requests.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queries: Vec<(String, String)> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| {
            (
                format!("${}", text(&variable["name"])),
                text(&variable["query"]),
            )
        })
        .collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push((text(&panel["title"]), text(&target["rawSql"])));
        }
    }
    assert!(queries.len() >= 10, "{queries:?}");

    // As Grafana reads: a member of prpulse_reporting (migration V11).
    let client = observed.stack.db.client().await;
    // Business hours from 09:30: the merged pull request (09:00 to 11:00
    // UTC on a Monday) worked 1.5 h of its 2 h, half an hour of its hour
    // to the first review.
    // ada (member 1) is in team core, as the scheduler's team sync would
    // have it; grace is in no team.
    client
        .batch_execute(
            "INSERT INTO working_calendars (team_slug, time_zone, working_days, day_start, day_end)
             VALUES (NULL, 'UTC', '{1,2,3,4,5}', '09:30', '17:00');
             INSERT INTO github_teams (github_id, organization, slug, name)
             VALUES (100, 'acme', 'core', 'Core');
             INSERT INTO github_team_members (team_id, member_id) VALUES (100, 1);",
        )
        .await
        .unwrap();
    // The data is in; now read as Grafana does.
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    let run_all = |selection: Selection| {
        let client = &client;
        let queries = &queries;
        async move {
            let mut results = BTreeMap::new();
            for (title, raw) in queries {
                let sql = expand_grafana_macros(raw, &selection);
                let rows = client
                    .query(&sql, &[])
                    .await
                    .unwrap_or_else(|error| panic!("{title} ({selection:?}): {error:?}\n{sql}"));
                results.insert(title.clone(), rows);
            }
            results
        }
    };
    let results = run_all(Selection::ALL).await;
    // The merged pull request took 2 h from opening to merge, and 1 h to
    // its first review; the other one is still open.
    let cycle = &results["Cycle time by week"];
    assert_eq!(cycle.len(), 1);
    assert_eq!(cycle[0].get::<_, f64>("p90"), 7200.0);
    assert_eq!(
        results["Review time by week"][0].get::<_, f64>("p50"),
        3600.0
    );
    let by_repository = &results["By repository"];
    assert_eq!(by_repository.len(), 1);
    assert_eq!(by_repository[0].get::<_, &str>("repository"), "acme/api");
    assert_eq!(by_repository[0].get::<_, i64>("merged"), 1);
    let open = &results["Slowest open pull requests"];
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].get::<_, &str>("repository"), "acme/web");
    assert_eq!(results["Open now"][0].get::<_, i64>("open"), 1);
    assert_eq!(results["$repository"].len(), 2);
    assert_eq!(
        results["Pickup time by week"][0].get::<_, f64>("p75"),
        3600.0
    );
    assert_eq!(results["$author"].len(), 2);
    assert_eq!(results["$team"].len(), 1);
    let by_team = &results["By team"];
    assert_eq!(by_team.len(), 1);
    assert_eq!(by_team[0].get::<_, &str>("team"), "core");
    assert_eq!(by_team[0].get::<_, i64>("merged"), 1);
    assert_eq!(by_team[0].get::<_, f64>("cycle p75"), 7200.0);

    let core = run_all(Selection {
        team: "'core'",
        ..Selection::ALL
    })
    .await;
    assert_eq!(core["Merged"][0].get::<_, i64>("merged"), 1);
    assert_eq!(
        core["Open now"][0].get::<_, i64>("open"),
        0,
        "grace's is in no team"
    );

    let business = run_all(Selection {
        author: "'ada'",
        hours: "business",
        ..Selection::ALL
    })
    .await;
    assert_eq!(
        business["Cycle time by week"][0].get::<_, f64>("p90"),
        5400.0
    );
    assert_eq!(
        business["Review time by week"][0].get::<_, f64>("p50"),
        1800.0
    );
    assert_eq!(
        business["Pickup time by week"][0].get::<_, f64>("p50"),
        1800.0
    );
    assert_eq!(
        business["By repository"][0].get::<_, f64>("pickup p75"),
        1800.0
    );
    assert_eq!(business["Merged"][0].get::<_, i64>("merged"), 1);
    assert!(business["Slowest open pull requests"].is_empty(), "grace's");

    let other_team = run_all(Selection {
        team: "'core','web'",
        author: "'grace'",
        ..Selection::ALL
    })
    .await;
    assert_eq!(other_team["Merged"][0].get::<_, i64>("merged"), 0);
    assert_eq!(other_team["Open now"][0].get::<_, i64>("open"), 0);
}

/// The values of the dashboard's variables a run substitutes, as Grafana
/// writes them into SQL: quoted lists, and `'__all'` (the variables'
/// custom all value) for All.
#[derive(Clone, Copy, Debug)]
struct Selection {
    team: &'static str,
    author: &'static str,
    hours: &'static str,
}

impl Selection {
    /// What the dashboard opens with: everything, in wall-clock hours.
    const ALL: Self = Self {
        team: "'__all'",
        author: "'__all'",
        hours: "wall",
    };
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// What Grafana makes of the macros and variables the dashboard uses: the
/// time range, every repository selected, bots excluded, teams, authors
/// and hours as selected.
fn expand_grafana_macros(raw: &str, selection: &Selection) -> String {
    let mut sql = raw
        .replace("$repository", "'acme/api','acme/web'")
        .replace("$bots", "exclude")
        .replace("$team", selection.team)
        .replace("$author", selection.author)
        .replace("$hours", selection.hours);
    while let Some(start) = sql.find("$__timeFilter(") {
        let column_at = start + "$__timeFilter(".len();
        let end = column_at + sql[column_at..].find(')').expect("closing parenthesis");
        let column = sql[column_at..end].to_owned();
        sql.replace_range(
            start..=end,
            &format!("{column} BETWEEN '{FROM}' AND '{TO}'"),
        );
    }
    assert!(
        !sql.contains('$'),
        "a Grafana macro or variable this test does not expand:\n{sql}"
    );
    sql
}

#[tokio::test]
async fn grafanas_reporting_role_reads_pr_metrics_and_nothing_else() {
    let db = prpulse_e2e::TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    client
        .query("SELECT * FROM pr_metrics", &[])
        .await
        .expect("the reporting role reads pr_metrics");
    for sql in [
        "SELECT payload FROM deliveries",
        "SELECT payload FROM delivery_payloads",
        "SELECT * FROM pull_requests",
        "SELECT * FROM webhook_secrets",
        "SELECT * FROM integrations",
        "INSERT INTO repositories DEFAULT VALUES",
        "DELETE FROM pull_requests",
    ] {
        let error = client
            .batch_execute(sql)
            .await
            .expect_err(&format!("the reporting role may not: {sql}"));
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {error:?}"
        );
    }
}

/// The DORA dashboard's queries, as the reporting role runs them, over a
/// small history worked out by hand (2026-03, UTC): deploy 1 (a0) Sun 1
/// 12:00; #1 (first commit Mon 2 08:00) merged as a1 at 10:00 and shipped
/// by deploy 2 at 11:00; deploy 3 (a1) failed Tue 3 10:00, deploy 4
/// succeeded at 11:00; incident issue Wed 4 09:00 → 11:00.
#[tokio::test]
async fn the_dora_dashboard_queries_run_as_the_reporting_role() {
    use prpulse_e2e::dora_payloads::{DeploymentBuilder, IssueBuilder, merged_with_commit};

    let db = prpulse_e2e::TestDb::create().await;
    let processor = prpulse_e2e::direct::processor(&db);
    let at = |day, hour| Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap();
    let repo = Repo::new(10, "acme/api");
    let ada = Person::user(1, "ada");
    let pr = PullRequestBuilder::new(&repo, 1, &ada, at(2, 9));
    let mut deliveries = vec![pr.opened(), merged_with_commit(&pr, at(2, 10), &ada, "a1")];
    for (id, sha, state, finished) in [
        (1, "a0", "success", at(1, 12)),
        (2, "a1", "success", at(2, 11)),
        (3, "a1", "failure", at(3, 10)),
        (4, "a1", "success", at(3, 11)),
    ] {
        let deploy = DeploymentBuilder::new(&repo, id, sha, "production", finished);
        deliveries.push(deploy.status(id * 10, state, finished));
    }
    let incident = IssueBuilder::new(&repo, 7, "Checkout is down", at(4, 9));
    deliveries.push(incident.opened(&["incident"]));
    deliveries.push(incident.closed(&["incident"], at(4, 11)));
    for delivery in &deliveries {
        prpulse_e2e::direct::apply(&processor, delivery).await;
    }
    let pool = db.pool();
    prpulse_store::dora::links::record_first_commit(
        &pool.get().await.unwrap(),
        10,
        1,
        Some(at(2, 8)),
    )
    .await
    .unwrap();
    let client = db.client().await;

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/dashboards/prpulse-dora.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queries: Vec<(String, String)> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| {
            (
                format!("${}", text(&variable["name"])),
                text(&variable["query"]),
            )
        })
        .collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push((text(&panel["title"]), text(&target["rawSql"])));
        }
    }
    client
        .batch_execute("SET ROLE prpulse_reporting")
        .await
        .unwrap();
    let mut results = BTreeMap::new();
    for (title, raw) in &queries {
        let sql = expand_grafana_macros(raw, &Selection::ALL);
        let rows = client
            .query(&sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{title}: {error:?}\n{sql}"));
        results.insert(title.clone(), rows);
    }
    assert_eq!(results["$repository"].len(), 1);
    assert_eq!(results["Deploys"][0].get::<_, i64>("deploys"), 3);
    assert_eq!(results["Deploy days"][0].get::<_, i64>("deploy days"), 3);
    // Mon 08:00 → deployed 11:00.
    assert_eq!(
        results["Lead time for changes (p50)"][0].get::<_, f64>("p50"),
        10_800.0
    );
    // Deploy 3 failed itself; the issue followed deploy 4: 2 of 4.
    assert_eq!(results["Change failure rate"][0].get::<_, f64>("rate"), 0.5);
    // 1 h (deploy 3 → 4) and 2 h (the issue).
    assert_eq!(
        results["Failed deployment recovery time (p50)"][0].get::<_, f64>("p50"),
        5400.0
    );
    assert_eq!(results["Open incidents"][0].get::<_, i64>("open"), 0);
    assert_eq!(
        results["Deploys by week"].len(),
        2,
        "the weeks of Feb 23 and Mar 2"
    );
    assert_eq!(results["Recent deployments"].len(), 4);
    assert_eq!(results["Incidents"].len(), 2);
}
