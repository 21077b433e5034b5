//! Repository webhooks (`/repos/{owner}/{repo}/hooks`) and organisation
//! webhooks (`/orgs/{org}/hooks`): the same shapes under two roots.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{GitHubClient, GitHubError};

// Which events each kind of hook carries is prpulse's decision, made
// beside the events ingest enqueues (one list, one test), not GitHub's.
use prpulse_domain::{
    RepoFullName,
    event::{ORGANIZATION_HOOK_EVENTS, REPOSITORY_HOOK_EVENTS},
};

/// Whose hooks: a repository's or an organisation's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookOwner<'a> {
    Repository(&'a RepoFullName),
    Organization(&'a str),
}

impl HookOwner<'_> {
    /// `/repos/{owner}/{name}/hooks` or `/orgs/{org}/hooks`.
    pub fn hooks_path(&self) -> String {
        match self {
            Self::Repository(repo) => format!("/repos/{repo}/hooks"),
            Self::Organization(org) => format!("/orgs/{org}/hooks"),
        }
    }

    pub fn events(&self) -> &'static [&'static str] {
        match self {
            Self::Repository(_) => REPOSITORY_HOOK_EVENTS,
            Self::Organization(_) => ORGANIZATION_HOOK_EVENTS,
        }
    }
}

impl std::fmt::Display for HookOwner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Repository(repo) => f.write_str(repo),
            Self::Organization(org) => write!(f, "organisation {org}"),
        }
    }
}

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
    pub events: &'static [&'static str],
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
            && self
                .events
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

pub async fn list(client: &GitHubClient, owner: HookOwner<'_>) -> Result<Vec<Hook>, GitHubError> {
    client
        .get_all(&format!("{}?per_page=100", owner.hooks_path()))
        .await
}

pub async fn get(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    id: i64,
) -> Result<Hook, GitHubError> {
    client.get(&format!("{}/{id}", owner.hooks_path())).await
}

pub async fn create(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    desired: &DesiredHook<'_>,
) -> Result<Hook, GitHubError> {
    let body = Create {
        name: "web",
        active: true,
        events: desired.events,
        config: desired.config(),
    };
    client.post(&owner.hooks_path(), &body).await
}

/// Sets events, activity and the whole config (secret included: GitHub
/// never returns it, so it is always sent).
pub async fn update(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    id: i64,
    desired: &DesiredHook<'_>,
) -> Result<Hook, GitHubError> {
    let body = json!({
        "active": true,
        "events": desired.events,
        "config": desired.config(),
    });
    client
        .patch(&format!("{}/{id}", owner.hooks_path()), &body)
        .await
}

pub async fn delete(
    client: &GitHubClient,
    owner: HookOwner<'_>,
    id: i64,
) -> Result<(), GitHubError> {
    client.delete(&format!("{}/{id}", owner.hooks_path())).await
}
