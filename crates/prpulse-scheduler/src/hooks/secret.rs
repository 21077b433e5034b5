//! Hook secrets: made here, stored (sealed) before GitHub hears of them,
//! and sent to GitHub with the hook's whole desired config.

use chrono::Utc;
use prpulse_github_api::hooks;
use prpulse_store::{
    GenericClient, StoreError,
    secrets::{hook_secrets, set_hook_secret},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::{HookReconciler, HookSite, ReconcileError};

impl HookReconciler<'_> {
    /// Stores `secret` as the hook's only secret.
    pub(super) async fn store_secret(
        &self,
        client: &impl GenericClient,
        hook_id: i64,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        set_hook_secret(
            client,
            self.keyring,
            hook_id,
            secret.expose_secret().as_bytes(),
            None,
        )
        .await
    }

    /// Sends the hook its full desired config with `secret`, and clears
    /// `secret_pending` once GitHub took it.
    pub(super) async fn send_secret(
        &self,
        client: &impl GenericClient,
        site: HookSite<'_>,
        hook_id: i64,
        secret: &SecretString,
    ) -> Result<(), ReconcileError> {
        hooks::update(
            self.github,
            site.owner(),
            hook_id,
            &self.desired(site, secret),
        )
        .await?;
        site.record(client, hook_id, false).await?;
        Ok(())
    }

    pub(super) async fn current_secret(
        &self,
        client: &impl GenericClient,
        hook_id: i64,
    ) -> Result<Option<SecretString>, ReconcileError> {
        let secrets = hook_secrets(client, Some(self.keyring), hook_id, Utc::now())
            .await?
            .unwrap_or_default();
        Ok(secrets.first().map(|secret| {
            SecretString::from(String::from_utf8_lossy(secret.expose_secret()).into_owned())
        }))
    }
}

/// 32 random bytes, hex-encoded: what GitHub's docs recommend for a hook
/// secret (high entropy, printable).
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}
