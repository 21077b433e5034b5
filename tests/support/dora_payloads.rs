//! GitHub-shaped `deployment`, `deployment_status`, `workflow_run` and
//! `issues` payloads, and merged pull requests with their merge commit,
//! for the DORA tests: the keys and value types of the real examples in
//! `../shared/fixtures/github/{deployment,deployment_status,workflow_run,
//! issues}` (checked by `github_fixtures.rs`), for timelines no fixture has.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::{Delivery, Person, PullRequestBuilder, Repo};

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn repository(repo: &Repo) -> Value {
    let (owner, name) = repo.full_name.split_once('/').unwrap();
    json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": name,
        "full_name": repo.full_name,
        "private": false,
        "owner": {"login": owner, "id": repo.id * 10, "type": "Organization", "site_admin": false},
        "html_url": format!("https://github.com/{}", repo.full_name),
        "url": format!("https://api.github.com/repos/{}", repo.full_name),
        "default_branch": "main",
    })
}

fn user(person: &Person) -> Value {
    json!({"login": person.login, "id": person.id, "node_id": format!("U_{}", person.id),
           "type": person.kind, "site_admin": false})
}

/// A merged pull request's `closed` delivery with the commit the merge
/// made (squash, rebase or merge commit): `merged` from the project's
/// builder, with `merge_commit_sha` set as GitHub sets it.
pub fn merged_with_commit(
    pull_request: &PullRequestBuilder,
    at: DateTime<Utc>,
    by: &Person,
    merge_commit_sha: &str,
) -> Delivery {
    let mut delivery = pull_request.merged(at, by);
    let mut body: Value = serde_json::from_slice(&delivery.body).unwrap();
    body["pull_request"]["merge_commit_sha"] = json!(merge_commit_sha);
    delivery.body = serde_json::to_vec(&body).unwrap();
    delivery
}

/// One deployment and its statuses.
#[derive(Clone, Debug)]
pub struct DeploymentBuilder {
    pub repo: Repo,
    pub id: i64,
    pub sha: String,
    pub environment: String,
    pub created_at: DateTime<Utc>,
    pub creator: Person,
}

impl DeploymentBuilder {
    pub fn new(
        repo: &Repo,
        id: i64,
        sha: &str,
        environment: &str,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            repo: repo.clone(),
            id,
            sha: sha.to_owned(),
            environment: environment.to_owned(),
            created_at,
            creator: Person::bot(9000, "github-actions[bot]"),
        }
    }

    fn deployment(&self, updated_at: DateTime<Utc>) -> Value {
        let api = format!(
            "https://api.github.com/repos/{}/deployments/{}",
            self.repo.full_name, self.id
        );
        json!({
            "url": api,
            "id": self.id,
            "node_id": format!("DE_{}", self.id),
            "sha": self.sha,
            "ref": "main",
            "task": "deploy",
            "payload": {},
            "original_environment": self.environment,
            "environment": self.environment,
            "description": null,
            "creator": user(&self.creator),
            "created_at": time(self.created_at),
            "updated_at": time(updated_at),
            "statuses_url": format!("{api}/statuses"),
            "repository_url": format!("https://api.github.com/repos/{}", self.repo.full_name),
        })
    }

    /// The `deployment` delivery (`created`).
    pub fn created(&self) -> Delivery {
        Delivery::new(
            "deployment",
            &json!({
                "action": "created",
                "deployment": self.deployment(self.created_at),
                "repository": repository(&self.repo),
                "sender": user(&self.creator),
            }),
        )
    }

    /// A `deployment_status` delivery: `state` is `success`, `failure`,
    /// `error`, `in_progress`, `inactive`, …
    pub fn status(&self, status_id: i64, state: &str, at: DateTime<Utc>) -> Delivery {
        let api = format!(
            "https://api.github.com/repos/{}/deployments/{}",
            self.repo.full_name, self.id
        );
        Delivery::new(
            "deployment_status",
            &json!({
                "action": "created",
                "deployment_status": {
                    "url": format!("{api}/statuses/{status_id}"),
                    "id": status_id,
                    "node_id": format!("DES_{status_id}"),
                    "state": state,
                    "creator": user(&self.creator),
                    "description": "",
                    "environment": self.environment,
                    "target_url": "",
                    "created_at": time(at),
                    "updated_at": time(at),
                    "deployment_url": api,
                    "repository_url": format!("https://api.github.com/repos/{}", self.repo.full_name),
                },
                "deployment": self.deployment(at),
                "repository": repository(&self.repo),
                "sender": user(&self.creator),
            }),
        )
    }
}

/// One workflow run (and its re-run attempts).
#[derive(Clone, Debug)]
pub struct WorkflowRunBuilder {
    pub repo: Repo,
    pub id: i64,
    pub path: String,
    pub branch: String,
    pub sha: String,
    pub created_at: DateTime<Utc>,
}

impl WorkflowRunBuilder {
    pub fn new(
        repo: &Repo,
        id: i64,
        path: &str,
        branch: &str,
        sha: &str,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            repo: repo.clone(),
            id,
            path: path.to_owned(),
            branch: branch.to_owned(),
            sha: sha.to_owned(),
            created_at,
        }
    }

    fn event(
        &self,
        action: &str,
        status: &str,
        conclusion: Option<&str>,
        attempt: i64,
        at: DateTime<Utc>,
    ) -> Delivery {
        let api = format!(
            "https://api.github.com/repos/{}/actions/runs/{}",
            self.repo.full_name, self.id
        );
        let name = self.path.rsplit('/').next().unwrap_or_default().to_owned();
        Delivery::new(
            "workflow_run",
            &json!({
                "action": action,
                "workflow": {
                    "id": self.id / 100,
                    "name": name,
                    "path": self.path,
                    "state": "active",
                    "created_at": "2026-01-05T09:00:00.000Z",
                    "updated_at": "2026-01-05T09:00:00.000Z",
                },
                "workflow_run": {
                    "id": self.id,
                    "name": name,
                    "node_id": format!("WFR_{}", self.id),
                    "path": self.path,
                    "head_branch": self.branch,
                    "head_sha": self.sha,
                    "event": "push",
                    "status": status,
                    "conclusion": conclusion,
                    "run_number": self.id % 1000,
                    "run_attempt": attempt,
                    "run_started_at": time(self.created_at),
                    "created_at": time(self.created_at),
                    "updated_at": time(at),
                    "pull_requests": [],
                    "url": api,
                    "html_url": format!("https://github.com/{}/actions/runs/{}", self.repo.full_name, self.id),
                    "previous_attempt_url": null,
                },
                "repository": repository(&self.repo),
                "sender": user(&Person::user(1, "ada")),
            }),
        )
    }

    pub fn requested(&self) -> Delivery {
        self.event("requested", "queued", None, 1, self.created_at)
    }

    /// `conclusion`: `success`, `failure`, `cancelled`, …
    pub fn completed(&self, attempt: i64, conclusion: &str, at: DateTime<Utc>) -> Delivery {
        self.event("completed", "completed", Some(conclusion), attempt, at)
    }
}

/// One issue's life.
#[derive(Clone, Debug)]
pub struct IssueBuilder {
    pub repo: Repo,
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub author: Person,
    pub created_at: DateTime<Utc>,
}

impl IssueBuilder {
    pub fn new(repo: &Repo, number: i64, title: &str, created_at: DateTime<Utc>) -> Self {
        Self {
            repo: repo.clone(),
            id: repo.id * 1_000_000 + number,
            number,
            title: title.to_owned(),
            author: Person::user(2, "grace"),
            created_at,
        }
    }

    fn event(
        &self,
        action: &str,
        labels: &[&str],
        label: Option<&str>,
        closed_at: Option<DateTime<Utc>>,
        state: &str,
        at: DateTime<Utc>,
    ) -> Delivery {
        let label_json = |name: &str| {
            json!({"id": name.len() as i64 * 1_000 + 7, "node_id": format!("LA_{name}"),
                   "url": format!("https://api.github.com/repos/{}/labels/{name}", self.repo.full_name),
                   "name": name, "color": "d73a4a", "default": false, "description": null})
        };
        let mut body = json!({
            "action": action,
            "issue": {
                "url": format!("https://api.github.com/repos/{}/issues/{}", self.repo.full_name, self.number),
                "id": self.id,
                "node_id": format!("I_{}", self.id),
                "number": self.number,
                "title": self.title,
                "user": user(&self.author),
                "labels": labels.iter().map(|name| label_json(name)).collect::<Vec<_>>(),
                "state": state,
                "locked": false,
                "assignee": null,
                "assignees": [],
                "milestone": null,
                "comments": 0,
                "created_at": time(self.created_at),
                "updated_at": time(at),
                "closed_at": closed_at.map(time),
                "author_association": "MEMBER",
                "active_lock_reason": null,
                "body": "Checkout fails for every customer.",
            },
            "repository": repository(&self.repo),
            "sender": user(&self.author),
        });
        if let Some(label) = label {
            body["label"] = label_json(label);
        }
        Delivery::new("issues", &body)
    }

    pub fn opened(&self, labels: &[&str]) -> Delivery {
        self.event("opened", labels, None, None, "open", self.created_at)
    }

    /// `labels` as the payload lists them after the change.
    pub fn labeled(&self, label: &str, labels: &[&str], at: DateTime<Utc>) -> Delivery {
        self.event("labeled", labels, Some(label), None, "open", at)
    }

    /// GitHub has been seen to still list the removed label in `labels`.
    pub fn unlabeled(&self, label: &str, labels: &[&str], at: DateTime<Utc>) -> Delivery {
        self.event("unlabeled", labels, Some(label), None, "open", at)
    }

    pub fn closed(&self, labels: &[&str], at: DateTime<Utc>) -> Delivery {
        self.event("closed", labels, None, Some(at), "closed", at)
    }

    /// A reopened issue keeps its old `closed_at`, as GitHub's example does.
    pub fn reopened(
        &self,
        labels: &[&str],
        closed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Delivery {
        self.event("reopened", labels, None, Some(closed_at), "open", at)
    }
}
