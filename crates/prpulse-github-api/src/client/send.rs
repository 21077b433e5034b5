//! Sending one request until it is answered for good: server errors tried
//! again, rate limits waited out, a revoked installation token renewed
//! once, GET answers revalidated by ETag, all within one call's patience.

use std::time::Duration;

use prpulse_retry::ServerErrorDelays;
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, ETAG, HeaderMap, IF_NONE_MATCH, USER_AGENT},
};
use secrecy::{ExposeSecret, SecretString};
use tracing::{debug, warn};
use url::Url;

use super::{
    GitHubClient, decode, errors::error_for, lock, patience::Patience, rate_limit::rate_limit_wait,
};
use crate::{
    GitHubError,
    app::{AppInstallation, Credentials, InstallationToken},
    link::next_page,
};

/// Server errors and broken connections are tried again after 1 s, 2 s
/// and 4 s; GitHub's own guidance for 5xx is "retry later, not at once".
fn server_error_delays() -> ServerErrorDelays {
    ServerErrorDelays::new(Duration::from_secs(1), 3)
}

impl GitHubClient {
    pub(super) async fn send(
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
}

pub(super) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get("link")
        .and_then(|link| link.to_str().ok())
        .and_then(next_page)
}
