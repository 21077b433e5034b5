//! Jira webhooks: registering one for a new integration (before its row
//! exists, so a refusal leaves nothing), removing it with everything the
//! integration brought in, and the `reconcile_jira` job, which keeps each
//! webhook as prpulse asked for it (re-created when deleted in Jira,
//! repaired when its URL, events or project filter drifted) and rotates
//! the signing secret of those Jira signs.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use prpulse_jira::{IntegrationName, JiraClient, JiraEventKind, WebhookApi, WebhookSpec};
use prpulse_runtime::{ConfigError, Env};
use prpulse_store::{
    Keyring, Pool,
    jira_integrations::{self, JiraIntegration, NewJiraIntegration},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use tracing::{info, warn};

use crate::{
    config::{duration, secure},
    round::{JobError, Ran, Round},
};

#[derive(Clone, Debug)]
pub struct JiraHookSettings {
    /// `PRPULSE_JIRA_PUBLIC_URL`: what Jira posts to, before
    /// `/<integration>[/<token>]`; by default `PRPULSE_PUBLIC_URL` with its
    /// `/github` ending replaced by `/jira`.
    pub hook_base: String,
    /// `PRPULSE_SECRET_ROTATION`, as for GitHub hooks.
    pub rotate_after: Duration,
    /// `PRPULSE_SECRET_OVERLAP`, as for GitHub hooks.
    pub overlap: Duration,
    /// One REST call to Jira.
    pub timeout: Duration,
}

impl JiraHookSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hook_base = match env.get("PRPULSE_JIRA_PUBLIC_URL") {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let github = env.get("PRPULSE_PUBLIC_URL").ok_or(ConfigError::Missing {
                    name: "PRPULSE_JIRA_PUBLIC_URL",
                })?;
                let origin = github.trim_end_matches('/');
                let origin = origin.strip_suffix("/github").unwrap_or(origin);
                format!("{origin}/jira")
            }
        };
        secure(&hook_base, "PRPULSE_JIRA_PUBLIC_URL")?;
        Ok(Self {
            hook_base,
            rotate_after: duration(env, "PRPULSE_SECRET_ROTATION", "90d")?,
            overlap: duration(env, "PRPULSE_SECRET_OVERLAP", "24h")?,
            timeout: Duration::from_secs(20),
        })
    }

    /// What the integration's webhook must be; `credential` is the signing
    /// secret (signed) or the URL token (unsigned).
    pub fn spec(
        &self,
        name: &str,
        api: WebhookApi,
        credential: &[u8],
        projects: &[String],
    ) -> WebhookSpec {
        let credential = String::from_utf8_lossy(credential).into_owned();
        let (url, secret) = match api {
            WebhookApi::Signed => (
                format!("{}/{name}", self.hook_base),
                Some(SecretString::from(credential)),
            ),
            WebhookApi::UrlToken => (format!("{}/{name}/{credential}", self.hook_base), None),
        };
        WebhookSpec {
            name: format!("prpulse {name}"),
            url,
            events: JiraEventKind::SUBSCRIBED.map(str::to_owned).to_vec(),
            projects: projects.to_vec(),
            secret,
        }
    }
}

/// 32 random bytes, hex: a signing secret or a URL token.
pub fn new_credential() -> Vec<u8> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes).into_bytes()
}

pub struct AddedJira {
    pub api: WebhookApi,
    pub webhook_id: i64,
}

/// Registers the webhook, then writes the integration. If Jira refuses,
/// nothing is written; if the write fails, the webhook is deleted again.
pub async fn add(
    settings: &JiraHookSettings,
    pool: &Pool,
    keyring: &Keyring,
    name: &IntegrationName,
    base_url: &str,
    token: SecretString,
    projects: &[String],
) -> anyhow::Result<AddedJira> {
    let client = pool.get().await.context("connecting to the database")?;
    if jira_integrations::get(&client, name.as_str())
        .await?
        .is_some()
    {
        bail!("there is a Jira integration {name} already: remove it first");
    }
    let jira = JiraClient::new(base_url, token.clone(), settings.timeout)?;
    let api = jira
        .webhook_api()
        .await
        .context("asking Jira for its version")?;
    let credential = new_credential();
    let spec = settings.spec(name.as_str(), api, &credential, projects);
    let webhook = jira
        .create_webhook(api, &spec)
        .await
        .context("registering the webhook in Jira")?;
    let (secret, url_token) = match api {
        WebhookApi::Signed => (Some(credential.as_slice()), None),
        WebhookApi::UrlToken => (None, Some(credential.as_slice())),
    };
    let written = jira_integrations::insert(
        &client,
        keyring,
        &NewJiraIntegration {
            name: name.as_str(),
            base_url,
            token: &token,
            webhook_api: api.as_str(),
            webhook_id: webhook.id,
            secret,
            url_token,
            projects,
        },
    )
    .await;
    if let Err(error) = written {
        if let Err(cleanup) = jira.delete_webhook(api, webhook.id).await {
            warn!(%name, webhook_id = webhook.id, error = %cleanup, "could not delete the webhook just registered");
        }
        return Err(error).context("storing the integration (its webhook was deleted again)");
    }
    Ok(AddedJira {
        api,
        webhook_id: webhook.id,
    })
}

/// Deletes the webhook in Jira (already gone is fine), then, in one
/// transaction, the integration and everything it brought in. False if
/// there was no such integration.
pub async fn remove(
    settings: &JiraHookSettings,
    pool: &Pool,
    keyring: &Keyring,
    name: &IntegrationName,
) -> anyhow::Result<bool> {
    let mut client = pool.get().await.context("connecting to the database")?;
    let Some(integration) = jira_integrations::get(&client, name.as_str()).await? else {
        return Ok(false);
    };
    let token = jira_integrations::token(&client, keyring, name.as_str())
        .await?
        .context("the integration's token is gone")?;
    let jira = JiraClient::new(&integration.base_url, token, settings.timeout)?;
    let api = api_of(&integration)?;
    if !jira
        .delete_webhook(api, integration.webhook_id)
        .await
        .context("deleting the webhook in Jira")?
    {
        info!(%name, webhook_id = integration.webhook_id, "the webhook was already gone in Jira");
    }
    let transaction = client.transaction().await?;
    jira_integrations::remove(&transaction, name.as_str()).await?;
    transaction.commit().await?;
    Ok(true)
}

fn api_of(integration: &JiraIntegration) -> anyhow::Result<WebhookApi> {
    WebhookApi::parse(&integration.webhook_api)
        .with_context(|| format!("unknown webhook kind {}", integration.webhook_api))
}

/// What a reconciliation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciled {
    InStep,
    /// Deleted in Jira: registered again (a new id).
    Recreated,
    /// Its URL, events or filter had drifted: put back.
    Repaired,
    /// A new signing secret, the old one valid for the overlap.
    Rotated,
}

pub async fn reconcile(
    settings: &JiraHookSettings,
    pool: &Pool,
    keyring: &Keyring,
    integration: &JiraIntegration,
) -> anyhow::Result<Reconciled> {
    let name = integration.name.as_str();
    let api = api_of(integration)?;
    let mut client = pool.get().await?;
    let token = jira_integrations::token(&client, keyring, name)
        .await?
        .context("the integration's token is gone")?;
    let credential: SecretSlice<u8> = jira_integrations::webhook_credential(&client, keyring, name)
        .await?
        .context("the integration has no webhook secret or token")?;
    let jira = JiraClient::new(&integration.base_url, token, settings.timeout)?;
    let spec = settings.spec(name, api, credential.expose_secret(), &integration.projects);
    let Some(webhook) = jira.webhook(api, integration.webhook_id).await? else {
        let made = jira.create_webhook(api, &spec).await?;
        jira_integrations::set_webhook_id(&client, name, made.id).await?;
        return Ok(Reconciled::Recreated);
    };
    let rotation_due = api == WebhookApi::Signed
        && integration.secret_rotated_at.is_none_or(|at| {
            Utc::now() - at > chrono::Duration::from_std(settings.rotate_after).unwrap_or_default()
        });
    if rotation_due {
        // Stored first, in a transaction that commits only once Jira took
        // the new secret: a refusal leaves both sides on the old one.
        let fresh = new_credential();
        let transaction = client.transaction().await?;
        let overlap_ends =
            Utc::now() + chrono::Duration::from_std(settings.overlap).unwrap_or_default();
        jira_integrations::rotate_secret(&transaction, keyring, name, &fresh, overlap_ends).await?;
        let spec = settings.spec(name, api, &fresh, &integration.projects);
        jira.update_webhook(api, webhook.id, &spec).await?;
        transaction.commit().await?;
        return Ok(Reconciled::Rotated);
    }
    if !webhook.matches(&spec) {
        jira.update_webhook(api, webhook.id, &spec).await?;
        return Ok(Reconciled::Repaired);
    }
    Ok(Reconciled::InStep)
}

/// The `reconcile_jira` job: every integration, each one's outcome (or
/// error, which names Jira's answer) recorded on its row.
pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let scheduler = round.scheduler;
    let integrations = {
        let client = scheduler
            .pool
            .get()
            .await
            .map_err(prpulse_store::StoreError::from)?;
        jira_integrations::list(&client).await?
    };
    if integrations.is_empty() {
        return Ok(Ran::NothingToDo);
    }
    for integration in &integrations {
        round.go_on().await?;
        let outcome = reconcile(
            &scheduler.config.jira,
            &scheduler.pool,
            &scheduler.keyring,
            integration,
        )
        .await;
        let error = match &outcome {
            Ok(Reconciled::InStep) => None,
            Ok(done) => {
                info!(integration = %integration.name, outcome = ?done, "Jira webhook reconciled");
                None
            }
            Err(error) => {
                warn!(integration = %integration.name, error = %format!("{error:#}"), "Jira webhook not reconciled");
                Some(format!("{error:#}"))
            }
        };
        let client = scheduler
            .pool
            .get()
            .await
            .map_err(prpulse_store::StoreError::from)?;
        jira_integrations::set_checked(&client, &integration.name, error.as_deref()).await?;
    }
    Ok(Ran::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jira_url_follows_the_public_url_unless_given() {
        let derived = JiraHookSettings::from_env(&Env::from_pairs([(
            "PRPULSE_PUBLIC_URL",
            "https://prpulse.example.com/webhooks/github",
        )]))
        .unwrap();
        assert_eq!(
            derived.hook_base,
            "https://prpulse.example.com/webhooks/jira"
        );
        let given = JiraHookSettings::from_env(&Env::from_pairs([(
            "PRPULSE_JIRA_PUBLIC_URL",
            "https://hooks.example.com/jira/",
        )]))
        .unwrap();
        assert_eq!(given.hook_base, "https://hooks.example.com/jira");
        let spec = given.spec("acme", WebhookApi::UrlToken, b"tok", &[]);
        assert_eq!(spec.url, "https://hooks.example.com/jira/acme/tok");
        assert!(spec.secret.is_none());
        let spec = given.spec("acme", WebhookApi::Signed, b"sec", &["ABC".into()]);
        assert_eq!(spec.url, "https://hooks.example.com/jira/acme");
        assert_eq!(spec.secret.unwrap().expose_secret(), "sec");
        assert!(JiraHookSettings::from_env(&Env::default()).is_err());
        assert!(
            JiraHookSettings::from_env(&Env::from_pairs([(
                "PRPULSE_JIRA_PUBLIC_URL",
                "http://hooks.example.com/jira"
            )]))
            .is_err()
        );
    }
}
