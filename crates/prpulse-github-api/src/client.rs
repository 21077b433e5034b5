//! The one client every GitHub call goes through: the verbs and URLs
//! here; sending (retries, token renewal, ETags) in `send`, rate limits in
//! `rate_limit`, GitHub's error bodies in `errors`.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use reqwest::Method;
use serde::{Serialize, de::DeserializeOwned};
use url::Url;

use crate::{
    GitHubError,
    app::{Credentials, InstallationToken},
    origin::{same_origin, secure_url},
};

mod errors;
mod patience;
mod rate_limit;
mod send;

pub use rate_limit::RateLimit;
use send::next_link;

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
