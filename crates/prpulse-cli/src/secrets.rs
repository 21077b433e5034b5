use anyhow::{Context, bail};
use clap::Subcommand;
use prpulse_runtime::ServiceConfig;
use prpulse_store::{
    Keyring, SecretKey, connect_pool,
    rekey::{self, ColumnResealed, Listing},
};
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a fresh PRPULSE_SECRET_KEY (64 hex digits).
    GenerateKey,
    /// Re-seal every stored secret (hook secrets, tokens, App private keys)
    /// under PRPULSE_SECRET_KEY, each bound to its row.
    ///
    /// Without downtime: 1. give every service the new key as
    /// PRPULSE_SECRET_KEY and the old one as PRPULSE_PREVIOUS_SECRET_KEY;
    /// 2. run this with the same two; 3. `prpulse secrets check` with the new
    /// key alone; 4. drop PRPULSE_PREVIOUS_SECRET_KEY. One transaction: it
    /// changes nothing unless afterwards every value opens with the new key.
    RotateKey,
    /// Re-seal under PRPULSE_SECRET_KEY without a key change: binds values
    /// stored before secrets were bound to their rows (rotate-key does too).
    Reseal,
    /// Prove every stored secret opens with PRPULSE_SECRET_KEY and is bound
    /// to its row; name those that do not (and exit 1).
    Check,
}

pub async fn run(command: SecretsCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    match command {
        SecretsCommand::GenerateKey => println!("{}", SecretKey::generate_hex()),
        SecretsCommand::RotateKey => {
            let keyring = keyring(service)?;
            if !keyring.is_rotating() {
                bail!(
                    "set PRPULSE_PREVIOUS_SECRET_KEY to the key the secrets are encrypted with now"
                );
            }
            reseal(service, keyring).await?;
        }
        SecretsCommand::Reseal => reseal(service, keyring(service)?).await?,
        SecretsCommand::Check => {
            let keyring = keyring(service)?;
            let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
            let client = pool.get().await.context("connecting to the database")?;
            let stale = rekey::check(&client, keyring).await?;
            if !stale.is_empty() {
                bail!(
                    "{} sealed value(s) do not open with PRPULSE_SECRET_KEY alone, bound to their row:\n{}",
                    stale.len(),
                    Listing(&stale)
                );
            }
            println!("every sealed value opens with PRPULSE_SECRET_KEY, bound to its row");
        }
    }
    Ok(())
}

fn keyring(service: &ServiceConfig) -> anyhow::Result<&Keyring> {
    match &service.secret_key {
        Some(keyring) => Ok(keyring),
        None => bail!(
            "set PRPULSE_SECRET_KEY (to the new key, and PRPULSE_PREVIOUS_SECRET_KEY to the old one, for a rotation)"
        ),
    }
}

async fn reseal(service: &ServiceConfig, keyring: &Keyring) -> anyhow::Result<()> {
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let mut client = pool.get().await.context("connecting to the database")?;
    let transaction = client.transaction().await?;
    let report = rekey::reseal_all(&transaction, keyring).await?;
    transaction
        .commit()
        .await
        .context("committing (nothing was changed)")?;
    println!("{}", render(&report));
    println!("every sealed value opens with PRPULSE_SECRET_KEY alone, bound to its row");
    Ok(())
}

fn render(report: &[ColumnResealed]) -> String {
    let rows: Vec<Vec<String>> = report
        .iter()
        .map(|column| {
            vec![
                column.column.to_string(),
                column.resealed.to_string(),
                column.up_to_date.to_string(),
            ]
        })
        .collect();
    table::render(&["COLUMN", "RE-SEALED", "ALREADY UP TO DATE"], &rows)
}
