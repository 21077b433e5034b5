//! The DORA keys over a timeline built from GitHub's real payload shapes
//! (`dora_payloads`), applied with the worker's own steps, linked with the
//! scheduler's link job against a fake GitHub (compare and commits in
//! GitHub's shapes), and read through prpulse-api. The timeline, March
//! 2026 (Monday the 2nd), UTC:
//!
//! acme/api: deploys are GitHub deployments to `production-*`
//! | pr | author | first commit | created   | merged (sha)  | deployed by                 |
//! |----|--------|--------------|-----------|---------------|-----------------------------|
//! | #1 | ada    | Mon 08:00    | Mon 09:00 | Mon 12:00 a1  | 1001 eu, Mon 15:10 (compare a0...a2) |
//! | #2 | grace  | Sun 10:00    | Mon 10:00 | Mon 14:00 a2  | 1001 eu, Mon 15:10 (its own commit)  |
//! | #3 | ada    | Tue 08:30    | Tue 09:00 | Tue 11:00 a3  | 1005 eu, Tue 13:00 (1004 failed at 12:00) |
//! | #4 | grace  | Thu 08:00    | Thu 09:00 | Thu 10:00 a4  | 1007 eu, Thu 10:30, which arrived before #4's merge |
//! | #5 | ada    |              | Fri 09:00 | open          |                             |
//! deployments: 1000 eu a0 Sun 12:00 (before the range); 1002 staging a2
//! Mon 14:30 (not production); 1003 us a2 Mon 16:00 (second environment,
//! ships nothing new); 1006 eu a2 Wed 11:00 (rollback: compare a3...a2 is
//! empty). Issues: #50 `incident` Wed 10:00 → closed 16:00; #51 `bug`;
//! #52 labelled `incident` and unlabelled again (the unlabel payload
//! still lists it, as GitHub's example does).
//!
//! acme/web: no deployments, so merges into main are the deploys
//! (`source = merge`): #10 ada (first commit 08:00, created 09:00, merged
//! Mon 11:00) and #11 grace `Revert "Change number 10"` (12:50, 13:00,
//! 13:30): an incident from 13:00 to 13:30 following #10's deploy.
//!
//! acme/app: deploys are runs of `deploy.yml` on main: run 501 (p1) Tue
//! 09:20 ships #20 ada (first commit Mon 15:00, created Mon 16:00, merged
//! Tue 08:00); run 504 (p2) failed at Wed 09:10 and its re-run succeeded
//! at 09:40; test.yml and a run on another branch are not deploys.

use chrono::{DateTime, TimeZone, Utc};
use prpulse_domain::BotPolicy;
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, TestDb,
    api::ApiServer,
    direct::{apply, apply_batch, processor},
    dora_github::FakeDoraGitHub,
    dora_payloads::{DeploymentBuilder, IssueBuilder, WorkflowRunBuilder, merged_with_commit},
};
use prpulse_scheduler::jobs::dora_links::link_repository;
use prpulse_store::dora::settings::{self, DeploySource, DoraSettings};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use serde_json::Value;

const REPOSITORIES: [&str; 3] = ["acme/api", "acme/web", "acme/app"];

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
}

struct Timeline {
    deliveries: Vec<Delivery>,
    /// #4's merge, which arrives after the deploy that shipped it.
    late_merge: Delivery,
}

fn timeline() -> Timeline {
    let (ada, grace) = (Person::user(1, "ada"), Person::user(2, "grace"));
    let (api, web, app) = (
        Repo::new(10, "acme/api"),
        Repo::new(11, "acme/web"),
        Repo::new(12, "acme/app"),
    );
    let mut deliveries = Vec::new();
    let mut merged_pr = |repo: &Repo, number, author: &Person, created, merged, sha: &str| {
        let pr = PullRequestBuilder::new(repo, number, author, created);
        deliveries.push(pr.opened());
        deliveries.push(merged_with_commit(&pr, merged, author, sha));
    };
    merged_pr(&api, 1, &ada, at(2, 9, 0), at(2, 12, 0), "a1");
    merged_pr(&api, 2, &grace, at(2, 10, 0), at(2, 14, 0), "a2");
    merged_pr(&api, 3, &ada, at(3, 9, 0), at(3, 11, 0), "a3");
    merged_pr(&web, 10, &ada, at(2, 9, 0), at(2, 11, 0), "w1");
    merged_pr(&app, 20, &ada, at(2, 16, 0), at(3, 8, 0), "p1");
    let pr4 = PullRequestBuilder::new(&api, 4, &grace, at(5, 9, 0));
    deliveries.push(pr4.opened());
    let late_merge = merged_with_commit(&pr4, at(5, 10, 0), &grace, "a4");
    deliveries.push(PullRequestBuilder::new(&api, 5, &ada, at(6, 9, 0)).opened());
    let revert = PullRequestBuilder::new(&web, 11, &grace, at(2, 13, 0))
        .title("Revert \"Change number 10\"");
    deliveries.push(revert.opened());
    deliveries.push(merged_with_commit(&revert, at(2, 13, 30), &grace, "w2"));

    let mut deploy = |id, sha: &str, environment: &str, created, statuses: &[(i64, &str, _)]| {
        let deployment = DeploymentBuilder::new(&api, id, sha, environment, created);
        deliveries.push(deployment.created());
        for (status_id, state, at) in statuses {
            deliveries.push(deployment.status(*status_id, state, *at));
        }
    };
    deploy(
        1000,
        "a0",
        "production-eu",
        at(1, 11, 50),
        &[(10_000, "success", at(1, 12, 0))],
    );
    deploy(
        1001,
        "a2",
        "production-eu",
        at(2, 15, 0),
        &[
            (10_010, "in_progress", at(2, 15, 1)),
            (10_011, "success", at(2, 15, 10)),
            // GitHub marks the deployment before a newer success inactive.
            (10_012, "inactive", at(3, 13, 0)),
        ],
    );
    deploy(
        1002,
        "a2",
        "staging",
        at(2, 14, 20),
        &[(10_020, "success", at(2, 14, 30))],
    );
    deploy(
        1003,
        "a2",
        "production-us",
        at(2, 15, 50),
        &[(10_030, "success", at(2, 16, 0))],
    );
    deploy(
        1004,
        "a3",
        "production-eu",
        at(3, 11, 30),
        &[(10_040, "failure", at(3, 12, 0))],
    );
    deploy(
        1005,
        "a3",
        "production-eu",
        at(3, 12, 50),
        &[(10_050, "success", at(3, 13, 0))],
    );
    deploy(
        1006,
        "a2",
        "production-eu",
        at(4, 10, 50),
        &[(10_060, "success", at(4, 11, 0))],
    );
    deploy(
        1007,
        "a4",
        "production-eu",
        at(5, 10, 20),
        &[(10_070, "success", at(5, 10, 30))],
    );

    let incident = IssueBuilder::new(&api, 50, "Checkout is down", at(4, 10, 0));
    deliveries.push(incident.opened(&["incident"]));
    deliveries.push(incident.closed(&["incident"], at(4, 16, 0)));
    deliveries.push(IssueBuilder::new(&api, 51, "Typo", at(4, 9, 0)).opened(&["bug"]));
    let relabelled = IssueBuilder::new(&api, 52, "Slow page", at(5, 12, 0));
    deliveries.push(relabelled.opened(&[]));
    deliveries.push(relabelled.labeled("incident", &["incident"], at(5, 12, 5)));
    deliveries.push(relabelled.unlabeled("incident", &["incident"], at(5, 12, 10)));

    let run = |id, path: &str, branch: &str, sha: &str, created| {
        WorkflowRunBuilder::new(&app, id, path, branch, sha, created)
    };
    let deploy_yml = ".github/workflows/deploy.yml";
    let first = run(501, deploy_yml, "main", "p1", at(3, 9, 0));
    deliveries.push(first.requested());
    deliveries.push(first.completed(1, "success", at(3, 9, 20)));
    let tests = run(502, ".github/workflows/test.yml", "main", "p1", at(3, 9, 0));
    deliveries.push(tests.completed(1, "success", at(3, 9, 5)));
    let branch = run(503, deploy_yml, "feature", "pf", at(3, 10, 0));
    deliveries.push(branch.completed(1, "success", at(3, 10, 10)));
    let rerun = run(504, deploy_yml, "main", "p2", at(4, 9, 0));
    deliveries.push(rerun.completed(1, "failure", at(4, 9, 10)));
    deliveries.push(rerun.completed(2, "success", at(4, 9, 40)));
    Timeline {
        deliveries,
        late_merge,
    }
}

/// What GitHub answers the link job: the commits each deploy added since
/// the one before it in its environment, and each pull request's commits
/// (#1's are listed newest first: the earliest author date counts).
fn fake_history(github: &FakeDoraGitHub) {
    github.set_comparison("acme/api", "a0", "a2", &["a1", "a2"]);
    github.set_comparison("acme/api", "a2", "a3", &["a3"]);
    github.set_comparison("acme/api", "a3", "a2", &[]);
    github.set_comparison("acme/api", "a2", "a4", &["a3", "a4"]);
    github.set_comparison("acme/app", "p1", "p2", &["p2"]);
    github.set_pull_commits(
        "acme/api",
        1,
        &[("c11", at(2, 8, 40)), ("c12", at(2, 8, 0))],
    );
    github.set_pull_commits("acme/api", 2, &[("c21", at(1, 10, 0))]);
    github.set_pull_commits("acme/api", 3, &[("c31", at(3, 8, 30))]);
    github.set_pull_commits("acme/api", 4, &[("c41", at(5, 8, 0))]);
    github.set_pull_commits("acme/web", 10, &[("c101", at(2, 8, 0))]);
    github.set_pull_commits("acme/web", 11, &[("c111", at(2, 12, 50))]);
    github.set_pull_commits("acme/app", 20, &[("c201", at(2, 15, 0))]);
}

async fn configure(db: &TestDb) {
    let pool = db.pool();
    let client = pool.get().await.unwrap();
    settings::set(
        &client,
        "acme/api",
        &DoraSettings {
            source: DeploySource::Environments(Some("Production-*".into())),
            ..DoraSettings::default()
        },
    )
    .await
    .unwrap();
    settings::set(
        &client,
        "acme/app",
        &DoraSettings {
            source: DeploySource::Workflow {
                file: "deploy.yml".into(),
                branch: Some("main".into()),
            },
            ..DoraSettings::default()
        },
    )
    .await
    .unwrap();
}

async fn link(db: &TestDb, github: &FakeDoraGitHub) {
    let pool = db.pool();
    let client = github.client();
    for repository in REPOSITORIES {
        link_repository(&pool, &client, repository, 100)
            .await
            .unwrap_or_else(|error| panic!("linking {repository}: {error}"));
    }
}

/// The DORA views and pr_metrics, whole, in a stable order.
async fn dora_rows(db: &TestDb) -> Vec<Value> {
    let client = db.client().await;
    let mut rows = Vec::new();
    for sql in [
        "SELECT row_to_json(d)::text FROM deployments d ORDER BY deployment_id",
        "SELECT row_to_json(i)::text FROM dora_incidents i ORDER BY incident_id",
        "SELECT row_to_json(m)::text FROM pr_metrics m ORDER BY repository_id, number",
    ] {
        for row in client.query(sql, &[]).await.unwrap() {
            rows.push(serde_json::from_str(row.get::<_, &str>(0)).unwrap());
        }
    }
    rows
}

/// The timeline in order, one delivery per transaction, linked, then #4's
/// late merge and one more link run.
async fn in_order(db: &TestDb, github: &FakeDoraGitHub) {
    configure(db).await;
    let timeline = timeline();
    let processor = processor(db);
    for delivery in &timeline.deliveries {
        apply(&processor, delivery).await;
    }
    link(db, github).await;
    apply(&processor, &timeline.late_merge).await;
    link(db, github).await;
}

fn metrics_of<'a>(rows: &'a [Value], repository: &str, number: i64) -> &'a Value {
    rows.iter()
        .find(|row| row["repository"] == repository && row["number"] == number)
        .unwrap_or_else(|| panic!("no pr_metrics row for {repository}#{number}"))
}

/// Count, p50, p75, p90, mean (to a millisecond: the percentiles are
/// interpolated in floating point) and band.
fn assert_distribution(value: &Value, count: u64, [p50, p75, p90, mean]: [f64; 4], band: &str) {
    assert_eq!(value["count"], count, "{value}");
    for (field, expected) in [("p50", p50), ("p75", p75), ("p90", p90), ("mean", mean)] {
        let found = value[field].as_f64().unwrap_or(f64::NAN);
        assert!((found - expected).abs() < 1e-3, "{field}: {value}");
    }
    assert_eq!(value["band"], band, "{value}");
}

#[tokio::test]
async fn the_keys_of_a_timeline_worked_out_by_hand() {
    let db = TestDb::create().await;
    let github = FakeDoraGitHub::start().await;
    fake_history(&github);
    in_order(&db, &github).await;

    // The deploy came before #4's merge: the second run only fetched #4's
    // commits; the link came from the stored comparison, not a new call.
    assert_eq!(github.compares("a2", "a4"), 1);
    assert_eq!(github.compares("a3", "a2"), 1);
    let commit_lists = |number: i64| {
        github
            .requests()
            .iter()
            .filter(|path| path.starts_with(&format!("/repos/acme/api/pulls/{number}/commits")))
            .count()
    };
    assert_eq!((commit_lists(1), commit_lists(4)), (1, 1));

    let client = db.client().await;
    let metrics: Vec<Value> = client
        .query(
            "SELECT row_to_json(m)::text FROM (
                 SELECT repository, number, first_commit_at, deployed_at, deployment_id,
                        coding_time_seconds, deploy_time_seconds, lead_time_seconds
                 FROM pr_metrics) m",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
        .collect();
    let spans = |repository: &str, number: i64| {
        let row = metrics_of(&metrics, repository, number);
        (
            row["deployment_id"].as_str().map(str::to_owned),
            row["coding_time_seconds"].as_i64(),
            row["deploy_time_seconds"].as_i64(),
            row["lead_time_seconds"].as_i64(),
        )
    };
    let shipped = |id: &str, coding, deploy, lead| (Some(id.to_owned()), coding, deploy, lead);
    // #1: 08:00 → 09:00 created, merged 12:00, deployed 15:10.
    assert_eq!(
        spans("acme/api", 1),
        shipped("deployment:1001", Some(3600), Some(11_400), Some(25_800))
    );
    assert_eq!(
        spans("acme/api", 2),
        shipped("deployment:1001", Some(86_400), Some(4200), Some(105_000))
    );
    assert_eq!(
        spans("acme/api", 3),
        shipped("deployment:1005", Some(1800), Some(7200), Some(16_200))
    );
    assert_eq!(
        spans("acme/api", 4),
        shipped("deployment:1007", Some(3600), Some(1800), Some(9000))
    );
    assert_eq!(spans("acme/api", 5), (None, None, None, None));
    assert_eq!(
        spans("acme/web", 10),
        shipped("merge:11:10", Some(3600), Some(0), Some(10_800))
    );
    assert_eq!(
        spans("acme/web", 11),
        shipped("merge:11:11", Some(600), Some(0), Some(2400))
    );
    assert_eq!(
        spans("acme/app", 20),
        shipped("workflow_run:501", Some(3600), Some(4800), Some(66_000))
    );
    let first_commit = client
        .query_one(
            "SELECT first_commit_at = '2026-03-02T08:00:00Z' FROM pr_metrics
             WHERE repository = 'acme/api' AND number = 1",
            &[],
        )
        .await
        .unwrap();
    assert!(first_commit.get::<_, bool>(0), "the earliest author date");

    let deployments: Vec<(String, String, String, Vec<i64>)> = client
        .query(
            "SELECT deployment_id, source, status, pull_requests FROM deployments
             ORDER BY deployment_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get::<_, Vec<i32>>(3)
                    .into_iter()
                    .map(i64::from)
                    .collect(),
            )
        })
        .collect();
    let deployment = |id: &str, source: &str, status: &str, prs: &[i64]| {
        (
            id.to_owned(),
            source.to_owned(),
            status.to_owned(),
            prs.to_vec(),
        )
    };
    assert_eq!(
        deployments,
        [
            deployment("deployment:1000", "deployment", "success", &[]),
            deployment("deployment:1001", "deployment", "success", &[1, 2]),
            deployment("deployment:1003", "deployment", "success", &[]),
            deployment("deployment:1004", "deployment", "failure", &[]),
            deployment("deployment:1005", "deployment", "success", &[3]),
            deployment("deployment:1006", "deployment", "success", &[]),
            deployment("deployment:1007", "deployment", "success", &[4]),
            deployment("merge:11:10", "merge", "success", &[10]),
            deployment("merge:11:11", "merge", "success", &[11]),
            deployment("workflow_run:501", "workflow_run", "success", &[20]),
            deployment("workflow_run:504", "workflow_run", "success", &[]),
        ]
    );
    let incidents: Vec<(String, Option<String>, Option<i64>)> = client
        .query(
            "SELECT incident_id, deployment_id, recovery_time_seconds FROM dora_incidents
             ORDER BY incident_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        incidents,
        [
            (
                "deploy:deployment:1004".to_owned(),
                Some("deployment:1004".to_owned()),
                Some(3600)
            ),
            (
                "issue:10000050".to_owned(),
                Some("deployment:1005".to_owned()),
                Some(21_600)
            ),
            (
                "revert:11:11".to_owned(),
                Some("merge:11:10".to_owned()),
                Some(1800)
            ),
        ]
    );

    let api = ApiServer::start(&db).await;
    let token = api.create_token("dora").await;
    let weekly = api
        .json(
            "/api/v1/dora?group_by=repository&bucket=week&from=2026-03-02&to=2026-03-15",
            &token,
        )
        .await;
    let groups = weekly["groups"].as_array().unwrap();
    let keys: Vec<(&str, &str)> = groups
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["bucket"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("acme/api", "2026-03-02"),
            ("acme/api", "2026-03-09"),
            ("acme/app", "2026-03-02"),
            ("acme/app", "2026-03-09"),
            ("acme/web", "2026-03-02"),
            ("acme/web", "2026-03-09"),
        ]
    );
    let api_week = &groups[0];
    // d1, d2, d4, d5, d6 on Mon, Tue, Wed, Thu: 5 in 7 days.
    assert_eq!(
        api_week["deployment_frequency"],
        serde_json::json!({"deploys": 5, "deploy_days": 4, "band": "high"})
    );
    // Six finished (1004 failed); 1004 failed itself, #50 followed 1005.
    assert_eq!(api_week["change_failure_rate"]["deploys"], 6);
    assert_eq!(api_week["change_failure_rate"]["failed"], 2);
    assert!((api_week["change_failure_rate"]["rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(api_week["change_failure_rate"]["band"], "low");
    // 9000, 16200, 25800, 105000.
    assert_distribution(
        &api_week["lead_time_seconds"],
        4,
        [21_000.0, 45_600.0, 81_240.0, 39_000.0],
        "elite",
    );
    // 1004 failed at 12:00, 1005 succeeded at 13:00; #50 10:00 → 16:00.
    assert_distribution(
        &api_week["recovery_time_seconds"],
        2,
        [12_600.0, 17_100.0, 19_800.0, 12_600.0],
        "high",
    );
    let quiet = &groups[1];
    assert_eq!(
        quiet["deployment_frequency"],
        serde_json::json!({"deploys": 0, "deploy_days": 0, "band": "low"})
    );
    assert_eq!(quiet["change_failure_rate"]["rate"], Value::Null);
    assert_eq!(quiet["lead_time_seconds"]["band"], Value::Null);
    let app_week = &groups[2];
    assert_eq!(
        app_week["deployment_frequency"],
        serde_json::json!({"deploys": 2, "deploy_days": 2, "band": "high"})
    );
    assert_eq!(app_week["change_failure_rate"]["rate"], 0.0);
    assert_eq!(app_week["change_failure_rate"]["band"], "elite");
    assert_eq!(app_week["lead_time_seconds"]["p50"], 66000.0);
    assert_eq!(app_week["recovery_time_seconds"]["count"], 0);
    let web_week = &groups[4];
    assert_eq!(
        web_week["deployment_frequency"],
        serde_json::json!({"deploys": 2, "deploy_days": 1, "band": "high"})
    );
    assert_eq!(web_week["change_failure_rate"]["rate"], 0.5);
    assert_eq!(web_week["lead_time_seconds"]["p50"], 6600.0);
    assert_eq!(web_week["recovery_time_seconds"]["p50"], 1800.0);
    assert_eq!(web_week["recovery_time_seconds"]["band"], "elite");

    let overall = api
        .json("/api/v1/dora?from=2026-03-02&to=2026-03-15", &token)
        .await;
    let all = &overall["groups"][0];
    // 9 deploys on 4 days in 14 days; 3 failed of 10 finished.
    assert_eq!(
        all["deployment_frequency"],
        serde_json::json!({"deploys": 9, "deploy_days": 4, "band": "high"})
    );
    assert_eq!(all["change_failure_rate"]["rate"], 0.3);
    assert_eq!(all["lead_time_seconds"]["p50"], 16200.0);
    assert_eq!(all["recovery_time_seconds"]["p50"], 3600.0);
    assert_eq!(all["recovery_time_seconds"]["band"], "high");

    let by_author = api
        .json(
            "/api/v1/dora?group_by=author&from=2026-03-02&to=2026-03-15",
            &token,
        )
        .await;
    let deploys_of = |login: &str| {
        by_author["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == login)
            .map(|g| g["deployment_frequency"]["deploys"].clone())
    };
    // ada: 1001, 1005, merge #10, run 501; grace: 1001, 1007, merge #11.
    assert_eq!(deploys_of("ada"), Some(serde_json::json!(4)));
    assert_eq!(deploys_of("grace"), Some(serde_json::json!(3)));

    // The leads' page shows the ungrouped keys of its period.
    let http = prpulse_e2e::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{}/sign-in", api.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{}/?from=2026-03-02&to=2026-03-15", api.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "9 deploys on 4 days",
        "30 % (3 of 10)",
        r#"id="dora-lead-time""#,
        r#"data-band="high""#,
    ] {
        assert!(
            page.contains(expected),
            "{expected} not on the page:\n{page}"
        );
    }

    let refused = api.get("/api/v1/dora?hours=business", Some(&token)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(api.get("/api/v1/dora", None).await.status(), 401);
}

#[tokio::test]
async fn any_order_and_duplicates_give_the_same_facts_and_a_rebuild_gives_them_again() {
    let (reference, shuffled) = tokio::join!(TestDb::create(), TestDb::create());
    let (github_a, github_b) = tokio::join!(FakeDoraGitHub::start(), FakeDoraGitHub::start());
    fake_history(&github_a);
    fake_history(&github_b);
    in_order(&reference, &github_a).await;
    let expected = dora_rows(&reference).await;

    let timeline = timeline();
    let mut all = timeline.deliveries.clone();
    all.push(timeline.late_merge.clone());
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    for _ in 0..all.len() / 3 {
        let again = all[rng.random_range(0..all.len())].clone();
        all.push(again);
    }
    all.shuffle(&mut rng);
    let processor = processor(&shuffled);
    // In batches of up to 7, configuring the repositories and linking
    // once half-way: what arrived before the settings is a production
    // deploy or not by the settings all the same; whatever was known then
    // is compared against what came before it, and compared again once a
    // deploy arrives in between.
    let half = all.len() / 2;
    for (index, batch) in all.chunks(7).enumerate() {
        apply_batch(&processor, batch).await.unwrap();
        if (index + 1) * 7 >= half && index * 7 < half {
            configure(&shuffled).await;
            link(&shuffled, &github_b).await;
        }
    }
    link(&shuffled, &github_b).await;
    assert_eq!(dora_rows(&shuffled).await, expected);

    // From the stored payloads alone: the facts are gone, the rebuild
    // brings them back (the comparisons and commits GitHub gave stay).
    shuffled
        .client()
        .await
        .batch_execute(
            "TRUNCATE github_deployments, github_deployment_statuses, github_workflow_runs,
                      github_issues, pull_request_merges",
        )
        .await
        .unwrap();
    assert_ne!(dora_rows(&shuffled).await, expected);
    let report = prpulse_worker::rebuild::Rebuild::new(
        shuffled.pool(),
        BotPolicy::default(),
        prpulse_store::rebuild::Scope::default(),
    )
    .run(&tokio_util::sync::CancellationToken::new(), |_| {})
    .await
    .unwrap();
    assert!(report.unparseable.is_empty(), "{report:?}");
    assert_eq!(dora_rows(&shuffled).await, expected);
}
