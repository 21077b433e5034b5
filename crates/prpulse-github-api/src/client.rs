use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prpulse_retry::ServerErrorDelays;
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, ETAG, HeaderMap, IF_NONE_MATCH, RETRY_AFTER, USER_AGENT},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use tracing::{debug, warn};
use url::Url;

use crate::{
    GitHubError,
    app::{AppInstallation, Credentials, InstallationToken},
    link::next_page,
    origin::{same_origin, secure_url},
};

mod patience;

use patience::Patience;

/// Server errors and broken connections are tried again after 1 s, 2 s
/// and 4 s; GitHub's own guidance for 5xx is "retry later, not at once".
fn server_error_delays() -> ServerErrorDelays {
    ServerErrorDelays::new(Duration::from_secs(1), 3)
}

#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// `https://api.github.com`, a GitHub Enterprise Server `/api/v3`, or a fake.
    pub base_url: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    /// The longest one call waits out rate limits, in total, before
    /// giving up (each call also sends at most six requests).
    pub max_rate_limit_wait: Duration,
}

/// What GitHub last said of the token's rate limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub remaining: Option<u64>,
    /// Unix seconds.
    pub reset_at: Option<u64>,
}

pub struct GitHubClient {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    /// The installation token in use, when acting as a GitHub App.
    installation_token: tokio::sync::Mutex<Option<InstallationToken>>,
    max_rate_limit_wait: Duration,
    /// GET responses by URL, revalidated with `If-None-Match`: a 304 does
    /// not count against the rate limit.
    etags: Mutex<HashMap<String, (String, Vec<u8>)>>,
    rate_limit: Mutex<RateLimit>,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl GitHubClient {
    pub fn new(settings: ClientSettings) -> Result<Self, GitHubError> {
        // reqwest is built without a bundled crypto provider; use ring, which
        // the broker client brings anyway. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut base = secure_url(&settings.base_url)
            .map_err(|reason| GitHubError::BadUrl(format!("{}: {reason}", settings.base_url)))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(GitHubError::Transport)?;
        Ok(Self {
            http,
            base,
            credentials: settings.credentials,
            installation_token: tokio::sync::Mutex::new(None),
            max_rate_limit_wait: settings.max_rate_limit_wait,
            etags: Mutex::new(HashMap::new()),
            rate_limit: Mutex::new(RateLimit::default()),
        })
    }

    pub fn rate_limit(&self) -> RateLimit {
        *lock(&self.rate_limit)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, GitHubError> {
        let url = self.url(path)?;
        decode(&self.send(Method::GET, url, None).await?.1)
    }

    /// Every page of a list, following `Link: rel="next"` (page or cursor)
    /// within the API's origin, and never to a page already read.
    pub async fn get_all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, GitHubError> {
        let mut url = Some(self.url(path)?);
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        while let Some(page) = url.take() {
            if !seen.insert(page.to_string()) {
                return Err(GitHubError::LinkLoop(page.to_string()));
            }
            let (headers, body) = self.send(Method::GET, page, None).await?;
            items.extend(decode::<Vec<T>>(&body)?);
            url = next_link(&headers)
                .map(|next| self.followable(&next))
                .transpose()?;
        }
        Ok(items)
    }

    /// One page of a list and the URL of the next, for callers that stop
    /// early (lists sorted newest first, read back to a date).
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<(Vec<T>, Option<String>), GitHubError> {
        let url = if path_or_url.starts_with("http") {
            self.followable(path_or_url)?
        } else {
            self.url(path_or_url)?
        };
        let (headers, body) = self.send(Method::GET, url, None).await?;
        let next = next_link(&headers)
            .map(|next| self.followable(&next).map(String::from))
            .transpose()?;
        Ok((decode(&body)?, next))
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, GitHubError> {
        let url = self.url(path)?;
        decode(&self.send(Method::POST, url, Some(json(body)?)).await?.1)
    }

    /// A POST whose answer has no body worth reading (e.g. a redelivery).
    pub async fn post_empty(&self, path: &str) -> Result<(), GitHubError> {
        let url = self.url(path)?;
        self.send(Method::POST, url, None).await.map(|_| ())
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, GitHubError> {
        let url = self.url(path)?;
        decode(&self.send(Method::PATCH, url, Some(json(body)?)).await?.1)
    }

    pub async fn delete(&self, path: &str) -> Result<(), GitHubError> {
        let url = self.url(path)?;
        self.send(Method::DELETE, url, None).await.map(|_| ())
    }

    /// A page URL from GitHub, if it stays on the API's origin: the token
    /// goes wherever the client is pointed.
    fn followable(&self, link: &str) -> Result<Url, GitHubError> {
        let url = Url::parse(link).map_err(|e| GitHubError::Decode(format!("{link}: {e}")))?;
        if !same_origin(&url, &self.base) {
            return Err(GitHubError::ForeignLink {
                link: link.to_owned(),
                base: self.base.to_string(),
            });
        }
        Ok(url)
    }

    fn url(&self, path: &str) -> Result<Url, GitHubError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|error| GitHubError::BadUrl(format!("{path}: {error}")))
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(HeaderMap, Vec<u8>), GitHubError> {
        let mut server_errors = server_error_delays();
        let mut token_renewed = false;
        let mut patience = Patience::new(url.path(), self.max_rate_limit_wait);
        loop {
            patience.attempt()?;
            self.wait_for_rate_limit(&mut patience).await?;
            let cached = (method == Method::GET)
                .then(|| lock(&self.etags).get(url.as_str()).cloned())
                .flatten();
            let bearer = self.bearer().await?;
            let mut request = self.request(method.clone(), url.clone(), &bearer);
            if let Some((etag, _)) = &cached {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(body) = &body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => match server_errors.next_delay() {
                    Some(delay) if !error.is_builder() => {
                        warn!(%error, %url, "GitHub unreachable; retrying");
                        patience.back_off(delay).await;
                        continue;
                    }
                    _ => return Err(error.into()),
                },
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.record_rate_limit(&headers);
            let bytes = response.bytes().await?.to_vec();
            debug!(%method, %url, status = status.as_u16(), "GitHub answered");
            if status == StatusCode::NOT_MODIFIED
                && let Some((_, body)) = cached
            {
                return Ok((headers, body));
            }
            if status.is_success() {
                if method == Method::GET
                    && let Some(etag) = headers.get(ETAG).and_then(|v| v.to_str().ok())
                {
                    lock(&self.etags).insert(url.to_string(), (etag.to_owned(), bytes.clone()));
                }
                return Ok((headers, bytes));
            }
            if let Some(wait) = rate_limit_wait(status, &headers) {
                patience.wait_out_rate_limit(wait).await?;
                // The headers said the limit is spent; the wait was for its reset.
                lock(&self.rate_limit).remaining = None;
                continue;
            }
            // An installation token can be revoked before it expires (the
            // app was reinstalled, say): mint another, once.
            if status == StatusCode::UNAUTHORIZED
                && matches!(self.credentials, Credentials::App(_))
                && !token_renewed
            {
                token_renewed = true;
                *self.installation_token.lock().await = None;
                continue;
            }
            if status.is_server_error()
                && let Some(delay) = server_errors.next_delay()
            {
                warn!(status = status.as_u16(), %url, "GitHub server error; retrying");
                patience.back_off(delay).await;
                continue;
            }
            return Err(error_for(status, &headers, &bytes, url.path()));
        }
    }

    fn request(&self, method: Method, url: Url, bearer: &SecretString) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(bearer.expose_secret())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(USER_AGENT, concat!("prpulse/", env!("CARGO_PKG_VERSION")))
    }

    /// The token to send: the configured one, or an installation token
    /// minted when there is none or it is about to expire.
    async fn bearer(&self) -> Result<SecretString, GitHubError> {
        let app = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::App(app) => app,
        };
        let mut current = self.installation_token.lock().await;
        if let Some(token) = current.as_ref().filter(|t| t.is_fresh(chrono::Utc::now())) {
            return Ok(token.token.clone());
        }
        let minted = self
            .mint(app)
            .await
            .map_err(|source| GitHubError::InstallationToken {
                app_id: app.app_id,
                installation_id: app.installation_id,
                source: Box::new(source),
            })?;
        debug!(installation = app.installation_id, expires_at = %minted.expires_at, "installation token minted");
        let token = minted.token.clone();
        *current = Some(minted);
        Ok(token)
    }

    async fn mint(&self, app: &AppInstallation) -> Result<InstallationToken, GitHubError> {
        let url = self.url(&app.access_tokens_path())?;
        let response = self
            .request(Method::POST, url.clone(), &app.jwt()?)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(error_for(status, &headers, &bytes, url.path()));
        }
        decode(&bytes)
    }

    fn record_rate_limit(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(remaining) = number("x-ratelimit-remaining") {
            *lock(&self.rate_limit) = RateLimit {
                remaining: Some(remaining),
                reset_at: number("x-ratelimit-reset"),
            };
        }
    }

    /// With the limit spent, wait for its reset before sending at all.
    async fn wait_for_rate_limit(&self, patience: &mut Patience) -> Result<(), GitHubError> {
        let RateLimit {
            remaining,
            reset_at,
        } = self.rate_limit();
        if remaining != Some(0) {
            return Ok(());
        }
        let wait = reset_at.map_or(Duration::ZERO, seconds_until);
        if !wait.is_zero() {
            patience.wait_out_rate_limit(wait).await?;
        }
        lock(&self.rate_limit).remaining = None;
        Ok(())
    }
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get("link")
        .and_then(|link| link.to_str().ok())
        .and_then(next_page)
}

/// How long GitHub asks us to wait, for a primary (`x-ratelimit-remaining:
/// 0`) or secondary (`retry-after`) rate limit; `None` if this is not one.
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    if let Some(seconds) = header(RETRY_AFTER.as_str()).and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        return Some(reset.map_or(Duration::from_secs(60), seconds_until));
    }
    None
}

fn error_for(status: StatusCode, headers: &HeaderMap, body: &[u8], path: &str) -> GitHubError {
    #[derive(serde::Deserialize, Default)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
    let message = if parsed.message.is_empty() {
        String::from_utf8_lossy(body).chars().take(200).collect()
    } else {
        parsed.message
    };
    match status {
        StatusCode::UNAUTHORIZED => GitHubError::Unauthorized,
        StatusCode::FORBIDDEN => GitHubError::Forbidden {
            message,
            missing_scopes: missing_scopes(headers),
        },
        StatusCode::NOT_FOUND => GitHubError::NotFound {
            path: path.to_owned(),
            missing_scopes: missing_scopes(headers),
        },
        StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Unprocessable {
            message,
            errors: parsed
                .errors
                .iter()
                .map(
                    |error| match error.get("message").and_then(|m| m.as_str()) {
                        Some(text) => text.to_owned(),
                        None => error.to_string(),
                    },
                )
                .collect(),
        },
        _ => GitHubError::Status {
            status: status.as_u16(),
            message,
        },
    }
}

/// The scopes the endpoint accepts (`X-Accepted-OAuth-Scopes`) that the
/// token does not have (`X-OAuth-Scopes`).
fn missing_scopes(headers: &HeaderMap) -> Option<String> {
    let list = |name: &str| -> Vec<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let granted = list("x-oauth-scopes");
    let missing: Vec<String> = list("x-accepted-oauth-scopes")
        .into_iter()
        .filter(|scope| !granted.contains(scope))
        .collect();
    (!missing.is_empty()).then(|| missing.join(" or "))
}

fn seconds_until(epoch_seconds: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs(epoch_seconds.saturating_sub(now))
}

fn json<B: Serialize>(body: &B) -> Result<Vec<u8>, GitHubError> {
    serde_json::to_vec(body).map_err(|error| GitHubError::Decode(error.to_string()))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, GitHubError> {
    serde_json::from_slice(body).map_err(|error| GitHubError::Decode(error.to_string()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
