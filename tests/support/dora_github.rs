//! The parts of GitHub's REST API the DORA link job and the deployments
//! backfill call, in GitHub's shapes (wiremock): compare
//! (`/repos/{o}/{r}/compare/{base}...{head}`, paged with `per_page` and
//! `page`, `total_commits` over all pages; unknown commits 404 as GitHub
//! answers), a pull request's commits (`/pulls/{n}/commits`, `Link`
//! pages), and deployments with their statuses. Every request is
//! recorded, so a test can tell what was asked twice.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};
use prpulse_github_api::{ClientSettings, Credentials, GitHubClient};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

/// A deployment as GitHub lists it, with its statuses.
type DeploymentWithStatuses = (Value, Vec<Value>);
/// A commit's sha and author date.
type Commit = (String, DateTime<Utc>);

#[derive(Default)]
struct State {
    /// (repository, base, head) → the commits head has that base has not.
    comparisons: BTreeMap<(String, String, String), Vec<String>>,
    /// (repository, number) → (sha, author date), oldest first.
    pull_commits: BTreeMap<(String, i64), Vec<Commit>>,
    /// repository → deployments (newest first) with their statuses.
    deployments: BTreeMap<String, Vec<DeploymentWithStatuses>>,
    requests: Vec<String>,
}

#[derive(Clone)]
pub struct FakeDoraGitHub {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl FakeDoraGitHub {
    pub async fn start() -> Self {
        let server = Arc::new(MockServer::start().await);
        Self::mount_on(server).await
    }

    /// Serves the DORA endpoints on `server` too (e.g. a `FakeGitHub`'s),
    /// ahead of its other mocks.
    pub async fn mount_on(server: Arc<MockServer>) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(path_regex(
            r"^/repos/[^/]+/[^/]+/(compare/[^/]+|pulls/\d+/commits|deployments(/\d+/statuses)?)$",
        ))
        .respond_with(Endpoints(state.clone()))
        .with_priority(1)
        .mount(&server)
        .await;
        Self { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A client of this fake, as the scheduler builds one.
    pub fn client(&self) -> GitHubClient {
        GitHubClient::new(ClientSettings {
            base_url: self.uri(),
            credentials: Credentials::Token(secrecy::SecretString::from("ghp_dora")),
            timeout: Duration::from_secs(10),
            max_rate_limit_wait: Duration::from_secs(5),
        })
        .unwrap()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn set_comparison(&self, repo: &str, base: &str, head: &str, commits: &[&str]) {
        self.state().comparisons.insert(
            (repo.to_owned(), base.to_owned(), head.to_owned()),
            commits.iter().map(|sha| (*sha).to_owned()).collect(),
        );
    }

    pub fn set_pull_commits(&self, repo: &str, number: i64, commits: &[(&str, DateTime<Utc>)]) {
        self.state().pull_commits.insert(
            (repo.to_owned(), number),
            commits
                .iter()
                .map(|(sha, at)| ((*sha).to_owned(), *at))
                .collect(),
        );
    }

    /// A deployment as `GET /repos/{repo}/deployments` lists it, with its
    /// statuses (each `{id, state, created_at}` becomes GitHub's object).
    pub fn add_deployment(
        &self,
        repo: &str,
        id: i64,
        sha: &str,
        environment: &str,
        created_at: DateTime<Utc>,
        statuses: &[(i64, &str, DateTime<Utc>)],
    ) {
        let api = format!("https://api.github.com/repos/{repo}/deployments/{id}");
        let deployment = json!({
            "url": api, "id": id, "node_id": format!("DE_{id}"), "sha": sha, "ref": "main",
            "task": "deploy", "payload": {}, "original_environment": environment,
            "environment": environment, "description": null,
            "creator": {"login": "github-actions[bot]", "id": 9000, "type": "Bot", "site_admin": false},
            "created_at": stamp(created_at), "updated_at": stamp(created_at),
            "statuses_url": format!("{api}/statuses"),
            "repository_url": format!("https://api.github.com/repos/{repo}"),
            "transient_environment": false, "production_environment": environment == "production",
        });
        let statuses = statuses
            .iter()
            .rev()
            .map(|(status_id, state, at)| {
                json!({
                    "url": format!("{api}/statuses/{status_id}"), "id": status_id,
                    "node_id": format!("DES_{status_id}"), "state": state,
                    "creator": {"login": "github-actions[bot]", "id": 9000, "type": "Bot", "site_admin": false},
                    "description": "", "environment": environment, "target_url": "",
                    "log_url": "", "environment_url": "",
                    "created_at": stamp(*at), "updated_at": stamp(*at),
                    "deployment_url": api,
                    "repository_url": format!("https://api.github.com/repos/{repo}"),
                })
            })
            .collect();
        let mut state = self.state();
        let list = state.deployments.entry(repo.to_owned()).or_default();
        list.push((deployment, statuses));
        list.sort_by(|a, b| b.0["created_at"].as_str().cmp(&a.0["created_at"].as_str()));
    }

    /// Every request path (with its query) served so far.
    pub fn requests(&self) -> Vec<String> {
        self.state().requests.clone()
    }

    /// How many compare requests named `base...head`.
    pub fn compares(&self, base: &str, head: &str) -> usize {
        let needle = format!("/compare/{base}...{head}?");
        self.requests()
            .iter()
            .filter(|path| path.contains(&needle))
            .count()
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A commit as compare and `pulls/{n}/commits` list it.
fn commit_json(repo: &str, sha: &str, at: DateTime<Utc>) -> Value {
    let api = format!("https://api.github.com/repos/{repo}");
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "commit": {
            "author": {"name": "Ada", "email": "ada@example.com", "date": stamp(at)},
            "committer": {"name": "GitHub", "email": "noreply@github.com",
                          "date": stamp(at + chrono::Duration::hours(1))},
            "message": format!("Change {sha}"),
            "tree": {"sha": format!("{sha}-tree"), "url": format!("{api}/git/trees/{sha}-tree")},
            "url": format!("{api}/git/commits/{sha}"),
            "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null},
        },
        "url": format!("{api}/commits/{sha}"),
        "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "comments_url": format!("{api}/commits/{sha}/comments"),
        "author": {"login": "ada", "id": 1, "type": "User", "site_admin": false},
        "committer": {"login": "web-flow", "id": 19864447, "type": "User", "site_admin": false},
        "parents": [],
    })
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/commits/commits#compare-two-commits",
        "status": "404"
    }))
}

fn page_of(request: &Request) -> (usize, usize) {
    let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    let per_page = query
        .get("per_page")
        .and_then(|n| n.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

/// A `Link`-paged list, as GitHub pages lists.
fn linked_page(request: &Request, items: &[Value]) -> ResponseTemplate {
    let (per_page, page) = page_of(request);
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut response = ResponseTemplate::new(200).set_body_json(Value::Array(slice));
    if start + per_page < items.len() {
        let host = request
            .headers
            .get("host")
            .and_then(|host| host.to_str().ok())
            .unwrap_or("localhost");
        let next = format!(
            "http://{host}{}?per_page={per_page}&page={}",
            request.url.path(),
            page + 1
        );
        response = response.insert_header("link", format!("<{next}>; rel=\"next\""));
    }
    response
}

struct Endpoints(Arc<Mutex<State>>);

impl Respond for Endpoints {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let query = request
            .url
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        state
            .requests
            .push(format!("{}{query}", request.url.path()));
        let segments: Vec<&str> = request.url.path().trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["repos", owner, name, "compare", range] => {
                let repo = format!("{owner}/{name}");
                let Some((base, head)) = range.split_once("...") else {
                    return not_found();
                };
                let Some(commits) =
                    state
                        .comparisons
                        .get(&(repo.clone(), base.to_owned(), head.to_owned()))
                else {
                    return not_found();
                };
                let (per_page, page) = page_of(request);
                let at = chrono::DateTime::from_timestamp(1_772_000_000, 0).unwrap();
                let listed: Vec<Value> = commits
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|sha| commit_json(&repo, sha, at))
                    .collect();
                let api = format!("https://api.github.com/repos/{repo}");
                ResponseTemplate::new(200).set_body_json(json!({
                    "url": format!("{api}/compare/{range}"),
                    "html_url": format!("https://github.com/{repo}/compare/{range}"),
                    "permalink_url": format!("https://github.com/{repo}/compare/{range}"),
                    "diff_url": format!("https://github.com/{repo}/compare/{range}.diff"),
                    "patch_url": format!("https://github.com/{repo}/compare/{range}.patch"),
                    "base_commit": commit_json(&repo, base, at),
                    "merge_base_commit": commit_json(&repo, base, at),
                    "status": if commits.is_empty() { "behind" } else { "ahead" },
                    "ahead_by": commits.len(),
                    "behind_by": 0,
                    "total_commits": commits.len(),
                    "commits": listed,
                    "files": [],
                }))
            }
            ["repos", owner, name, "pulls", number, "commits"] => {
                let key = (
                    format!("{owner}/{name}"),
                    number.parse().unwrap_or_default(),
                );
                match state.pull_commits.get(&key) {
                    Some(commits) => {
                        let items: Vec<Value> = commits
                            .iter()
                            .map(|(sha, at)| commit_json(&key.0, sha, *at))
                            .collect();
                        linked_page(request, &items)
                    }
                    None => not_found(),
                }
            }
            ["repos", owner, name, "deployments"] => {
                let items: Vec<Value> = state
                    .deployments
                    .get(&format!("{owner}/{name}"))
                    .map(|list| {
                        list.iter()
                            .map(|(deployment, _)| deployment.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                linked_page(request, &items)
            }
            ["repos", owner, name, "deployments", id, "statuses"] => {
                let id: i64 = id.parse().unwrap_or_default();
                match state
                    .deployments
                    .get(&format!("{owner}/{name}"))
                    .and_then(|list| list.iter().find(|(deployment, _)| deployment["id"] == id))
                {
                    Some((_, statuses)) => linked_page(request, statuses),
                    None => not_found(),
                }
            }
            _ => not_found(),
        }
    }
}
