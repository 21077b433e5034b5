//! `prpulse repo deploys OWNER/REPO`: what counts as a production deploy
//! of a repository, and which label marks an incident. Without options it
//! shows the settings and where deploys come from now (`source = merge`
//! when the repository has neither deployments nor a workflow).

use anyhow::{Context, bail};
use clap::Args;
use prpulse_domain::RepoFullName;
use prpulse_runtime::{Env, ServiceConfig};
use prpulse_store::{
    connect_pool,
    dora::settings::{self, DeploySource, DoraSettings},
};
use secrecy::ExposeSecret;

#[derive(Debug, Args)]
pub struct DeploysArgs {
    pub repository: String,
    /// Deploys are the completed runs of this workflow file (`deploy.yml`).
    #[arg(long, conflicts_with = "environment")]
    pub workflow: Option<String>,
    /// With --workflow: only runs on this branch.
    #[arg(long, requires = "workflow")]
    pub branch: Option<String>,
    /// Deploys are GitHub deployments to environments matching this
    /// pattern (`*` matches anything, any case), e.g. `production*`.
    #[arg(long)]
    pub environment: Option<String>,
    /// Back to the default: deployments to `production` (or flagged
    /// production by GitHub), else merges into the default branch.
    #[arg(long, conflicts_with_all = ["workflow", "environment"])]
    pub reset: bool,
    /// Issues with this label are incidents (default `incident`).
    #[arg(long)]
    pub incident_label: Option<String>,
}

impl DeploysArgs {
    fn changes(&self) -> bool {
        self.workflow.is_some()
            || self.environment.is_some()
            || self.reset
            || self.incident_label.is_some()
    }

    /// `current` with this command's changes.
    fn apply(&self, current: DoraSettings) -> anyhow::Result<DoraSettings> {
        let source = match (&self.workflow, &self.environment) {
            (Some(file), _) => DeploySource::Workflow {
                file: file.clone(),
                branch: self.branch.clone(),
            },
            (None, Some(pattern)) => DeploySource::Environments(Some(pattern.clone())),
            (None, None) if self.reset => DeploySource::Environments(None),
            (None, None) => current.source,
        };
        let incident_label = self
            .incident_label
            .clone()
            .unwrap_or(current.incident_label);
        for (name, value) in [("--incident-label", Some(incident_label.as_str()))]
            .into_iter()
            .chain([("--workflow", self.workflow.as_deref())])
            .chain([("--environment", self.environment.as_deref())])
        {
            if value.is_some_and(|value| value.trim().is_empty()) {
                bail!("{name} must not be empty");
            }
        }
        Ok(DoraSettings {
            source,
            incident_label,
        })
    }
}

pub async fn deploys(args: DeploysArgs, env: &Env) -> anyhow::Result<()> {
    let repo = RepoFullName::parse(&args.repository)?;
    let service = ServiceConfig::from_env(env, 0)?;
    let pool = connect_pool(service.database_url.expose_secret(), &service.pool)?;
    let client = pool.get().await.context("connecting to the database")?;
    let name = repo.key();
    let mut current = settings::get(&client, &name).await?;
    if args.changes() {
        current = args.apply(current)?;
        settings::set(&client, &name, &current).await?;
    }
    let source = settings::effective_source(&client, &name).await?;
    println!("repository = {name}");
    match &current.source {
        DeploySource::Workflow { file, branch } => {
            println!("workflow = {file}");
            println!("branch = {}", branch.as_deref().unwrap_or("(any)"));
        }
        DeploySource::Environments(pattern) => println!(
            "environment = {}",
            pattern
                .as_deref()
                .unwrap_or("production (or flagged production by GitHub)")
        ),
    }
    println!("incident_label = {}", current.incident_label);
    println!("source = {source}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeploysArgs,
    }

    fn parse(args: &[&str]) -> Result<DeploysArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("deploys").chain(args.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn a_workflow_and_its_branch_or_an_environment_pattern() {
        let args = parse(&["acme/api", "--workflow", "deploy.yml", "--branch", "main"]).unwrap();
        let settings = args.apply(DoraSettings::default()).unwrap();
        assert_eq!(
            settings.source,
            DeploySource::Workflow {
                file: "deploy.yml".into(),
                branch: Some("main".into())
            }
        );
        assert_eq!(settings.incident_label, "incident");
        let args = parse(&[
            "acme/api",
            "--environment",
            "prod*",
            "--incident-label",
            "sev",
        ])
        .unwrap();
        let settings = args.apply(settings).unwrap();
        assert_eq!(
            settings.source,
            DeploySource::Environments(Some("prod*".into()))
        );
        assert_eq!(settings.incident_label, "sev");
        assert!(parse(&["acme/api", "--branch", "main"]).is_err());
        assert!(parse(&["acme/api", "--workflow", "a.yml", "--environment", "p"]).is_err());
        let empty = parse(&["acme/api", "--incident-label", " "]).unwrap();
        assert!(empty.apply(DoraSettings::default()).is_err());
    }
}
