//! Jira Server-shaped issue deliveries built here (the project's own
//! builders; the real bodies in ../shared/fixtures/jira are read in place
//! by tests/e2e/jira_fixtures.rs), the integrations tests register, and
//! posting to ingest's Jira routes.

use chrono::{DateTime, Utc};
use prpulse_store::{
    Keyring, SecretKey,
    jira_integrations::{NewJiraIntegration, insert},
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{Delivery, Stack, TestDb, stack::SECRET_KEY};

/// Jira's own time format: milliseconds and an offset without a colon.
fn jira_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// A Jira status: id, name and category key (`new`, `indeterminate`, `done`).
#[derive(Clone, Copy, Debug)]
pub struct Status(pub &'static str, pub &'static str, pub &'static str);

pub const TO_DO: Status = Status("10000", "To Do", "new");
pub const IN_PROGRESS: Status = Status("3", "In Progress", "indeterminate");
pub const IN_REVIEW: Status = Status("10101", "In Review", "indeterminate");
pub const DONE: Status = Status("10001", "Done", "done");

/// One issue's history, one body per step, each showing the issue as it is
/// after that step (as Jira's do).
#[derive(Clone, Debug)]
pub struct JiraIssueBuilder {
    pub id: i64,
    pub key: String,
    pub project: String,
    status: Status,
    assignee: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl JiraIssueBuilder {
    pub fn new(id: i64, key: &str, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            key: key.to_owned(),
            project: key.rsplit_once('-').unwrap().0.to_owned(),
            status: TO_DO,
            assignee: None,
            resolved_at: None,
            created_at,
        }
    }

    /// The issue as created in `status` (a workflow may start in any
    /// status): its `jira:issue_created` shows it, with no changelog.
    pub fn created_in(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    fn issue(&self) -> Value {
        let person = |name: &str| {
            json!({"self": format!("http://jira.example.com/rest/api/2/user?username={name}"),
                   "name": name, "key": name, "displayName": name.to_uppercase(), "active": true})
        };
        json!({
            "id": self.id.to_string(),
            "self": format!("http://jira.example.com/rest/api/2/issue/{}", self.id),
            "key": self.key,
            "fields": {
                "issuetype": {"id": "10002", "name": "Task", "subtask": false},
                "project": {"id": "10000", "key": self.project, "name": format!("Project {}", self.project)},
                "summary": format!("Work on {}", self.key),
                // Trap: a string that looks like a key, outside what links.
                "description": "Licensed GPL-3.0; see OTHER-1.",
                "created": jira_time(self.created_at),
                "resolutiondate": self.resolved_at.map(jira_time),
                "assignee": self.assignee.as_deref().map(person),
                "status": {"id": self.status.0, "name": self.status.1,
                           "statusCategory": {"key": self.status.2}},
            }
        })
    }

    fn body(&self, webhook_event: &str, at: DateTime<Utc>, changelog: Option<Value>) -> Delivery {
        let mut payload = json!({
            "timestamp": at.timestamp_millis(),
            "webhookEvent": webhook_event,
            "user": {"name": "admin", "key": "admin"},
            "issue": self.issue(),
        });
        if let Some(changelog) = changelog {
            payload["changelog"] = changelog;
        }
        Delivery::new("jira", &payload)
    }

    pub fn created(&self) -> Delivery {
        self.body("jira:issue_created", self.created_at, None)
    }

    /// A workflow transition (Server: items without `fieldId`); into a
    /// `done` status it resolves the issue too, the resolution item first.
    pub fn transition(&mut self, changelog_id: i64, at: DateTime<Utc>, to: Status) -> Delivery {
        let from = self.status;
        self.status = to;
        let mut items = Vec::new();
        if to.2 == "done" && self.resolved_at.is_none() {
            self.resolved_at = Some(at);
            items.push(
                json!({"field": "resolution", "fieldtype": "jira", "from": null,
                              "fromString": null, "to": "10000", "toString": "Done"}),
            );
        } else if to.2 != "done" && self.resolved_at.is_some() {
            self.resolved_at = None;
            items.push(
                json!({"field": "resolution", "fieldtype": "jira", "from": "10000",
                              "fromString": "Done", "to": null, "toString": null}),
            );
        }
        items.push(
            json!({"field": "status", "fieldtype": "jira", "from": from.0,
                          "fromString": from.1, "to": to.0, "toString": to.1}),
        );
        let changelog = json!({"id": changelog_id.to_string(), "items": items});
        self.body("jira:issue_updated", at, Some(changelog))
    }

    pub fn assign(&mut self, changelog_id: i64, at: DateTime<Utc>, to: Option<&str>) -> Delivery {
        let from = self.assignee.take();
        self.assignee = to.map(str::to_owned);
        let changelog = json!({"id": changelog_id.to_string(), "items": [
            {"field": "assignee", "fieldtype": "jira", "from": from, "fromString": from,
             "to": to, "toString": to}]});
        self.body("jira:issue_updated", at, Some(changelog))
    }

    /// An edit with no changelog (a comment): identified by its timestamp.
    pub fn commented(&self, at: DateTime<Utc>) -> Delivery {
        self.body("jira:issue_updated", at, None)
    }

    pub fn deleted(&self, at: DateTime<Utc>) -> Delivery {
        self.body("jira:issue_deleted", at, None)
    }
}

/// The same pull-request delivery with `head_ref` as its branch and
/// `text` as its body (the project's builder leaves the body empty).
pub fn with_branch_and_body(mut delivery: Delivery, head_ref: &str, text: &str) -> Delivery {
    let mut payload: Value = serde_json::from_slice(&delivery.body).unwrap();
    payload["pull_request"]["head"] =
        json!({"ref": head_ref, "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"});
    payload["pull_request"]["body"] = json!(text);
    // Trap: keys outside the three scanned fields never link.
    payload["repository"]["license"] = json!({"key": "gpl-3.0", "spdx_id": "GPL-3.0"});
    delivery.body = serde_json::to_vec(&payload).unwrap();
    delivery
}

pub fn keyring() -> Keyring {
    Keyring::new(SecretKey::parse(SECRET_KEY).unwrap(), None)
}

/// An integration as `prpulse integration add-jira` leaves it, written
/// directly (for tests of receiving and projecting): signed with `secret`,
/// or unsigned with `url_token`.
pub async fn register(
    db: &TestDb,
    name: &str,
    secret: Option<&str>,
    url_token: Option<&str>,
    projects: &[&str],
) {
    let projects: Vec<String> = projects.iter().map(|key| (*key).to_owned()).collect();
    insert(
        &db.pool().get().await.unwrap(),
        &keyring(),
        &NewJiraIntegration {
            name,
            base_url: "https://jira.example.com",
            token: &SecretString::from("pat".to_owned()),
            webhook_api: if secret.is_some() {
                "signed"
            } else {
                "url_token"
            },
            webhook_id: 1,
            secret: secret.map(str::as_bytes),
            url_token: url_token.map(str::as_bytes),
            projects: &projects,
        },
    )
    .await
    .unwrap();
}

/// Posts `body` to `/webhooks/jira/<path>` with these headers.
pub async fn post(
    stack: &Stack,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = crate::http_client()
        .build()
        .unwrap()
        .post(format!("{}/webhooks/jira/{path}", stack.ingest_url))
        .header("Content-Type", "application/json")
        .timeout(std::time::Duration::from_secs(15))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("ingest answers")
}

/// Posts `delivery` as Jira DC 10+ would: signed `X-Hub-Signature`.
pub async fn deliver_signed(
    stack: &Stack,
    integration: &str,
    secret: &str,
    delivery: &Delivery,
) -> reqwest::Response {
    let signature = prpulse_github::sign(secret.as_bytes(), &delivery.body);
    post(
        stack,
        integration,
        &[("X-Hub-Signature", signature)],
        delivery.body.clone(),
    )
    .await
}
