//! Per-repository DORA settings: what counts as a production deploy and
//! which issue label marks an incident (`prpulse repo deploys`).

use deadpool_postgres::GenericClient;

use crate::StoreError;

pub const DEFAULT_INCIDENT_LABEL: &str = "incident";

/// Where a repository's production deploys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeploySource {
    /// GitHub deployments to an environment matching the pattern (`*` any
    /// run of characters, any case); `None`: `production`, or an
    /// environment GitHub flags as production. With no production
    /// deployment at all, merges into the default branch are the deploys.
    Environments(Option<String>),
    /// Completed runs of this workflow file, on this branch if set.
    Workflow {
        file: String,
        branch: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoraSettings {
    pub source: DeploySource,
    pub incident_label: String,
}

impl Default for DoraSettings {
    fn default() -> Self {
        Self {
            source: DeploySource::Environments(None),
            incident_label: DEFAULT_INCIDENT_LABEL.to_owned(),
        }
    }
}

/// Stores the settings of `repository` (owner/name; kept lower-cased).
pub async fn set(
    client: &impl GenericClient,
    repository: &str,
    settings: &DoraSettings,
) -> Result<(), StoreError> {
    let (workflow, branch, pattern) = match &settings.source {
        DeploySource::Environments(pattern) => (None, None, pattern.as_deref()),
        DeploySource::Workflow { file, branch } => (Some(file.as_str()), branch.as_deref(), None),
    };
    client
        .execute(
            "INSERT INTO dora_settings
                 (repository, workflow, branch, environment_pattern, incident_label)
             VALUES (lower($1), $2, $3, $4, $5)
             ON CONFLICT (repository) DO UPDATE SET
                 workflow = EXCLUDED.workflow, branch = EXCLUDED.branch,
                 environment_pattern = EXCLUDED.environment_pattern,
                 incident_label = EXCLUDED.incident_label, updated_at = now()",
            &[
                &repository,
                &workflow,
                &branch,
                &pattern,
                &settings.incident_label,
            ],
        )
        .await?;
    Ok(())
}

/// The settings of `repository`, the defaults if none were stored.
pub async fn get(
    client: &impl GenericClient,
    repository: &str,
) -> Result<DoraSettings, StoreError> {
    let row = client
        .query_opt(
            "SELECT workflow, branch, environment_pattern, incident_label
             FROM dora_settings WHERE repository = lower($1)",
            &[&repository],
        )
        .await?;
    Ok(row.map_or_else(DoraSettings::default, |row| DoraSettings {
        source: match row.get::<_, Option<String>>(0) {
            Some(file) => DeploySource::Workflow {
                file,
                branch: row.get(1),
            },
            None => DeploySource::Environments(row.get(2)),
        },
        incident_label: row.get(3),
    }))
}

/// Where `repository`'s deploys come from now: `workflow_run` when a
/// workflow is configured, else `deployment` once GitHub sent a
/// production deployment, else `merge`.
pub async fn effective_source(
    client: &impl GenericClient,
    repository: &str,
) -> Result<&'static str, StoreError> {
    if let DeploySource::Workflow { .. } = get(client, repository).await?.source {
        return Ok("workflow_run");
    }
    let deployed = client
        .query_one(
            "SELECT EXISTS (SELECT FROM dora_deploys d
                            JOIN repositories r ON r.github_id = d.repository_id
                            WHERE lower(r.full_name) = lower($1) AND d.source = 'deployment')",
            &[&repository],
        )
        .await?
        .get::<_, bool>(0);
    Ok(if deployed { "deployment" } else { "merge" })
}
