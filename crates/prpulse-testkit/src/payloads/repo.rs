//! A repository as GitHub shows it in a payload, and the deliveries made
//! on it.

use super::*;

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

    pub(super) fn json(&self) -> Value {
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

    /// The repository object as GitHub sends it, every URL template and
    /// counter included: what makes real deliveries 20-30 KB.
    pub(super) fn full_json(&self) -> Value {
        let mut repo = self.json();
        let api = format!("https://api.github.com/repos/{}", self.full_name);
        let object = repo.as_object_mut().unwrap();
        object.insert(
            "owner".into(),
            Person::organization(self.id * 10, self.full_name.split_once('/').unwrap().0)
                .full_json(),
        );
        for (key, path) in [
            ("forks_url", "/forks"),
            ("keys_url", "/keys{/key_id}"),
            ("collaborators_url", "/collaborators{/collaborator}"),
            ("teams_url", "/teams"),
            ("hooks_url", "/hooks"),
            ("issue_events_url", "/issues/events{/number}"),
            ("events_url", "/events"),
            ("assignees_url", "/assignees{/user}"),
            ("branches_url", "/branches{/branch}"),
            ("tags_url", "/tags"),
            ("blobs_url", "/git/blobs{/sha}"),
            ("git_tags_url", "/git/tags{/sha}"),
            ("git_refs_url", "/git/refs{/sha}"),
            ("trees_url", "/git/trees{/sha}"),
            ("statuses_url", "/statuses/{sha}"),
            ("languages_url", "/languages"),
            ("stargazers_url", "/stargazers"),
            ("contributors_url", "/contributors"),
            ("subscribers_url", "/subscribers"),
            ("subscription_url", "/subscription"),
            ("commits_url", "/commits{/sha}"),
            ("git_commits_url", "/git/commits{/sha}"),
            ("comments_url", "/comments{/number}"),
            ("issue_comment_url", "/issues/comments{/number}"),
            ("contents_url", "/contents/{+path}"),
            ("compare_url", "/compare/{base}...{head}"),
            ("merges_url", "/merges"),
            ("archive_url", "/{archive_format}{/ref}"),
            ("downloads_url", "/downloads"),
            ("issues_url", "/issues{/number}"),
            ("pulls_url", "/pulls{/number}"),
            ("milestones_url", "/milestones{/number}"),
            (
                "notifications_url",
                "/notifications{?since,all,participating}",
            ),
            ("labels_url", "/labels{/name}"),
            ("releases_url", "/releases{/id}"),
            ("deployments_url", "/deployments"),
        ] {
            object.insert(key.into(), json!(format!("{api}{path}")));
        }
        let extra = json!({
            "description": format!("The {} service", self.full_name),
            "fork": false,
            "url": api,
            "created_at": "2019-05-15T15:19:25Z",
            "updated_at": "2026-01-05T09:00:00Z",
            "pushed_at": "2026-01-05T09:00:00Z",
            "git_url": format!("git://github.com/{}.git", self.full_name),
            "ssh_url": format!("git@github.com:{}.git", self.full_name),
            "clone_url": format!("https://github.com/{}.git", self.full_name),
            "svn_url": format!("https://github.com/{}", self.full_name),
            "homepage": null,
            "size": 4096,
            "stargazers_count": 42,
            "watchers_count": 42,
            "language": "Rust",
            "has_issues": true,
            "has_projects": true,
            "has_downloads": true,
            "has_wiki": true,
            "has_pages": false,
            "forks_count": 3,
            "mirror_url": null,
            "archived": false,
            "disabled": false,
            "open_issues_count": 7,
            "license": null,
            "forks": 3,
            "open_issues": 7,
            "watchers": 42,
            "is_template": false,
            "topics": [],
            "visibility": "public",
            "web_commit_signoff_required": false,
            "custom_properties": {},
        });
        object.extend(extra.as_object().unwrap().clone());
        repo
    }
}
