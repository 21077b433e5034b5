//! Integrations: the GitHub accounts prpulse acts for, how it
//! authenticates as each (a token, or a GitHub App installation), and the
//! organisation webhook it keeps for team and membership events.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    Keyring, StoreError,
    sealed::{Credential, SealedPlace},
    secrets,
};

/// How prpulse authenticates to GitHub for an account. Secrets are
/// sealed under the keyring before they reach the database.
#[derive(Clone, Debug)]
pub enum IntegrationCredentials {
    Token(SecretString),
    App {
        app_id: i64,
        installation_id: i64,
        /// The app's private key (PEM).
        private_key: SecretString,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    Organization,
    User,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::User => "user",
        }
    }
}

/// An integration as the scheduler and `prpulse integration list` see it
/// (no secrets).
#[derive(Clone, Debug)]
pub struct Integration {
    pub account: String,
    pub kind: AccountKind,
    /// `token` or `app`.
    pub auth: String,
    pub org_hook_id: Option<i64>,
    pub org_hook_secret_pending: bool,
    pub org_hook_error: Option<String>,
    pub org_hook_reconciled_at: Option<DateTime<Utc>>,
}

/// Adds an integration, or replaces its kind and credentials.
pub async fn upsert(
    client: &impl GenericClient,
    keyring: &Keyring,
    account: &str,
    kind: AccountKind,
    credentials: &IntegrationCredentials,
) -> Result<(), StoreError> {
    let (auth, token, app_id, installation_id, private_key) = match credentials {
        IntegrationCredentials::Token(token) => (
            "token",
            Some(keyring.seal(
                &SealedPlace::credential(Credential::Token, account),
                token.expose_secret().as_bytes(),
            )),
            None,
            None,
            None,
        ),
        IntegrationCredentials::App {
            app_id,
            installation_id,
            private_key,
        } => (
            "app",
            None,
            Some(*app_id),
            Some(*installation_id),
            Some(keyring.seal(
                &SealedPlace::credential(Credential::AppPrivateKey, account),
                private_key.expose_secret().as_bytes(),
            )),
        ),
    };
    client
        .execute(
            "INSERT INTO integrations (account, kind, auth, token, app_id, installation_id, private_key)
             VALUES (lower($1), $2, $3, $4, $5, $6, $7)
             ON CONFLICT (account) DO UPDATE SET
                 kind = EXCLUDED.kind, auth = EXCLUDED.auth, token = EXCLUDED.token,
                 app_id = EXCLUDED.app_id, installation_id = EXCLUDED.installation_id,
                 private_key = EXCLUDED.private_key",
            &[
                &account,
                &kind.as_str(),
                &auth,
                &token,
                &app_id,
                &installation_id,
                &private_key,
            ],
        )
        .await?;
    Ok(())
}

/// The credentials of `account`'s integration, if there is one.
pub async fn credentials(
    client: &impl GenericClient,
    keyring: &Keyring,
    account: &str,
) -> Result<Option<IntegrationCredentials>, StoreError> {
    let row = client
        .query_opt(
            "SELECT auth, token, app_id, installation_id, private_key, account
             FROM integrations WHERE account = lower($1)",
            &[&account],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    // The row's own key names the place, not the caller's spelling of it.
    let stored_account: &str = row.get(5);
    let open = |credential, sealed: Option<&[u8]>| -> Result<SecretString, StoreError> {
        let plain = keyring.open(
            &SealedPlace::credential(credential, stored_account),
            sealed.unwrap_or_default(),
        )?;
        Ok(SecretString::from(
            String::from_utf8_lossy(plain.expose_secret()).into_owned(),
        ))
    };
    Ok(Some(match row.get::<_, &str>(0) {
        "app" => IntegrationCredentials::App {
            app_id: row.get(2),
            installation_id: row.get(3),
            private_key: open(Credential::AppPrivateKey, row.get(4))?,
        },
        _ => IntegrationCredentials::Token(open(Credential::Token, row.get(1))?),
    }))
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<Integration>, StoreError> {
    Ok(client
        .query(
            "SELECT account, kind, auth, org_hook_id, org_hook_secret_pending, org_hook_error,
                    org_hook_reconciled_at
             FROM integrations ORDER BY account",
            &[],
        )
        .await?
        .iter()
        .map(|row| Integration {
            account: row.get(0),
            kind: match row.get::<_, &str>(1) {
                "user" => AccountKind::User,
                _ => AccountKind::Organization,
            },
            auth: row.get(2),
            org_hook_id: row.get(3),
            org_hook_secret_pending: row.get(4),
            org_hook_error: row.get(5),
            org_hook_reconciled_at: row.get(6),
        })
        .collect())
}

/// The integrations that are organisations (their hooks and teams).
pub async fn organizations(client: &impl GenericClient) -> Result<Vec<Integration>, StoreError> {
    Ok(list(client)
        .await?
        .into_iter()
        .filter(|integration| integration.kind == AccountKind::Organization)
        .collect())
}

/// Records the organisation's hook and whether GitHub may lack its secret.
pub async fn set_org_hook(
    client: &impl GenericClient,
    account: &str,
    hook_id: i64,
    secret_pending: bool,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE integrations
             SET org_hook_id = $2, org_hook_secret_pending = $3, org_hook_error = NULL,
                 org_hook_reconciled_at = now()
             WHERE account = $1",
            &[&account, &hook_id, &secret_pending],
        )
        .await?;
    Ok(())
}

/// Records why the organisation has no working hook (kept until one works).
pub async fn set_org_hook_error(
    client: &impl GenericClient,
    account: &str,
    error: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE integrations SET org_hook_error = $2, org_hook_reconciled_at = now()
             WHERE account = $1",
            &[&account, &error],
        )
        .await?;
    Ok(())
}

/// Deletes an integration and the secrets of its organisation hook. Fails
/// (a foreign key) while a repository of the account is still tracked.
pub async fn delete(
    client: &impl GenericClient,
    account: &str,
    org_hook_id: Option<i64>,
) -> Result<(), StoreError> {
    if let Some(hook_id) = org_hook_id {
        secrets::forget_hook(client, hook_id).await?;
    }
    client
        .execute(
            "DELETE FROM integrations WHERE account = lower($1)",
            &[&account],
        )
        .await?;
    Ok(())
}
