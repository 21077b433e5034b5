//! A GitHub client for an integration, from its stored credentials.

use std::time::Duration;

use anyhow::Context;
use prpulse_github_api::{AppInstallation, ClientSettings, Credentials, GitHubClient};
use prpulse_store::{
    GenericClient, Keyring,
    integrations::{self, IntegrationCredentials},
};
use secrecy::ExposeSecret;

use crate::config::GitHubSettings;

/// GitHub answers in well under this; a hung connection must not stall a
/// scheduler round for longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The client that acts for `account`, or an error that tells the
/// operator how to add its integration.
pub async fn client_for(
    settings: &GitHubSettings,
    client: &impl GenericClient,
    keyring: &Keyring,
    account: &str,
) -> anyhow::Result<GitHubClient> {
    client_with(
        settings,
        &stored_credentials(client, keyring, account).await?,
        account,
    )
}

/// `account`'s stored credentials; an error that names the command to run
/// when it has no integration.
pub async fn stored_credentials(
    client: &impl GenericClient,
    keyring: &Keyring,
    account: &str,
) -> anyhow::Result<IntegrationCredentials> {
    integrations::credentials(client, keyring, account)
        .await?
        .with_context(|| {
            format!("no integration for {account}: run `prpulse integration add {account}`")
        })
}

/// A client acting with `stored`, the credentials of `account`.
pub fn client_with(
    settings: &GitHubSettings,
    stored: &IntegrationCredentials,
    account: &str,
) -> anyhow::Result<GitHubClient> {
    Ok(GitHubClient::new(ClientSettings {
        base_url: settings.api_url.clone(),
        credentials: credentials(stored)
            .with_context(|| format!("the integration of {account}"))?,
        timeout: REQUEST_TIMEOUT,
        max_rate_limit_wait: settings.max_wait,
    })?)
}

/// Whether two stored credentials are the same (a client built from one
/// may go on acting for the other).
pub fn same_credentials(a: &IntegrationCredentials, b: &IntegrationCredentials) -> bool {
    match (a, b) {
        (IntegrationCredentials::Token(a), IntegrationCredentials::Token(b)) => {
            a.expose_secret() == b.expose_secret()
        }
        (
            IntegrationCredentials::App {
                app_id,
                installation_id,
                private_key,
            },
            IntegrationCredentials::App {
                app_id: other_app,
                installation_id: other_installation,
                private_key: other_key,
            },
        ) => {
            app_id == other_app
                && installation_id == other_installation
                && private_key.expose_secret() == other_key.expose_secret()
        }
        _ => false,
    }
}

/// What the client sends, from what is stored.
pub fn credentials(stored: &IntegrationCredentials) -> anyhow::Result<Credentials> {
    Ok(match stored {
        IntegrationCredentials::Token(token) => Credentials::Token(token.clone()),
        IntegrationCredentials::App {
            app_id,
            installation_id,
            private_key,
        } => Credentials::App(AppInstallation::new(
            u64::try_from(*app_id).context("a negative app id")?,
            u64::try_from(*installation_id).context("a negative installation id")?,
            private_key,
        )?),
    })
}
