//! Repository webhooks (`/repos/{owner}/{repo}/hooks`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{GitHubClient, GitHubError};

/// The events prpulse consumes from a repository hook.
pub const REPOSITORY_EVENTS: &[&str] = &["pull_request", "pull_request_review"];

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Hook {
    pub id: i64,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub config: HookConfig,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub insecure_ssl: Option<String>,
}

/// What prpulse wants a hook to be.
pub struct DesiredHook<'a> {
    pub url: &'a str,
    pub secret: &'a SecretString,
}

impl DesiredHook<'_> {
    fn config(&self) -> serde_json::Value {
        json!({
            "url": self.url,
            "content_type": "json",
            "insecure_ssl": "0",
            "secret": self.secret.expose_secret(),
        })
    }

    /// True when `hook` already delivers what prpulse needs to its URL.
    pub fn is_met_by(&self, hook: &Hook) -> bool {
        hook.active
            && hook.config.url.as_deref() == Some(self.url)
            && hook.config.content_type.as_deref() == Some("json")
            && hook.config.insecure_ssl.as_deref() == Some("0")
            && REPOSITORY_EVENTS
                .iter()
                .all(|event| hook.events.iter().any(|e| e == event))
    }
}

#[derive(Serialize)]
struct Create<'a> {
    name: &'static str,
    active: bool,
    events: &'a [&'a str],
    config: serde_json::Value,
}

fn hooks_path(repo: &str) -> String {
    format!("/repos/{repo}/hooks")
}

pub async fn list(client: &GitHubClient, repo: &str) -> Result<Vec<Hook>, GitHubError> {
    client
        .get_all(&format!("{}?per_page=100", hooks_path(repo)))
        .await
}

pub async fn get(client: &GitHubClient, repo: &str, id: i64) -> Result<Hook, GitHubError> {
    client.get(&format!("{}/{id}", hooks_path(repo))).await
}

pub async fn create(
    client: &GitHubClient,
    repo: &str,
    desired: &DesiredHook<'_>,
) -> Result<Hook, GitHubError> {
    let body = Create {
        name: "web",
        active: true,
        events: REPOSITORY_EVENTS,
        config: desired.config(),
    };
    client.post(&hooks_path(repo), &body).await
}

/// Sets events, activity and the whole config (secret included: GitHub
/// never returns it, so it is always sent).
pub async fn update(
    client: &GitHubClient,
    repo: &str,
    id: i64,
    desired: &DesiredHook<'_>,
) -> Result<Hook, GitHubError> {
    let body = json!({
        "active": true,
        "events": REPOSITORY_EVENTS,
        "config": desired.config(),
    });
    client
        .patch(&format!("{}/{id}", hooks_path(repo)), &body)
        .await
}

pub async fn delete(client: &GitHubClient, repo: &str, id: i64) -> Result<(), GitHubError> {
    client.delete(&format!("{}/{id}", hooks_path(repo))).await
}
