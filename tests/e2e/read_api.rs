//! prpulse-api, the real binary, over pull requests applied by the
//! worker's own step: the summary's numbers worked out by hand, team
//! counting, business hours, pages, tokens, bad input, the page, drain.

use chrono::{DateTime, TimeZone, Utc};
use prpulse_e2e::{
    Person, PullRequestBuilder, Repo, TestDb,
    api::ApiServer,
    direct::{apply, processor},
    payloads::membership,
};
use serde_json::Value;

const HOUR: f64 = 3600.0;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

/// Two weeks of March 2026 (Mondays the 2nd and the 9th), in UTC:
///
/// | pr      | author | created   | first review        | approval  | merged     |
/// |---------|--------|-----------|---------------------|-----------|------------|
/// | api#1   | ada    | Mon 2 09h | Mon 2 10h (1 h)     | Mon 2 12h | Tue 3 09h (24 h) |
/// | api#2   | grace  | Tue 3 09h | Tue 3 13h approved (4 h) |      | Tue 3 17h (8 h)  |
/// | web#3   | linus  | Wed 4 10h | Thu 5 10h changes (24 h) | Thu 5 16h | Mon 9 10h (120 h) |
/// | web#4   | bot    | Wed 4 09h | none                |           | Wed 4 09:30 |
/// | api#5   | ada    | Tue 10 09h, open, never reviewed: waiting for review |
/// | api#6   | linus  | Fri 20 Feb 09h, reviewed Mon 2 11h (242 h), open |
///
/// Teams: core = ada, grace; web = ada, linus.
async fn seed(db: &TestDb) {
    let (ada, grace, linus) = (
        Person::user(1, "ada"),
        Person::user(2, "grace"),
        Person::user(3, "linus"),
    );
    let bot = Person::bot(4, "dependabot[bot]");
    let org = Person::user(100, "acme");
    let (api, web) = (Repo::new(10, "acme/api"), Repo::new(11, "acme/web"));
    let one = PullRequestBuilder::new(&api, 1, &ada, at(2, 9));
    let two = PullRequestBuilder::new(&api, 2, &grace, at(3, 9));
    let three = PullRequestBuilder::new(&web, 3, &linus, at(4, 10));
    let four = PullRequestBuilder::new(&web, 4, &bot, at(4, 9));
    let five = PullRequestBuilder::new(&api, 5, &ada, at(10, 9)).title("Waiting <for> review");
    let six = PullRequestBuilder::new(
        &api,
        6,
        &linus,
        Utc.with_ymd_and_hms(2026, 2, 20, 9, 0, 0).unwrap(),
    );
    let deliveries = vec![
        membership("added", &org, 31, "core", &ada),
        membership("added", &org, 31, "core", &grace),
        membership("added", &org, 32, "web", &ada),
        membership("added", &org, 32, "web", &linus),
        one.opened(),
        one.review(101, &grace, "commented", at(2, 10)),
        one.review(102, &grace, "approved", at(2, 12)),
        one.merged(at(3, 9), &grace),
        two.opened(),
        two.review(201, &linus, "approved", at(3, 13)),
        two.merged(at(3, 17), &linus),
        three.opened(),
        three.review(301, &ada, "changes_requested", at(5, 10)),
        three.review(302, &grace, "approved", at(5, 16)),
        three.merged(at(9, 10), &grace),
        four.opened(),
        four.merged(Utc.with_ymd_and_hms(2026, 3, 4, 9, 30, 0).unwrap(), &ada),
        five.opened(),
        six.opened(),
        six.review(601, &ada, "commented", at(2, 11)),
    ];
    let processor = processor(db);
    for delivery in &deliveries {
        apply(&processor, delivery).await;
    }
}

async fn seeded() -> (TestDb, ApiServer, String) {
    let db = TestDb::create().await;
    seed(&db).await;
    let api = ApiServer::start(&db).await;
    let token = api.create_token("lead").await;
    (db, api, token)
}

const RANGE: &str = "from=2026-03-02&to=2026-03-15";

fn group<'a>(summary: &'a Value, key: Option<&str>, bucket: Option<&str>) -> &'a Value {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"].as_str() == key && g["bucket"].as_str() == bucket)
        .unwrap_or_else(|| panic!("no group {key:?} {bucket:?} in {summary}"))
}

fn close(value: &Value, expected: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"));
    assert!(
        (got - expected).abs() < 1e-6,
        "expected {expected}, got {got}"
    );
}

#[tokio::test]
async fn the_summary_has_the_numbers_worked_out_by_hand() {
    let (db, api, token) = seeded().await;
    let summary = api.json(&format!("/api/v1/summary?{RANGE}"), &token).await;
    assert_eq!(summary["groups"].as_array().unwrap().len(), 1);
    let all = group(&summary, None, None);
    // Merged: api#1, api#2, web#3 (the bot's web#4 is excluded).
    assert_eq!(all["merged"], 3);
    // Cycle times 8 h, 24 h, 120 h.
    let cycle = &all["cycle_time_seconds"];
    assert_eq!(cycle["count"], 3);
    close(&cycle["p50"], 24.0 * HOUR);
    close(&cycle["p75"], 72.0 * HOUR); // 24 + 0.5 * (120 - 24)
    close(&cycle["p90"], 100.8 * HOUR); // 24 + 0.8 * (120 - 24)
    close(&cycle["mean"], 152.0 / 3.0 * HOUR);
    // Review times 1 h, 4 h, 24 h and api#6's 242 h (reviewed in range,
    // created before it: a span counts where it ended).
    let review = &all["review_time_seconds"];
    assert_eq!(review["count"], 4);
    close(&review["p50"], 14.0 * HOUR);
    close(&review["p90"], 176.6 * HOUR); // 24 + 0.7 * (242 - 24)
    close(&review["mean"], 67.75 * HOUR);
    // Merge after approval: api#1 21 h, api#2 4 h, web#3 90 h.
    close(&all["merge_after_approval_seconds"]["p50"], 21.0 * HOUR);
    // Review rounds of the merged: 1, 1, 2 (changes requested, re-reviewed).
    close(&all["review_rounds"]["mean"], 4.0 / 3.0);
    close(&all["review_rounds"]["p90"], 1.8);

    // The same as Postgres' own percentile_cont over pr_metrics.
    let row = db
        .client()
        .await
        .query_one(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_time_seconds),
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY cycle_time_seconds)
             FROM pr_metrics WHERE NOT author_is_bot
               AND merged_at >= '2026-03-02' AND merged_at < '2026-03-16'",
            &[],
        )
        .await
        .unwrap();
    close(&cycle["p50"], row.get::<_, f64>(0));
    close(&cycle["p90"], row.get::<_, f64>(1));

    let with_bots = api
        .json(&format!("/api/v1/summary?{RANGE}&bots=include"), &token)
        .await;
    assert_eq!(group(&with_bots, None, None)["merged"], 4);
}

#[tokio::test]
async fn teams_count_every_member_and_the_total_counts_once() {
    let (_db, api, token) = seeded().await;
    let by_team = api
        .json(&format!("/api/v1/summary?{RANGE}&group_by=team"), &token)
        .await;
    let keys: Vec<&str> = by_team["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["core", "web"]);
    // core: ada's api#1 and grace's api#2; web: ada's api#1, linus' web#3.
    let core = group(&by_team, Some("core"), None);
    assert_eq!(core["merged"], 2);
    close(&core["cycle_time_seconds"]["p50"], 16.0 * HOUR);
    let web = group(&by_team, Some("web"), None);
    assert_eq!(web["merged"], 2);
    close(&web["cycle_time_seconds"]["p50"], 72.0 * HOUR);
    // api#1 is in both teams (4 in all) but once in the total (3).
    let total = api.json(&format!("/api/v1/summary?{RANGE}"), &token).await;
    assert_eq!(group(&total, None, None)["merged"], 3);

    let by_repo = api
        .json(
            &format!("/api/v1/summary?{RANGE}&group_by=repository"),
            &token,
        )
        .await;
    assert_eq!(group(&by_repo, Some("acme/api"), None)["merged"], 2);
    assert_eq!(group(&by_repo, Some("acme/web"), None)["merged"], 1);
    let by_author = api
        .json(&format!("/api/v1/summary?{RANGE}&group_by=author"), &token)
        .await;
    close(
        &group(&by_author, Some("linus"), None)["review_time_seconds"]["p50"],
        133.0 * HOUR, // web#3's 24 h and api#6's 242 h
    );
}

#[tokio::test]
async fn weeks_hold_what_ended_in_them() {
    let (_db, api, token) = seeded().await;
    let weekly = api
        .json(&format!("/api/v1/summary?{RANGE}&bucket=week"), &token)
        .await;
    assert_eq!(weekly["groups"].as_array().unwrap().len(), 2);
    let first = group(&weekly, None, Some("2026-03-02"));
    let second = group(&weekly, None, Some("2026-03-09"));
    assert_eq!(first["merged"], 2);
    assert_eq!(second["merged"], 1);
    close(&second["cycle_time_seconds"]["p50"], 120.0 * HOUR);
    assert_eq!(first["review_time_seconds"]["count"], 4);
    // Nothing was reviewed in the second week: count 0, no statistics.
    assert_eq!(second["review_time_seconds"]["count"], 0);
    assert!(second["review_time_seconds"]["p50"].is_null());
    let monthly = api
        .json(&format!("/api/v1/summary?{RANGE}&bucket=month"), &token)
        .await;
    assert_eq!(group(&monthly, None, Some("2026-03-01"))["merged"], 3);
}

#[tokio::test]
async fn business_hours_follow_each_team_calendar() {
    let (_db, api, token) = seeded().await;
    let set = api
        .cli(&["calendar", "set", "--team", "web", "--tz", "Europe/Berlin"])
        .await;
    assert!(set.status.success(), "{set:?}");
    let list = api.cli(&["calendar", "list"]).await;
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("Europe/Berlin"), "{listed}");
    assert!(listed.contains("(default, built in)"), "{listed}");

    let by_team = api
        .json(
            &format!("/api/v1/summary?{RANGE}&group_by=team&hours=business"),
            &token,
        )
        .await;
    // core, default calendar (UTC 09-17): api#1 Mon 09 -> Tue 09 is 8 h;
    // api#2 Tue 09 -> 17 is 8 h.
    close(
        &group(&by_team, Some("core"), None)["cycle_time_seconds"]["p50"],
        8.0 * HOUR,
    );
    // web, Berlin (08-16 UTC in March): api#1 is 7 h + 1 h = 8 h; web#3
    // Wed 10-16, Thu, Fri, Mon 08-10 is 24 h.
    close(
        &group(&by_team, Some("web"), None)["cycle_time_seconds"]["p50"],
        16.0 * HOUR,
    );
    // Ungrouped: ada's first team with a calendar is web (Berlin), grace
    // has the default, linus web: 8 h, 8 h, 24 h.
    let total = api
        .json(&format!("/api/v1/summary?{RANGE}&hours=business"), &token)
        .await;
    let cycle = &group(&total, None, None)["cycle_time_seconds"];
    close(&cycle["p50"], 8.0 * HOUR);
    close(&cycle["mean"], 40.0 / 3.0 * HOUR);
    assert_eq!(total["hours"], "business");
    // Never more than the wall clock.
    let wall = api.json(&format!("/api/v1/summary?{RANGE}"), &token).await;
    let wall_mean = group(&wall, None, None)["cycle_time_seconds"]["mean"]
        .as_f64()
        .unwrap();
    assert!(cycle["mean"].as_f64().unwrap() < wall_mean);

    let refused = api.cli(&["calendar", "set", "--tz", "Mars/Olympus"]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("--tz"), "{stderr}");
}

#[tokio::test]
async fn pull_requests_filter_and_page_without_gaps() {
    let (_db, api, token) = seeded().await;
    let numbers = |page: &Value| -> Vec<i64> {
        page["pull_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pr| pr["number"].as_i64().unwrap())
            .collect()
    };
    let all = api.json("/api/v1/pull-requests", &token).await;
    // Newest first; the bot's web#4 is excluded.
    assert_eq!(numbers(&all), [5, 3, 2, 1, 6]);
    assert!(all["next_cursor"].is_null());
    let core = api.json("/api/v1/pull-requests?team=core", &token).await;
    assert_eq!(numbers(&core), [5, 2, 1]);
    let linus = api.json("/api/v1/pull-requests?author=LINUS", &token).await;
    assert_eq!(numbers(&linus), [3, 6]);
    let merged = api
        .json(
            "/api/v1/pull-requests?state=merged&repository=acme/web&bots=include",
            &token,
        )
        .await;
    assert_eq!(numbers(&merged), [3, 4]);
    let march = api
        .json(
            "/api/v1/pull-requests?from=2026-03-03&to=2026-03-04",
            &token,
        )
        .await;
    assert_eq!(numbers(&march), [3, 2]);
    let first = &all["pull_requests"][3];
    assert_eq!(first["repository"], "acme/api");
    assert_eq!(first["teams"], serde_json::json!(["core", "web"]));
    assert_eq!(first["cycle_time_seconds"], 86400);

    let mut seen = Vec::new();
    let mut path = "/api/v1/pull-requests?limit=2&bots=include".to_owned();
    loop {
        let page = api.json(&path, &token).await;
        assert!(numbers(&page).len() <= 2);
        seen.extend(numbers(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/pull-requests?limit=2&bots=include&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, [5, 3, 4, 2, 1, 6]);
}

#[tokio::test]
async fn tokens_are_required_checked_revocable_and_never_logged() {
    let (db, api, token) = seeded().await;
    let path = "/api/v1/summary";
    for (bearer, case) in [
        (None, "no token"),
        (Some("prpulse_0000"), "a wrong token"),
        (
            Some("prpulse_0000000000000000000000000000000000000000000000000000000000000000"),
            "an unknown token",
        ),
    ] {
        let response = api.get(path, bearer).await;
        assert_eq!(response.status(), 401, "{case}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{case}: {body}");
    }
    assert_eq!(api.get(path, Some(&token)).await.status(), 200);
    let listed = api.cli(&["api-token", "list"]).await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("lead") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "list must not show the token");

    let revoked = api.cli(&["api-token", "revoke", "lead"]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    let response = api.get(path, Some(&token)).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "bad_token");
    // The name is free again once revoked.
    let again = api.create_token("lead").await;
    assert_ne!(again, token);
    assert_eq!(api.get(path, Some(&again)).await.status(), 200);
    let taken = api.cli(&["api-token", "create", "lead"]).await;
    assert!(!taken.status.success());

    // What is stored is the token's SHA-256, never the token.
    let hashed = db
        .count(&format!(
            "SELECT count(*) FROM api_tokens
             WHERE token_sha256 = sha256(convert_to('{again}', 'UTF8')) AND revoked_at IS NULL"
        ))
        .await;
    assert_eq!(hashed, 1);
    let plain = db
        .count(&format!(
            "SELECT count(*) FROM api_tokens WHERE position(convert_to('{again}', 'UTF8') IN token_sha256) > 0"
        ))
        .await;
    assert_eq!(plain, 0);
    let log = api.log();
    assert!(log.contains("prpulse-api listening"), "debug log: {log}");
    assert!(
        !log.contains(&token) && !log.contains(&again),
        "a token was logged"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_parameter() {
    let (_db, api, token) = seeded().await;
    for (path, parameter) in [
        ("/api/v1/summary?group_by=org", "group_by"),
        ("/api/v1/summary?bucket=day", "bucket"),
        ("/api/v1/summary?from=2026-02-30", "from"),
        ("/api/v1/summary?from=2026-03-10&to=2026-03-01", "from"),
        ("/api/v1/summary?hours=night", "hours"),
        ("/api/v1/summary?colour=blue", "colour"),
        ("/api/v1/pull-requests?limit=1000000", "limit"),
        ("/api/v1/pull-requests?cursor=abc", "cursor"),
        ("/api/v1/pull-requests?author=a%00b", "author"),
        ("/api/v1/pull-requests?state=merged&state=open", "state"),
    ] {
        let response = api.get(path, Some(&token)).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }
    let openapi = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(openapi.status(), 200);
    let document: Value = openapi.json().await.unwrap();
    assert!(document["paths"]["/api/v1/summary"].is_object());
    let missing = api.get("/api/v1/nothing", Some(&token)).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_page_signs_in_and_shows_the_api_numbers() {
    let (_db, api, token) = seeded().await;
    let form = api.get("/", None).await;
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains(r#"name="token""#));
    let no_redirects = prpulse_e2e::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let wrong = no_redirects
        .post(format!("{}/sign-in", api.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=prpulse_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let signed_in = no_redirects
        .post(format!("{}/sign-in", api.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = no_redirects
        .get(format!("{}/?{RANGE}&group_by=team", api.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // The numbers of group_by=team, in data-value, as the API has them.
    let summary = api
        .json(&format!("/api/v1/summary?{RANGE}&group_by=team"), &token)
        .await;
    for key in ["core", "web"] {
        let p50 = group(&summary, Some(key), None)["cycle_time_seconds"]["p50"]
            .as_f64()
            .unwrap();
        let cell =
            format!(r#"data-key="{key}" data-field="cycle_time_seconds.p50" data-value="{p50}""#);
        assert!(html.contains(&cell), "{cell} not in the page");
    }
    assert!(
        html.contains(r#"data-pull-request="acme/api#5""#),
        "waiting list"
    );
    assert!(
        html.contains("Waiting &lt;for&gt; review"),
        "titles are escaped"
    );
    assert!(
        !html.contains("acme/api#1\""),
        "a merged one is not waiting"
    );
    assert!(html.contains("<svg"), "charts");
    let business = no_redirects
        .get(format!("{}/?{RANGE}&hours=business", api.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        business
            .text()
            .await
            .unwrap()
            .contains("Business hours of each team")
    );
}

#[tokio::test]
async fn prpulse_report_prints_the_same_summary() {
    let (_db, api, token) = seeded().await;
    let args = [
        "report",
        "--group-by",
        "team",
        "--since",
        "14d",
        "--to",
        "2026-03-15",
    ];
    let json = api.cli(&[&args[..], &["--format", "json"]].concat()).await;
    assert!(json.status.success(), "{json:?}");
    let printed: Value = serde_json::from_slice(&json.stdout).unwrap();
    let served = api
        .json(&format!("/api/v1/summary?{RANGE}&group_by=team"), &token)
        .await;
    assert_eq!(printed, served);
    let csv = api.cli(&[&args[..], &["--format", "csv"]].concat()).await;
    let csv = String::from_utf8(csv.stdout).unwrap();
    // web: merged 2, cycle times 24 h and 120 h.
    assert!(csv.contains("\nweb,,2,2,259200,"), "{csv}");
    let table = api.cli(&args).await;
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("core") && l.contains("16.0h")),
        "{table}"
    );
}

#[tokio::test]
async fn metrics_count_requests_and_sigterm_drains() {
    let (_db, mut api, token) = seeded().await;
    assert_eq!(api.get("/api/v1/summary", Some(&token)).await.status(), 200);
    assert_eq!(api.get("/api/v1/summary", None).await.status(), 401);
    let metrics = api
        .http()
        .get(format!("{}/metrics", api.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"prpulse_api_requests_total{route="/api/v1/summary",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"prpulse_api_requests_total{route="/api/v1/summary",status="401"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"prpulse_build_info{binary="api""#));
    let status = api.terminate().await;
    assert!(status.success(), "{status:?}");
}
