//! Acting as a GitHub App installation: a JWT signed with the app's
//! private key (RS256, at most 10 minutes long) buys an installation token
//! that expires after an hour; the client mints a new one before that.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::GitHubError;

/// A token this close to its expiry is replaced before use, so a request
/// never starts with a token that dies on the way.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// GitHub refuses a JWT valid for longer than 10 minutes; its clock may
/// also run behind ours, hence the backdated `iat`.
const JWT_BACKDATE: u64 = 60;
const JWT_LIFETIME: u64 = 9 * 60;

/// A GitHub App installation prpulse acts as.
#[derive(Clone)]
pub struct AppInstallation {
    pub app_id: u64,
    pub installation_id: u64,
    key: EncodingKey,
}

impl std::fmt::Debug for AppInstallation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppInstallation")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
pub struct AppClaims {
    pub iat: u64,
    pub exp: u64,
    /// The app id, as a string (GitHub accepts the id or the client id).
    pub iss: String,
}

impl AppInstallation {
    /// `private_key` is the PEM GitHub lets an app owner download
    /// (PKCS#1 `RSA PRIVATE KEY`, or PKCS#8).
    pub fn new(
        app_id: u64,
        installation_id: u64,
        private_key: &SecretString,
    ) -> Result<Self, GitHubError> {
        let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
            .map_err(|error| GitHubError::BadAppKey(error.to_string()))?;
        Ok(Self {
            app_id,
            installation_id,
            key,
        })
    }

    /// The JWT that authenticates as the app itself, issued now.
    pub fn jwt(&self) -> Result<SecretString, GitHubError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = AppClaims {
            iat: now - JWT_BACKDATE,
            exp: now + JWT_LIFETIME,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(SecretString::from)
            .map_err(|error| GitHubError::BadAppKey(error.to_string()))
    }

    /// `POST /app/installations/{id}/access_tokens`, relative to the API base.
    pub fn access_tokens_path(&self) -> String {
        format!("app/installations/{}/access_tokens", self.installation_id)
    }
}

/// An installation token and when GitHub lets it expire.
#[derive(Clone, Deserialize)]
pub struct InstallationToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

impl InstallationToken {
    /// True while the token is good for longer than [`REFRESH_MARGIN`].
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default()
    }
}

/// The credentials a client sends.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A personal access token (classic or fine-grained) or any other
    /// token used as is.
    Token(SecretString),
    /// Installation tokens minted on demand.
    App(AppInstallation),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_replaced_before_its_last_five_minutes() {
        let now = Utc::now();
        let token = |left: i64| InstallationToken {
            token: SecretString::from("ghs_x"),
            expires_at: now + chrono::Duration::seconds(left),
        };
        assert!(token(3_600).is_fresh(now));
        assert!(token(301).is_fresh(now));
        assert!(!token(300).is_fresh(now));
        assert!(!token(-10).is_fresh(now));
    }

    #[test]
    fn a_key_that_is_not_an_rsa_pem_is_refused_clearly() {
        let error = AppInstallation::new(1, 2, &SecretString::from("not a key")).unwrap_err();
        assert!(
            matches!(error, GitHubError::BadAppKey(_)),
            "{error:?} should be BadAppKey"
        );
        assert!(error.to_string().contains("private key"), "{error}");
    }
}
