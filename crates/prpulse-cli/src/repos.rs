use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use prpulse_domain::RepoFullName;
use prpulse_github_api::GitHubClient;
use prpulse_runtime::{Env, ServiceConfig};
use prpulse_scheduler::{
    config::HookCommandSettings,
    github::client_for,
    hooks::{HookReconciler, HookSite},
};
use prpulse_store::{
    Keyring, connect_pool,
    tracking::{self, TrackState},
};
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Track a repository: install prpulse's webhook now, then keep it.
    Track { repository: String },
    /// Stop tracking a repository: remove prpulse's webhook now.
    Untrack { repository: String },
    /// Tracked repositories and the state of their webhooks.
    List,
    /// Publish a repository's pull requests and reviews updated since a
    /// date as synthetic deliveries (the workers project them). Running it
    /// twice changes nothing: the delivery ids are deterministic.
    Backfill {
        repository: String,
        /// `YYYY-MM-DD` or an RFC 3339 time.
        #[arg(long)]
        since: String,
    },
    /// What counts as a production deploy (a workflow on a branch, or an
    /// environment pattern) and the incident label; shows where deploys
    /// come from (`source = merge` without either).
    Deploys(crate::deploys::DeploysArgs),
}

pub(crate) fn keyring(service: &ServiceConfig) -> anyhow::Result<&Keyring> {
    service
        .secret_key
        .as_ref()
        .context("PRPULSE_SECRET_KEY is required to store tokens and webhook secrets")
}

pub async fn repo(command: RepoCommand, env: &Env) -> anyhow::Result<()> {
    match command {
        RepoCommand::List => {
            let service = ServiceConfig::from_env(env, 0)?;
            let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
            let client = pool.get().await.context("connecting to the database")?;
            let rows: Vec<Vec<String>> = tracking::repositories(&client)
                .await?
                .into_iter()
                .map(|repo| {
                    vec![
                        repo.full_name.to_string(),
                        repo.state.as_str().to_owned(),
                        repo.hook_id.map_or("-".into(), |id| id.to_string()),
                        repo.last_error.unwrap_or_default(),
                    ]
                })
                .collect();
            println!(
                "{}",
                table::render(&["REPOSITORY", "STATE", "HOOK", "LAST ERROR"], &rows)
            );
            Ok(())
        }
        RepoCommand::Backfill { repository, since } => run_backfill(env, &repository, &since).await,
        RepoCommand::Deploys(args) => crate::deploys::deploys(args, env).await,
        RepoCommand::Track { repository } => change(env, &repository, true).await,
        RepoCommand::Untrack { repository } => change(env, &repository, false).await,
    }
}

/// What a command on one repository needs: its normalised name, the
/// scheduler's configuration, the database, and GitHub with the token of
/// the repository owner's integration.
struct RepoContext {
    repo: RepoFullName,
    /// `repo.key()`: how the database knows it.
    name: String,
    config: HookCommandSettings,
    pool: prpulse_store::Pool,
    github: GitHubClient,
}

async fn repo_context(env: &Env, repository: &str) -> anyhow::Result<RepoContext> {
    let repo = RepoFullName::parse(repository)?;
    let name = repo.key();
    let config = HookCommandSettings::from_env(env)?;
    let pool = connect_pool(
        config.service.database_url.expose_secret(),
        &config.service.pool,
    )?;
    let client = pool.get().await.context("connecting to the database")?;
    let github = client_for(
        &config.github,
        &client,
        keyring(&config.service)?,
        repo.owner(),
    )
    .await?;
    drop(client);
    Ok(RepoContext {
        repo,
        name,
        config,
        pool,
        github,
    })
}

/// Records the wish, then reconciles that one repository at once, so the
/// operator sees GitHub's answer (a missing scope, say) right away. The
/// scheduler keeps it so from then on.
async fn change(env: &Env, repository: &str, track: bool) -> anyhow::Result<()> {
    let RepoContext {
        repo,
        name,
        config,
        pool,
        github,
    } = repo_context(env, repository).await?;
    let client = pool.get().await.context("connecting to the database")?;
    if track {
        tracking::track(&client, &repo).await?;
    } else if !tracking::untrack(&client, &repo).await? {
        bail!("{name} is not tracked");
    }
    let repo = tracking::repository(&client, &repo)
        .await?
        .context("the repository vanished while being changed")?;
    let reconciler = HookReconciler::new(&config.hooks, &github, &pool, keyring(&config.service)?);
    match reconciler.reconcile(HookSite::Repository(&repo)).await {
        Ok(outcome) => {
            let state = if repo.state == TrackState::Untracking {
                "untracked"
            } else {
                "tracked"
            };
            println!("{name}: {state} ({outcome:?})");
            Ok(())
        }
        Err(error) => {
            let message = error.to_string();
            let _ = tracking::set_error(&client, &repo.full_name, &message).await;
            bail!("{name}: {message} (the scheduler will try again)")
        }
    }
}

pub(crate) fn parse_since(since: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(since) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .with_context(|| format!("--since {since:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

async fn run_backfill(env: &Env, repository: &str, since: &str) -> anyhow::Result<()> {
    use prpulse_scheduler::jobs::backfill::{self, Progress};

    let since = parse_since(since)?;
    let RepoContext {
        repo,
        name,
        config,
        github,
        ..
    } = repo_context(env, repository).await?;
    let link = prpulse_runtime::wiring::PublisherLink::start(
        &config.service,
        "prpulse-cli-backfill",
        Duration::from_secs(5),
    );
    if !link
        .publisher
        .wait_ready(config.service.amqp_connect_timeout)
        .await
    {
        link.close().await;
        bail!("RabbitMQ is not reachable: nothing was backfilled");
    }
    let bar = indicatif::ProgressBar::new(0).with_message(name.clone());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} pull requests")
            .expect("a valid template"),
    );
    let result =
        backfill::backfill(
            &github,
            &link.publisher,
            &repo,
            since,
            |progress| match progress {
                Progress::Total(total) => bar.set_length(total as u64),
                Progress::Done(done) => bar.set_position(done as u64),
            },
        )
        .await;
    bar.finish();
    link.close().await;
    let report = result?;
    println!(
        "{name}: published {} pull requests and {} reviews updated since {since} \
         ({} draft events from their timelines), {} deployments and {} deployment statuses",
        report.pull_requests,
        report.reviews,
        report.draft_events,
        report.deployments,
        report.deployment_statuses
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_date_or_a_time() {
        assert_eq!(
            parse_since("2026-01-05").unwrap().to_rfc3339(),
            "2026-01-05T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-01-05T10:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-01-05T08:00:00+00:00"
        );
        assert!(parse_since("last week").is_err());
    }
}
