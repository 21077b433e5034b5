//! The `reconcile_hooks` job: every tracked repository's hook, then every
//! organisation integration's hook. A failing repository is recorded on
//! its row and does not stop the others; the job fails if any did.

use anyhow::anyhow;
use prpulse_github_api::GitHubError;
use prpulse_store::{integrations, tracking};
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    hooks::{HookReconciler, HookSite, Outcome, ReconcileError},
    round::{JobError, Ran, Round},
};

pub async fn run(round: &mut Round<'_>) -> Result<Ran, JobError> {
    let repositories = repositories(round).await;
    let organizations = organizations(round).await;
    match (repositories, organizations) {
        (Ok(()), Ok(())) => Ok(Ran::Done),
        (Err(JobError::Interrupted(why)), _) | (_, Err(JobError::Interrupted(why))) => {
            Err(JobError::Interrupted(why))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

async fn repositories(round: &mut Round<'_>) -> Result<(), JobError> {
    let scheduler = round.scheduler;
    let listed =
        tracking::repositories(&scheduler.pool.get().await.map_err(anyhow::Error::from)?).await?;
    let mut failed = 0;
    for repo in &listed {
        round.go_on().await?;
        let span = info_span!("reconcile", repository = %repo.full_name);
        let result = async {
            let github = round.github(&repo.account).await?;
            anyhow::Ok(
                HookReconciler::new(
                    &scheduler.config.hooks,
                    github,
                    &scheduler.pool,
                    &scheduler.keyring,
                )
                .reconcile(HookSite::Repository(repo))
                .await?,
            )
        }
        .instrument(span.clone())
        .await;
        let _entered = span.enter();
        match result {
            Ok(Outcome::Unchanged) => {}
            Ok(outcome) => info!(?outcome, "webhook reconciled"),
            Err(error) => {
                failed += 1;
                let message = format!("{error:#}");
                error!(error = %message, "webhook reconciliation failed");
                // For `prpulse repo list`; the job fails either way.
                let recorded = async {
                    let client = scheduler.pool.get().await?;
                    anyhow::Ok(tracking::set_error(&client, &repo.full_name, &message).await?)
                }
                .await;
                if let Err(error) = recorded {
                    error!(error = %format!("{error:#}"), "cannot record the failure on the repository");
                }
            }
        }
    }
    if failed > 0 {
        return Err(anyhow!("{failed} of {} repositories' webhooks failed", listed.len()).into());
    }
    Ok(())
}

/// One organisation hook per organisation integration, where the token
/// allows it: GitHub's 403 or 404 (no `admin:org_hook`, or an app
/// without the organisation hooks permission) is recorded on the
/// integration for `prpulse integration list` and is not a failure;
/// teams then come from the periodic listing only.
async fn organizations(round: &mut Round<'_>) -> Result<(), JobError> {
    let scheduler = round.scheduler;
    let organizations =
        integrations::organizations(&scheduler.pool.get().await.map_err(anyhow::Error::from)?)
            .await?;
    let mut failed = 0;
    for org in &organizations {
        round.go_on().await?;
        let result = async {
            let github = round.github(&org.account).await?;
            Ok::<_, anyhow::Error>(
                HookReconciler::new(
                    &scheduler.config.hooks,
                    github,
                    &scheduler.pool,
                    &scheduler.keyring,
                )
                .reconcile(HookSite::Organization(org))
                .await,
            )
        }
        .await;
        let unavailable = match result {
            Ok(Ok(Outcome::Unchanged)) => continue,
            Ok(Ok(outcome)) => {
                info!(organization = %org.account, ?outcome, "organisation webhook reconciled");
                continue;
            }
            Ok(Err(ReconcileError::GitHub(
                error @ (GitHubError::Forbidden { .. } | GitHubError::NotFound { .. }),
            ))) => format!(
                "{error} (an organisation hook needs the admin:org_hook scope, or an app \
                 with the organization_hooks permission; teams come from the periodic listing)"
            ),
            Ok(Err(error)) => {
                failed += 1;
                format!("{error}")
            }
            Err(error) => {
                failed += 1;
                format!("{error:#}")
            }
        };
        if org.org_hook_error.as_deref() != Some(unavailable.as_str()) {
            warn!(organization = %org.account, error = %unavailable, "no organisation webhook");
        }
        let recorded = async {
            let client = scheduler.pool.get().await?;
            anyhow::Ok(integrations::set_org_hook_error(&client, &org.account, &unavailable).await?)
        }
        .await;
        if let Err(error) = recorded {
            failed += 1;
            error!(organization = %org.account, error = %format!("{error:#}"), "cannot record why there is no organisation webhook");
        }
    }
    if failed > 0 {
        return Err(anyhow!(
            "{failed} of {} organisations' webhooks failed",
            organizations.len()
        )
        .into());
    }
    Ok(())
}
