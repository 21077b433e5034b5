//! A pull request's history, built step by step, each step a delivery as
//! GitHub sends it (`pull_request` and `pull_request_review`).

use super::*;

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
    /// Payloads in GitHub's full shape (every URL field, head and base
    /// repositories, `_links`): 15-25 KB like real deliveries, for
    /// benchmarks. Off by default: tests want small payloads.
    pub github_sized: bool,
}

struct PrState {
    state: &'static str,
    draft: bool,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    merged_at: Option<DateTime<Utc>>,
    merged_by: Option<Person>,
}

/// What a review payload's reduced pull request shows: the pull request as
/// it was when the review was submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrShown {
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub draft: bool,
}

impl PrShown {
    pub const OPEN: Self = Self {
        closed_at: None,
        merged_at: None,
        draft: false,
    };
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
            github_sized: false,
        }
    }

    pub fn github_sized(mut self) -> Self {
        self.github_sized = true;
        self
    }

    fn person(&self, person: &Person) -> Value {
        if self.github_sized {
            person.full_json()
        } else {
            person.json()
        }
    }

    fn repo_json(&self) -> Value {
        if self.github_sized {
            self.repo.full_json()
        } else {
            self.repo.json()
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

    /// `state` as webhooks spell it: `approved`, `changes_requested`,
    /// `commented`. The pull request shows as open and ready.
    pub fn review(
        &self,
        review_id: i64,
        reviewer: &Person,
        state: &str,
        at: DateTime<Utc>,
    ) -> Delivery {
        self.review_event("submitted", review_id, reviewer, state, at, PrShown::OPEN)
    }

    /// A review of the pull request as `shown` (closed, merged, a draft),
    /// as GitHub's reduced copy would show it then.
    pub fn review_of(
        &self,
        shown: PrShown,
        review_id: i64,
        reviewer: &Person,
        state: &str,
        at: DateTime<Utc>,
    ) -> Delivery {
        self.review_event("submitted", review_id, reviewer, state, at, shown)
    }

    /// A dismissal keeps the original `submitted_at`, as GitHub does.
    pub fn review_dismissed(
        &self,
        review_id: i64,
        reviewer: &Person,
        submitted_at: DateTime<Utc>,
    ) -> Delivery {
        self.review_event(
            "dismissed",
            review_id,
            reviewer,
            "dismissed",
            submitted_at,
            PrShown::OPEN,
        )
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
            "merged_by": state.merged_by.as_ref().map(|by| self.person(by)),
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
                "repository": self.repo_json(),
                "sender": self.person(&self.author),
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
        shown: PrShown,
    ) -> Delivery {
        let pr_state = PrState {
            state: if shown.closed_at.is_some() {
                "closed"
            } else {
                "open"
            },
            closed_at: shown.closed_at,
            merged_at: shown.merged_at,
            ..self.open_state(at.max(self.created_at), shown.draft)
        };
        let mut review = json!({
                    "id": review_id,
                    "node_id": format!("PRR_{review_id}"),
                    "user": self.person(reviewer),
                    "body": null,
                    "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                    "submitted_at": time(at),
                    "state": state,
                    "author_association": "MEMBER",
        });
        if self.github_sized {
            let html = format!(
                "https://github.com/{}/pull/{}",
                self.repo.full_name, self.number
            );
            let extra = json!({
                "body": "Looks good overall; a few naming nits inline.",
                "html_url": format!("{html}#pullrequestreview-{review_id}"),
                "pull_request_url": self.api_url(),
                "_links": {
                    "html": {"href": format!("{html}#pullrequestreview-{review_id}")},
                    "pull_request": {"href": self.api_url()},
                },
            });
            review
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
        }
        Delivery::new(
            "pull_request_review",
            &json!({
                "action": action,
                "review": review,
                "pull_request": self.reduced_json(&pr_state),
                "repository": self.repo_json(),
                "sender": self.person(reviewer),
            }),
        )
    }

    fn api_url(&self) -> String {
        format!(
            "https://api.github.com/repos/{}/pulls/{}",
            self.repo.full_name, self.number
        )
    }

    /// What GitHub adds to the pull request object beyond what prpulse reads.
    fn github_sized_extra(&self) -> Value {
        let html = format!(
            "https://github.com/{}/pull/{}",
            self.repo.full_name, self.number
        );
        let api = self.api_url();
        let issue = format!(
            "https://api.github.com/repos/{}/issues/{}",
            self.repo.full_name, self.number
        );
        let branch = |name: String, sha: &str| {
            json!({
                "label": format!("{}:{name}", self.repo.full_name.split_once('/').unwrap().0),
                "ref": name,
                "sha": sha,
                "user": self.person(&self.author),
                "repo": self.repo.full_json(),
            })
        };
        json!({
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "issue_url": issue,
            "body": "This change reworks the request path so that deliveries are \
                     verified once and published without a copy. It also adds tests \
                     for the slow paths and documents the new settings.",
            "assignee": null,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [],
            "milestone": null,
            "commits_url": format!("{api}/commits"),
            "review_comments_url": format!("{api}/comments"),
            "review_comment_url": format!(
                "https://api.github.com/repos/{}/pulls/comments{{/number}}",
                self.repo.full_name
            ),
            "comments_url": format!("{issue}/comments"),
            "statuses_url": format!(
                "https://api.github.com/repos/{}/statuses/ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                self.repo.full_name
            ),
            "head": branch(format!("change-{}", self.number), "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            "base": branch("main".to_owned(), "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
            "_links": {
                "self": {"href": api},
                "html": {"href": html},
                "issue": {"href": issue},
                "comments": {"href": format!("{issue}/comments")},
                "review_comments": {"href": format!("{api}/comments")},
                "review_comment": {"href": format!(
                    "https://api.github.com/repos/{}/pulls/comments{{/number}}",
                    self.repo.full_name
                )},
                "commits": {"href": format!("{api}/commits")},
                "statuses": {"href": format!(
                    "https://api.github.com/repos/{}/statuses/ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                    self.repo.full_name
                )},
            },
            "auto_merge": null,
            "active_lock_reason": null,
        })
    }

    /// The pull request object as review payloads carry it: no `merged`,
    /// no sizes.
    fn reduced_json(&self, state: &PrState) -> Value {
        let mut pull_request = json!({
            "url": format!("https://api.github.com/repos/{}/pulls/{}", self.repo.full_name, self.number),
            "id": self.id,
            "node_id": format!("PR_{}", self.id),
            "number": self.number,
            "state": state.state,
            "locked": false,
            "title": self.title,
            "user": self.person(&self.author),
            "body": null,
            "created_at": time(self.created_at),
            "updated_at": time(state.updated_at),
            "closed_at": state.closed_at.map(time),
            "merged_at": state.merged_at.map(time),
            "draft": state.draft,
            "head": {"ref": format!("change-{}", self.number), "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
            "base": {"ref": "main", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"},
            "author_association": "MEMBER",
        });
        if self.github_sized {
            pull_request
                .as_object_mut()
                .unwrap()
                .extend(self.github_sized_extra().as_object().unwrap().clone());
        }
        pull_request
    }
}
