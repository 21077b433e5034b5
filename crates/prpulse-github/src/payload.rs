//! The parts of GitHub's webhook payloads that prpulse projects.
//!
//! Fields are as lenient as real payloads demand: old deliveries lack
//! `draft`, review payloads carry a reduced pull request without `merged`
//! or sizes, and deleted accounts appear as `null` users.

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub type Timestamp = DateTime<Utc>;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Repository {
    pub id: i64,
    pub full_name: String,
    /// Absent from some reduced repository objects.
    #[serde(default)]
    pub default_branch: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct BranchRef {
    #[serde(rename = "ref")]
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PullRequest {
    pub id: i64,
    pub number: i64,
    pub user: Option<User>,
    #[serde(default)]
    pub title: Option<String>,
    /// Read only for the Jira issue keys it names.
    #[serde(default)]
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub draft: Option<bool>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    #[serde(default)]
    pub merged_at: Option<Timestamp>,
    #[serde(default)]
    pub additions: Option<i64>,
    #[serde(default)]
    pub deletions: Option<i64>,
    #[serde(default)]
    pub changed_files: Option<i64>,
    #[serde(default)]
    pub head: Option<BranchRef>,
    #[serde(default)]
    pub base: Option<BranchRef>,
    /// Once merged, the commit the merge made on the base branch (the
    /// squash or rebase commit, or the merge commit); before that a test
    /// merge GitHub recomputes, which prpulse never reads.
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

impl PullRequest {
    /// Review payloads carry a reduced pull request: no sizes, no `merged`.
    pub fn has_sizes(&self) -> bool {
        self.additions.is_some() && self.deletions.is_some() && self.changed_files.is_some()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Review {
    pub id: i64,
    pub user: Option<User>,
    pub state: String,
    #[serde(default)]
    pub submitted_at: Option<Timestamp>,
}

/// A `pull_request` delivery.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: String,
    pub pull_request: PullRequest,
    pub repository: Repository,
}

/// A `pull_request_review` delivery.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PullRequestReviewEvent {
    pub action: String,
    pub review: Review,
    pub pull_request: PullRequest,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Organization {
    pub login: String,
}

/// A team as `team` and `membership` payloads carry it; a deleted team
/// comes as only `id`, `name` and `deleted: true`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

/// A `team` delivery (organisation hooks).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TeamEvent {
    pub action: String,
    pub team: Team,
    pub organization: Organization,
}

/// A `membership` delivery (organisation hooks): someone joined or left a team.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct MembershipEvent {
    pub action: String,
    pub member: User,
    pub team: Team,
    pub organization: Organization,
}

/// Only the top-level `action`, which ingest puts in the routing key.
#[derive(Debug, Deserialize)]
pub struct ActionOnly {
    #[serde(default)]
    pub action: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: i64, login: &str) -> serde_json::Value {
        json!({"id": id, "login": login, "type": "User", "site_admin": false})
    }

    #[test]
    fn parses_a_pull_request_event_and_ignores_unknown_fields() {
        let body = json!({
            "action": "opened",
            "number": 7,
            "pull_request": {
                "id": 11, "number": 7, "user": user(1, "ada"), "title": "Add x",
                "state": "open", "draft": true,
                "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:00:00Z",
                "closed_at": null, "merged_at": null,
                "additions": 3, "deletions": 1, "changed_files": 2,
                "head": {"ref": "feature", "sha": "abc"}, "base": {"ref": "main"},
                "labels": []
            },
            "repository": {"id": 5, "full_name": "acme/api", "created_at": 1_700_000_000},
            "sender": user(1, "ada")
        });
        let event: PullRequestEvent = serde_json::from_value(body).unwrap();
        assert_eq!(event.action, "opened");
        assert_eq!(event.pull_request.draft, Some(true));
        assert_eq!(event.pull_request.head.as_ref().unwrap().name, "feature");
        assert_eq!(event.repository.full_name, "acme/api");
        assert!(event.pull_request.has_sizes());
    }

    #[test]
    fn reduced_pull_request_and_ghost_reviewer_parse() {
        let body = json!({
            "action": "submitted",
            "review": {"id": 3, "user": null, "state": "approved",
                       "submitted_at": "2026-01-05T10:00:00Z"},
            "pull_request": {"id": 11, "number": 7, "user": user(1, "ada"), "state": "open",
                             "created_at": "2026-01-05T09:00:00Z"},
            "repository": {"id": 5, "full_name": "acme/api"}
        });
        let event: PullRequestReviewEvent = serde_json::from_value(body).unwrap();
        assert_eq!(event.review.user, None);
        assert!(!event.pull_request.has_sizes());
        assert_eq!(event.pull_request.draft, None);
    }

    #[test]
    fn a_wrong_shape_is_an_error_not_a_default() {
        let body = json!({"action": "opened", "pull_request": {"id": "eleven"}});
        assert!(serde_json::from_value::<PullRequestEvent>(body).is_err());
    }
}
