//! `prpulse`: what operators run by hand (dead letters, migrations,
//! secret keys, integrations, tracked repositories, rebuilds, API tokens,
//! working calendars, reports). Configuration comes from the same
//! `PRPULSE_*` variables as the services.

mod api_tokens;
mod calendars;
mod deploys;
mod dlq;
mod integrations;
mod jira;
mod payloads;
mod rebuild;
mod report;
mod repos;
mod secrets;
mod sources;
mod table;

use clap::{Parser, Subcommand};
use prpulse_runtime::{Env, ServiceConfig};
use secrecy::ExposeSecret;

#[derive(Debug, Parser)]
#[command(name = "prpulse", version, about = "Operate a prpulse installation")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, replay or purge the dead-letter queue.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage the key that encrypts stored secrets.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// The source allow-list (PRPULSE_SOURCE_ALLOWLIST).
    #[command(subcommand)]
    Sources(sources::SourcesCommand),
    /// GitHub accounts prpulse acts for.
    #[command(subcommand)]
    Integration(integrations::IntegrationCommand),
    /// Repositories prpulse tracks (their webhooks).
    #[command(subcommand)]
    Repo(repos::RepoCommand),
    /// Raw payloads: move those stored before V18 into their partitions.
    #[command(subcommand)]
    Payloads(payloads::PayloadsCommand),
    /// Recompute the projection (pull requests, reviews, people, metrics)
    /// from the stored raw payloads, beside running workers. Resumable.
    Rebuild(rebuild::RebuildArgs),
    /// Bearer tokens for prpulse-api (stored hashed).
    #[command(subcommand)]
    ApiToken(api_tokens::ApiTokenCommand),
    /// Working calendars for business hours (per team and a default).
    #[command(subcommand)]
    Calendar(calendars::CalendarCommand),
    /// The summary of prpulse-api's /api/v1/summary, in a terminal.
    Report(report::ReportArgs),
}

pub async fn run(cli: Cli, env: &Env) -> anyhow::Result<()> {
    match cli.command {
        Command::Repo(command) => return repos::repo(command, env).await,
        Command::Integration(command) => return integrations::run(command, env).await,
        _ => {}
    }
    let service = ServiceConfig::from_env(env, 0)?;
    match cli.command {
        Command::Repo(_) | Command::Integration(_) => unreachable!("handled above"),
        Command::Rebuild(args) => rebuild::run(args, &service, env).await,
        Command::Dlq(command) => dlq::run(command, &service).await,
        Command::Payloads(command) => payloads::run(command, &service).await,
        Command::Secrets(command) => secrets::run(command, &service).await,
        Command::Sources(command) => sources::run(command, &service).await,
        Command::ApiToken(command) => api_tokens::run(command, &service).await,
        Command::Calendar(command) => calendars::run(command, &service).await,
        Command::Report(args) => report::run(args, &service).await,
        Command::Migrate => {
            prpulse_store::migrate::migrate(service.database_url.expose_secret()).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}
