//! GitHub-shaped webhook payloads built by prpulse's own tests: the same
//! keys and value types GitHub sends (checked against the real fixtures by
//! `github_fixtures.rs`), for histories no fixture covers.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Repo {
    pub id: i64,
    pub full_name: String,
}

impl Repo {
    pub fn new(id: i64, full_name: &str) -> Self {
        Self {
            id,
            full_name: full_name.to_owned(),
        }
    }

    fn json(&self) -> Value {
        let (owner, name) = self.full_name.split_once('/').unwrap();
        json!({
            "id": self.id,
            "node_id": format!("R_{}", self.id),
            "name": name,
            "full_name": self.full_name,
            "private": false,
            "owner": {"login": owner, "id": self.id * 10, "type": "Organization"},
            "html_url": format!("https://github.com/{}", self.full_name),
            "default_branch": "main",
        })
    }
}

#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub login: String,
    pub kind: &'static str,
}

impl Person {
    pub fn user(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            kind: "User",
        }
    }

    pub fn bot(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            kind: "Bot",
        }
    }

    fn json(&self) -> Value {
        json!({
            "login": self.login,
            "id": self.id,
            "node_id": format!("U_{}", self.id),
            "type": self.kind,
            "site_admin": false,
            "html_url": format!("https://github.com/{}", self.login),
        })
    }
}

/// One delivery: what GitHub would post, less the signature (the stack
/// signs with the secret of the ingest it posts to).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event: String,
    pub id: String,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn new(event: &str, payload: &Value) -> Self {
        Self {
            event: event.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            body: serde_json::to_vec(payload).unwrap(),
        }
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The life of one pull request, one delivery per step.
#[derive(Clone, Debug)]
pub struct PullRequestBuilder {
    pub repo: Repo,
    pub number: i64,
    pub id: i64,
    pub author: Person,
    pub created_at: DateTime<Utc>,
    pub title: String,
    pub opened_as_draft: bool,
    pub size: (i64, i64, i64),
}

struct PrState {
    state: &'static str,
    draft: bool,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    merged_at: Option<DateTime<Utc>>,
    merged_by: Option<Person>,
}

fn closed_state(at: DateTime<Utc>, merged_by: Option<&Person>) -> PrState {
    PrState {
        state: "closed",
        draft: false,
        updated_at: at,
        closed_at: Some(at),
        merged_at: merged_by.map(|_| at),
        merged_by: merged_by.cloned(),
    }
}

impl PullRequestBuilder {
    pub fn new(repo: &Repo, number: i64, author: &Person, created_at: DateTime<Utc>) -> Self {
        Self {
            repo: repo.clone(),
            number,
            id: repo.id * 100_000 + number,
            author: author.clone(),
            created_at,
            title: format!("Change number {number}"),
            opened_as_draft: false,
            size: (10, 2, 3),
        }
    }

    pub fn draft(mut self) -> Self {
        self.opened_as_draft = true;
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_owned();
        self
    }

    pub fn size(mut self, additions: i64, deletions: i64, changed_files: i64) -> Self {
        self.size = (additions, deletions, changed_files);
        self
    }

    pub fn opened(&self) -> Delivery {
        self.event(
            "opened",
            self.open_state(self.created_at, self.opened_as_draft),
        )
    }

    pub fn ready_for_review(&self, at: DateTime<Utc>) -> Delivery {
        self.event("ready_for_review", self.open_state(at, false))
    }

    pub fn converted_to_draft(&self, at: DateTime<Utc>) -> Delivery {
        self.event("converted_to_draft", self.open_state(at, true))
    }

    pub fn synchronize(&self, at: DateTime<Utc>) -> Delivery {
        self.event("synchronize", self.open_state(at, false))
    }

    pub fn reopened(&self, at: DateTime<Utc>) -> Delivery {
        self.event("reopened", self.open_state(at, false))
    }

    pub fn closed(&self, at: DateTime<Utc>) -> Delivery {
        self.event("closed", closed_state(at, None))
    }

    pub fn merged(&self, at: DateTime<Utc>, by: &Person) -> Delivery {
        self.event("closed", closed_state(at, Some(by)))
    }

    /// `state` as webhooks spell it: `approved`, `changes_requested`, `commented`.
    pub fn review(
        &self,
        review_id: i64,
        reviewer: &Person,
        state: &str,
        at: DateTime<Utc>,
    ) -> Delivery {
        self.review_event("submitted", review_id, reviewer, state, at)
    }

    /// A dismissal keeps the original `submitted_at`, as GitHub does.
    pub fn review_dismissed(
        &self,
        review_id: i64,
        reviewer: &Person,
        submitted_at: DateTime<Utc>,
    ) -> Delivery {
        self.review_event("dismissed", review_id, reviewer, "dismissed", submitted_at)
    }

    fn open_state(&self, updated_at: DateTime<Utc>, draft: bool) -> PrState {
        PrState {
            state: "open",
            draft,
            updated_at,
            closed_at: None,
            merged_at: None,
            merged_by: None,
        }
    }

    fn event(&self, action: &str, state: PrState) -> Delivery {
        let mut pull_request = self.reduced_json(&state);
        let (additions, deletions, changed_files) = self.size;
        let extra = json!({
            "merged": state.merged_at.is_some(),
            "merged_by": state.merged_by.as_ref().map(Person::json),
            "merge_commit_sha": null,
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": additions,
            "deletions": deletions,
            "changed_files": changed_files,
        });
        pull_request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Delivery::new(
            "pull_request",
            &json!({
                "action": action,
                "number": self.number,
                "pull_request": pull_request,
                "repository": self.repo.json(),
                "sender": self.author.json(),
            }),
        )
    }

    fn review_event(
        &self,
        action: &str,
        review_id: i64,
        reviewer: &Person,
        state: &str,
        at: DateTime<Utc>,
    ) -> Delivery {
        let pr_state = self.open_state(at.max(self.created_at), false);
        Delivery::new(
            "pull_request_review",
            &json!({
                "action": action,
                "review": {
                    "id": review_id,
                    "node_id": format!("PRR_{review_id}"),
                    "user": reviewer.json(),
                    "body": null,
                    "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                    "submitted_at": time(at),
                    "state": state,
                    "author_association": "MEMBER",
                },
                "pull_request": self.reduced_json(&pr_state),
                "repository": self.repo.json(),
                "sender": reviewer.json(),
            }),
        )
    }

    /// The pull request object as review payloads carry it: no `merged`,
    /// no sizes.
    fn reduced_json(&self, state: &PrState) -> Value {
        json!({
            "url": format!("https://api.github.com/repos/{}/pulls/{}", self.repo.full_name, self.number),
            "id": self.id,
            "node_id": format!("PR_{}", self.id),
            "number": self.number,
            "state": state.state,
            "locked": false,
            "title": self.title,
            "user": self.author.json(),
            "body": null,
            "created_at": time(self.created_at),
            "updated_at": time(state.updated_at),
            "closed_at": state.closed_at.map(time),
            "merged_at": state.merged_at.map(time),
            "draft": state.draft,
            "head": {"ref": format!("change-{}", self.number), "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
            "base": {"ref": "main", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"},
            "author_association": "MEMBER",
        })
    }
}

/// A `membership` event as an organisation hook posts it: `member` was
/// added to (or removed from) team `team_id`/`slug` of `org`.
pub fn membership(
    action: &str,
    org: &Person,
    team_id: i64,
    slug: &str,
    member: &Person,
) -> Delivery {
    Delivery::new(
        "membership",
        &json!({
            "action": action,
            "scope": "team",
            "member": member.json(),
            "sender": member.json(),
            "team": {
                "name": slug, "id": team_id, "node_id": format!("T_{team_id}"), "slug": slug,
                "description": null, "privacy": "closed", "permission": "pull",
                "url": format!("https://api.github.com/teams/{team_id}"),
                "html_url": format!("https://github.com/orgs/{}/teams/{slug}", org.login),
            },
            "organization": {
                "login": org.login, "id": org.id, "node_id": format!("O_{}", org.id),
                "url": format!("https://api.github.com/orgs/{}", org.login),
                "hooks_url": format!("https://api.github.com/orgs/{}/hooks", org.login),
                "description": null,
            },
        }),
    )
}
