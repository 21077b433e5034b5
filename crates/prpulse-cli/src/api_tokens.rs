use anyhow::{Context, bail};
use clap::Subcommand;
use prpulse_runtime::ServiceConfig;
use prpulse_store::{
    api_tokens::{create_token, generate_token, list_tokens, revoke_token},
    connect_pool,
};
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Make a token for prpulse-api and print it, once: only its hash is
    /// stored, so it cannot be shown again.
    Create { name: String },
    /// Every token by name, with when it was made and revoked.
    List,
    /// Revoke the active token NAME: prpulse-api refuses it at once.
    Revoke { name: String },
}

pub async fn run(command: ApiTokenCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let client = pool.get().await.context("connecting to the database")?;
    match command {
        ApiTokenCommand::Create { name } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 100 {
                bail!("a token's name is 1 to 100 characters");
            }
            let token = generate_token();
            create_token(&client, name, &token).await?;
            eprintln!("token {name:?} created; it is shown once, keep it somewhere safe:");
            println!("{}", token.expose_secret());
        }
        ApiTokenCommand::List => {
            let rows: Vec<Vec<String>> = list_tokens(&client)
                .await?
                .into_iter()
                .map(|token| {
                    vec![
                        token.name,
                        token.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        token
                            .revoked_at
                            .map(|at| format!("revoked {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
                            .unwrap_or_else(|| "active".into()),
                    ]
                })
                .collect();
            println!("{}", table::render(&["NAME", "CREATED", "STATE"], &rows));
        }
        ApiTokenCommand::Revoke { name } => {
            if !revoke_token(&client, &name).await? {
                bail!("no active token is named {name:?}");
            }
            println!("revoked token {name:?}");
        }
    }
    Ok(())
}
