//! `prpulse integration add-jira`, and the Jira side of `integration list`
//! and `remove`: Jira Server / Data Center instances prpulse receives
//! issue events from (`prpulse_scheduler::jobs::jira` does the work).

use std::io::Read;

use anyhow::{Context, bail};
use clap::Args;
use prpulse_jira::{IntegrationName, WebhookApi};
use prpulse_runtime::{Env, ServiceConfig};
use prpulse_scheduler::jobs::jira::{self, JiraHookSettings};
use prpulse_store::{connect_pool, integrations, jira_integrations};
use secrecy::{ExposeSecret, SecretString};

use crate::{repos::keyring, table};

#[derive(Debug, Args)]
pub struct AddJira {
    /// The integration's name: its webhook URL ends in it.
    name: String,
    /// The Jira base URL, e.g. https://jira.example.com (https unless loopback).
    #[arg(long)]
    url: String,
    /// Read the Jira personal access token (of a Jira administrator) from
    /// standard input; without it, from PRPULSE_JIRA_TOKEN (never from the
    /// command line).
    #[arg(long)]
    token_stdin: bool,
    /// Only issues of this project (repeat for more); none is every project.
    #[arg(long = "project", value_name = "KEY")]
    projects: Vec<String>,
}

pub async fn add(env: &Env, add: &AddJira) -> anyhow::Result<()> {
    let name = IntegrationName::parse(&add.name)?;
    let projects = add
        .projects
        .iter()
        .map(|key| project_key(key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let token = if add.token_stdin {
        let mut token = String::new();
        std::io::stdin().read_to_string(&mut token)?;
        token.trim().to_owned()
    } else {
        env.get("PRPULSE_JIRA_TOKEN")
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    if token.is_empty() {
        bail!(
            "no token: pipe a Jira personal access token with --token-stdin, or set PRPULSE_JIRA_TOKEN"
        );
    }
    let service = ServiceConfig::from_env(env, 0)?;
    let settings = JiraHookSettings::from_env(env)?;
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let client = pool.get().await.context("connecting to the database")?;
    if integrations::list(&client)
        .await?
        .iter()
        .any(|github| github.account == name.as_str())
    {
        bail!("{name} names a GitHub integration already; pick another name");
    }
    let base_url = add.url.trim_end_matches('/');
    let added = jira::add(
        &settings,
        &pool,
        keyring(&service)?,
        &name,
        base_url,
        SecretString::from(token),
        &projects,
    )
    .await?;
    let how = match added.api {
        WebhookApi::Signed => "signed deliveries",
        WebhookApi::UrlToken => "unsigned, token in the URL",
    };
    println!(
        "Jira integration {name} saved: webhook {} in {base_url} ({how})",
        added.webhook_id
    );
    Ok(())
}

/// Jira project keys are upper-case letters, digits and `_`, starting
/// with a letter: the key pattern prpulse links by.
fn project_key(raw: &str) -> anyhow::Result<String> {
    let key = raw.trim().to_ascii_uppercase();
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && key.len() >= 2
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!("{raw:?} is not a Jira project key");
    }
    Ok(key)
}

/// Removes the Jira integration `name` if there is one: true then.
pub async fn remove(env: &Env, name: &str) -> anyhow::Result<bool> {
    let Ok(name) = IntegrationName::parse(name) else {
        return Ok(false);
    };
    let service = ServiceConfig::from_env(env, 0)?;
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    {
        let client = pool.get().await.context("connecting to the database")?;
        if jira_integrations::get(&client, name.as_str())
            .await?
            .is_none()
        {
            return Ok(false);
        }
    }
    let settings = JiraHookSettings::from_env(env)?;
    jira::remove(&settings, &pool, keyring(&service)?, &name).await?;
    println!("Jira integration {name} removed, with its webhook, issues and deliveries");
    Ok(true)
}

/// The Jira integrations, after the GitHub ones.
pub async fn list(client: &impl prpulse_store::GenericClient) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = jira_integrations::list(client)
        .await?
        .into_iter()
        .map(|jira| {
            vec![
                jira.name,
                jira.base_url,
                jira.webhook_api,
                jira.webhook_id.to_string(),
                jira.projects.join(","),
                jira.last_error.unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        println!(
            "\n{}",
            table::render(
                &[
                    "JIRA",
                    "URL",
                    "WEBHOOK",
                    "WEBHOOK ID",
                    "PROJECTS",
                    "LAST ERROR"
                ],
                &rows
            )
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_upper_cased_and_checked() {
        assert_eq!(project_key("abc").unwrap(), "ABC");
        assert_eq!(project_key("OPS_2").unwrap(), "OPS_2");
        for bad in ["", "A", "1AB", "A-B", "AB C"] {
            assert!(project_key(bad).is_err(), "{bad}");
        }
    }
}
