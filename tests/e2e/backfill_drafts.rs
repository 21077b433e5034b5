//! Backfill reads each pull request's issue timeline (paginated, in
//! GitHub's shape) so a pull request that was once a draft gets the same
//! `ready_at`, and so the same pickup time, as through webhooks.

use chrono::{Duration, TimeZone, Utc};
use prpulse_e2e::{
    Delivery, Person, PrShown, PullRequestBuilder, Repo, Stack, StackOptions, TestDb, direct,
    fake_github::{FakeGitHub, timeline_commit, timeline_event},
};

const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "prpulse failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_backfilled_draft_gets_the_ready_at_webhooks_give() {
    let github = FakeGitHub::start().await;
    let stack = Stack::start_with(StackOptions {
        env: vec![
            (
                "PRPULSE_PUBLIC_URL".into(),
                "https://prpulse.example.com/webhooks/github".into(),
            ),
            ("PRPULSE_GITHUB_API_URL".into(), github.uri()),
        ],
        ..StackOptions::default()
    })
    .await;
    assert_success(
        &stack
            .cli_with(
                &["integration", "add", "acme"],
                &[("PRPULSE_GITHUB_TOKEN", TOKEN)],
            )
            .await,
    );
    github.add_repository("acme/api", 10);

    // Opened as a draft at 09:00, reviewed by grace while a draft (09:10),
    // ready at 10:00, back to draft at 10:10, ready again at 10:20,
    // approved by linus at 10:30, merged at 11:00.
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let minutes = |m: i64| created + Duration::minutes(m);
    let (ada, grace, linus) = (
        Person::user(1, "ada"),
        Person::user(2, "grace"),
        Person::user(3, "linus"),
    );
    let pr = PullRequestBuilder::new(&Repo::new(10, "acme/api"), 1, &ada, created).draft();
    let draft = PrShown {
        draft: true,
        ..PrShown::OPEN
    };
    let webhooks: Vec<Delivery> = vec![
        pr.opened(),
        pr.review_of(draft, 501, &grace, "commented", minutes(10)),
        pr.ready_for_review(minutes(60)),
        pr.converted_to_draft(minutes(70)),
        pr.ready_for_review(minutes(80)),
        pr.review(502, &linus, "approved", minutes(90)),
        pr.merged(minutes(120), &grace),
    ];
    let through_webhooks = TestDb::create().await;
    let processor = direct::processor(&through_webhooks);
    for delivery in &webhooks {
        direct::apply(&processor, delivery).await;
    }
    let expected = through_webhooks.pr("acme/api", 1).await;
    assert_eq!(expected["ready_at"], "2026-03-02T10:00:00+00:00");
    assert_eq!(expected["pickup_time_seconds"], 30 * 60);

    // What GitHub's REST API shows of the same history: the pull request
    // as it is now (merged, not a draft), its reviews, and its timeline,
    // 150 labels first so that the draft events are on the second page.
    let merged =
        serde_json::from_slice::<serde_json::Value>(&webhooks[6].body).unwrap()["pull_request"]
            .clone();
    let review = |id: i64, who: &Person, state: &str, at| {
        serde_json::json!({
            "id": id, "node_id": format!("PRR_{id}"),
            "user": {"login": who.login, "id": who.id, "type": "User"},
            "body": "", "state": state, "author_association": "MEMBER",
            "submitted_at": chrono::DateTime::<Utc>::to_rfc3339(&at),
            "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
        })
    };
    github.add_pull_request(
        "acme/api",
        merged,
        vec![
            review(501, &grace, "COMMENTED", minutes(10)),
            review(502, &linus, "APPROVED", minutes(90)),
        ],
    );
    let mut timeline = vec![timeline_commit("ec26c3e", created)];
    timeline.extend((0..150).map(|i| timeline_event(9000 + i, "labeled", minutes(1), (1, "ada"))));
    timeline.extend([
        timeline_event(9501, "ready_for_review", minutes(60), (1, "ada")),
        timeline_event(9502, "convert_to_draft", minutes(70), (1, "ada")),
        timeline_event(9503, "ready_for_review", minutes(80), (1, "ada")),
        timeline_event(9504, "merged", minutes(120), (2, "grace")),
    ]);
    github.set_timeline("acme/api", 1, timeline);

    let output = stack
        .cli(&["repo", "backfill", "acme/api", "--since", "2026-01-01"])
        .await;
    assert_success(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("(3 draft events from their timelines)"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // The pull request, two reviews, `opened` and two `ready_for_review`.
    stack.wait_for_deliveries(6).await;
    assert_eq!(stack.db.pr("acme/api", 1).await, expected);
}
