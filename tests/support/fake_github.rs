//! A fake of GitHub's repository-hooks API (wiremock) with the state a
//! real one keeps: hooks created, read, patched and deleted, with the
//! shapes, status codes and messages of GitHub's REST docs. It remembers
//! each hook's secret, so a test can sign deliveries as GitHub would.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

#[derive(Default)]
struct State {
    /// Hooks by id, with the repository they belong to.
    hooks: BTreeMap<i64, (String, Value)>,
    /// Each hook's secret as last sent (GitHub shows it masked).
    secrets: BTreeMap<i64, String>,
    next_id: i64,
    /// When set, creating a hook answers 403 as for a token without
    /// `admin:repo_hook`.
    without_hook_scope: bool,
    tokens_seen: Vec<String>,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next_id: 12_345_678,
            ..State::default()
        }));
        Mock::given(path_regex(r"^/repos/[^/]+/[^/]+/hooks(/\d+)?$"))
            .respond_with(Hooks(state.clone()))
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The hooks of `repo` (`owner/name`), as GitHub would list them.
    pub fn hooks(&self, repo: &str) -> Vec<Value> {
        self.state()
            .hooks
            .values()
            .filter(|(owner, _)| owner == repo)
            .map(|(_, hook)| hook.clone())
            .collect()
    }

    pub fn secret(&self, hook_id: i64) -> Option<String> {
        self.state().secrets.get(&hook_id).cloned()
    }

    /// A hook someone made by hand, with a secret prpulse does not know.
    pub fn add_hook(&self, repo: &str, url: &str) -> i64 {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        let hook = hook_json(repo, id, &json!(["push"]), url);
        state.hooks.insert(id, (repo.to_owned(), hook));
        state.secrets.insert(id, "someone-elses-secret".into());
        id
    }

    /// As if someone deleted the hook in GitHub's settings.
    pub fn delete_hook(&self, id: i64) {
        self.state().hooks.remove(&id);
    }

    pub fn revoke_hook_scope(&self) {
        self.state().without_hook_scope = true;
    }

    pub fn tokens_seen(&self) -> Vec<String> {
        self.state().tokens_seen.clone()
    }
}

fn hook_json(repo: &str, id: i64, events: &Value, url: &str) -> Value {
    let api = format!("https://api.github.com/repos/{repo}/hooks/{id}");
    json!({
        "type": "Repository",
        "id": id,
        "name": "web",
        "active": true,
        "events": events,
        "config": {
            "content_type": "json",
            "insecure_ssl": "0",
            "secret": "********",
            "url": url
        },
        "updated_at": "2026-03-02T09:00:00Z",
        "created_at": "2026-03-02T09:00:00Z",
        "url": api,
        "test_url": format!("{api}/test"),
        "ping_url": format!("{api}/pings"),
        "deliveries_url": format!("{api}/deliveries"),
        "last_response": {"code": null, "status": "unused", "message": null}
    })
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/repos/webhooks#get-a-repository-webhook",
        "status": "404"
    }))
}

struct Hooks(Arc<Mutex<State>>);

impl Respond for Hooks {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        if let Some(token) = request.headers.get("authorization") {
            state
                .tokens_seen
                .push(token.to_str().unwrap_or_default().to_owned());
        }
        let segments: Vec<&str> = request.url.path().trim_matches('/').split('/').collect();
        let repo = format!("{}/{}", segments[1], segments[2]);
        let id: Option<i64> = segments.get(4).and_then(|id| id.parse().ok());
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), id) {
            ("GET", None) => {
                let hooks: Vec<Value> = state
                    .hooks
                    .values()
                    .filter(|(owner, _)| *owner == repo)
                    .map(|(_, hook)| hook.clone())
                    .collect();
                ResponseTemplate::new(200).set_body_json(hooks)
            }
            ("POST", None) if state.without_hook_scope => ResponseTemplate::new(403)
                .insert_header("x-accepted-oauth-scopes", "admin:repo_hook, repo")
                .insert_header("x-oauth-scopes", "repo")
                .set_body_json(json!({
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
                    "status": "403"
                })),
            ("POST", None) => {
                let url = body["config"]["url"].as_str().unwrap_or_default().to_owned();
                let taken = state
                    .hooks
                    .values()
                    .any(|(owner, hook)| *owner == repo && hook["config"]["url"] == url.as_str());
                if taken {
                    return ResponseTemplate::new(422).set_body_json(json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "Hook", "code": "custom",
                                    "message": "Hook already exists on this repository"}],
                        "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
                        "status": "422"
                    }));
                }
                let id = state.next_id;
                state.next_id += 1;
                let hook = hook_json(&repo, id, &body["events"], &url);
                let secret = body["config"]["secret"].as_str().unwrap_or_default().to_owned();
                state.secrets.insert(id, secret);
                state.hooks.insert(id, (repo, hook.clone()));
                ResponseTemplate::new(201).set_body_json(hook)
            }
            ("GET", Some(id)) => match state.hooks.get(&id) {
                Some((owner, hook)) if *owner == repo => ResponseTemplate::new(200).set_body_json(hook),
                _ => not_found(),
            },
            ("PATCH", Some(id)) => {
                let Some((owner, hook)) = state.hooks.get_mut(&id) else {
                    return not_found();
                };
                if *owner != repo {
                    return not_found();
                }
                if let Some(events) = body.get("events") {
                    hook["events"] = events.clone();
                }
                if let Some(active) = body.get("active") {
                    hook["active"] = active.clone();
                }
                let mut secret = None;
                if let Some(config) = body.get("config") {
                    secret = config["secret"].as_str().map(str::to_owned);
                    let mut shown = config.clone();
                    if shown.get("secret").is_some() {
                        shown["secret"] = json!("********");
                    }
                    hook["config"] = shown;
                }
                let hook = hook.clone();
                if let Some(secret) = secret {
                    state.secrets.insert(id, secret);
                }
                ResponseTemplate::new(200).set_body_json(hook)
            }
            ("DELETE", Some(id)) => match state.hooks.remove(&id) {
                Some(_) => ResponseTemplate::new(204),
                None => not_found(),
            },
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}
