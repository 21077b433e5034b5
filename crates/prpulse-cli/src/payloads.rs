use anyhow::Context;
use clap::Subcommand;
use prpulse_domain::PayloadEncoding;
use prpulse_runtime::ServiceConfig;
use prpulse_store::{connect_pool, payloads};
use secrecy::ExposeSecret;

#[derive(Debug, Subcommand)]
pub enum PayloadsCommand {
    /// Move the raw payloads stored before V18 (in `deliveries.payload`)
    /// into the month-partitioned `delivery_payloads`, lz4-compressed,
    /// online: small transactions that skip rows another mover holds, beside
    /// running workers. Safe to interrupt and run again.
    Migrate {
        /// Payloads per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

pub async fn run(command: PayloadsCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let mut client = pool.get().await.context("connecting to the database")?;
    match command {
        PayloadsCommand::Migrate { batch } => {
            let waiting = payloads::count_legacy_payloads(&client).await?;
            println!("{waiting} payloads to move");
            let mut moved = 0;
            loop {
                let transaction = client.transaction().await?;
                let step = payloads::move_legacy_payloads(
                    &transaction,
                    batch.max(1),
                    PayloadEncoding::Lz4,
                )
                .await?;
                transaction.commit().await?;
                if step == 0 {
                    break;
                }
                moved += step;
            }
            println!("moved {moved} payloads; none left in deliveries.payload");
        }
    }
    Ok(())
}
