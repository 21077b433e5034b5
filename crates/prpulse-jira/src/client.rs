//! Jira's webhook REST API, in the two shapes prpulse registers with:
//! Data Center 10 and later (`/rest/jira-webhook/1.0/webhooks`, which takes
//! a signing secret in `configuration.SECRET`), and older Server/DC
//! (`/rest/webhooks/1.0/webhook`, unsigned, so the URL carries a random
//! token). Which one a server speaks is read from `/rest/api/2/serverInfo`.

use std::time::Duration;

use reqwest::{Method, StatusCode, header::ACCEPT};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookApi {
    /// DC 10+: deliveries signed `X-Hub-Signature: sha256=…`.
    Signed,
    /// Before DC 10: unsigned; a random token in the URL path.
    UrlToken,
}

impl WebhookApi {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signed => "signed",
            Self::UrlToken => "url_token",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "signed" => Some(Self::Signed),
            "url_token" => Some(Self::UrlToken),
            _ => None,
        }
    }

    fn collection(self) -> &'static str {
        match self {
            Self::Signed => "rest/jira-webhook/1.0/webhooks",
            Self::UrlToken => "rest/webhooks/1.0/webhook",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("Jira answered 401 Unauthorized to {0}: the token is wrong or expired")]
    Unauthorized(String),
    #[error("Jira answered 403 Forbidden to {0}: the token's user is not a Jira administrator")]
    Forbidden(String),
    #[error("Jira answered 404 Not Found to {0}: wrong URL, or a Jira version without this API")]
    NotFound(String),
    #[error("Jira answered {status} to {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error("Jira could not be reached at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Jira's answer to {url} is not what its API returns: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("not a usable Jira URL: {0}")]
    BadUrl(String),
}

/// What prpulse asks of a webhook.
#[derive(Clone, Debug)]
pub struct WebhookSpec {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// Project keys; empty is every project.
    pub projects: Vec<String>,
    /// The signing secret (only [`WebhookApi::Signed`] takes one).
    pub secret: Option<SecretString>,
}

impl WebhookSpec {
    /// `project in (A, B)`, or `None` for every project.
    pub fn jql(&self) -> Option<String> {
        (!self.projects.is_empty()).then(|| format!("project in ({})", self.projects.join(", ")))
    }
}

/// A webhook as Jira reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
}

impl Webhook {
    /// Whether it still is what `spec` asks for (secrets cannot be read back).
    pub fn matches(&self, spec: &WebhookSpec) -> bool {
        let mut have = self.events.clone();
        let mut want = spec.events.clone();
        have.sort();
        want.sort();
        self.url == spec.url
            && have == want
            && self.jql.as_deref().filter(|jql| !jql.is_empty()) == spec.jql().as_deref()
    }
}

pub struct JiraClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerInfo {
    #[serde(default)]
    version_numbers: Vec<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhook {
    id: Option<i64>,
    #[serde(rename = "self")]
    self_url: Option<String>,
    url: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    filters: Option<Value>,
    #[serde(default)]
    jql_filter: Option<String>,
    #[serde(default)]
    filter: Option<String>,
}

impl JiraClient {
    pub fn new(base_url: &str, token: SecretString, timeout: Duration) -> Result<Self, JiraError> {
        // reqwest is built without a bundled crypto provider; ring, as the
        // GitHub client installs it. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut base = Url::parse(base_url)
            .map_err(|error| JiraError::BadUrl(format!("{base_url}: {error}")))?;
        let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if base.scheme() != "https" && !(base.scheme() == "http" && loopback) {
            return Err(JiraError::BadUrl(format!(
                "{base_url}: https only (http on loopback)"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("prpulse")
            .build()
            .map_err(|source| JiraError::Transport {
                url: base.to_string(),
                source,
            })?;
        Ok(Self { http, base, token })
    }

    /// DC 10 and later sign deliveries; anything older, or a server that
    /// does not say, gets the URL-token webhook.
    pub async fn webhook_api(&self) -> Result<WebhookApi, JiraError> {
        let info: ServerInfo = self
            .call(Method::GET, "rest/api/2/serverInfo", None)
            .await?
            .json()?;
        Ok(match info.version_numbers.first() {
            Some(major) if *major >= 10 => WebhookApi::Signed,
            _ => WebhookApi::UrlToken,
        })
    }

    pub async fn create_webhook(
        &self,
        api: WebhookApi,
        spec: &WebhookSpec,
    ) -> Result<Webhook, JiraError> {
        let answer = self
            .call(Method::POST, api.collection(), Some(body(api, spec)))
            .await?;
        answer.webhook()
    }

    /// `None` when Jira has no such webhook (deleted by hand).
    pub async fn webhook(&self, api: WebhookApi, id: i64) -> Result<Option<Webhook>, JiraError> {
        match self
            .call(Method::GET, &format!("{}/{id}", api.collection()), None)
            .await
        {
            Ok(answer) => answer.webhook().map(Some),
            Err(JiraError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn update_webhook(
        &self,
        api: WebhookApi,
        id: i64,
        spec: &WebhookSpec,
    ) -> Result<(), JiraError> {
        self.call(
            Method::PUT,
            &format!("{}/{id}", api.collection()),
            Some(body(api, spec)),
        )
        .await
        .map(drop)
    }

    /// True if it was deleted, false if Jira had no such webhook.
    pub async fn delete_webhook(&self, api: WebhookApi, id: i64) -> Result<bool, JiraError> {
        match self
            .call(Method::DELETE, &format!("{}/{id}", api.collection()), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(JiraError::NotFound(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        json: Option<Value>,
    ) -> Result<Answer, JiraError> {
        let url = self
            .base
            .join(path)
            .map_err(|error| JiraError::BadUrl(format!("{path}: {error}")))?;
        let shown = format!("{method} {}", url.path());
        let mut request = self
            .http
            .request(method, url.clone())
            .bearer_auth(self.token.expose_secret())
            .header(ACCEPT, "application/json");
        if let Some(json) = json {
            request = request.json(&json);
        }
        let response = request
            .send()
            .await
            .map_err(|source| JiraError::Transport {
                url: shown.clone(),
                source,
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| JiraError::Transport {
                url: shown.clone(),
                source,
            })?;
        match status {
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized(shown)),
            StatusCode::FORBIDDEN => Err(JiraError::Forbidden(shown)),
            StatusCode::NOT_FOUND => Err(JiraError::NotFound(shown)),
            status if status.is_success() => Ok(Answer {
                url: shown,
                bytes: bytes.to_vec(),
            }),
            status => Err(JiraError::Status {
                status: status.as_u16(),
                url: shown,
                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            }),
        }
    }
}

fn body(api: WebhookApi, spec: &WebhookSpec) -> Value {
    let filters = match spec.jql() {
        Some(jql) => json!({ "issue-related-events-section": jql }),
        None => json!({}),
    };
    let mut body = json!({
        "name": spec.name,
        "url": spec.url,
        "events": spec.events,
        "filters": filters,
        "excludeBody": false,
    });
    if api == WebhookApi::Signed {
        body["active"] = json!(true);
        body["scopeType"] = json!("global");
        let mut configuration = json!({ "EXCLUDE_BODY": "false" });
        if let Some(secret) = &spec.secret {
            configuration["SECRET"] = json!(secret.expose_secret());
        }
        body["configuration"] = configuration;
    }
    body
}

struct Answer {
    url: String,
    bytes: Vec<u8>,
}

impl Answer {
    fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T, JiraError> {
        serde_json::from_slice(&self.bytes).map_err(|error| JiraError::BadResponse {
            url: self.url.clone(),
            reason: error.to_string(),
        })
    }

    /// DC 10+ answers with `id`; older servers with `self`, whose last
    /// segment is the id.
    fn webhook(&self) -> Result<Webhook, JiraError> {
        let raw: RawWebhook = self.json()?;
        let id = raw
            .id
            .or_else(|| {
                raw.self_url
                    .as_deref()
                    .and_then(|url| url.trim_end_matches('/').rsplit('/').next())
                    .and_then(|last| last.parse().ok())
            })
            .ok_or_else(|| JiraError::BadResponse {
                url: self.url.clone(),
                reason: "no id and no self link".into(),
            })?;
        let jql = raw
            .filters
            .as_ref()
            .and_then(|filters| filters.get("issue-related-events-section"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(raw.jql_filter)
            .or(raw.filter);
        Ok(Webhook {
            id,
            url: raw.url,
            events: raw.events,
            jql,
        })
    }
}

#[cfg(test)]
mod tests;
