//! The real Jira webhook bodies in ../shared/fixtures/jira (Server/DC and
//! Cloud), read in place: each parses past the traps its README lists, and
//! all of them, twice and shuffled, project to the rows their histories
//! give. None came with a signature, so these are signed here.

use std::path::{Path, PathBuf};

use prpulse_e2e::{
    Delivery, Stack,
    jira_payloads::{deliver_signed, register},
};
use prpulse_jira::{ChangeField, IssueEvent, JiraEventKind};
use rand::seq::SliceRandom;
use serde_json::{Value, json};

fn root() -> PathBuf {
    std::env::var_os("PRPULSE_JIRA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/jira")
        })
}

/// The fixtures, or `None` with a clear notice; under CI they must be there.
fn available() -> Option<PathBuf> {
    let root = root();
    if root.is_dir() {
        return Some(root);
    }
    let notice = format!(
        "Jira fixtures not found at {} (expected ../shared/fixtures/jira beside the checkout, \
         or PRPULSE_JIRA_FIXTURES); the tests over real Jira payloads did not run",
        root.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{notice}");
    eprintln!("SKIPPED: {notice}");
    None
}

/// (`jira_server` or `jira_cloud`, file name, body), sorted.
fn fixtures(root: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut found = Vec::new();
    for product in ["jira_server", "jira_cloud"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(product))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            found.push((product.to_owned(), name, std::fs::read(&file).unwrap()));
        }
    }
    found
}

fn parsed(root: &Path, product: &str, name: &str) -> IssueEvent {
    let body = std::fs::read(root.join(product).join(name)).unwrap();
    IssueEvent::parse(&body).unwrap_or_else(|error| panic!("{product}/{name}: {error}"))
}

#[test]
fn every_jira_fixture_parses_past_its_traps() {
    let Some(root) = available() else {
        return;
    };
    let all = fixtures(&root);
    assert!(all.len() >= 13, "only {} Jira fixtures found", all.len());
    for (product, name, body) in &all {
        let event =
            IssueEvent::parse(body).unwrap_or_else(|error| panic!("{product}/{name}: {error}"));
        assert!(
            event.kind.is_some(),
            "{product}/{name}: {}",
            event.webhook_event
        );
    }
    // Server names an assignee change `issue_updated`, with no fieldId.
    let assigned = parsed(
        &root,
        "jira_server",
        "issue_updated.assignee.mattermost.json",
    );
    assert_eq!(assigned.changelog_id, Some(10225));
    assert_eq!(assigned.changes.len(), 1);
    assert_eq!(assigned.changes[0].field, ChangeField::Assignee);
    assert_eq!(assigned.changes[0].to.as_deref(), Some("admin"));
    // Status and resolution in one changelog: only the status is kept.
    let done = parsed(
        &root,
        "jira_server",
        "issue_updated.status.jira-trigger-plugin.json",
    );
    assert_eq!(done.changes.len(), 1);
    assert_eq!(done.changes[0].to_category.as_deref(), Some("done"));
    // Cloud's create carries `Status` (capital S) with fieldId `status`.
    let created = parsed(&root, "jira_cloud", "issue_created.mattermost.json");
    assert_eq!(created.kind, Some(JiraEventKind::Created));
    assert_eq!(
        created
            .changes
            .iter()
            .map(|change| change.field)
            .collect::<Vec<_>>(),
        [ChangeField::Status]
    );
    // Unassigned on Cloud: the change's `to` and the snapshot's assignee are null.
    let unassigned = parsed(
        &root,
        "jira_cloud",
        "issue_updated.unassigned.mattermost.json",
    );
    assert_eq!(unassigned.changes[0].to, None);
    assert_eq!(unassigned.issue.assignee, None);
    let deleted = parsed(&root, "jira_server", "issue_deleted.zulip.json");
    assert_eq!(
        (deleted.kind, deleted.changelog_id),
        (Some(JiraEventKind::Deleted), None)
    );
}

#[tokio::test]
async fn jira_fixtures_twice_and_shuffled_project_their_histories() {
    let Some(root) = available() else {
        return;
    };
    let stack = Stack::start().await;
    register(&stack.db, "server", Some("s"), None, &[]).await;
    register(&stack.db, "cloud", Some("c"), None, &[]).await;
    let mut sends: Vec<(&str, &str, Delivery)> = fixtures(&root)
        .into_iter()
        .map(|(product, _, body)| {
            let (integration, secret) = if product == "jira_server" {
                ("server", "s")
            } else {
                ("cloud", "c")
            };
            (
                integration,
                secret,
                Delivery {
                    event: "jira".into(),
                    id: String::new(),
                    body,
                },
            )
        })
        .collect();
    let distinct = sends.len() as i64;
    sends.extend(sends.clone());
    sends.shuffle(&mut rand::rng());
    for (integration, secret, delivery) in &sends {
        assert_eq!(
            deliver_signed(&stack, integration, secret, delivery)
                .await
                .status(),
            202
        );
    }
    stack.wait_for_deliveries(distinct).await;

    let query = |sql: &'static str| {
        let stack = &stack;
        async move {
            stack
                .db
                .client()
                .await
                .query(&format!("SELECT to_jsonb(t) FROM ({sql}) t"), &[])
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<_, Value>(0))
                .collect::<Vec<_>>()
        }
    };
    // TES-4's history (resolved, reopened, in progress, closed; one
    // re-resolve missing): in progress from changelog 10508, resolved as
    // the newest snapshot (the close) says.
    let tes4 = query("SELECT status, status_category, first_in_progress_at, resolved_at, issue_cycle_time_seconds
                      FROM jira_issue_metrics WHERE integration = 'server' AND key = 'TES-4'").await;
    assert_eq!(
        tes4,
        [json!({
            "status": "Closed", "status_category": "done",
            "first_in_progress_at": "2019-08-14T03:02:33.68+00:00",
            "resolved_at": "2019-08-14T03:03:02.179+00:00",
            "issue_cycle_time_seconds": 28,
        })]
    );
    let changes = query(
        "SELECT changelog_id, field, to_value, to_category FROM jira_issue_transitions
                         WHERE integration = 'server' AND issue_id = 10300 ORDER BY changelog_id",
    )
    .await;
    assert_eq!(
        changes
            .iter()
            .map(|row| row["changelog_id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [10414, 10507, 10508, 10511]
    );
    // TES-41 on Cloud: assigned, then unassigned (the newest wins).
    let tes41 = query(
        "SELECT status, assignee FROM jira_issues WHERE integration = 'cloud' AND key = 'TES-41'",
    )
    .await;
    assert_eq!(tes41, [json!({"status": "To Do", "assignee": null})]);
    let cloud_changes = query(
        "SELECT field, to_value FROM jira_issue_transitions
                               WHERE integration = 'cloud' ORDER BY changelog_id",
    )
    .await;
    assert_eq!(
        cloud_changes,
        [
            json!({"field": "status", "to_value": "10001"}),
            json!({"field": "status", "to_value": "3"}),
            json!({"field": "assignee", "to_value": "admin"}),
            json!({"field": "assignee", "to_value": null}),
        ]
    );
    let deleted =
        query("SELECT key FROM jira_issues WHERE deleted_at IS NOT NULL ORDER BY key").await;
    assert_eq!(
        deleted,
        [json!({"key": "BUG-15"}), json!({"key": "IDT-19"})]
    );
}
