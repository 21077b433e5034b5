//! The payloads the DORA keys come from: `deployment`, `deployment_status`,
//! `workflow_run` and `issues`. Lenient where GitHub's examples differ
//! (`production_environment` absent, `workflow_run.path` null, a run that
//! says `completed` while its status is still `queued`).

use prpulse_domain::IssueAction;
use serde::Deserialize;

use crate::payload::{Repository, Timestamp};

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    pub id: i64,
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    pub environment: String,
    /// Set by Actions environments and newer integrations; absent in
    /// older payloads.
    #[serde(default)]
    pub production_environment: Option<bool>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// A `deployment` delivery (`created`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeploymentEvent {
    pub action: String,
    pub deployment: Deployment,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeploymentStatus {
    pub id: i64,
    /// `success`, `failure`, `error`, `inactive`, `in_progress`, `queued`,
    /// `pending`.
    pub state: String,
    pub created_at: Timestamp,
}

/// A `deployment_status` delivery: the status and its deployment.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeploymentStatusEvent {
    pub action: String,
    pub deployment_status: DeploymentStatus,
    pub deployment: Deployment,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    /// `.github/workflows/deploy.yml`; null in some payloads (the
    /// top-level `workflow.path` has it then).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub run_attempt: Option<i64>,
    #[serde(default)]
    pub run_started_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Workflow {
    #[serde(default)]
    pub path: Option<String>,
}

/// A `workflow_run` delivery (`requested`, `in_progress`, `completed`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct WorkflowRunEvent {
    pub action: String,
    pub workflow_run: WorkflowRun,
    #[serde(default)]
    pub workflow: Option<Workflow>,
    pub repository: Repository,
}

impl WorkflowRunEvent {
    /// The workflow file's path, from the run or else the workflow.
    pub fn workflow_path(&self) -> Option<&str> {
        self.workflow_run
            .path
            .as_deref()
            .or_else(|| self.workflow.as_ref()?.path.as_deref())
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Label {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Issue {
    pub id: i64,
    pub number: i64,
    #[serde(default)]
    pub title: Option<String>,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    /// Present when the "issue" is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

/// An `issues` delivery.
#[derive(Clone, Debug, Deserialize)]
pub struct IssuesEvent {
    pub action: String,
    pub issue: Issue,
    /// The label a `labeled` / `unlabeled` delivery added or removed.
    #[serde(default)]
    pub label: Option<Label>,
    pub repository: Repository,
}

impl IssuesEvent {
    pub fn issue_action(&self) -> IssueAction {
        IssueAction::parse(&self.action)
    }

    /// The issue's labels after this delivery. An `unlabeled` payload has
    /// been seen to still list the label it removed, so that one is taken
    /// out; a `labeled` one is put in whatever the list says.
    pub fn labels_after(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .issue
            .labels
            .iter()
            .map(|label| label.name.clone())
            .collect();
        match (self.issue_action(), &self.label) {
            (IssueAction::Unlabeled, Some(label)) => labels.retain(|name| *name != label.name),
            (IssueAction::Labeled, Some(label)) if !labels.contains(&label.name) => {
                labels.push(label.name.clone());
            }
            _ => {}
        }
        labels.sort();
        labels.dedup();
        labels
    }

    /// When the issue was resolved: its `closed_at` while it is closed (a
    /// reopened issue keeps its old `closed_at`).
    pub fn resolved_at(&self) -> Option<Timestamp> {
        (self.issue.state == "closed")
            .then_some(self.issue.closed_at)
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(action: &str, labels: &[&str], label: Option<&str>, state: &str) -> IssuesEvent {
        serde_json::from_value(json!({
            "action": action,
            "issue": {"id": 1, "number": 1, "state": state,
                      "labels": labels.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
                      "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:10:00Z",
                      "closed_at": "2026-01-05T09:05:00Z"},
            "label": label.map(|name| json!({"name": name})),
            "repository": {"id": 5, "full_name": "acme/api"}
        }))
        .unwrap()
    }

    #[test]
    fn an_unlabeled_payload_that_still_lists_the_label_loses_it() {
        let event = issues("unlabeled", &["bug", "incident"], Some("incident"), "open");
        assert_eq!(event.labels_after(), ["bug"]);
        let event = issues("labeled", &["bug"], Some("incident"), "open");
        assert_eq!(event.labels_after(), ["bug", "incident"]);
    }

    #[test]
    fn a_reopened_issue_is_not_resolved_by_its_old_closed_at() {
        assert_eq!(issues("reopened", &[], None, "open").resolved_at(), None);
        assert!(
            issues("closed", &[], None, "closed")
                .resolved_at()
                .is_some()
        );
    }

    #[test]
    fn the_workflow_path_falls_back_to_the_workflow_object() {
        let event: WorkflowRunEvent = serde_json::from_value(json!({
            "action": "completed",
            "workflow": {"path": ".github/workflows/deploy.yml"},
            "workflow_run": {"id": 9, "path": null, "head_sha": "abc", "status": "queued",
                             "conclusion": null, "created_at": "2021-12-16T19:37:22Z",
                             "updated_at": "2021-12-16T19:37:22.000Z"},
            "repository": {"id": 5, "full_name": "acme/api"}
        }))
        .unwrap();
        assert_eq!(event.workflow_path(), Some(".github/workflows/deploy.yml"));
    }
}
