use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use prpulse_runtime::ServiceConfig;
use prpulse_store::{
    connect_pool,
    sources::{all_networks, replace_networks},
};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// The networks ingest accepts when PRPULSE_SOURCE_ALLOWLIST is on.
    List,
    /// Replace the `github` networks with the `hooks` ranges of a saved
    /// response of GitHub's REST /meta endpoint
    /// (`curl https://api.github.com/meta > meta.json`).
    LoadGithubMeta { file: PathBuf },
}

pub async fn run(command: SourcesCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let mut client = pool.get().await.context("connecting to the database")?;
    match command {
        SourcesCommand::List => {
            let rows: Vec<Vec<String>> = all_networks(&client)
                .await?
                .into_iter()
                .map(|(origin, network)| vec![origin, network])
                .collect();
            println!("{}", table::render(&["ORIGIN", "NETWORK"], &rows));
        }
        SourcesCommand::LoadGithubMeta { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let networks = hook_ranges(&text)?;
            let transaction = client.transaction().await?;
            replace_networks(&transaction, "github", &networks).await?;
            transaction.commit().await?;
            println!("loaded {} GitHub hook networks", networks.len());
        }
    }
    Ok(())
}

/// The `hooks` CIDRs of a /meta response, each checked.
fn hook_ranges(meta: &str) -> anyhow::Result<Vec<String>> {
    let meta: Value = serde_json::from_str(meta).context("the file is not JSON")?;
    let Some(hooks) = meta.get("hooks").and_then(Value::as_array) else {
        bail!("no \"hooks\" list: is this GitHub's /meta response?");
    };
    if hooks.is_empty() {
        bail!("the \"hooks\" list is empty; refusing to empty the allow-list");
    }
    hooks
        .iter()
        .map(|range| {
            let text = range.as_str().context("a hooks entry is not a string")?;
            text.parse::<ipnet::IpNet>()
                .with_context(|| format!("{text:?} is not a CIDR"))?;
            Ok(text.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hooks_ranges_of_a_meta_response() {
        let meta = r#"{"verifiable_password_authentication": false,
                       "hooks": ["192.30.252.0/22", "2a0a:a440::/29"],
                       "web": ["140.82.112.0/20"]}"#;
        assert_eq!(
            hook_ranges(meta).unwrap(),
            ["192.30.252.0/22", "2a0a:a440::/29"]
        );
        assert!(hook_ranges(r#"{"hooks": []}"#).is_err());
        assert!(hook_ranges(r#"{"hooks": ["nope"]}"#).is_err());
        assert!(hook_ranges(r#"{"web": []}"#).is_err());
    }
}
