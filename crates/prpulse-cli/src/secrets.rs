use anyhow::{Context, bail};
use clap::Subcommand;
use prpulse_runtime::ServiceConfig;
use prpulse_store::{SecretKey, connect_pool, secrets::reencrypt_all};
use secrecy::ExposeSecret;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a fresh PRPULSE_SECRET_KEY (64 hex digits).
    GenerateKey,
    /// Re-encrypt every stored secret under PRPULSE_SECRET_KEY.
    ///
    /// Without downtime: 1. give every service the new key as
    /// PRPULSE_SECRET_KEY and the old one as PRPULSE_PREVIOUS_SECRET_KEY;
    /// 2. run this with the same two; 3. drop PRPULSE_PREVIOUS_SECRET_KEY.
    RotateKey,
}

pub async fn run(command: SecretsCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    match command {
        SecretsCommand::GenerateKey => println!("{}", SecretKey::generate_hex()),
        SecretsCommand::RotateKey => {
            let Some(keyring) = &service.secret_key else {
                bail!(
                    "set PRPULSE_SECRET_KEY to the new key and PRPULSE_PREVIOUS_SECRET_KEY to the old one"
                );
            };
            if !keyring.is_rotating() {
                bail!(
                    "set PRPULSE_PREVIOUS_SECRET_KEY to the key the secrets are encrypted with now"
                );
            }
            let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
            let mut client = pool.get().await.context("connecting to the database")?;
            let transaction = client.transaction().await?;
            let count = reencrypt_all(&transaction, keyring)
                .await
                .context("re-encrypting (nothing was changed)")?;
            transaction.commit().await?;
            println!("re-encrypted the secrets of {count} hooks under the new key");
        }
    }
    Ok(())
}
