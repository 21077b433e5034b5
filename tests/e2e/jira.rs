//! Jira Server / Data Center as a second source, end to end: ingest's Jira
//! routes (signature, URL token, the same answers as GitHub's contract,
//! the derived delivery id), the worker's issue projection and the links
//! to pull requests (order independent, applied once), `prpulse rebuild`
//! reproducing them, and `prpulse integration add-jira` / `remove` against
//! a fake Jira in its REST shapes.

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PullRequestBuilder, Repo, Stack, StackOptions,
    jira_payloads::{
        self, DONE, IN_PROGRESS, IN_REVIEW, JiraIssueBuilder, deliver_signed, post, register,
    },
};
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

const SECRET: &str = "jira-s3cret";

async fn rows(stack: &Stack, sql: &str) -> Vec<Value> {
    stack
        .db
        .client()
        .await
        .query(&format!("SELECT to_jsonb(t) FROM ({sql}) t"), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn jira_deliveries_follow_the_ingest_contract_and_apply_once() {
    let stack = Stack::start().await;
    register(&stack.db, "acme", Some(SECRET), None, &["ABC"]).await;
    register(&stack.db, "legacy", None, Some("tok-123"), &[]).await;
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut issue = JiraIssueBuilder::new(101, "ABC-1", t0);
    let created = issue.created();

    let answer = deliver_signed(&stack, "acme", SECRET, &created).await;
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.unwrap();
    let expected_id = format!("jira:acme:issue_created:101:t{}", t0.timestamp_millis());
    assert_eq!(body["delivery_id"], expected_id.as_str());
    // A resend is the same delivery: accepted again, applied once.
    let again: Value = deliver_signed(&stack, "acme", SECRET, &created)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["delivery_id"], expected_id.as_str());

    let status = |response: reqwest::Response| response.status().as_u16();
    // Each refusal is a 401 that says, in Jira's terms, what was wrong
    // (never GitHub's X-Hub-Signature-256), under GitHub's reason label.
    let refused = async |response: reqwest::Response| {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        (
            body["error"].as_str().unwrap().to_owned(),
            body["reason"].as_str().unwrap().to_owned(),
        )
    };
    let said = |error: &str, reason: &str| (error.to_owned(), reason.to_owned());
    assert_eq!(
        refused(deliver_signed(&stack, "acme", "wrong", &created).await).await,
        said(
            "X-Hub-Signature does not match the body for this integration's secret",
            "mismatch"
        )
    );
    assert_eq!(
        refused(post(&stack, "acme", &[], created.body.clone()).await).await,
        said(
            "no X-Hub-Signature header: this integration's deliveries are signed (sha256= and the HMAC of the body)",
            "missing"
        ),
        "unsigned"
    );
    assert_eq!(
        refused(deliver_signed(&stack, "nobody", SECRET, &created).await).await,
        said("no Jira integration by this name", "no_secret"),
        "unknown integration"
    );
    assert_eq!(
        refused(deliver_signed(&stack, "not.a.name", SECRET, &created).await).await,
        said("no Jira integration by this name", "no_secret"),
        "not even a name"
    );
    assert_eq!(
        refused(post(&stack, "acme/tok-123", &[], created.body.clone()).await).await,
        said(
            "this integration's deliveries are signed with X-Hub-Signature: its webhook URL has no token",
            "mismatch"
        ),
        "a signed integration takes no token"
    );
    for malformed in ["sha256=zz", "sha1=0123456789abcdef0123456789abcdef01234567"] {
        let answer = post(
            &stack,
            "acme",
            &[("X-Hub-Signature", malformed.into())],
            created.body.clone(),
        )
        .await;
        assert_eq!(
            refused(answer).await,
            said(
                "X-Hub-Signature is not sha256= followed by 64 hex digits",
                "malformed"
            ),
            "{malformed}"
        );
    }
    // GitHub's header is not Jira's: a delivery signed there is unsigned.
    let github_signed = post(
        &stack,
        "acme",
        &[(
            "X-Hub-Signature-256",
            prpulse_github::sign(SECRET.as_bytes(), &created.body),
        )],
        created.body.clone(),
    )
    .await;
    assert_eq!(refused(github_signed).await.1, "missing");
    // The URL-token form: the token is the proof, compared before the body is read.
    let moved = issue.transition(5001, t0 + Duration::hours(1), IN_PROGRESS);
    assert_eq!(
        refused(post(&stack, "legacy/tok-124", &[], moved.body.clone()).await).await,
        said("the token in the URL is not this integration's", "mismatch")
    );
    assert_eq!(
        refused(post(&stack, "legacy", &[], moved.body.clone()).await).await,
        said(
            "this integration's webhook URL ends in its token (/webhooks/jira/NAME/TOKEN): none was given",
            "missing"
        )
    );
    let queued: Value = post(&stack, "legacy/tok-123", &[], moved.body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queued["delivery_id"], "jira:legacy:issue_updated:101:c5001");
    // Verified, but not an issue event prpulse takes: 204; not JSON: 400.
    let comment = Delivery::new(
        "jira",
        &json!({"webhookEvent": "comment_created", "timestamp": 1}),
    );
    assert_eq!(
        status(deliver_signed(&stack, "acme", SECRET, &comment).await),
        204
    );
    let broken = Delivery {
        body: b"{not json".to_vec(),
        ..comment.clone()
    };
    assert_eq!(
        status(deliver_signed(&stack, "acme", SECRET, &broken).await),
        400
    );
    let no_issue = Delivery::new(
        "jira",
        &json!({"webhookEvent": "jira:issue_updated", "timestamp": 1}),
    );
    assert_eq!(
        status(deliver_signed(&stack, "acme", SECRET, &no_issue).await),
        400
    );
    let empty = Delivery {
        body: Vec::new(),
        ..comment
    };
    assert_eq!(
        status(deliver_signed(&stack, "acme", SECRET, &empty).await),
        400
    );

    stack.wait_for_deliveries(2).await;
    let issues = rows(
        &stack,
        "SELECT integration, key, status, status_category FROM jira_issues ORDER BY 1",
    )
    .await;
    assert_eq!(
        issues,
        [
            json!({"integration": "acme", "key": "ABC-1", "status": "To Do", "status_category": "new"}),
            json!({"integration": "legacy", "key": "ABC-1", "status": "In Progress", "status_category": "indeterminate"}),
        ]
    );
    let routing: Vec<Value> = rows(
        &stack,
        "SELECT event, action FROM deliveries ORDER BY delivery_id",
    )
    .await;
    assert_eq!(
        routing[0],
        json!({"event": "jira", "action": "issue_created"})
    );
}

/// One issue from its creation to done, two pull requests that name it (in
/// the title; in the branch), one that names an unknown project, and an
/// issue deleted; every delivery twice, all shuffled.
#[tokio::test]
async fn an_issue_timeline_in_any_order_gives_its_lead_and_cycle_time_and_rebuilds() {
    let stack = Stack::start_with(StackOptions {
        workers: 2,
        ..StackOptions::default()
    })
    .await;
    // GPL is a known project too: the repository's `GPL-3.0` licence must still not link.
    register(&stack.db, "acme", Some(SECRET), None, &["ABC", "GPL"]).await;
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let hours = |n: i64| t0 + Duration::hours(n);
    let mut issue = JiraIssueBuilder::new(7007, "ABC-7", t0);
    let mut jira = vec![
        issue.created(),
        issue.assign(9001, hours(1), Some("alice")),
        issue.transition(9002, hours(2), IN_PROGRESS),
        issue.assign(9003, hours(4), Some("bob")),
        issue.transition(9004, hours(5), IN_REVIEW),
        issue.commented(hours(6)),
        issue.transition(9005, hours(30), DONE),
    ];
    let gone = JiraIssueBuilder::new(7008, "ABC-8", t0);
    jira.extend([gone.created(), gone.deleted(hours(1))]);
    // Created straight into In Progress (no changelog): it started then.
    let mut straight = JiraIssueBuilder::new(7009, "ABC-9", hours(1)).created_in(IN_PROGRESS);
    jira.extend([
        straight.created(),
        straight.transition(9010, hours(8), DONE),
    ]);

    let repo = Repo::new(555, "acme/api");
    let dev = Person::user(41, "dev");
    let first = PullRequestBuilder::new(&repo, 1, &dev, hours(3)).title("ABC-7: the first half");
    let second = PullRequestBuilder::new(&repo, 2, &dev, hours(10)).title("The second half");
    let unrelated = PullRequestBuilder::new(&repo, 3, &dev, hours(11)).title("Tidy up");
    let github = vec![
        first.opened(),
        first.merged(hours(20), &dev),
        jira_payloads::with_branch_and_body(second.opened(), "abc-7-second-half", "Follow-up."),
        jira_payloads::with_branch_and_body(
            second.merged(hours(26), &dev),
            "abc-7-second-half",
            "Follow-up.",
        ),
        jira_payloads::with_branch_and_body(unrelated.opened(), "tidy", "See XYZ-1."),
    ];
    let mut sends: Vec<(bool, Delivery)> = jira
        .iter()
        .chain(&jira)
        .map(|delivery| (true, delivery.clone()))
        .chain(
            github
                .iter()
                .chain(&github)
                .map(|delivery| (false, delivery.clone())),
        )
        .collect();
    sends.shuffle(&mut rand::rng());
    for (is_jira, delivery) in &sends {
        let answer = if *is_jira {
            deliver_signed(&stack, "acme", SECRET, delivery).await
        } else {
            stack.deliver(delivery).await
        };
        assert_eq!(answer.status(), 202);
    }
    stack
        .wait_for_deliveries((jira.len() + github.len()) as i64)
        .await;

    let metrics_sql =
        "SELECT key, project, status, assignee, first_in_progress_at, first_linked_pr_opened_at,
                              last_linked_pr_merged_at, resolved_at, linked_pull_requests,
                              issue_lead_time_seconds, issue_cycle_time_seconds
                       FROM jira_issue_metrics ORDER BY key";
    let metrics = rows(&stack, metrics_sql).await;
    assert_eq!(
        metrics,
        [
            json!({
                "key": "ABC-7", "project": "ABC", "status": "Done", "assignee": "bob",
                "first_in_progress_at": "2026-03-02T11:00:00+00:00",
                "first_linked_pr_opened_at": "2026-03-02T12:00:00+00:00",
                "last_linked_pr_merged_at": "2026-03-03T11:00:00+00:00",
                "resolved_at": "2026-03-03T15:00:00+00:00",
                "linked_pull_requests": 2,
                "issue_lead_time_seconds": 24 * 3600,
                "issue_cycle_time_seconds": 28 * 3600,
            }),
            json!({
                "key": "ABC-9", "project": "ABC", "status": "Done", "assignee": null,
                "first_in_progress_at": "2026-03-02T10:00:00+00:00",
                "first_linked_pr_opened_at": null,
                "last_linked_pr_merged_at": null,
                "resolved_at": "2026-03-02T17:00:00+00:00",
                "linked_pull_requests": 0,
                "issue_lead_time_seconds": null,
                "issue_cycle_time_seconds": 7 * 3600,
            })
        ],
        "ABC-8 was deleted"
    );
    let keys = rows(
        &stack,
        "SELECT number, jira_issue_keys FROM pr_metrics ORDER BY number",
    )
    .await;
    assert_eq!(
        keys,
        [
            json!({"number": 1, "jira_issue_keys": ["ABC-7"]}),
            json!({"number": 2, "jira_issue_keys": ["ABC-7"]}),
            json!({"number": 3, "jira_issue_keys": []}),
        ]
    );
    // What Grafana reads has them too, in either hours (V20), as the last
    // column after V14's unchanged ones.
    for hours in ["wall", "business"] {
        let in_hours = rows(
            &stack,
            &format!(
                "SELECT number, jira_issue_keys FROM pr_metrics_in_hours('{hours}') ORDER BY number"
            ),
        )
        .await;
        assert_eq!(in_hours, keys, "{hours}");
    }
    let columns: Vec<String> = stack
        .db
        .client()
        .await
        .prepare("SELECT * FROM pr_metrics_in_hours('wall')")
        .await
        .unwrap()
        .columns()
        .iter()
        .map(|column| column.name().to_owned())
        .collect();
    assert_eq!(
        columns,
        [
            "repository",
            "number",
            "title",
            "author",
            "author_is_bot",
            "teams",
            "state",
            "draft",
            "created_at",
            "ready_at",
            "first_review_at",
            "first_approval_at",
            "merged_at",
            "closed_at",
            "cycle_time_seconds",
            "review_time_seconds",
            "pickup_time_seconds",
            "time_to_first_approval_seconds",
            "merge_after_approval_seconds",
            "review_rounds",
            "additions",
            "deletions",
            "changed_files",
            "jira_issue_keys",
        ]
    );
    let transitions_sql = "SELECT changelog_id, field, at, from_value, to_value, to_category
                           FROM jira_issue_transitions ORDER BY changelog_id";
    let transitions = rows(&stack, transitions_sql).await;
    let fields: Vec<&str> = transitions
        .iter()
        .map(|row| row["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "assignee", "status", "assignee", "status", "status", "status"
        ],
        "the resolution items are not kept"
    );
    assert_eq!(transitions[2]["from_value"], "alice");
    let issues_sql = "SELECT * FROM jira_issues ORDER BY issue_id";
    let issues = rows(&stack, issues_sql).await;
    assert_eq!(issues[1]["deleted_at"], "2026-03-02T10:00:00+00:00");

    // The raw payloads reproduce every Jira row and link.
    let client = stack.db.client().await;
    client
        .batch_execute("DELETE FROM jira_issues; DELETE FROM pull_request_jira_mentions;")
        .await
        .unwrap();
    assert!(rows(&stack, metrics_sql).await.is_empty());
    let rebuilt = stack.cli(&["rebuild"]).await;
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert_eq!(rows(&stack, issues_sql).await, issues);
    assert_eq!(rows(&stack, transitions_sql).await, transitions);
    assert_eq!(rows(&stack, metrics_sql).await, metrics);
}

fn server_info(major: u32) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "baseUrl": "https://jira.example.com", "version": format!("{major}.3.1"),
        "versionNumbers": [major, 3, 1], "deploymentType": "Server", "buildNumber": 100_000,
        "serverTitle": "Jira"}))
}

#[tokio::test]
async fn add_jira_registers_the_webhook_first_and_remove_takes_everything_back() {
    let stack = Stack::start().await;
    let cli = |args: Vec<String>, jira: &MockServer| {
        let mut args = args;
        args.extend(["--url".into(), jira.uri()]);
        args
    };
    let env = [
        ("PRPULSE_JIRA_TOKEN", "pat-not-stored-plain"),
        (
            "PRPULSE_JIRA_PUBLIC_URL",
            "https://prpulse.example.com/webhooks/jira",
        ),
    ];
    let run = |args: Vec<String>| {
        let stack = &stack;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            stack.cli_with(&args, &env).await
        }
    };
    let add = |name: &str| {
        vec![
            "integration".to_owned(),
            "add-jira".into(),
            name.into(),
            "--project".into(),
            "abc".into(),
        ]
    };
    let count = |sql: &'static str| stack.db.count(sql);

    // Jira's refusals leave nothing behind and say what Jira said.
    for (status, at, said) in [
        (401, "/rest/api/2/serverInfo", "401"),
        (
            403,
            "/rest/jira-webhook/1.0/webhooks",
            "not a Jira administrator",
        ),
        (404, "/rest/jira-webhook/1.0/webhooks", "404"),
    ] {
        let jira = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/rest/api/2/serverInfo"))
            .respond_with(if at.ends_with("serverInfo") {
                ResponseTemplate::new(status)
            } else {
                server_info(10)
            })
            .mount(&jira)
            .await;
        Mock::given(method("POST"))
            .and(path("/rest/jira-webhook/1.0/webhooks"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&jira)
            .await;
        let output = run(cli(add("acme"), &jira)).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(said),
            "{status}: {stderr}"
        );
        assert_eq!(count("SELECT count(*) FROM jira_integrations").await, 0);
    }

    // Data Center 10: signed with a secret prpulse generates and seals.
    let dc = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(server_info(10))
        .mount(&dc)
        .await;
    Mock::given(method("POST")).and(path("/rest/jira-webhook/1.0/webhooks")).respond_with(ResponseTemplate::new(201).set_body_json(json!({
        "id": 42, "name": "prpulse acme", "url": "https://prpulse.example.com/webhooks/jira/acme",
        "events": ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"], "active": true,
        "scopeType": "global", "configuration": {}, "createdDate": 1, "updatedDate": 1}))).mount(&dc).await;
    let output = run(cli(add("acme"), &dc)).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let registered: Value =
        serde_json::from_slice(&dc.received_requests().await.unwrap()[1].body).unwrap();
    assert_eq!(
        registered["url"],
        "https://prpulse.example.com/webhooks/jira/acme"
    );
    assert_eq!(
        registered["filters"]["issue-related-events-section"],
        "project in (ABC)"
    );
    assert_eq!(
        registered["events"],
        json!([
            "jira:issue_created",
            "jira:issue_updated",
            "jira:issue_deleted"
        ])
    );
    let secret = registered["configuration"]["SECRET"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 64);
    let stored = rows(&stack, "SELECT webhook_api, webhook_id, projects, position('pat-not-stored-plain'::bytea IN token) AS plain FROM jira_integrations").await;
    assert_eq!(
        stored,
        [json!({"webhook_api": "signed", "webhook_id": 42, "projects": ["ABC"], "plain": 0})]
    );
    let created = JiraIssueBuilder::new(1, "ABC-1", Utc::now()).created();
    assert_eq!(
        deliver_signed(&stack, "acme", &secret, &created)
            .await
            .status(),
        202,
        "Jira's deliveries verify"
    );
    let twice = run(cli(add("acme"), &dc)).await;
    assert!(
        !twice.status.success(),
        "a second add-jira of the same name is refused"
    );

    // An older server: unsigned, a random token in the URL.
    let old = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/serverInfo"))
        .respond_with(server_info(8))
        .mount(&old)
        .await;
    Mock::given(method("POST")).and(path("/rest/webhooks/1.0/webhook")).respond_with(ResponseTemplate::new(201).set_body_json(json!({
        "name": "prpulse legacy", "events": [], "url": "ignored", "filter": "", "excludeIssueDetails": false,
        "enabled": true, "self": format!("{}/rest/webhooks/1.0/webhook/5", old.uri()),
        "lastUpdatedUser": "admin", "lastUpdatedDisplayName": "Admin", "lastUpdated": 1_383_247_225_784u64}))).mount(&old).await;
    Mock::given(method("DELETE"))
        .and(path("/rest/webhooks/1.0/webhook/5"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&old)
        .await;
    let output = run(cli(add("legacy"), &old)).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let registered: Value =
        serde_json::from_slice(&old.received_requests().await.unwrap()[1].body).unwrap();
    let url = registered["url"].as_str().unwrap();
    let token = url
        .strip_prefix("https://prpulse.example.com/webhooks/jira/legacy/")
        .unwrap();
    assert_eq!(token.len(), 64);
    assert!(
        registered.get("configuration").is_none(),
        "older servers take no secret"
    );
    let issue = JiraIssueBuilder::new(2, "ABC-2", Utc::now()).created();
    assert_eq!(
        post(&stack, &format!("legacy/{token}"), &[], issue.body.clone())
            .await
            .status(),
        202
    );
    stack.wait_for_deliveries(2).await;

    // Remove: the webhook already gone in Jira (404) is fine; the
    // integration's issues and deliveries go, the other's stay.
    let removed = stack
        .cli_with(&["integration", "remove", "legacy"], &env)
        .await;
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let deletes: HashSet<String> = old
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| format!("{} {}", request.method, request.url.path()))
        .collect();
    assert!(
        deletes.contains("DELETE /rest/webhooks/1.0/webhook/5"),
        "{deletes:?}"
    );
    assert_eq!(count("SELECT count(*) FROM jira_integrations").await, 1);
    assert_eq!(count("SELECT count(*) FROM jira_issues").await, 1);
    assert_eq!(
        count("SELECT count(*) FROM deliveries WHERE delivery_id LIKE 'jira:legacy:%'").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM deliveries WHERE delivery_id LIKE 'jira:acme:%'").await,
        1
    );
}

#[tokio::test]
async fn the_scheduler_recreates_repairs_and_rotates_jira_webhooks() {
    use prpulse_scheduler::jobs::jira::{JiraHookSettings, Reconciled, reconcile};
    use prpulse_store::jira_integrations::{self, NewJiraIntegration, Verifier};
    use secrecy::{ExposeSecret, SecretString};

    let db = prpulse_e2e::TestDb::create().await;
    let pool = db.pool();
    let keyring = jira_payloads::keyring();
    let jira = MockServer::start().await;
    jira_integrations::insert(
        &pool.get().await.unwrap(),
        &keyring,
        &NewJiraIntegration {
            name: "acme",
            base_url: &jira.uri(),
            token: &SecretString::from("pat".to_owned()),
            webhook_api: "signed",
            webhook_id: 42,
            secret: Some(b"old-secret"),
            url_token: None,
            projects: &["ABC".to_owned()],
        },
    )
    .await
    .unwrap();
    let settings = JiraHookSettings {
        hook_base: "https://prpulse.example.com/webhooks/jira".into(),
        rotate_after: std::time::Duration::from_secs(90 * 86_400),
        overlap: std::time::Duration::from_secs(86_400),
        timeout: std::time::Duration::from_secs(5),
    };
    let current = || async {
        jira_integrations::get(&pool.get().await.unwrap(), "acme")
            .await
            .unwrap()
            .unwrap()
    };
    let hook = |id: i64, events: &[&str]| {
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "name": "prpulse acme", "url": "https://prpulse.example.com/webhooks/jira/acme",
            "events": events, "filters": {"issue-related-events-section": "project in (ABC)"},
            "active": true, "scopeType": "global", "configuration": {}}))
    };
    let all = [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
    ];

    // Deleted in Jira: registered again, with the secret it had.
    Mock::given(method("GET"))
        .and(path("/rest/jira-webhook/1.0/webhooks/42"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/jira-webhook/1.0/webhooks"))
        .respond_with(hook(43, &all))
        .mount(&jira)
        .await;
    assert_eq!(
        reconcile(&settings, &pool, &keyring, &current().await)
            .await
            .unwrap(),
        Reconciled::Recreated
    );
    assert_eq!(
        last_body(&jira).await["configuration"]["SECRET"],
        "old-secret"
    );
    assert_eq!(current().await.webhook_id, 43);

    // Its events drifted: put back.
    jira.reset().await;
    Mock::given(method("GET"))
        .and(path("/rest/jira-webhook/1.0/webhooks/43"))
        .respond_with(hook(43, &all[..2]))
        .mount(&jira)
        .await;
    Mock::given(method("PUT"))
        .and(path("/rest/jira-webhook/1.0/webhooks/43"))
        .respond_with(hook(43, &all))
        .mount(&jira)
        .await;
    assert_eq!(
        reconcile(&settings, &pool, &keyring, &current().await)
            .await
            .unwrap(),
        Reconciled::Repaired
    );
    assert_eq!(last_body(&jira).await["events"], json!(all));

    // In step: nothing sent but the read.
    jira.reset().await;
    Mock::given(method("GET"))
        .and(path("/rest/jira-webhook/1.0/webhooks/43"))
        .respond_with(hook(43, &all))
        .mount(&jira)
        .await;
    assert_eq!(
        reconcile(&settings, &pool, &keyring, &current().await)
            .await
            .unwrap(),
        Reconciled::InStep
    );
    assert_eq!(jira.received_requests().await.unwrap().len(), 1);

    // The secret is due: a refused update changes nothing here; an
    // accepted one makes the new secret current and keeps the old valid.
    let client = pool.get().await.unwrap();
    client
        .execute(
            "UPDATE jira_integrations SET secret_rotated_at = now() - interval '100 days'",
            &[],
        )
        .await
        .unwrap();
    let secrets = || async {
        match jira_integrations::verifier(
            &pool.get().await.unwrap(),
            Some(&keyring),
            "acme",
            Utc::now(),
        )
        .await
        .unwrap()
        {
            Some(Verifier::Signed(secrets)) => secrets
                .iter()
                .map(|s| String::from_utf8(s.expose_secret().to_vec()).unwrap())
                .collect::<Vec<_>>(),
            _ => panic!("acme is signed"),
        }
    };
    Mock::given(method("PUT"))
        .and(path("/rest/jira-webhook/1.0/webhooks/43"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&jira)
        .await;
    let refused = reconcile(&settings, &pool, &keyring, &current().await)
        .await
        .unwrap_err();
    assert!(format!("{refused:#}").contains("500"), "{refused:#}");
    assert_eq!(secrets().await, ["old-secret"]);
    Mock::given(method("PUT"))
        .and(path("/rest/jira-webhook/1.0/webhooks/43"))
        .respond_with(hook(43, &all))
        .mount(&jira)
        .await;
    assert_eq!(
        reconcile(&settings, &pool, &keyring, &current().await)
            .await
            .unwrap(),
        Reconciled::Rotated
    );
    let sent = last_body(&jira).await["configuration"]["SECRET"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secrets().await, [sent, "old-secret".to_owned()]);
}

async fn last_body(jira: &MockServer) -> Value {
    let requests = jira.received_requests().await.unwrap();
    serde_json::from_slice(&requests.last().unwrap().body).unwrap()
}
