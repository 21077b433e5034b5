//! `prpulse integration add|list|remove`: the GitHub accounts prpulse acts for.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use prpulse_runtime::{Env, ServiceConfig};
use prpulse_scheduler::{config::HookCommandSettings, github::client_for, hooks::HookReconciler};
use prpulse_store::{
    connect_pool,
    integrations::{self, AccountKind, IntegrationCredentials},
    tracking,
};
use secrecy::{ExposeSecret, SecretString};

use crate::{repos::keyring, table};

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Add a GitHub organisation or user prpulse may act for, or replace
    /// its credentials: a token (read from stdin with `--token-stdin` or
    /// from PRPULSE_GITHUB_TOKEN, never from the command line), or a
    /// GitHub App installation (`--app-id`, `--installation-id`,
    /// `--private-key-file`; prpulse mints the hourly installation tokens).
    /// Stored encrypted under PRPULSE_SECRET_KEY.
    Add(AddIntegration),
    /// Integrations, how prpulse authenticates, and their organisation hook.
    List,
    /// Add a Jira Server / Data Center instance: registers its webhook in
    /// Jira (signed on Data Center 10+, else with a random token in the
    /// URL) and saves the integration only once Jira confirmed it.
    AddJira(crate::jira::AddJira),
    /// Remove an integration and its organisation hook (on GitHub too).
    /// Untrack its repositories first. A Jira integration's webhook is
    /// deleted in Jira, with its issues and deliveries here.
    Remove { account: String },
}

#[derive(Debug, Args)]
pub struct AddIntegration {
    /// The organisation or user login.
    account: String,
    #[arg(long, value_enum, default_value_t = Kind::Organization)]
    kind: Kind,
    /// Read the token from standard input.
    #[arg(long, conflicts_with = "app_id")]
    token_stdin: bool,
    /// Act as this GitHub App (its numeric id).
    #[arg(long, requires_all = ["installation_id", "private_key_file"])]
    app_id: Option<i64>,
    /// The app's installation on this account.
    #[arg(long, requires = "app_id")]
    installation_id: Option<i64>,
    /// The app's private key, as GitHub lets you download it (PEM).
    #[arg(long, requires = "app_id")]
    private_key_file: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    Organization,
    User,
}

pub async fn run(command: IntegrationCommand, env: &Env) -> anyhow::Result<()> {
    if let IntegrationCommand::Remove { account } = &command {
        if crate::jira::remove(env, account).await? {
            return Ok(());
        }
        return remove(env, account).await;
    }
    if let IntegrationCommand::AddJira(add) = &command {
        return crate::jira::add(env, add).await;
    }
    let service = &ServiceConfig::from_env(env, 0)?;
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let client = pool.get().await.context("connecting to the database")?;
    match command {
        IntegrationCommand::Add(add) => {
            let credentials = read_credentials(&add)?;
            // Refuse a key the scheduler could not sign with, now rather
            // than at its next run.
            prpulse_scheduler::github::credentials(&credentials)?;
            let kind = match add.kind {
                Kind::Organization => AccountKind::Organization,
                Kind::User => AccountKind::User,
            };
            integrations::upsert(&client, keyring(service)?, &add.account, kind, &credentials)
                .await?;
            let auth = match credentials {
                IntegrationCredentials::Token(_) => "token",
                IntegrationCredentials::App { .. } => "GitHub App",
            };
            println!(
                "integration {} ({}, {auth}) saved",
                add.account.to_lowercase(),
                kind.as_str()
            );
        }
        IntegrationCommand::List => {
            let rows: Vec<Vec<String>> = integrations::list(&client)
                .await?
                .into_iter()
                .map(|integration| {
                    let org_hook = match (integration.kind, integration.org_hook_id) {
                        (AccountKind::User, _) => "-".to_owned(),
                        (_, Some(id)) => id.to_string(),
                        (_, None) => "none".to_owned(),
                    };
                    vec![
                        integration.account,
                        integration.kind.as_str().to_owned(),
                        integration.auth,
                        org_hook,
                        integration.org_hook_error.unwrap_or_default(),
                    ]
                })
                .collect();
            println!(
                "{}",
                table::render(
                    &["ACCOUNT", "KIND", "AUTH", "ORG HOOK", "ORG HOOK ERROR"],
                    &rows
                )
            );
            crate::jira::list(&client).await?;
        }
        IntegrationCommand::Remove { .. } | IntegrationCommand::AddJira(_) => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

async fn remove(env: &Env, account: &str) -> anyhow::Result<()> {
    let account = account.to_lowercase();
    let config = HookCommandSettings::from_env(env)?;
    let keyring = keyring(&config.service)?;
    let pool = connect_pool(
        config.service.database_url.expose_secret(),
        &config.service.pool,
    )?;
    let client = pool.get().await.context("connecting to the database")?;
    let integration = integrations::list(&client)
        .await?
        .into_iter()
        .find(|integration| integration.account == account)
        .with_context(|| format!("there is no integration {account}"))?;
    let tracked: Vec<String> = tracking::repositories(&client)
        .await?
        .into_iter()
        .filter(|repo| repo.account == account)
        .map(|repo| repo.full_name.to_string())
        .collect();
    if !tracked.is_empty() {
        bail!(
            "{account} still has tracked repositories ({}): untrack them first",
            tracked.join(", ")
        );
    }
    let github = client_for(&config.github, &client, keyring, &account).await?;
    HookReconciler::new(&config.hooks, &github, &pool, keyring)
        .remove_integration(&integration)
        .await
        .with_context(|| format!("removing the organisation hook of {account}"))?;
    println!("integration {account} removed");
    Ok(())
}

fn read_credentials(add: &AddIntegration) -> anyhow::Result<IntegrationCredentials> {
    if let (Some(app_id), Some(installation_id), Some(path)) =
        (add.app_id, add.installation_id, &add.private_key_file)
    {
        let private_key = std::fs::read_to_string(path)
            .with_context(|| format!("reading the private key {}", path.display()))?;
        return Ok(IntegrationCredentials::App {
            app_id,
            installation_id,
            private_key: SecretString::from(private_key),
        });
    }
    let token = if add.token_stdin {
        let mut token = String::new();
        std::io::stdin().read_to_string(&mut token)?;
        token.trim().to_owned()
    } else {
        std::env::var("PRPULSE_GITHUB_TOKEN").unwrap_or_default()
    };
    if token.is_empty() {
        bail!(
            "no credentials: pipe a token with --token-stdin, set PRPULSE_GITHUB_TOKEN, \
             or give --app-id, --installation-id and --private-key-file"
        );
    }
    Ok(IntegrationCredentials::Token(SecretString::from(token)))
}
