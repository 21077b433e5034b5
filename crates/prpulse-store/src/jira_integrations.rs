//! Jira integrations: where the instance is, the token prpulse calls it
//! with, the webhook it registered there and what verifies that webhook's
//! deliveries (a signing secret with its rotation, or a URL token). Every
//! secret is sealed, bound to the integration's name.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::{
    Keyring, StoreError,
    crypto::CryptoError,
    sealed::{JiraSecret, SealedPlace},
};

pub struct NewJiraIntegration<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub token: &'a SecretString,
    /// `signed` or `url_token`.
    pub webhook_api: &'a str,
    pub webhook_id: i64,
    pub secret: Option<&'a [u8]>,
    pub url_token: Option<&'a [u8]>,
    pub projects: &'a [String],
}

/// An integration without its secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JiraIntegration {
    pub name: String,
    pub base_url: String,
    pub webhook_api: String,
    pub webhook_id: i64,
    pub projects: Vec<String>,
    pub last_error: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a delivery to the integration's URL must prove.
pub enum Verifier {
    /// An `X-Hub-Signature` under one of these (current first).
    Signed(Vec<SecretSlice<u8>>),
    /// This token as the URL's last segment.
    UrlToken(SecretSlice<u8>),
}

/// Writes the integration once Jira has confirmed its webhook. An existing
/// name is an error (`StoreError` of a unique violation): `remove` first.
pub async fn insert(
    client: &impl GenericClient,
    keyring: &Keyring,
    new: &NewJiraIntegration<'_>,
) -> Result<(), StoreError> {
    let seal = |secret: JiraSecret, value: &[u8]| {
        keyring.seal(&SealedPlace::jira(secret, new.name), value)
    };
    let token = seal(JiraSecret::Token, new.token.expose_secret().as_bytes());
    let secret = new
        .secret
        .map(|value| seal(JiraSecret::CurrentSecret, value));
    let url_token = new.url_token.map(|value| seal(JiraSecret::UrlToken, value));
    client
        .execute(
            "INSERT INTO jira_integrations
                 (name, base_url, token, webhook_api, webhook_id, current_secret, secret_rotated_at,
                  url_token, projects, checked_at)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6::bytea IS NOT NULL THEN now() END, $7, $8, now())",
            &[
                &new.name,
                &new.base_url,
                &token,
                &new.webhook_api,
                &new.webhook_id,
                &secret,
                &url_token,
                &new.projects,
            ],
        )
        .await?;
    Ok(())
}

const COLUMNS: &str = "name, base_url, webhook_api, webhook_id, projects, last_error, checked_at,
                       secret_rotated_at, created_at";

fn integration(row: &tokio_postgres::Row) -> JiraIntegration {
    JiraIntegration {
        name: row.get(0),
        base_url: row.get(1),
        webhook_api: row.get(2),
        webhook_id: row.get(3),
        projects: row.get(4),
        last_error: row.get(5),
        checked_at: row.get(6),
        secret_rotated_at: row.get(7),
        created_at: row.get(8),
    }
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<JiraIntegration>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM jira_integrations ORDER BY name"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(integration).collect())
}

pub async fn get(
    client: &impl GenericClient,
    name: &str,
) -> Result<Option<JiraIntegration>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM jira_integrations WHERE name = $1"),
            &[&name],
        )
        .await?;
    Ok(row.as_ref().map(integration))
}

fn open(
    keyring: &Keyring,
    secret: JiraSecret,
    name: &str,
    sealed: &[u8],
) -> Result<SecretSlice<u8>, StoreError> {
    Ok(keyring.open(&SealedPlace::jira(secret, name), sealed)?)
}

/// The token prpulse calls Jira's REST API with.
pub async fn token(
    client: &impl GenericClient,
    keyring: &Keyring,
    name: &str,
) -> Result<Option<SecretString>, StoreError> {
    let Some(row) = client
        .query_opt(
            "SELECT token FROM jira_integrations WHERE name = $1",
            &[&name],
        )
        .await?
    else {
        return Ok(None);
    };
    let opened = open(keyring, JiraSecret::Token, name, row.get(0))?;
    Ok(Some(SecretString::from(
        String::from_utf8_lossy(opened.expose_secret()).into_owned(),
    )))
}

/// What verifies a delivery for `name` at `now`; `None` when prpulse has
/// no such integration.
pub async fn verifier(
    client: &impl GenericClient,
    keyring: Option<&Keyring>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<Verifier>, StoreError> {
    let Some(row) = client
        .query_opt(
            "SELECT current_secret,
                    CASE WHEN previous_valid_until > $2 THEN previous_secret END,
                    url_token
             FROM jira_integrations WHERE name = $1",
            &[&name, &now],
        )
        .await?
    else {
        return Ok(None);
    };
    let keyring = keyring.ok_or(CryptoError::NoKey)?;
    if let Some(token) = row.get::<_, Option<&[u8]>>(2) {
        return Ok(Some(Verifier::UrlToken(open(
            keyring,
            JiraSecret::UrlToken,
            name,
            token,
        )?)));
    }
    let mut secrets = Vec::new();
    if let Some(current) = row.get::<_, Option<&[u8]>>(0) {
        secrets.push(open(keyring, JiraSecret::CurrentSecret, name, current)?);
    }
    if let Some(previous) = row.get::<_, Option<&[u8]>>(1) {
        secrets.push(open(keyring, JiraSecret::PreviousSecret, name, previous)?);
    }
    Ok(Some(Verifier::Signed(secrets)))
}

/// The URL token or the current secret, for re-registering the webhook.
pub async fn webhook_credential(
    client: &impl GenericClient,
    keyring: &Keyring,
    name: &str,
) -> Result<Option<SecretSlice<u8>>, StoreError> {
    match verifier(client, Some(keyring), name, Utc::now()).await? {
        Some(Verifier::UrlToken(token)) => Ok(Some(token)),
        Some(Verifier::Signed(mut secrets)) if !secrets.is_empty() => {
            Ok(Some(secrets.swap_remove(0)))
        }
        _ => Ok(None),
    }
}

/// Makes `secret` current; the one it replaces stays valid until
/// `previous_valid_until`, so deliveries Jira signed before it took the
/// new one still pass.
pub async fn rotate_secret(
    client: &impl GenericClient,
    keyring: &Keyring,
    name: &str,
    secret: &[u8],
    previous_valid_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT current_secret FROM jira_integrations WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?;
    let previous = match row.get::<_, Option<&[u8]>>(0) {
        Some(current) => {
            let opened = open(keyring, JiraSecret::CurrentSecret, name, current)?;
            Some(keyring.seal(
                &SealedPlace::jira(JiraSecret::PreviousSecret, name),
                opened.expose_secret(),
            ))
        }
        None => None,
    };
    let current = keyring.seal(&SealedPlace::jira(JiraSecret::CurrentSecret, name), secret);
    client
        .execute(
            "UPDATE jira_integrations SET current_secret = $2, previous_secret = $3,
                 previous_valid_until = $4, secret_rotated_at = now()
             WHERE name = $1",
            &[&name, &current, &previous, &previous_valid_until],
        )
        .await?;
    Ok(())
}

/// After the scheduler re-created the webhook (Jira gives a new id).
pub async fn set_webhook_id(
    client: &impl GenericClient,
    name: &str,
    webhook_id: i64,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE jira_integrations SET webhook_id = $2 WHERE name = $1",
            &[&name, &webhook_id],
        )
        .await?;
    Ok(())
}

/// What the last reconciliation found: `None` when all was well.
pub async fn set_checked(
    client: &impl GenericClient,
    name: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE jira_integrations SET last_error = $2, checked_at = now() WHERE name = $1",
            &[&name, &error],
        )
        .await?;
    Ok(())
}

/// Deletes the integration and everything it brought in: its issues and
/// their changes (by cascade) and its deliveries in the ledger (their ids
/// start `jira:<name>:`), so re-adding it starts clean. Pull requests'
/// mentions of its keys stay: they belong to the pull requests. False if
/// there was no such integration.
pub async fn remove(client: &impl GenericClient, name: &str) -> Result<bool, StoreError> {
    let removed = client
        .execute("DELETE FROM jira_integrations WHERE name = $1", &[&name])
        .await?;
    if removed == 0 {
        return Ok(false);
    }
    client
        .execute(
            "DELETE FROM deliveries WHERE delivery_id LIKE 'jira:' || $1 || ':%'",
            &[&name],
        )
        .await?;
    Ok(true)
}
