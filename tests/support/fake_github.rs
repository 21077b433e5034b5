//! A fake of the parts of GitHub's REST API prpulse uses (wiremock), with
//! the state a real one keeps and the shapes, status codes and messages of
//! GitHub's REST docs: repository and organisation hooks (remembering each
//! secret, so a test can sign deliveries as GitHub would), hook deliveries
//! and their redelivery, pull requests and reviews, organisation teams,
//! `/meta`, and GitHub App installation tokens (the JWT checked against the
//! app's public key, as GitHub does).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

#[derive(Default)]
struct State {
    /// Hooks by id, with their owner: `owner/name` for a repository,
    /// `orgs/{org}` for an organisation.
    hooks: BTreeMap<i64, (String, Value)>,
    /// Each hook's secret as last sent (GitHub shows it masked).
    secrets: BTreeMap<i64, String>,
    next_id: i64,
    /// When set, creating a hook answers 403 as for a token without
    /// `admin:repo_hook`.
    without_hook_scope: bool,
    /// When set, organisation hooks answer 404 as for a token without
    /// `admin:org_hook`.
    without_org_hook_scope: bool,
    tokens_seen: Vec<String>,
    /// Installation tokens handed out to the GitHub App.
    installation_tokens: Vec<String>,
    /// Delivery attempts by hook, newest first, as GitHub lists them.
    deliveries: BTreeMap<i64, Vec<Value>>,
    redeliveries: Vec<(i64, i64)>,
    repositories: BTreeMap<String, Value>,
    /// Full pull requests by repository, and their reviews by number.
    pulls: BTreeMap<String, Vec<Value>>,
    reviews: BTreeMap<(String, i64), Vec<Value>>,
    /// Issue timelines by repository and number (empty when not set).
    timelines: BTreeMap<(String, i64), Vec<Value>>,
    /// Teams by organisation, each with its members.
    teams: BTreeMap<String, Vec<(Value, Vec<Value>)>>,
    meta_hooks: Vec<String>,
    /// Every hook endpoint answers this late (GitHub slow or hanging).
    slow_hooks: Option<std::time::Duration>,
    /// The next hook created is answered this late (GitHub has the hook,
    /// and its secret, before the caller knows its id).
    slow_next_create: Option<std::time::Duration>,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
    /// Compare, pull request commits, deployments (`dora_github`).
    pub dora: crate::dora_github::FakeDoraGitHub,
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next_id: 12_345_678,
            ..State::default()
        }));
        Mock::given(path_regex(
            r"^/(repos/[^/]+/[^/]+|orgs/[^/]+)/hooks(/\d+)?$",
        ))
        .respond_with(WithRateLimit(Hooks(state.clone())))
        .with_priority(1)
        .mount(&server)
        .await;
        Mock::given(path_regex(r"^/app/installations/\d+/access_tokens$"))
            .respond_with(AccessTokens(state.clone()))
            .mount(&server)
            .await;
        Mock::given(path_regex(r"^/(repos|orgs|meta)"))
            .respond_with(WithRateLimit(Api(state.clone())))
            .mount(&server)
            .await;
        let server = Arc::new(server);
        let dora = crate::dora_github::FakeDoraGitHub::mount_on(server.clone()).await;
        Self {
            server,
            state,
            dora,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The hooks of `owner` (`owner/name`, or `orgs/{org}`), as GitHub
    /// would list them.
    pub fn hooks(&self, owner: &str) -> Vec<Value> {
        self.state()
            .hooks
            .values()
            .filter(|(of, _)| of == owner)
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

    pub fn revoke_org_hook_scope(&self) {
        self.state().without_org_hook_scope = true;
    }

    pub fn installation_tokens(&self) -> Vec<String> {
        self.state().installation_tokens.clone()
    }

    pub fn tokens_seen(&self) -> Vec<String> {
        self.state().tokens_seen.clone()
    }

    /// Adds a delivery attempt to `hook_id`'s list, `minutes_ago`.
    pub fn add_delivery(
        &self,
        hook_id: i64,
        attempt: i64,
        guid: &str,
        event: &str,
        status_code: u16,
        minutes_ago: i64,
    ) {
        let delivered = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
        let item = delivery_json(attempt, guid, event, status_code, delivered, false);
        let mut state = self.state();
        let list = state.deliveries.entry(hook_id).or_default();
        list.push(item);
        list.sort_by(|a, b| b["delivered_at"].as_str().cmp(&a["delivered_at"].as_str()));
    }

    /// The (hook, attempt) redeliveries asked for.
    pub fn redeliveries(&self) -> Vec<(i64, i64)> {
        self.state().redeliveries.clone()
    }

    pub fn add_repository(&self, full_name: &str, id: i64) {
        let (owner, name) = full_name.split_once('/').unwrap();
        self.state().repositories.insert(
            full_name.to_owned(),
            json!({"id": id, "node_id": format!("R_{id}"), "name": name, "full_name": full_name,
                   "private": false, "owner": {"login": owner, "id": id * 10, "type": "Organization"}}),
        );
    }

    /// A pull request as `GET /repos/{repo}/pulls/{number}` returns it.
    pub fn add_pull_request(&self, repo: &str, pull_request: Value, reviews: Vec<Value>) {
        let number = pull_request["number"].as_i64().unwrap();
        let mut state = self.state();
        state
            .pulls
            .entry(repo.to_owned())
            .or_default()
            .push(pull_request);
        state.reviews.insert((repo.to_owned(), number), reviews);
    }

    /// The issue timeline of pull request `number`, oldest first, as
    /// `GET /repos/{repo}/issues/{number}/timeline` pages through it.
    pub fn set_timeline(&self, repo: &str, number: i64, events: Vec<Value>) {
        self.state()
            .timelines
            .insert((repo.to_owned(), number), events);
    }

    pub fn set_team(&self, org: &str, id: i64, slug: &str, members: &[(i64, &str)]) {
        let team = json!({"id": id, "node_id": format!("T_{id}"), "name": slug, "slug": slug,
                          "description": null, "privacy": "closed", "permission": "pull"});
        let members = members
            .iter()
            .map(|(id, login)| json!({"login": login, "id": id, "type": "User", "site_admin": false}))
            .collect();
        let mut state = self.state();
        let teams = state.teams.entry(org.to_owned()).or_default();
        teams.retain(|(existing, _)| existing["id"] != id);
        teams.push((team, members));
    }

    /// Every hook endpoint answers `delay` late from now on.
    pub fn slow_hooks(&self, delay: std::time::Duration) {
        self.state().slow_hooks = Some(delay);
    }

    /// The next hook creation takes effect at once but is answered
    /// `delay` late.
    pub fn slow_next_hook_creation(&self, delay: std::time::Duration) {
        self.state().slow_next_create = Some(delay);
    }

    pub fn set_meta_hooks(&self, ranges: &[&str]) {
        self.state().meta_hooks = ranges.iter().map(|r| (*r).to_owned()).collect();
    }
}

fn delivery_json(
    attempt: i64,
    guid: &str,
    event: &str,
    status_code: u16,
    delivered: chrono::DateTime<chrono::Utc>,
    redelivery: bool,
) -> Value {
    json!({
        "id": attempt,
        "guid": guid,
        "delivered_at": delivered.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "redelivery": redelivery,
        "duration": 0.27,
        "status": if (200..300).contains(&status_code) { "OK" } else { "Service Unavailable" },
        "status_code": status_code,
        "event": event,
        "action": "opened",
        "installation_id": null,
        "repository_id": 10
    })
}

fn hook_json(owner: &str, id: i64, events: &Value, url: &str) -> Value {
    let (kind, root) = match owner.strip_prefix("orgs/") {
        Some(_) => ("Organization", owner.to_owned()),
        None => ("Repository", format!("repos/{owner}")),
    };
    let api = format!("https://api.github.com/{root}/hooks/{id}");
    json!({
        "type": kind,
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

/// A timeline event as GitHub shows `ready_for_review`, `convert_to_draft`,
/// `labeled` and the like (a `committed` or `reviewed` entry has another
/// shape; see [`timeline_commit`]).
pub fn timeline_event(
    id: i64,
    event: &str,
    at: chrono::DateTime<chrono::Utc>,
    actor: (i64, &str),
) -> Value {
    json!({
        "id": id,
        "node_id": format!("RFRE_{id}"),
        "url": format!("https://api.github.com/repos/acme/api/issues/events/{id}"),
        "actor": {"login": actor.1, "id": actor.0, "node_id": format!("U_{}", actor.0),
                  "type": "User", "site_admin": false},
        "event": event,
        "commit_id": null,
        "commit_url": null,
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "performed_via_github_app": null,
    })
}

/// A `committed` timeline entry: no `id`, no `created_at`, a git author.
pub fn timeline_commit(sha: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "url": format!("https://api.github.com/repos/acme/api/git/commits/{sha}"),
        "author": {"name": "Ada", "email": "ada@example.com",
                   "date": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
        "message": "Change things",
        "event": "committed",
    })
}

/// `items` split in pages as GitHub does (`per_page` up to 100, default
/// 30; `page` from 1), with a `Link: <…>; rel="next"` header while more
/// pages follow.
fn paginated(request: &Request, items: &[Value]) -> ResponseTemplate {
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
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut response = ResponseTemplate::new(200).set_body_json(Value::Array(slice));
    if start + per_page < items.len() {
        // wiremock's request URL lacks the port; the Host header has it.
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

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/repos/webhooks#get-a-repository-webhook",
        "status": "404"
    }))
}

/// What GitHub has left of the hourly limit in every answer's headers.
pub const RATE_LIMIT_REMAINING: u64 = 4_321;

/// Adds the rate-limit headers GitHub sends with every REST answer.
struct WithRateLimit<R>(R);

impl<R: Respond> Respond for WithRateLimit<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reset = chrono::Utc::now().timestamp() + 3600;
        self.0
            .respond(request)
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", RATE_LIMIT_REMAINING.to_string())
            .insert_header(
                "x-ratelimit-used",
                (5000 - RATE_LIMIT_REMAINING).to_string(),
            )
            .insert_header("x-ratelimit-reset", reset.to_string())
            .insert_header("x-ratelimit-resource", "core")
    }
}

struct Hooks(Arc<Mutex<State>>);

impl Respond for Hooks {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let answer = self.answer(request);
        match self.0.lock().unwrap().slow_hooks {
            Some(delay) => answer.set_delay(delay),
            None => answer,
        }
    }
}

impl Hooks {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        if let Some(token) = request.headers.get("authorization") {
            state
                .tokens_seen
                .push(token.to_str().unwrap_or_default().to_owned());
        }
        let path = request.url.path().trim_matches('/');
        let (root, rest) = path.split_once("/hooks").unwrap();
        // `owner/name` for a repository, `orgs/{org}` for an organisation.
        let repo = root.strip_prefix("repos/").unwrap_or(root).to_owned();
        let id: Option<i64> = rest.trim_start_matches('/').parse().ok();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if root.starts_with("orgs/") && state.without_org_hook_scope {
            // GitHub hides organisation hooks from a token without the scope.
            return ResponseTemplate::new(404)
                .insert_header("x-accepted-oauth-scopes", "admin:org_hook")
                .insert_header("x-oauth-scopes", "admin:repo_hook, repo")
                .set_body_json(json!({
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest/orgs/webhooks#list-organization-webhooks",
                    "status": "404"
                }));
        }
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
                let created = ResponseTemplate::new(201).set_body_json(hook);
                match state.slow_next_create.take() {
                    Some(delay) => created.set_delay(delay),
                    None => created,
                }
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

/// Everything but the hooks themselves.
struct Api(Arc<Mutex<State>>);

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let segments: Vec<&str> = request.url.path().trim_matches('/').split('/').collect();
        let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["meta"]) => ok(json!({
                "verifiable_password_authentication": false,
                "hooks": state.meta_hooks,
                "web": ["192.30.252.0/22"],
            })),
            ("GET", ["repos", owner, name]) => {
                match state.repositories.get(&format!("{owner}/{name}")) {
                    Some(repository) => ok(repository.clone()),
                    None => not_found(),
                }
            }
            (
                "GET",
                ["repos", _, _, "hooks", hook, "deliveries"]
                | ["orgs", _, "hooks", hook, "deliveries"],
            ) => {
                let hook: i64 = hook.parse().unwrap_or_default();
                ok(Value::Array(
                    state.deliveries.get(&hook).cloned().unwrap_or_default(),
                ))
            }
            (
                "POST",
                [
                    "repos",
                    _,
                    _,
                    "hooks",
                    hook,
                    "deliveries",
                    attempt,
                    "attempts",
                ]
                | ["orgs", _, "hooks", hook, "deliveries", attempt, "attempts"],
            ) => {
                let hook: i64 = hook.parse().unwrap_or_default();
                let attempt: i64 = attempt.parse().unwrap_or_default();
                state.redeliveries.push((hook, attempt));
                // GitHub lists the redelivery as a new attempt of the same
                // event; this one reaches prpulse and succeeds.
                let list = state.deliveries.entry(hook).or_default();
                if let Some(original) = list.iter().find(|d| d["id"] == attempt).cloned() {
                    let retry = delivery_json(
                        attempt + 1_000_000,
                        original["guid"].as_str().unwrap_or_default(),
                        original["event"].as_str().unwrap_or_default(),
                        202,
                        chrono::Utc::now(),
                        true,
                    );
                    list.insert(0, retry);
                }
                ResponseTemplate::new(202).set_body_json(json!({}))
            }
            ("GET", ["repos", owner, name, "pulls"]) => {
                let mut pulls = state
                    .pulls
                    .get(&format!("{owner}/{name}"))
                    .cloned()
                    .unwrap_or_default();
                pulls.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
                ok(Value::Array(pulls))
            }
            ("GET", ["repos", owner, name, "pulls", number]) => {
                let number: i64 = number.parse().unwrap_or_default();
                state
                    .pulls
                    .get(&format!("{owner}/{name}"))
                    .and_then(|pulls| pulls.iter().find(|p| p["number"] == number).cloned())
                    .map_or_else(not_found, ok)
            }
            ("GET", ["repos", owner, name, "pulls", number, "reviews"]) => {
                let number: i64 = number.parse().unwrap_or_default();
                ok(Value::Array(
                    state
                        .reviews
                        .get(&(format!("{owner}/{name}"), number))
                        .cloned()
                        .unwrap_or_default(),
                ))
            }
            ("GET", ["repos", owner, name, "issues", number, "timeline"]) => {
                let repo = format!("{owner}/{name}");
                let number: i64 = number.parse().unwrap_or_default();
                let known = state
                    .pulls
                    .get(&repo)
                    .is_some_and(|pulls| pulls.iter().any(|p| p["number"] == number));
                if !known {
                    return not_found();
                }
                let events = state
                    .timelines
                    .get(&(repo, number))
                    .cloned()
                    .unwrap_or_default();
                paginated(request, &events)
            }
            ("GET", ["orgs", org, "teams"]) => ok(Value::Array(
                state
                    .teams
                    .get(*org)
                    .map(|teams| teams.iter().map(|(team, _)| team.clone()).collect())
                    .unwrap_or_default(),
            )),
            ("GET", ["orgs", org, "teams", slug, "members"]) => state
                .teams
                .get(*org)
                .and_then(|teams| teams.iter().find(|(team, _)| team["slug"] == *slug))
                .map_or_else(not_found, |(_, members)| ok(Value::Array(members.clone()))),
            _ => not_found(),
        }
    }
}

/// The app whose JWTs the fake accepts, and its installation.
pub const APP_ID: u64 = 42;
pub const INSTALLATION_ID: u64 = 7;
/// A throwaway key pair standing in for the app's (see its README).
pub const APP_PRIVATE_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/prpulse-github-api/testdata/app-private-key.pem"
);
const APP_PUBLIC_KEY: &str =
    include_str!("../../crates/prpulse-github-api/testdata/app-public-key.pem");

/// `POST /app/installations/{id}/access_tokens`: a JWT signed with the
/// app's key (RS256, issued by the app, at most 10 minutes long) buys an
/// hour-long installation token, which the hooks then accept.
struct AccessTokens(Arc<Mutex<State>>);

impl Respond for AccessTokens {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        #[derive(serde::Deserialize)]
        struct Claims {
            iat: u64,
            exp: u64,
            iss: String,
        }
        let jwt = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(APP_PUBLIC_KEY.as_bytes()).unwrap();
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        let installation = request.url.path().split('/').nth(3).unwrap_or_default();
        let accepted = jsonwebtoken::decode::<Claims>(jwt, &key, &validation).is_ok_and(|data| {
            data.claims.iss == APP_ID.to_string() && data.claims.exp - data.claims.iat <= 600
        });
        if !accepted {
            return ResponseTemplate::new(401).set_body_json(json!({
                "message": "A JSON web token could not be decoded",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401"
            }));
        }
        if installation != INSTALLATION_ID.to_string() {
            return not_found();
        }
        let mut state = self.0.lock().unwrap();
        let token = format!("ghs_{}", state.installation_tokens.len() + 1);
        state.installation_tokens.push(token.clone());
        let expires_at = chrono::Utc::now() + chrono::Duration::hours(1);
        ResponseTemplate::new(201).set_body_json(json!({
            "token": token,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "permissions": {"organization_hooks": "write", "repository_hooks": "write",
                            "pull_requests": "read", "members": "read"},
            "repository_selection": "all"
        }))
    }
}
